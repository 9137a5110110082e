//! Overload sheds cleanly: a key past its rate gets 429, requests past the bound in flight
//! get 503 at once, a body past the limit 413, a request past the timeout 503; each says
//! when to try again where waiting helps, and none changes anything.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use tower::ServiceExt;

use crate::harness::TestApp;
use ownergraph::domain::Role;
use ownergraph::http::limits::Limits;

#[tokio::test]
async fn a_key_past_its_rate_gets_429_with_retry_after_and_others_go_on() {
    let app = TestApp::limited(Limits {
        per_key_per_second: NonZeroU32::new(5).unwrap(),
        ..Limits::default()
    })
    .await;
    let other = app.new_key("other", Role::Analyst).await;
    let mut answers = Vec::new();
    for _ in 0..8 {
        let req = Request::get("/v1/entities")
            .header("authorization", app.bearer())
            .body(Body::empty())
            .unwrap();
        let res = app.router.clone().oneshot(req).await.unwrap();
        let retry = res
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        answers.push((res.status(), retry));
    }
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert!((5..8).contains(&ok), "{answers:?}");
    let (s, retry) = answers.last().unwrap();
    assert_eq!(*s, StatusCode::TOO_MANY_REQUESTS, "{answers:?}");
    assert_eq!(retry.as_deref(), Some("1"));
    let (s, b) = app.get("/v1/entities").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(b["error"]["code"], "rate_limited");
    assert_eq!(
        app.call_with(&other, "GET", "/v1/entities", None).await.0,
        StatusCode::OK
    );
    // The rate comes back.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(app.get("/v1/entities").await.0, StatusCode::OK);
    // The probes are never limited.
    for _ in 0..20 {
        assert_eq!(app.get("/healthz").await.0, StatusCode::OK);
    }
}

#[tokio::test]
async fn past_the_bound_in_flight_requests_are_refused_at_once_and_a_slow_one_times_out() {
    let app = TestApp::limited(Limits {
        max_in_flight: 1,
        request_timeout: Duration::from_secs(1),
        ..Limits::default()
    })
    .await;
    // A write whose body never finishes arriving holds the one place.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    tx.send(Ok(b"{\"id\": \"slow\", ".to_vec())).await.unwrap();
    let body = Body::from_stream(tokio_stream_of(rx));
    let slow = Request::post("/v1/entities")
        .header("authorization", app.bearer())
        .header("content-type", "application/json")
        .body(body)
        .unwrap();
    let started = Instant::now();
    let pending = tokio::spawn(app.router.clone().oneshot(slow));
    tokio::time::sleep(Duration::from_millis(100)).await;

    let (s, b) = app.get("/v1/entities").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{b}");
    assert_eq!(b["error"]["code"], "overloaded");
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "refused at once"
    );
    assert_eq!(app.get("/healthz").await.0, StatusCode::OK);

    let res = pending.await.unwrap().unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(started.elapsed() >= Duration::from_secs(1));
    drop(tx);
    // The place is free again, and the slow write left nothing.
    assert_eq!(app.get("/v1/entities/slow").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_body_past_the_configured_limit_is_413_and_changes_nothing() {
    let app = TestApp::limited(Limits {
        body_bytes: 1000,
        ..Limits::default()
    })
    .await;
    let name = "n".repeat(2000);
    let (s, b) = app
        .post(
            "/v1/entities",
            json!({"id": "big", "kind": "company", "name": name}),
        )
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1000 bytes"),
        "{b}"
    );
    let (s, _) = app
        .post(
            "/v1/entities",
            json!({"id": "small", "kind": "company", "name": "S"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(app.get("/v1/entities/big").await.0, StatusCode::NOT_FOUND);
}

/// The receiver as a stream of body chunks.
fn tokio_stream_of(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
