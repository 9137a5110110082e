//! Stopped as a process supervisor stops it: SIGTERM lets the requests in
//! flight finish, refuses new connections and exits 0, within a bounded drain time.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::support::database::TestDb;
use crate::support::server::{Server, head, read_answer};

/// Starts a request whose body is only half sent, with the request id `id`, and returns once
/// the service has it in hand (its start is logged), with the rest of the body.
async fn half_sent(server: &Server, id: &str) -> (tokio::net::TcpStream, String) {
    let body = json!({"entity": "acme"}).to_string();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut conn = server.connect().await.unwrap();
    let head = head(
        "POST",
        "/v1/screenings",
        body.len(),
        &[("x-request-id", id)],
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(first.as_bytes()).await.unwrap();
    server
        .wait_for_log(|l| {
            l["message"] == "started processing request" && l["span"]["request_id"] == id
        })
        .await;
    (conn, rest.to_owned())
}

/// A screening in flight when SIGTERM arrives is answered and stored; meanwhile the service
/// refuses new connections; then it exits 0. Every line it logged is JSON, and the answer's
/// log line carries the request's id.
#[tokio::test]
async fn sigterm_finishes_the_request_in_flight_refuses_new_ones_and_exits_0() {
    let db = TestDb::create().await;
    let mut server = Server::start(&db.url, &["--no-seed"]).await;
    let created = server
        .request(
            "POST",
            "/v1/entities",
            Some(&json!({"id": "acme", "kind": "company", "name": "Acme Ltd"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);

    let (mut conn, rest) = half_sent(&server, "in-flight-1").await;
    server.terminate();
    server
        .wait_for_log(|l| l["message"] == "shutting down: finishing requests in flight")
        .await;

    // The listener closes as the drain begins, while the request is still open.
    let started = Instant::now();
    while server.connect().await.is_ok() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still accepting connections after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    conn.write_all(rest.as_bytes()).await.unwrap();
    let answer = read_answer(&mut conn).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["decision"], "clear");
    assert_eq!(answer.body["resolved_entity"], "acme");
    assert_eq!(answer.header("x-request-id"), Some("in-flight-1"));

    let status = server.exited(Duration::from_secs(30)).await;
    assert_eq!(status.code(), Some(0), "{:?}", server.logs());

    // Answered means stored.
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM screenings WHERE id = $1")
        .bind(answer.body["id"].as_str().unwrap())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 1);
    pool.close().await;

    let logs = server.logs();
    let line = logs
        .iter()
        .find(|l| l["message"] == "request answered" && l["span"]["request_id"] == "in-flight-1")
        .unwrap_or_else(|| panic!("no answer line in {logs:?}"));
    assert_eq!(line["status"], 200);
    assert_eq!(line["span"]["method"], "POST");
    assert_eq!(line["span"]["route"], "/v1/screenings");
    assert_eq!(logs.last().unwrap()["message"], "stopped");
}

/// A request still in flight when the drain time is over does not hold the process: it
/// exits 1 soon after, saying so.
#[tokio::test]
async fn a_request_that_outlasts_the_drain_time_is_abandoned_and_the_exit_says_so() {
    let db = TestDb::create().await;
    let mut server = Server::start(&db.url, &["--no-seed", "--shutdown-timeout", "1"]).await;
    // Its body never completes.
    let (_conn, _) = half_sent(&server, "held-open").await;
    server.terminate();
    let signalled = Instant::now();
    let status = server.exited(Duration::from_secs(20)).await;
    assert!(signalled.elapsed() >= Duration::from_secs(1));
    assert_eq!(status.code(), Some(1), "{:?}", server.logs());
    let logs = server.logs();
    let last = logs.last().unwrap();
    assert_eq!(
        last["message"],
        "requests still in flight after the drain time; exiting without them"
    );
    assert_eq!(last["drain_s"], 1);
    assert!(!logs.iter().any(|l| l["message"] == "stopped"), "{logs:?}");
}
