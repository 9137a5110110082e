use axum::http::StatusCode;
use serde_json::json;

use crate::harness::{TestApp, ofac_50};

/// Concurrent writes all land, in change-log order, and each writer's next screening sees its
/// own write.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_are_all_applied_and_read_back() {
    let app = std::sync::Arc::new(TestApp::new().await);
    app.post("/v1/lists", json!({"id": "sdn", "name": "SDN"}))
        .await;
    app.policy(json!([ofac_50()])).await;
    app.entities(&["x"]).await;
    app.list("x").await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("c{i}");
            let (s, b) = app
                .post("/v1/entities", json!({"id": id, "name": id}))
                .await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
            let (s, b) = app
                .post(
                    "/v1/ownerships",
                    json!({"owner": "x", "owned": id, "share": 50 + i % 10}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
            // Read-your-writes: the screening right after the write must see it.
            let s = app.screen(&id).await;
            assert_eq!(s["decision"], "block", "{s}");
            s["graph_version"].as_i64().unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (_, owners) = app.get("/v1/entities/c39/owners").await;
    assert_eq!(owners["items"][0]["entity"], "x");
    let (_, subs) = app.get("/v1/entities/x/subsidiaries").await;
    assert_eq!(subs["items"].as_array().unwrap().len(), 40);
    // 1 list + 1 entity + 1 entry + 40 × (entity + ownership): every version applied once.
    assert_eq!(subs["graph_version"], 83);
}

/// Folding the overlay into a new base while writes continue loses none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compaction_during_writes_keeps_every_change() {
    let app = std::sync::Arc::new(TestApp::new().await);
    app.entities(&["top"]).await;
    for i in 0..20 {
        app.entities(&[&format!("a{i}")]).await;
        app.owns("top", &format!("a{i}"), 60.0).await;
    }
    let writer = {
        let app = app.clone();
        tokio::spawn(async move {
            for i in 0..20 {
                app.entities(&[&format!("b{i}")]).await;
                app.owns("top", &format!("b{i}"), 70.0).await;
                app.delete(&format!("/v1/entities/a{i}")).await;
            }
        })
    };
    app.state.compact_now().await;
    writer.await.unwrap();
    app.state.compact_now().await;
    assert_eq!(app.state.graph.load().overlay_len(), 0);
    let (_, subs) = app.get("/v1/entities/top/subsidiaries").await;
    let ids: Vec<&str> = subs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["entity"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 20, "{ids:?}");
    assert!(ids.iter().all(|id| id.starts_with('b')));
    assert_eq!(subs["graph_version"], 101);
}
