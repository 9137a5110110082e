//! Real `ownergraph serve` processes on a test's database, driven over HTTP.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

/// One `ownergraph serve` process; killed when dropped (SIGKILL: no shutdown, as in a crash).
pub struct Served {
    child: Child,
    pub base: String,
    log: PathBuf,
}

impl Served {
    /// Starts `ownergraph serve --no-seed` on `database_url` and waits until `/readyz`
    /// answers 200.
    pub async fn start(database_url: &str) -> Served {
        // A free port: bind, read it, release it. Another process could take it in between;
        // the start then fails loudly rather than talking to the wrong server.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = tempfile::Builder::new()
            .prefix("ownergraph-serve-")
            .suffix(".log")
            .tempfile()
            .unwrap()
            .into_temp_path()
            .keep()
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_ownergraph"))
            .args([
                "serve",
                "--no-seed",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the ownergraph binary starts");
        let mut served = Served {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        served.wait_ready().await;
        served
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("ownergraph serve exited with {status}:\n{}", self.log());
            }
            if let Ok(r) = client().get(format!("{}/readyz", self.base)).send().await
                && r.status() == StatusCode::OK
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "not ready after 60 s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What the process has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = client()
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    pub async fn send(&self, method: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        let r = client()
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .header("x-actor", "tester")
            .json(body)
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap()
        })
        .clone()
}
