use axum::http::StatusCode;
use serde_json::json;

use crate::harness::{TestApp, ofac_50, reason};

/// Lists and entries are created, paged and removed; taken ids conflict.
#[tokio::test]
async fn lists_and_entries_lifecycle() {
    let app = TestApp::new().await;
    let (s, l) = app
        .post(
            "/v1/lists",
            json!({"id": "ofac-sdn", "name": "OFAC SDN", "kind": "sanctions"}),
        )
        .await;
    assert_eq!(
        (s, l["active"].as_bool()),
        (StatusCode::CREATED, Some(true))
    );
    assert_eq!(
        app.post("/v1/lists", json!({"id": "ofac-sdn", "name": "Again"}))
            .await
            .0,
        StatusCode::CONFLICT
    );
    app.entities(&["zala"]).await;
    let entry = json!({"id": "12345", "name": "ZALA AERO", "aliases": ["ZALA"], "kind": "company",
        "programs": ["RUSSIA-EO14024"], "entity": "zala", "listed_on": "2022-03-03", "delisted_on": null});
    let (s, e) = app.post("/v1/lists/ofac-sdn/entries", entry.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    assert_eq!(
        (e["entity"].as_str(), e["programs"].clone()),
        (Some("zala"), json!(["RUSSIA-EO14024"]))
    );
    assert_eq!(
        app.post("/v1/lists/ofac-sdn/entries", entry).await.0,
        StatusCode::CONFLICT
    );
    let (s, b) = app
        .post(
            "/v1/lists/ofac-sdn/entries",
            json!({"id": "2", "name": "Nobody", "entity": "ghost"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    assert_eq!(
        app.post("/v1/lists/nope/entries", json!({"name": "X"}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (s, b) = app
        .post(
            "/v1/lists/ofac-sdn/entries",
            json!({"name": "X", "listed_on": "2022-01-01", "delisted_on": "2021-01-01"}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("delisted_on"))
    );
    let (_, page) = app.get("/v1/lists/ofac-sdn/entries").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let (_, lists) = app.get("/v1/lists").await;
    assert_eq!(lists["items"][0]["id"], "ofac-sdn");
    assert_eq!(
        app.delete("/v1/lists/ofac-sdn/entries/12345").await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete("/v1/lists/ofac-sdn/entries/12345").await.0,
        StatusCode::NOT_FOUND
    );
    let (_, page) = app.get("/v1/lists/ofac-sdn/entries").await;
    assert_eq!(page["items"], json!([]));
}

/// Each PUT stores the next version with defaults filled in; an invalid policy changes nothing.
#[tokio::test]
async fn policy_versions_grow_and_invalid_rules_change_nothing() {
    let app = TestApp::new().await;
    let (s, p) = app.get("/v1/policy").await;
    assert_eq!(
        (s, p["version"].as_i64(), p["rules"].clone()),
        (StatusCode::OK, Some(0), json!([]))
    );
    let p1 = app.policy(json!([ofac_50()])).await;
    assert_eq!(p1["version"], 1);
    let p2 = app.policy(json!([{"id": "s", "kind": "sanctions"}])).await;
    assert_eq!(p2["version"], 2);
    assert_eq!(p2["rules"][0]["threshold"], 50.0);
    assert_eq!(p2["rules"][0]["inclusive"], true);
    assert_eq!(p2["rules"][0]["lists"], json!(["*"]));
    for (rules, field) in [
        (
            json!([{"id": "s", "kind": "sanctions", "threshold": 150}]),
            "rules[0].threshold",
        ),
        (
            json!([{"id": "s", "kind": "sanctions", "lists": ["missing-list"]}]),
            "rules[0].lists[0]",
        ),
        (
            json!([{"id": "j", "kind": "jurisdiction", "jurisdictions": ["XX"]}]),
            "rules[0]",
        ),
        (
            json!([{"id": "s", "kind": "sanctions", "thresold": 50}]),
            "rules[0]",
        ),
        (json!([{"id": "s", "kind": "magic"}]), "rules[0]"),
    ] {
        let (s, b) = app.put("/v1/policy", json!({"rules": rules.clone()})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["error"]["field"], field, "{b}");
        let message = b["error"]["message"].as_str().unwrap();
        let culprit = [
            "jurisdictions[0]",
            "thresold",
            "magic",
            "percentage",
            "missing-list",
        ];
        assert!(
            culprit.iter().any(|c| message.contains(c)),
            "{message} should name the fault"
        );
    }
    let (_, now) = app.get("/v1/policy").await;
    assert_eq!(now["version"], 2);
}

/// A listing counts only between its listed and delisted dates, and only on an active list.
#[tokio::test]
async fn listing_dates_and_inactive_lists() {
    let app = TestApp::new().await;
    app.policy(json!([ofac_50()])).await;
    app.entities(&["x", "a"]).await;
    app.owns("x", "a", 60.0).await;
    app.post("/v1/lists", json!({"id": "sdn", "name": "SDN"}))
        .await;
    let (s, _) = app.post("/v1/lists/sdn/entries", json!({"id": "1", "name": "X", "entity": "x", "listed_on": "2022-03-03", "delisted_on": "2024-01-01"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let at = |d: &'static str| {
        let app = &app;
        async move {
            app.post("/v1/screenings", json!({"entity": "a", "as_of": d}))
                .await
                .1["decision"]
                .clone()
        }
    };
    assert_eq!(at("2022-03-02").await, "clear");
    assert_eq!(at("2022-03-03").await, "block");
    assert_eq!(at("2023-12-31").await, "block");
    assert_eq!(at("2024-01-01").await, "clear");
    let (s, _) = app.patch("/v1/lists/sdn", json!({"active": false})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(at("2023-01-01").await, "clear");
    app.patch("/v1/lists/sdn", json!({"active": true})).await;
    let s = app
        .post(
            "/v1/screenings",
            json!({"entity": "x", "as_of": "2023-01-01"}),
        )
        .await
        .1;
    let r = reason(&s, "ofac-50").unwrap();
    assert_eq!(
        (r["basis"].as_str(), r["listings"][0]["entry"].as_str()),
        (Some("listed"), Some("1"))
    );
}
