//! The UK HMT/OFSI consolidated list CSV ("ConList.csv"): a "Last Updated,…" line, the
//! header, then one row per alias; rows are grouped by `Group ID`, the record id.
//!
//! - name: `Name 1`…`Name 5` (given names) then `Name 6` (the surname, or an entity's
//!   name), from the group's first "Prime Alias" row (else its first row); every other row's
//!   name and every `Name Non-Latin Script` are aliases;
//! - kind: `Group Type` (Individual → Person, Entity → Company, Ship and others → Other);
//! - programs: `Regime`; listed_on: `Listed On` (`dd/mm/yyyy`);
//! - countries: `Nationality` and `Country` (names; "(1) … (2) …" lists are split);
//! - identifiers: `Passport Number` → passport, `National Identification Number` →
//!   national_id (a trailing "(Country)" note dropped).
//!
//! The header must hold every column read. The format has no end marker: a file cut exactly
//! at a row boundary reads as a shorter list and cannot be detected; a cut inside a row is
//! (short row, unclosed quote, or no final line break).

use std::collections::HashMap;

use csv::StringRecord;

use super::record::{Draft, Notes};
use super::text::{at_line, csv_rows, decode_latin1_fallback, dmy_date, strip_trailing_note};
use super::{FormatError, ListRecord, Parsed, country};
use crate::domain::EntityKind;

const NAMES: [&str; 6] = ["Name 1", "Name 2", "Name 3", "Name 4", "Name 5", "Name 6"];
const COLUMNS: [&str; 13] = [
    "Name 6",
    "Name 1",
    "Name 2",
    "Name 3",
    "Name 4",
    "Name 5",
    "Name Non-Latin Script",
    "Nationality",
    "Passport Number",
    "National Identification Number",
    "Country",
    "Group Type",
    "Alias Type",
];
const MORE_COLUMNS: [&str; 3] = ["Regime", "Listed On", "Group ID"];

/// Column positions by header name.
struct Header(HashMap<String, usize>);

impl Header {
    fn read(file: &str, line: usize, row: &StringRecord) -> Result<Self, FormatError> {
        let map: HashMap<String, usize> = row
            .iter()
            .enumerate()
            .map(|(i, h)| (h.trim().to_owned(), i))
            .collect();
        if let Some(missing) = COLUMNS
            .iter()
            .chain(&MORE_COLUMNS)
            .find(|c| !map.contains_key(**c))
        {
            return Err(FormatError::new(
                at_line(file, line),
                format!("not the ConList header: no '{missing}' column"),
            ));
        }
        Ok(Self(map))
    }

    fn get<'r>(&self, row: &'r StringRecord, column: &str) -> Option<&'r str> {
        let i = *self.0.get(column)?;
        row.get(i).map(str::trim).filter(|v| !v.is_empty())
    }
}

