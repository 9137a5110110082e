//! A real Postgres database per test, cloned from a migrated template, and the real router
//! driven in-process.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use ownergraph::app::AppState;
use ownergraph::domain::{KeyName, NewKey, Role};

use crate::database::TestDb;

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    /// An admin key named `tester`, which every helper sends.
    pub key: String,
    /// Keys made by [`TestApp::key_named`], by name.
    named: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// The database, when this app made it; dropped with the app.
    _db: Option<TestDb>,
}

impl TestApp {
    /// A fresh, empty, migrated database and a started service on it.
    pub async fn new() -> TestApp {
        Self::build(false).await
    }

    /// The same, with `seed-data/` loaded first, as `ownergraph serve` does on an empty store.
    pub async fn seeded() -> TestApp {
        Self::build(true).await
    }

    async fn build(seed: bool) -> TestApp {
        let (db, pool) = Self::database().await;
        if seed {
            ownergraph::seed::load(&pool, &ownergraph::seed::default_dir())
                .await
                .unwrap();
        }
        let key = store_key(&pool, "tester", Role::Admin).await;
        let state = AppState::start(pool).await.unwrap();
        TestApp {
            router: ownergraph::http::router(state.clone()),
            state,
            key,
            named: Default::default(),
            _db: Some(db),
        }
    }

    /// A fresh, empty, migrated database and a started service on it with `limits`.
    pub async fn limited(limits: ownergraph::http::limits::Limits) -> TestApp {
        let mut app = Self::build(false).await;
        app.state = app.state.with_limits(limits);
        app.router = ownergraph::http::router(app.state.clone());
        app
    }

    /// A fresh database and a service on it that has not loaded the graph: it answers as
    /// one that is starting up, and runs no background task (no job runner).
    pub async fn unloaded() -> TestApp {
        let (db, pool) = Self::database().await;
        let key = store_key(&pool, "tester", Role::Admin).await;
        let state = AppState::new(pool);
        // Keys are read before the graph, so that metrics answer while it loads.
        state.refresh_keys().await.unwrap();
        TestApp {
            router: ownergraph::http::router(state.clone()),
            state,
            key,
            named: Default::default(),
            _db: Some(db),
        }
    }

    async fn database() -> (TestDb, sqlx::PgPool) {
        let db = TestDb::create().await;
        let pool = ownergraph::db::connect(&db.url, 8).await.unwrap();
        (db, pool)
    }

    /// The router of a service started by the test itself (on another connection, say),
    /// with the helpers and this app's key; the database belongs to this app.
    pub fn on(&self, state: AppState) -> TestApp {
        TestApp {
            router: ownergraph::http::router(state.clone()),
            state,
            key: self.key.clone(),
            named: Default::default(),
            _db: None,
        }
    }

    /// A new key named `name` with `role`, known to the service at once.
    pub async fn new_key(&self, name: &str, role: Role) -> String {
        let key = store_key(&self.state.db, name, role).await;
        self.state.refresh_keys().await.unwrap();
        key
    }

    /// The key named `name`, made with `role` the first time it is asked for.
    pub async fn key_named(&self, name: &str, role: Role) -> String {
        if let Some(k) = self.named.lock().unwrap().get(name) {
            return k.clone();
        }
        let key = self.new_key(name, role).await;
        self.named
            .lock()
            .unwrap()
            .insert(name.to_owned(), key.clone());
        key
    }

