//! GLEIF golden-copy XML: LEI-CDF level 1 (`LEIData`), RR-CDF level 2 relationships
//! (`RelationshipData`) and level 2 reporting exceptions (`ReportingExceptionData`).
//!
//! [`read_gleif`] tells the three apart by their root element and streams the records from
//! any [`BufRead`] to a [`RegistrySink`] (one small tree per record, never the whole
//! document); [`parse_gleif`] collects a file in memory into a [`Registry`].
//!
//! Memory does not grow with the file but for one set: the LEIs already sent, 20 bytes each,
//! so that an LEI record met twice is an error and an LEI named by many relationships or
//! exceptions is sent once as a placeholder. The note listing inactive LEI records names the
//! first [`MAX_LISTED`].
//!
//! # What is read
//!
//! - **LEI records**: a [`RegistryParty`] per LEI (id = the LEI, which must pass the ISO 17442
//!   check digits). `LegalName` is the name; `OtherEntityNames` and
//!   `TransliteratedOtherEntityNames` are aliases. `LegalJurisdiction` (ISO 3166-1 or -2,
//!   `US-DE`) is the jurisdiction; the headquarters is the `HeadquartersAddress` `Region` when
//!   it is an ISO 3166-2 code (`US-NY`), else its `Country`. `RegistrationAuthorityEntityID`
//!   is the `registration_number`. `EntityCategory` gives the kind (`FUND` → fund,
//!   `SOLE_PROPRIETOR` → person, `RESIDENT_GOVERNMENT_ENTITY` → government,
//!   `INTERNATIONAL_ORGANIZATION` → other, anything else → company). An `INACTIVE`
//!   `EntityStatus` is kept, with a note.
//! - **Relationship records**: `IS_DIRECTLY_CONSOLIDATED_BY` and
//!   `IS_ULTIMATELY_CONSOLIDATED_BY` become links from the parent (`EndNode`) to the child
//!   (`StartNode`) with interest [`Interest::Consolidation`]: an accounting-consolidation
//!   parent is never counted as an owner. An ultimate parent is
//!   [`RegistryLink::declared_indirect`] (the direct parent has its own record). The link id is
//!   `{child}/{type}/{parent}` (RR-CDF records have no id of their own; the triple is the
//!   golden copy's key). `details` is the relationship type followed by the qualifiers and
//!   quantifiers as given (`ACCOUNTING_CONSOLIDATION 100.00 PERCENTAGE`): quantifiers are
//!   never read as a share, since publishers write both `100.00` and `1.00` for full
//!   consolidation. The `RELATIONSHIP_PERIOD` gives `valid_from` and `valid_to` (the day after
//!   its end date); other period types (accounting, filing) are not validity.
//!   An `INACTIVE` relationship without an end date ends at the record's `LastUpdateDate`
//!   (by then it was inactive; noted). Fund relationships (`IS_FUND-MANAGED_BY`,
//!   `IS_SUBFUND_OF`, `IS_FEEDER_TO`) are management and umbrella structures, not ownership
//!   or control over the fund's holdings: skipped, counted in a note.
//! - **Reporting exceptions**: a [`DeclaredUnknown`] per exception, subject = the LEI,
//!   reason = `ExceptionReason` (`NATURAL_PERSONS`, `NO_KNOWN_PERSON`, `NON_CONSOLIDATING`,
//!   `NON_PUBLIC`, `BINDING_LEGAL_COMMITMENTS`, ...), details = `ExceptionCategory`
//!   (`DIRECT_ACCOUNTING_CONSOLIDATION_PARENT` / `ULTIMATE_...`) plus any
//!   `ExceptionReference`. The id is `{LEI}/{category}/{reason}`.
//!
//! Relationship and exception files name entities by LEI only: each LEI they mention gets a
//! minimal party (id and name = the LEI, kind company, identifier `lei`,
//! [`RegistryParty::placeholder`]), sent before the first link or exception naming it, so
//! every reference resolves; the sink folds it with the LEI record.
//!
//! Any LEI failing ISO 17442 is an error naming its line, as is a missing name, node or type,
//! or a malformed date. A truncated document is rejected by the XML reader.

use std::collections::{BTreeMap, HashSet};
use std::io::BufRead;

