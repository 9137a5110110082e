//! ISO 17442 Legal Entity Identifiers.
//!
//! An LEI is 20 characters: 18 alphanumerics and two check digits computed with ISO 7064
//! MOD 97-10, the same scheme as IBAN. A mistyped LEI must never resolve a signup candidate
//! to the wrong company, so the check digits are verified before any lookup.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Lei(String);

#[derive(Debug, thiserror::Error)]
pub enum InvalidLei {
    #[error("an LEI is 20 characters: 18 of A-Z or 0-9, then two check digits")]
    Format,
    #[error("the LEI's check digits do not match (ISO 17442, MOD 97-10)")]
    CheckDigits,
}

impl Lei {
    pub fn parse(s: &str) -> Result<Self, InvalidLei> {
        let s = s.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        let format_ok = b.len() == 20
            && b[..18]
                .iter()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
            && b[18..].iter().all(u8::is_ascii_digit);
        if !format_ok {
            return Err(InvalidLei::Format);
        }
        if mod97(b) == 1 {
            Ok(Self(s))
        } else {
            Err(InvalidLei::CheckDigits)
        }
    }

    /// The LEI made of an 18-character `base` (LOU prefix, reserved characters and entity
    /// part) and the two check digits that make it pass [`Lei::parse`].
    pub fn with_check_digits(base: &str) -> Result<Self, InvalidLei> {
        let base = base.trim().to_ascii_uppercase();
        let b = base.as_bytes();
        if b.len() != 18
            || !b
                .iter()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        {
            return Err(InvalidLei::Format);
        }
        // ISO 7064 MOD 97-10: with "00" appended, 98 minus the remainder makes it 1.
        let check = 98 - mod97(format!("{base}00").as_bytes());
        Self::parse(&format!("{base}{check:02}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The ISO 7064 MOD 97-10 remainder of upper-case alphanumerics. Letters expand to two
/// digits (A = 10 … Z = 35); the remainder is kept as we go so the number never has to be
/// held whole.
fn mod97(b: &[u8]) -> u32 {
    b.iter().fold(0u32, |acc, &c| {
        let v = if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c - b'A') + 10
        };
        if v >= 10 {
            (acc * 100 + v) % 97
        } else {
            (acc * 10 + v) % 97
        }
    })
}

impl TryFrom<String> for Lei {
    type Error = InvalidLei;
    fn try_from(s: String) -> Result<Self, InvalidLei> {
        Self::parse(&s)
    }
}

impl From<Lei> for String {
    fn from(l: Lei) -> String {
        l.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_leis_pass_their_check_digits() {
        // GLEIF's own LEI, and Deutsche Bank AG's.
        for lei in [
            "506700GE1G29325QX363",
            "7LTWFZYICNSX8D621K86",
            "7ltwfzyicnsx8d621k86",
        ] {
            assert!(Lei::parse(lei).is_ok(), "{lei}");
        }
    }

    #[test]
    fn check_digits_are_computed_for_a_base() {
        for lei in ["506700GE1G29325QX363", "7LTWFZYICNSX8D621K86"] {
            assert_eq!(Lei::with_check_digits(&lei[..18]).unwrap().as_str(), lei);
        }
        assert!(matches!(
            Lei::with_check_digits("7LTWFZYICNSX8D621"),
            Err(InvalidLei::Format)
        ));
        assert!(matches!(
            Lei::with_check_digits("7LTWFZYICNSX8D621-"),
            Err(InvalidLei::Format)
        ));
    }

    #[test]
    fn a_single_changed_character_fails_the_check() {
        assert!(matches!(
            Lei::parse("7LTWFZYICNSX8D621K87"),
            Err(InvalidLei::CheckDigits)
        ));
        assert!(matches!(
            Lei::parse("7LTWFZYICNSX8D621K8"),
            Err(InvalidLei::Format)
        ));
        assert!(matches!(
            Lei::parse("7LTWFZYICNSX8D621KAB"),
            Err(InvalidLei::Format)
        ));
    }
}
