//! Two real `ownergraph serve` processes on one database: what one commits, the other
//! serves, within a notification's delay; one that stalls or restarts catches up from the
//! change log without rebuilding its graph.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::database::TestDb;
use crate::support::server::{Server, Signal};

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

/// Sends a request that must succeed with `status`; returns the body.
async fn expect(on: &Server, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
    let answer = on.request(method, path, body.as_ref()).await;
    assert_eq!(answer.status, status, "{method} {path}: {}", answer.body);
    answer.body
}

async fn create_company(on: &Server, id: &str) {
    let body = json!({"id": id, "kind": "company", "name": format!("{id} Holdings Ltd"), "jurisdiction": "NL"});
    expect(on, "POST", "/v1/entities", Some(body), 201).await;
}

async fn own(on: &Server, owner: &str, owned: &str) {
    let body = json!({"owner": owner, "owned": owned, "share": 100});
    expect(on, "POST", "/v1/ownerships", Some(body), 201).await;
}

/// Whether the instance's graph holds `id` with `owners` owners above it (the entity
/// endpoints read the store; this one reads the graph).
async fn served(on: &Server, id: &str, owners: usize) -> bool {
    let answer = on
        .request("GET", &format!("/v1/entities/{id}/owners"), None)
        .await;
    answer.status == 200 && answer.body["items"].as_array().map(Vec::len) == Some(owners)
}

async fn screen(on: &Server, id: &str) -> Value {
    expect(
        on,
        "POST",
        "/v1/screenings",
        Some(json!({"entity": id})),
        200,
    )
    .await
}

async fn graph_version(on: &Server) -> i64 {
    let body = expect(on, "GET", "/readyz", None, 200).await;
    body["graph_version"]
        .as_i64()
        .expect("readyz reports the graph version")
}

/// The contract's `ofac-50` rule.
fn ofac_50() -> Value {
    let policy: Value = serde_json::from_str(ownergraph::domain::CONTRACT_EXAMPLE).unwrap();
    policy["rules"][0].clone()
}

/// Starts two instances on one fresh store.
async fn two_instances() -> (TestDb, Server, Server) {
    let db = TestDb::create().await;
    let (a, b) = tokio::join!(
        Server::start(&db.url, &["--no-seed"]),
        Server::start(&db.url, &["--no-seed"])
    );
    (db, a, b)
}

/// A chain `{prefix}0` → `{prefix}1` → … written alternately on the two instances; each
/// write must be served by the other one. Returns the delays.
async fn chain(writers: [&Server; 2], prefix: &str, len: usize) -> Vec<Duration> {
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
    let (_db, a, b) = two_instances().await;

    // A policy stored through one instance is in force on the other.
    let policy = expect(
        &a,
        "PUT",
        "/v1/policy",
        Some(json!({"rules": [ofac_50()]})),
        200,
    )
    .await;
    visible("the policy", || async {
        b.request("GET", "/v1/policy", None).await.body["version"] == policy["version"]
    })
    .await;

    let lags = chain([&a, &b], "c", 40).await;
    report("two instances", lags);

    // A listing through B taints the whole chain on A: list entries travel too.
    let list = json!({"id": "sdn", "name": "OFAC SDN", "kind": "sanctions"});
    expect(&b, "POST", "/v1/lists", Some(list), 201).await;
    let entry = json!({"id": "entry-c0", "name": "c0 Holdings Ltd", "entity": "c0"});
    expect(&b, "POST", "/v1/lists/sdn/entries", Some(entry), 201).await;
    visible("the listing", || async {
        screen(&a, "c39").await["decision"] == "block"
    })
    .await;
    let on_a = screen(&a, "c39").await;
    let on_b = screen(&b, "c39").await;
    assert_eq!(on_a["reasons"], on_b["reasons"]);
    let owners = "/v1/entities/c39/owners";
    assert_eq!(
        expect(&a, "GET", owners, None, 200).await,
        expect(&b, "GET", owners, None, 200).await
    );
    assert_eq!(graph_version(&a).await, graph_version(&b).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_stalls_or_restarts_catches_up_from_the_change_log() {
    let (db, a, b) = two_instances().await;
    chain([&a, &b], "s", 4).await;

    // B stops running (as under a long pause) while A commits; it resumes and applies the
    // log in order, without rebuilding its graph.
    b.signal(Signal::STOP);
    for i in 0..30 {
        create_company(&a, &format!("p{i}")).await;
        own(&a, "s3", &format!("p{i}")).await;
    }
    b.signal(Signal::CONT);
    let head = graph_version(&a).await;
    visible("what was written while paused", || async {
        graph_version(&b).await == head
    })
    .await;
    assert!(served(&b, "p29", 4).await);
    let logs = b.logs();
    assert!(
        !logs.iter().any(|l| l["message"]
            .as_str()
            .unwrap_or_default()
            .contains("rebuild")),
        "catching up rebuilt the graph: {logs:?}"
    );

    // B is killed; A writes on; a new B starts from the store and serves everything, and
    // what it writes reaches A.
    drop(b);
    create_company(&a, "after-crash").await;
    own(&a, "s3", "after-crash").await;
    let b = Server::start(&db.url, &["--no-seed"]).await;
    assert!(served(&b, "after-crash", 4).await);
    assert_eq!(graph_version(&a).await, graph_version(&b).await);
    create_company(&b, "from-new-b").await;
    visible("a write of the restarted instance", || {
        served(&a, "from-new-b", 0)
    })
    .await;
    let owners = "/v1/entities/after-crash/owners";
    assert_eq!(
        expect(&a, "GET", owners, None, 200).await,
        expect(&b, "GET", owners, None, 200).await
    );
}
