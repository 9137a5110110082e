//! Validated domain types. JSON is parsed into these once, at the HTTP edge; past it a
//! [`Share`] is always in `(0, 100]`, a [`Jurisdiction`] is always an ISO 3166 code, and so on.

mod alert;
mod entity;
mod ids;
mod job;
mod jurisdiction;
mod lei;
mod list;
mod ownership;
mod policy;
mod screening;
mod share;

pub use alert::*;
pub use entity::*;
pub use ids::*;
pub use job::*;
pub use jurisdiction::*;
pub use lei::*;
pub use list::*;
pub use ownership::*;
pub use policy::*;
pub use screening::*;
pub use share::*;

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// A validation failure that names the field at fault; the HTTP layer answers it with 422.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub field: Option<String>,
    pub code: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            code,
            message: message.into(),
        }
    }

    /// Prefixes the field path, for errors found inside a nested object.
    pub fn under(mut self, prefix: &str) -> Self {
        self.field = Some(match self.field {
            Some(f) => format!("{prefix}.{f}"),
            None => prefix.to_owned(),
        });
        self
    }
}

/// Free text such as a source or a programme name: trimmed, 1–256 characters, no control
/// characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String)]
pub struct Text(String);

impl Text {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Text {
    type Error = &'static str;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        let t = s.trim();
        if t.is_empty() || t.chars().count() > 256 || t.chars().any(char::is_control) {
            Err("text is 1 to 256 characters, without control characters")
        } else {
            Ok(Self(t.to_owned()))
        }
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        t.0
    }
}

/// The date a question is asked at when it names none: today, in UTC.
pub fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

/// Bytes as lower-case hexadecimal, as digests are shown.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// For PATCH bodies: tells an absent field (`None`) from an explicit `null` (`Some(None)`).
pub fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}