use super::FormatError;
use super::country;
use super::record::{Notes, aliases, parse_name, push_identifier};
use super::registry::{
    Collector, DeclaredUnknown, Registry, RegistryLink, RegistryParty, RegistrySink, ShareBounds,
};
use super::text::iso_period;
use super::xml::{Layout, Node, Record, read_records};
use crate::domain::{EntityKind, Interest, Jurisdiction, Lei, Name};

const SOURCE: &str = "gleif";

/// The most inactive LEIs the note about them names; the rest are counted.
pub const MAX_LISTED: usize = 100;

/// The three documents, by root element: LEI records, relationships, reporting exceptions.
const LAYOUTS: [Layout; 3] = [
    Layout {
        root: "LEIData",
        records: &[&["LEIRecords", "LEIRecord"]],
    },
    Layout {
        root: "RelationshipData",
        records: &[&["RelationshipRecords", "RelationshipRecord"]],
    },
    Layout {
        root: "ReportingExceptionData",
        records: &[&["ReportingExceptions", "Exception"]],
    },
];

/// Reads a GLEIF LEI-CDF, RR-CDF or reporting-exception XML file (told apart by the root)
/// from `input`, sending what it states to `sink`.
pub fn read_gleif(
    name: &str,
    input: impl BufRead,
    sink: &mut dyn RegistrySink,
) -> Result<(), FormatError> {
    let mut reader = Gleif {
        sink,
        notes: Notes::default(),
        sent: HashSet::new(),
        inactive: (0, Vec::new()),
        skipped: BTreeMap::new(),
    };
    read_records(name, input, &LAYOUTS, |r| match r.layout {
        0 => reader.lei_record(&r),
        1 => reader.relationship(&r),
        _ => reader.exception(&r),
    })?;
    reader.finish();
    Ok(())
}

/// Parses a whole GLEIF file in memory (see [`read_gleif`]).
pub fn parse_gleif(name: &str, bytes: &[u8]) -> Result<Registry, FormatError> {
    let mut collector = Collector::default();
    read_gleif(name, bytes, &mut collector)?;
    Ok(collector.finish())
}

struct Gleif<'s> {
    sink: &'s mut dyn RegistrySink,
    notes: Notes,
    /// The LEIs sent so far.
    sent: HashSet<[u8; 20]>,
    /// How many LEI records are inactive, and the first [`MAX_LISTED`] of them.
    inactive: (usize, Vec<String>),
    /// Relationship types skipped, with their counts.
    skipped: BTreeMap<String, usize>,
}

/// The set key of a validated LEI (20 ASCII characters).
fn key(lei: &str) -> [u8; 20] {
    let mut key = [0; 20];
    for (k, b) in key.iter_mut().zip(lei.bytes()) {
        *k = b;
    }
    key
}

/// A validated LEI from the text of `node`.
fn lei(r: &Record, node: &Node) -> Result<String, FormatError> {
    let text = node
        .text()
        .ok_or_else(|| r.error(node, format!("<{}> is empty", node.name)))?;
    Lei::parse(text)
        .map(|l| l.as_str().to_owned())
        .map_err(|e| r.error(node, format!("LEI '{text}': {e}")))
}

fn required<'a>(r: &Record, parent: &'a Node, name: &str) -> Result<&'a Node, FormatError> {
    parent
        .child(name)
        .ok_or_else(|| r.error(parent, format!("<{}> has no <{name}>", parent.name)))
}

fn code(node: Option<&Node>, notes: &mut Notes) -> Option<Jurisdiction> {
    let text = node?.text()?;
    let j = country::by_code(text);
    if j.is_none() {
        notes.unknown_country(text);
    }
    j
}

