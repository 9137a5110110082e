//! FollowTheMoney entities, one JSON object a line, as OpenSanctions exports them
//! (`{"id", "schema", "caption", "properties": {name: [values]}}`).
//!
//! Parties are the entities of the schemas Person (→ Person), Company and Organization (→
//! Company: sources use Organization when they do not say what kind of body it is, and most
//! listed ones are firms), PublicBody (→ Government), LegalEntity (person or company unknown →
//! Other), Vessel and Airplane (→ Other). For each party:
//!
//! - name: the `caption` (OpenSanctions' display name), else the first `name`; aliases: the
//!   other `name`s, then `alias` and `previousName` (`weakAlias` is left out: short forms
//!   such as "CST" match far too much);
//! - jurisdiction: the first ISO code among `jurisdiction`, `mainCountry`, `country`, then its
//!   `Address` entities' `country`; codes are upper-cased, pseudo codes ("eu", "suhh", "xk")
//!   skipped;
//! - identifiers: `leiCode` → lei, `registrationNumber`/`ogrnCode` → registration_number,
//!   `innCode`/`taxNumber` → tax_id, `imoNumber` → imo, `swiftBic` → swift, `passportNumber`
//!   → passport, `idNumber` → national_id;
//! - sanctioned: the topic `sanction` (not `sanction.linked`), or a `Sanction` entity naming
//!   it, whatever that sanction's `endDate`.
//!
//! The records are the sanctioned parties, with the countries of `jurisdiction`,
//! `mainCountry`, `country`, `nationality`, `citizenship` and their addresses; programs from
//! the party's `programId` and its sanctions' `programId` (else `program`); listed_on the
//! earliest `listingDate` (else `startDate`) of its sanctions (a partial date such as "2023"
//! counts from its first day).
//!
//! The graph holds every party and every `Ownership` (owner → asset) between two parties.
//! An `Ownership` or `Sanction` naming an id that is not in the file is an error: the file is
//! then incomplete (cut at a line boundary, say), and a silently missing ownership link would
//! hide a sanctioned owner. One naming an entity that is in the file but is no party (a
//! security, say), or owning itself, is skipped with a note. `addressEntity` references to
//! addresses not in the file are ignored (OpenSanctions exports omit many).

use std::collections::HashMap;

use serde::Deserialize;

use super::record::{Draft, Notes};
use super::text::{SeenIds, at_line, clean, decode_utf8, iso_period};
use super::{FormatError, Holding, ListRecord, Parsed, Party, SourceGraph, Stake, country};
use crate::domain::{EntityKind, Jurisdiction, check_id};

const PARTY_SCHEMAS: [(&str, EntityKind); 7] = [
    ("Person", EntityKind::Person),
    ("Company", EntityKind::Company),
    ("Organization", EntityKind::Company),
    ("PublicBody", EntityKind::Government),
    ("LegalEntity", EntityKind::Other),
    ("Vessel", EntityKind::Other),
    ("Airplane", EntityKind::Other),
];

const IDENTIFIERS: [(&str, &str); 9] = [
    ("leiCode", "lei"),
    ("registrationNumber", "registration_number"),
    ("ogrnCode", "registration_number"),
    ("innCode", "tax_id"),
    ("taxNumber", "tax_id"),
    ("imoNumber", "imo"),
    ("swiftBic", "swift"),
    ("passportNumber", "passport"),
    ("idNumber", "national_id"),
];

/// Where a party's jurisdiction comes from, in order of preference.
const JURISDICTION: [&str; 3] = ["jurisdiction", "mainCountry", "country"];
/// Where a record's countries come from.
const COUNTRIES: [&str; 5] = [
    "jurisdiction",
    "mainCountry",
    "country",
    "nationality",
    "citizenship",
];

#[derive(Deserialize)]
struct Entity {
    id: String,
    schema: String,
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    properties: HashMap<String, Vec<String>>,
}

