//! Request ids and `/metrics`.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use ownergraph::domain::{RescreenRequest, Scope};

use crate::harness::{TestApp, ofac_50};

/// GETs `path` with an optional `x-request-id`; the answer's status, id and body.
async fn get_with_id(app: &TestApp, path: &str, id: Option<&str>) -> (StatusCode, String, Value) {
    let mut req = Request::get(path).header("authorization", app.bearer());
    if let Some(id) = id {
        req = req.header("x-request-id", id);
    }
    let res = app
        .router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let echoed = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, echoed, serde_json::from_slice(&bytes).unwrap())
}

fn uuid_v7(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok_and(|u| u.get_version_num() == 7)
}

/// A caller's sane id comes back as it was sent; a missing or unusable one is replaced by a
/// fresh UUID v7; errors keep the contract's body.
#[tokio::test]
async fn request_ids_are_echoed_or_made_and_error_bodies_stay_as_they_were() {
    let app = TestApp::new().await;
    let (s, id, _) = get_with_id(&app, "/healthz", Some("client-7:a/b")).await;
    assert_eq!((s, id.as_str()), (StatusCode::OK, "client-7:a/b"));

    let (_, made, _) = get_with_id(&app, "/healthz", None).await;
    assert!(uuid_v7(&made), "{made}");
    let (_, again, _) = get_with_id(&app, "/healthz", None).await;
    assert_ne!(made, again, "every request gets its own id");

    for unusable in ["two words", &"x".repeat(129), ""] {
        let (_, id, _) = get_with_id(&app, "/healthz", Some(unusable)).await;
        assert!(uuid_v7(&id), "'{unusable}' was answered with '{id}'");
    }

    let (s, id, body) = get_with_id(&app, "/v1/entities/nobody", Some("lookup-1")).await;
    assert_eq!((s, id.as_str()), (StatusCode::NOT_FOUND, "lookup-1"));
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
}

/// The `/metrics` text.
async fn scrape(app: &TestApp) -> String {
    let res = app
        .router
        .clone()
        .oneshot(
            Request::get("/metrics")
                .header("authorization", app.bearer())
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The value of one series (`name{labels}` exactly as exposed), if it is there.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn value(text: &str, series: &str) -> f64 {
    sample(text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

/// Requests are counted by route template, never by raw path; screenings by decision and by
/// the rule and decision of each reason; the graph's size and version and the lag behind
/// the store are read at scrape time. Each service counts only its own (this one's counts
/// are exact although other tests run in the same process).
#[tokio::test]
async fn metrics_count_requests_by_route_and_screenings_by_rule_and_read_the_graph() {
    let app = TestApp::new().await;
    app.post("/v1/lists", json!({"id": "sdn", "name": "OFAC SDN"}))
        .await;
    app.policy(json!([ofac_50()])).await;
    app.entities(&["x", "a", "b"]).await;
    app.list("x").await;
    app.owns("x", "a", 60.0).await;
    assert_eq!(app.screen("a").await["decision"], "block");
    assert_eq!(app.screen("b").await["decision"], "clear");
    for path in ["/v1/entities/a", "/v1/entities/b", "/v1/nothing/here"] {
        app.get(path).await;
    }

    let text = scrape(&app).await;
    let requests = |labels: &str| {
        value(
            &text,
            &format!("ownergraph_http_requests_total{{{labels}}}"),
        )
    };
    assert_eq!(
        requests(r#"method="GET",route="/v1/entities/{id}",status="200""#),
        2.0
    );
    assert_eq!(
        requests(r#"method="POST",route="/v1/screenings",status="200""#),
        2.0
    );
    assert_eq!(
        requests(r#"method="POST",route="/v1/entities",status="201""#),
        3.0
    );
    assert_eq!(
        requests(r#"method="GET",route="unmatched",status="404""#),
        1.0
    );
    assert!(
        !text.contains("/v1/entities/a\""),
        "a raw path is a label:\n{text}"
    );
    assert_eq!(
        value(
            &text,
            r#"ownergraph_http_request_duration_seconds_count{method="GET",route="/v1/entities/{id}",status="200"}"#
        ),
        2.0
    );
    assert_eq!(
        value(&text, r#"ownergraph_screenings_total{decision="block"}"#),
        1.0
    );
    assert_eq!(
        value(&text, r#"ownergraph_screenings_total{decision="clear"}"#),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"ownergraph_screening_reasons_total{rule="ofac-50",decision="block"}"#
        ),
        1.0
    );
    let version = app.state.graph.load().version() as f64;
    assert_eq!(value(&text, "ownergraph_graph_version"), version);
    assert_eq!(value(&text, "ownergraph_store_version"), version);
    assert_eq!(value(&text, "ownergraph_graph_lag_versions"), 0.0);
    assert_eq!(value(&text, "ownergraph_graph_entities"), 3.0);
    assert_eq!(value(&text, "ownergraph_graph_links"), 1.0);
    assert_eq!(value(&text, "ownergraph_ready"), 1.0);
    assert_eq!(value(&text, "ownergraph_store_up"), 1.0);
    let advanced = value(&text, "ownergraph_graph_advanced_timestamp_seconds");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        now - advanced < 60.0 && advanced <= now,
        "{advanced} vs {now}"
    );

    // A version committed to the store that the graph has not applied shows as lag.
    sqlx::query("UPDATE graph_state SET version = version + 1")
        .execute(&app.state.db)
        .await
        .unwrap();
    let text = scrape(&app).await;
    assert_eq!(value(&text, "ownergraph_store_version"), version + 1.0);
    assert_eq!(value(&text, "ownergraph_graph_lag_versions"), 1.0);
}

/// `/metrics` answers while the graph is still loading, and reads the jobs of every
/// instance from the store: how many wait, how many run, and how far the running ones are.
#[tokio::test]
async fn metrics_answer_before_the_graph_is_loaded_and_count_open_jobs() {
    let app = TestApp::unloaded().await;
    assert_eq!(app.get("/readyz").await.0, StatusCode::SERVICE_UNAVAILABLE);
    let db = &app.state.db;
    let all = RescreenRequest {
        scope: Scope::All,
        since_version: None,
        as_of: None,
    };
    for _ in 0..3 {
        ownergraph::db::jobs::create(db, "tester", "request", &all)
            .await
            .unwrap();
    }
    let running = ownergraph::db::jobs::claim(db, None)
        .await
        .unwrap()
        .unwrap();
    assert!(
        ownergraph::db::jobs::begin(db, running.pk, 0, 1, 10, &[])
            .await
            .unwrap()
    );
    sqlx::query("UPDATE jobs SET done = 4 WHERE pk = $1")
        .bind(running.pk)
        .execute(db)
        .await
        .unwrap();

    let text = scrape(&app).await;
    assert_eq!(value(&text, "ownergraph_ready"), 0.0);
    assert_eq!(value(&text, "ownergraph_entity_name_index_ready"), 0.0);
    assert_eq!(value(&text, "ownergraph_graph_version"), 0.0);
    assert_eq!(value(&text, r#"ownergraph_jobs{status="queued"}"#), 2.0);
    assert_eq!(value(&text, r#"ownergraph_jobs{status="running"}"#), 1.0);
    assert_eq!(value(&text, "ownergraph_job_entities"), 10.0);
    assert_eq!(value(&text, "ownergraph_job_done_entities"), 4.0);
    assert_eq!(
        value(
            &text,
            r#"ownergraph_http_requests_total{method="GET",route="/readyz",status="503"}"#
        ),
        1.0
    );
}
