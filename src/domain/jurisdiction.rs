//! ISO 3166 jurisdiction codes: a country (`CN`) or a subdivision (`US-DE`).
//!
//! Codes are checked against the ISO 3166-1 and 3166-2 tables of the `rust_iso3166` crate, so
//! a typo such as `UK` (the ISO code is `GB`) is rejected at the edge instead of silently never
//! matching a rule. The value is `Copy` and eight bytes, so the in-memory graph can hold two per
//! entity without allocation.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Jurisdiction {
    country: [u8; 2],
    /// Subdivision code after the hyphen, NUL-padded; all NUL for a country.
    subdivision: [u8; 3],
}

#[derive(Debug, thiserror::Error)]
pub enum InvalidJurisdiction {
    #[error("'{0}' is not an ISO 3166-1 alpha-2 country code")]
    Country(String),
    #[error("'{0}' is not an ISO 3166-2 subdivision code")]
    Subdivision(String),
}

impl Jurisdiction {
    pub fn parse(code: &str) -> Result<Self, InvalidJurisdiction> {
        match code.split_once('-') {
            None => {
                if code.len() != 2 || rust_iso3166::from_alpha2(code).is_none() {
                    return Err(InvalidJurisdiction::Country(code.to_owned()));
                }
                let b = code.as_bytes();
                Ok(Self {
                    country: [b[0], b[1]],
                    subdivision: [0; 3],
                })
            }
            Some((country, sub)) => {
                let valid = country.len() == 2
                    && (1..=3).contains(&sub.len())
                    && rust_iso3166::iso3166_2::from_code(code).is_some();
                if !valid {
                    return Err(InvalidJurisdiction::Subdivision(code.to_owned()));
                }
                let c = country.as_bytes();
                let mut subdivision = [0; 3];
                subdivision[..sub.len()].copy_from_slice(sub.as_bytes());
                Ok(Self {
                    country: [c[0], c[1]],
                    subdivision,
                })
            }
        }
    }

    /// The country part, as a jurisdiction of its own.
    pub fn country(self) -> Jurisdiction {
        Self {
            country: self.country,
            subdivision: [0; 3],
        }
    }

    pub fn is_country(self) -> bool {
        self.subdivision == [0; 3]
    }

    /// Whether a rule naming `self` covers an entity located in `other`: a country covers its
    /// subdivisions; a subdivision covers only itself.
    pub fn covers(self, other: Jurisdiction) -> bool {
        if self.is_country() {
            self.country == other.country
        } else {
            self == other
        }
    }
}

impl fmt::Display for Jurisdiction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let country = std::str::from_utf8(&self.country).unwrap_or("??");
        if self.is_country() {
            f.write_str(country)
        } else {
            let len = self.subdivision.iter().position(|&b| b == 0).unwrap_or(3);
            let sub = std::str::from_utf8(&self.subdivision[..len]).unwrap_or("?");
            write!(f, "{country}-{sub}")
        }
    }
}

impl fmt::Debug for Jurisdiction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl TryFrom<String> for Jurisdiction {
    type Error = InvalidJurisdiction;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl std::str::FromStr for Jurisdiction {
    type Err = InvalidJurisdiction;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl From<Jurisdiction> for String {
    fn from(j: Jurisdiction) -> String {
        j.to_string()
    }
}

impl utoipa::PartialSchema for Jurisdiction {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[A-Z]{2}(-[A-Z0-9]{1,3})?$"))
            .description(Some(
                "ISO 3166-1 alpha-2 country code, or ISO 3166-2 subdivision code",
            ))
            .examples(["CN", "US-DE"])
            .into()
    }
}

impl utoipa::ToSchema for Jurisdiction {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_and_subdivisions_parse_and_print_back() {
        for code in ["CN", "US-DE", "UA-43", "GB-ENG", "FR-75C"] {
            assert_eq!(Jurisdiction::parse(code).unwrap().to_string(), code);
        }
    }

    #[test]
    fn codes_outside_iso_3166_are_rejected() {
        for code in [
            "UK", "XX", "cn", "C", "CHN", "US-ZZ", "US-", "-DE", "US-DEL",
        ] {
            assert!(
                Jurisdiction::parse(code).is_err(),
                "{code} should be rejected"
            );
        }
    }

    #[test]
    fn a_country_covers_its_subdivisions_but_not_the_reverse() {
        let us = Jurisdiction::parse("US").unwrap();
        let de = Jurisdiction::parse("US-DE").unwrap();
        let ca = Jurisdiction::parse("US-CA").unwrap();
        assert!(us.covers(de));
        assert!(us.covers(us));
        assert!(de.covers(de));
        assert!(!de.covers(us));
        assert!(!de.covers(ca));
        assert!(!Jurisdiction::parse("CN").unwrap().covers(de));
    }
}
