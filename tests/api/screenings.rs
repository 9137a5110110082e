use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::harness::{TestApp, ofac_50, reason, unsupported_regions};

async fn ofac_app() -> TestApp {
    let app = TestApp::new().await;
    app.post("/v1/lists", json!({"id": "sdn", "name": "OFAC SDN"}))
        .await;
    app.policy(json!([ofac_50()])).await;
    app
}

fn basis(s: &Value, rule: &str) -> (String, String) {
    let r = reason(s, rule).unwrap_or_else(|| panic!("no {rule} reason in {s}"));
    (
        r["basis"].as_str().unwrap().to_owned(),
        r["decision"].as_str().unwrap().to_owned(),
    )
}

/// Contract example 1: X*→A 50; A→B 50: A and B block (no multiplying).
#[tokio::test]
async fn worked_example_chain_of_fifty_percent_holdings() {
    let app = ofac_app().await;
    app.entities(&["x", "a", "b"]).await;
    app.list("x").await;
    app.owns("x", "a", 50.0).await;
    app.owns("a", "b", 50.0).await;
    for e in ["a", "b"] {
        let s = app.screen(e).await;
        assert_eq!(s["decision"], "block", "{s}");
        assert_eq!(basis(&s, "ofac-50"), ("owned".into(), "block".into()));
    }
    let s = app.screen("b").await;
    let r = reason(&s, "ofac-50").unwrap();
    assert_eq!(r["share"].as_f64(), Some(50.0));
    assert_eq!(r["sources"], json!(["x"]));
    assert_eq!(
        r["paths"][0],
        json!([{"owner": "x", "owned": "a", "interest": "shares", "share": 50.0},
                                     {"owner": "a", "owned": "b", "interest": "shares", "share": 50.0}])
    );
    assert!(r["message"].as_str().unwrap().contains("50%"));
}

/// Contract example 2: X*→A 25; Y*→A 25: A blocks by aggregation; not with aggregate false.
#[tokio::test]
async fn worked_example_aggregation_across_owners() {
    let app = ofac_app().await;
    app.entities(&["x", "y", "a"]).await;
    app.list("x").await;
    app.list("y").await;
    app.owns("x", "a", 25.0).await;
    app.owns("y", "a", 25.0).await;
    let s = app.screen("a").await;
    assert_eq!(basis(&s, "ofac-50"), ("owned".into(), "block".into()));
    let r = reason(&s, "ofac-50").unwrap();
    assert_eq!(
        (r["share"].as_f64(), r["sources"].clone()),
        (Some(50.0), json!(["x", "y"]))
    );
    assert_eq!(r["paths"].as_array().unwrap().len(), 2);
    let mut uk = ofac_50();
    uk["aggregate"] = json!(false);
    app.policy(json!([uk])).await;
    let s = app.screen("a").await;
    assert_eq!(
        basis(&s, "ofac-50"),
        ("review_band".into(), "review".into())
    );
    assert_eq!(reason(&s, "ofac-50").unwrap()["share"].as_f64(), Some(25.0));
}

/// Contract example 3: X*→A 50; X*→B 10; A→B 40: A and B block (10 + 40).
#[tokio::test]
async fn worked_example_direct_and_indirect_holdings_add() {
    let app = ofac_app().await;
    app.entities(&["x", "a", "b"]).await;
    app.list("x").await;
    app.owns("x", "a", 50.0).await;
    app.owns("x", "b", 10.0).await;
    app.owns("a", "b", 40.0).await;
    assert_eq!(app.screen("a").await["decision"], "block");
    let s = app.screen("b").await;
    assert_eq!(basis(&s, "ofac-50"), ("owned".into(), "block".into()));
    let r = reason(&s, "ofac-50").unwrap();
    assert_eq!(r["share"].as_f64(), Some(50.0));
    // Strongest first: x→a→b is 20% of b, x→b is 10%.
    assert_eq!(r["paths"][0].as_array().unwrap().len(), 2);
    assert_eq!(
        r["paths"][1],
        json!([{"owner": "x", "owned": "b", "interest": "shares", "share": 10.0}])
    );
}

