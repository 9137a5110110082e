//! Identifiers chosen by clients or made by the server.
//!
//! Every resource id is 1–128 characters of `A-Za-z0-9._:-`, so ids are safe in URLs, logs and
//! CSV without escaping. Each resource gets its own type so an ownership id can never be passed
//! where an entity id is expected.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a string is not a valid id.
#[derive(Debug, thiserror::Error)]
#[error("an id is 1 to 128 characters of A-Z, a-z, 0-9, '.', '_', ':' and '-'")]
pub struct InvalidId;

/// Checks the id grammar shared by every resource.
pub fn check_id(s: &str) -> Result<(), InvalidId> {
    let ok = (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if ok { Ok(()) } else { Err(InvalidId) }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// A fresh server-made id (a UUIDv7, so ids sort by creation time).
            pub fn generate() -> Self {
                Self(uuid::Uuid::now_v7().to_string())
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(s: String) -> Result<Self, InvalidId> {
                check_id(&s)?;
                Ok(Self(s))
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                Self::try_from(s.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .min_length(Some(1))
                    .max_length(Some(128))
                    .pattern(Some("^[A-Za-z0-9._:-]{1,128}$"))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

id_type!(
    /// The id of a legal entity or person.
    EntityId
);
id_type!(
    /// The id of one ownership link.
    OwnershipId
);
id_type!(
    /// The id of a list (a sanctions list, for example).
    ListId
);
id_type!(
    /// The id of an entry on a list; imported lists keep the source's own id.
    EntryId
);
id_type!(
    /// The id of a stored screening.
    ScreeningId
);
id_type!(
    /// The id of a re-screening job.
    JobId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_grammar_accepts_the_allowed_alphabet_and_rejects_the_rest() {
        assert!(check_id("ant-group").is_ok());
        assert!(check_id("lei:5493001KJTIIGC8Y1R12").is_ok());
        assert!(check_id(&"a".repeat(128)).is_ok());
        assert!(check_id("").is_err());
        assert!(check_id(&"a".repeat(129)).is_err());
        assert!(check_id("a b").is_err());
        assert!(check_id("a/b").is_err());
        assert!(check_id("ант").is_err());
    }
}
