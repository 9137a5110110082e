//! Helpers shared by the readers' tests.

use super::{FormatError, ListRecord, Parsed};
use crate::domain::Name;

/// The record with `id`; panics naming it when absent.
pub fn find<'a>(records: &'a [ListRecord], id: &str) -> &'a ListRecord {
    records
        .iter()
        .find(|r| r.id.as_str() == id)
        .unwrap_or_else(|| panic!("no record {id}"))
}

pub fn names_of(names: &[Name]) -> Vec<&str> {
    names.iter().map(Name::as_str).collect()
}

/// Where to cut a file: every 2.5 % of its length, and just before its last three bytes.
pub fn cut_points(len: usize) -> Vec<usize> {
    let mut cuts: Vec<usize> = (1..40).map(|i| len * i / 40).collect();
    cuts.extend([
        len.saturating_sub(1),
        len.saturating_sub(2),
        len.saturating_sub(3),
    ]);
    cuts.retain(|&c| c > 0 && c < len);
    cuts.dedup();
    cuts
}

/// Asserts that every cut of `bytes` is rejected with an error naming a line (a cut that
/// only drops trailing whitespace loses nothing and is not one).
pub fn assert_cuts_rejected(bytes: &[u8], parse: impl Fn(&[u8]) -> Result<Parsed, FormatError>) {
    assert_cuts(bytes, parse, false);
}

/// Like [`assert_cuts_rejected`], but a cut exactly after a line break may parse: formats
/// without an end marker cannot tell it from a shorter file.
pub fn assert_cuts(
    bytes: &[u8],
    parse: impl Fn(&[u8]) -> Result<Parsed, FormatError>,
    row_boundaries_undetectable: bool,
) {
    for cut in cut_points(bytes.len()) {
        let boundary = row_boundaries_undetectable && bytes[cut - 1] == b'\n';
        if boundary || bytes[cut..].iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse(&bytes[..cut]) {
            Ok(p) => panic!(
                "cut at byte {cut} of {} parsed ({} records)",
                bytes.len(),
                p.records.len()
            ),
            Err(e) => assert!(e.at.contains(" line "), "cut at {cut}: {e}"),
        }
    }
}