/// Contract example 4: X*→A 30 plus a board link: review; with control block, block.
#[tokio::test]
async fn worked_example_control_alone_never_blocks_under_ofac() {
    let app = ofac_app().await;
    app.entities(&["x", "a", "c"]).await;
    app.list("x").await;
    app.owns("x", "a", 30.0).await;
    app.post(
        "/v1/ownerships",
        json!({"owner": "x", "owned": "a", "interest": "board"}),
    )
    .await;
    app.owns("a", "c", 100.0).await;
    let s = app.screen("a").await;
    assert_eq!(s["decision"], "review");
    assert_eq!(basis(&s, "ofac-50"), ("controlled".into(), "review".into()));
    let path = &reason(&s, "ofac-50").unwrap()["paths"][0];
    assert_eq!(
        path,
        &json!([{"owner": "x", "owned": "a", "interest": "board"}])
    );
    // Under review, A is not tainted, so what A owns is not attributed.
    assert_ne!(app.screen("c").await["decision"], "block");
    let mut strict = ofac_50();
    strict["control"] = json!("block");
    app.policy(json!([strict])).await;
    assert_eq!(
        basis(&app.screen("a").await, "ofac-50"),
        ("controlled".into(), "block".into())
    );
    assert_eq!(
        basis(&app.screen("c").await, "ofac-50"),
        ("owned".into(), "block".into())
    );
}

/// A share range blocks when its minimum crosses and asks for review when only its maximum does.
#[tokio::test]
async fn share_ranges_give_definite_and_possible_answers() {
    let app = ofac_app().await;
    app.entities(&["x", "a", "b"]).await;
    app.list("x").await;
    app.post(
        "/v1/ownerships",
        json!({"owner": "x", "owned": "a", "share_range": {"min": 25, "max": 75}}),
    )
    .await;
    app.post(
        "/v1/ownerships",
        json!({"owner": "x", "owned": "b", "share_range": {"min": 50, "max": 75}}),
    )
    .await;
    let s = app.screen("a").await;
    assert_eq!(
        basis(&s, "ofac-50"),
        ("possibly_owned".into(), "review".into())
    );
    assert_eq!(
        reason(&s, "ofac-50").unwrap()["paths"][0][0]["share_range"],
        json!({"min": 25.0, "max": 75.0})
    );
    assert_eq!(
        basis(&app.screen("b").await, "ofac-50"),
        ("owned".into(), "block".into())
    );
}