impl Entity {
    fn values(&self, prop: &str) -> impl Iterator<Item = &str> {
        self.properties
            .get(prop)
            .into_iter()
            .flatten()
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn first(&self, prop: &str) -> Option<&str> {
        self.values(prop).next()
    }

    fn kind(&self) -> Option<EntityKind> {
        PARTY_SCHEMAS
            .iter()
            .find(|(s, _)| *s == self.schema)
            .map(|(_, k)| *k)
    }
}

/// The entities of the file, in order, with their lines and an index by id.
struct Doc<'a> {
    file: &'a str,
    entities: Vec<(usize, Entity)>,
    index: HashMap<String, usize>,
}

impl<'a> Doc<'a> {
    fn read(file: &'a str, bytes: &[u8]) -> Result<Self, FormatError> {
        // No final line break is required: a JSON object cut anywhere is invalid JSON.
        let text = decode_utf8(file, bytes)?;
        let mut seen = SeenIds::default();
        let mut entities = Vec::new();
        let mut index = HashMap::new();
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let at = at_line(file, n + 1);
            let e: Entity = serde_json::from_str(line)
                .map_err(|e| FormatError::new(&at, format!("not an FtM entity: {e}")))?;
            seen.check(&e.id, &at)?;
            index.insert(e.id.clone(), entities.len());
            entities.push((n + 1, e));
        }
        if entities.is_empty() {
            return Err(FormatError::new(at_line(file, 1), "no entities"));
        }
        Ok(Self {
            file,
            entities,
            index,
        })
    }

    fn at(&self, i: usize) -> String {
        at_line(self.file, self.entities[i].0)
    }

    fn error(&self, i: usize, message: impl Into<String>) -> FormatError {
        FormatError::new(self.at(i), message)
    }

    /// The entity that `prop` of entity `i` names; an id missing from the file is an error.
    fn reference(&self, i: usize, prop: &str) -> Result<usize, FormatError> {
        let e = &self.entities[i].1;
        let id = e
            .first(prop)
            .ok_or_else(|| self.error(i, format!("{} '{}' has no {prop}", e.schema, e.id)))?;
        self.index.get(id).copied().ok_or_else(|| {
            self.error(
                i,
                format!("{prop} '{id}' is not in the file: the file is incomplete"),
            )
        })
    }

    /// The countries of the `Address` entities that entity `i` names and the file holds.
    fn address_countries(&self, i: usize) -> impl Iterator<Item = &str> {
        self.entities[i]
            .1
            .values("addressEntity")
            .filter_map(|id| self.index.get(id))
            .map(|&a| &self.entities[a].1)
            .filter(|a| a.schema == "Address")
            .flat_map(|a| a.values("country"))
    }
}

pub fn parse(file: &str, bytes: &[u8]) -> Result<Parsed, FormatError> {
    let doc = Doc::read(file, bytes)?;
    let mut notes = Notes::default();
    let sanctions = sanctions_by_party(&doc, &mut notes)?;
    let mut records = Vec::new();
    let mut parties = Vec::new();
    for (i, (_, e)) in doc.entities.iter().enumerate() {
        let Some(kind) = e.kind() else { continue };
        let own = sanctions.get(&i).map_or(&[][..], Vec::as_slice);
        let sanctioned = !own.is_empty() || e.values("topics").any(|t| t == "sanction");
        let record = party_record(&doc, i, kind, own, &mut notes)?;
        parties.push(Party {
            id: record.id.to_string(),
            kind,
            name: record.name.clone(),
            aliases: record.aliases.clone(),
            jurisdiction: jurisdiction(&doc, i),
            identifiers: record.identifiers.clone(),
            sanctioned,
        });
        if sanctioned {
            records.push(record);
        }
    }
    let mut holdings = Vec::new();
    for (i, (_, e)) in doc.entities.iter().enumerate() {
        if e.schema == "Ownership"
            && let Some(h) = holding(&doc, i, &mut notes)?
        {
            holdings.push(h);
        }
    }
    Ok(Parsed {
        records,
        graph: Some(SourceGraph { parties, holdings }),
        notes: notes.into_lines(),
    })
}

