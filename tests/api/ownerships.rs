use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::harness::TestApp;

fn item<'a>(list: &'a Value, id: &str) -> &'a Value {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["entity"] == id)
        .unwrap_or_else(|| panic!("{id} not in {list}"))
}

/// Ownerships of every interest kind are stored and read back; delete is soft.
#[tokio::test]
async fn ownerships_are_created_read_and_deleted() {
    let app = TestApp::new().await;
    app.entities(&["a", "b"]).await;
    let (s, o) = app
        .post(
            "/v1/ownerships",
            json!({"id": "o1", "owner": "a", "owned": "b", "share_range": {"min": 25, "max": 50},
            "valid_from": "2020-01-01", "valid_to": "2030-01-01", "source": "registry:GB"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    assert_eq!(
        (
            o["interest"].as_str(),
            o["share_range"].clone(),
            o["share"].clone()
        ),
        (
            Some("shares"),
            json!({"min": 25.0, "max": 50.0}),
            json!(null)
        )
    );
    let (s, b) = app
        .post(
            "/v1/ownerships",
            json!({"owner": "a", "owned": "b", "interest": "board"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(app.get("/v1/ownerships/o1").await.1, o);
    assert_eq!(
        app.delete("/v1/ownerships/o1").await.0,
        StatusCode::NO_CONTENT
    );
    let (s, gone) = app.get("/v1/ownerships/o1").await;
    assert_eq!(s, StatusCode::OK);
    assert!(gone["deleted_at"].is_string());
    assert_eq!(
        app.delete("/v1/ownerships/o1").await.0,
        StatusCode::NOT_FOUND
    );
    let (_, list) = app.get("/v1/ownerships?owned=b").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

/// Invalid ownerships get 422 (or 404 for unknown entities), and nothing is stored.
#[tokio::test]
async fn invalid_ownerships_are_rejected() {
    let app = TestApp::new().await;
    app.entities(&["a", "b", "c"]).await;
    let cases = [
        (
            json!({"owner": "a", "owned": "a", "share": 10}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "self_ownership",
        ),
        (
            json!({"owner": "a", "owned": "b", "share": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            json!({"owner": "a", "owned": "b", "share": 100.5}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            json!({"owner": "a", "owned": "b"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "share_required",
        ),
        (
            json!({"owner": "a", "owned": "b", "share": 5, "share_range": {"min": 1, "max": 2}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "share_conflict",
        ),
        (
            json!({"owner": "a", "owned": "b", "interest": "board", "share": 60}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "share_not_allowed",
        ),
        (
            json!({"owner": "a", "owned": "b", "share": 5, "valid_from": "2021-01-01", "valid_to": "2020-01-01"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_interval",
        ),
        (
            json!({"owner": "a", "owned": "b", "share": 5, "valid_from": "2021-02-30"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            json!({"owner": "zz", "owned": "b", "share": 5}),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            json!({"owner": "a", "owned": "b", "interest": "friendship"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
    ];
    for (body, status, code) in cases {
        let (s, b) = app.post("/v1/ownerships", body.clone()).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (status, Some(code)),
            "{body} -> {b}"
        );
    }
    let (_, list) = app.get("/v1/ownerships").await;
    assert_eq!(list["items"], json!([]));
}

/// Known minimum shares in one entity cannot pass 100 at any date; other periods may add up.
#[tokio::test]
async fn shares_in_one_entity_cannot_pass_100_at_any_date() {
    let app = TestApp::new().await;
    app.entities(&["a", "b", "c", "t"]).await;
    let post = |owner: &'static str,
                share: f64,
                from: Option<&'static str>,
                to: Option<&'static str>| {
        let app = &app;
        async move {
            app.post("/v1/ownerships", json!({"owner": owner, "owned": "t", "share": share, "valid_from": from, "valid_to": to})).await
        }
    };
    assert_eq!(
        post("a", 60.0, Some("2020-01-01"), Some("2022-01-01"))
            .await
            .0,
        StatusCode::CREATED
    );
    assert_eq!(
        post("b", 60.0, Some("2022-01-01"), None).await.0,
        StatusCode::CREATED
    );
    let (s, b) = post("c", 45.0, Some("2021-06-01"), None).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("share_total_exceeds_100")
        )
    );
    assert_eq!(
        post("c", 40.0, Some("2021-06-01"), None).await.0,
        StatusCode::CREATED
    );
    // A range counts at its known minimum.
    let (s, _) = app.post("/v1/ownerships", json!({"owner": "a", "owned": "t", "share_range": {"min": 1, "max": 90}, "valid_from": "2023-01-01"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

/// Effective shares multiply along paths and add over paths; direct shares and control chains
/// are reported per owner.
#[tokio::test]
async fn owners_report_direct_and_effective_shares() {
    let app = TestApp::new().await;
    app.entities(&["p-anna", "h", "m", "t"]).await;
    app.owns("p-anna", "h", 80.0).await;
    app.owns("h", "m", 60.0).await;
    app.owns("m", "t", 50.0).await;
    app.owns("h", "t", 10.0).await;
    let (s, owners) = app.get("/v1/entities/t/owners").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(owners["items"].as_array().unwrap().len(), 3);
    let h = item(&owners, "h");
    assert_eq!(
        (
            h["direct_share"].as_f64(),
            h["effective_share"].as_f64(),
            h["controls"].as_bool()
        ),
        (Some(10.0), Some(40.0), Some(false))
    );
    let anna = item(&owners, "p-anna");
    assert_eq!(
        (
            anna["direct_share"].clone(),
            anna["effective_share"].as_f64()
        ),
        (json!(null), Some(32.0))
    );
    let (_, subs) = app.get("/v1/entities/h/subsidiaries").await;
    let m = item(&subs, "m");
    assert_eq!(
        (m["effective_share"].as_f64(), m["controls"].as_bool()),
        (Some(60.0), Some(true))
    );
    assert_eq!(item(&subs, "t")["effective_share"].as_f64(), Some(40.0));
    let (_, ubo) = app.get("/v1/entities/t/ubo?threshold=25").await;
    assert_eq!(ubo["items"].as_array().unwrap().len(), 1);
    assert_eq!(ubo["items"][0]["entity"], "p-anna");
    assert_eq!(ubo["items"][0]["effective_share"].as_f64(), Some(32.0));
    assert_eq!(ubo["items"][0]["paths"].as_array().unwrap().len(), 2);
    let (_, ubo) = app.get("/v1/entities/t/ubo?threshold=33").await;
    assert_eq!(ubo["items"], json!([]));
    assert_eq!(
        app.get("/v1/entities/t/ubo?threshold=0").await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.get("/v1/entities/nobody/owners").await.0,
        StatusCode::NOT_FOUND
    );
}

/// A 100%/100% loop of two companies terminates, and links outside `as_of` do not count.
#[tokio::test]
async fn loops_terminate_and_as_of_filters_links() {
    let app = TestApp::new().await;
    app.entities(&["a", "b", "t"]).await;
    app.owns("a", "b", 100.0).await;
    app.owns("b", "a", 100.0).await;
    let (s, _) = app
        .post(
            "/v1/ownerships",
            json!({"owner": "b", "owned": "t", "share": 30, "valid_from": "2024-01-01"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, owners) = app.get("/v1/entities/t/owners?as_of=2025-01-01").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(item(&owners, "b")["direct_share"].as_f64(), Some(30.0));
    // Through the closed loop the sum over walks diverges; it is reported as all of it.
    assert_eq!(item(&owners, "a")["effective_share"].as_f64(), Some(100.0));
    let (_, before) = app.get("/v1/entities/t/owners?as_of=2023-12-31").await;
    assert_eq!(before["items"], json!([]));
    assert_eq!(
        app.get("/v1/entities/t/owners?as_of=2023-13-01").await.0,
        StatusCode::BAD_REQUEST
    );
}
