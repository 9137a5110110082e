//! The synthetic registry as registry files, for import-throughput benchmarks: GLEIF golden
//! copy XML (LEI-CDF, RR-CDF, reporting exceptions) and the UK PSC snapshot (JSON Lines), and
//! as our registry model ([`formats::Registry`]), which the BODS writer exports.
//!
//! The three views follow one set of rules, so that they agree:
//!
//! - **LEIs**: every group's parent (a standalone company is its own), every fund and about
//!   three in ten other companies and partnerships hold one, made from the entity's index
//!   (`SYNT00` and twelve characters, then the ISO 17442 check digits), so an entity keeps its
//!   LEI across sizes and seeds.
//! - **Owners declared unknown**: a group's parent with no link into it at all (bearer shares,
//!   a register that does not say) declares `NO_KNOWN_PERSON` (three in five) or `NON_PUBLIC`.
//! - **Registration numbers** are [`Generated::registration_number`]; the PSC snapshot treats
//!   every company, partnership and fund as registered at Companies House under that number,
//!   so that the snapshot reaches the volume of the registry.
//!
//! The file writers stream through a `BufWriter`: records are written as they are made, never
//! held as one document.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use chrono::NaiveDate;
use quick_xml::escape::escape;
use serde::Serialize;

use super::{Link, Registry as Generated, entity_id, horizon};
use crate::domain::{EntityKind, Interest, Jurisdiction, Lei, Name};
use crate::formats::{self, BANDS, DeclaredUnknown, RegistryLink, RegistryParty, ShareBounds};

/// The `source` of the parties of [`to_registry`].
pub const SOURCE: &str = "synthetic";

/// What a writer wrote, for the caller to report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Records written: LEI, relationship and exception records; PSC, statement and totals
    /// lines.
    pub records: u64,
    /// Bytes written, all files together.
    pub bytes: u64,
    /// Parties a reader takes from the files: the LEI records; for PSC, every company named
    /// by its number plus one party per individual or legal-person line.
    pub parties: u64,
    /// Links a reader takes: relationship records; PSC natures of control.
    pub links: u64,
    /// Owners declared unknown: reporting exceptions; PSC statements.
    pub unknowns: u64,
    /// PSC: generated links that are no PSC (a holding of 25% or less, a consolidation, or a
    /// link into an entity without a registration number). GLEIF: 0 (its relationships are
    /// consolidations, derived from majority holdings rather than one per link).
    pub skipped: u64,
}

