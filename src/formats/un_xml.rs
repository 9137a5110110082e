//! The UN Security Council Consolidated List XML: `CONSOLIDATED_LIST/INDIVIDUALS/INDIVIDUAL`
//! and `CONSOLIDATED_LIST/ENTITIES/ENTITY`.
//!
//! - id: `REFERENCE_NUMBER` (e.g. `QDi.001`), trimmed (the list has some with a trailing
//!   space);
//! - name: `FIRST_NAME` … `FOURTH_NAME` joined with spaces (entities use `FIRST_NAME` only);
//! - aliases: `NAME_ORIGINAL_SCRIPT`, then every non-blank `ALIAS_NAME` (all qualities);
//! - kind: `Person` for individuals, `Company` for entities;
//! - programs: `UN_LIST_TYPE`; listed_on: `LISTED_ON` (`YYYY-MM-DD`, a time-zone suffix such
//!   as `-04:00` is accepted and ignored);
//! - countries: `NATIONALITY/VALUE` and the addresses' `COUNTRY` (names);
//! - identifiers: `INDIVIDUAL_DOCUMENT` with a `NUMBER`: passports → `passport`, national
//!   identification numbers → `national_id`, other documents → `other`.

use super::record::{Draft, Notes};
use super::text::iso_date;
use super::xml::{Record, read_list};
use super::{FormatError, ListRecord, Parsed};
use crate::domain::EntityKind;

const RECORDS: &[&[&str]] = &[&["INDIVIDUALS", "INDIVIDUAL"], &["ENTITIES", "ENTITY"]];

pub fn parse(file: &str, bytes: &[u8]) -> Result<Parsed, FormatError> {
    read_list(file, bytes, "CONSOLIDATED_LIST", RECORDS, record)
}

fn record(rec: &Record, notes: &mut Notes) -> Result<ListRecord, FormatError> {
    let n = &rec.node;
    let person = n.name == "INDIVIDUAL";
    let id = n
        .child_text("REFERENCE_NUMBER")
        .ok_or_else(|| rec.error(n, "no REFERENCE_NUMBER"))?;
    let mut d = Draft::new(id);
    d.kind = Some(if person {
        EntityKind::Person
    } else {
        EntityKind::Company
    });
    let parts: Vec<&str> = ["FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME"]
        .into_iter()
        .filter_map(|t| n.child_text(t))
        .collect();
    d.set_name(&parts.join(" "));
    if let Some(original) = n.child_text("NAME_ORIGINAL_SCRIPT") {
        d.alias(original);
    }
    let (alias, address, document) = if person {
        (
            "INDIVIDUAL_ALIAS",
            "INDIVIDUAL_ADDRESS",
            "INDIVIDUAL_DOCUMENT",
        )
    } else {
        ("ENTITY_ALIAS", "ENTITY_ADDRESS", "ENTITY_DOCUMENT")
    };
    for a in n.path(&[alias, "ALIAS_NAME"]) {
        d.alias(a.text().unwrap_or_default());
    }
    if let Some(program) = n.child_text("UN_LIST_TYPE") {
        d.program(program);
    }
    if let Some(node) = n.child("LISTED_ON")
        && let Some(t) = node.text()
    {
        let date = iso_date(t)
            .ok_or_else(|| rec.error(node, format!("LISTED_ON '{t}' is not a YYYY-MM-DD date")))?;
        d.listed_on = Some(date);
    }
    for c in n
        .path(&["NATIONALITY", "VALUE"])
        .into_iter()
        .chain(n.path(&[address, "COUNTRY"]))
    {
        d.country_name(c.text().unwrap_or_default(), notes);
    }
    for doc in n.children(document) {
        if let Some(number) = doc.child_text("NUMBER") {
            let scheme = document_scheme(doc.child_text("TYPE_OF_DOCUMENT").unwrap_or_default());
            d.identifier(scheme, number, notes);
        }
    }
    d.finish(notes).map_err(|m| rec.error(n, m))
}

