//! The audit trail: every write is in it with who, what, before and after; the hash chain
//! finds an edited or deleted entry; Postgres refuses to change it.

use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::harness::{TestApp, ofac_50};
use ownergraph::domain::Role;
use ownergraph::testdata::read_shared;

/// Every entry the listing returns for `query`, through all its pages.
async fn trail(app: &TestApp, query: &str) -> Vec<Value> {
    app.all_pages(&format!("/v1/audit?limit=2&{query}")).await
}

async fn verify(app: &TestApp) -> Value {
    let (s, report) = app.get("/v1/audit/verify").await;
    assert_eq!(s, StatusCode::OK, "{report}");
    report
}

/// A few audited writes: two entities, an ownership, a policy and a screening.
async fn some_writes(app: &TestApp) {
    app.entities(&["a", "b"]).await;
    app.owns("a", "b", 60.0).await;
    app.policy(json!([ofac_50()])).await;
    app.screen("b").await;
}

/// Runs `sql` as the table owner with the audit triggers switched off, as an intruder with
/// DDL rights could, and switches them back on.
async fn tamper(db: &PgPool, sql: &str) {
    let mut tx = db.begin().await.unwrap();
    for stmt in [
        "ALTER TABLE audit_log DISABLE TRIGGER USER",
        sql,
        "ALTER TABLE audit_log ENABLE TRIGGER USER",
    ] {
        sqlx::query(stmt).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn audit_records_who_changed_what_with_before_and_after() {
    let app = TestApp::new().await;
    let alice = app.new_key("alice@compliance", Role::Operator).await;
    app.entities(&["acme"]).await;
    let req = Request::builder()
        .method("PATCH")
        .uri("/v1/entities/acme")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {alice}"))
        .body(Body::from(
            json!({"name": "Acme Holdings", "jurisdiction": "KY"}).to_string(),
        ))
        .unwrap();
    let (s, b) = app.raw(req).await;
    assert_eq!(s, StatusCode::OK, "{b}");

    let updates = trail(&app, "action=entity.update").await;
    assert_eq!(updates.len(), 1, "{updates:?}");
    let u = &updates[0];
    assert_eq!(u["actor"], "alice@compliance");
    assert_eq!(u["subject"], "acme");
    assert_eq!(u["before"]["name"], "acme name");
    assert_eq!(u["before"]["jurisdiction"], Value::Null);
    assert_eq!(u["after"]["name"], "Acme Holdings");
    assert_eq!(u["after"]["jurisdiction"], "KY");
    assert_eq!(u["context"]["version"], 2, "the change-log version");
    assert_eq!(u["hash"].as_str().unwrap().len(), 64);
    // Filters: by actor, and by subject.
    assert_eq!(trail(&app, "actor=alice@compliance").await, updates);
    let about = trail(&app, "subject=acme").await;
    let actions: Vec<&str> = about
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["entity.create", "entity.update"]);
    // RFC 3339 UTC timestamps.
    assert!(u["recorded_at"].as_str().unwrap().ends_with('Z'), "{u}");
}

#[tokio::test]
async fn audit_covers_policy_screenings_and_list_imports_and_verifies() {
    let app = TestApp::new().await;
    app.policy(json!([ofac_50()])).await;
    let (s, p2) = app
        .put(
            "/v1/policy",
            json!({"rules": [{"id": "ubo", "kind": "beneficial_ownership", "threshold": 25}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p2}");
    let policies = trail(&app, "action=policy.update").await;
    assert_eq!(policies.len(), 2);
    assert_eq!(
        policies[0]["before"],
        Value::Null,
        "the first policy has no predecessor"
    );
    assert_eq!(policies[1]["before"][0]["id"], "ofac-50");
    assert_eq!(policies[1]["after"][0]["id"], "ubo");
    assert_eq!(policies[1]["context"]["version"], 2);

    let zala = read_shared("sanctions/opensanctions/ftm/zala_cluster.entities.ftm.json");
    let (s, summary) = app
        .upload("/v1/lists/os-zala/import?format=ftm", zala)
        .await;
    assert_eq!(s, StatusCode::OK, "{summary}");
    let imported = trail(&app, "action=list.import").await;
    assert_eq!(imported.len(), 1);
    assert_eq!(imported[0]["after"]["summary"]["sha256"], summary["sha256"]);
    let record = trail(&app, "action=import.list").await;
    assert_eq!(record.len(), 1);
    assert_eq!(record[0]["subject"], "os-zala");
    assert_eq!(record[0]["context"]["sha256"], summary["sha256"]);
    assert_eq!(record[0]["context"]["format"], "ftm");

    app.entities(&["target"]).await;
    let screening = app.screen("target").await;
    let screened = trail(&app, "action=screening").await;
    assert_eq!(screened.len(), 1);
    let e = &screened[0];
    assert_eq!(e["actor"], "tester");
    assert_eq!(e["subject"], "target");
    assert_eq!(e["context"]["count"], 1);
    let stored_batch = e["after"]["screenings"].as_array().unwrap();
    assert_eq!(stored_batch.len(), 1);
    let one = &stored_batch[0];
    assert_eq!(one["id"], screening["id"]);
    assert_eq!(one["decision"], "clear");
    assert_eq!(one["policy_version"], 2);
    // The digest in the trail is the stored answer's.
    let stored: String = sqlx::query_scalar(
        "SELECT encode(sha256(convert_to(response::text, 'UTF8')), 'hex') FROM screenings WHERE id = $1",
    )
    .bind(screening["id"].as_str().unwrap())
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(one["response_sha256"], stored);

    let report = verify(&app).await;
    let (count, head): (i64, String) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM audit_log), encode(hash, 'hex') FROM audit_head",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(report["intact"], true, "{report}");
    assert_eq!(report["broken"], Value::Null);
    assert_eq!(report["entries"], count);
    assert_eq!(report["head"], head);
    // The harness's key, two policies, the import's change and its record, an entity, a
    // screening.
    assert_eq!(count, 7);
}

#[tokio::test]
async fn audit_verify_names_the_entry_whose_contents_were_edited() {
    let app = TestApp::new().await;
    some_writes(&app).await;
    tamper(
        &app.state.db,
        "UPDATE audit_log SET after = '{\"share\": 10}' WHERE seq = 3",
    )
    .await;
    let report = verify(&app).await;
    assert_eq!(report["intact"], false, "{report}");
    assert_eq!(
        report["broken"],
        json!({"seq": 3, "problem": "hash does not match its contents"})
    );
    // The command line says the same and exits 1.
    let out = cli_verify(&app).await;
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("audit trail broken at entry 3: hash does not match its contents"),
        "{stdout}"
    );
}

#[tokio::test]
async fn audit_verify_names_a_deleted_entry_as_missing() {
    let app = TestApp::new().await;
    some_writes(&app).await;
    let out = cli_verify(&app).await;
    assert_eq!(out.status.code(), Some(0));
    let head = verify(&app).await["head"].as_str().unwrap().to_owned();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("audit trail intact: 6 entries, head {head}")
    );

    tamper(&app.state.db, "DELETE FROM audit_log WHERE seq = 2").await;
    let report = verify(&app).await;
    assert_eq!(
        report["broken"],
        json!({"seq": 2, "problem": "entry 2 is missing"})
    );
    assert_eq!(report["entries"], 5);

    // Cutting the tail is seen against the head, until the head is rewritten too.
    let app = TestApp::new().await;
    some_writes(&app).await;
    tamper(&app.state.db, "DELETE FROM audit_log WHERE seq = 6").await;
    assert_eq!(
        verify(&app).await["broken"],
        json!({"seq": 6, "problem": "head says 6 but the log ends at 5"})
    );
}

#[tokio::test]
async fn audit_log_refuses_update_delete_and_truncate_even_for_a_superuser() {
    let app = TestApp::new().await;
    some_writes(&app).await;
    let db = &app.state.db;
    let superuser: bool =
        sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            .fetch_one(db)
            .await
            .unwrap();
    assert!(superuser, "the tests connect as a superuser");
    for sql in [
        "UPDATE audit_log SET actor = 'someone else' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 1",
        "TRUNCATE audit_log",
        "DELETE FROM audit_head",
        "TRUNCATE audit_head",
    ] {
        let err = sqlx::query(sql).execute(db).await.unwrap_err().to_string();
        assert!(
            err.contains("the audit trail is append-only"),
            "{sql}: {err}"
        );
    }
    // Replication mode, which skips ordinary triggers, does not skip these.
    let mut conn = db.acquire().await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .unwrap();
    let err = sqlx::query("DELETE FROM audit_log")
        .execute(&mut *conn)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    sqlx::query("RESET session_replication_role")
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    // A direct insert cannot forge its place in the chain: the trigger assigns it.
    let (seq, prev): (i64, Vec<u8>) = sqlx::query_as(
        "INSERT INTO audit_log (seq, recorded_at, actor, action, prev_hash, hash)
         VALUES (1, now(), 'mallory', 'forged', '\\x00', '\\x00') RETURNING seq, prev_hash",
    )
    .fetch_one(db)
    .await
    .unwrap();
    // Five writes after the key the harness made.
    assert_eq!(seq, 7);
    assert_eq!(prev.len(), 32);
    assert_eq!(verify(&app).await["intact"], true);
}

static ROLES: AtomicUsize = AtomicUsize::new(0);

#[tokio::test]
async fn audit_the_service_role_appends_through_every_path_but_cannot_change_the_trail() {
    let app = TestApp::new().await;
    let admin = &app.state.db;
    let role = format!(
        "ogt_service_{}_{}",
        std::process::id(),
        ROLES.fetch_add(1, Ordering::Relaxed)
    );
    // Roles are server-wide: sweep those that crashed runs left behind.
    let stale: Vec<String> =
        sqlx::query_scalar("SELECT rolname FROM pg_roles WHERE rolname LIKE 'ogt\\_service\\_%'")
            .fetch_all(admin)
            .await
            .unwrap();
    for r in stale {
        let pid = r.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| !std::path::Path::new(&format!("/proc/{p}")).exists()) {
            let _ = sqlx::query(&format!("DROP ROLE IF EXISTS {r}"))
                .execute(admin)
                .await;
        }
    }
    sqlx::query(&format!("CREATE ROLE {role} LOGIN"))
        .execute(admin)
        .await
        .unwrap();
    sqlx::query(&format!("GRANT ownergraph_service TO {role}"))
        .execute(admin)
        .await
        .unwrap();
    let db_name: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(admin)
        .await
        .unwrap();
    let mut url = url::Url::parse(&database_url()).unwrap();
    url.set_path(&db_name);
    url.set_username(&role).unwrap();
    let _ = url.set_password(None);
    let pool = ownergraph::db::connect(url.as_str(), 4).await.unwrap();
    // Start-up as the service role: migrations already applied, nothing to create.
    ownergraph::db::migrate(&pool).await.unwrap();
    let state = ownergraph::app::AppState::start(pool.clone())
        .await
        .unwrap();
    let service = app.on(state);

    service.entities(&["svc-a", "svc-b"]).await;
    service.owns("svc-a", "svc-b", 75.0).await;
    let (s, b) = service
        .patch("/v1/entities/svc-b", json!({"name": "Renamed"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    service.policy(json!([ofac_50()])).await;
    service.screen("svc-b").await;
    let (s, b) = service.delete("/v1/entities/svc-a").await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log ORDER BY seq")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(
        actions,
        [
            "key.create",
            "entity.create",
            "entity.create",
            "ownership.create",
            "entity.update",
            "policy.update",
            "screening",
            "entity.delete"
        ]
    );

    for sql in [
        "UPDATE audit_log SET actor = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "UPDATE audit_head SET seq = 1",
    ] {
        let err = sqlx::query(sql)
            .execute(&pool)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("permission denied"), "{sql}: {err}");
    }
    assert_eq!(verify(&service).await["intact"], true);

    drop(service);
    pool.close().await;
    sqlx::query(&format!("DROP ROLE {role}"))
        .execute(admin)
        .await
        .unwrap();
}

#[tokio::test]
async fn audit_a_rolled_back_write_leaves_no_entry_and_no_gap() {
    let app = TestApp::new().await;
    app.entities(&["a"]).await;
    // A write that fails after it took its version: rolled back with everything it did.
    let (s, b) = app
        .post(
            "/v1/entities",
            json!({"id": "a", "kind": "company", "name": "again"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    // A transaction that wrote an audited row and then rolled back.
    let mut tx = app.state.db.begin().await.unwrap();
    sqlx::query("INSERT INTO policy_versions (version, rules, actor) VALUES (99, '[]', 'x')")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("SET CONSTRAINTS ALL IMMEDIATE")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    app.entities(&["b"]).await;

    let seqs: Vec<i64> = trail(&app, "")
        .await
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    // The harness's key, then the two entities.
    assert_eq!(seqs, [1, 2, 3]);
    let report = verify(&app).await;
    assert_eq!(report["intact"], true, "{report}");
    assert_eq!(report["entries"], 3);
}

fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| ownergraph::cli::DEFAULT_DATABASE_URL.to_owned())
}

/// `ownergraph audit verify` on the test's database.
async fn cli_verify(app: &TestApp) -> std::process::Output {
    let db_name: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let mut url = url::Url::parse(&database_url()).unwrap();
    url.set_path(&db_name);
    std::process::Command::new(env!("CARGO_BIN_EXE_ownergraph"))
        .args(["audit", "verify", "--quiet"])
        .env("DATABASE_URL", url.as_str())
        .output()
        .unwrap()
}

#[tokio::test]
async fn audit_records_a_match_decision_with_who_why_and_the_status_change() {
    let app = TestApp::new().await;
    let (s, b) = app
        .post(
            "/v1/entities",
            json!({"id": "northwind-ky", "name": "Northwind Trading Limited", "jurisdiction": "KY"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let file = super::registry::psc_line(
        "07654321",
        json!({
            "kind": "corporate-entity-person-with-significant-control",
            "name": "Northwind Trading Ltd",
            "identification": {"country_registered": "Cayman Islands", "legal_form": "Limited company"},
            "natures_of_control": ["ownership-of-shares-75-to-100-percent"],
            "notified_on": "2018-01-01",
            "links": {"self": "/company/07654321/persons-with-significant-control/corporate-entity/nw"}
        }),
    );
    let (s, summary) = super::registry::import(&app, "psc", &file).await;
    assert_eq!(s, StatusCode::OK, "{summary}");
    let record = trail(&app, "action=import.registry").await;
    assert_eq!(record.len(), 1);
    assert_eq!(record[0]["context"]["sha256"], summary["sha256"]);
    assert_eq!(record[0]["context"]["format"], "psc");

    let (_, queue) = app.get("/v1/possible-matches?status=pending").await;
    let m = &queue["items"][0];
    let id = m["id"].as_i64().unwrap();
    let (s, b) = app
        .post(
            &format!("/v1/possible-matches/{id}/decisions"),
            json!({"decision": "rejected", "note": "different company"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let decided = trail(&app, "action=match.decide").await;
    assert_eq!(decided.len(), 1);
    let d = &decided[0];
    assert_eq!(d["actor"], "tester");
    assert_eq!(d["before"]["status"], "pending");
    assert_eq!(d["after"]["status"], "rejected");
    assert_eq!(d["after"]["note"], "different company");
    assert_eq!(d["context"]["possible_match"], id);
    let mut pair = [
        m["entity"].as_str().unwrap(),
        m["candidate"].as_str().unwrap(),
    ];
    pair.sort();
    assert_eq!(d["subject"], pair.join(","));
    // The change-log entry of the decision carries its before too.
    let rejected = trail(&app, "action=match.reject").await;
    assert_eq!(rejected[0]["before"]["status"], "pending");
    assert_eq!(verify(&app).await["intact"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn audit_concurrent_writes_and_screenings_keep_one_unbroken_chain() {
    let app = TestApp::new().await;
    app.entities(&["hub"]).await;
    let writes = (0..12).map(|i| {
        let app = &app;
        async move {
            if i % 2 == 0 {
                app.entities(&[&format!("c{i}")]).await;
            } else {
                app.screen("hub").await;
            }
        }
    });
    futures_util::future::join_all(writes).await;
    let report = verify(&app).await;
    assert_eq!(report["intact"], true, "{report}");
    // Screenings stored together share an entry.
    let screened = trail(&app, "action=screening").await;
    let listed: usize = screened
        .iter()
        .map(|e| e["after"]["screenings"].as_array().unwrap().len())
        .sum();
    assert_eq!(listed, 6, "six screenings");
    assert_eq!(
        report["entries"],
        8 + screened.len(),
        "one create, six more, and the screenings' entries"
    );
}

#[tokio::test]
async fn audit_concurrent_screenings_each_appear_once_with_their_digest() {
    let app = TestApp::new().await;
    app.entities(&["x", "y", "z"]).await;
    let ids = ["x", "y", "z"];
    let screenings =
        futures_util::future::join_all((0..30).map(|i| app.screen(ids[i % ids.len()]))).await;
    let mut answered: Vec<&str> = screenings
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    answered.sort_unstable();

    // However the screenings were batched, every one is listed exactly once.
    let entries = trail(&app, "action=screening").await;
    let mut listed = Vec::new();
    for e in &entries {
        let batch = e["after"]["screenings"].as_array().unwrap();
        assert_eq!(e["context"]["count"], batch.len(), "{e}");
        for one in batch {
            let id = one["id"].as_str().unwrap().to_owned();
            let entity = one["entity"].as_str().unwrap();
            let subjects: Vec<&str> = e["subject"].as_str().unwrap().split(',').collect();
            assert!(subjects.contains(&entity), "{entity} not in {subjects:?}");
            let stored: String = sqlx::query_scalar(
                "SELECT encode(sha256(convert_to(response::text, 'UTF8')), 'hex') FROM screenings WHERE id = $1",
            )
            .bind(&id)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
            assert_eq!(one["response_sha256"], stored, "{id}");
            listed.push(id);
        }
    }
    listed.sort_unstable();
    assert_eq!(listed, answered);
    assert_eq!(verify(&app).await["intact"], true);
}
