use axum::http::StatusCode;
use serde_json::json;

use crate::harness::{TestApp, reason};

/// The seed scenario end to end: every entity gets the decision `seed-data/README.md` states,
/// for the reason it states.
#[tokio::test]
async fn seed_scenario_decisions() {
    let app = TestApp::seeded().await;
    let (_, policy) = app.get("/v1/policy").await;
    assert_eq!(policy["version"], 1);
    let cases = [
        (
            "demo-longhai-group",
            "block",
            "unsupported-regions",
            "located",
        ),
        (
            "demo-longhai-cayman",
            "block",
            "unsupported-regions",
            "located",
        ),
        ("demo-longhai-sg", "block", "unsupported-regions", "owned"),
        ("demo-longhai-nl", "block", "unsupported-regions", "owned"),
        (
            "demo-lumenkraft-ie",
            "block",
            "unsupported-regions",
            "owned",
        ),
        (
            "demo-nordlicht-dc",
            "review",
            "unsupported-regions",
            "review_band",
        ),
        (
            "demo-verdanne-xinglan-jv",
            "review",
            "unsupported-regions",
            "review_band",
        ),
        ("demo-qorvantis-gulf", "block", "ofac-50", "owned"),
        ("demo-qorvantis-uk", "block", "ofac-50", "owned"),
        ("demo-talvik", "block", "ofac-50", "owned"),
        ("demo-velmora", "review", "ofac-50", "controlled"),
        ("demo-tessaro", "review", "ofac-50", "review_band"),
    ];
    for (entity, decision, rule, basis) in cases {
        let s = app.screen(entity).await;
        assert_eq!(s["decision"], decision, "{entity}: {s}");
        let r = reason(&s, rule).unwrap_or_else(|| panic!("{entity}: no {rule} reason in {s}"));
        assert_eq!(r["basis"], basis, "{entity}: {r}");
        if basis != "located" {
            assert!(
                !r["paths"].as_array().unwrap().is_empty(),
                "{entity}: a flagged answer shows its paths"
            );
        }
    }
    for entity in [
        "demo-alpenrand-holding",
        "demo-alpenrand-robotics",
        "demo-polderveld",
        "demo-ardent-vale",
    ] {
        let s = app.screen(entity).await;
        assert_eq!(
            (s["decision"].as_str(), s["reasons"].clone()),
            (Some("clear"), json!([])),
            "{entity}"
        );
    }
    // Deripaska's holding in Ardent Vale ended on 2020-06-30.
    let (s, b) = app
        .post(
            "/v1/screenings",
            json!({"entity": "demo-ardent-vale", "as_of": "2019-01-01"}),
        )
        .await;
    assert_eq!((s, b["decision"].as_str()), (StatusCode::OK, Some("block")));
    // Every real SDN entity seeded is listed.
    let (_, page) = app.get("/v1/entities?q=&limit=1000").await;
    let sdn: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| {
            e["id"]
                .as_str()
                .filter(|id| id.starts_with("sdn-"))
                .map(str::to_owned)
        })
        .collect();
    assert!(sdn.len() >= 40);
    for id in sdn {
        let s = app.screen(&id).await;
        assert_eq!(
            reason(&s, "ofac-50").map(|r| r["basis"].clone()),
            Some(json!("listed")),
            "{id}"
        );
    }
}
