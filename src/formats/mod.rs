//! Readers of the public file formats of sanctions lists.
//!
//! [`parse`] turns the bytes of a list file into validated [`ListRecord`]s (and, for
//! FollowTheMoney, a [`SourceGraph`] of parties and holdings). Parsing only: no database, no
//! I/O beyond reading bytes ([`Files::read_path`]).
//!
//! # Rules shared by every format
//!
//! - A malformed or truncated file is rejected whole; the [`FormatError`] names the file and
//!   the line (and, in XML, the record element) at fault.
//! - Record ids are the source's own ids and must fit [`EntryId`]; a duplicate id is an error
//!   (the UK list's one-row-per-alias layout is grouped first).
//! - Names must fit [`Name`]; programs must fit [`Text`]. Text is whitespace-collapsed (line
//!   breaks inside XML values become spaces).
//! - Aliases are deduplicated, never repeat the name, keep source order and are capped at
//!   [`MAX_ALIASES`] (what [`crate::domain::Aliases`] accepts): a source with more keeps its
//!   first ones and [`Parsed::notes`] says so.
//! - Country names and codes become [`Jurisdiction`]s; an unknown country is skipped (and
//!   counted in [`Parsed::notes`]), never an error.
//! - Identifiers are `(scheme, value)` pairs with a scheme from [`SCHEMES`]; an `lei` value
//!   that fails the ISO 17442 check digits is kept under `other`.
//! - Output is deterministic: records in source order.
//!
//! # What cannot be detected
//!
//! XML files end with the root's closing tag, so any cut is caught. A CSV file must end with
//! a line break and close every quote, and every FtM line is a whole JSON object, so a cut
//! inside a row or line is caught too. A cut exactly at a row boundary, though, leaves a
//! shorter list that the UK CSV and FtM formats cannot tell from a whole one (in FtM, a cut
//! that leaves an `Ownership` or `Sanction` naming a lost entity is still caught). For
//! OFAC's CSV see [`Format::OfacCsv`].

mod bods;
mod country;
mod eu_xml;
mod ftm;
mod gleif;
mod ofac;
mod ofac_csv;
mod ofac_xml;
mod psc;
mod record;
mod registry;
#[cfg(test)]
mod testing;
mod text;
mod uk_csv;
mod un_xml;
mod xml;

pub use bods::{
    BodsWriter, Publication, SeriesLengths, parse_bods, read_bods, read_bods_counted, write_bods,
};
pub use gleif::{parse_gleif, read_gleif};
pub use psc::{BANDS, parse_psc, read_psc};
pub use registry::{
    BODS_UNSPECIFIED_REASONS, Collector, DeclaredUnknown, Registry, RegistryLink, RegistryParty,
    RegistrySink, ShareBounds, bods_unspecified_reason,
};

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use chrono::NaiveDate;

use crate::domain::{EntityKind, EntryId, Jurisdiction, Name, Text};

/// The most aliases a record or party keeps (the limit of [`crate::domain::Aliases`]).
pub const MAX_ALIASES: usize = 100;

/// The identifier schemes the readers produce.
pub const SCHEMES: [&str; 8] = [
    "lei",
    "registration_number",
    "imo",
    "swift",
    "tax_id",
    "passport",
    "national_id",
    "other",
];

/// A supported list file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// OFAC's legacy SDN CSV export: `sdn.csv`, `alt.csv` and `add.csv` (all three required),
    /// plus `sdn_comments.csv` when given (the overflow of long remarks). No header, `-0-`
    /// means null, Latin-1 when not UTF-8. OFAC ends each file with a 0x1A byte; the marker
    /// is optional (subsets made by others lack it), but when `sdn.csv` has it, `alt.csv`
    /// and `add.csv` must have it too, and the other way round, so a real download with a
    /// cut file is rejected. Every `alt.csv`/`add.csv`/`sdn_comments.csv` row must name an
    /// `sdn.csv` entry, which also catches most cuts of an `sdn.csv` without the marker; a
    /// marker-less `alt.csv` or `add.csv` cut exactly at a row boundary cannot be detected.
    OfacCsv,
    /// OFAC's `sdnList` XML.
    OfacXml,
    /// The UN Security Council Consolidated List XML.
    UnXml,
    /// The EU Financial Sanctions Files XML (`export/sanctionEntity`).
    EuXml,
    /// The UK HMT/OFSI consolidated list CSV ("ConList.csv", one row per alias).
    UkCsv,
    /// FollowTheMoney entities, one JSON object a line (OpenSanctions exports).
    Ftm,
}

