//! OFAC's legacy SDN CSV export: `sdn.csv`, `alt.csv`, `add.csv`, optionally
//! `sdn_comments.csv`. No header; `-0-` (with a trailing space) means null; Latin-1 when not
//! UTF-8.
//!
//! - `sdn.csv` (ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign, Vess_type, Tonnage,
//!   GRT, Vess_flag, Vess_owner, Remarks): id = ent_num; the name as given ("LAST, First"
//!   for persons); kind from SDN_Type (`-0-` is an entity → Company); programs split from
//!   "SDGT] [IRGC"; Vess_flag → countries; Remarks → identifiers and nationality /
//!   citizenship / vessel registration countries (see [`super::ofac::remarks`]). OFAC's CSV
//!   has no dates, so `listed_on` is `None`.
//! - `sdn_comments.csv` (ent_num, remarks): the rest of remarks too long for `sdn.csv`,
//!   appended before the remarks are read.
//! - `alt.csv` (ent_num, alt_num, alt_type, alt_name, alt_remarks): every aka/fka/nka is an
//!   alias.
//! - `add.csv` (ent_num, add_num, address, city/state/postal, country, add_remarks): the
//!   country → countries.
//!
//! Rows of the other files must name an `sdn.csv` entry (which also catches a cut `sdn.csv`).
//! The 0x1A end-of-file byte: see [`super::Format::OfacCsv`].

use std::collections::HashMap;

use csv::StringRecord;

use super::ofac;
use super::record::{Draft, Notes};
use super::text::{LineIndex, SeenIds, at_line, csv_rows, decode_latin1_fallback};
use super::{Files, FormatError, Parsed};

pub const REQUIRED: [&str; 3] = ["sdn.csv", "alt.csv", "add.csv"];
pub const COMMENTS: &str = "sdn_comments.csv";

const END_OF_FILE: char = '\u{1a}';

/// One file of the set, read into rows.
struct Table<'a> {
    name: &'a str,
    rows: Vec<(usize, StringRecord)>,
    marker: bool,
    last_line: usize,
}

impl<'a> Table<'a> {
    fn read(name: &'a str, bytes: &[u8], columns: usize) -> Result<Self, FormatError> {
        let text = decode_latin1_fallback(bytes);
        let (body, marker) = match text.strip_suffix(END_OF_FILE) {
            Some(body) => (body, true),
            None => (&*text, false),
        };
        let lines = LineIndex::new(body.as_bytes());
        if let Some(pos) = body.find(END_OF_FILE) {
            return Err(FormatError::new(
                at_line(name, lines.line_of(pos)),
                "end-of-file byte (0x1A) before the end of the file",
            ));
        }
        let rows = csv_rows(name, body)?;
        if let Some((line, row)) = rows.iter().find(|(_, r)| r.len() != columns) {
            return Err(FormatError::new(
                at_line(name, *line),
                format!("expected {columns} fields, found {}", row.len()),
            ));
        }
        Ok(Self {
            name,
            rows,
            marker,
            last_line: lines.last_line(body.len()),
        })
    }

    fn end(&self) -> String {
        at_line(self.name, self.last_line)
    }
}

/// A field's value; `-0-` and blanks are `None`.
fn field(row: &StringRecord, i: usize) -> Option<&str> {
    row.get(i)
        .map(str::trim)
        .filter(|v| !v.is_empty() && *v != "-0-")
}

/// Either every file of the set ends with 0x1A or none does.
fn check_markers(sdn: &Table, others: &[&Table]) -> Result<(), FormatError> {
    match others.iter().find(|t| t.marker != sdn.marker) {
        None => Ok(()),
        Some(t) => {
            let (cut, whole) = if sdn.marker { (*t, sdn) } else { (sdn, *t) };
            Err(FormatError::new(
                cut.end(),
                format!(
                    "no end-of-file byte (0x1A) although {} has one: the file is cut short",
                    whole.name
                ),
            ))
        }
    }
}

