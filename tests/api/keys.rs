//! API keys in the store: kept only as a digest, listed without secrets, revoked for good,
//! every change in the audit trail.

use axum::http::StatusCode;
use sha2::{Digest, Sha256};

use super::harness::TestApp;
use ownergraph::db::{DbError, keys};
use ownergraph::domain::{KeyName, NewKey, PresentedKey, Role};

/// The usable keys this test made (the harness's own `tester` key left out).
async fn usable(db: &sqlx::PgPool) -> Vec<keys::StoredKey> {
    let mut all = keys::usable(db).await.unwrap();
    all.retain(|k| &*k.name != "tester");
    all
}

/// Every key this test made.
async fn listed(db: &sqlx::PgPool) -> Vec<keys::KeyInfo> {
    let mut all = keys::list(db).await.unwrap();
    all.retain(|k| k.name != "tester");
    all
}

fn name(s: &str) -> KeyName {
    KeyName::try_from(s.to_owned()).unwrap()
}

#[tokio::test]
async fn a_key_is_stored_as_a_digest_listed_without_it_and_revoked_for_good() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    let key = NewKey::generate();
    let made = keys::create(db, &name("signup"), Role::Screener, None, &key, "host:ops")
        .await
        .unwrap();
    assert_eq!(
        (made.role, made.prefix.as_str()),
        (Role::Screener, key.prefix.as_str())
    );

    // Nothing stored holds the key's text or its secret, only the secret's digest.
    let secret = key.text.splitn(3, '_').nth(2).unwrap();
    let (stored, dump): (Vec<u8>, String) = sqlx::query_as(
        "SELECT secret_sha256, row_to_json(k)::text FROM api_keys k WHERE name = 'signup'",
    )
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(stored, Sha256::digest(secret.as_bytes()).to_vec());
    assert!(
        !dump.contains(secret) && !dump.contains(&key.text),
        "{dump}"
    );

    let held = usable(db).await;
    assert_eq!(held.len(), 1);
    let presented = PresentedKey::parse(&key.text).unwrap();
    assert_eq!(held[0].secret_sha256, presented.secret_sha256);
    assert_eq!(&*held[0].name, "signup");

    let again = keys::create(
        db,
        &name("signup"),
        Role::Admin,
        None,
        &NewKey::generate(),
        "x",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            again,
            DbError::Conflict {
                code: "name_taken",
                ..
            }
        ),
        "{again}"
    );

    let revoked = keys::revoke(db, "signup", "host:ops").await.unwrap();
    assert!(revoked.revoked_at.is_some());
    assert_eq!(revoked.revoked_by.as_deref(), Some("host:ops"));
    assert!(usable(db).await.is_empty());
    let twice = keys::revoke(db, "signup", "host:ops").await.unwrap_err();
    assert!(
        matches!(
            twice,
            DbError::Conflict {
                code: "already_revoked",
                ..
            }
        ),
        "{twice}"
    );
    let missing = keys::revoke(db, "nobody", "host:ops").await.unwrap_err();
    assert!(matches!(missing, DbError::NotFound { .. }), "{missing}");

    // Made and revoked, by whom, in the trail; the digest is not in it.
    let (s, page) = app.get("/v1/audit?subject=signup").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let entries = page["items"].as_array().unwrap();
    let seen: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(seen.len(), 2, "{page}");
    assert!(seen.contains(&("key.create", "host:ops")), "{page}");
    assert!(seen.contains(&("key.revoke", "host:ops")), "{page}");
    assert!(!page.to_string().contains("secret_sha256"), "{page}");
}

#[tokio::test]
async fn a_stored_key_changes_only_by_being_revoked() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    keys::create(
        db,
        &name("ops"),
        Role::Operator,
        None,
        &NewKey::generate(),
        "t",
    )
    .await
    .unwrap();
    keys::revoke(db, "ops", "t").await.unwrap();
    for change in [
        "UPDATE api_keys SET role = 'admin' WHERE name = 'ops'",
        "UPDATE api_keys SET expires_at = now() + interval '10 years' WHERE name = 'ops'",
        "UPDATE api_keys SET secret_sha256 = sha256('x') WHERE name = 'ops'",
        "UPDATE api_keys SET revoked_at = NULL, revoked_by = NULL WHERE name = 'ops'",
        "UPDATE api_keys SET revoked_at = now(), revoked_by = 'again' WHERE name = 'ops'",
    ] {
        let refused = sqlx::query(change).execute(db).await;
        assert!(refused.is_err(), "{change}");
    }
    let (role, by): (String, String) =
        sqlx::query_as("SELECT role, revoked_by FROM api_keys WHERE name = 'ops'")
            .fetch_one(db)
            .await
            .unwrap();
    assert_eq!((role.as_str(), by.as_str()), ("operator", "t"));
}

#[tokio::test]
async fn expired_keys_are_not_usable_and_an_expiry_in_the_past_is_refused() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    let refused = keys::create(
        db,
        &name("old"),
        Role::Analyst,
        Some(past),
        &NewKey::generate(),
        "t",
    )
    .await
    .unwrap_err();
    assert!(matches!(refused, DbError::Invalid(_)), "{refused}");
    assert!(listed(db).await.is_empty());

    let soon = chrono::Utc::now() + chrono::Duration::milliseconds(300);
    keys::create(
        db,
        &name("brief"),
        Role::Analyst,
        Some(soon),
        &NewKey::generate(),
        "t",
    )
    .await
    .unwrap();
    assert_eq!(usable(db).await.len(), 1);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(usable(db).await.is_empty());
    assert_eq!(listed(db).await.len(), 1);
}

#[tokio::test]
async fn the_bootstrap_key_is_stored_once_and_stays_revoked_once_revoked() {
    let app = TestApp::new().await;
    let db = &app.state.db;
    let key = NewKey::given(&NewKey::generate().text).unwrap();
    assert!(keys::bootstrap(db, &key).await.unwrap());
    assert!(keys::bootstrap(db, &key).await.unwrap());
    let all = listed(db).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].role, Role::Admin);
    assert_eq!(all[0].created_by, "OWNERGRAPH_BOOTSTRAP_KEY");

    keys::revoke(db, &all[0].name, "host:ops").await.unwrap();
    assert!(!keys::bootstrap(db, &key).await.unwrap());
    assert!(usable(db).await.is_empty());
}
