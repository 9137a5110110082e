//! A fresh, migrated database per test, on the server that `DATABASE_URL` names, cloned from a
//! template migrated once per test process, and dropped when the test ends.

use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::OnceCell;

/// The server holding the test databases; `DATABASE_URL` names one of its databases.
fn admin_url() -> String {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| ownergraph::cli::DEFAULT_DATABASE_URL.to_owned());
    with_db(&url, "postgres")
}

fn with_db(url: &str, db: &str) -> String {
    let mut u = url::Url::parse(url).expect("DATABASE_URL is a URL");
    u.set_path(db);
    u.to_string()
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A migrated template database, made once per test process. Databases that earlier test
/// processes left behind are dropped here, so a crashed run leaves nothing for long.
async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let admin = admin_url();
            let mut conn = PgConnection::connect(&admin)
                .await
                .expect("Postgres is running (see README)");
            // One process at a time builds the template and sweeps stale databases.
            sqlx::query("SELECT pg_advisory_lock(72067)")
                .execute(&mut conn)
                .await
                .unwrap();
            let stale: Vec<String> =
                sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'ogt\\_%'")
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            for db in stale {
                let pid: Option<u32> = db.split('_').nth(1).and_then(|p| p.parse().ok());
                if pid.is_some_and(|p| !std::path::Path::new(&format!("/proc/{p}")).exists()) {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            }
            let name = format!("ogt_template_{}", migrations_hash());
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                    .bind(&name)
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
            if !exists {
                let building = format!("{name}_building");
                let _ = sqlx::query(&format!(
                    "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
                ))
                .execute(&mut conn)
                .await;
                sqlx::query(&format!("CREATE DATABASE \"{building}\""))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let pool = PgPool::connect(&with_db(&admin, &building)).await.unwrap();
                ownergraph::db::migrate(&pool).await.unwrap();
                pool.close().await;
                sqlx::query(&format!(
                    "ALTER DATABASE \"{building}\" RENAME TO \"{name}\""
                ))
                .execute(&mut conn)
                .await
                .unwrap();
            }
            sqlx::query("SELECT pg_advisory_unlock(72067)")
                .execute(&mut conn)
                .await
                .unwrap();
            name
        })
        .await
}

fn migrations_hash() -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        std::fs::read(&f).unwrap().hash(&mut h);
    }
    format!("{:x}", h.finish())
}

/// A database of this test's own, dropped with this value.
pub struct TestDb {
    name: String,
    /// Where to connect to it.
    pub url: String,
}

impl TestDb {
    /// A fresh, empty, migrated database.
    pub async fn create() -> TestDb {
        let template = template().await;
        let name = format!(
            "ogt_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let admin = admin_url();
        let mut conn = PgConnection::connect(&admin).await.unwrap();
        sqlx::query(&format!(
            "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
        ))
        .execute(&mut conn)
        .await
        .unwrap();
        TestDb {
            url: with_db(&admin, &name),
            name,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin = admin_url();
        // Drop may run inside the test's runtime; a helper thread with its own runtime does
        // the async cleanup without blocking it.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut c) = PgConnection::connect(&admin).await {
                    let _ =
                        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                            .execute(&mut c)
                            .await;
                }
            });
        })
        .join();
    }
}
