//! Percentages of an owned entity.
//!
//! A [`Share`] is always finite and in `(0, 100]`; a [`ShareRange`] is an ordered pair of them.
//! Past the HTTP edge, code never re-checks these bounds.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "f64", into = "f64")]
#[schema(value_type = f64)]
pub struct Share(f64);

#[derive(Debug, thiserror::Error)]
#[error("a share is a percentage greater than 0 and at most 100")]
pub struct InvalidShare;

impl Share {
    pub fn new(p: f64) -> Result<Self, InvalidShare> {
        if p.is_finite() && p > 0.0 && p <= 100.0 {
            Ok(Self(p))
        } else {
            Err(InvalidShare)
        }
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Share {
    type Error = InvalidShare;
    fn try_from(p: f64) -> Result<Self, InvalidShare> {
        Self::new(p)
    }
}

impl From<Share> for f64 {
    fn from(s: Share) -> f64 {
        s.0
    }
}

/// The lowest share of a holding whose size a source does not state, or states in a way that
/// contradicts its other statements: such a holding is stored as a range from this to the
/// most it can be, which can make what it owns *possibly* owned (review), never definitely.
pub const UNSTATED_SHARE_MIN: f64 = 0.01;

/// A share known only within bounds, as registries often publish it ("25% to 50%").
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "RawRange")]
pub struct ShareRange {
    pub min: Share,
    pub max: Share,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRange {
    min: Share,
    max: Share,
}

#[derive(Debug, thiserror::Error)]
#[error("a share range needs min <= max")]
pub struct InvalidRange;

impl TryFrom<RawRange> for ShareRange {
    type Error = InvalidRange;
    fn try_from(r: RawRange) -> Result<Self, InvalidRange> {
        if r.min.get() <= r.max.get() {
            Ok(Self {
                min: r.min,
                max: r.max,
            })
        } else {
            Err(InvalidRange)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_bounded_to_the_half_open_percentage_interval() {
        assert!(Share::new(100.0).is_ok());
        assert!(Share::new(0.0001).is_ok());
        assert!(Share::new(0.0).is_err());
        assert!(Share::new(-5.0).is_err());
        assert!(Share::new(100.0001).is_err());
        assert!(Share::new(f64::NAN).is_err());
    }

    #[test]
    fn ranges_must_be_ordered() {
        assert!(serde_json::from_str::<ShareRange>(r#"{"min": 25, "max": 50}"#).is_ok());
        assert!(serde_json::from_str::<ShareRange>(r#"{"min": 50, "max": 25}"#).is_err());
        assert!(serde_json::from_str::<ShareRange>(r#"{"min": 0, "max": 25}"#).is_err());
        assert!(serde_json::from_str::<ShareRange>(r#"{"min": 5, "max": 25, "x": 1}"#).is_err());
    }
}
