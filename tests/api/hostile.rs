//! Hostile input: SQL metacharacters and Unicode tricks in every string a caller sends, a
//! 100 MB body. Nothing answers 5xx, text that is kept comes back byte for byte, text that
//! would display as something else is refused with the field named, and the store stays whole.
//! A chain 10,000 deep and a fan-in of 100,000 owners are screened and explained.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::harness::TestApp;

/// Strings that break naive SQL, LIKE patterns, JSON or display, and real names in scripts a
/// careless filter would break.
const KEPT: &[&str] = &[
    "Robert'); DROP TABLE entities;--",
    "\" OR \"1\"=\"1",
    "100% _owned_ \\ holdings",
    "$1 $$ E'\\x00' ::text",
    "Ηоmоglyph Аcme",      // Greek Eta, Cyrillic o and A
    "क्\u{200D}षेत्र Ltd",    // a zero-width joiner, as Devanagari uses it
    "شركة المثال\u{200F}", // a right-to-left mark
    "蚂蚁集团 😀",
    "\u{FEFF}Byte Order Mark Inc",
    "<script>alert(1)</script>",
];

/// Bidirectional overrides and isolates: stored text that would display reversed.
const REFUSED: &[&str] = &[
    "Acme \u{202E}dtL\u{202C}",
    "Safe \u{2067}Corp\u{2069}",
    "tab\tinside",
];

fn assert_not_5xx(s: StatusCode, what: &str, b: &Value) {
    assert!(!s.is_server_error(), "{what}: {s} {b}");
}

#[tokio::test]
async fn hostile_strings_are_kept_exactly_or_refused_with_the_field_and_nothing_breaks() {
    let app = TestApp::new().await;
    app.post("/v1/lists", json!({"id": "sdn", "name": "SDN"}))
        .await;
    app.entities(&["holder"]).await;
    for (i, text) in KEPT.iter().chain(REFUSED).enumerate() {
        let kept = KEPT.contains(text);
        let id = format!("h{i}");
        let entity = json!({
            "id": id, "kind": "company", "name": text, "aliases": [text],
            "jurisdiction": "GB", "identifiers": {"registration_number": text}
        });
        let (s, b) = app.post("/v1/entities", entity).await;
        assert_not_5xx(s, "entity", &b);
        if kept {
            assert_eq!(s, StatusCode::CREATED, "{text:?}: {b}");
            let (_, got) = app.get(&format!("/v1/entities/{id}")).await;
            assert_eq!(got["name"], text.trim(), "{got}");
            assert_eq!(got["aliases"][0], text.trim(), "{got}");
            assert_eq!(
                got["identifiers"]["registration_number"],
                text.trim(),
                "{got}"
            );
        } else {
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{text:?}: {b}");
            assert!(b["error"]["field"].is_string(), "{b}");
        }

        // As an id, in a path, in a query: never an error of the server.
        let (s, b) = app
            .post(
                "/v1/entities",
                json!({"id": text, "kind": "company", "name": "x"}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "id {text:?}: {b}");
        let escaped: String = url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
        let (s, b) = app.get(&format!("/v1/entities/{escaped}")).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "path {text:?}: {b}");
        let (s, b) = app.get(&format!("/v1/entities?q={escaped}")).await;
        assert_eq!(s, StatusCode::OK, "q {text:?}: {b}");
        if kept {
            let ids: Vec<&str> = b["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_str().unwrap())
                .collect();
            assert!(ids.contains(&id.as_str()), "q {text:?} finds {ids:?}");
        }

        // In an ownership's source, a list entry, a screening and a match.
        let holding = json!({"owner": "holder", "owned": "holder", "share": 1, "source": text});
        let (s, b) = app.post("/v1/ownerships", holding).await;
        assert_not_5xx(s, "ownership", &b);
        let entry = json!({"id": format!("e{i}"), "name": text});
        let (s, b) = app.post("/v1/lists/sdn/entries", entry).await;
        assert_not_5xx(s, "entry", &b);
        assert_eq!(s.is_success(), kept, "entry {text:?}: {s} {b}");
        let candidate = json!({"candidate": {"name": text, "jurisdiction": "GB"}});
        let (s, b) = app.post("/v1/screenings", candidate).await;
        assert_not_5xx(s, "screening", &b);
        assert_eq!(s.is_success(), kept, "screening {text:?}: {s} {b}");
        let (s, b) = app.post("/v1/match", json!({"name": text})).await;
        assert_not_5xx(s, "match", &b);
        assert_eq!(s.is_success(), kept, "match {text:?}: {s} {b}");
    }
    // A LIKE wildcard searches for itself.
    let (_, b) = app.get("/v1/entities?q=%25").await;
    let found: Vec<&str> = b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(found, ["100% _owned_ \\ holdings"]);
    let (s, report) = app.get("/v1/audit/verify").await;
    assert_eq!(
        (s, &report["intact"]),
        (StatusCode::OK, &json!(true)),
        "{report}"
    );
}

#[tokio::test]
async fn a_100_mb_body_is_refused_without_reading_it_all_and_changes_nothing() {
    let app = TestApp::new().await;
    let mut body = br#"{"id": "huge", "kind": "company", "name": ""#.to_vec();
    body.resize(100 * 1024 * 1024, b'a');
    body.extend_from_slice(br#""}"#);
    let started = std::time::Instant::now();
    let req = axum::http::Request::post("/v1/entities")
        .header("authorization", app.bearer())
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body))
        .unwrap();
    let (s, b) = app.raw(req).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{b}");
    assert_eq!(b["error"]["code"], "payload_too_large");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(app.get("/v1/entities/huge").await.0, StatusCode::NOT_FOUND);
}