fn lei_party(
    r: &Record,
    notes: &mut Notes,
    inactive: &mut (usize, Vec<String>),
) -> Result<RegistryParty, FormatError> {
    let id = lei(r, required(r, &r.node, "LEI")?)?;
    let entity = required(r, &r.node, "Entity")?;
    let legal = required(r, entity, "LegalName")?;
    let name = parse_name(legal.text().unwrap_or_default()).map_err(|m| r.error(legal, m))?;
    let raw: Vec<String> = entity
        .path(&["OtherEntityNames", "OtherEntityName"])
        .into_iter()
        .chain(entity.path(&[
            "TransliteratedOtherEntityNames",
            "TransliteratedOtherEntityName",
        ]))
        .filter_map(|n| n.text().map(str::to_owned))
        .collect();
    let aliases = aliases(&name, raw, &id, notes).map_err(|m| r.error(entity, m))?;
    let jurisdiction = code(entity.child("LegalJurisdiction"), notes);
    let hq = entity.child("HeadquartersAddress");
    let region = hq
        .and_then(|a| a.child_text("Region"))
        .and_then(country::by_code)
        .filter(|j| !j.is_country());
    let headquarters = region.or_else(|| code(hq.and_then(|a| a.child("Country")), notes));
    let kind = match entity.child_text("EntityCategory") {
        Some("FUND") => EntityKind::Fund,
        Some("SOLE_PROPRIETOR") => EntityKind::Person,
        Some("RESIDENT_GOVERNMENT_ENTITY") => EntityKind::Government,
        Some("INTERNATIONAL_ORGANIZATION") => EntityKind::Other,
        _ => EntityKind::Company,
    };
    let mut identifiers = Vec::new();
    push_identifier(&mut identifiers, "lei", &id, notes);
    if let Some(number) = entity
        .child("RegistrationAuthority")
        .and_then(|a| a.child_text("RegistrationAuthorityEntityID"))
    {
        push_identifier(&mut identifiers, "registration_number", number, notes);
    }
    if entity.child_text("EntityStatus") == Some("INACTIVE") {
        inactive.0 += 1;
        if inactive.1.len() < MAX_LISTED {
            inactive.1.push(id.clone());
        }
    }
    Ok(RegistryParty {
        id,
        kind,
        name,
        aliases,
        jurisdiction,
        headquarters,
        identifiers,
        source: SOURCE.to_owned(),
        placeholder: false,
    })
}

fn node_lei(r: &Record, rel: &Node, end: &str) -> Result<String, FormatError> {
    let node = required(r, rel, end)?;
    if let Some(t) = node.child_text("NodeIDType")
        && t != "LEI"
    {
        return Err(r.error(node, format!("<{end}> has NodeIDType '{t}', expected LEI")));
    }
    lei(r, required(r, node, "NodeID")?)
}

fn date(r: &Record, node: &Node, end: bool) -> Result<chrono::NaiveDate, FormatError> {
    let text = node.text().unwrap_or_default();
    iso_period(text)
        .map(|(first, next)| if end { next } else { first })
        .ok_or_else(|| {
            r.error(
                node,
                format!("<{}> '{text}' is not an ISO 8601 date", node.name),
            )
        })
}

