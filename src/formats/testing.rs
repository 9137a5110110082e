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

/// Feeds `rounds` corrupted copies of `original` to `parse`: each has one to seven bytes
/// replaced by characters from `noise` (markup and separators of the format). The readers
/// must accept or refuse each, never panic.
pub fn mangle(original: &[u8], noise: &[u8], seed: u64, rounds: usize, parse: impl Fn(Vec<u8>)) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    for _ in 0..rounds {
        let mut bytes = original.to_vec();
        for _ in 0..rng.gen_range(1..8) {
            let at = rng.gen_range(0..bytes.len());
            bytes[at] = noise[rng.gen_range(0..noise.len())];
        }
        parse(bytes);
    }
}

/// The best time of `runs` runs of `f`, and its last result.
pub fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (std::time::Duration, T) {
    let mut best = std::time::Duration::MAX;
    let mut last = None;
    for _ in 0..runs.max(1) {
        let start = std::time::Instant::now();
        last = Some(f());
        best = best.min(start.elapsed());
    }
    (
        best,
        last.unwrap_or_else(|| unreachable!("runs is at least 1")),
    )
}

/// A [`std::io::BufRead`] over `bytes` that hands out at most `step` bytes at a time, to
/// find boundary bugs in streaming readers.
pub struct Trickle<'a> {
    bytes: &'a [u8],
    step: usize,
}

impl<'a> Trickle<'a> {
    pub fn new(bytes: &'a [u8], step: usize) -> Self {
        Self {
            bytes,
            step: step.max(1),
        }
    }
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = out.len().min(self.step).min(self.bytes.len());
        out[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

impl std::io::BufRead for Trickle<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        Ok(&self.bytes[..self.step.min(self.bytes.len())])
    }

    fn consume(&mut self, amt: usize) {
        self.bytes = &self.bytes[amt.min(self.bytes.len())..];
    }
}

/// The step sizes [`Trickle`] tests use: one byte, a few, and a prime.
pub const STEPS: [usize; 4] = [1, 2, 3, 61];

/// A sink that only counts what it is sent.
#[derive(Debug, Default)]
pub struct Counting {
    pub parties: usize,
    pub links: usize,
    pub unknowns: usize,
    pub notes: Vec<String>,
}

impl super::RegistrySink for Counting {
    fn party(&mut self, _: super::RegistryParty) -> Result<(), FormatError> {
        self.parties += 1;
        Ok(())
    }

    fn link(&mut self, _: super::RegistryLink, _: &str) -> Result<(), FormatError> {
        self.links += 1;
        Ok(())
    }

    fn unknown(&mut self, _: super::DeclaredUnknown, _: &str) -> Result<(), FormatError> {
        self.unknowns += 1;
        Ok(())
    }

    fn note(&mut self, note: String) {
        self.notes.push(note);
    }
}

/// The process's peak resident memory (`VmHWM` of `/proc/self/status`), where there is one.
pub fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:").map(|v| v.trim().to_owned()))
        })
        .unwrap_or_else(|| "unknown".to_owned())
}
