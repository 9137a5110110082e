//! `ownergraph keys`: a key is printed once, listed without its secret, and revoked.

use std::process::{Command, Output};

use crate::support::database::TestDb;

fn keys(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ownergraph"))
        .args(["--log-format", "text", "keys"])
        .args(args)
        .env("DATABASE_URL", url)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[tokio::test]
async fn a_key_made_on_the_host_is_shown_once_listed_and_revoked() {
    let db = TestDb::create().await;
    let made = stdout(&keys(
        &db.url,
        &["create", "--role", "analyst", "--name", "review-desk"],
    ));
    let key = made.trim();
    let parsed = ownergraph::domain::PresentedKey::parse(key).expect(key);

    let listed = stdout(&keys(&db.url, &["list"]));
    assert!(!listed.contains(key), "{listed}");
    let line = format!("review-desk\tanalyst\tog_{}_…\tactive", parsed.prefix);
    assert!(listed.lines().any(|l| l == line), "{listed}");

    let revoked = stdout(&keys(&db.url, &["revoke", "review-desk"]));
    assert!(
        revoked.starts_with("review-desk\tanalyst\t") && revoked.contains("revoked"),
        "{revoked}"
    );
    let again = keys(&db.url, &["revoke", "review-desk"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already revoked"));

    // Bad input changes nothing.
    for bad in [
        &["create", "--role", "root", "--name", "x"][..],
        &["create", "--role", "admin", "--name", "has space"],
        &["create", "--role", "admin", "--name", "review-desk"],
    ] {
        assert!(!keys(&db.url, bad).status.success(), "{bad:?}");
    }
    assert_eq!(stdout(&keys(&db.url, &["list"])).lines().count(), 1);

    let generated = stdout(&keys("postgres://nowhere.invalid/x", &["generate"]));
    assert!(ownergraph::domain::NewKey::given(generated.trim()).is_ok());
}