struct Entry {
    line: usize,
    draft: Draft,
    remarks: String,
}

pub fn parse(files: &Files) -> Result<Parsed, FormatError> {
    if let Some(name) = files
        .names()
        .find(|n| !REQUIRED.contains(n) && *n != COMMENTS)
    {
        return Err(FormatError::new(
            name,
            "not a file of the OFAC CSV set (sdn.csv, alt.csv, add.csv, sdn_comments.csv)",
        ));
    }
    let get = |name: &'static str| {
        files.get(name).ok_or_else(|| {
            FormatError::new(name, "missing: ofac-csv needs sdn.csv, alt.csv and add.csv")
        })
    };
    let sdn = Table::read("sdn.csv", get("sdn.csv")?, 12)?;
    let alt = Table::read("alt.csv", get("alt.csv")?, 5)?;
    let add = Table::read("add.csv", get("add.csv")?, 6)?;
    check_markers(&sdn, &[&alt, &add])?;
    if sdn.rows.is_empty() {
        return Err(FormatError::new(sdn.end(), "no entries"));
    }
    let mut notes = Notes::default();
    let (mut entries, index) = read_sdn(&sdn, &mut notes)?;
    let entry_of = |table: &Table, line: usize, row: &StringRecord| {
        let id = field(row, 0).unwrap_or_default();
        match index.get(id) {
            Some(&i) => Ok(i),
            None => Err(FormatError::new(
                at_line(table.name, line),
                format!("ent_num '{id}' is not in sdn.csv"),
            )),
        }
    };
    if let Some(bytes) = files.get(COMMENTS) {
        let comments = Table::read(COMMENTS, bytes, 2)?;
        for (line, row) in &comments.rows {
            let i = entry_of(&comments, *line, row)?;
            entries[i].remarks.push_str(row.get(1).unwrap_or_default());
        }
    }
    for e in &mut entries {
        let remarks = ofac::remarks(&e.remarks);
        for c in remarks.countries {
            e.draft.country_name(c, &mut notes);
        }
        for (scheme, value) in remarks.identifiers {
            e.draft.identifier(scheme, value, &mut notes);
        }
    }
    for (line, row) in &alt.rows {
        let i = entry_of(&alt, *line, row)?;
        let name = field(row, 3)
            .ok_or_else(|| FormatError::new(at_line(alt.name, *line), "alt_name is empty"))?;
        entries[i].draft.alias(name);
    }
    for (line, row) in &add.rows {
        let i = entry_of(&add, *line, row)?;
        if let Some(country) = field(row, 4) {
            entries[i].draft.country_name(country, &mut notes);
        }
    }
    let records = entries
        .into_iter()
        .map(|e| {
            e.draft
                .finish(&mut notes)
                .map_err(|m| FormatError::new(at_line(sdn.name, e.line), m))
        })
        .collect::<Result<_, _>>()?;
    Ok(Parsed {
        records,
        graph: None,
        notes: notes.into_lines(),
    })
}