pub fn parse(file: &str, bytes: &[u8]) -> Result<Parsed, FormatError> {
    let text = decode_latin1_fallback(bytes);
    let rows = csv_rows(file, &text)?;
    let mut rows = rows.into_iter();
    match rows.next() {
        Some((_, first)) if first.get(0).is_some_and(|f| f.trim() == "Last Updated") => {}
        other => {
            let line = other.map_or(1, |(l, _)| l);
            return Err(FormatError::new(
                at_line(file, line),
                "not a ConList file: the first line should be 'Last Updated,…'",
            ));
        }
    }
    let (header_line, header_row) = rows
        .next()
        .ok_or_else(|| FormatError::new(at_line(file, 2), "no header line"))?;
    let header = Header::read(file, header_line, &header_row)?;
    let mut groups: Vec<(String, Vec<(usize, StringRecord)>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (line, row) in rows {
        if row.len() != header_row.len() {
            return Err(FormatError::new(
                at_line(file, line),
                format!("expected {} fields, found {}", header_row.len(), row.len()),
            ));
        }
        let id = header
            .get(&row, "Group ID")
            .ok_or_else(|| FormatError::new(at_line(file, line), "Group ID is empty"))?
            .to_owned();
        let i = *index.entry(id.clone()).or_insert_with(|| {
            groups.push((id, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push((line, row));
    }
    let mut notes = Notes::default();
    let records = groups
        .iter()
        .map(|(id, rows)| group(file, &header, id, rows, &mut notes))
        .collect::<Result<_, _>>()?;
    Ok(Parsed {
        records,
        graph: None,
        notes: notes.into_lines(),
    })
}

fn row_name(header: &Header, row: &StringRecord) -> String {
    NAMES
        .iter()
        .filter_map(|c| header.get(row, c))
        .collect::<Vec<_>>()
        .join(" ")
}

fn kind(group_type: Option<&str>) -> EntityKind {
    match group_type.map(str::to_ascii_lowercase).as_deref() {
        Some("individual") => EntityKind::Person,
        Some("entity") => EntityKind::Company,
        _ => EntityKind::Other,
    }
}

/// One record from the rows of a group (non-empty, in file order).
fn group(
    file: &str,
    header: &Header,
    id: &str,
    rows: &[(usize, StringRecord)],
    notes: &mut Notes,
) -> Result<ListRecord, FormatError> {
    let prime = rows
        .iter()
        .position(|(_, r)| header.get(r, "Alias Type") == Some("Prime Alias"))
        .unwrap_or(0);
    let (prime_line, prime_row) = &rows[prime];
    let mut d = Draft::new(id);
    d.set_name(&row_name(header, prime_row));
    d.kind = Some(kind(header.get(prime_row, "Group Type")));
    for (line, row) in rows {
        d.alias(&row_name(header, row));
        d.alias(header.get(row, "Name Non-Latin Script").unwrap_or_default());
        d.program(header.get(row, "Regime").unwrap_or_default());
        if let Some(listed) = header.get(row, "Listed On") {
            let date = dmy_date(listed).ok_or_else(|| {
                FormatError::new(
                    at_line(file, *line),
                    format!("Listed On '{listed}' is not a dd/mm/yyyy date"),
                )
            })?;
            d.listed_on = Some(d.listed_on.map_or(date, |earlier| earlier.min(date)));
        }
        for column in ["Nationality", "Country"] {
            for name in country::enumerated(header.get(row, column).unwrap_or_default()) {
                d.country_name(name, notes);
            }
        }
        for (column, scheme) in [
            ("Passport Number", "passport"),
            ("National Identification Number", "national_id"),
        ] {
            if let Some(v) = header.get(row, column) {
                d.identifier(scheme, strip_trailing_note(v), notes);
            }
        }
    }
    d.finish(notes)
        .map_err(|m| FormatError::new(at_line(file, *prime_line), m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testing::{assert_cuts, find, names_of};
    use crate::testdata::read_shared;

    const SAMPLE: &str = "sanctions/uk/uk_hmt_conlist_sample_2020-04-27.csv";

    fn sample() -> Parsed {
        parse("conlist.csv", &read_shared(SAMPLE)).unwrap()
    }

    fn countries(r: &ListRecord) -> Vec<String> {
        r.countries.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_sample_groups_its_23_rows_into_6_records() {
        let p = sample();
        let ids: Vec<&str> = p.records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["9053", "13063", "13754", "11039", "13017", "9215"]);
        assert!(p.records.iter().all(|r| r.kind == Some(EntityKind::Person)));
    }

    #[test]
    fn groups_keep_their_aliases_regimes_dates_and_documents() {
        let p = sample();
        let hojati = find(&p.records, "9053");
        assert_eq!(hojati.name.as_str(), "Mohsen HOJATI");
        assert_eq!(names_of(&hojati.aliases), ["محسن حجتی"]);
        assert_eq!(hojati.programs[0].as_str(), "Iran (nuclear proliferation)");
        assert_eq!(hojati.listed_on.unwrap().to_string(), "2007-03-24");
        // Seven "AKA" rows and seven "Prime Alias" rows: the prime name wins.
        let so = find(&p.records, "11039");
        assert_eq!(so.name.as_str(), "Sang-kuk SO");
        assert_eq!(names_of(&so.aliases), ["Sang Kuk SO"]);
        // Three identical rows: no alias beyond the name.
        assert!(find(&p.records, "13063").aliases.is_empty());
        let plotnitskii = find(&p.records, "13017");
        assert_eq!(
            names_of(&plotnitskii.aliases),
            ["Игорь Венедиктович ПЛОТНИЦКИЙ"]
        );
        let saeed = find(&p.records, "9215");
        assert_eq!(saeed.name.as_str(), "Hafez Mohammad SAEED");
        assert_eq!(countries(saeed), ["PK"]);
        assert_eq!(
            saeed.identifiers,
            [("national_id".to_owned(), "3520025509842-7".to_owned())]
        );
    }

    #[test]
    fn a_foreign_header_or_bad_row_is_named() {
        let text = String::from_utf8(read_shared(SAMPLE)).unwrap();
        let renamed = text.replacen("Group ID", "Group", 1);
        let err = parse("c.csv", renamed.as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.csv line 2: not the ConList header: no 'Group ID' column"
        );
        let err = parse("c.csv", b"Name 6,Name 1\nA,B\n").unwrap_err();
        assert_eq!(err.at, "c.csv line 1");
        let bad_date = text.replacen("24/03/2007", "2007-03-24", 1);
        let err = parse("c.csv", bad_date.as_bytes()).unwrap_err();
        assert_eq!(err.at, "c.csv line 3");
        assert!(err.message.contains("Listed On"), "{err}");
        let short = format!("{text}A,B\n");
        assert_eq!(
            parse("c.csv", short.as_bytes()).unwrap_err().at,
            "c.csv line 26"
        );
    }

    #[test]
    fn cuts_inside_rows_are_rejected() {
        assert_cuts(&read_shared(SAMPLE), |b| parse("c.csv", b), true);
    }
}
