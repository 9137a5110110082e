//! Measured quality on labelled data (`shared/data/sanctions/labelled/`).
//!
//! - Name pairs (`nomenklatura_name_bench_cases.csv`): precision, recall and F1 at
//!   [`REVIEW_THRESHOLD`], overall, for organisations (Company, Organization, LegalEntity) and
//!   for persons, beside the reference matcher's (nomenklatura logic-v2, frozen scores, its
//!   0.70 threshold) on the same cases.
//! - Screening against the UN list: recall of 683 UN-listed persons with typos and
//!   reshuffles (and whether the hit is the right person, from the untreated twin file), and
//!   the false-positive rate of 2 × 1,000 synthetic non-listed persons.
//! - Cross-script pairs (watchman): how many reach the threshold.
//!
//! The functions take parsed rows and return figures; [`run_eval`] reads the files.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Deserialize;

use super::{Index, Query, REVIEW_THRESHOLD, Record, compare};
use crate::domain::{EntityKind, Jurisdiction};

/// Reference threshold of nomenklatura logic-v2.
pub const REFERENCE_THRESHOLD: f64 = 0.70;

/// One labelled name pair.
#[derive(Clone, Debug, Deserialize)]
pub struct Case {
    pub case_group: String,
    pub schema: String,
    pub name1: String,
    pub name2: String,
    pub is_match: bool,
    #[serde(default)]
    pub category: String,
}

/// The reference matcher's score for a case.
#[derive(Clone, Debug, Deserialize)]
pub struct FrozenScore {
    pub schema: String,
    pub name1: String,
    pub name2: String,
    pub score: f64,
}

/// A person row of the yente fixtures.
#[derive(Clone, Debug, Deserialize)]
pub struct PersonRow {
    pub full_name: String,
    #[serde(default)]
    pub date_of_birth: String,
    #[serde(default)]
    pub place_of_birth: String,
    #[serde(default)]
    pub nationality: String,
}

/// A cross-script pair.
#[derive(Clone, Debug)]
pub struct ScriptPair {
    pub query: String,
    pub expected: String,
    pub min_score: f64,
}

/// Confusion counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub tp: usize,
    pub fp: usize,
    pub tn: usize,
    pub fn_: usize,
}

