use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::harness::{TestApp, ofac_50};

/// Waits until the job has finished, and returns it.
async fn finished(app: &TestApp, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let (s, job) = app.get(&format!("/v1/jobs/{id}")).await;
        assert_eq!(s, StatusCode::OK, "{job}");
        if ["succeeded", "failed", "cancelled"].contains(&job["status"].as_str().unwrap()) {
            return job;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "job never finished: {job}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn rescreen(app: &TestApp, body: Value) -> Value {
    let (s, job) = app.post("/v1/jobs/rescreen", body).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{job}");
    finished(app, job["id"].as_str().unwrap()).await
}

/// x* → a 50 → b 50, and c → d 100 away from any list.
async fn chain() -> TestApp {
    let app = TestApp::new().await;
    app.entities(&["x", "a", "b", "c", "d"]).await;
    app.list("x").await;
    app.owns("x", "a", 50.0).await;
    app.owns("a", "b", 50.0).await;
    app.owns("c", "d", 100.0).await;
    app.policy(json!([ofac_50()])).await;
    app
}

async fn results(app: &TestApp, id: &str, query: &str) -> Value {
    let (s, page) = app.get(&format!("/v1/jobs/{id}/results?{query}")).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    page
}

fn entities(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["entity"].as_str().unwrap())
        .collect()
}

/// A whole-graph job stores a result for every entity, with the evidence a screening gives.
#[tokio::test]
async fn a_rescreen_of_everything_gives_every_entity_a_result_with_its_evidence() {
    let app = chain().await;
    let job = rescreen(&app, json!({"scope": "all"})).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["total"], 5);
    assert_eq!(job["done"], 5);
    assert_eq!(job["counts"], json!({"clear": 2, "review": 0, "block": 3}));
    assert_eq!(job["policy_version"], 1);
    let screening = app.screen("b").await;
    assert_eq!(job["graph_version"], screening["graph_version"]);

    let id = job["id"].as_str().unwrap();
    let blocked = results(&app, id, "decision=block").await;
    assert_eq!(entities(&blocked), ["a", "b", "x"]);
    let b = &blocked["items"][1];
    assert_eq!(
        b["reasons"], screening["reasons"],
        "a job explains as a screening does"
    );
    assert_eq!(
        entities(&results(&app, id, "decision=clear").await),
        ["c", "d"]
    );

    let first = results(&app, id, "limit=2").await;
    assert_eq!(entities(&first), ["a", "b"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = results(&app, id, &format!("limit=2&cursor={cursor}")).await;
    assert_eq!(entities(&rest), ["c", "d"]);

    let (_, audit) = app.get(&format!("/v1/audit?subject={id}")).await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.len(), 3, "queued, running, succeeded: {audit}");
    for action in ["job.queue", "job.running", "job.succeeded"] {
        assert!(actions.contains(&action), "{action} missing: {audit}");
    }
    let (_, verified) = app.get("/v1/audit/verify").await;
    assert_eq!(verified["intact"], true, "{verified}");
}