/// A PSC line: `company` held by the registered company `holder` 75–100%.
fn held_by(company: u32, holder: u32) -> String {
    crate::registry::psc_line(
        &format!("{company:08}"),
        json!({
            "kind": "corporate-entity-person-with-significant-control",
            "name": format!("Holder {holder:08} Limited"),
            "identification": {"country_registered": "England", "registration_number": format!("{holder:08}")},
            "natures_of_control": ["ownership-of-shares-75-to-100-percent"],
            "notified_on": "2020-01-01",
            "links": {"self": format!("/company/{company:08}/persons-with-significant-control/corporate-entity/c{holder}")}
        }),
    )
}

#[tokio::test]
async fn a_chain_10000_deep_is_screened_and_explained_to_its_listed_top() {
    const DEPTH: u32 = 10_000;
    let app = TestApp::new().await;
    let file: Vec<String> = (1..=DEPTH).map(|i| held_by(i, i + 1)).collect();
    let (s, summary) = crate::registry::import(&app, "psc", &file.join("\n")).await;
    assert_eq!(s, StatusCode::OK, "{summary}");
    let top = format!("uk-psc:GB:{:08}", DEPTH + 1);
    app.post("/v1/lists", json!({"id": "sdn", "name": "SDN"}))
        .await;
    let entry = json!({"id": "top", "name": "Holder at the top", "entity": top});
    assert_eq!(
        app.post("/v1/lists/sdn/entries", entry).await.0,
        StatusCode::CREATED
    );
    app.policy(json!([crate::harness::ofac_50()])).await;

    let bottom = app.screen("uk-psc:GB:00000001").await;
    assert_eq!(
        bottom["decision"],
        "block",
        "{}",
        &bottom.to_string()[..500]
    );
    let reason = &bottom["reasons"][0];
    assert_eq!(reason["sources"][0], top.as_str());
    let path = reason["paths"][0].as_array().unwrap_or_else(|| {
        panic!(
            "{}",
            &reason.to_string()[..reason.to_string().len().min(2000)]
        )
    });
    assert_eq!(path.len(), DEPTH as usize);
    assert_eq!(path[0]["owner"], top.as_str());
    assert_eq!(path[path.len() - 1]["owned"], "uk-psc:GB:00000001");
    let (s, owners) = app.get("/v1/entities/uk-psc:GB:00000001/owners").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(owners["items"].as_array().unwrap().len(), DEPTH as usize);
}

#[tokio::test]
async fn a_fan_in_of_100000_owners_is_screened_and_its_owners_listed() {
    const OWNERS: u32 = 100_000;
    let app = TestApp::new().await;
    let file: Vec<String> = (0..OWNERS)
        .map(|i| {
            crate::registry::psc_line(
                "00000001",
                json!({
                    "kind": "individual-person-with-significant-control",
                    "name": format!("Person {i}"),
                    "natures_of_control": ["significant-influence-or-control"],
                    "notified_on": "2020-01-01",
                    "links": {"self": format!("/company/00000001/persons-with-significant-control/individual/p{i}")}
                }),
            )
        })
        .collect();
    let (s, summary) = crate::registry::import(&app, "psc", &file.join("\n")).await;
    assert_eq!(s, StatusCode::OK, "{summary}");
    app.policy(json!([crate::harness::ofac_50()])).await;
    let screening = app.screen("uk-psc:GB:00000001").await;
    assert_eq!(
        screening["decision"],
        "clear",
        "{}",
        &screening.to_string()[..500]
    );
    let (s, owners) = app.get("/v1/entities/uk-psc:GB:00000001/owners").await;
    assert_eq!(s, StatusCode::OK);
    let owners = owners["items"].as_array().unwrap();
    assert_eq!(owners.len(), OWNERS as usize);
    assert!(
        owners
            .iter()
            .all(|o| o["name"].as_str().unwrap().starts_with("Person ")),
        "{}",
        owners[0]
    );
}