/// A hash of an entity index, to draw per-entity choices that do not depend on the seed.
fn mix(ix: u32) -> u64 {
    let mut z = u64::from(ix).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Whether entity `ix` holds an LEI (see the module docs).
fn has_lei(g: &Generated, ix: u32) -> bool {
    let e = &g.entities()[ix as usize];
    match e.kind {
        EntityKind::Fund => true,
        EntityKind::Company | EntityKind::Partnership => e.group == Some(ix) || mix(ix) % 10 < 3,
        _ => false,
    }
}

/// The LEI of entity `ix` (whether it holds one or not): `SYNT00`, the index multiplied by a
/// constant coprime to 36 modulo 36^12 in twelve base-36 digits (a permutation, so LEIs are
/// unique and look random), and the check digits.
fn lei(ix: u32) -> Lei {
    const SPACE: u128 = 36u128.pow(12);
    const FACTOR: u128 = 3_141_592_653_589_793_239;
    let mut n = u128::from(ix) * FACTOR % SPACE;
    let mut digits = [b'0'; 12];
    for d in digits.iter_mut().rev() {
        let v = (n % 36) as u8;
        *d = if v < 10 { b'0' + v } else { b'A' + v - 10 };
        n /= 36;
    }
    let mut base = String::with_capacity(18);
    base.push_str("SYNT00");
    base.extend(digits.iter().map(|&d| char::from(d)));
    Lei::with_check_digits(&base).unwrap_or_else(|_| unreachable!("18 upper-case alphanumerics"))
}

/// The links into each entity, by position in [`Generated::links`].
struct Holders {
    start: Vec<u32>,
    links: Vec<u32>,
}

impl Holders {
    fn new(g: &Generated) -> Self {
        let n = g.entities().len();
        let mut start = vec![0u32; n + 1];
        for l in g.links() {
            start[l.owned as usize + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut next = start.clone();
        let mut links = vec![0u32; g.links().len()];
        for (k, l) in (0u32..).zip(g.links()) {
            let at = &mut next[l.owned as usize];
            links[*at as usize] = k;
            *at += 1;
        }
        Self { start, links }
    }

    fn of(&self, ix: u32) -> &[u32] {
        &self.links[self.start[ix as usize] as usize..self.start[ix as usize + 1] as usize]
    }
}

/// The reason a group's parent with no link into it declares its owners unknown; `None`
/// for every other entity.
fn unknown_owner(g: &Generated, into: &Holders, ix: u32) -> Option<&'static str> {
    let e = &g.entities()[ix as usize];
    let top = e.level == 1 && e.group == Some(ix) && into.of(ix).is_empty();
    top.then(|| {
        if mix(ix) % 5 < 3 {
            "NO_KNOWN_PERSON"
        } else {
            "NON_PUBLIC"
        }
    })
}

fn name(g: &Generated, ix: u32) -> Name {
    Name::parse(g.name(ix)).unwrap_or_else(|_| unreachable!("generated names are valid names"))
}

/// The share of a link as bounds: exact, a range, or none for `board`, `control` and
/// `consolidation`.
fn share_bounds(l: &Link) -> ShareBounds {
    if !l.interest.is_quantified() {
        ShareBounds::UNKNOWN
    } else if l.min == l.max {
        ShareBounds {
            exact: Some(l.min_percent()),
            ..ShareBounds::UNKNOWN
        }
    } else {
        ShareBounds {
            min: Some(l.min_percent()),
            max: Some(l.max_percent()),
            ..ShareBounds::UNKNOWN
        }
    }
}

/// The synthetic registry in our registry model: a party per entity (id [`entity_id`]), a
/// link per generated link (id `link-{position + 1}`), and the owners declared unknown.
pub fn to_registry(g: &Generated) -> formats::Registry {
    let into = Holders::new(g);
    let n = g.entities().len() as u32;
    let parties = (0..n)
        .map(|ix| {
            let e = &g.entities()[ix as usize];
            let mut identifiers = Vec::new();
            if has_lei(g, ix) {
                identifiers.push(("lei".to_owned(), lei(ix).as_str().to_owned()));
            }
            if let Some(number) = g.registration_number(ix) {
                identifiers.push(("registration_number".to_owned(), number));
            }
            RegistryParty {
                id: entity_id(ix),
                kind: e.kind,
                name: name(g, ix),
                aliases: Vec::new(),
                jurisdiction: e.jurisdiction,
                headquarters: e.headquarters,
                identifiers,
                source: SOURCE.to_owned(),
                placeholder: false,
            }
        })
        .collect();
    let links = (1..)
        .zip(g.links())
        .map(|(k, l)| RegistryLink {
            id: format!("link-{k}"),
            owner: entity_id(l.owner),
            owned: entity_id(l.owned),
            interest: l.interest,
            share: share_bounds(l),
            valid_from: l.valid_from,
            valid_to: l.valid_to,
            // A group's parent consolidating a company it does not hold directly.
            declared_indirect: l.interest == Interest::Consolidation,
            details: None,
        })
        .collect();
    let unknowns = (0..n)
        .filter_map(|ix| {
            let reason = unknown_owner(g, &into, ix)?;
            Some(DeclaredUnknown {
                id: format!("{}/owners-unknown", entity_id(ix)),
                subject: entity_id(ix),
                interest: None,
                share: ShareBounds::UNKNOWN,
                reason: reason.to_owned(),
                details: Some("no owner on record".to_owned()),
                valid_from: None,
                valid_to: None,
            })
        })
        .collect();
    formats::Registry {
        parties,
        links,
        unknowns,
        notes: Vec::new(),
    }
}

/// More than half of the shares, known: an exact majority or a band above 50%.
fn majority(l: &Link) -> bool {
    l.interest == Interest::Shares
        && l.valid_to.is_none()
        && (l.min > 5_000 || (l.min == 5_000 && l.max > l.min))
}

const DIRECT: &str = "DIRECT_ACCOUNTING_CONSOLIDATION_PARENT";
const ULTIMATE: &str = "ULTIMATE_ACCOUNTING_CONSOLIDATION_PARENT";

/// What the level 2 files say about one LEI holder.
#[derive(Default)]
struct Parents {
    /// The current majority holding by a holder of an LEI: `IS_DIRECTLY_CONSOLIDATED_BY`.
    direct: Option<u32>,
    /// The group's parent, when it holds an LEI and is not the direct parent:
    /// `IS_ULTIMATELY_CONSOLIDATED_BY`.
    ultimate: Option<u32>,
    /// Reporting exceptions: `(category, reason)`.
    exceptions: Vec<(&'static str, &'static str)>,
}

fn parents(g: &Generated, into: &Holders, ix: u32) -> Parents {
    let links = g.links();
    let kind = |o: u32| g.entities()[o as usize].kind;
    let current: Vec<&Link> = into
        .of(ix)
        .iter()
        .map(|&k| &links[k as usize])
        .filter(|l| l.interest == Interest::Shares && l.valid_to.is_none())
        .collect();
    let major = current.iter().find(|l| majority(l)).map(|l| l.owner);
    let mut p = Parents {
        direct: major.filter(|&o| has_lei(g, o)),
        ..Parents::default()
    };
    let top = g.entities()[ix as usize].group.filter(|&t| t != ix);
    if let (Some(t), Some(o)) = (top, major)
        && o != t
        && has_lei(g, t)
    {
        p.ultimate = Some(t);
    }
    if p.direct.is_none() {
        let reason = match major.map(kind) {
            Some(EntityKind::Person) => "NATURAL_PERSONS",
            Some(EntityKind::Company | EntityKind::Partnership | EntityKind::Fund) => "NO_LEI",
            Some(_) => "NON_CONSOLIDATING",
            None if current.is_empty() => unknown_owner(g, into, ix).unwrap_or("NO_KNOWN_PERSON"),
            None if current.iter().all(|l| kind(l.owner) == EntityKind::Person) => {
                "NATURAL_PERSONS"
            }
            None => "NON_CONSOLIDATING",
        };
        p.exceptions.push((DIRECT, reason));
        if p.ultimate.is_none() {
            p.exceptions.push((ULTIMATE, reason));
        }
    } else if p.ultimate.is_none() && top.is_some_and(|t| major != Some(t)) {
        // The direct parent is not the group's parent, which holds no LEI.
        p.exceptions.push((ULTIMATE, "NO_LEI"));
    }
    p
}

/// A GLEIF timestamp of a date.
fn stamp(d: NaiveDate) -> String {
    format!("{d}T00:00:00Z")
}

fn element(w: &mut impl Write, indent: &str, tag: &str, text: &str) -> io::Result<()> {
    writeln!(w, "{indent}<{tag}>{}</{tag}>", escape(text))
}

fn create(path: &Path) -> io::Result<BufWriter<File>> {
    Ok(BufWriter::with_capacity(1 << 20, File::create(path)?))
}

/// Flushes and closes the file; its size.
fn finish(w: BufWriter<File>) -> io::Result<u64> {
    let file = w.into_inner().map_err(io::IntoInnerError::into_error)?;
    Ok(file.metadata()?.len())
}

/// Writes the registry ([`to_registry`]) as BODS 0.4 statements to `path`, with the product's
/// own exporter. Records are the statements: one per party, one per pair of linked parties
/// (BODS relationships hold every interest between two parties) and one per declared unknown.
pub fn write_bods(g: &Generated, path: &Path) -> io::Result<Counts> {
    let registry = to_registry(g);
    let mut w = create(path)?;
    formats::write_bods(
        &registry,
        &formats::Publication::today("ownergraph synthetic registry"),
        &mut w,
    )?;
    let pairs: std::collections::HashSet<(&str, &str)> = registry
        .links
        .iter()
        .map(|l| (l.owner.as_str(), l.owned.as_str()))
        .collect();
    Ok(Counts {
        records: (registry.parties.len() + pairs.len() + registry.unknowns.len()) as u64,
        bytes: finish(w)?,
        parties: registry.parties.len() as u64,
        links: registry.links.len() as u64,
        unknowns: registry.unknowns.len() as u64,
        skipped: 0,
    })
}

/// Writes the GLEIF golden-copy files of the registry into `dir` (created if missing):
///
/// - `lei.xml` (LEI-CDF): a record per LEI holder, with its name, jurisdiction,
///   headquarters and registration number;
/// - `rr.xml` (RR-CDF): `IS_DIRECTLY_CONSOLIDATED_BY` where a holder of an LEI holds a current
///   majority of the shares of another, its start date the holding's `valid_from`, and
///   `IS_ULTIMATELY_CONSOLIDATED_BY` to the group's parent where that is not the direct
///   parent;
/// - `repex.xml`: a reporting exception per missing direct or ultimate parent:
///   `NATURAL_PERSONS` (held by persons), `NO_LEI` (by a company without one),
///   `NON_CONSOLIDATING` (by trusts, states, funds or minority holders), or the reason of an
///   owner declared unknown.
pub fn write_gleif(g: &Generated, dir: &Path) -> io::Result<Counts> {
    std::fs::create_dir_all(dir)?;
    let into = Holders::new(g);
    let n = g.entities().len() as u32;
    let holders: Vec<u32> = (0..n).filter(|&ix| has_lei(g, ix)).collect();
    let plans: Vec<Parents> = holders.iter().map(|&ix| parents(g, &into, ix)).collect();
    let relationships: usize = plans
        .iter()
        .map(|p| usize::from(p.direct.is_some()) + usize::from(p.ultimate.is_some()))
        .sum();
    let exceptions: usize = plans.iter().map(|p| p.exceptions.len()).sum();
    let content_date = stamp(horizon());
    let mut counts = Counts {
        parties: holders.len() as u64,
        links: relationships as u64,
        unknowns: exceptions as u64,
        ..Counts::default()
    };
    counts.records = counts.parties + counts.links + counts.unknowns;

    let lei_file = GleifFile::new(
        "lei",
        "http://www.gleif.org/data/schema/leidata/2016",
        "LEIData",
        "LEIHeader",
        "LEIRecords",
    );
    let mut w = lei_file.open(dir, &content_date, holders.len())?;
    for &ix in &holders {
        lei_record(&mut w, g, ix, &content_date)?;
    }
    counts.bytes += lei_file.close(w)?;

    let rr_file = GleifFile::new(
        "rr",
        "http://www.gleif.org/data/schema/rr/2016",
        "RelationshipData",
        "Header",
        "RelationshipRecords",
    );
    let mut w = rr_file.open(dir, &content_date, relationships)?;
    for (&ix, p) in holders.iter().zip(&plans) {
        if let Some(parent) = p.direct {
            let since = into
                .of(ix)
                .iter()
                .map(|&k| &g.links()[k as usize])
                .find(|l| l.owner == parent && majority(l))
                .and_then(|l| l.valid_from);
            let rel = Relationship {
                child: ix,
                parent,
                kind: "IS_DIRECTLY_CONSOLIDATED_BY",
                since,
            };
            rel.write(&mut w, &content_date)?;
        }
        if let Some(parent) = p.ultimate {
            let rel = Relationship {
                child: ix,
                parent,
                kind: "IS_ULTIMATELY_CONSOLIDATED_BY",
                since: None,
            };
            rel.write(&mut w, &content_date)?;
        }
    }
    counts.bytes += rr_file.close(w)?;

    let repex_file = GleifFile::new(
        "repex",
        "http://www.gleif.org/data/schema/repex/2016",
        "ReportingExceptionData",
        "Header",
        "ReportingExceptions",
    );
    let mut w = repex_file.open(dir, &content_date, exceptions)?;
    for (&ix, p) in holders.iter().zip(&plans) {
        let id = lei(ix);
        for (category, reason) in &p.exceptions {
            writeln!(
                w,
                "<repex:Exception>
   <repex:LEI>{}</repex:LEI>
   <repex:ExceptionCategory>{category}</repex:ExceptionCategory>
   <repex:ExceptionReason>{reason}</repex:ExceptionReason>
</repex:Exception>",
                id.as_str()
            )?;
        }
    }
    counts.bytes += repex_file.close(w)?;
    Ok(counts)
}

/// One of the three GLEIF files (`{prefix}.xml`): its root, header and records elements.
struct GleifFile {
    prefix: &'static str,
    namespace: &'static str,
    root: &'static str,
    header: &'static str,
    records: &'static str,
}

impl GleifFile {
    /// Prefix and namespace, then the root, header and records elements' names.
    fn new(
        prefix: &'static str,
        namespace: &'static str,
        root: &'static str,
        header: &'static str,
        records: &'static str,
    ) -> Self {
        Self {
            prefix,
            namespace,
            root,
            header,
            records,
        }
    }

    /// Creates the file and writes everything before its first record.
    fn open(&self, dir: &Path, content_date: &str, count: usize) -> io::Result<BufWriter<File>> {
        let Self {
            prefix: p,
            namespace,
            root,
            header,
            records,
        } = self;
        let mut w = create(&dir.join(format!("{p}.xml")))?;
        writeln!(
            w,
            r#"<?xml version="1.0" encoding="UTF-8"?>
<{p}:{root} xmlns:{p}="{namespace}">
  <{p}:{header}>
    <{p}:ContentDate>{content_date}</{p}:ContentDate>
    <{p}:FileContent>GLEIF_FULL_PUBLISHED</{p}:FileContent>
    <{p}:RecordCount>{count}</{p}:RecordCount>
  </{p}:{header}>
  <{p}:{records}>"#
        )?;
        Ok(w)
    }

    /// Writes everything after the last record; returns the file's size.
    fn close(&self, mut w: BufWriter<File>) -> io::Result<u64> {
        let Self {
            prefix: p,
            root,
            records,
            ..
        } = self;
        writeln!(w, "  </{p}:{records}>\n</{p}:{root}>")?;
        finish(w)
    }
}

/// An address element: the region when the place is a subdivision, and the country.
fn address(w: &mut impl Write, tag: &str, place: Jurisdiction) -> io::Result<()> {
    writeln!(w, "      <lei:{tag} xml:lang=\"en\">")?;
    if !place.is_country() {
        element(w, "         ", "lei:Region", &place.to_string())?;
    }
    element(w, "         ", "lei:Country", &place.country().to_string())?;
    writeln!(w, "      </lei:{tag}>")
}

fn lei_record(w: &mut impl Write, g: &Generated, ix: u32, updated: &str) -> io::Result<()> {
    let e = &g.entities()[ix as usize];
    writeln!(
        w,
        "<lei:LEIRecord>\n   <lei:LEI>{}</lei:LEI>",
        lei(ix).as_str()
    )?;
    writeln!(w, "   <lei:Entity>")?;
    writeln!(
        w,
        "      <lei:LegalName xml:lang=\"en\">{}</lei:LegalName>",
        escape(g.name(ix))
    )?;
    if let Some(j) = e.jurisdiction {
        address(w, "LegalAddress", j)?;
    }
    if let Some(hq) = e.headquarters {
        address(w, "HeadquartersAddress", hq)?;
    }
    if let Some(number) = g.registration_number(ix) {
        writeln!(
            w,
            "      <lei:RegistrationAuthority>
         <lei:RegistrationAuthorityID>RA999999</lei:RegistrationAuthorityID>
         <lei:RegistrationAuthorityEntityID>{number}</lei:RegistrationAuthorityEntityID>
      </lei:RegistrationAuthority>"
        )?;
    }
    if let Some(j) = e.jurisdiction {
        element(w, "      ", "lei:LegalJurisdiction", &j.to_string())?;
    }
    let category = if e.kind == EntityKind::Fund {
        "FUND"
    } else {
        "GENERAL"
    };
    writeln!(
        w,
        "      <lei:EntityCategory>{category}</lei:EntityCategory>
      <lei:EntityStatus>ACTIVE</lei:EntityStatus>
   </lei:Entity>
   <lei:Registration>
      <lei:LastUpdateDate>{updated}</lei:LastUpdateDate>
      <lei:RegistrationStatus>ISSUED</lei:RegistrationStatus>
      <lei:ValidationSources>FULLY_CORROBORATED</lei:ValidationSources>
   </lei:Registration>
</lei:LEIRecord>"
    )
}

/// One RR-CDF record: `child` is consolidated by `parent`.
struct Relationship {
    child: u32,
    parent: u32,
    kind: &'static str,
    since: Option<NaiveDate>,
}

impl Relationship {
    fn write(&self, w: &mut impl Write, updated: &str) -> io::Result<()> {
        let node = |ix: u32| lei(ix);
        writeln!(
            w,
            "<rr:RelationshipRecord>
   <rr:Relationship>
      <rr:StartNode>
         <rr:NodeID>{}</rr:NodeID>
         <rr:NodeIDType>LEI</rr:NodeIDType>
      </rr:StartNode>
      <rr:EndNode>
         <rr:NodeID>{}</rr:NodeID>
         <rr:NodeIDType>LEI</rr:NodeIDType>
      </rr:EndNode>
      <rr:RelationshipType>{}</rr:RelationshipType>",
            node(self.child).as_str(),
            node(self.parent).as_str(),
            self.kind
        )?;
        if let Some(d) = self.since {
            writeln!(
                w,
                "      <rr:RelationshipPeriods>
         <rr:RelationshipPeriod>
            <rr:StartDate>{}</rr:StartDate>
            <rr:PeriodType>RELATIONSHIP_PERIOD</rr:PeriodType>
         </rr:RelationshipPeriod>
      </rr:RelationshipPeriods>",
                stamp(d)
            )?;
        }
        writeln!(
            w,
            "      <rr:RelationshipStatus>ACTIVE</rr:RelationshipStatus>
      <rr:RelationshipQualifiers>
         <rr:RelationshipQualifier>
            <rr:QualifierDimension>ACCOUNTING_STANDARD</rr:QualifierDimension>
            <rr:QualifierCategory>IFRS</rr:QualifierCategory>
         </rr:RelationshipQualifier>
      </rr:RelationshipQualifiers>
   </rr:Relationship>
   <rr:Registration>
      <rr:LastUpdateDate>{updated}</rr:LastUpdateDate>
      <rr:RegistrationStatus>PUBLISHED</rr:RegistrationStatus>
      <rr:ValidationSources>FULLY_CORROBORATED</rr:ValidationSources>
   </rr:Registration>
</rr:RelationshipRecord>"
        )
    }
}

#[derive(Serialize)]
struct PscLine<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    company_number: Option<&'a str>,
    data: PscData<'a>,
}

#[derive(Serialize, Default)]
struct PscData<'a> {
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nationality: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country_of_residence: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<PscAddress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identification: Option<Identification<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    natures_of_control: Option<&'a [&'a str]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    statement: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notified_on: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ceased_on: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    links: Option<SelfLink>,
    #[serde(skip_serializing_if = "Option::is_none")]
    persons_of_significant_control_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    statements_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exemptions_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    generated_at: Option<&'a str>,
}