impl Gleif<'_> {
    fn lei_record(&mut self, r: &Record) -> Result<(), FormatError> {
        let party = lei_party(r, &mut self.notes, &mut self.inactive)?;
        if !self.sent.insert(key(&party.id)) {
            return Err(r.error(&r.node, "this LEI has an earlier record in the file"));
        }
        self.sink.party(party)
    }

    /// Sends the minimal party of an LEI the file names only by reference, once.
    fn referenced(&mut self, r: &Record, at: &Node, lei: &str) -> Result<(), FormatError> {
        if !self.sent.insert(key(lei)) {
            return Ok(());
        }
        let name = Name::parse(lei).map_err(|e| r.error(at, e.to_string()))?;
        let mut identifiers = Vec::new();
        push_identifier(&mut identifiers, "lei", lei, &mut self.notes);
        self.sink.party(RegistryParty {
            id: lei.to_owned(),
            kind: EntityKind::Company,
            name,
            aliases: Vec::new(),
            jurisdiction: None,
            headquarters: None,
            identifiers,
            source: SOURCE.to_owned(),
            placeholder: true,
        })
    }

    fn relationship(&mut self, r: &Record) -> Result<(), FormatError> {
        let rel = required(r, &r.node, "Relationship")?;
        let child = node_lei(r, rel, "StartNode")?;
        let parent = node_lei(r, rel, "EndNode")?;
        let type_node = required(r, rel, "RelationshipType")?;
        let kind = type_node.text().unwrap_or_default();
        let declared_indirect = match kind {
            "IS_DIRECTLY_CONSOLIDATED_BY" => false,
            "IS_ULTIMATELY_CONSOLIDATED_BY" => true,
            _ => {
                *self.skipped.entry(kind.to_owned()).or_default() += 1;
                return Ok(());
            }
        };
        let (mut valid_from, mut valid_to) = (None, None);
        for period in rel.path(&["RelationshipPeriods", "RelationshipPeriod"]) {
            if period.child_text("PeriodType") != Some("RELATIONSHIP_PERIOD") {
                continue;
            }
            if let Some(start) = period.child("StartDate") {
                valid_from = Some(date(r, start, false)?);
            }
            if let Some(end) = period.child("EndDate") {
                valid_to = Some(date(r, end, true)?);
            }
        }
        let id = format!("{child}/{kind}/{parent}");
        if rel.child_text("RelationshipStatus") == Some("INACTIVE") && valid_to.is_none() {
            let updated = r
                .node
                .child("Registration")
                .and_then(|reg| reg.child("LastUpdateDate"));
            match updated {
                Some(u) => {
                    valid_to = Some(date(r, u, false)?);
                    self.notes.push(format!(
                        "{id}: INACTIVE without an end date; ends at its LastUpdateDate"
                    ));
                }
                None => {
                    self.notes.push(format!(
                        "{id}: INACTIVE without an end date or LastUpdateDate; skipped"
                    ));
                    return Ok(());
                }
            }
        }
        let mut details = vec![kind.to_owned()];
        for q in rel.path(&["RelationshipQualifiers", "RelationshipQualifier"]) {
            let words: Vec<&str> = ["QualifierDimension", "QualifierCategory"]
                .iter()
                .filter_map(|c| q.child_text(c))
                .collect();
            details.push(words.join(" "));
        }
        for q in rel.path(&["RelationshipQuantifiers", "RelationshipQuantifier"]) {
            let words: Vec<&str> = ["MeasurementMethod", "QuantifierAmount", "QuantifierUnits"]
                .iter()
                .filter_map(|c| q.child_text(c))
                .collect();
            details.push(words.join(" "));
        }
        for lei in [&parent, &child] {
            self.referenced(r, rel, lei)?;
        }
        let at = r.at(&r.node);
        self.sink.link(
            RegistryLink {
                id,
                owner: parent,
                owned: child,
                interest: Interest::Consolidation,
                share: ShareBounds::UNKNOWN,
                valid_from,
                valid_to,
                declared_indirect,
                details: Some(details.join("; ")),
            },
            &at,
        )
    }

    fn exception(&mut self, r: &Record) -> Result<(), FormatError> {
        let subject = lei(r, required(r, &r.node, "LEI")?)?;
        let category = required(r, &r.node, "ExceptionCategory")?
            .text()
            .ok_or_else(|| r.error(&r.node, "<ExceptionCategory> is empty"))?;
        let reasons: Vec<&str> = r
            .node
            .children("ExceptionReason")
            .filter_map(Node::text)
            .collect();
        if reasons.is_empty() {
            return Err(r.error(&r.node, "<Exception> has no <ExceptionReason>"));
        }
        self.referenced(r, &r.node, &subject)?;
        let mut details = category.to_owned();
        for reference in r.node.children("ExceptionReference").filter_map(Node::text) {
            details.push_str("; ");
            details.push_str(reference);
        }
        let at = r.at(&r.node);
        for reason in reasons {
            self.sink.unknown(
                DeclaredUnknown {
                    interest: None,
                    share: ShareBounds::UNKNOWN,
                    id: format!("{subject}/{category}/{reason}"),
                    subject: subject.clone(),
                    reason: reason.to_owned(),
                    details: Some(details.clone()),
                    valid_from: None,
                    valid_to: None,
                },
                &at,
            )?;
        }
        Ok(())
    }

    /// Sends the notes.
    fn finish(mut self) {
        let (n, listed) = &self.inactive;
        if *n > 0 {
            let more = match n - listed.len() {
                0 => String::new(),
                more => format!(", and {more} more"),
            };
            self.notes.push(format!(
                "{n} LEI records with EntityStatus INACTIVE (kept): {}{more}",
                listed.join(", ")
            ));
        }
        for (kind, n) in &self.skipped {
            self.notes.push(format!(
                "{n} {kind} relationships skipped (fund management or structure, not ownership)"
            ));
        }
        for line in self.notes.into_lines() {
            self.sink.note(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testing::{STEPS, Trickle, cut_points, names_of};
    use crate::testdata::read_shared;

    fn bytes(file: &str) -> Vec<u8> {
        read_shared(&format!("ownership/gleif-level2/{file}"))
    }

    fn sample(file: &str) -> Registry {
        parse_gleif(file, &bytes(file)).unwrap()
    }

    fn day(s: &str) -> Option<chrono::NaiveDate> {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
    }

    fn code(j: Option<Jurisdiction>) -> Option<String> {
        j.map(|j| j.to_string())
    }

    #[test]
    fn lei_records_become_parties() {
        let r = sample("lei-data.xml");
        assert_eq!(
            (r.parties.len(), r.links.len(), r.unknowns.len()),
            (13, 0, 0)
        );
        let hutchin = r.party("004L5FPTUREIWK9T2N63").unwrap();
        assert_eq!(hutchin.name.as_str(), "Hutchin Hill Capital, LP");
        assert_eq!(hutchin.kind, EntityKind::Company);
        assert_eq!(code(hutchin.jurisdiction).as_deref(), Some("US-DE"));
        assert_eq!(code(hutchin.headquarters).as_deref(), Some("US-NY"));
        assert_eq!(
            hutchin.identifiers,
            [
                ("lei".to_owned(), "004L5FPTUREIWK9T2N63".to_owned()),
                ("registration_number".to_owned(), "4386463".to_owned())
            ]
        );
        assert_eq!(hutchin.source, "gleif");
        let dentsu = r.party("213800FERQ5LE3H7WJ58").unwrap();
        assert_eq!(
            names_of(&dentsu.aliases),
            ["DENTSU AEGIS NETWORK LTD.", "AEGIS GROUP PLC"]
        );
        assert_eq!(code(dentsu.jurisdiction).as_deref(), Some("GB"));
        let fund = r.party("001GPB6A9XPE8XJICC14").unwrap();
        assert_eq!(fund.kind, EntityKind::Fund);
        assert_eq!(code(fund.jurisdiction).as_deref(), Some("US-MA"));
        let swede = r.party("213800BJPX8V9HVY1Y11").unwrap();
        assert_eq!(code(swede.jurisdiction).as_deref(), Some("SE"));
        assert!(
            r.notes
                .iter()
                .any(|n| n.contains("INACTIVE") && n.contains("00TR8NKAEL48RGTZEW89")),
            "{:?}",
            r.notes
        );
        assert_eq!(r.parties[0].id, "001GPB6A9XPE8XJICC14");
    }

    #[test]
    fn consolidation_parents_are_links_and_funds_are_skipped() {
        let r = sample("rr-data.xml");
        assert_eq!(
            (r.parties.len(), r.links.len(), r.unknowns.len()),
            (3, 2, 0)
        );
        let direct = &r.links[0];
        assert_eq!(direct.owner, "ZZG38T0MDR3QY1ETUA76");
        assert_eq!(direct.owned, "010CMKZ3VON21WF2ZD45");
        assert_eq!(direct.interest, Interest::Consolidation);
        assert_eq!(direct.valid_from, day("2018-02-06"));
        assert_eq!(direct.valid_to, None);
        assert!(!direct.declared_indirect);
        // The source gives the qualifier's dimension without a category.
        assert_eq!(
            direct.details.as_deref(),
            Some("IS_DIRECTLY_CONSOLIDATED_BY; ACCOUNTING_STANDARD")
        );
        assert_eq!(
            direct.id,
            "010CMKZ3VON21WF2ZD45/IS_DIRECTLY_CONSOLIDATED_BY/ZZG38T0MDR3QY1ETUA76"
        );
        let ultimate = &r.links[1];
        assert_eq!(ultimate.owner, "3C7474T6CDKPR9K6YT90");
        assert!(ultimate.declared_indirect);
        assert_eq!(
            ultimate.details.as_deref(),
            Some("IS_ULTIMATELY_CONSOLIDATED_BY; ACCOUNTING_STANDARD US_GAAP")
        );
        // Parties named only by reference: the LEI is the name.
        let parent = r.party("ZZG38T0MDR3QY1ETUA76").unwrap();
        assert_eq!(parent.name.as_str(), "ZZG38T0MDR3QY1ETUA76");
        assert_eq!(parent.identifiers[0].0, "lei");
        assert!(r.notes.contains(
            &"5 IS_FUND-MANAGED_BY relationships skipped (fund management or structure, not ownership)"
                .to_owned()
        ));
        assert!(r.notes.iter().any(|n| n.starts_with("3 IS_SUBFUND_OF")));
    }

    #[test]
    fn quantifiers_stay_in_details_not_in_the_share() {
        let r = sample("rr-updates-data2.xml");
        assert_eq!((r.parties.len(), r.links.len()), (7, 7));
        let hundred = r
            .links
            .iter()
            .find(|l| {
                l.owned == "2138002YAB7Z9KO21397"
                    && l.details
                        .as_deref()
                        .is_some_and(|d| d.starts_with("IS_DIRECTLY"))
            })
            .unwrap();
        assert_eq!(hundred.owner, "984500501A1B1045PB30");
        assert_eq!(
            hundred.details.as_deref(),
            Some(
                "IS_DIRECTLY_CONSOLIDATED_BY; ACCOUNTING_STANDARD OTHER_ACCOUNTING_STANDARD; ACCOUNTING_CONSOLIDATION 100.00 PERCENTAGE"
            )
        );
        assert_eq!(hundred.share, ShareBounds::UNKNOWN);
        assert_eq!(hundred.valid_from, day("2019-06-30"));
        let one = r
            .links
            .iter()
            .find(|l| l.owned == "097900BJGO0000201513")
            .unwrap();
        assert!(one.details.as_deref().unwrap().ends_with("1.00 PERCENTAGE"));
        assert!(r.links.iter().all(|l| l.share == ShareBounds::UNKNOWN));
        assert!(
            r.notes
                .iter()
                .any(|n| n.starts_with("4 IS_FUND-MANAGED_BY"))
        );
    }

    #[test]
    fn reporting_exceptions_are_declared_unknowns() {
        let r = sample("repex-data.xml");
        assert_eq!(
            (r.parties.len(), r.links.len(), r.unknowns.len()),
            (10, 0, 10)
        );
        let u = r
            .unknowns
            .iter()
            .find(|u| u.subject == "01370W6ZIY66KQ4J3570")
            .unwrap();
        assert_eq!(u.reason, "NON_PUBLIC");
        assert_eq!(
            u.details.as_deref(),
            Some("DIRECT_ACCOUNTING_CONSOLIDATION_PARENT")
        );
        let count = |reason: &str| r.unknowns.iter().filter(|u| u.reason == reason).count();
        assert_eq!(
            (
                count("NO_KNOWN_PERSON"),
                count("NON_CONSOLIDATING"),
                count("NON_PUBLIC")
            ),
            (3, 6, 1)
        );
        assert_eq!(r.unknowns[0].subject, "001GPB6A9XPE8XJICC14");
        assert_eq!(r.unknowns[0].reason, "NO_KNOWN_PERSON");
    }

    fn line_of(text: &str, needle: &str) -> usize {
        let at = text.find(needle).unwrap();
        text[..at].matches('\n').count() + 1
    }

    #[test]
    fn bad_lei_check_digits_name_the_line() {
        for (file, good) in [
            ("rr-data.xml", "ZZG38T0MDR3QY1ETUA76"),
            ("lei-data.xml", "004L5FPTUREIWK9T2N63"),
            ("repex-data.xml", "00EHHQ2ZHDCFXJCPCL46"),
        ] {
            let text = String::from_utf8(bytes(file)).unwrap();
            let bad = format!("{}7", &good[..19]);
            let broken = text.replacen(good, &bad, 1);
            let err = parse_gleif("g.xml", broken.as_bytes()).unwrap_err();
            let at = format!("g.xml line {}", line_of(&text, good));
            assert!(err.at.starts_with(&at), "{file}: {err}");
            assert!(err.message.contains("check digits"), "{file}: {err}");
        }
    }

    #[test]
    fn cut_and_foreign_documents_are_rejected() {
        for file in ["lei-data.xml", "rr-data.xml", "repex-data.xml"] {
            let b = bytes(file);
            for cut in cut_points(b.len()) {
                if b[cut..].iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let err = parse_gleif("g.xml", &b[..cut]).unwrap_err();
                assert!(err.at.contains(" line "), "{file} cut at {cut}: {err}");
            }
        }
        let err = parse_gleif("g.xml", b"<?xml version=\"1.0\"?>\n<sdnList/>").unwrap_err();
        assert!(err.message.contains("found <sdnList>"), "{err}");
        assert!(parse_gleif("g.xml", b"").is_err());
        let text = String::from_utf8(bytes("rr-data.xml")).unwrap();
        let bad_date = text.replacen("2018-02-06T00:00", "2018-02-30T00:00", 1);
        let err = parse_gleif("g.xml", bad_date.as_bytes()).unwrap_err();
        assert!(err.message.contains("not an ISO 8601 date"), "{err}");
    }

    #[test]
    fn inactive_relationships_end() {
        let text = String::from_utf8(bytes("rr-data.xml")).unwrap();
        let inactive = text.replace(
            "<rr:RelationshipStatus>ACTIVE</rr:RelationshipStatus>",
            "<rr:RelationshipStatus>INACTIVE</rr:RelationshipStatus>",
        );
        let r = parse_gleif("g.xml", inactive.as_bytes()).unwrap();
        // Ended no later than the record's LastUpdateDate.
        assert!(r.links.iter().all(|l| l.valid_to.is_some()));
        assert!(
            r.notes
                .iter()
                .any(|n| n.contains("INACTIVE without an end date"))
        );
    }

    fn trickled(file: &str, bytes: &[u8], step: usize) -> Result<Registry, FormatError> {
        let mut collector = Collector::default();
        read_gleif(file, Trickle::new(bytes, step), &mut collector)?;
        Ok(collector.finish())
    }

    #[test]
    fn a_file_read_a_few_bytes_at_a_time_reads_like_the_whole() {
        for file in [
            "lei-data.xml",
            "rr-data.xml",
            "rr-updates-data2.xml",
            "repex-data.xml",
        ] {
            let b = bytes(file);
            let whole = parse_gleif(file, &b).unwrap();
            let cut = &b[..b.len() * 2 / 3];
            let cut_err = parse_gleif(file, cut).unwrap_err();
            for step in STEPS {
                assert_eq!(trickled(file, &b, step).unwrap(), whole, "{file} by {step}");
                assert_eq!(trickled(file, cut, step).unwrap_err(), cut_err, "{file}");
            }
        }
    }

    #[test]
    fn a_second_record_of_an_lei_is_an_error() {
        let text = String::from_utf8(bytes("lei-data.xml")).unwrap();
        let (head, rest) = text.split_once("<lei:LEIRecord ").unwrap();
        let (record, _) = rest.split_once("</lei:LEIRecord>").unwrap();
        let twice = format!("{head}<lei:LEIRecord {record}</lei:LEIRecord><lei:LEIRecord {rest}");
        let err = parse_gleif("g.xml", twice.as_bytes()).unwrap_err();
        assert!(err.message.contains("earlier record"), "{err}");
    }

    /// Mangled samples are accepted or refused, never a panic.
    #[test]
    fn mangled_samples_never_panic() {
        let noise = b"<>/\"'&;:-0AZ9\n \xff\xc3";
        for file in ["lei-data.xml", "rr-updates-data2.xml", "repex-data.xml"] {
            crate::formats::testing::mangle(&bytes(file), noise, 5, 200, |b| {
                let _ = parse_gleif("m", &b);
            });
        }
    }

    /// Parse times of the largest samples; run with
    /// `cargo test --release --lib formats::gleif::tests::parse_times -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn parse_times() {
        for file in ["lei-data.xml", "rr-updates-data2.xml"] {
            let b = bytes(file);
            let (best, r) = crate::formats::testing::best_of(20, || parse_gleif(file, &b).unwrap());
            assert!(!r.parties.is_empty());
            println!("{file} ({} bytes): {best:?} (best of 20)", b.len());
        }
        // A large LEI file: the sample's records repeated with fresh valid LEIs.
        let text = String::from_utf8(bytes("lei-data.xml")).unwrap();
        let (head, rest) = text.split_once("<lei:LEIRecord ").unwrap();
        let (records, tail) = rest.rsplit_once("</lei:LEIRecords>").unwrap();
        let records = format!("<lei:LEIRecord {records}");
        let ids: Vec<&str> = records
            .match_indices("<lei:LEI>")
            .map(|(i, _)| &records[i + 9..i + 29])
            .collect();
        let mut big = head.to_owned();
        let mut n = 0;
        for copy in 0..2000 {
            let mut chunk = records.clone();
            for id in &ids {
                let base = format!("{}{:06}", &id[..12], copy);
                let check = (0..100)
                    .map(|c| format!("{base}{c:02}"))
                    .find(|l| Lei::parse(l).is_ok())
                    .unwrap();
                chunk = chunk.replace(id, &check);
                n += 1;
            }
            big.push_str(&chunk);
        }
        big.push_str("</lei:LEIRecords>");
        big.push_str(tail);
        let start = std::time::Instant::now();
        let r = parse_gleif("big.xml", big.as_bytes()).unwrap();
        println!(
            "synthetic LEI file ({} MB, {n} records): {:?}",
            big.len() / 1_000_000,
            start.elapsed()
        );
        assert_eq!(r.parties.len(), n);
    }
}