impl Counts {
    fn add(&mut self, predicted: bool, actual: bool) {
        match (predicted, actual) {
            (true, true) => self.tp += 1,
            (true, false) => self.fp += 1,
            (false, false) => self.tn += 1,
            (false, true) => self.fn_ += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.tp + self.fp + self.tn + self.fn_
    }

    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Figures for one subset of the name pairs.
#[derive(Clone, Debug, Default)]
pub struct BenchLine {
    pub subset: &'static str,
    /// Ours on every case of the subset.
    pub ours_all: Counts,
    /// Ours and the reference on the cases the reference scored.
    pub ours: Counts,
    pub reference: Counts,
}

/// Which subset a schema belongs to.
fn subset(schema: &str) -> &'static str {
    match schema {
        "Company" | "Organization" | "LegalEntity" => "organisations",
        "Person" => "persons",
        _ => "other",
    }
}

/// The kind a bench schema stands for.
fn schema_kind(schema: &str) -> Option<EntityKind> {
    match schema {
        "Person" => Some(EntityKind::Person),
        "Company" => Some(EntityKind::Company),
        "Organization" | "Vessel" => Some(EntityKind::Other),
        _ => None,
    }
}

/// Our score for a name pair, both sides of the case's kind.
pub fn pair_score(name1: &str, name2: &str, kind: Option<EntityKind>) -> f64 {
    let query = Query {
        name: name1,
        kind,
        countries: &[],
        identifiers: &[],
    };
    let record = Record {
        names: vec![name2.to_owned()],
        kind,
        ..Record::default()
    };
    compare(&query, &record).map_or(0.0, |h| h.score)
}

/// Precision, recall and F1 on the name pairs: all, organisations, persons.
pub fn name_bench(cases: &[Case], frozen: &[FrozenScore]) -> Vec<BenchLine> {
    // By schema and names: the frozen file files some cases under another group.
    let mut reference: HashMap<(&str, &str, &str), Vec<f64>> = HashMap::new();
    for f in frozen {
        reference
            .entry((&f.schema, &f.name1, &f.name2))
            .or_default()
            .push(f.score);
    }
    let mut lines: Vec<BenchLine> = ["all", "organisations", "persons"]
        .into_iter()
        .map(|subset| BenchLine {
            subset,
            ..BenchLine::default()
        })
        .collect();
    for case in cases {
        let ours =
            pair_score(&case.name1, &case.name2, schema_kind(&case.schema)) >= REVIEW_THRESHOLD;
        let key = (
            case.schema.as_str(),
            case.name1.as_str(),
            case.name2.as_str(),
        );
        let theirs = reference.get_mut(&key).and_then(Vec::pop);
        for line in lines
            .iter_mut()
            .filter(|l| l.subset == "all" || l.subset == subset(&case.schema))
        {
            line.ours_all.add(ours, case.is_match);
            if let Some(score) = theirs {
                line.ours.add(ours, case.is_match);
                line.reference
                    .add(score >= REFERENCE_THRESHOLD, case.is_match);
            }
        }
    }
    lines
}

/// Screening figures against a list.
#[derive(Clone, Debug, Default)]
pub struct Screening {
    pub list_records: usize,
    pub list_names: usize,
    pub positives: usize,
    /// Positives with a hit at or above the threshold.
    pub found: usize,
    /// Positives whose hits include the record that the untreated name finds first.
    pub found_right: usize,
    /// Untreated names that find nothing (so the right record is unknown).
    pub untreated_unfound: usize,
    /// Rows whose date of birth, place of birth and nationality all differ between the
    /// treated and untreated files (the treatment perturbs some at times, never all; rows
    /// paired at random differ in all three four times in five): 0 when they are the same
    /// rows in the same order.
    pub misaligned_rows: usize,
    /// Negative sets: name, queries, queries with a hit.
    pub negatives: Vec<(String, usize, usize)>,
}

/// Country from an ISO code or an English country name.
pub fn country_from_name(name: &str) -> Option<Jurisdiction> {
    let name = name.trim();
    if name.len() == 2 {
        return Jurisdiction::parse(&name.to_ascii_uppercase()).ok();
    }
    let lower = name.to_lowercase();
    const SHORT: &[(&str, &str)] = &[
        ("russia", "RU"),
        ("syria", "SY"),
        ("south korea", "KR"),
        ("north korea", "KP"),
        ("vietnam", "VN"),
        ("laos", "LA"),
        ("ivory coast", "CI"),
        ("east timor", "TL"),
        ("czech republic", "CZ"),
        ("turkey", "TR"),
        ("taiwan", "TW"),
        ("state of palestine", "PS"),
        ("democratic republic of the congo", "CD"),
        ("united states", "US"),
        ("united kingdom", "GB"),
        ("tanzania", "TZ"),
    ];
    if let Some((_, code)) = SHORT.iter().find(|(n, _)| *n == lower) {
        return Jurisdiction::parse(code).ok();
    }
    let matches = |iso: &str| {
        let iso = iso.to_lowercase();
        let short = iso.split(" (").next().unwrap_or(&iso).to_owned();
        iso == lower || short == lower || iso.starts_with(&format!("{lower} of "))
    };
    rust_iso3166::ALL
        .iter()
        .find(|c| matches(c.name))
        .and_then(|c| Jurisdiction::parse(c.alpha2).ok())
}

fn person_query<'a>(row: &'a PersonRow, countries: &'a [Jurisdiction]) -> Query<'a> {
    Query {
        name: &row.full_name,
        kind: Some(EntityKind::Person),
        countries,
        identifiers: &[],
    }
}

fn hits(index: &Index<usize>, row: &PersonRow) -> Vec<usize> {
    let countries: Vec<Jurisdiction> = country_from_name(&row.nationality).into_iter().collect();
    index
        .search(&person_query(row, &countries), 10, REVIEW_THRESHOLD, |_| {
            true
        })
        .into_iter()
        .map(|h| h.key)
        .collect()
}

/// Recall of the treated positives and false-positive rate of the negatives, searching an
/// index of `list`.
pub fn screening(
    list: &[Record],
    treated: &[PersonRow],
    untreated: &[PersonRow],
    negatives: &[(String, Vec<PersonRow>)],
) -> Screening {
    let mut index = Index::new();
    for (key, record) in list.iter().enumerate() {
        index.upsert(key, record.clone());
    }
    let mut s = Screening {
        list_records: index.len(),
        list_names: index.name_count(),
        positives: treated.len(),
        ..Screening::default()
    };
    for (i, row) in treated.iter().enumerate() {
        let found = hits(&index, row);
        s.found += usize::from(!found.is_empty());
        let Some(twin) = untreated.get(i) else {
            continue;
        };
        // The treatment perturbs some of these at times, never all three.
        let differing = [
            twin.date_of_birth != row.date_of_birth,
            twin.place_of_birth != row.place_of_birth,
            twin.nationality != row.nationality,
        ];
        s.misaligned_rows += usize::from(differing.iter().all(|&d| d));
        match hits(&index, twin).first() {
            Some(right) => s.found_right += usize::from(found.contains(right)),
            None => s.untreated_unfound += 1,
        }
    }
    s.misaligned_rows += treated.len().abs_diff(untreated.len());
    for (name, rows) in negatives {
        let flagged = rows.iter().filter(|r| !hits(&index, r).is_empty()).count();
        s.negatives.push((name.clone(), rows.len(), flagged));
    }
    s
}

/// Cross-script pairs: (pairs, reaching the threshold, reaching their own minimum, lowest score).
pub fn cross_script(pairs: &[ScriptPair]) -> (usize, usize, usize, f64) {
    let scores: Vec<(f64, f64)> = pairs
        .iter()
        .map(|p| (pair_score(&p.query, &p.expected, None), p.min_score))
        .collect();
    let reached = scores
        .iter()
        .filter(|(s, _)| *s >= REVIEW_THRESHOLD)
        .count();
    let own = scores.iter().filter(|(s, m)| s >= m).count();
    let lowest = scores.iter().map(|(s, _)| *s).fold(1.0, f64::min);
    (pairs.len(), reached, own, lowest)
}

/// Everything [`run_eval`] measures.
#[derive(Clone, Debug)]
pub struct Report {
    pub bench: Vec<BenchLine>,
    pub screening: Screening,
    pub cross_script: (usize, usize, usize, f64),
}

fn read_csv<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>> {
    let mut reader = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .from_path(path)
        .with_context(|| format!("reading {}", path.display()))?;
    reader
        .deserialize()
        .collect::<Result<Vec<T>, _>>()
        .with_context(|| format!("parsing {}", path.display()))
}

fn read_script_pairs(path: &Path) -> Result<Vec<ScriptPair>> {
    let mut reader = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("reading {}", path.display()))?;
    let mut pairs = Vec::new();
    for row in reader.records() {
        let row = row.with_context(|| format!("parsing {}", path.display()))?;
        if let (Some(q), Some(e), Some(m)) = (row.get(0), row.get(1), row.get(2))
            && let Ok(min_score) = m.trim().parse()
        {
            pairs.push(ScriptPair {
                query: q.to_owned(),
                expected: e.to_owned(),
                min_score,
            });
        }
    }
    Ok(pairs)
}

