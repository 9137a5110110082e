//! Access: every endpoint but the probes needs a valid key, each role reaches only what it is
//! for, a refused request changes nothing, and a revoked key stops working on its own.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestApp, ofac_50};
use ownergraph::domain::Role;

/// A request with the `authorization` header given, or none.
async fn call(
    app: &TestApp,
    auth: Option<&str>,
    method: &str,
    path: &str,
) -> (StatusCode, Value, Option<String>) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let res = tower::ServiceExt::oneshot(app.router.clone(), req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let challenge = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, body, challenge)
}

#[tokio::test]
async fn only_the_probes_answer_without_a_valid_key() {
    let app = TestApp::seeded().await;
    for path in ["/healthz", "/readyz"] {
        assert_eq!(
            call(&app, None, "GET", path).await.0,
            StatusCode::OK,
            "{path}"
        );
    }
    let other = ownergraph::domain::NewKey::generate().text;
    let truncated = &app.key[..app.key.len() - 1];
    for path in [
        "/openapi.json",
        "/metrics",
        "/v1/entities",
        "/v1/policy",
        "/v1/audit",
        "/v1/no-such-route",
    ] {
        for auth in [
            None,
            Some(String::new()),
            Some(app.key.clone()),
            Some(format!("Basic {}", app.key)),
            Some(format!("Bearer {other}")),
            Some(format!("Bearer {truncated}")),
            Some("Bearer ' OR 1=1 --".into()),
        ] {
            let (s, body, challenge) = call(&app, auth.as_deref(), "GET", path).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{path} {auth:?}");
            assert_eq!(body["error"]["code"], "unauthorized", "{body}");
            assert_eq!(challenge.as_deref(), Some("Bearer"));
        }
        let (s, _, _) = call(&app, Some(&app.bearer()), "GET", path).await;
        let want = if path == "/v1/no-such-route" {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::OK
        };
        assert_eq!(s, want, "{path}");
    }
}

#[tokio::test]
async fn each_role_reaches_what_it_is_for_and_a_refusal_changes_nothing() {
    let app = TestApp::new().await;
    app.entities(&["hold", "sub"]).await;
    app.owns("hold", "sub", 60.0).await;
    app.policy(json!([ofac_50()])).await;
    let screener = app.new_key("signup", Role::Screener).await;
    let analyst = app.new_key("desk", Role::Analyst).await;
    let operator = app.new_key("etl", Role::Operator).await;

    let entity = json!({"id": "new-co", "kind": "company", "name": "New Co"});
    let policy = json!({"rules": [ofac_50()]});
    let screening = json!({"entity": "sub"});
    let name = json!({"name": "hold name"});
    let decision = json!({"decision": "confirmed"});
    // (key, method, path, body, allowed)
    let cases = [
        (&screener, "POST", "/v1/screenings", &screening, true),
        (&screener, "POST", "/v1/match", &name, true),
        (&screener, "GET", "/v1/entities/sub", &Value::Null, false),
        (&screener, "POST", "/v1/entities", &entity, false),
        (&screener, "PUT", "/v1/policy", &policy, false),
        (
            &analyst,
            "GET",
            "/v1/entities/sub/owners",
            &Value::Null,
            true,
        ),
        (&analyst, "GET", "/v1/audit", &Value::Null, true),
        (
            &analyst,
            "POST",
            "/v1/alerts/no-such-alert/decisions",
            &decision,
            true,
        ),
        (&analyst, "POST", "/v1/screenings", &screening, false),
        (&analyst, "POST", "/v1/entities", &entity, false),
        (&analyst, "PUT", "/v1/policy", &policy, false),
        (&operator, "GET", "/v1/entities/sub", &Value::Null, true),
        (
            &operator,
            "POST",
            "/v1/alerts/no-such-alert/decisions",
            &decision,
            false,
        ),
        (&operator, "PUT", "/v1/policy", &policy, false),
        (&analyst, "DELETE", "/v1/entities/hold", &Value::Null, false),
        (
            &screener,
            "DELETE",
            "/v1/ownerships/any",
            &Value::Null,
            false,
        ),
    ];
    let head = || async {
        sqlx::query_scalar::<_, i64>("SELECT seq FROM audit_head")
            .fetch_one(&app.state.db)
            .await
            .unwrap()
    };
    let before = head().await;
    for (key, method, path, body, allowed) in cases {
        let body = (!body.is_null()).then(|| body.clone());
        let (s, b) = app.call_with(key, method, path, body).await;
        if allowed {
            assert!(
                s != StatusCode::FORBIDDEN && s != StatusCode::UNAUTHORIZED,
                "{method} {path}: {s} {b}"
            );
        } else {
            assert_eq!(s, StatusCode::FORBIDDEN, "{method} {path}: {b}");
            assert_eq!(b["error"]["code"], "forbidden", "{b}");
        }
    }
    // Only what was allowed is in the trail: the screening, nothing refused.
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE seq > $1 ORDER BY seq")
            .bind(before)
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert_eq!(actions, ["screening"]);
    assert_eq!(
        app.get("/v1/entities/new-co").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get("/v1/entities/hold").await.0, StatusCode::OK);

    // An operator's write is recorded under its key's name.
    let (s, b) = app
        .call_with(&operator, "POST", "/v1/entities", Some(entity))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let created = app
        .get("/v1/audit?action=entity.create&subject=new-co")
        .await
        .1;
    assert_eq!(created["items"][0]["actor"], "etl", "{created}");
}

