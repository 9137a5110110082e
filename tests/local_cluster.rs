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
    let pid = cluster.pid().unwrap();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    // Reaps the killed child; there is nothing left to shut down.
    cluster.stop().unwrap();
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