    /// The `Authorization` header of this app's key.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.key)
    }

    /// Screens `entity` on a second service started on the same database, as after a
    /// restart: what it answers comes from the store alone.
    pub async fn screen_after_restart(&self, entity: &str) -> Value {
        let state = AppState::start(self.state.db.clone()).await.unwrap();
        let req = Request::builder()
            .method("POST")
            .uri("/v1/screenings")
            .header("content-type", "application/json")
            .header("authorization", self.bearer())
            .body(Body::from(json!({"entity": entity}).to_string()))
            .unwrap();
        let resp = ownergraph::http::router(state).oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call_with(&self.key, method, path, body).await
    }

    /// A request with another key.
    pub async fn call_with(
        &self,
        key: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {key}"));
        let req = match body {
            Some(b) => req.body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        self.raw(req).await
    }

    pub async fn raw(&self, req: Request<Body>) -> (StatusCode, Value) {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, value)
    }

    /// POSTs a file as the raw body (an import).
    pub async fn upload(&self, uri: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
        let req = Request::builder()
            .method("POST")
            .uri(uri)
            .header("content-type", "application/octet-stream")
            .header("authorization", self.bearer())
            .body(Body::from(bytes))
            .unwrap();
        self.raw(req).await
    }

    /// POSTs named files as `multipart/form-data`.
    pub async fn upload_parts(&self, uri: &str, parts: &[(&str, Vec<u8>)]) -> (StatusCode, Value) {
        let boundary = "ownergraph-test-boundary-7c1f";
        let mut body = Vec::new();
        for (name, bytes) in parts {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let req = Request::builder()
            .method("POST")
            .uri(uri)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header("authorization", self.bearer())
            .body(Body::from(body))
            .unwrap();
        self.raw(req).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call("GET", path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call("POST", path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call("PUT", path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call("PATCH", path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call("DELETE", path, None).await
    }

    /// Creates entities by id (companies unless the id starts with `p-`), asserting success.
    pub async fn entities(&self, ids: &[&str]) {
        for id in ids {
            let kind = if id.starts_with("p-") {
                "person"
            } else {
                "company"
            };
            let (s, b) = self
                .post(
                    "/v1/entities",
                    json!({"id": id, "kind": kind, "name": format!("{id} name")}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
        }
    }

    /// Creates a `shares` ownership, asserting success.
    pub async fn owns(&self, owner: &str, owned: &str, share: f64) {
        let (s, b) = self
            .post(
                "/v1/ownerships",
                json!({"owner": owner, "owned": owned, "share": share}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }

    /// Every item of a paged listing (`path` holds its query), following `next_cursor`.
    pub async fn all_pages(&self, path: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page_path = match &cursor {
                Some(c) => format!("{path}&cursor={c}"),
                None => path.to_owned(),
            };
            let (s, page) = self.get(&page_path).await;
            assert_eq!(s, StatusCode::OK, "{page}");
            out.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return out,
            }
        }
    }

    /// Creates the list `sdn` if needed and lists the entity on it.
    pub async fn list(&self, entity: &str) {
        let _ = self
            .post(
                "/v1/lists",
                json!({"id": "sdn", "name": "OFAC SDN", "kind": "sanctions"}),
            )
            .await;
        let (s, b) = self
            .post(
                "/v1/lists/sdn/entries",
                json!({"id": format!("entry-{entity}"), "name": entity, "entity": entity}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }

    pub async fn policy(&self, rules: Value) -> Value {
        let (s, b) = self.put("/v1/policy", json!({"rules": rules})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        b
    }

    /// Screens an entity today, asserting success.
    pub async fn screen(&self, entity: &str) -> Value {
        let (s, b) = self.post("/v1/screenings", json!({"entity": entity})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        b
    }
}

/// A rule of the contract's example policy, by position, as JSON to adjust.
fn example_rule(i: usize) -> Value {
    let policy: Value = serde_json::from_str(ownergraph::domain::CONTRACT_EXAMPLE).unwrap();
    policy["rules"][i].clone()
}

/// The contract's `ofac-50` rule.
pub fn ofac_50() -> Value {
    example_rule(0)
}

/// The contract's `unsupported-regions` rule.
pub fn unsupported_regions() -> Value {
    example_rule(1)
}

/// The first reason of a screening for a rule.
pub fn reason<'a>(screening: &'a Value, rule: &str) -> Option<&'a Value> {
    screening["reasons"]
        .as_array()?
        .iter()
        .find(|r| r["rule"] == rule)
}

/// Stores a new key named `name` with `role` and returns its text.
pub async fn store_key(db: &sqlx::PgPool, name: &str, role: Role) -> String {
    let key = NewKey::generate();
    let name = KeyName::try_from(name.to_owned()).unwrap();
    ownergraph::db::keys::create(db, &name, role, None, &key, "test")
        .await
        .unwrap();
    key.text
}