/// The scheme of a UN document type, in any of the list's languages.
fn document_scheme(kind: &str) -> &'static str {
    let k = kind.to_lowercase();
    if ["passport", "passeport", "pasaporte"]
        .iter()
        .any(|p| k.contains(p))
    {
        "passport"
    } else if k.contains("national identification") || k.contains("identity") {
        "national_id"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testing::{assert_cuts_rejected, find, names_of};
    use crate::testdata::read_shared;

    const FULL: &str = "sanctions/un/un_consolidated_2026-02-27.xml";
    const SAMPLE: &str = "sanctions/un/un_sample_2024-10-17.xml";

    fn full() -> Parsed {
        parse("un.xml", &read_shared(FULL)).unwrap()
    }

    #[test]
    fn the_full_list_gives_730_individuals_and_273_entities() {
        let p = full();
        assert_eq!(p.records.len(), 1003);
        let persons = p
            .records
            .iter()
            .filter(|r| r.kind == Some(EntityKind::Person))
            .count();
        assert_eq!(persons, 730);
        assert_eq!(p.records[0].id.as_str(), "CDi.001");
        assert!(p.graph.is_none());
    }

    #[test]
    fn an_entity_has_its_reference_number_aliases_and_listing_date() {
        let p = full();
        let r = find(&p.records, "QDe.004");
        assert_eq!(r.name.as_str(), "AL-QAIDA");
        assert_eq!(r.kind, Some(EntityKind::Company));
        let aliases = names_of(&r.aliases);
        assert_eq!(aliases[0], "القاعدة");
        assert!(aliases.contains(&"Al Qaeda"));
        assert_eq!(r.programs[0].as_str(), "Al-Qaida");
        assert_eq!(r.listed_on.unwrap().to_string(), "2001-10-06");
        let komid = find(&p.records, "KPe.001");
        assert_eq!(komid.countries[0].to_string(), "KP");
        // Listed with a trailing space in the file.
        assert_eq!(find(&p.records, "KPe.023").id.as_str(), "KPe.023");
    }

    #[test]
    fn individuals_join_their_names_and_keep_countries_and_documents() {
        let p = full();
        let r = find(&p.records, "QDi.001");
        assert_eq!(r.name.as_str(), "MOHAMMED SALAHALDIN ABD EL HALIM ZIDANE");
        assert_eq!(
            r.countries
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["EG"]
        );
        assert_eq!(r.aliases.len(), 6);
        let badege = find(&p.records, "CDi.001");
        let countries: Vec<String> = badege.countries.iter().map(ToString::to_string).collect();
        assert_eq!(countries, ["CD", "RW"]);
        let ngaruye = find(&p.records, "CDi.019");
        assert_eq!(
            ngaruye.identifiers,
            [("national_id".to_owned(), "1-78-09-44621-80".to_owned())]
        );
        // LISTED_ON with a time-zone suffix.
        assert_eq!(
            find(&p.records, "QDi.352").listed_on.unwrap().to_string(),
            "2015-04-07"
        );
    }

    #[test]
    fn the_2024_sample_reads() {
        let p = parse("sample.xml", &read_shared(SAMPLE)).unwrap();
        assert_eq!(p.records.len(), 7);
        assert!(p.records.iter().all(|r| r.kind == Some(EntityKind::Person)));
    }

    #[test]
    fn bad_dates_missing_ids_and_duplicates_are_errors() {
        let wrap = |body: &str| {
            format!("<CONSOLIDATED_LIST><INDIVIDUALS>\n{body}\n</INDIVIDUALS></CONSOLIDATED_LIST>")
        };
        let one = |id: &str, date: &str| {
            format!(
                "<INDIVIDUAL>\n<FIRST_NAME>A</FIRST_NAME>\n<REFERENCE_NUMBER>{id}</REFERENCE_NUMBER>\n<LISTED_ON>{date}</LISTED_ON>\n</INDIVIDUAL>"
            )
        };
        let err = parse("u.xml", wrap(&one("X.1", "2001-13-01")).as_bytes()).unwrap_err();
        assert_eq!(err.at, "u.xml line 5, <INDIVIDUAL> starting at line 2");
        let err = parse(
            "u.xml",
            wrap("<INDIVIDUAL><FIRST_NAME>A</FIRST_NAME></INDIVIDUAL>").as_bytes(),
        )
        .unwrap_err();
        assert!(err.message.contains("REFERENCE_NUMBER"), "{err}");
        let two = format!("{}\n{}", one("X.1", "2001-01-01"), one("X.1", "2001-01-01"));
        let err = parse("u.xml", wrap(&two).as_bytes()).unwrap_err();
        assert!(err.message.contains("duplicate id 'X.1'"), "{err}");
        assert_eq!(err.at, "u.xml line 7, <INDIVIDUAL> starting at line 7");
        let nameless = "<INDIVIDUAL><REFERENCE_NUMBER>X.2</REFERENCE_NUMBER></INDIVIDUAL>";
        let err = parse("u.xml", wrap(nameless).as_bytes()).unwrap_err();
        assert_eq!(err.message, "the name is empty");
    }

    #[test]
    fn every_cut_of_the_real_files_is_rejected() {
        assert_cuts_rejected(&read_shared(SAMPLE), |b| parse("un.xml", b));
        assert_cuts_rejected(&read_shared(FULL), |b| parse("un.xml", b));
    }
}
