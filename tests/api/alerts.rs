use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestApp, ofac_50};
use ownergraph::domain::Role;

/// x* → a 50 → b 50; x → e 30 (review band).
async fn flagged() -> TestApp {
    let app = TestApp::new().await;
    app.entities(&["x", "a", "b", "e", "z"]).await;
    app.list("x").await;
    app.owns("x", "a", 50.0).await;
    app.owns("a", "b", 50.0).await;
    app.owns("x", "e", 30.0).await;
    app.policy(json!([ofac_50()])).await;
    app
}

async fn alerts(app: &TestApp, query: &str) -> Vec<Value> {
    let (s, page) = app.get(&format!("/v1/alerts?{query}")).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    page["items"].as_array().unwrap().clone()
}

async fn alert_of(app: &TestApp, entity: &str) -> Value {
    let found = alerts(app, &format!("entity={entity}")).await;
    assert_eq!(found.len(), 1, "one alert per entity and rule: {found:?}");
    let (s, alert) = app
        .get(&format!("/v1/alerts/{}", found[0]["id"].as_str().unwrap()))
        .await;
    assert_eq!(s, StatusCode::OK);
    alert
}

/// Decides an alert as an analyst whose key is named `actor`.
async fn decide(app: &TestApp, id: &str, actor: &str, body: Value) -> (StatusCode, Value) {
    let key = app.key_named(actor, Role::Analyst).await;
    let req = Request::builder()
        .method("POST")
        .uri(format!("/v1/alerts/{id}/decisions"))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {key}"))
        .body(Body::from(body.to_string()))
        .unwrap();
    app.raw(req).await
}

