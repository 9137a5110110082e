//! `ownergraph serve` as a child process, run as an operator runs it: on a port the system
//! picks, spoken to over TCP, signalled, waited for. Its stderr, JSON log lines, is collected
//! as it comes.

use std::io::BufRead;
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use rustix::process::Signal;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long start-up and log lines are waited for before a test fails.
const PATIENCE: Duration = Duration::from_secs(60);

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
    /// Reads stderr until the process closes it.
    reader: Option<JoinHandle<()>>,
}

/// An HTTP answer.
pub struct Answer {
    pub status: u16,
    headers: Vec<(String, String)>,
    /// The body as JSON, or as a JSON string when it is not JSON.
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Server {
    /// Starts `ownergraph serve` on the database at `database_url` with `args` added, and
    /// returns once `/readyz` answers 200. Request starts are logged too (`tower_http` at
    /// debug), so that a test can see when the service has a request in hand.
    pub async fn start(database_url: &str, args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ownergraph"))
            .args(["--database-url", database_url, "serve"])
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info,sqlx=warn,tower_http=debug")
            .env("OWNERGRAPH_BOOTSTRAP_KEY", key())
            .env_remove("OWNERGRAPH_LOG_FORMAT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the ownergraph binary starts");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr is piped");
        let sink = logs.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            logs,
            reader: Some(reader),
        };
        let listening = server
            .wait_for_log(|l| l["message"] == "listening; loading the graph")
            .await;
        server.addr = listening["addr"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {listening}"));
        let started = Instant::now();
        while server.request("GET", "/readyz", None).await.status != 200 {
            assert!(
                started.elapsed() < PATIENCE,
                "not ready: {:?}",
                server.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    /// Every line written to stderr so far, each parsed as JSON (a line that is not JSON
    /// fails the test).
    pub fn logs(&self) -> Vec<Value> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    /// Waits for a log line that `matches`, and returns it.
    pub async fn wait_for_log(&self, matches: impl Fn(&Value) -> bool) -> Value {
        poll(
            PATIENCE,
            || self.logs().into_iter().find(|l| matches(l)),
            || format!("no such log line in {:?}", self.logs()),
        )
        .await
    }

    /// A new connection to the service.
    pub async fn connect(&self) -> std::io::Result<TcpStream> {
        TcpStream::connect(self.addr).await
    }

    /// One request on a new connection, with the tests' admin key.
    pub async fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        let body = body.map(Value::to_string).unwrap_or_default();
        let raw = self
            .send(method, path, body.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        parse_answer(&raw)
    }

    /// The same, as the raw answer or the error the connection met.
    pub async fn send(&self, method: &str, path: &str, body: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut conn = self.connect().await?;
        conn.write_all(head(method, path, body.len(), &[]).as_bytes())
            .await?;
        conn.write_all(body).await?;
        let mut raw = Vec::new();
        conn.read_to_end(&mut raw).await?;
        Ok(raw)
    }

    /// Sends SIGTERM, as a process supervisor does to stop the service.
    pub fn terminate(&self) {
        self.signal(Signal::TERM);
    }

    /// Sends a signal: SIGSTOP and SIGCONT pause and resume the service as a long stall would.
    pub fn signal(&self, signal: Signal) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).expect("a process id");
        rustix::process::kill_process(pid, signal).expect("the signal is sent");
    }

    /// Waits for the process to exit, for at most `limit`, and for the last of its logs.
    pub async fn exited(&mut self, limit: Duration) -> ExitStatus {
        let child = &mut self.child;
        let logs = &self.logs;
        let status = poll(
            limit,
            || child.try_wait().unwrap(),
            || format!("still running after {limit:?}: {:?}", logs.lock().unwrap()),
        )
        .await;
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        status
    }
}

/// Checks every 20 ms until `check` gives a value, for at most `limit`; then fails with what
/// `failure` says.
async fn poll<T>(
    limit: Duration,
    mut check: impl FnMut() -> Option<T>,
    failure: impl Fn() -> String,
) -> T {
    let started = Instant::now();
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(started.elapsed() < limit, "{}", failure());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Drop for Server {
    /// A test that failed half-way leaves no service running. The kill is SIGKILL: no
    /// shutdown, as in a crash.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The admin key every service these tests start is given (`OWNERGRAPH_BOOTSTRAP_KEY`), and
/// every request sends: one per test process.
pub fn key() -> &'static str {
    static KEY: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| ownergraph::domain::NewKey::generate().text);
    &KEY
}

/// The head of a request with a JSON body of `len` bytes, asking the service to close the
/// connection after answering, with `extra` headers.
pub fn head(method: &str, path: &str, len: usize, extra: &[(&str, &str)]) -> String {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\
         authorization: Bearer {key}\r\n\
         content-type: application/json\r\ncontent-length: {len}\r\n",
        key = key()
    );
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// Reads an answer to the end of the connection.
pub async fn read_answer(conn: &mut TcpStream) -> Answer {
    let mut raw = Vec::new();
    if let Err(e) = conn.read_to_end(&mut raw).await {
        panic!(
            "reading an answer: {e} after {:?}",
            String::from_utf8_lossy(&raw)
        );
    }
    parse_answer(&raw)
}

/// An answer read to the end of its connection.
pub fn parse_answer(raw: &[u8]) -> Answer {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no answer head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let bytes = &raw[split + 4..];
    let body = serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()));
    Answer {
        status,
        headers,
        body,
    }
}