impl Format {
    pub const ALL: [Format; 6] = [
        Self::OfacCsv,
        Self::OfacXml,
        Self::UnXml,
        Self::EuXml,
        Self::UkCsv,
        Self::Ftm,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OfacCsv => "ofac-csv",
            Self::OfacXml => "ofac-xml",
            Self::UnXml => "un-xml",
            Self::EuXml => "eu-xml",
            Self::UkCsv => "uk-csv",
            Self::Ftm => "ftm",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown format '{0}' (one of: ofac-csv, ofac-xml, un-xml, eu-xml, uk-csv, ftm)")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, UnknownFormat> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// A file is rejected whole; `at` names where ("sdn.csv line 1234", "un.xml line 88,
/// <INDIVIDUAL> starting at line 80", "entities.ftm.json line 12").
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct FormatError {
    pub at: String,
    pub message: String,
}

impl FormatError {
    pub fn new(at: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            at: at.into(),
            message: message.into(),
        }
    }
}

/// The input of [`parse`]: named files. `ofac-csv` takes `sdn.csv`, `alt.csv`, `add.csv` and
/// optionally `sdn_comments.csv`; every other format takes exactly one file, of any name.
/// Names are compared ignoring ASCII case ("SDN.CSV" is `sdn.csv`).
#[derive(Clone, Debug, Default)]
pub struct Files {
    parts: Vec<(String, Vec<u8>)>,
}

impl Files {
    pub fn new() -> Self {
        Self::default()
    }

    /// One named file.
    pub fn single(name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            parts: vec![(name.into(), bytes.into())],
        }
    }

    /// Adds a named part (an HTTP multipart field, say); a name given twice is an error.
    pub fn add(
        &mut self,
        name: impl Into<String>,
        bytes: impl Into<Vec<u8>>,
    ) -> Result<(), FormatError> {
        let name = name.into();
        if self.get(&name).is_some() {
            return Err(FormatError::new(name, "this file is given twice"));
        }
        self.parts.push((name, bytes.into()));
        Ok(())
    }

    /// Reads the input of `format` from disk: for `ofac-csv`, `path` is the folder holding
    /// `sdn.csv`, `alt.csv`, `add.csv` (and `sdn_comments.csv` if present); otherwise it is
    /// the file itself, named by its file name.
    pub fn read_path(format: Format, path: &Path) -> Result<Files, FormatError> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|e| FormatError::new(p.display().to_string(), e.to_string()))
        };
        let mut files = Files::new();
        if format == Format::OfacCsv {
            for name in ofac_csv::REQUIRED {
                files.add(name, read(&path.join(name))?)?;
            }
            let comments = path.join(ofac_csv::COMMENTS);
            if comments.is_file() {
                files.add(ofac_csv::COMMENTS, read(&comments)?)?;
            }
        } else {
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            files.add(name, read(path)?)?;
        }
        Ok(files)
    }

    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.parts
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, b)| b.as_slice())
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().map(|(n, _)| n.as_str())
    }

    pub fn len(&self) -> usize {
        self.parts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// The one file of a single-file format.
    fn only(&self, format: Format) -> Result<(&str, &[u8]), FormatError> {
        match self.parts.as_slice() {
            [(name, bytes)] => Ok((name, bytes)),
            parts => Err(FormatError::new(
                format.as_str(),
                format!("expects exactly one file, got {}", parts.len()),
            )),
        }
    }
}