#[derive(Serialize)]
struct PscAddress {
    country: &'static str,
}

#[derive(Serialize, Default)]
struct Identification<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    registration_number: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    place_registered: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country_registered: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    legal_authority: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    legal_form: Option<&'a str>,
}

#[derive(Serialize)]
struct SelfLink {
    #[serde(rename = "self")]
    self_link: String,
}

/// The English short name of a place's country, as PSC lines write nationalities and
/// countries.
fn country_name(j: Jurisdiction) -> Option<&'static str> {
    rust_iso3166::from_alpha2(&j.country().to_string()).map(|c| c.name)
}

/// The PSC band holding a share (the middle of a range), as an index into [`BANDS`]; `None`
/// at 25% or less.
fn band_of((min, max): (u32, u32)) -> Option<usize> {
    let percent = (f64::from(min + max) / 200.0).min(100.0);
    BANDS[..3].iter().position(|(_, b)| b.contains(percent))
}

fn write_line(w: &mut impl Write, line: &PscLine) -> io::Result<()> {
    serde_json::to_writer(&mut *w, line)?;
    w.write_all(b"\n")
}

/// Writes the registry as a UK PSC snapshot (JSON Lines) to `path`, treating every company,
/// partnership and fund as registered at Companies House under its registration number:
///
/// - per company and holder (and period), one line with the holder's natures of control:
///   its total shares and votes in the band holding them (`ownership-of-shares-25-to-50-
///   percent`, `voting-rights-...`), `right-to-appoint-and-remove-directors` for `board`,
///   `significant-influence-or-control` for `control`; `notified_on` and `ceased_on` are the
///   holding's `valid_from` and `valid_to`. Persons are individual PSCs; companies,
///   partnerships and funds corporate-entity PSCs identified by their Companies House
///   number (so the reader links them to that company's own lines); trusts and states
///   legal-person PSCs;
/// - holdings of 25% or less and consolidations are no PSC: skipped and counted;
/// - a company with no current PSC states `no-individual-or-entity-with-signficant-control`
///   (sic), notified the day its last PSC ceased;
/// - the last line holds the snapshot totals.
pub fn write_psc(g: &Generated, path: &Path) -> io::Result<Counts> {
    const NO_PSC: &str = "no-individual-or-entity-with-signficant-control";
    let natures = |prefix: &str| -> [String; 3] {
        std::array::from_fn(|i| format!("{prefix}{}", BANDS[i].0))
    };
    let shares = natures("ownership-of-shares-");
    let votes = natures("voting-rights-");
    let into = Holders::new(g);
    let links = g.links();
    let mut w = create(path)?;
    let mut counts = Counts::default();
    let mut group: Vec<u32> = Vec::new();
    let mut codes: Vec<&str> = Vec::with_capacity(4);
    for ix in 0..g.entities().len() as u32 {
        let Some(number) = g.registration_number(ix) else {
            counts.skipped += into.of(ix).len() as u64;
            continue;
        };
        counts.parties += 1;
        group.clear();
        group.extend_from_slice(into.of(ix));
        group.sort_unstable_by_key(|&k| {
            let l = &links[k as usize];
            (l.owner, l.valid_from, l.valid_to, k)
        });
        let (mut current, mut last_ceased) = (false, None);
        for holding in group.chunk_by(|&a, &b| {
            let (a, b) = (&links[a as usize], &links[b as usize]);
            (a.owner, a.valid_from, a.valid_to) == (b.owner, b.valid_from, b.valid_to)
        }) {
            let first = &links[holding[0] as usize];
            let (mut held, mut voted) = ((0u32, 0u32), (0u32, 0u32));
            let (mut share_links, mut vote_links) = (0u64, 0u64);
            let (mut board, mut control) = (false, false);
            for &k in holding {
                let l = &links[k as usize];
                let (min, max) = (u32::from(l.min), u32::from(l.max));
                match l.interest {
                    Interest::Shares => {
                        held = (held.0 + min, held.1 + max);
                        share_links += 1;
                    }
                    Interest::Votes => {
                        voted = (voted.0 + min, voted.1 + max);
                        vote_links += 1;
                    }
                    Interest::Board => board = true,
                    Interest::Control => control = true,
                    Interest::Consolidation => counts.skipped += 1,
                }
            }
            codes.clear();
            match band_of(held) {
                Some(b) => codes.push(&shares[b]),
                None => counts.skipped += share_links,
            }
            match band_of(voted) {
                Some(b) => codes.push(&votes[b]),
                None => counts.skipped += vote_links,
            }
            if board {
                codes.push("right-to-appoint-and-remove-directors");
            }
            if control {
                codes.push("significant-influence-or-control");
            }
            if codes.is_empty() {
                continue;
            }
            let owner = first.owner;
            let e = &g.entities()[owner as usize];
            let owner_number = g.registration_number(owner);
            let (kind, path_kind) = match e.kind {
                EntityKind::Person => ("individual-person-with-significant-control", "individual"),
                _ if owner_number.is_some() => (
                    "corporate-entity-person-with-significant-control",
                    "corporate-entity",
                ),
                _ => (
                    "legal-person-person-with-significant-control",
                    "legal-person",
                ),
            };
            let mut data = PscData {
                kind,
                name: Some(g.name(owner)),
                natures_of_control: Some(codes.as_slice()),
                notified_on: first.valid_from,
                ceased_on: first.valid_to,
                links: Some(SelfLink {
                    self_link: format!(
                        "/company/{number}/persons-with-significant-control/{path_kind}/{}-{}",
                        entity_id(owner),
                        holding[0]
                    ),
                }),
                ..PscData::default()
            };
            let hq = e.headquarters.and_then(country_name);
            match e.kind {
                EntityKind::Person => {
                    data.nationality = e.jurisdiction.and_then(country_name);
                    data.country_of_residence = hq;
                    counts.parties += 1;
                }
                _ if owner_number.is_some() => {
                    data.identification = Some(Identification {
                        registration_number: owner_number.as_deref(),
                        place_registered: Some("Companies House"),
                        country_registered: Some("England And Wales"),
                        legal_authority: Some("Companies Act 2006"),
                        ..Identification::default()
                    });
                    data.address = hq.map(|country| PscAddress { country });
                }
                _ => {
                    data.identification = Some(Identification {
                        legal_authority: e.jurisdiction.and_then(country_name),
                        legal_form: Some(if e.kind == EntityKind::Trust {
                            "Trust"
                        } else {
                            "Government"
                        }),
                        ..Identification::default()
                    });
                    counts.parties += 1;
                }
            }
            write_line(
                &mut w,
                &PscLine {
                    company_number: Some(&number),
                    data,
                },
            )?;
            counts.records += 1;
            counts.links += codes.len() as u64;
            match first.valid_to {
                None => current = true,
                Some(d) => last_ceased = last_ceased.max(Some(d)),
            }
        }
        if !current {
            let data = PscData {
                kind: "persons-with-significant-control-statement",
                statement: Some(NO_PSC),
                notified_on: last_ceased,
                links: Some(SelfLink {
                    self_link: format!(
                        "/company/{number}/persons-with-significant-control-statements/{}",
                        entity_id(ix)
                    ),
                }),
                ..PscData::default()
            };
            write_line(
                &mut w,
                &PscLine {
                    company_number: Some(&number),
                    data,
                },
            )?;
            counts.records += 1;
            counts.unknowns += 1;
        }
    }
    let generated_at = stamp(horizon());
    let totals = PscData {
        kind: "totals#persons-of-significant-control-snapshot",
        persons_of_significant_control_count: Some(counts.records - counts.unknowns),
        statements_count: Some(counts.unknowns),
        exemptions_count: Some(0),
        generated_at: Some(&generated_at),
        ..PscData::default()
    };
    write_line(
        &mut w,
        &PscLine {
            company_number: None,
            data: totals,
        },
    )?;
    counts.records += 1;
    counts.bytes = finish(w)?;
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};
    use std::path::PathBuf;

    use super::*;
    use crate::r#gen::Config;

    fn registry() -> Generated {
        Generated::generate(&Config {
            entities: 2_000,
            seed: 1,
        })
    }

    /// A fresh path under the temporary folder, removed when dropped.
    struct Temp(PathBuf);

    impl Temp {
        fn new(name: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "ownergraph-gen-files-{}-{name}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&path);
            let _ = std::fs::remove_file(&path);
            Self(path)
        }
    }

    impl Drop for Temp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn identifier<'a>(p: &'a RegistryParty, scheme: &str) -> Option<&'a str> {
        p.identifiers
            .iter()
            .find(|(s, _)| s == scheme)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_registry_model_has_every_entity_link_and_unknown_owner() {
        let g = registry();
        let r = to_registry(&g);
        assert_eq!(r.parties.len(), g.entities().len());
        assert_eq!(r.links.len(), g.links().len());
        let holders = Holders::new(&g);
        let unknown = (0..g.entities().len() as u32)
            .filter(|&ix| unknown_owner(&g, &holders, ix).is_some())
            .count();
        assert!(unknown > 0);
        assert_eq!(r.unknowns.len(), unknown);
        let tops = (0u32..)
            .zip(g.entities())
            .filter(|(ix, e)| e.group == Some(*ix))
            .count();
        assert!(unknown * 100 < tops * 6, "{unknown} of {tops} parents");

        let mut leis = HashSet::new();
        for (ix, (p, e)) in (0u32..).zip(r.parties.iter().zip(g.entities())) {
            assert_eq!(p.id, entity_id(ix));
            assert_eq!((p.kind, p.jurisdiction), (e.kind, e.jurisdiction));
            assert_eq!(p.name.as_str(), g.name(ix));
            if let Some(l) = identifier(p, "lei") {
                assert!(Lei::parse(l).is_ok(), "{l}");
                assert!(leis.insert(l.to_owned()), "{l} twice");
            }
            assert_eq!(identifier(p, "lei").is_some(), has_lei(&g, ix));
            if e.group == Some(ix) {
                assert!(
                    identifier(p, "lei").is_some(),
                    "a group's parent without an LEI"
                );
            }
            assert_eq!(
                identifier(p, "registration_number").map(str::to_owned),
                g.registration_number(ix)
            );
        }
        let companies = g
            .entities()
            .iter()
            .filter(|e| e.kind == EntityKind::Company)
            .count();
        assert!(
            leis.len() * 3 > companies && leis.len() < companies,
            "{} LEIs",
            leis.len()
        );

        for (l, gl) in r.links.iter().zip(g.links()) {
            assert_eq!(l.owner, entity_id(gl.owner));
            let share = f64::from(gl.min + gl.max) / 200.0;
            assert!(!gl.interest.is_quantified() || l.share.contains(share));
            assert_eq!(
                l.share.exact.is_some(),
                gl.interest.is_quantified() && gl.min == gl.max
            );
            assert_eq!((l.valid_from, l.valid_to), (gl.valid_from, gl.valid_to));
        }
    }

    #[test]
    fn gleif_files_read_back_as_written() {
        let g = registry();
        let model = to_registry(&g);
        let by_lei: HashMap<&str, u32> = (0u32..)
            .zip(&model.parties)
            .filter_map(|(ix, p)| Some((identifier(p, "lei")?, ix)))
            .collect();
        let dir = Temp::new("gleif");
        let counts = write_gleif(&g, &dir.0).unwrap();
        let read = |file: &str| {
            let bytes = std::fs::read(dir.0.join(file)).unwrap();
            (
                bytes.len() as u64,
                formats::parse_gleif(file, &bytes).unwrap(),
            )
        };
        let (lei_bytes, leis) = read("lei.xml");
        let (rr_bytes, rr) = read("rr.xml");
        let (repex_bytes, repex) = read("repex.xml");
        assert_eq!(counts.bytes, lei_bytes + rr_bytes + repex_bytes);
        assert_eq!(
            (
                leis.parties.len() as u64,
                rr.links.len() as u64,
                repex.unknowns.len() as u64
            ),
            (counts.parties, counts.links, counts.unknowns)
        );
        assert_eq!(
            counts.records,
            counts.parties + counts.links + counts.unknowns
        );
        assert!(leis.notes.is_empty(), "{:?}", leis.notes);
        assert!(rr.notes.is_empty(), "{:?}", rr.notes);

        // The LEI records state what the model states.
        assert_eq!(leis.parties.len(), by_lei.len());
        for p in &leis.parties {
            let m = &model.parties[by_lei[p.id.as_str()] as usize];
            assert_eq!(p.name, m.name);
            assert_eq!(
                (p.jurisdiction, p.headquarters),
                (m.jurisdiction, m.headquarters)
            );
            assert_eq!(p.identifiers, m.identifiers);
            assert_eq!(
                p.kind,
                if m.kind == EntityKind::Fund {
                    EntityKind::Fund
                } else {
                    EntityKind::Company
                }
            );
        }

        // A direct parent holds a current majority of the child's shares, since the day the
        // relationship starts; an ultimate parent is the child's group's parent.
        let (mut direct, mut ultimate) = (0, 0);
        for l in &rr.links {
            let (parent, child) = (by_lei[l.owner.as_str()], by_lei[l.owned.as_str()]);
            if l.declared_indirect {
                ultimate += 1;
                assert_eq!(g.entities()[child as usize].group, Some(parent));
            } else {
                direct += 1;
                let holding = g
                    .links()
                    .iter()
                    .find(|h| h.owner == parent && h.owned == child && majority(h))
                    .unwrap();
                assert_eq!(l.valid_from, holding.valid_from);
                assert!(holding.min >= 5_000);
            }
        }
        assert!(
            direct > 20 && ultimate > 5,
            "{direct} direct, {ultimate} ultimate"
        );

        // Every holder of an LEI without a direct parent says why.
        let with_parent: HashSet<&str> = rr
            .links
            .iter()
            .filter(|l| !l.declared_indirect)
            .map(|l| l.owned.as_str())
            .collect();
        let excepted: HashSet<&str> = repex
            .unknowns
            .iter()
            .filter(|u| u.details.as_deref() == Some(DIRECT))
            .map(|u| u.subject.as_str())
            .collect();
        assert_eq!(with_parent.len() + excepted.len(), by_lei.len());
        assert!(with_parent.is_disjoint(&excepted));
        let reasons: HashSet<&str> = repex.unknowns.iter().map(|u| u.reason.as_str()).collect();
        for reason in [
            "NATURAL_PERSONS",
            "NO_LEI",
            "NON_CONSOLIDATING",
            "NO_KNOWN_PERSON",
        ] {
            assert!(reasons.contains(reason), "no {reason}: {reasons:?}");
        }
        // The owners the model declares unknown are declared unknown here too.
        for u in &model.unknowns {
            let l = identifier(model.party(&u.subject).unwrap(), "lei").unwrap();
            assert!(
                repex
                    .unknowns
                    .iter()
                    .any(|x| x.subject == l && x.reason == u.reason),
                "{}",
                u.subject
            );
        }
    }

    /// The generated link a PSC link was written from: its self link ends with the owner's
    /// entity id and the position of the holding's first link.
    fn source_link(id: &str) -> usize {
        let (link, _) = id.split_once('#').unwrap();
        let (_, k) = link.rsplit_once('-').unwrap();
        k.parse().unwrap()
    }

    #[test]
    fn the_psc_snapshot_reads_back_as_written() {
        let g = registry();
        let file = Temp::new("psc.jsonl");
        let counts = write_psc(&g, &file.0).unwrap();
        let bytes = std::fs::read(&file.0).unwrap();
        assert_eq!(counts.bytes, bytes.len() as u64);
        assert_eq!(
            counts.records,
            bytes.iter().filter(|&&b| b == b'\n').count() as u64
        );
        let r = formats::parse_psc("psc.jsonl", &bytes).unwrap();
        assert_eq!(
            (
                r.parties.len() as u64,
                r.links.len() as u64,
                r.unknowns.len() as u64
            ),
            (counts.parties, counts.links, counts.unknowns)
        );
        // Only the totals: every country and nature of control was understood.
        assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
        assert!(r.notes[0].starts_with("snapshot totals"), "{:?}", r.notes);
        assert!(counts.skipped > 0);

        let by_number: HashMap<String, u32> = (0..g.entities().len() as u32)
            .filter_map(|ix| Some((g.registration_number(ix)?, ix)))
            .collect();
        let company = |id: &str| by_number[id.strip_prefix("GB/").unwrap()];
        let (mut corporate, mut banded) = (0, 0);
        for l in &r.links {
            let first = &g.links()[source_link(&l.id)];
            assert_eq!(company(&l.owned), first.owned);
            assert_eq!(
                (l.valid_from, l.valid_to),
                (first.valid_from, first.valid_to)
            );
            // A corporate PSC is an edge from the company with its registration number.
            if l.owner.starts_with("GB/") {
                corporate += 1;
                assert_eq!(company(&l.owner), first.owner);
                let owner = r.party(&l.owner).unwrap();
                assert_eq!(owner.name.as_str(), g.name(first.owner));
                assert!(!owner.placeholder);
            }
            // The band holds the holder's total shares or votes.
            if l.interest.is_quantified() {
                banded += 1;
                let (min, max) = g
                    .links()
                    .iter()
                    .filter(|h| {
                        (h.owner, h.owned, h.interest, h.valid_from, h.valid_to)
                            == (
                                first.owner,
                                first.owned,
                                l.interest,
                                first.valid_from,
                                first.valid_to,
                            )
                    })
                    .fold((0u32, 0u32), |(a, b), h| {
                        (a + u32::from(h.min), b + u32::from(h.max))
                    });
                let share = f64::from(min + max) / 200.0;
                assert!(l.share.contains(share), "{} holds {share}", l.id);
                assert!(share > 25.0);
            }
        }
        assert!(
            corporate > 100 && banded > 500,
            "{corporate} corporate, {banded} banded"
        );

        // Every company is on the register, with its PSCs or a statement that it has none.
        let companies = by_number.len();
        let named: HashSet<&str> = r
            .links
            .iter()
            .map(|l| l.owned.as_str())
            .chain(r.unknowns.iter().map(|u| u.subject.as_str()))
            .collect();
        assert_eq!(named.len(), companies);
        assert!(
            r.unknowns
                .iter()
                .all(|u| u.reason == "no-individual-or-entity-with-signficant-control")
        );
    }

    /// Writing and reading back a larger registry; run with
    /// `cargo test --release --lib gen::files::tests::files_at_scale -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn files_at_scale() {
        let g = Generated::generate(&Config {
            entities: 300_000,
            seed: 1,
        });
        let dir = Temp::new("scale");
        let started = std::time::Instant::now();
        let gleif = write_gleif(&g, &dir.0).unwrap();
        println!("gleif: {gleif:?} in {:?}", started.elapsed());
        let started = std::time::Instant::now();
        let (mut parties, mut links, mut unknowns) = (0, 0, 0);
        for file in ["lei.xml", "rr.xml", "repex.xml"] {
            let bytes = std::fs::read(dir.0.join(file)).unwrap();
            let r = formats::parse_gleif(file, &bytes).unwrap();
            if file == "lei.xml" {
                parties = r.parties.len() as u64;
            }
            links += r.links.len() as u64;
            unknowns += r.unknowns.len() as u64;
        }
        println!("gleif read back in {:?}", started.elapsed());
        assert_eq!(
            (parties, links, unknowns),
            (gleif.parties, gleif.links, gleif.unknowns)
        );
        let path = dir.0.join("psc.jsonl");
        let started = std::time::Instant::now();
        let psc = write_psc(&g, &path).unwrap();
        println!("psc: {psc:?} in {:?}", started.elapsed());
        let started = std::time::Instant::now();
        let r = formats::parse_psc("psc.jsonl", &std::fs::read(&path).unwrap()).unwrap();
        println!("psc read back in {:?}", started.elapsed());
        assert_eq!(
            (
                r.parties.len() as u64,
                r.links.len() as u64,
                r.unknowns.len() as u64
            ),
            (psc.parties, psc.links, psc.unknowns)
        );
    }
}