#[tokio::test]
async fn a_revoked_key_stops_working_without_a_restart() {
    let app = TestApp::new().await;
    let key = app.new_key("temp", Role::Analyst).await;
    assert_eq!(
        app.call_with(&key, "GET", "/v1/entities", None).await.0,
        StatusCode::OK
    );
    // Revoked from outside the service (the CLI, another instance): the store announces it.
    ownergraph::db::keys::revoke(&app.state.db, "temp", "host:ops")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        let (s, _) = app.call_with(&key, "GET", "/v1/entities", None).await;
        if s == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "still {s} after revocation"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // The other keys are untouched.
    assert_eq!(app.get("/v1/entities").await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_openapi_description_names_the_key_every_operation_but_the_probes_needs() {
    let app = TestApp::new().await;
    let (s, api) = app.get("/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        api["components"]["securitySchemes"]["api_key"],
        json!({"type": "http", "scheme": "bearer"})
    );
    let mut secured = 0;
    for (path, item) in api["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let probe = path == "/healthz" || path == "/readyz";
            let needs = op.get("security") == Some(&json!([{"api_key": []}]));
            assert_eq!(needs, !probe, "{method} {path}");
            for code in ["401", "403"] {
                assert_eq!(
                    op["responses"].get(code).is_some(),
                    !probe,
                    "{method} {path} {code}"
                );
            }
            secured += usize::from(needs);
        }
    }
    assert!(secured > 30, "{secured} operations");
}

#[tokio::test]
async fn an_admin_makes_lists_and_revokes_keys_over_http() {
    let app = TestApp::new().await;
    let (s, made) = app
        .post(
            "/v1/keys",
            json!({"name": "signup", "role": "screener", "expires_at": "2999-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    let key = made["key"].as_str().unwrap().to_owned();
    assert_eq!(made["name"], "signup");
    assert_eq!(made["role"], "screener");
    assert_eq!(made["created_by"], "tester");
    assert!(key.starts_with(&format!("og_{}_", made["prefix"].as_str().unwrap())));

    // Usable at once, for what its role allows.
    let (s, b) = app
        .call_with(&key, "POST", "/v1/match", Some(json!({"name": "Acme"})))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        app.call_with(&key, "GET", "/v1/keys", None).await.0,
        StatusCode::FORBIDDEN
    );

    let (s, page) = app.get("/v1/keys").await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["tester", "signup"]);
    assert!(!page.to_string().contains(&key), "{page}");

    // Bad requests make nothing.
    for bad in [
        json!({"name": "signup", "role": "screener"}),
        json!({"name": "x y", "role": "screener"}),
        json!({"name": "z", "role": "root"}),
        json!({"name": "z", "role": "admin", "expires_at": "2001-01-01T00:00:00Z"}),
        json!({"name": "z", "role": "admin", "secret": "mine"}),
    ] {
        let (s, b) = app.post("/v1/keys", bad.clone()).await;
        assert!(s.is_client_error(), "{bad} -> {s} {b}");
    }
    assert_eq!(
        app.get("/v1/keys").await.1["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let (s, revoked) = app.delete("/v1/keys/signup").await;
    assert_eq!(s, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["revoked_by"], "tester");
    let (s, _) = app
        .call_with(&key, "POST", "/v1/match", Some(json!({"name": "Acme"})))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(app.delete("/v1/keys/signup").await.0, StatusCode::CONFLICT);
    assert_eq!(app.delete("/v1/keys/nobody").await.0, StatusCode::NOT_FOUND);
}