/// What a list file holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parsed {
    /// The designated parties, in source order.
    pub records: Vec<ListRecord>,
    /// The parties and ownerships of an FtM file; `None` for the other formats.
    pub graph: Option<SourceGraph>,
    /// What was skipped or trimmed without failing the file (unknown country names, aliases
    /// over the cap, ...), one human-readable line each, for the import log.
    pub notes: Vec<String>,
}

/// One designated party as the list states it.
#[derive(Clone, Debug, PartialEq)]
pub struct ListRecord {
    /// The source's own id: OFAC ent_num / uid, UN REFERENCE_NUMBER, EU logicalId, UK Group
    /// ID, FtM id.
    pub id: EntryId,
    pub name: Name,
    /// Deduplicated, without the name, in source order, at most [`MAX_ALIASES`].
    pub aliases: Vec<Name>,
    /// Persons are `Person`; companies and other organisations `Company`; vessels, aircraft
    /// and unknown subjects `Other`.
    pub kind: Option<EntityKind>,
    pub programs: Vec<Text>,
    pub listed_on: Option<NaiveDate>,
    /// Nationality, citizenship, registration, flag and address countries, deduplicated.
    pub countries: Vec<Jurisdiction>,
    /// `(scheme, value)` with a scheme from [`SCHEMES`]; values trimmed, pairs deduplicated.
    pub identifiers: Vec<(String, String)>,
}

/// The ownership graph of an FtM file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceGraph {
    pub parties: Vec<Party>,
    pub holdings: Vec<Holding>,
}

/// A legal entity, person, vessel or aircraft of an FtM file.
#[derive(Clone, Debug, PartialEq)]
pub struct Party {
    /// The FtM id; fits [`crate::domain::EntityId`].
    pub id: String,
    pub kind: EntityKind,
    pub name: Name,
    pub aliases: Vec<Name>,
    pub jurisdiction: Option<Jurisdiction>,
    pub identifiers: Vec<(String, String)>,
    /// Has the topic `sanction`, or is the subject of a `Sanction` entity of the file.
    pub sanctioned: bool,
}

/// An FtM `Ownership` between two parties of the file.
#[derive(Clone, Debug, PartialEq)]
pub struct Holding {
    /// The FtM id; fits [`crate::domain::OwnershipId`].
    pub id: String,
    pub owner: String,
    pub owned: String,
    pub stake: Stake,
    /// The source's `percentage` text, as given, when there is one.
    pub percentage: Option<String>,
    /// Inclusive.
    pub valid_from: Option<NaiveDate>,
    /// Exclusive, like [`crate::domain::NewOwnership::valid_to`]: the day after the source's
    /// `endDate`.
    pub valid_to: Option<NaiveDate>,
    pub role: Option<String>,
}

/// A holding's size, as far as the source states it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stake {
    /// A percentage in `(0, 100]`.
    Share(f64),
    /// Bounds in `[0, 100]`, `min < max` ("25-50", "25% to 50%").
    Range { min: f64, max: f64 },
    /// No percentage, or one that is not a usable number ("unknown", "0", "120").
    Unknown,
}