/// Reads the labelled files from `data_dir` (the `labelled` folder, or a folder holding it)
/// and measures the matcher, screening against `un_list`.
pub fn run_eval(data_dir: &Path, un_list: &[Record]) -> Result<Report> {
    let nested = data_dir.join("labelled");
    let dir = if nested.is_dir() {
        nested.as_path()
    } else {
        data_dir
    };
    let cases: Vec<Case> = read_csv(&dir.join("nomenklatura_name_bench_cases.csv"))?;
    let frozen: Vec<FrozenScore> =
        read_csv(&dir.join("nomenklatura_name_bench_logicv2_frozen_scores.csv"))?;
    let treated: Vec<PersonRow> = read_csv(&dir.join("yente_positives_un_treated.csv"))?;
    let untreated: Vec<PersonRow> = read_csv(&dir.join("yente_positives_un_untreated.csv"))?;
    let mut negatives = Vec::new();
    for set in ["global", "us"] {
        let rows: Vec<PersonRow> =
            read_csv(&dir.join(format!("yente_negatives_{set}_sample.csv")))?;
        negatives.push((set.to_owned(), rows));
    }
    let pairs = read_script_pairs(&dir.join("watchman_cross_script_pairs.csv"))?;
    Ok(Report {
        bench: name_bench(&cases, &frozen),
        screening: screening(un_list, &treated, &untreated, &negatives),
        cross_script: cross_script(&pairs),
    })
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Name pairs (nomenklatura name bench), ours at {REVIEW_THRESHOLD:.2}, reference logic-v2 at {REFERENCE_THRESHOLD:.2}"
        )?;
        writeln!(
            f,
            "{:<14} {:>5} {:>6} {:>6} {:>6} | {:>5} {:>6} {:>6} {:>6} | {:>6} {:>6} {:>6}",
            "subset", "cases", "P", "R", "F1", "cases", "P", "R", "F1", "ref P", "ref R", "ref F1"
        )?;
        writeln!(
            f,
            "{:<14} {:^28} | {:^55}",
            "", "ours, all cases", "ours and reference, cases the reference scored"
        )?;
        for l in &self.bench {
            writeln!(
                f,
                "{:<14} {:>5} {:>6.3} {:>6.3} {:>6.3} | {:>5} {:>6.3} {:>6.3} {:>6.3} | {:>6.3} {:>6.3} {:>6.3}",
                l.subset,
                l.ours_all.total(),
                l.ours_all.precision(),
                l.ours_all.recall(),
                l.ours_all.f1(),
                l.ours.total(),
                l.ours.precision(),
                l.ours.recall(),
                l.ours.f1(),
                l.reference.precision(),
                l.reference.recall(),
                l.reference.f1(),
            )?;
        }
        let s = &self.screening;
        writeln!(f)?;
        writeln!(
            f,
            "Screening against the UN list ({} records, {} names), threshold {REVIEW_THRESHOLD:.2}",
            s.list_records, s.list_names
        )?;
        writeln!(
            f,
            "  UN-listed persons with typos/reshuffles: {} of {} found (recall {:.3}); right person {} ({:.3}); untreated names unfound {}; misaligned rows {}",
            s.found,
            s.positives,
            ratio(s.found, s.positives),
            s.found_right,
            ratio(s.found_right, s.positives),
            s.untreated_unfound,
            s.misaligned_rows,
        )?;
        for (name, n, flagged) in &s.negatives {
            writeln!(
                f,
                "  negatives {name}: {flagged} of {n} flagged (false-positive rate {:.3})",
                ratio(*flagged, *n)
            )?;
        }
        let (n, reached, own, lowest) = self.cross_script;
        writeln!(f)?;
        writeln!(
            f,
            "Cross-script pairs: {reached} of {n} reach {REVIEW_THRESHOLD:.2}; {own} reach their listed minimum; lowest score {lowest:.3}"
        )
    }
}
