//! OFAC's `sdnList` XML (namespaced; read by local names).
//!
//! - id: `uid`; name: "lastName, firstName" as in OFAC's CSV (or whichever is given);
//! - kind: `sdnType` (Individual → Person, Entity → Company, Vessel/Aircraft → Other);
//! - programs: `programList/program`; aliases: `akaList/aka`, named like the entry;
//! - countries: nationalities, citizenships, address countries and the vessel flag;
//! - identifiers: `idList/id` whose `idType` is a known label (see [`super::ofac`]);
//! - no per-entry dates, so `listed_on` is `None`.

use super::ofac;
use super::record::{Draft, Notes};
use super::xml::{Node, Record, read_list};
use super::{FormatError, ListRecord, Parsed};

pub fn parse(file: &str, bytes: &[u8]) -> Result<Parsed, FormatError> {
    read_list(file, bytes, "sdnList", &[&["sdnEntry"]], record)
}

/// "LAST, First", or whichever part is given.
fn name(n: &Node) -> String {
    match (n.child_text("lastName"), n.child_text("firstName")) {
        (Some(last), Some(first)) => format!("{last}, {first}"),
        (last, first) => last.or(first).unwrap_or_default().to_owned(),
    }
}

fn record(rec: &Record, notes: &mut Notes) -> Result<ListRecord, FormatError> {
    let n = &rec.node;
    let id = n.child_text("uid").ok_or_else(|| rec.error(n, "no uid"))?;
    let mut d = Draft::new(id);
    d.set_name(&name(n));
    d.kind = Some(ofac::kind(n.child_text("sdnType")));
    for p in n.path(&["programList", "program"]) {
        d.program(p.text().unwrap_or_default());
    }
    for aka in n.path(&["akaList", "aka"]) {
        d.alias(&name(aka));
    }
    let countries = [
        n.path(&["nationalityList", "nationality", "country"]),
        n.path(&["citizenshipList", "citizenship", "country"]),
        n.path(&["addressList", "address", "country"]),
        n.path(&["vesselInfo", "vesselFlag"]),
    ];
    for c in countries.iter().flatten() {
        d.country_name(c.text().unwrap_or_default(), notes);
    }
    for i in n.path(&["idList", "id"]) {
        let scheme = i.child_text("idType").and_then(ofac::id_scheme);
        if let (Some(scheme), Some(number)) = (scheme, i.child_text("idNumber")) {
            d.identifier(scheme, ofac::id_value(scheme, number), notes);
        }
    }
    d.finish(notes).map_err(|m| rec.error(n, m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EntityKind;
    use crate::formats::testing::{assert_cuts_rejected, find, names_of};
    use crate::testdata::read_shared;

    const SAMPLE: &str = "sanctions/ofac/sdn_xml_excerpt_2020-04-22.xml";

    #[test]
    fn the_excerpt_gives_its_eight_entries() {
        let p = parse("sdn.xml", &read_shared(SAMPLE)).unwrap();
        let ids: Vec<&str> = p.records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "10689", "18619", "19187", "19188", "12057", "15496", "15497", "12345"
            ]
        );
        let saeed = find(&p.records, "10689");
        assert_eq!(saeed.name.as_str(), "SAEED, Muhammad");
        assert_eq!(saeed.kind, Some(EntityKind::Person));
        assert_eq!(names_of(&saeed.aliases)[0], "SAEED, Hafiz Muhammad");
        assert_eq!(
            saeed
                .countries
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["PK"]
        );
        assert_eq!(
            saeed.identifiers,
            [
                ("passport".to_owned(), "Booklet A5250088".to_owned()),
                ("passport".to_owned(), "BE5978421".to_owned()),
                ("national_id".to_owned(), "23250460642".to_owned()),
                ("national_id".to_owned(), "3520025509842-7".to_owned()),
            ]
        );
        let troll = find(&p.records, "19187");
        assert_eq!(troll.name.as_str(), "TROLL PROPERTIES, INC.");
        assert_eq!(troll.kind, Some(EntityKind::Company));
        assert_eq!(
            troll.identifiers,
            [("tax_id".to_owned(), "991715-1-534344".to_owned())]
        );
        let naqdi = find(&p.records, "12057");
        assert_eq!(naqdi.programs.len(), 6);
        // Not a real identifier type ("Gender", "Additional Sanctions Information -").
        assert!(naqdi.identifiers.is_empty());
    }

    #[test]
    fn every_cut_is_rejected() {
        assert_cuts_rejected(&read_shared(SAMPLE), |b| parse("sdn.xml", b));
    }

    #[test]
    fn a_wrong_root_is_named() {
        let err = parse("x.xml", b"<CONSOLIDATED_LIST/>").unwrap_err();
        assert!(err.message.contains("<sdnList>"), "{err}");
    }
}