/// Parses the files of one list in `format`.
pub fn parse(format: Format, files: &Files) -> Result<Parsed, FormatError> {
    let reader: fn(&str, &[u8]) -> Result<Parsed, FormatError> = match format {
        Format::OfacCsv => return ofac_csv::parse(files),
        Format::OfacXml => ofac_xml::parse,
        Format::UnXml => un_xml::parse,
        Format::EuXml => eu_xml::parse,
        Format::UkCsv => uk_csv::parse,
        Format::Ftm => ftm::parse,
    };
    let (name, bytes) = files.only(format)?;
    reader(name, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.as_str().parse::<Format>().unwrap(), f);
        }
        assert!("csv".parse::<Format>().is_err());
    }

    #[test]
    fn single_file_formats_take_exactly_one_file() {
        let mut files = Files::single("a.xml", b"<x/>".to_vec());
        files.add("b.xml", b"<x/>".to_vec()).unwrap();
        let err = parse(Format::UnXml, &files).unwrap_err();
        assert!(err.message.contains("exactly one file"), "{err}");
        assert!(files.add("A.XML", Vec::new()).is_err());
        assert!(parse(Format::EuXml, &Files::new()).is_err());
    }

    #[test]
    fn read_path_names_the_missing_file() {
        let dir = crate::testdata::shared_path("sanctions/ofac");
        let err = Files::read_path(Format::OfacCsv, &dir).unwrap_err();
        assert!(err.at.ends_with("sdn.csv"), "{err}");
        let full = crate::testdata::shared_path("sanctions/ofac/full_2021");
        let files = Files::read_path(Format::OfacCsv, &full).unwrap();
        let names: Vec<&str> = files.names().collect();
        assert_eq!(names, ["sdn.csv", "alt.csv", "add.csv", "sdn_comments.csv"]);
    }

    /// Parse times of the two full lists; run with
    /// `cargo test --release --lib formats::tests::parse_times -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn parse_times() {
        let ofac = Files::read_path(
            Format::OfacCsv,
            &crate::testdata::shared_path("sanctions/ofac/full_2021"),
        )
        .unwrap();
        let un = Files::single(
            "un.xml",
            crate::testdata::read_shared("sanctions/un/un_consolidated_2026-02-27.xml"),
        );
        for (format, files) in [(Format::OfacCsv, ofac), (Format::UnXml, un)] {
            let (best, parsed) = super::testing::best_of(5, || parse(format, &files).unwrap());
            println!(
                "{format}: {} records in {best:?} (best of 5)",
                parsed.records.len()
            );
            for note in &parsed.notes {
                println!("  note: {note}");
            }
        }
    }

    /// Mangled real files (bytes replaced by markup and separator characters) are accepted or
    /// refused, never a panic.
    #[test]
    fn mangled_files_never_panic() {
        let samples = [
            (
                Format::OfacXml,
                "sanctions/ofac/sdn_xml_excerpt_2020-04-22.xml",
            ),
            (Format::UnXml, "sanctions/un/un_sample_2024-10-17.xml"),
            (Format::EuXml, "sanctions/eu/eu_fsf_sample_2020-04-15.xml"),
            (
                Format::UkCsv,
                "sanctions/uk/uk_hmt_conlist_sample_2020-04-27.csv",
            ),
            (
                Format::Ftm,
                "sanctions/opensanctions/ftm/t1.entities.ftm.json",
            ),
            (Format::OfacCsv, "sanctions/ofac/tiny/sdn.csv"),
        ];
        let noise = b"<>/\"',;\n\r&{}[]:-0\x1a\xff\xc3 ";
        for (format, path) in samples {
            let original = crate::testdata::read_shared(path);
            super::testing::mangle(&original, noise, 7, 300, |bytes| {
                let files = if format == Format::OfacCsv {
                    let mut f = Files::single("sdn.csv", bytes);
                    f.add("alt.csv", Vec::new()).unwrap();
                    f.add("add.csv", Vec::new()).unwrap();
                    f
                } else {
                    Files::single("f", bytes)
                };
                let _ = parse(format, &files);
            });
        }
    }

    /// Streams a generated PSC snapshot (200,000 JSON lines, then the same as one array) and
    /// a generated GLEIF LEI file (100,000 records) from temporary files into a counting
    /// sink, printing records per second and the peak memory; run with
    /// `cargo test --release --lib formats::tests::registry_streaming -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn registry_streaming() {
        use std::io::{BufReader, BufWriter, Write};
        println!("VmHWM before: {}", testing::peak_memory());
        let dir = std::env::temp_dir().join(format!("ownergraph-stream-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write =
            |name: &str, head: &str, records: usize, each: &dyn Fn(usize) -> String, tail: &str| {
                let path = dir.join(name);
                let mut out = BufWriter::new(std::fs::File::create(&path).unwrap());
                out.write_all(head.as_bytes()).unwrap();
                for i in 0..records {
                    out.write_all(each(i).as_bytes()).unwrap();
                }
                out.write_all(tail.as_bytes()).unwrap();
                out.flush().unwrap();
                path
            };
        let psc_line = |i: usize| {
            format!(
                r#"{{"company_number":"{i:08}","data":{{"kind":"individual-person-with-significant-control","name":"Mr Person {i}","name_elements":{{"title":"Mr","forename":"Person","surname":"N{i}"}},"nationality":"British","country_of_residence":"England","notified_on":"2016-04-06","natures_of_control":["ownership-of-shares-75-to-100-percent","voting-rights-75-to-100-percent"],"links":{{"self":"/company/{i:08}/persons-with-significant-control/individual/p{i}"}}}}}}"#
            )
        };
        let lines = write(
            "psc.jsonl",
            "",
            200_000,
            &|i| format!("{}\n", psc_line(i)),
            "",
        );
        let array = write(
            "psc.json",
            "[\n",
            200_000,
            &|i| format!("{},\n", psc_line(i)),
            "]\n",
        );
        let lei = |i: usize| {
            let base = format!("5299{i:014}");
            let digits: String = base
                .chars()
                .map(|c| c.to_digit(36).unwrap_or_default().to_string())
                .chain(["00".to_owned()])
                .collect();
            let rest = digits
                .bytes()
                .fold(0, |m, d| (m * 10 + u32::from(d - b'0')) % 97);
            format!("{base}{:02}", 98 - rest)
        };
        let gleif = write(
            "lei.xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<lei:LEIData xmlns:lei=\"http://www.gleif.org/data/schema/leidata/2016\">\n<lei:LEIRecords>\n",
            100_000,
            &|i| {
                format!(
                    "<lei:LEIRecord>\n <lei:LEI>{}</lei:LEI>\n <lei:Entity>\n  <lei:LegalName>Company {i} Limited</lei:LegalName>\n  <lei:OtherEntityNames><lei:OtherEntityName>Firm {i}</lei:OtherEntityName></lei:OtherEntityNames>\n  <lei:LegalJurisdiction>GB</lei:LegalJurisdiction>\n  <lei:HeadquartersAddress><lei:City>London</lei:City><lei:Country>GB</lei:Country></lei:HeadquartersAddress>\n  <lei:RegistrationAuthority><lei:RegistrationAuthorityEntityID>{i:08}</lei:RegistrationAuthorityEntityID></lei:RegistrationAuthority>\n  <lei:EntityCategory>GENERAL</lei:EntityCategory>\n  <lei:EntityStatus>ACTIVE</lei:EntityStatus>\n </lei:Entity>\n</lei:LEIRecord>\n",
                    lei(i)
                )
            },
            "</lei:LEIRecords>\n</lei:LEIData>\n",
        );
        println!("VmHWM after writing: {}", testing::peak_memory());
        type Read =
            fn(&str, BufReader<std::fs::File>, &mut dyn RegistrySink) -> Result<(), FormatError>;
        // A PSC line sends its company and its person; an LEI record its party.
        let runs: [(&std::path::Path, Read, usize, usize); 3] = [
            (&lines, read_psc, 200_000, 400_000),
            (&array, read_psc, 200_000, 400_000),
            (&gleif, read_gleif, 100_000, 100_000),
        ];
        for (path, read, records, parties) in runs {
            let size = std::fs::metadata(path).unwrap().len();
            let input = BufReader::with_capacity(1 << 16, std::fs::File::open(path).unwrap());
            let mut sink = testing::Counting::default();
            let start = std::time::Instant::now();
            read("f", input, &mut sink).unwrap();
            let took = start.elapsed();
            assert_eq!(sink.parties, parties);
            println!(
                "{} ({} MB, {records} records): {took:?}, {:.0} records/s, {:.0} MB/s; sent {} parties, {} links; VmHWM {}",
                path.file_name().unwrap_or_default().to_string_lossy(),
                size / 1_000_000,
                records as f64 / took.as_secs_f64(),
                size as f64 / 1e6 / took.as_secs_f64(),
                sink.parties,
                sink.links,
                testing::peak_memory()
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
