use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::harness::TestApp;

/// A created entity is stored with timestamps and read back unchanged.
#[tokio::test]
async fn create_then_get_returns_the_stored_entity() {
    let app = TestApp::new().await;
    let body = json!({"id": "ant-group", "kind": "company", "name": "Ant Group Co., Ltd.", "aliases": ["蚂蚁集团"],
        "jurisdiction": "CN", "headquarters": "CN-ZJ", "identifiers": {"lei": "506700GE1G29325QX363", "registration_number": "91330100"}});
    let (s, created) = app.post("/v1/entities", body).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(created["aliases"], json!(["蚂蚁集团"]));
    assert_eq!(created["headquarters"], "CN-ZJ");
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));
    let (s, got) = app.get("/v1/entities/ant-group").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got, created);
}

/// Without an id, the server makes one that fits the id grammar.
#[tokio::test]
async fn server_makes_an_id_when_none_is_given() {
    let app = TestApp::new().await;
    let (s, e) = app.post("/v1/entities", json!({"name": "No Id Ltd"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let id = e["id"].as_str().unwrap();
    assert!(ownergraph::domain::check_id(id).is_ok());
    assert_eq!(e["kind"], "company");
}

/// Taken ids and identifiers answer 409 and store nothing new.
#[tokio::test]
async fn duplicate_ids_and_leis_conflict() {
    let app = TestApp::new().await;
    app.post(
        "/v1/entities",
        json!({"id": "a", "name": "A", "identifiers": {"lei": "506700GE1G29325QX363"}}),
    )
    .await;
    let (s, b) = app
        .post("/v1/entities", json!({"id": "a", "name": "A again"}))
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("id_taken"))
    );
    let (s, b) = app
        .post(
            "/v1/entities",
            json!({"id": "b", "name": "B", "identifiers": {"lei": "506700GE1G29325QX363"}}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("identifier_taken"))
    );
    let (_, list) = app.get("/v1/entities").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

/// Each kind of bad input gets its status, code and field, and changes nothing.
#[tokio::test]
async fn bad_input_is_rejected_with_the_field_at_fault() {
    let app = TestApp::new().await;
    let cases = [
        (
            json!({"name": "X", "colour": "red"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("colour"),
        ),
        (
            json!({"name": "X", "jurisdiction": "UK"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("jurisdiction"),
        ),
        (
            json!({"name": "X", "headquarters": "US-ZZ"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("headquarters"),
        ),
        (
            json!({"name": "X", "identifiers": {"lei": "506700GE1G29325QX364"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("identifiers.lei"),
        ),
        (
            json!({"name": "   "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("name"),
        ),
        (
            json!({"name": "X", "kind": "robot"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("kind"),
        ),
        (
            json!({"id": "has space", "name": "X"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("id"),
        ),
        (
            json!({"id": "x".repeat(129), "name": "X"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("id"),
        ),
        (json!({}), StatusCode::UNPROCESSABLE_ENTITY, None),
    ];
    for (body, status, field) in cases {
        let (s, b) = app.post("/v1/entities", body.clone()).await;
        assert_eq!(s, status, "{body} -> {b}");
        assert!(
            b["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        if let Some(f) = field {
            assert_eq!(b["error"]["field"], f, "{body} -> {b}");
        }
    }
    let req = Request::post("/v1/entities")
        .header("authorization", app.bearer())
        .body(Body::from("{\"name\": "))
        .unwrap();
    let (s, b) = app.raw(req).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_request"))
    );
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let (s, b) = app
        .raw(
            Request::post("/v1/entities")
                .header("authorization", app.bearer())
                .body(Body::from(big))
                .unwrap(),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );
    let (_, list) = app.get("/v1/entities").await;
    assert_eq!(list["items"], json!([]));
}

/// PATCH changes what it names, `null` clears, and the change is in the history.
#[tokio::test]
async fn patch_updates_fields_and_records_history() {
    let app = TestApp::new().await;
    app.post(
        "/v1/entities",
        json!({"id": "a", "name": "A", "jurisdiction": "SG", "headquarters": "CN"}),
    )
    .await;
    let (s, e) = app
        .patch(
            "/v1/entities/a",
            json!({"name": "A Renamed", "headquarters": null}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(
        (
            e["name"].as_str(),
            e["jurisdiction"].as_str(),
            e["headquarters"].as_str()
        ),
        (Some("A Renamed"), Some("SG"), None)
    );
    let (s, b) = app.patch("/v1/entities/a", json!({"id": "b"})).await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("id"))
    );
    let (s, _) = app
        .patch("/v1/entities/missing", json!({"name": "Z"}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, h) = app.get("/v1/entities/a/history").await;
    assert_eq!(s, StatusCode::OK);
    let actions: Vec<&str> = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["entity.update", "entity.create"]);
    assert_eq!(h["items"][0]["actor"], "tester");
    assert_eq!(h["items"][0]["before"]["headquarters"], "CN");
    assert_eq!(h["items"][0]["after"]["headquarters"], json!(null));
}

/// DELETE is soft: the entity and its ownerships leave the graph, its history stays.
#[tokio::test]
async fn delete_removes_the_entity_and_its_links_from_the_graph() {
    let app = TestApp::new().await;
    app.entities(&["p", "a", "b"]).await;
    app.owns("p", "a", 100.0).await;
    app.owns("a", "b", 100.0).await;
    let (s, _) = app.delete("/v1/entities/a").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/v1/entities/a").await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.delete("/v1/entities/a").await.0, StatusCode::NOT_FOUND);
    let (_, owners) = app.get("/v1/entities/b/owners").await;
    assert_eq!(owners["items"], json!([]));
    let (_, h) = app.get("/v1/entities/a/history").await;
    assert_eq!(h["items"][0]["action"], "entity.delete");
    // The id stays taken: history must not be mixed with a new entity's.
    assert_eq!(
        app.post("/v1/entities", json!({"id": "a", "name": "New A"}))
            .await
            .0,
        StatusCode::CONFLICT
    );
}

/// Filters match names and aliases, jurisdictions (with subdivisions) and kinds; cursors page.
#[tokio::test]
async fn list_filters_and_pages() {
    let app = TestApp::new().await;
    for (id, name, kind, j) in [
        ("c1", "Acme Holdings", "company", "US-DE"),
        ("c2", "Acme Trading", "company", "GB"),
        ("c3", "Borealis", "company", "US"),
        ("p1", "Jane Acme", "person", "US"),
        ("c4", "Zed", "company", "SG"),
    ] {
        app.post("/v1/entities", json!({"id": id, "name": name, "kind": kind, "jurisdiction": j, "aliases": ["Alias ".to_owned() + id]})).await;
    }
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(&app.get("/v1/entities?q=acme").await.1),
        ["c1", "c2", "p1"]
    );
    assert_eq!(ids(&app.get("/v1/entities?q=alias%20c4").await.1), ["c4"]);
    assert_eq!(
        ids(&app.get("/v1/entities?jurisdiction=US").await.1),
        ["c1", "c3", "p1"]
    );
    assert_eq!(
        ids(&app.get("/v1/entities?q=acme&kind=person").await.1),
        ["p1"]
    );
    assert_eq!(
        ids(&app.get("/v1/entities?q=100%25").await.1),
        Vec::<String>::new()
    );
    let (_, p1) = app.get("/v1/entities?limit=2").await;
    assert_eq!(ids(&p1), ["c1", "c2"]);
    let (_, p2) = app
        .get(&format!(
            "/v1/entities?limit=2&cursor={}",
            p1["next_cursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(ids(&p2), ["c3", "c4"]);
    let (_, p3) = app
        .get(&format!(
            "/v1/entities?limit=2&cursor={}",
            p2["next_cursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        (ids(&p3), p3["next_cursor"].clone()),
        (vec!["p1".to_owned()], json!(null))
    );
    assert_eq!(
        app.get("/v1/entities?limit=0").await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.get("/v1/entities?limit=1001").await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.get("/v1/entities?limit=abc").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get("/v1/entities?jurisdiction=XX").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get("/v1/entities?cursor=!!!").await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

/// Health, readiness, the OpenAPI document and unknown routes.
#[tokio::test]
async fn operations_endpoints_answer() {
    let app = TestApp::new().await;
    assert_eq!(app.get("/healthz").await.0, StatusCode::OK);
    let (s, r) = app.get("/readyz").await;
    assert_eq!((s, r["status"].as_str()), (StatusCode::OK, Some("ready")));
    let (s, spec) = app.get("/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/v1/entities",
        "/v1/entities/{id}",
        "/v1/entities/{id}/owners",
        "/v1/entities/{id}/subsidiaries",
        "/v1/entities/{id}/ubo",
        "/v1/ownerships",
        "/v1/ownerships/{id}",
        "/v1/lists",
        "/v1/lists/{list}/entries",
        "/v1/lists/{list}/entries/{entry}",
        "/v1/policy",
        "/v1/screenings",
        "/v1/screenings/{id}",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(
            spec["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    let (s, b) = app.get("/v1/nothing").await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}

/// What the service answers matches what `/openapi.json` says it answers: the seeded policy
/// (every rule kind, with its defaults filled in), an entity and a screening with reasons.
#[tokio::test]
async fn answers_match_their_schemas_in_the_openapi_document() {
    let app = TestApp::seeded().await;
    let (_, spec) = app.get("/openapi.json").await;
    let check = |schema: &str, value: &Value| {
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": format!("#/components/schemas/{schema}"),
            "components": spec["components"],
        });
        let validator = jsonschema::validator_for(&root).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{schema}: {errors:?}\n{value}");
    };
    let (_, policy) = app.get("/v1/policy").await;
    assert!(policy["rules"].as_array().unwrap().len() >= 3, "{policy}");
    check("Policy", &policy);
    let (_, entity) = app.get("/v1/entities/demo-lumenkraft-ie").await;
    check("Entity", &entity);
    let screening = app.screen("demo-lumenkraft-ie").await;
    assert_eq!(screening["decision"], "block");
    check("Screening", &screening);
    // Two types share a name in the code (a list entry, an audit entry); each keeps its own.
    let (_, lists) = app.get("/v1/lists").await;
    let list = lists["items"][0]["id"].as_str().unwrap().to_owned();
    let (_, entries) = app.get(&format!("/v1/lists/{list}/entries?limit=1")).await;
    check("Entry", &entries["items"][0]);
    let (_, trail) = app.get("/v1/audit?limit=5").await;
    check("AuditPage", &trail);
}
