//! The EU Financial Sanctions Files XML: `export/sanctionEntity` (namespaced; read by local
//! names).
//!
//! - id: the entity's `logicalId`;
//! - name: the first `nameAlias` (its `wholeName`, else first/middle/last name joined); the
//!   other name aliases, in every language, are aliases;
//! - kind: `subjectType/@code` (person → Person, enterprise → Company, anything else → Other);
//! - programs: every `regulation/@programme`;
//! - listed_on: the entity's `designationDate`; without one, the earliest
//!   `regulation/@publicationDate` (which may be that of a later amending regulation);
//!   both `YYYY-MM-DD`;
//! - countries: `citizenship` and `address` `countryIso2Code` ("00", unknown, is skipped);
//! - identifiers: `identification` by `identificationTypeCode` (passport, id → national_id,
//!   regnumber, tax/fiscalcode → tax_id, swiftbic, imo; others → other).

use chrono::NaiveDate;

use super::record::{Draft, Notes};
use super::text::iso_date;
use super::xml::{Node, Record, read_list};
use super::{FormatError, ListRecord, Parsed};
use crate::domain::EntityKind;

pub fn parse(file: &str, bytes: &[u8]) -> Result<Parsed, FormatError> {
    read_list(file, bytes, "export", &[&["sanctionEntity"]], record)
}

fn alias_name(a: &Node) -> String {
    match a.attr("wholeName") {
        Some(whole) => whole.to_owned(),
        None => ["firstName", "middleName", "lastName"]
            .into_iter()
            .filter_map(|k| a.attr(k))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

fn kind(code: Option<&str>) -> EntityKind {
    match code {
        Some("person") => EntityKind::Person,
        Some("enterprise") => EntityKind::Company,
        _ => EntityKind::Other,
    }
}

fn scheme(code: &str) -> &'static str {
    match code {
        "passport" => "passport",
        "id" => "national_id",
        "regnumber" => "registration_number",
        "tax" | "fiscalcode" => "tax_id",
        "swiftbic" => "swift",
        "imo" => "imo",
        _ => "other",
    }
}

/// A date attribute; `None` when absent, an error naming the element when malformed.
fn date_attr(rec: &Record, n: &Node, attr: &str) -> Result<Option<NaiveDate>, FormatError> {
    n.attr(attr)
        .map(|v| {
            iso_date(v)
                .ok_or_else(|| rec.error(n, format!("{attr} '{v}' is not a YYYY-MM-DD date")))
        })
        .transpose()
}

fn record(rec: &Record, notes: &mut Notes) -> Result<ListRecord, FormatError> {
    let n = &rec.node;
    let id = n
        .attr("logicalId")
        .ok_or_else(|| rec.error(n, "no logicalId"))?;
    let mut d = Draft::new(id);
    d.kind = Some(kind(n.child("subjectType").and_then(|s| s.attr("code"))));
    for (i, a) in n.children("nameAlias").enumerate() {
        if i == 0 {
            d.set_name(&alias_name(a));
        } else {
            d.alias(&alias_name(a));
        }
    }
    let mut published = Vec::new();
    for r in n.children("regulation") {
        d.program(r.attr("programme").unwrap_or_default());
        published.extend(date_attr(rec, r, "publicationDate")?);
    }
    d.listed_on = date_attr(rec, n, "designationDate")?.or(published.into_iter().min());
    for c in n.children("citizenship").chain(n.children("address")) {
        if let Some(code) = c.attr("countryIso2Code").filter(|c| *c != "00") {
            d.country_code(code, notes);
        }
    }
    for i in n.children("identification") {
        if let Some(number) = i.attr("number").or(i.attr("latinNumber")) {
            d.identifier(
                scheme(i.attr("identificationTypeCode").unwrap_or_default()),
                number,
                notes,
            );
        }
    }
    d.finish(notes).map_err(|m| rec.error(n, m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testing::{assert_cuts_rejected, find, names_of};
    use crate::testdata::read_shared;

    const SAMPLE: &str = "sanctions/eu/eu_fsf_sample_2020-04-15.xml";

    /// The sample without its test-injected entry ("TestOneWord", lines 110–118), which
    /// reuses the logicalId 5468 of the entry before it.
    fn without_fake_entry() -> Vec<u8> {
        let text = String::from_utf8(read_shared(SAMPLE)).unwrap();
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        assert!(lines[114].contains("TestOneWord"));
        [&lines[..109], &lines[118..]]
            .concat()
            .concat()
            .into_bytes()
    }

    #[test]
    fn the_sample_repeats_a_logical_id_and_is_rejected() {
        let err = parse("eu.xml", &read_shared(SAMPLE)).unwrap_err();
        assert_eq!(
            err.at,
            "eu.xml line 110, <sanctionEntity> starting at line 110"
        );
        assert!(
            err.message
                .starts_with("duplicate id '5468' (first at eu.xml line 43"),
            "{err}"
        );
    }

    #[test]
    fn the_sample_without_its_fake_entry_gives_six_persons() {
        let p = parse("eu.xml", &without_fake_entry()).unwrap();
        let ids: Vec<&str> = p.records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["5295", "5463", "5468", "191", "5807", "927"]);
        assert!(p.records.iter().all(|r| r.kind == Some(EntityKind::Person)));
        let first = find(&p.records, "5295");
        assert_eq!(first.name.as_str(), "Abid Hammadou");
        assert_eq!(names_of(&first.aliases).len(), 4);
        assert_eq!(first.programs[0].as_str(), "TAQA");
        assert_eq!(first.listed_on.unwrap().to_string(), "2008-07-03");
        assert_eq!(first.countries[0].to_string(), "DZ");
        // No designationDate: the regulation's publication date.
        let ksm = find(&p.records, "191");
        assert_eq!(ksm.listed_on.unwrap().to_string(), "2020-01-14");
        assert_eq!(
            ksm.identifiers,
            [("passport".to_owned(), "488555".to_owned())]
        );
        assert!(ksm.countries.is_empty(), "countryIso2Code 00 is unknown");
        let aouadi = find(&p.records, "927");
        assert_eq!(
            aouadi
                .countries
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["TN"]
        );
        assert_eq!(
            aouadi.identifiers,
            [
                ("national_id".to_owned(), "04643632".to_owned()),
                ("passport".to_owned(), "L191609".to_owned())
            ]
        );
        assert_eq!(
            find(&p.records, "5807")
                .countries
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["RW", "CD"]
        );
    }

    #[test]
    fn a_bad_date_names_its_element() {
        let xml = "<export>\n<sanctionEntity logicalId=\"1\" designationDate=\"2008-7-3\">\n<nameAlias wholeName=\"A\"/>\n</sanctionEntity>\n</export>\n";
        let err = parse("eu.xml", xml.as_bytes()).unwrap_err();
        assert_eq!(err.at, "eu.xml line 2, <sanctionEntity> starting at line 2");
        assert!(err.message.contains("designationDate"), "{err}");
    }

    #[test]
    fn every_cut_is_rejected() {
        assert_cuts_rejected(&without_fake_entry(), |b| parse("eu.xml", b));
    }
}