/// The `sdn.csv` entries, in file order, and the position of each ent_num.
fn read_sdn(
    sdn: &Table,
    notes: &mut Notes,
) -> Result<(Vec<Entry>, HashMap<String, usize>), FormatError> {
    let mut seen = SeenIds::default();
    let mut entries = Vec::with_capacity(sdn.rows.len());
    let mut index = HashMap::with_capacity(sdn.rows.len());
    for (line, row) in &sdn.rows {
        let at = at_line(sdn.name, *line);
        let id = field(row, 0).ok_or_else(|| FormatError::new(&at, "ent_num is empty"))?;
        seen.check(id, &at)?;
        let mut draft = Draft::new(id);
        draft.set_name(field(row, 1).unwrap_or_default());
        draft.kind = Some(ofac::kind(field(row, 2)));
        for program in field(row, 3).unwrap_or_default().split(['[', ']']) {
            draft.program(program);
        }
        if let Some(flag) = field(row, 9) {
            draft.country_name(flag, notes);
        }
        index.insert(draft.id.clone(), entries.len());
        entries.push(Entry {
            line: *line,
            draft,
            remarks: field(row, 11).unwrap_or_default().to_owned(),
        });
    }
    Ok((entries, index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EntityKind;
    use crate::formats::testing::{assert_cuts, find, names_of};
    use crate::formats::{Format, parse as parse_files};
    use crate::testdata::shared_path;

    fn read(dir: &str) -> Files {
        Files::read_path(Format::OfacCsv, &shared_path(dir)).unwrap()
    }

    fn full() -> Files {
        read("sanctions/ofac/full_2021")
    }

    fn with(files: &Files, name: &str, bytes: &[u8]) -> Files {
        let mut out = Files::new();
        for n in files.names() {
            let b = if n == name {
                bytes
            } else {
                files.get(n).unwrap()
            };
            out.add(n, b.to_vec()).unwrap();
        }
        out
    }

    fn countries(r: &crate::formats::ListRecord) -> Vec<String> {
        r.countries.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_full_2021_export_gives_8976_records() {
        let p = parse(&full()).unwrap();
        assert_eq!(p.records.len(), 8976);
        let count = |k| p.records.iter().filter(|r| r.kind == Some(k)).count();
        assert_eq!(count(EntityKind::Person), 4620);
        assert_eq!(count(EntityKind::Company), 3673);
        assert_eq!(count(EntityKind::Other), 406 + 277);
        let aero = &p.records[0];
        assert_eq!(aero.id.as_str(), "36");
        assert_eq!(aero.name.as_str(), "AEROCARIBBEAN AIRLINES");
        assert_eq!(names_of(&aero.aliases), ["AERO-CARIBBEAN"]);
        assert_eq!(countries(aero), ["CU"]);
        assert_eq!(aero.programs[0].as_str(), "CUBA");
        assert_eq!(aero.listed_on, None);
    }

    #[test]
    fn remarks_give_identifiers_programs_and_countries() {
        let p = parse(&full()).unwrap();
        // A vessel: IMO number from the remarks, flag from Vess_flag.
        let vessel = find(&p.records, "15036");
        assert_eq!(vessel.kind, Some(EntityKind::Other));
        assert!(
            vessel
                .identifiers
                .contains(&("imo".to_owned(), "9187629".to_owned()))
        );
        assert_eq!(countries(vessel), ["IR"]);
        let hesa = find(&p.records, "11195");
        let programs: Vec<&str> = hesa.programs.iter().map(|t| t.as_str()).collect();
        assert_eq!(programs, ["NPWMD", "IFSR"]);
        let intrust = find(&p.records, "32064");
        assert!(
            intrust
                .identifiers
                .contains(&("lei".to_owned(), "485100GBI2SE0KIX8T70".to_owned()))
        );
        assert!(
            intrust
                .identifiers
                .contains(&("registration_number".to_owned(), "204589733".to_owned()))
        );
        // A Dutch "Legal Entity Number" is no ISO 17442 LEI.
        let moku = find(&p.records, "23443");
        assert!(
            moku.identifiers
                .contains(&("other".to_owned(), "856458879".to_owned()))
        );
        // The remarks' tail in sdn_comments.csv is read too.
        let li = find(&p.records, "28264");
        assert!(
            li.identifiers
                .contains(&("national_id".to_owned(), "210302198701102136".to_owned()))
        );
        assert_eq!(countries(li), ["CN"]);
    }

    /// The tiny subset without the alt.csv/add.csv rows of entries it left out.
    fn tiny_consistent() -> Files {
        let tiny = read("sanctions/ofac/tiny");
        let sdn = String::from_utf8(tiny.get("sdn.csv").unwrap().to_vec()).unwrap();
        let ids: Vec<&str> = sdn.lines().filter_map(|l| l.split(',').next()).collect();
        let keep = |name: &str| -> Vec<u8> {
            let text = String::from_utf8(tiny.get(name).unwrap().to_vec()).unwrap();
            let rows = text.split_inclusive('\n');
            rows.filter(|r| ids.contains(&r.split(',').next().unwrap()))
                .collect::<String>()
                .into_bytes()
        };
        with(
            &with(&tiny, "alt.csv", &keep("alt.csv")),
            "add.csv",
            &keep("add.csv"),
        )
    }

    #[test]
    fn the_tiny_subset_names_rows_of_entries_it_left_out() {
        let err = parse(&read("sanctions/ofac/tiny")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "alt.csv line 1: ent_num '10416' is not in sdn.csv"
        );
        let p = parse(&tiny_consistent()).unwrap();
        assert_eq!(p.records.len(), 17);
        let hesa = find(&p.records, "11195");
        let programs: Vec<&str> = hesa.programs.iter().map(|t| t.as_str()).collect();
        assert_eq!(programs, ["NPWMD", "IFSR", "IRAN-CON-ARMS-EO"]);
        assert!(
            hesa.identifiers
                .contains(&("registration_number".to_owned(), "26740".to_owned()))
        );
    }

    #[test]
    fn the_set_must_be_complete_and_consistent() {
        let files = full();
        let mut two = Files::new();
        two.add("sdn.csv", files.get("sdn.csv").unwrap().to_vec())
            .unwrap();
        two.add("alt.csv", files.get("alt.csv").unwrap().to_vec())
            .unwrap();
        assert_eq!(parse(&two).unwrap_err().at, "add.csv");
        two.add("notes.txt", Vec::new()).unwrap();
        assert_eq!(parse(&two).unwrap_err().at, "notes.txt");
        let orphan = with(&files, "alt.csv", b"99999999,1,\"aka\",\"X\",-0- \r\n\x1a");
        let err = parse(&orphan).unwrap_err();
        assert_eq!(
            err.to_string(),
            "alt.csv line 1: ent_num '99999999' is not in sdn.csv"
        );
        let short = with(&files, "add.csv", b"36,25,-0- ,\"Havana\"\r\n\x1a");
        assert_eq!(
            parse(&short).unwrap_err().to_string(),
            "add.csv line 1: expected 6 fields, found 4"
        );
    }

    fn set(sdn: &[u8]) -> Files {
        let mut files = Files::new();
        for (name, bytes) in [("sdn.csv", sdn), ("alt.csv", b""), ("add.csv", b"")] {
            files.add(name, bytes.to_vec()).unwrap();
        }
        files
    }

    #[test]
    fn bad_rows_name_their_line() {
        let dup = b"1,\"A\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n1,\"B\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n";
        assert_eq!(parse(&set(dup)).unwrap_err().at, "sdn.csv line 2");
        let nameless = b"1,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n";
        assert_eq!(
            parse(&set(nameless)).unwrap_err().to_string(),
            "sdn.csv line 1: the name is empty"
        );
        let cut = b"1,\"A\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"DOB 1960\r\n";
        assert_eq!(parse(&set(cut)).unwrap_err().at, "sdn.csv line 1");
        let latin1 =
            b"1,\"CAF\xc9 S.A.\",-0- ,\"SDGT\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n";
        let p = parse(&set(latin1)).unwrap();
        assert_eq!(p.records[0].name.as_str(), "CAFÉ S.A.");
        assert_eq!(parse(&set(b"")).unwrap_err().message, "no entries");
    }

    #[test]
    fn every_cut_of_the_real_files_is_rejected() {
        let files = full();
        for name in REQUIRED {
            let bytes = files.get(name).unwrap();
            assert_cuts(
                bytes,
                |b| parse_files(Format::OfacCsv, &with(&files, name, b)),
                false,
            );
        }
        // Without end markers (the tiny subset) only a cut exactly at a row boundary passes.
        let tiny = tiny_consistent();
        let sdn = tiny.get("sdn.csv").unwrap();
        assert_cuts(
            sdn,
            |b| parse_files(Format::OfacCsv, &with(&tiny, "sdn.csv", b)),
            true,
        );
    }
}