/// The `Sanction` entities naming each party, by position.
fn sanctions_by_party(
    doc: &Doc,
    notes: &mut Notes,
) -> Result<HashMap<usize, Vec<usize>>, FormatError> {
    let mut out: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, (_, e)) in doc.entities.iter().enumerate() {
        if e.schema != "Sanction" {
            continue;
        }
        let target = doc.reference(i, "entity")?;
        if doc.entities[target].1.kind().is_some() {
            out.entry(target).or_default().push(i);
        } else {
            notes.push(format!(
                "{}: Sanction '{}' names no party; skipped",
                doc.at(i),
                e.id
            ));
        }
    }
    Ok(out)
}

/// Every ISO code among `props` of entity `i`, then its addresses' countries.
fn codes<'d>(doc: &'d Doc, i: usize, props: &'d [&'d str]) -> impl Iterator<Item = &'d str> {
    let e = &doc.entities[i].1;
    props
        .iter()
        .flat_map(|p| e.values(p))
        .chain(doc.address_countries(i))
}

fn jurisdiction(doc: &Doc, i: usize) -> Option<Jurisdiction> {
    codes(doc, i, &JURISDICTION).find_map(country::by_code)
}

/// The party as a record: names, kind, countries, identifiers, and what its sanctions say.
fn party_record(
    doc: &Doc,
    i: usize,
    kind: EntityKind,
    sanctions: &[usize],
    notes: &mut Notes,
) -> Result<ListRecord, FormatError> {
    let e = &doc.entities[i].1;
    let mut d = Draft::new(&e.id);
    d.kind = Some(kind);
    let caption = e.caption.as_deref().map(clean).filter(|c| !c.is_empty());
    let name = caption
        .or_else(|| e.first("name").map(clean))
        .unwrap_or_default();
    d.set_name(&name);
    for alias in ["name", "alias", "previousName"]
        .iter()
        .flat_map(|p| e.values(p))
    {
        d.alias(alias);
    }
    for code in codes(doc, i, &COUNTRIES) {
        d.country_code(code, notes);
    }
    for (prop, scheme) in IDENTIFIERS {
        for v in e.values(prop) {
            d.identifier(scheme, v, notes);
        }
    }
    for p in e.values("programId") {
        d.program(p);
    }
    for &s in sanctions {
        let sanction = &doc.entities[s].1;
        let ids: Vec<&str> = sanction.values("programId").collect();
        let named = if ids.is_empty() {
            sanction.values("program").collect()
        } else {
            ids
        };
        for p in named {
            d.program(p);
        }
        let listed = earliest(doc, s, "listingDate")?.or(earliest(doc, s, "startDate")?);
        d.listed_on = d.listed_on.into_iter().chain(listed).min();
    }
    d.finish(notes).map_err(|m| doc.error(i, m))
}

/// The earliest first day of the dates in `prop` of entity `i`; a malformed date is an error.
fn earliest(doc: &Doc, i: usize, prop: &str) -> Result<Option<chrono::NaiveDate>, FormatError> {
    let mut first = None;
    for v in doc.entities[i].1.values(prop) {
        let (start, _) = period(doc, i, prop, v)?;
        first = first.into_iter().chain([start]).min();
    }
    Ok(first)
}

fn period(
    doc: &Doc,
    i: usize,
    prop: &str,
    v: &str,
) -> Result<(chrono::NaiveDate, chrono::NaiveDate), FormatError> {
    iso_period(v).ok_or_else(|| doc.error(i, format!("{prop} '{v}' is not an ISO 8601 date")))
}

