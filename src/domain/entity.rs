//! Legal entities and persons.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::{EntityId, Jurisdiction, Lei, double_option};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Company,
    Person,
    Trust,
    Partnership,
    Fund,
    Government,
    Other,
}

impl EntityKind {
    pub const ALL: [EntityKind; 7] = [
        Self::Company,
        Self::Person,
        Self::Trust,
        Self::Partnership,
        Self::Fund,
        Self::Government,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Company => "company",
            Self::Person => "person",
            Self::Trust => "trust",
            Self::Partnership => "partnership",
            Self::Fund => "fund",
            Self::Government => "government",
            Self::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A display name: [`super::clean_text`] of 1–500 characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String)]
pub struct Name(String);

#[derive(Debug, thiserror::Error)]
#[error("a name is 1 to 500 characters, without control or bidirectional override characters")]
pub struct InvalidName;

impl Name {
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        super::clean_text(s, 500)
            .map(|t| Self(t.to_owned()))
            .ok_or(InvalidName)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Name {
    type Error = InvalidName;
    fn try_from(s: String) -> Result<Self, InvalidName> {
        Self::parse(&s)
    }
}

impl From<Name> for String {
    fn from(n: Name) -> String {
        n.0
    }
}

/// External identifiers by scheme: `lei` (checked against ISO 17442), `registration_number`,
/// and any other lower-case scheme name (`duns`, `imo`, `ogrn`, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
#[schema(value_type = BTreeMap<String, String>, example = json!({"lei": "506700GE1G29325QX363", "registration_number": "12345678"}))]
pub struct Identifiers(BTreeMap<String, String>);

impl Identifiers {
    pub fn lei(&self) -> Option<&str> {
        self.0.get("lei").map(String::as_str)
    }

    pub fn registration_number(&self) -> Option<&str> {
        self.0.get("registration_number").map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Builds from stored values, which were validated when they were written.
    pub fn from_stored(map: BTreeMap<String, String>) -> Self {
        Self(map)
    }
}

fn valid_scheme(k: &str) -> bool {
    let b = k.as_bytes();
    (1..=64).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

/// An identifier value other than an LEI: [`super::clean_text`] of 1–128 characters.
struct IdentifierValue(String);

impl<'de> Deserialize<'de> for IdentifierValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        super::clean_text(&s, 128)
            .map(|t| Self(t.to_owned()))
            .ok_or_else(|| {
                de::Error::custom(
                    "an identifier is 1 to 128 characters, without control or bidirectional override characters",
                )
            })
    }
}

impl<'de> Deserialize<'de> for Identifiers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Identifiers;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of identifier scheme to value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Identifiers, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    if !valid_scheme(&key) {
                        return Err(de::Error::custom(format!(
                            "'{key}' is not an identifier scheme (lower-case letters, digits, '_')"
                        )));
                    }
                    // Deserialising the value inside the map keeps the error's path at
                    // `identifiers.<scheme>`.
                    let value = if key == "lei" {
                        String::from(map.next_value::<Lei>()?)
                    } else {
                        map.next_value::<IdentifierValue>()?.0
                    };
                    if out.insert(key.clone(), value).is_some() {
                        return Err(de::Error::custom(format!("identifier '{key}' given twice")));
                    }
                }
                if out.len() > 32 {
                    return Err(de::Error::custom("at most 32 identifiers"));
                }
                Ok(Identifiers(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// A new entity, as a client sends it.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEntity {
    pub id: Option<EntityId>,
    #[serde(default = "default_kind")]
    pub kind: EntityKind,
    pub name: Name,
    #[serde(default)]
    pub aliases: Aliases,
    pub jurisdiction: Option<Jurisdiction>,
    pub headquarters: Option<Jurisdiction>,
    #[serde(default)]
    pub identifiers: Identifiers,
}

fn default_kind() -> EntityKind {
    EntityKind::Company
}

/// Other names of an entity, at most 100.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "Vec<Name>")]
#[schema(value_type = Vec<String>)]
pub struct Aliases(pub Vec<Name>);

impl TryFrom<Vec<Name>> for Aliases {
    type Error = &'static str;
    fn try_from(v: Vec<Name>) -> Result<Self, Self::Error> {
        if v.len() > 100 {
            Err("at most 100 aliases")
        } else {
            Ok(Self(v))
        }
    }
}

/// A partial update: absent fields stay as they are; `null` clears an optional field.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntityPatch {
    pub kind: Option<EntityKind>,
    pub name: Option<Name>,
    pub aliases: Option<Aliases>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Jurisdiction>)]
    pub jurisdiction: Option<Option<Jurisdiction>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Jurisdiction>)]
    pub headquarters: Option<Option<Jurisdiction>>,
    pub identifiers: Option<Identifiers>,
}

/// A stored entity.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Entity {
    pub id: EntityId,
    pub kind: EntityKind,
    pub name: Name,
    pub aliases: Aliases,
    pub jurisdiction: Option<Jurisdiction>,
    pub headquarters: Option<Jurisdiction>,
    pub identifiers: Identifiers,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
}

impl Entity {
    /// Applies a patch, giving the entity as it would be stored.
    pub fn patched(&self, p: EntityPatch) -> Entity {
        let mut e = self.clone();
        if let Some(k) = p.kind {
            e.kind = k;
        }
        if let Some(n) = p.name {
            e.name = n;
        }
        if let Some(a) = p.aliases {
            e.aliases = a;
        }
        if let Some(j) = p.jurisdiction {
            e.jurisdiction = j;
        }
        if let Some(h) = p.headquarters {
            e.headquarters = h;
        }
        if let Some(i) = p.identifiers {
            e.identifiers = i;
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_check_the_lei_and_name_the_faulty_scheme() {
        let ok: Identifiers =
            serde_json::from_str(r#"{"lei": "506700ge1g29325qx363", "duns": "123"}"#).unwrap();
        assert_eq!(ok.lei(), Some("506700GE1G29325QX363"));
        let bad = r#"{"identifiers": {"lei": "506700GE1G29325QX364"}, "name": "x"}"#;
        let de = &mut serde_json::Deserializer::from_str(bad);
        let err = serde_path_to_error::deserialize::<_, NewEntity>(de).unwrap_err();
        assert_eq!(err.path().to_string(), "identifiers.lei");
        assert!(serde_json::from_str::<Identifiers>(r#"{"Bad Key": "1"}"#).is_err());
        assert!(serde_json::from_str::<Identifiers>(r#"{"duns": ""}"#).is_err());
    }

    #[test]
    fn patch_distinguishes_absent_from_null() {
        let p: EntityPatch = serde_json::from_str(r#"{"headquarters": null}"#).unwrap();
        assert_eq!(p.headquarters, Some(None));
        assert_eq!(p.jurisdiction, None);
    }

    #[test]
    fn names_are_trimmed_and_control_characters_rejected() {
        assert_eq!(Name::parse("  Acme  ").unwrap().as_str(), "Acme");
        assert!(Name::parse("   ").is_err());
        assert!(Name::parse("A\u{0}B").is_err());
        assert!(Name::parse(&"x".repeat(501)).is_err());
    }
}
