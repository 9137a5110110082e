//! The private PostgreSQL cluster, run from the binaries installed on this machine.
//!
//! Where PostgreSQL is expected (a Debian-style `/usr/lib/postgresql`, or CI) a missing
//! binary fails the test rather than skipping it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use ownergraph::localpg::{self, Account, Binaries, Error, LocalCluster};

fn binaries() -> Option<Binaries> {
    let found = localpg::find_binaries();
    let expected = Path::new("/usr/lib/postgresql").exists() || std::env::var_os("CI").is_some();
    assert!(
        found.is_some() || !expected,
        "PostgreSQL binaries are expected on this machine but none were found"
    );
    if found.is_none() {
        eprintln!("no PostgreSQL binaries on this machine: the private cluster is not tested");
    }
    found
}

/// A folder for the cluster that its user can reach: run as root, the cluster runs as
/// `postgres` or `nobody`, and a temporary folder is made private to root.
fn cluster_dir() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    tmp
}

fn process_exists(pid: i32) -> bool {
    let pid = rustix::process::Pid::from_raw(pid).unwrap();
    !matches!(
        rustix::process::test_kill_process(pid),
        Err(rustix::io::Errno::SRCH)
    )
}

/// Kills the postmaster outright, as a crash would, and reaps it: nothing is shut down.
fn crash(cluster: LocalCluster) {
    let pid = rustix::process::Pid::from_raw(cluster.pid().unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
    cluster.stop().unwrap();
}

/// A cluster made in an empty folder takes connections over its socket only, runs the
/// migrations, stops with its process gone, and keeps its data for the next start.
#[tokio::test]
async fn a_private_cluster_starts_stops_and_keeps_its_data() {
    let Some(binaries) = binaries() else { return };
    let tmp = cluster_dir();
    let dir = tmp.path().join("cluster");
    let account = Account::for_cluster().unwrap();

    let cluster = LocalCluster::start(&binaries, &dir, account.as_ref()).unwrap();
    let pid = cluster.pid().unwrap();
    assert_eq!(
        LocalCluster::running_url(&dir).as_deref(),
        Some(cluster.url().as_str())
    );
    let pool = ownergraph::db::connect(&cluster.url(), 2).await.unwrap();
    let (listen, fsync): (String, String) =
        sqlx::query_as("SELECT current_setting('listen_addresses'), current_setting('fsync')")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((listen.as_str(), fsync.as_str()), ("", "on"));
    ownergraph::db::migrate(&pool).await.unwrap();
    sqlx::query("INSERT INTO lists (id, name, kind) VALUES ('kept', 'Kept', 'sanctions')")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    cluster.stop().unwrap();
    assert!(!process_exists(pid), "the postmaster {pid} is still there");
    assert!(!dir.join("data/postmaster.pid").exists());
    assert_eq!(LocalCluster::running_url(&dir), None);

    let cluster = LocalCluster::start(&binaries, &dir, account.as_ref()).unwrap();
    assert_ne!(cluster.pid(), Some(pid));
    let pool = ownergraph::db::connect(&cluster.url(), 2).await.unwrap();
    let name: String = sqlx::query_scalar("SELECT name FROM lists WHERE id = 'kept'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(name, "Kept");
    pool.close().await;
    let pid = cluster.pid().unwrap();
    // Dropped rather than stopped, as on a panic: it stops all the same.
    drop(cluster);
    assert!(
        !process_exists(pid),
        "the postmaster {pid} outlived its owner"
    );
}

/// While one owner runs the cluster, a second start on the same folder is refused instead of
/// taking it over (and stopping it under the first).
#[test]
fn a_running_cluster_has_one_owner() {
    let Some(binaries) = binaries() else { return };
    let tmp = cluster_dir();
    let dir = tmp.path().join("cluster");
    let account = Account::for_cluster().unwrap();
    let first = LocalCluster::start(&binaries, &dir, account.as_ref()).unwrap();
    match LocalCluster::start(&binaries, &dir, account.as_ref()) {
        Err(Error::InUse(d)) => assert_eq!(d, dir),
        Err(e) => panic!("expected InUse, got {e}"),
        Ok(_) => panic!("a second owner started"),
    }
    assert!(LocalCluster::running_url(&dir).is_some());
    first.stop().unwrap();
}

/// A postmaster killed outright leaves a stale `postmaster.pid`; the next start clears it,
/// recovers from the write-ahead log, and what was committed is there.
#[tokio::test]
async fn a_crashed_cluster_recovers_at_the_next_start() {
    let Some(binaries) = binaries() else { return };
    let tmp = cluster_dir();
    let dir = tmp.path().join("cluster");
    let account = Account::for_cluster().unwrap();

    let cluster = LocalCluster::start(&binaries, &dir, account.as_ref()).unwrap();
    let pool = ownergraph::db::connect(&cluster.url(), 2).await.unwrap();
    sqlx::query("CREATE TABLE committed (v text)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO committed VALUES ('before the crash')")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    crash(cluster);
    assert!(dir.join("data/postmaster.pid").exists());

    let cluster = LocalCluster::start(&binaries, &dir, account.as_ref()).unwrap();
    let pool = ownergraph::db::connect(&cluster.url(), 2).await.unwrap();
    let v: String = sqlx::query_scalar("SELECT v FROM committed")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(v, "before the crash");
    pool.close().await;
    cluster.stop().unwrap();
}

/// PostgreSQL killed outright while the service writes, then started again: every write the
/// service acknowledged is in the store and in the graph; a write that was not acknowledged
/// either committed whole (its change-log row and audit entry with it) or left nothing; the
/// audit chain is intact; the service carries on without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_across_a_database_crash_are_acknowledged_only_when_whole() {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use ownergraph::domain::{KeyName, NewKey, Role};
    use tower::ServiceExt;

    const WRITES: usize = 150;
    let Some(binaries) = binaries() else { return };
    let tmp = cluster_dir();
    let dir = tmp.path().join("cluster");
    let account = Account::for_cluster().unwrap();
    let cluster = LocalCluster::start(&binaries, &dir, account.as_ref()).unwrap();
    let url = cluster.url();
    let pool = ownergraph::db::connect(&url, 8).await.unwrap();
    ownergraph::db::migrate(&pool).await.unwrap();
    let key = NewKey::generate();
    let name = KeyName::try_from("writer".to_owned()).unwrap();
    ownergraph::db::keys::create(&pool, &name, Role::Operator, None, &key, "test")
        .await
        .unwrap();
    let state = ownergraph::app::AppState::start(pool.clone())
        .await
        .unwrap();
    let router = ownergraph::http::router(state.clone());

    let writer = tokio::spawn(async move {
        let mut answers = Vec::new();
        for i in 0..WRITES {
            let body = serde_json::json!({"id": format!("w{i}"), "kind": "company", "name": format!("Write {i}")});
            let req = Request::post("/v1/entities")
                .header("authorization", format!("Bearer {}", key.text))
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap();
            let status = router.clone().oneshot(req).await.unwrap().status();
            answers.push((format!("w{i}"), status));
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        answers
    });
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    crash(cluster);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let cluster = LocalCluster::start(&binaries, &dir, account.as_ref()).unwrap();
    assert_eq!(cluster.url(), url);
    let answers = writer.await.unwrap();

    let acknowledged: Vec<&str> = answers
        .iter()
        .filter(|(_, s)| *s == StatusCode::CREATED)
        .map(|(id, _)| id.as_str())
        .collect();
    let failed: Vec<&(String, StatusCode)> = answers
        .iter()
        .filter(|(_, s)| *s != StatusCode::CREATED)
        .collect();
    println!(
        "{} writes across the crash: {} acknowledged, {} failed",
        answers.len(),
        acknowledged.len(),
        failed.len()
    );
    assert!(
        failed.iter().all(|(_, s)| s.is_server_error()),
        "a write failed other than with 5xx: {failed:?}"
    );
    let stored: Vec<String> = sqlx::query_scalar("SELECT id FROM entities ORDER BY pk")
        .fetch_all(&pool)
        .await
        .unwrap();
    for id in &acknowledged {
        assert!(
            stored.iter().any(|s| s == id),
            "acknowledged {id} is not stored"
        );
    }
    let unrecorded: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM entities e
         WHERE NOT EXISTS (SELECT 1 FROM change_log c WHERE e.id = ANY (c.entities))",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(unrecorded, 0, "an entity without its change-log row");
    let (changes, audited): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM change_log),
                (SELECT count(*) FROM audit_log WHERE action = 'entity.create')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(changes, audited, "a change without its audit entry");
    let report = ownergraph::db::audit::verify(&pool, |_| {}).await.unwrap();
    assert!(report.intact, "{:?}", report.broken);

    // The service follows the store again and holds exactly what it holds.
    let latest: i64 = sqlx::query_scalar("SELECT max(version) FROM change_log")
        .fetch_one(&pool)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    while state.graph.load().version() < latest {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "the graph stays behind"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let snap = state.graph.load();
    assert_eq!(snap.entity_count(), stored.len());
    assert!(stored.iter().all(|id| snap.lookup(id).is_some()));
    pool.close().await;
    drop(state);
    cluster.stop().unwrap();
}