/// An `Ownership` between two parties; `None` (noted) when either end is no party or both
/// are the same.
fn holding(doc: &Doc, i: usize, notes: &mut Notes) -> Result<Option<Holding>, FormatError> {
    let e = &doc.entities[i].1;
    let (owner, owned) = (doc.reference(i, "owner")?, doc.reference(i, "asset")?);
    let (owner, owned) = (&doc.entities[owner].1, &doc.entities[owned].1);
    if owner.kind().is_none() || owned.kind().is_none() || owner.id == owned.id {
        notes.push(format!(
            "{}: Ownership '{}' is not between two different parties; skipped",
            doc.at(i),
            e.id
        ));
        return Ok(None);
    }
    check_id(&e.id).map_err(|err| doc.error(i, format!("id '{}': {err}", e.id)))?;
    let from = e
        .first("startDate")
        .map(|v| period(doc, i, "startDate", v))
        .transpose()?;
    let to = e
        .first("endDate")
        .map(|v| period(doc, i, "endDate", v))
        .transpose()?;
    let (valid_from, valid_to) = (from.map(|p| p.0), to.map(|p| p.1));
    if let (Some(f), Some(t)) = (valid_from, valid_to)
        && t <= f
    {
        return Err(doc.error(i, "endDate is before startDate"));
    }
    let percentage = e.first("percentage").map(str::to_owned);
    Ok(Some(Holding {
        id: e.id.clone(),
        owner: owner.id.clone(),
        owned: owned.id.clone(),
        stake: percentage.as_deref().map_or(Stake::Unknown, stake),
        percentage,
        valid_from,
        valid_to,
        role: e.first("role").map(clean),
    }))
}

