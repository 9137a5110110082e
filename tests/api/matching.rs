//! Name screening: `POST /v1/match`, the `name_match` rule, and signup candidates resolved by
//! name, over the real OFAC list.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::harness::{TestApp, ofac_50, reason};
use ownergraph::formats::{Files, Format};
use ownergraph::import::{self, ListImport};
use ownergraph::testdata::shared_path;

/// Imports the full 2021 OFAC SDN snapshot as the list `sdn` (as the CLI does).
async fn sdn(app: &TestApp) {
    let files =
        Files::read_path(Format::OfacCsv, &shared_path("sanctions/ofac/full_2021")).unwrap();
    let req = ListImport {
        list: "sdn".parse().unwrap(),
        name: None,
        kind: ownergraph::domain::ListKind::Sanctions,
        format: Format::OfacCsv,
        files,
    };
    import::import_list(&app.state.db, "tester", req)
        .await
        .unwrap();
    // The import went to the store only: the service learns of it from the change log.
    app.state.catch_up().await.unwrap();
}

async fn matches(app: &TestApp, body: Value) -> Vec<Value> {
    let (s, b) = app.post("/v1/match", body).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["candidates"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_misspelt_name_finds_its_entry_with_an_explanation() {
    let app = TestApp::new().await;
    sdn(&app).await;
    let found = matches(
        &app,
        json!({"name": "Aerocaribean Airlines", "kind": "company"}),
    )
    .await;
    let top = &found[0];
    assert_eq!(top["list"], "sdn");
    assert_eq!(top["entry"], "36", "{found:?}");
    assert_eq!(top["name"], "AEROCARIBBEAN AIRLINES");
    let score = top["score"].as_f64().unwrap();
    assert!(
        (ownergraph::matching::REVIEW_THRESHOLD..1.0).contains(&score),
        "{top}"
    );
    assert!(!top["explanation"]["tokens"].as_array().unwrap().is_empty());
    assert!(
        top["explanation"]["summary"]
            .as_str()
            .unwrap()
            .contains("name")
    );

    // Best first, all at or above the threshold, at most `limit`.
    let found = matches(&app, json!({"name": "Bank", "threshold": 0.5, "limit": 3})).await;
    assert!(found.len() <= 3);
    let scores: Vec<f64> = found.iter().map(|c| c["score"].as_f64().unwrap()).collect();
    assert!(scores.iter().all(|s| *s >= 0.5), "{scores:?}");
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");

    // An alias matches too, and says which name it was.
    let found = matches(&app, json!({"name": "National Bank of Cuba"})).await;
    assert_eq!(found[0]["entry"], "306");
    assert_eq!(found[0]["name"], "NATIONAL BANK OF CUBA");

    // A name that is on no list finds nothing at the default threshold.
    assert!(
        matches(&app, json!({"name": "Zyqvorth Plumbing Supplies"}))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn match_requests_are_checked() {
    let app = TestApp::new().await;
    sdn(&app).await;
    for (body, field) in [
        (json!({"name": "x", "threshold": 1.5}), "threshold"),
        (json!({"name": "x", "limit": 0}), "limit"),
        (json!({"name": "x", "lists": ["nope"]}), "lists[0]"),
        (json!({"name": "x", "colour": "red"}), "colour"),
        (json!({"name": ""}), "name"),
    ] {
        let (s, b) = app.post("/v1/match", body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {b}");
        assert!(
            b["error"]["field"]
                .as_str()
                .unwrap_or_default()
                .contains(field),
            "{body}: {b}"
        );
    }
    // A list filter keeps other lists out.
    let (s, _) = app
        .post("/v1/lists", json!({"id": "empty", "name": "Empty"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let found = matches(
        &app,
        json!({"name": "Aerocaribbean Airlines", "lists": ["empty"]}),
    )
    .await;
    assert!(found.is_empty(), "{found:?}");
}

fn name_rule() -> Value {
    json!({"id": "sdn-names", "kind": "name_match", "lists": ["sdn"]})
}

#[tokio::test]
async fn the_name_match_rule_reviews_a_similar_name_and_blocks_a_confirmed_one() {
    let app = TestApp::new().await;
    sdn(&app).await;
    app.policy(json!([ofac_50(), name_rule()])).await;
    let (s, b) = app
        .post(
            "/v1/entities",
            json!({"id": "bnc", "name": "Banco Nacional de Cuba S.A.", "jurisdiction": "CU"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let screening = app.screen("bnc").await;
    assert_eq!(screening["decision"], "review", "{screening}");
    let r = reason(&screening, "sdn-names").unwrap();
    assert_eq!(r["basis"], "name_match");
    assert_eq!(r["kind"], "name_match");
    assert_eq!(r["candidates"][0]["entry"], "306", "{r}");

    // A vessel whose IMO number is on the list: the identifier confirms the name.
    let (s, b) = app
        .post(
            "/v1/entities",
            json!({"id": "artavil", "kind": "other", "name": "Artavil", "identifiers": {"imo": "9187629"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let screening = app.screen("artavil").await;
    assert_eq!(screening["decision"], "block", "{screening}");
    let r = reason(&screening, "sdn-names").unwrap();
    assert_eq!(r["basis"], "listed");
    assert_eq!(r["listings"][0]["entry"], "15036", "{r}");

    // Without a name_match rule, neither is flagged by name.
    app.policy(json!([ofac_50()])).await;
    assert_eq!(app.screen("bnc").await["decision"], "clear");
}

#[tokio::test]
async fn an_entry_whose_registration_number_names_an_entity_designates_it() {
    let app = TestApp::new().await;
    app.policy(json!([ofac_50()])).await;
    // Bank Saderat PLC (OFAC entry 4642) states UK registration number 01126618.
    for (id, body) in [
        (
            "saderat",
            json!({"id": "saderat", "name": "Bank Saderat PLC", "jurisdiction": "GB",
                           "identifiers": {"registration_number": "01126618"}}),
        ),
        (
            "sub",
            json!({"id": "sub", "name": "Saderat Trading Ltd", "jurisdiction": "GB"}),
        ),
    ] {
        let (s, b) = app.post("/v1/entities", body).await;
        assert_eq!(s, StatusCode::CREATED, "{id}: {b}");
    }
    app.owns("saderat", "sub", 60.0).await;
    sdn(&app).await;
    let (_, entry) = app.get("/v1/lists/sdn/entries/4642").await;
    assert_eq!(entry["entity"], "saderat", "{entry}");
    // The listing reaches the subsidiary through the graph.
    let screening = app.screen("sub").await;
    assert_eq!(screening["decision"], "block", "{screening}");
    assert_eq!(reason(&screening, "ofac-50").unwrap()["basis"], "owned");
}

#[tokio::test]
async fn a_candidate_without_identifiers_is_matched_against_known_entities() {
    let app = TestApp::new().await;
    app.policy(json!([ofac_50()])).await;
    for body in [
        json!({"id": "zenith", "name": "Zenith Robotics GmbH", "jurisdiction": "DE"}),
        json!({"id": "x-parent", "name": "Parent Holdings", "jurisdiction": "DE"}),
    ] {
        let (s, b) = app.post("/v1/entities", body).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    app.owns("x-parent", "zenith", 100.0).await;
    app.list("x-parent").await;

    // A strong, unique match with the same country: screened as that entity, and it says so.
    let (s, b) = app
        .post(
            "/v1/screenings",
            json!({"candidate": {"name": "Zenith Robotics GmbH", "jurisdiction": "DE"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["resolved_entity"], "zenith", "{b}");
    assert_eq!(b["resolved_by"], "name");
    assert_eq!(b["possible_matches"][0]["entity"], "zenith");
    assert_eq!(b["decision"], "block", "owned by a listed parent: {b}");

    // The same name from another country is only a possible match.
    let (_, b) = app
        .post(
            "/v1/screenings",
            json!({"candidate": {"name": "Zenith Robotics GmbH", "jurisdiction": "FR"}}),
        )
        .await;
    assert_eq!(b["resolved_entity"], Value::Null, "{b}");
    assert_eq!(b["decision"], "clear");

    // Two entities with the same name: no unique match, so no resolution.
    let (s, _) = app
        .post(
            "/v1/entities",
            json!({"id": "zenith-2", "name": "Zenith Robotics GmbH", "jurisdiction": "DE"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, b) = app
        .post(
            "/v1/screenings",
            json!({"candidate": {"name": "Zenith Robotics GmbH", "jurisdiction": "DE"}}),
        )
        .await;
    assert_eq!(b["resolved_entity"], Value::Null, "{b}");
    assert_eq!(b["possible_matches"].as_array().unwrap().len(), 2, "{b}");
}

#[tokio::test]
async fn entities_written_while_the_entity_index_builds_are_found() {
    // Right after start-up the entity name index may still be building: what is written
    // meanwhile is replayed onto it before it is used.
    let app = TestApp::new().await;
    let (s, b) = app
        .post(
            "/v1/entities",
            json!({"id": "quillon", "name": "Quillon Aerospace Systems BV", "jurisdiction": "NL"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = app
        .post(
            "/v1/screenings",
            json!({"candidate": {"name": "Quillon Aerospace Systems B.V.", "jurisdiction": "NL"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["resolved_entity"], "quillon", "{b}");
}