/// The motivating case: an applicant behind a neutral subsidiary, an SG holding and a Cayman
/// company headquartered in CN is blocked, with the path that shows why.
#[tokio::test]
async fn restricted_region_reached_through_offshore_holdings() {
    let app = TestApp::new().await;
    app.policy(json!([unsupported_regions(), {"id": "ubo", "kind": "beneficial_ownership", "threshold": 25, "inclusive": true}])).await;
    for (id, j, hq) in [
        ("parent", "CN", "CN"),
        ("cayman", "KY", "CN"),
        ("sg", "SG", "SG"),
        ("nl", "NL", "NL"),
        ("applicant", "IE", "IE"),
    ] {
        app.post(
            "/v1/entities",
            json!({"id": id, "name": id, "jurisdiction": j, "headquarters": hq}),
        )
        .await;
    }
    app.owns("parent", "cayman", 100.0).await;
    app.owns("cayman", "sg", 100.0).await;
    app.owns("sg", "nl", 70.0).await;
    app.owns("nl", "applicant", 100.0).await;
    let s = app.screen("applicant").await;
    assert_eq!(s["decision"], "block");
    let r = reason(&s, "unsupported-regions").unwrap();
    assert_eq!(
        (r["basis"].as_str(), r["share"].as_f64()),
        (Some("owned"), Some(100.0))
    );
    assert_eq!(
        r["message"],
        "100% held by entities located in CN (more than 50%)"
    );
    let steps: Vec<&str> = r["paths"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["owner"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["cayman", "sg", "nl"]);
    assert_eq!(
        basis(&app.screen("cayman").await, "unsupported-regions"),
        ("located".into(), "block".into())
    );
    assert_eq!(s["ubo"][0]["entity"], "parent");
    assert_eq!(s["ubo"][0]["effective_share"].as_f64(), Some(70.0));
}

/// "More than 50%" is exclusive: a 50/50 joint venture is not blocked but is reviewed.
#[tokio::test]
async fn exactly_half_is_not_more_than_half() {
    let app = TestApp::new().await;
    app.policy(json!([unsupported_regions()])).await;
    app.post(
        "/v1/entities",
        json!({"id": "cn", "name": "CN Co", "headquarters": "CN"}),
    )
    .await;
    app.post(
        "/v1/entities",
        json!({"id": "de", "name": "DE Co", "jurisdiction": "DE"}),
    )
    .await;
    app.post(
        "/v1/entities",
        json!({"id": "jv", "name": "JV", "jurisdiction": "DE"}),
    )
    .await;
    app.owns("cn", "jv", 50.0).await;
    app.owns("de", "jv", 50.0).await;
    let s = app.screen("jv").await;
    assert_eq!(
        basis(&s, "unsupported-regions"),
        ("review_band".into(), "review".into())
    );
    assert_eq!(
        reason(&s, "unsupported-regions").unwrap()["share"].as_f64(),
        Some(50.0)
    );
}

/// A signup candidate resolves by LEI to the known entity, declared owners count for this
/// screening only, and nothing is stored in the graph.
#[tokio::test]
async fn candidate_with_declared_owners() {
    let app = TestApp::new().await;
    app.post("/v1/lists", json!({"id": "sdn", "name": "OFAC SDN"}))
        .await;
    app.policy(json!([ofac_50(), unsupported_regions()])).await;
    app.post(
        "/v1/entities",
        json!({"id": "known", "name": "Known BV", "jurisdiction": "NL",
        "identifiers": {"lei": "506700GE1G29325QX363"}}),
    )
    .await;
    app.entities(&["x"]).await;
    app.list("x").await;
    let (s, b) = app
        .post(
            "/v1/screenings",
            json!({"candidate": {"name": "Known", "identifiers": {"lei": "506700ge1g29325qx363"}}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (
            b["resolved_entity"].as_str(),
            b["resolved_by"].as_str(),
            b["decision"].as_str()
        ),
        (Some("known"), Some("lei"), Some("clear"))
    );

    let req = json!({"candidate": {"name": "New Reseller Ltd", "jurisdiction": "SG"},
        "owners": [{"entity": "x", "share": 30}, {"candidate": {"name": "Shell", "jurisdiction": "KY", "headquarters": "CN"}, "share": 60}]});
    let (s, b) = app.post("/v1/screenings", req).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (b["entity"].clone(), b["resolved_entity"].clone()),
        (json!(null), json!(null))
    );
    assert_eq!(b["decision"], "block");
    assert_eq!(
        basis(&b, "unsupported-regions"),
        ("owned".into(), "block".into())
    );
    assert_eq!(
        reason(&b, "unsupported-regions").unwrap()["sources"],
        json!(["owners[1]"])
    );
    assert_eq!(
        basis(&b, "ofac-50"),
        ("review_band".into(), "review".into())
    );
    let (_, links) = app.get("/v1/ownerships").await;
    assert_eq!(links["items"], json!([]));

    let (s, b) = app
        .post(
            "/v1/screenings",
            json!({"candidate": {"name": "X", "identifiers": {"lei": "506700GE1G29325QX364"}}}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("candidate.identifiers.lei")
        )
    );
    let (s, b) = app
        .post(
            "/v1/screenings",
            json!({"entity": "known", "owners": [{"entity": "nobody", "share": 5}]}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (StatusCode::NOT_FOUND, Some("owners[0].entity"))
    );
    let (s, _) = app
        .post(
            "/v1/screenings",
            json!({"entity": "known", "candidate": {"name": "x"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = app
        .post(
            "/v1/screenings",
            json!({"entity": "known", "owners": [{"entity": "x"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.post("/v1/screenings", json!({"entity": "nobody"}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

/// Every screening is stored with its versions and reads back the same; a write is seen by the
/// very next screening.
#[tokio::test]
async fn screenings_are_stored_and_see_the_latest_write() {
    let app = ofac_app().await;
    app.entities(&["x", "a"]).await;
    app.owns("x", "a", 60.0).await;
    let before = app.screen("a").await;
    assert_eq!(before["decision"], "clear");
    assert_eq!(before["reasons"], json!([]));
    app.list("x").await;
    let after = app.screen("a").await;
    assert_eq!(after["decision"], "block");
    assert!(after["graph_version"].as_i64() > before["graph_version"].as_i64());
    assert_eq!(after["policy_version"], 1);
    let (s, stored) = app
        .get(&format!("/v1/screenings/{}", after["id"].as_str().unwrap()))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(stored, after);
    assert_eq!(
        app.get("/v1/screenings/nope").await.0,
        StatusCode::NOT_FOUND
    );
}

/// Ownership validity dates decide which links a screening as of a date sees.
#[tokio::test]
async fn as_of_selects_the_links_in_force() {
    let app = ofac_app().await;
    app.entities(&["x", "a"]).await;
    app.list("x").await;
    app.post(
        "/v1/ownerships",
        json!({"owner": "x", "owned": "a", "share": 80, "valid_from": "2030-01-01"}),
    )
    .await;
    let s = |d: &'static str| {
        let app = &app;
        async move {
            app.post("/v1/screenings", json!({"entity": "a", "as_of": d}))
                .await
                .1
        }
    };
    let early = s("2029-12-31").await;
    assert_eq!(early["decision"], "clear");
    let late = s("2030-01-01").await;
    assert_eq!(late["decision"], "block");
    assert_eq!(late["as_of"], "2030-01-01");
}