/// A percentage as sources write it: "50", "50%", "12,5", "25-50", "25% to 50%".
fn stake(raw: &str) -> Stake {
    let number = |s: &str| {
        let s = s.trim().trim_end_matches('%').trim().replace(',', ".");
        s.parse::<f64>().ok().filter(|v| v.is_finite())
    };
    let t = raw.trim();
    let range = t
        .split_once(" to ")
        .or_else(|| t.split_once('–'))
        .or_else(|| t.split_once('-').filter(|(a, _)| !a.trim().is_empty()));
    let (min, max) = match range {
        Some((a, b)) => (number(a), number(b)),
        None => (number(t), number(t)),
    };
    match (min, max) {
        (Some(min), Some(max)) if min == max && min > 0.0 && min <= 100.0 => Stake::Share(min),
        (Some(min), Some(max)) if 0.0 <= min && min < max && max <= 100.0 => {
            Stake::Range { min, max }
        }
        _ => Stake::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testing::{assert_cuts, find, names_of};
    use crate::testdata::read_shared;

    const ZALA: &str = "sanctions/opensanctions/ftm/zala_cluster.entities.ftm.json";
    const T1: &str = "sanctions/opensanctions/ftm/t1.entities.ftm.json";
    const CST: &str = "NK-abdzbEBkqyT29GyREbiURZ";
    const ZAKHAROV: &str = "NK-aU5ybkbRFJucf8YMwsJvDw";
    const KALASHNIKOV: &str = "NK-nR5AXM9AVPq4pQaSPSaVam";

    fn zala() -> Parsed {
        parse("zala.ftm.json", &read_shared(ZALA)).unwrap()
    }

    fn owners_of<'a>(graph: &'a SourceGraph, owned: &str) -> Vec<(&'a str, Stake)> {
        graph
            .holdings
            .iter()
            .filter(|h| h.owned == owned)
            .map(|h| (h.owner.as_str(), h.stake))
            .collect()
    }

    #[test]
    fn the_zala_cluster_gives_13_sanctioned_parties_and_14_holdings() {
        let p = zala();
        let ids: Vec<&str> = p.records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "NK-2Tbri3s6GgNtAwsSXh4qpL",
                "NK-DQ98GPMgdVH8DSZd8g9Xtc",
                "NK-DSxJ9ZzHxBBMyEMnnTBhai",
                "NK-ERScv7cLkkvZ3ejz7xiToj",
                "NK-JseaPJctnK9o8wrmz8xmoT",
                ZAKHAROV,
                CST,
                "NK-cPks3aTbes8k4aCerfBAzN",
                "NK-cWSvGMvufNH5KwEV88FwTA",
                "NK-hUAjuiA3vTKXF6v2X6MYnS",
                "NK-iE6m5ryPeTAMZozfECVSL7",
                "NK-mCEmxFfuhfdjpC8gsxH74o",
                KALASHNIKOV,
            ]
        );
        let graph = p.graph.unwrap();
        assert_eq!(graph.parties.len(), 17);
        assert_eq!(graph.holdings.len(), 14);
        let association = graph
            .parties
            .iter()
            .find(|p| p.id == "NK-SiYwWfxwLVrVeFswsvAvsm")
            .unwrap();
        assert!(!association.sanctioned, "sanction.linked is not sanction");
        assert_eq!(association.kind, EntityKind::Company);
        let kalashnikov = graph.parties.iter().find(|p| p.id == KALASHNIKOV).unwrap();
        assert!(kalashnikov.sanctioned);
        assert_eq!(
            kalashnikov.jurisdiction.map(|j| j.to_string()).as_deref(),
            Some("RU")
        );
    }

    #[test]
    fn zala_aero_has_its_owners_with_stakes_and_dates() {
        let p = zala();
        let graph = p.graph.as_ref().unwrap();
        let mut owners = owners_of(graph, CST);
        owners.sort_by(|a, b| a.0.cmp(b.0));
        assert_eq!(
            owners,
            [
                ("NK-DQ98GPMgdVH8DSZd8g9Xtc", Stake::Share(1.0)),
                ("NK-DSxJ9ZzHxBBMyEMnnTBhai", Stake::Share(2.0)),
                (ZAKHAROV, Stake::Share(50.0)),
                (ZAKHAROV, Stake::Share(48.0)),
                (ZAKHAROV, Stake::Share(51.0)),
                (KALASHNIKOV, Stake::Unknown),
                (KALASHNIKOV, Stake::Share(49.0)),
            ]
        );
        let subsidiary = graph
            .holdings
            .iter()
            .find(|h| h.id == "NK-3NyeuT6JeJDLhGEyH3JD52")
            .unwrap();
        assert_eq!(subsidiary.role.as_deref(), Some("subsidiary of"));
        assert_eq!(subsidiary.percentage, None);
        // JSC Zala Aero, held by Zakharov from 2024-03-22 to 2024-06-24 inclusive.
        let jsc = graph
            .holdings
            .iter()
            .find(|h| h.owned == "NK-cPks3aTbes8k4aCerfBAzN")
            .unwrap();
        assert_eq!(jsc.owner, ZAKHAROV);
        assert_eq!(jsc.valid_from.unwrap().to_string(), "2024-03-22");
        assert_eq!(jsc.valid_to.unwrap().to_string(), "2024-06-25");
        let cst = find(&p.records, CST);
        assert_eq!(cst.name.as_str(), "LLC CST");
        assert!(names_of(&cst.aliases).contains(&"Zala Aero"));
        assert!(
            !names_of(&cst.aliases).contains(&"CST"),
            "weakAlias left out"
        );
        assert_eq!(cst.kind, Some(EntityKind::Company));
        assert_eq!(
            cst.countries
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["RU"]
        );
        assert!(
            cst.identifiers
                .contains(&("registration_number".to_owned(), "1101841007938".to_owned()))
        );
        assert!(
            cst.identifiers
                .contains(&("tax_id".to_owned(), "1841015504".to_owned()))
        );
        assert_eq!(cst.programs[0].as_str(), "UA-WS-MILIND");
        assert!(cst.programs.iter().any(|p| p.as_str() == "EU-UKR"));
        assert_eq!(cst.listed_on.unwrap().to_string(), "2021-10-30");
        assert_eq!(
            find(&p.records, ZAKHAROV).listed_on.unwrap().to_string(),
            "2023-07-01"
        );
    }

    #[test]
    fn the_t1_organisations_are_companies() {
        let p = parse("t1.ftm.json", &read_shared(T1)).unwrap();
        assert_eq!(p.records.len(), 6);
        let irgc = find(&p.records, "NK-2PacmNpiLUmoz4XD2mSt7A");
        assert_eq!(irgc.kind, Some(EntityKind::Company));
        assert_eq!(
            irgc.countries
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["IR"]
        );
        assert!(p.graph.unwrap().holdings.is_empty());
    }

    #[test]
    fn percentages_are_read_faithfully() {
        assert_eq!(stake("50"), Stake::Share(50.0));
        assert_eq!(stake("50%"), Stake::Share(50.0));
        assert_eq!(stake("12,5"), Stake::Share(12.5));
        assert_eq!(
            stake("25-50"),
            Stake::Range {
                min: 25.0,
                max: 50.0
            }
        );
        assert_eq!(
            stake("25% to 50%"),
            Stake::Range {
                min: 25.0,
                max: 50.0
            }
        );
        assert_eq!(
            stake("0-25"),
            Stake::Range {
                min: 0.0,
                max: 25.0
            }
        );
        for bad in ["", "abc", "0", "120", "-5", "50-25", "NaN", "inf"] {
            assert_eq!(stake(bad), Stake::Unknown, "{bad}");
        }
    }

    fn line(id: &str, schema: &str, props: &str) -> String {
        format!("{{\"id\": \"{id}\", \"schema\": \"{schema}\", \"properties\": {{{props}}}}}\n")
    }

    #[test]
    fn dangling_references_bad_dates_and_duplicates_are_errors() {
        let a = line("a", "Company", r#""name": ["A"], "topics": ["sanction"]"#);
        let own = |owner: &str, extra: &str| {
            line(
                "o",
                "Ownership",
                &format!(r#""owner": ["{owner}"], "asset": ["a"]{extra}"#),
            )
        };
        let err = parse("f.json", format!("{a}{}", own("zz", "")).as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "f.json line 2: owner 'zz' is not in the file: the file is incomplete"
        );
        let b = line("b", "Person", r#""name": ["B"]"#);
        let bad_date = own("b", r#", "startDate": ["2020-02-30"]"#);
        let err = parse("f.json", format!("{a}{b}{bad_date}").as_bytes()).unwrap_err();
        assert_eq!(err.at, "f.json line 3");
        let err = parse("f.json", format!("{a}{a}").as_bytes()).unwrap_err();
        assert!(err.message.contains("duplicate id 'a'"), "{err}");
        let err = parse("f.json", b"{\"id\": \"x\"}\n").unwrap_err();
        assert!(err.message.contains("not an FtM entity"), "{err}");
        let nameless = line("n", "Person", "");
        assert_eq!(
            parse("f.json", nameless.as_bytes()).unwrap_err().message,
            "the name is empty"
        );
        assert_eq!(parse("f.json", b"\n").unwrap_err().message, "no entities");
        let sanction = line("s", "Sanction", r#""entity": ["gone"]"#);
        assert_eq!(
            parse("f.json", sanction.as_bytes()).unwrap_err().at,
            "f.json line 1"
        );
    }

    #[test]
    fn non_party_ends_are_skipped_with_a_note() {
        let a = line("a", "Company", r#""name": ["A"]"#);
        let sec = line("s", "Security", r#""name": ["S"]"#);
        let own = line(
            "o",
            "Ownership",
            r#""owner": ["a"], "asset": ["s"], "percentage": ["10"]"#,
        );
        let p = parse("f.json", format!("{a}{sec}{own}").as_bytes()).unwrap();
        assert!(p.graph.unwrap().holdings.is_empty());
        assert_eq!(
            p.notes,
            ["f.json line 3: Ownership 'o' is not between two different parties; skipped"]
        );
    }

    #[test]
    fn cuts_inside_lines_are_rejected() {
        assert_cuts(&read_shared(ZALA), |b| parse("zala.ftm.json", b), true);
    }
}
