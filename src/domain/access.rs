//! Who may do what: API key roles, what each allows, and the key's text form.
//!
//! A key is `og_<prefix>_<secret>`: 12 lower-case hex digits that name the key's row, then 32
//! random bytes in unpadded base64url. Only the secret's SHA-256 is stored
//! (`migrations/0009_api_keys.sql`).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::Invalid;

/// What a key is for. Each role allows a fixed set of [`Permission`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The signup service: screenings and name matching, nothing else.
    Screener,
    /// Compliance staff: read everything, decide alerts and candidate matches.
    Analyst,
    /// Data operations: imports, lists, entities and ownerships, re-screening jobs; reads.
    Operator,
    /// Everything, including the policy and the keys themselves.
    Admin,
}

/// One kind of request, as the routes require them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Screen an entity or match a name.
    Screen,
    /// Read entities, ownerships, lists, screenings, jobs, alerts, the audit trail, metrics.
    Read,
    /// Decide an alert or a candidate match.
    Decide,
    /// Change the registry or the lists, import, run and cancel jobs.
    Operate,
    /// Change the policy; make, list and revoke keys.
    Administer,
}

impl Role {
    pub fn allows(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Screener => p == Screen,
            Role::Analyst => matches!(p, Read | Decide),
            Role::Operator => matches!(p, Read | Operate),
            Role::Admin => true,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Screener => "screener",
            Role::Analyst => "analyst",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("no role is named '{0}'")]
pub struct UnknownRole(String);

/// A role by its name, as the store keeps it.
impl TryFrom<String> for Role {
    type Error = UnknownRole;
    fn try_from(s: String) -> Result<Role, UnknownRole> {
        [Role::Screener, Role::Analyst, Role::Operator, Role::Admin]
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(UnknownRole(s))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key's name: the actor the audit trail records. 1 to 64 characters of letters, digits and
/// `. _ @ -`, starting with a letter or digit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String)]
pub struct KeyName(String);

impl KeyName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for KeyName {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Self, Invalid> {
        let ok = (1..=64).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'));
        if ok {
            Ok(Self(s))
        } else {
            Err(Invalid::new(
                "name",
                "invalid_key_name",
                "a key name is 1 to 64 letters, digits and . _ @ -, starting with a letter or digit",
            ))
        }
    }
}

impl From<KeyName> for String {
    fn from(n: KeyName) -> String {
        n.0
    }
}

/// The two parts of a presented key, before it is checked against the store.
#[derive(Debug, PartialEq, Eq)]
pub struct PresentedKey<'a> {
    pub prefix: &'a str,
    pub secret_sha256: [u8; 32],
}

const SECRET_BYTES: usize = 32;
const PREFIX_DIGITS: usize = 12;

/// A new key: its text, shown once, and what the store keeps of it.
pub struct NewKey {
    pub text: String,
    pub prefix: String,
    pub secret_sha256: [u8; 32],
}

impl NewKey {
    /// A key from the operating system's random source.
    pub fn generate() -> NewKey {
        let mut bytes = [0u8; PREFIX_DIGITS / 2 + SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let (p, s) = bytes.split_at(PREFIX_DIGITS / 2);
        let prefix = super::hex(p);
        let secret = URL_SAFE_NO_PAD.encode(s);
        NewKey {
            text: format!("og_{prefix}_{secret}"),
            secret_sha256: digest(&secret),
            prefix,
        }
    }

    /// What the store keeps of a key given from outside (`OWNERGRAPH_BOOTSTRAP_KEY`), which
    /// must have the form and strength of a generated one.
    pub fn given(text: &str) -> Result<NewKey, Invalid> {
        let k = PresentedKey::parse(text).ok_or_else(|| {
            Invalid::new(
                "key",
                "invalid_key",
                "a key is og_<12 lower-case hex digits>_<43 base64url characters (32 random bytes)>; `ownergraph keys generate` prints one",
            )
        })?;
        Ok(NewKey {
            text: text.to_owned(),
            prefix: k.prefix.to_owned(),
            secret_sha256: k.secret_sha256,
        })
    }
}

impl<'a> PresentedKey<'a> {
    /// The parts of a key in the generated form; `None` for anything else.
    pub fn parse(text: &'a str) -> Option<PresentedKey<'a>> {
        let rest = text.strip_prefix("og_")?;
        let (prefix, secret) = rest.split_once('_').filter(|(p, _)| {
            p.len() == PREFIX_DIGITS && p.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })?;
        let decoded = URL_SAFE_NO_PAD.decode(secret).ok()?;
        (decoded.len() == SECRET_BYTES).then(|| PresentedKey {
            prefix,
            secret_sha256: digest(secret),
        })
    }
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_parses_back_to_what_the_store_keeps() {
        let k = NewKey::generate();
        let p = PresentedKey::parse(&k.text).unwrap();
        assert_eq!(p.prefix, k.prefix);
        assert_eq!(p.secret_sha256, k.secret_sha256);
        assert_eq!(k.text.len(), 3 + 12 + 1 + 43);
        assert_ne!(NewKey::generate().text, k.text);
    }

    #[test]
    fn keys_of_another_form_or_strength_are_refused() {
        let k = NewKey::generate().text;
        for bad in [
            String::new(),
            k.replacen("og_", "og-", 1),
            k[..k.len() - 1].to_owned(),
            format!("{k}A"),
            k.to_uppercase(),
            format!("og_0123456789ab_{}", "A".repeat(42)),
            "og_0123456789ab_short".to_owned(),
        ] {
            assert!(PresentedKey::parse(&bad).is_none(), "{bad}");
            assert!(NewKey::given(&bad).is_err(), "{bad}");
        }
        assert!(NewKey::given(&k).is_ok());
    }

    #[test]
    fn each_role_allows_what_it_is_for_and_nothing_else() {
        use Permission::*;
        let all = [Screen, Read, Decide, Operate, Administer];
        let allowed = |r: Role| all.into_iter().filter(|&p| r.allows(p)).collect::<Vec<_>>();
        assert_eq!(allowed(Role::Screener), [Screen]);
        assert_eq!(allowed(Role::Analyst), [Read, Decide]);
        assert_eq!(allowed(Role::Operator), [Read, Operate]);
        assert_eq!(allowed(Role::Admin), all);
        for r in [Role::Screener, Role::Analyst, Role::Operator, Role::Admin] {
            assert_eq!(Role::try_from(r.as_str().to_owned()).ok(), Some(r));
        }
    }

    #[test]
    fn key_names_are_plain_and_short() {
        for ok in ["signup", "a", "ci.bot@example-1", &"x".repeat(64)] {
            assert!(KeyName::try_from(ok.to_owned()).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-lead",
            "with space",
            "ünïcode",
            "a\u{202e}b",
            &"x".repeat(65),
        ] {
            assert!(KeyName::try_from(bad.to_owned()).is_err(), "{bad}");
        }
    }
}