/// An affected job screens what changed since the last job and what it holds, nothing else.
#[tokio::test]
async fn an_affected_rescreen_covers_only_what_a_change_reaches() {
    let app = chain().await;
    let all = rescreen(&app, json!({"scope": "all"})).await;
    app.entities(&["e"]).await;
    app.list("c").await;
    let job = rescreen(&app, json!({"scope": "affected"})).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["since_version"], all["graph_version"]);
    assert_eq!(
        job["counts"],
        json!({"clear": 1, "review": 0, "block": 2}),
        "{job}"
    );
    let page = results(&app, job["id"].as_str().unwrap(), "").await;
    assert_eq!(
        entities(&page),
        ["c", "d", "e"],
        "the new entity, the listed one and what it holds"
    );

    let (s, e) = app
        .post(
            "/v1/jobs/rescreen",
            json!({"scope": "affected", "since_version": 1_000_000}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{e}");
    let none = finished(&app, e["id"].as_str().unwrap()).await;
    assert_eq!(
        (none["status"].as_str(), none["total"].as_i64()),
        (Some("succeeded"), Some(0))
    );
}

/// Bad requests get 422 naming the field, and create no job.
#[tokio::test]
async fn bad_rescreen_requests_are_refused() {
    let app = chain().await;
    for (body, field) in [
        (json!({"scope": "all", "since_version": 3}), "since_version"),
        (json!({"scope": "affected"}), "since_version"),
        (json!({"scope": "some"}), "scope"),
        (
            json!({"scope": "affected", "since_version": -1}),
            "since_version",
        ),
    ] {
        let (s, b) = app.post("/v1/jobs/rescreen", body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {b}");
        assert_eq!(b["error"]["field"], field, "{body}: {b}");
    }
    let (_, jobs) = app.get("/v1/jobs").await;
    assert_eq!(jobs["items"], json!([]));
    let (s, _) = app.get("/v1/jobs/no-such-job").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// A job whose service stopped is started again, and failed once it has stopped too often.
#[tokio::test]
async fn the_jobs_of_a_stopped_service_are_started_again_or_failed_with_the_reason() {
    let app = chain().await;
    for (id, attempts) in [("resumed", 1), ("given-up", 3)] {
        sqlx::query(
            "INSERT INTO jobs (id, kind, scope, status, trigger, actor, attempts, total, done,
                               started_at, heartbeat_at)
             VALUES ($1, 'rescreen', 'all', 'running', 'request', 'tester', $2, 5, 2,
                     now() - interval '2 hours', now() - interval '1 hour')",
        )
        .bind(id)
        .bind(attempts)
        .execute(&app.state.db)
        .await
        .unwrap();
    }
    let resumed = finished(&app, "resumed").await;
    assert_eq!(resumed["status"], "succeeded", "{resumed}");
    assert_eq!(resumed["attempts"], 2);
    assert_eq!(resumed["done"], 5);
    assert!(
        resumed["notes"][0]
            .as_str()
            .unwrap()
            .starts_with("started again"),
        "{resumed}"
    );
    let given_up = finished(&app, "given-up").await;
    assert_eq!(given_up["status"], "failed", "{given_up}");
    assert!(
        given_up["error"]
            .as_str()
            .unwrap()
            .contains("stopped 3 times"),
        "{given_up}"
    );
}

/// Cancelling stops a running job before its next chunk; a finished job cannot be cancelled.
#[tokio::test]
async fn a_cancelled_job_stores_nothing_more() {
    let app = chain().await;
    sqlx::query(
        "INSERT INTO jobs (id, kind, scope, status, trigger, actor, attempts, started_at, heartbeat_at)
         VALUES ('busy', 'rescreen', 'all', 'running', 'request', 'tester', 1, now(), now())",
    )
    .execute(&app.state.db)
    .await
    .unwrap();
    let (s, job) = app.delete("/v1/jobs/busy").await;
    assert_eq!(s, StatusCode::OK, "{job}");
    assert_eq!(job["status"], "cancelled");
    let stored = ownergraph::db::jobs::get(&app.state.db, "busy")
        .await
        .unwrap();
    let result = ownergraph::domain::JobResult {
        entity: "a".into(),
        decision: ownergraph::domain::Decision::Clear,
        reasons: Vec::new(),
    };
    let on = ownergraph::db::jobs::RunOn {
        job: "busy",
        graph_version: 1,
        policy_version: 1,
        as_of: ownergraph::domain::today(),
    };
    let kept = ownergraph::db::jobs::store(&app.state.db, stored.pk, &on, &[result])
        .await
        .unwrap();
    assert!(!kept, "a cancelled job takes no more results");
    let (_, audit) = app.get("/v1/audit?action=job.cancelled").await;
    let entry = &audit["items"][0];
    assert_eq!(
        (entry["actor"].as_str(), entry["subject"].as_str()),
        (Some("tester"), Some("busy"))
    );
    assert_eq!(entry["before"]["status"], "running");
    assert_eq!(results(&app, "busy", "").await["items"], json!([]));

    let done = rescreen(&app, json!({"scope": "all"})).await;
    let (s, b) = app
        .delete(&format!("/v1/jobs/{}", done["id"].as_str().unwrap()))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
}

/// A list import can queue its own re-screening of what it changed; one that changes nothing
/// queues none.
#[tokio::test]
async fn a_list_import_queues_the_rescreening_of_what_it_changed() {
    let app = chain().await;
    let zala = ownergraph::testdata::read_shared(
        "sanctions/opensanctions/ftm/zala_cluster.entities.ftm.json",
    );
    let uri = "/v1/lists/os-zala/import?format=ftm&rescreen=affected";
    let (s, summary) = app.upload(uri, zala.clone()).await;
    assert_eq!(s, StatusCode::OK, "{summary}");
    let id = summary["rescreen_job"].as_str().expect("a job was queued");
    let job = finished(&app, id).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["trigger"], "list_import");
    assert_eq!(job["scope"], "affected");
    assert_eq!(
        job["since_version"].as_i64(),
        summary["graph_version"].as_i64().map(|v| v - 1)
    );
    assert_eq!(job["graph_version"], summary["graph_version"]);
    assert!(job["total"].as_i64().unwrap() > 0, "{job}");
    let page = results(&app, id, "limit=1000").await;
    assert!(
        entities(&page)
            .iter()
            .all(|e| !["a", "b", "c", "d", "x"].contains(e)),
        "nothing the import did not touch is screened: {page}"
    );

    let (_, again) = app.upload(uri, zala).await;
    assert_eq!(again["rescreen_job"], Value::Null, "{again}");
}

/// A bulk load with replace empties everything about the old graph (results, alerts, sources)
/// and keeps the audit trail whole.
#[tokio::test]
async fn a_replacing_bulk_load_clears_what_was_about_the_old_graph() {
    use ownergraph::r#gen::{Config, Registry};
    let app = chain().await;
    rescreen(&app, json!({"scope": "all"})).await;
    let registry = Registry::generate(&Config {
        entities: 300,
        seed: 7,
    });
    let db = &app.state.db;
    let refused = ownergraph::db::bulk::load(db, &registry, 7, false).await;
    assert!(
        refused.is_err(),
        "a store that holds entities is not replaced unasked"
    );
    let schema = || async {
        let defs: Vec<String> = sqlx::query_scalar(
            "SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
             FROM pg_constraint WHERE conrelid::regclass::text IN ('entities', 'ownerships', 'list_entries')
             UNION ALL
             SELECT pg_get_indexdef(indexrelid) FROM pg_index
             WHERE indrelid::regclass::text IN ('entities', 'ownerships', 'list_entries')
             ORDER BY 1",
        )
        .fetch_all(db)
        .await
        .unwrap();
        defs
    };
    let before = schema().await;
    let loaded = ownergraph::db::bulk::load(db, &registry, 7, true)
        .await
        .unwrap();
    assert_eq!(loaded.entities, 300);
    // Indexes and foreign keys set aside for the load are all back.
    assert_eq!(schema().await, before);
    let duplicate = sqlx::query(
        "INSERT INTO entities (id, kind, name, search) VALUES ('e0000000', 'company', 'x', 'x')",
    )
    .execute(db)
    .await;
    assert!(duplicate.is_err(), "ids stay unique after a bulk load");
    for table in ["jobs", "job_results", "alerts", "screenings"] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(db)
            .await
            .unwrap();
        assert_eq!(n, 0, "{table} was about the old graph");
    }
    let (_, verified) = app.get("/v1/audit/verify").await;
    assert_eq!(verified["intact"], true, "{verified}");
}
