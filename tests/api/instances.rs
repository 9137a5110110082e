//! Two real `ownergraph serve` processes on one database: what one commits, the other
//! serves, within a notification's delay; one that stalls or restarts catches up from the
//! change log without rebuilding its graph.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{TestApp, ofac_50, reason};
use crate::process::Served;

/// How long a write may take to reach the other instance before the test fails. Far above
/// the notification's delay (milliseconds), far below the fallback poll (10 s), so only a
/// working notification passes.
const LIMIT: Duration = Duration::from_secs(3);

/// Polls until `check` holds, for at most [`LIMIT`]; returns how long it took.
async fn visible<F, Fut>(what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < LIMIT,
            "{what} not visible after {LIMIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn create_company(on: &Served, id: &str) {
    let (s, b) = on
        .send(
            "POST",
            "/v1/entities",
            &json!({"id": id, "kind": "company", "name": format!("{id} Holdings Ltd"), "jurisdiction": "NL"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}

async fn own(on: &Served, owner: &str, owned: &str) {
    let (s, b) = on
        .send(
            "POST",
            "/v1/ownerships",
            &json!({"owner": owner, "owned": owned, "share": 100}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}

/// Whether the instance's graph holds `id` with `owners` owners above it (the entity
/// endpoints read the store; this one reads the graph).
async fn served(on: &Served, id: &str, owners: usize) -> bool {
    let (s, b) = on.get(&format!("/v1/entities/{id}/owners")).await;
    s == StatusCode::OK && b["items"].as_array().map(Vec::len) == Some(owners)
}

async fn screen(on: &Served, id: &str) -> Value {
    let (s, b) = on
        .send("POST", "/v1/screenings", &json!({"entity": id}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

async fn graph_version(on: &Served) -> i64 {
    let (s, b) = on.get("/readyz").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["graph_version"]
        .as_i64()
        .expect("readyz reports the graph version")
}

/// A chain `{prefix}0` → `{prefix}1` → … written alternately on the two instances; each
/// write must be served by the other one. Returns the delays.
async fn chain(writers: [&Served; 2], prefix: &str, len: usize) -> Vec<Duration> {
    let mut lags = Vec::new();
    for i in 0..len {
        let (w, r) = (writers[i % 2], writers[(i + 1) % 2]);
        let id = format!("{prefix}{i}");
        create_company(w, &id).await;
        if i > 0 {
            own(w, &format!("{prefix}{}", i - 1), &id).await;
        }
        lags.push(visible(&id, || served(r, &id, i)).await);
    }
    lags
}

fn report(what: &str, mut lags: Vec<Duration>) {
    lags.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    eprintln!(
        "{what}: {} writes, delay until served by the other instance: p50 {:.1} ms, max {:.1} ms",
        lags.len(),
        ms(lags[lags.len() / 2]),
        ms(lags[lags.len() - 1])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_one_instance_is_served_by_the_other() {
    let app = TestApp::new().await;
    let url = app.database_url();
    let (a, b) = tokio::join!(Served::start(&url), Served::start(&url));

    // A policy stored through one instance is in force on the other.
    let (s, policy) = a
        .send("PUT", "/v1/policy", &json!({"rules": [ofac_50()]}))
        .await;
    assert_eq!(s, StatusCode::OK, "{policy}");
    visible("the policy", || async {
        b.get("/v1/policy").await.1["version"] == policy["version"]
    })
    .await;

    let lags = chain([&a, &b], "c", 40).await;
    report("two instances", lags);

    // A listing through B taints the whole chain on A: list entries travel too.
    let (s, body) = b
        .send(
            "POST",
            "/v1/lists",
            &json!({"id": "sdn", "name": "OFAC SDN", "kind": "sanctions"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let (s, body) = b
        .send(
            "POST",
            "/v1/lists/sdn/entries",
            &json!({"id": "entry-c0", "name": "c0 Holdings Ltd", "entity": "c0"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    visible("the listing", || async {
        screen(&a, "c39").await["decision"] == "block"
    })
    .await;
    let on_a = screen(&a, "c39").await;
    let on_b = screen(&b, "c39").await;
    assert_eq!(reason(&on_a, "ofac-50"), reason(&on_b, "ofac-50"));
    assert_eq!(
        a.get("/v1/entities/c39/owners").await,
        b.get("/v1/entities/c39/owners").await
    );
    assert_eq!(graph_version(&a).await, graph_version(&b).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_stalls_or_restarts_catches_up_from_the_change_log() {
    let app = TestApp::new().await;
    let url = app.database_url();
    let (a, b) = tokio::join!(Served::start(&url), Served::start(&url));
    chain([&a, &b], "s", 4).await;

    // B stops running (as under a long pause) while A commits; it resumes and applies the
    // log in order, without rebuilding its graph.
    signal(&b, "STOP");
    for i in 0..30 {
        create_company(&a, &format!("p{i}")).await;
        own(&a, "s3", &format!("p{i}")).await;
    }
    signal(&b, "CONT");
    let head = graph_version(&a).await;
    visible("what was written while paused", || async {
        graph_version(&b).await == head
    })
    .await;
    assert!(served(&b, "p29", 4).await);
    assert!(
        !b.log().contains("rebuild"),
        "catching up rebuilt the graph:\n{}",
        b.log()
    );

    // B is killed; A writes on; a new B starts from the store and serves everything, and
    // what it writes reaches A.
    let url = url.clone();
    drop(b);
    create_company(&a, "after-crash").await;
    own(&a, "s3", "after-crash").await;
    let b = Served::start(&url).await;
    assert!(served(&b, "after-crash", 4).await);
    assert_eq!(graph_version(&a).await, graph_version(&b).await);
    create_company(&b, "from-new-b").await;
    visible("a write of the restarted instance", || {
        served(&a, "from-new-b", 0)
    })
    .await;
    let owners = b.get("/v1/entities/after-crash/owners").await;
    assert_eq!(owners, a.get("/v1/entities/after-crash/owners").await);
}

fn signal(on: &Served, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{sig}"), on.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{sig}");
}