async fn rescreen_all(app: &TestApp) -> Value {
    let (s, job) = app.post("/v1/jobs/rescreen", json!({"scope": "all"})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let id = job["id"].as_str().unwrap().to_owned();
    for _ in 0..600 {
        let (_, job) = app.get(&format!("/v1/jobs/{id}")).await;
        if job["status"] == "succeeded" {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("job {id} never succeeded");
}

/// A flag opens one alert with its evidence and versions; the same evidence from another
/// screening or a job counts as seen again, and never alerts again once decided.
#[tokio::test]
async fn the_same_evidence_alerts_once() {
    let app = flagged().await;
    let screening = app.screen("b").await;
    let alert = alert_of(&app, "b").await;
    assert_eq!(alert["rule"], "ofac-50");
    assert_eq!(alert["status"], "open");
    assert_eq!(alert["severity"], "block");
    assert_eq!(alert["evidence"], screening["reasons"][0]);
    assert_eq!(alert["graph_version"], screening["graph_version"]);
    assert_eq!(alert["policy_version"], screening["policy_version"]);
    assert_eq!(
        (alert["origin"].as_str(), alert["origin_id"].as_str()),
        (Some("screening"), screening["id"].as_str())
    );
    assert_eq!(alert["fingerprint"].as_str().unwrap().len(), 64);

    app.screen("b").await;
    rescreen_all(&app).await;
    let alert = alert_of(&app, "b").await;
    assert_eq!(
        alert["seen"], 3,
        "two screenings and a job, one alert: {alert}"
    );
    let everything = alerts(&app, "").await;
    let mut subjects: Vec<&str> = everything
        .iter()
        .map(|a| a["entity"].as_str().unwrap())
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        ["a", "b", "e", "x"],
        "the job flagged x, a, b (block) and e (review)"
    );
    assert_eq!(alerts(&app, "decision=review").await[0]["entity"], "e");

    let id = alert["id"].as_str().unwrap();
    let (s, decided) = decide(
        &app,
        id,
        "alice",
        json!({"decision": "confirmed", "note": "known front"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{decided}");
    assert_eq!(
        (decided["status"].as_str(), decided["resolution"].as_str()),
        (Some("closed"), Some("confirmed"))
    );
    app.screen("b").await;
    rescreen_all(&app).await;
    let alert = alert_of(&app, "b").await;
    assert_eq!(
        alert["status"], "closed",
        "decided evidence does not alert again: {alert}"
    );
    let (s, again) = decide(&app, id, "bob", json!({"decision": "escalated"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{again}");
}

/// Different evidence reopens a decided alert, keeping what was decided on and what changed.
#[tokio::test]
async fn changed_evidence_reopens_the_alert_and_shows_what_changed() {
    let app = flagged().await;
    app.screen("b").await;
    let id = alert_of(&app, "b").await["id"].as_str().unwrap().to_owned();
    let (s, _) = decide(&app, &id, "alice", json!({"decision": "confirmed"})).await;
    assert_eq!(s, StatusCode::OK);

    app.list("z").await;
    app.owns("z", "b", 20.0).await;
    app.screen("b").await;
    let alert = alert_of(&app, "b").await;
    assert_eq!(alert["status"], "open", "{alert}");
    assert_eq!(alert["resolution"], Value::Null);
    assert_eq!(alert["previous_evidence"]["share"], 50.0);
    assert_eq!(alert["evidence"]["share"], 70.0);
    assert_eq!(alert["changes"]["share"], json!([50.0, 70.0]));
    assert_eq!(alert["changes"]["sources_added"], json!(["z"]));
    assert_eq!(alert["changes"]["paths_changed"], true);
    assert_eq!(
        alert["decisions"][0]["decision"], "confirmed",
        "the history stays"
    );
}

/// A block closes as a false positive only when two different reviewers say so; a review
/// alert takes one; a false positive needs a note.
#[tokio::test]
async fn a_blocked_false_positive_needs_four_eyes() {
    let app = flagged().await;
    app.screen("b").await;
    app.screen("e").await;
    let block = alert_of(&app, "b").await["id"].as_str().unwrap().to_owned();
    let review = alert_of(&app, "e").await["id"].as_str().unwrap().to_owned();

    let (s, b) = decide(&app, &block, "alice", json!({"decision": "false_positive"})).await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("note"))
    );
    let fp = json!({"decision": "false_positive", "note": "the 50% link was sold in 2023"});
    let (s, first) = decide(&app, &block, "alice", fp.clone()).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    assert_eq!(first["status"], "awaiting_second_review");
    let (s, same) = decide(&app, &block, "alice", fp.clone()).await;
    assert_eq!(s, StatusCode::CONFLICT, "{same}");
    assert_eq!(same["error"]["code"], "four_eyes");
    let (s, second) = decide(&app, &block, "bob", fp.clone()).await;
    assert_eq!(s, StatusCode::OK, "{second}");
    assert_eq!(
        (second["status"].as_str(), second["resolution"].as_str()),
        (Some("closed"), Some("false_positive"))
    );
    let actors: Vec<&str> = second["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["actor"].as_str().unwrap())
        .collect();
    assert_eq!(actors, ["alice", "bob"]);

    let (s, one) = decide(&app, &review, "alice", fp).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        one["status"], "closed",
        "a review alert takes one reviewer: {one}"
    );
    assert_eq!(
        alerts(&app, "status=closed&decision=false_positive")
            .await
            .len(),
        2
    );

    let (_, audit) = app.get("/v1/audit?action=alert.decide").await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 3, "{audit}");
    let (s, _) = app.get("/v1/alerts/no-such-alert").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// Flags of one batch about one entity and rule open one alert, seen as often as flagged.
#[tokio::test]
async fn a_batch_with_repeated_flags_opens_one_alert() {
    use ownergraph::db::alerts::{Flag, Raised, raise};
    let app = flagged().await;
    let screening = app.screen("a").await;
    let reason: ownergraph::domain::Reason =
        serde_json::from_value(screening["reasons"][0].clone()).unwrap();
    let mut other = reason.clone();
    other.share = Some(75.0);
    let flag = |r| Flag {
        entity: "b",
        reason: r,
        graph_version: 1,
        policy_version: 1,
        as_of: ownergraph::domain::today(),
        origin: "job",
        origin_id: "batch",
    };
    let mut tx = app.state.db.begin().await.unwrap();
    let raised = raise(&mut tx, &[flag(&reason), flag(&reason)])
        .await
        .unwrap();
    assert_eq!(
        raised,
        Raised {
            opened: 1,
            ..Raised::default()
        }
    );
    let raised = raise(&mut tx, &[flag(&other), flag(&reason)])
        .await
        .unwrap();
    assert_eq!(
        raised,
        Raised {
            unchanged: 1,
            ..Raised::default()
        },
        "the last word counts"
    );
    let raised = raise(&mut tx, &[flag(&reason), flag(&other), flag(&other)])
        .await
        .unwrap();
    assert_eq!(
        raised,
        Raised {
            updated: 1,
            ..Raised::default()
        }
    );
    tx.commit().await.unwrap();
    let alert = alert_of(&app, "b").await;
    assert_eq!(alert["seen"], 2, "{alert}");
    assert_eq!(alert["evidence"]["share"], 75.0);
}
