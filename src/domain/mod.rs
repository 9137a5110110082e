//! Validated domain types. JSON is parsed into these once, at the HTTP edge; past it a
//! [`Share`] is always in `(0, 100]`, a [`Jurisdiction`] is always an ISO 3166 code, and so on.

mod access;
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

pub use access::*;
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

/// Text as the service keeps it, from a caller or a published source: `s` trimmed, when that
/// is 1 to `max` characters with no control characters and none of the bidirectional
/// embedding, override and isolate characters (U+202A–U+202E, U+2066–U+2069), which make
/// stored text display as something other than what it is ("Trojan Source"). Marks that only
/// set a direction (U+200E, U+200F) and joiners (U+200C, U+200D), which real names use, stay.
pub fn clean_text(s: &str, max: usize) -> Option<&str> {
    let t = s.trim();
    let allowed = |c: char| {
        !c.is_control() && !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    (!t.is_empty() && t.chars().count() <= max && t.chars().all(allowed)).then_some(t)
}

/// Free text such as a source or a programme name: [`clean_text`] of 1–256 characters.
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
        clean_text(&s, 256).map(|t| Self(t.to_owned())).ok_or(
            "text is 1 to 256 characters, without control or bidirectional override characters",
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_refuses_what_would_display_as_something_else_and_keeps_real_scripts() {
        for (raw, kept) in [
            ("  Acme Ltd  ", Some("Acme Ltd")),
            ("شركة المثال\u{200F}", Some("شركة المثال\u{200F}")),
            ("क्\u{200D}ष", Some("क्\u{200D}ष")),
            (
                "Rob'); DROP TABLE entities;--",
                Some("Rob'); DROP TABLE entities;--"),
            ),
            ("Acme \u{202E}dtL\u{202C}", None),
            ("Acme \u{2067}Ltd\u{2069}", None),
            ("tab\there", None),
            ("nul\0", None),
            ("   ", None),
        ] {
            assert_eq!(clean_text(raw, 100), kept, "{raw:?}");
        }
        assert_eq!(clean_text(&"é".repeat(100), 100).map(str::len), Some(200));
        assert_eq!(clean_text(&"é".repeat(101), 100), None);
    }
}
