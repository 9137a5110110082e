//! The UK Companies House "persons with significant control" snapshot.
//!
//! The snapshot is JSON Lines: one `{"company_number": ..., "data": {...}}` object a line, the
//! last file of a download ending with a `totals#persons-of-significant-control-snapshot`
//! summary. A JSON array of such objects (with or without a trailing comma before the `]`) is
//! read the same way, as are objects spread over several lines.
//!
//! [`read_psc`] streams from any [`BufRead`] to a [`RegistrySink`], holding one object at a
//! time (the array form too: its elements are split as they come); [`parse_psc`] collects a
//! file in memory into a [`Registry`]. Memory does not grow with the file but for one set:
//! the company numbers already sent (8 bytes each for the register's eight-character
//! numbers), so that a company named by many lines is sent once as a placeholder. Persons and
//! corporate PSCs are sent with every line that states them; the sink folds them.
//!
//! # What is read
//!
//! - Every `company_number` is a company party with id `GB/<number>`, jurisdiction GB and a
//!   `registration_number`. Numbers are upper-cased and all-digit ones zero-padded to the
//!   register's eight characters (`1234567` → `01234567`). The snapshot does not carry
//!   company names, so **the company's name is its number** until a line names it (a
//!   corporate PSC with that registration number). Register of Overseas Entities numbers
//!   (`OE029880`) are GB register numbers too; their jurisdiction is the register's, not the
//!   place of incorporation.
//! - Individual PSCs (`individual-person-with-significant-control`,
//!   `individual-beneficial-owner`) are person parties with their self link as id, `name` (or
//!   the name elements) as name, the name without title as an alias, `nationality` (demonyms
//!   like "British") as jurisdiction and `country_of_residence` as headquarters.
//! - Corporate and legal-person PSCs (`corporate-entity-` and `legal-person-`
//!   `person-with-significant-control`, and the overseas-entity `...-beneficial-owner` kinds)
//!   are company parties. When `identification` has a `registration_number` and its
//!   `country_registered` or `place_registered` names a UK register, the party is
//!   `GB/<registration number>`: the same party as that company's own lines, so a corporate
//!   PSC is an edge to the company with that number. Otherwise its id is its self link, with
//!   `country_registered` (or `legal_authority`) as jurisdiction.
//! - Each of `natures_of_control` is a link from the PSC to the company: see [`nature`] and
//!   [`BANDS`]. `notified_on` is `valid_from`; `ceased_on` is `valid_to` as is (a PSC ceased
//!   on day D no longer holds on D, and `valid_to` is exclusive). The link id is
//!   `{self link}#{nature}`.
//! - `persons-with-significant-control-statement` lines (`no-individual-or-entity-with-
//!   signficant-control` (sic), `psc-details-not-confirmed`, ...) are [`DeclaredUnknown`]s
//!   with the statement code as reason; `super-secure-...` kinds too (reason = the kind), and
//!   each period of an `exemptions` line (reason = its `exemption_type`, such as
//!   `psc-exempt-as-shares-admitted-on-market`; `exempt_to` taken as exclusive, like
//!   `ceased_on`): an exempt company declares no PSCs.
//! - Other kinds, and natures of control not recognised, are skipped and counted in a note.
//!   The totals line is summarised in a note; its absence is noted too, since a JSON Lines
//!   file cut at a line break cannot otherwise be told from a whole one.
//!
//! Bytes that are not UTF-8, malformed JSON, a missing `company_number` or self link, a
//! person without a name and a malformed date are errors naming the line.

use std::collections::{BTreeMap, HashSet};
use std::io::BufRead;

use chrono::NaiveDate;
use serde::Deserialize;

use super::FormatError;
use super::country;
use super::record::{Notes, aliases, parse_name, push_identifier};
use super::registry::{
    Collector, DeclaredUnknown, Registry, RegistryLink, RegistryParty, RegistrySink, ShareBounds,
};
use super::text::{LineCounter, at_line, clean, count_lines, iso_date, read_error};
use crate::domain::{EntityKind, Interest, Jurisdiction};

const SOURCE: &str = "uk-psc";

/// The share bands of the PSC natures of control, as the register defines them (the legal
/// boundaries live here and nowhere else):
///
/// - `25-to-50-percent`: "more than 25% but not more than 50%";
/// - `50-to-75-percent`: "more than 50% but less than 75%";
/// - `75-to-100-percent`: "75% or more";
/// - `more-than-25-percent` (Register of Overseas Entities): "more than 25%".
pub const BANDS: [(&str, ShareBounds); 4] = [
    ("25-to-50-percent", band(25.0, true, 50.0, false)),
    ("50-to-75-percent", band(50.0, true, 75.0, true)),
    ("75-to-100-percent", band(75.0, false, 100.0, false)),
    ("more-than-25-percent", band(25.0, true, 100.0, false)),
];

const fn band(min: f64, min_exclusive: bool, max: f64, max_exclusive: bool) -> ShareBounds {
    ShareBounds {
        exact: None,
        min: Some(min),
        min_exclusive,
        max: Some(max),
        max_exclusive,
    }
}

/// The interest a nature of control gives, by its leading words. The `-as-trust`, `-as-firm`,
/// `-limited-liability-partnership` and `-registered-overseas-entity` variants share them.
const INTERESTS: [(&str, Interest); 8] = [
    ("ownership-of-shares-", Interest::Shares),
    ("right-to-share-surplus-assets-", Interest::Shares),
    ("part-right-to-share-surplus-assets-", Interest::Shares),
    ("voting-rights-", Interest::Votes),
    ("right-to-appoint-and-remove-directors", Interest::Board),
    ("right-to-appoint-and-remove-members", Interest::Board),
    ("right-to-appoint-and-remove-person", Interest::Board),
    ("significant-influence-or-control", Interest::Control),
];

/// The interest and share band of a nature of control; `None` when not recognised. Shares
/// and votes come with the band the code names; board and control rights have no size.
pub fn nature(code: &str) -> Option<(Interest, ShareBounds)> {
    let (prefix, interest) = INTERESTS.iter().find(|(p, _)| code.starts_with(p))?;
    let rest = &code[prefix.len()..];
    let share = BANDS
        .iter()
        .find(|(b, _)| rest.starts_with(b))
        .map(|(_, s)| *s);
    match (interest, share) {
        (Interest::Shares | Interest::Votes, None) => None,
        (_, share) => Some((*interest, share.unwrap_or(ShareBounds::UNKNOWN))),
    }
}

#[derive(Deserialize)]
struct Line {
    company_number: Option<String>,
    data: Data,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Data {
    kind: Option<String>,
    name: Option<String>,
    name_elements: Option<NameElements>,
    nationality: Option<String>,
    country_of_residence: Option<String>,
    notified_on: Option<String>,
    ceased_on: Option<String>,
    natures_of_control: Option<Vec<String>>,
    identification: Option<Identification>,
    links: Option<Links>,
    statement: Option<String>,
    linked_psc_name: Option<String>,
    exemptions: Option<BTreeMap<String, Exemption>>,
    address: Option<Address>,
    principal_office_address: Option<Address>,
    persons_of_significant_control_count: Option<u64>,
    statements_count: Option<u64>,
    exemptions_count: Option<u64>,
    generated_at: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NameElements {
    title: Option<String>,
    forename: Option<String>,
    middle_name: Option<String>,
    surname: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Identification {
    registration_number: Option<String>,
    country_registered: Option<String>,
    place_registered: Option<String>,
    legal_authority: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Links {
    #[serde(rename = "self")]
    self_link: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Address {
    country: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Exemption {
    exemption_type: Option<String>,
    items: Vec<ExemptionItem>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ExemptionItem {
    exempt_from: Option<String>,
    exempt_to: Option<String>,
}

/// Reads a PSC snapshot (JSON Lines, or a JSON array of the same objects) from `input`,
/// sending what it states to `sink`.
pub fn read_psc(
    name: &str,
    input: impl BufRead,
    sink: &mut dyn RegistrySink,
) -> Result<(), FormatError> {
    let mut reader = Reader {
        file: name,
        sink,
        companies: Companies::default(),
        notes: Notes::default(),
        skipped_kinds: BTreeMap::new(),
        skipped_natures: BTreeMap::new(),
        totals: false,
    };
    each_value(name, input, |line, value| reader.line(line, value))?;
    reader.finish();
    Ok(())
}

/// Parses a whole PSC snapshot file in memory (see [`read_psc`]).
pub fn parse_psc(name: &str, bytes: &[u8]) -> Result<Registry, FormatError> {
    let mut collector = Collector::default();
    read_psc(name, bytes, &mut collector)?;
    Ok(collector.finish())
}

/// Calls `each` with every top-level JSON object of `input` and the line it starts on:
/// whitespace-separated objects, or the elements of one array (a trailing comma allowed).
/// One object is held at a time.
fn each_value(
    file: &str,
    input: impl BufRead,
    mut each: impl FnMut(usize, Line) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    let mut input = count_lines(file, input)?;
    let mut value = Vec::new();
    let array = skip_whitespace(file, &mut input)? == Some(b'[');
    if array {
        input.consume(1);
    }
    loop {
        let Some(next) = skip_whitespace(file, &mut input)? else {
            let last = input.end(file)?;
            if array {
                return Err(FormatError::new(
                    at_line(file, last),
                    "the array is never closed with ']': the file is cut short",
                ));
            }
            return Ok(());
        };
        if array && next == b']' {
            input.consume(1);
            if skip_whitespace(file, &mut input)?.is_some() {
                return Err(FormatError::new(
                    at_line(file, input.line()),
                    "content after the closing ']'",
                ));
            }
            return input.end(file).map(drop);
        }
        let start = input.line();
        take_value(file, &mut input, &mut value)?;
        input.check_utf8(file)?;
        match serde_json::from_slice::<Line>(&value) {
            Ok(value) => each(start, value)?,
            Err(e) => {
                let line = start + e.line().saturating_sub(1);
                return Err(FormatError::new(
                    at_line(file, line),
                    format!("malformed JSON: {e}"),
                ));
            }
        }
        if array {
            match skip_whitespace(file, &mut input)? {
                Some(b',') => input.consume(1),
                Some(b']') | None => {}
                Some(_) => {
                    return Err(FormatError::new(
                        at_line(file, input.line()),
                        "expected ',' or ']' after an array element",
                    ));
                }
            }
        }
    }
}

/// Consumes whitespace; the next byte, left unread, or `None` at the end of the input.
fn skip_whitespace<R: BufRead>(
    file: &str,
    input: &mut LineCounter<R>,
) -> Result<Option<u8>, FormatError> {
    loop {
        let line = input.line();
        let available = input.fill_buf().map_err(|e| read_error(file, line, &e))?;
        if available.is_empty() {
            return Ok(None);
        }
        match available.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => {
                let next = available[i];
                input.consume(i);
                return Ok(Some(next));
            }
            None => {
                let n = available.len();
                input.consume(n);
            }
        }
    }
}

/// Reads one JSON value into `value`: an object or array up to its closing bracket (strings
/// and escapes followed), a string, or any other token up to whitespace or punctuation. A
/// value cut by the end of the input ends there; the JSON parser then says what is missing.
fn take_value<R: BufRead>(
    file: &str,
    input: &mut LineCounter<R>,
    value: &mut Vec<u8>,
) -> Result<(), FormatError> {
    value.clear();
    let mut scan = Scan::default();
    loop {
        let line = input.line();
        let available = input.fill_buf().map_err(|e| read_error(file, line, &e))?;
        if available.is_empty() {
            return Ok(());
        }
        let (used, done) = scan.feed(available);
        value.extend_from_slice(&available[..used]);
        input.consume(used);
        if done {
            return Ok(());
        }
    }
}

/// Where [`take_value`] is in a value.
#[derive(Default)]
struct Scan {
    started: bool,
    /// Open objects and arrays.
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// A number, literal or stray character, ended by whitespace or punctuation.
    token: bool,
}

impl Scan {
    /// How many of `bytes` belong to the value, and whether it ends there.
    fn feed(&mut self, bytes: &[u8]) -> (usize, bool) {
        for (i, &b) in bytes.iter().enumerate() {
            if !self.started {
                self.started = true;
                match b {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth = 1,
                    _ => self.token = true,
                }
            } else if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                    if self.depth == 0 {
                        return (i + 1, true);
                    }
                }
            } else if self.token {
                if b.is_ascii_whitespace() || b",:[]{}\"".contains(&b) {
                    return (i, true);
                }
            } else {
                match b {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth += 1,
                    b'}' | b']' => {
                        self.depth -= 1;
                        if self.depth == 0 {
                            return (i + 1, true);
                        }
                    }
                    _ => {}
                }
            }
        }
        (bytes.len(), false)
    }
}

/// Company numbers already sent: the register's eight-character numbers packed in a `u64`,
/// any other as text.
#[derive(Default)]
struct Companies {
    packed: HashSet<u64>,
    other: HashSet<String>,
}

impl Companies {
    /// Records `number`; whether it is new.
    fn insert(&mut self, number: &str) -> bool {
        match <[u8; 8]>::try_from(number.as_bytes()) {
            Ok(b) => self.packed.insert(u64::from_le_bytes(b)),
            Err(_) => self.other.insert(number.to_owned()),
        }
    }
}

struct Reader<'a> {
    file: &'a str,
    sink: &'a mut dyn RegistrySink,
    companies: Companies,
    notes: Notes,
    skipped_kinds: BTreeMap<String, usize>,
    skipped_natures: BTreeMap<String, usize>,
    totals: bool,
}

/// UK register and country spellings the country table does not know as such.
const UK_PLACES: [(&str, &str); 9] = [
    ("england", "GB-ENG"),
    ("wales", "GB-WLS"),
    ("scotland", "GB-SCT"),
    ("northern ireland", "GB-NIR"),
    ("england and wales", "GB"),
    ("united kingdom", "GB"),
    ("uk", "GB"),
    ("great britain", "GB"),
    ("companies house", "GB"),
];

fn place_key(s: &str) -> String {
    clean(&s.to_lowercase().replace('&', " and "))
}

/// The jurisdiction of a UK place name from [`UK_PLACES`].
fn uk_place(s: &str) -> Option<Jurisdiction> {
    let key = place_key(s);
    let code = UK_PLACES.iter().find(|(k, _)| *k == key)?.1;
    Jurisdiction::parse(code).ok()
}

/// Whether `s` (a `country_registered` or `place_registered`) names a UK register.
fn is_uk_register(s: &str) -> bool {
    let key = place_key(s);
    uk_place(s).is_some()
        || key.starts_with("registrar of companies for")
        || key.starts_with("register of companies for")
        || key.contains("companies house")
        || country::by_name(s).is_some_and(|j| j.country().to_string() == "GB")
}

/// A country name, nationality or UK place; unknown ones are noted when `note` is set.
fn place(s: Option<&str>, notes: &mut Notes, note: bool) -> Option<Jurisdiction> {
    let s = s.map(str::trim).filter(|s| !s.is_empty())?;
    // The whole value first ("Korea, South"), then its parts ("British,Irish").
    let found = [s]
        .into_iter()
        .chain(s.split(',').map(str::trim))
        .find_map(|part| uk_place(part).or_else(|| country::by_name(part)));
    if found.is_none() && note {
        notes.unknown_country(s);
    }
    found
}

/// The register form of a company number: trimmed, upper-cased, all-digit numbers
/// zero-padded to eight characters.
fn company_number(raw: &str) -> String {
    let n = raw.trim().to_ascii_uppercase();
    if !n.is_empty() && n.len() < 8 && n.bytes().all(|b| b.is_ascii_digit()) {
        format!("{n:0>8}")
    } else {
        n
    }
}

impl Reader<'_> {
    fn at(&self, line: usize) -> String {
        at_line(self.file, line)
    }

    fn err(&self, line: usize, message: impl Into<String>) -> FormatError {
        FormatError::new(self.at(line), message)
    }

    fn date(
        &self,
        line: usize,
        field: &str,
        v: Option<&str>,
    ) -> Result<Option<NaiveDate>, FormatError> {
        match v.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => iso_date(s)
                .map(Some)
                .ok_or_else(|| self.err(line, format!("{field} '{s}' is not a YYYY-MM-DD date"))),
        }
    }

    fn line(&mut self, line: usize, value: Line) -> Result<(), FormatError> {
        let kind = value.data.kind.clone().unwrap_or_default();
        match kind.as_str() {
            "totals#persons-of-significant-control-snapshot" => {
                self.totals = true;
                let d = &value.data;
                let n = |v: Option<u64>| v.map_or_else(|| "?".to_owned(), |v| v.to_string());
                self.notes.push(format!(
                    "snapshot totals: {} PSCs, {} statements, {} exemptions, generated at {}",
                    n(d.persons_of_significant_control_count),
                    n(d.statements_count),
                    n(d.exemptions_count),
                    d.generated_at.as_deref().unwrap_or("?")
                ));
                Ok(())
            }
            "individual-person-with-significant-control" | "individual-beneficial-owner" => {
                self.owner(line, &value, EntityKind::Person)
            }
            "corporate-entity-person-with-significant-control"
            | "legal-person-person-with-significant-control"
            | "corporate-entity-beneficial-owner"
            | "legal-person-beneficial-owner" => self.owner(line, &value, EntityKind::Company),
            "persons-with-significant-control-statement" => {
                let reason = value
                    .data
                    .statement
                    .clone()
                    .filter(|s| !s.trim().is_empty())
                    .ok_or_else(|| self.err(line, "a statement without its 'statement' code"))?;
                let details = value.data.linked_psc_name.clone();
                self.unknown(line, &value, reason, details)
            }
            "super-secure-person-with-significant-control" | "super-secure-beneficial-owner" => {
                self.unknown(line, &value, kind.clone(), None)
            }
            "exemptions" => self.exemptions(line, &value),
            _ => {
                *self.skipped_kinds.entry(kind).or_default() += 1;
                Ok(())
            }
        }
    }

    /// The company a line is about, sent once; its id.
    fn company(&mut self, line: usize, value: &Line) -> Result<String, FormatError> {
        let number = value
            .company_number
            .as_deref()
            .map(company_number)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| self.err(line, "no company_number"))?;
        self.uk_company(line, &number)
    }

    fn uk_company(&mut self, line: usize, number: &str) -> Result<String, FormatError> {
        let id = format!("GB/{number}");
        if self.companies.insert(number) {
            let name = parse_name(number).map_err(|m| self.err(line, m))?;
            let mut identifiers = Vec::new();
            push_identifier(
                &mut identifiers,
                "registration_number",
                number,
                &mut self.notes,
            );
            self.sink.party(RegistryParty {
                id: id.clone(),
                kind: EntityKind::Company,
                name,
                aliases: Vec::new(),
                jurisdiction: Jurisdiction::parse("GB").ok(),
                headquarters: None,
                identifiers,
                source: SOURCE.to_owned(),
                placeholder: true,
            })?;
        }
        Ok(id)
    }

    fn self_link(&self, line: usize, value: &Line) -> Result<String, FormatError> {
        value
            .data
            .links
            .as_ref()
            .and_then(|l| l.self_link.as_deref())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| self.err(line, "no links.self to identify this line"))
    }

    /// A PSC or beneficial owner: its party and one link per nature of control.
    fn owner(&mut self, line: usize, value: &Line, kind: EntityKind) -> Result<(), FormatError> {
        let owned = self.company(line, value)?;
        let link = self.self_link(line, value)?;
        let d = &value.data;
        let owner = if kind == EntityKind::Person {
            self.person(line, &link, d)?
        } else {
            self.corporate(line, &link, d)?
        };
        let valid_from = self.date(line, "notified_on", d.notified_on.as_deref())?;
        let valid_to = self.date(line, "ceased_on", d.ceased_on.as_deref())?;
        let at = self.at(line);
        for code in d.natures_of_control.iter().flatten() {
            let Some((interest, share)) = nature(code) else {
                *self.skipped_natures.entry(code.clone()).or_default() += 1;
                continue;
            };
            self.sink.link(
                RegistryLink {
                    id: format!("{link}#{code}"),
                    owner: owner.clone(),
                    owned: owned.clone(),
                    interest,
                    share,
                    valid_from,
                    valid_to,
                    declared_indirect: false,
                    details: Some(code.clone()),
                },
                &at,
            )?;
        }
        Ok(())
    }

    fn person(&mut self, line: usize, id: &str, d: &Data) -> Result<String, FormatError> {
        let elements = d.name_elements.as_ref();
        let plain: Vec<&str> = elements
            .map(|e| [&e.forename, &e.middle_name, &e.surname])
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_deref())
            .collect();
        let plain = clean(&plain.join(" "));
        let titled = match elements.and_then(|e| e.title.as_deref()) {
            Some(t) if !plain.is_empty() => clean(&format!("{t} {plain}")),
            _ => plain.clone(),
        };
        let raw_name = d
            .name
            .as_deref()
            .map(clean)
            .filter(|n| !n.is_empty())
            .unwrap_or(titled);
        if raw_name.is_empty() {
            return Err(self.err(line, "a person without a name or name_elements"));
        }
        let name = parse_name(&raw_name).map_err(|m| self.err(line, m))?;
        let aliases =
            aliases(&name, vec![plain], id, &mut self.notes).map_err(|m| self.err(line, m))?;
        let party = RegistryParty {
            id: id.to_owned(),
            kind: EntityKind::Person,
            name,
            aliases,
            jurisdiction: place(d.nationality.as_deref(), &mut self.notes, true),
            headquarters: place(d.country_of_residence.as_deref(), &mut self.notes, true),
            identifiers: Vec::new(),
            source: SOURCE.to_owned(),
            placeholder: false,
        };
        self.sink.party(party)?;
        Ok(id.to_owned())
    }

    fn corporate(&mut self, line: usize, link: &str, d: &Data) -> Result<String, FormatError> {
        let raw = d.name.as_deref().map(clean).unwrap_or_default();
        let name = parse_name(&raw).map_err(|m| self.err(line, m))?;
        let ident = d.identification.as_ref();
        let get = |f: fn(&Identification) -> &Option<String>| {
            ident
                .and_then(|i| f(i).as_deref())
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let number = get(|i| &i.registration_number);
        let registered = get(|i| &i.country_registered);
        let place_registered = get(|i| &i.place_registered);
        let uk = [registered, place_registered]
            .into_iter()
            .flatten()
            .any(is_uk_register);
        let (id, jurisdiction) = match number {
            Some(n) if uk => {
                let id = self.uk_company(line, &company_number(n))?;
                (id, Jurisdiction::parse("GB").ok())
            }
            _ => {
                let j = place(registered, &mut self.notes, true)
                    .or_else(|| place(get(|i| &i.legal_authority), &mut self.notes, false));
                (link.to_owned(), j)
            }
        };
        let mut identifiers = Vec::new();
        if let Some(n) = number {
            let n = if uk { company_number(n) } else { n.to_owned() };
            push_identifier(&mut identifiers, "registration_number", &n, &mut self.notes);
        }
        let office = d
            .principal_office_address
            .as_ref()
            .or(d.address.as_ref())
            .and_then(|a| a.country.as_deref());
        let party = RegistryParty {
            id: id.clone(),
            kind: EntityKind::Company,
            name,
            aliases: Vec::new(),
            jurisdiction,
            headquarters: place(office, &mut self.notes, true),
            identifiers,
            source: SOURCE.to_owned(),
            placeholder: false,
        };
        self.sink.party(party)?;
        Ok(id)
    }

    fn unknown(
        &mut self,
        line: usize,
        value: &Line,
        reason: String,
        details: Option<String>,
    ) -> Result<(), FormatError> {
        let subject = self.company(line, value)?;
        let id = self.self_link(line, value)?;
        let valid_from = self.date(line, "notified_on", value.data.notified_on.as_deref())?;
        let valid_to = self.date(line, "ceased_on", value.data.ceased_on.as_deref())?;
        let at = self.at(line);
        self.sink.unknown(
            DeclaredUnknown {
                interest: None,
                share: ShareBounds::UNKNOWN,
                id,
                subject,
                reason,
                details,
                valid_from,
                valid_to,
            },
            &at,
        )
    }

    fn exemptions(&mut self, line: usize, value: &Line) -> Result<(), FormatError> {
        let subject = self.company(line, value)?;
        let link = self.self_link(line, value)?;
        let at = self.at(line);
        for (key, exemption) in value.data.exemptions.iter().flatten() {
            let reason = exemption
                .exemption_type
                .clone()
                .unwrap_or_else(|| key.clone());
            let periods: Vec<Option<&ExemptionItem>> = if exemption.items.is_empty() {
                vec![None]
            } else {
                exemption.items.iter().map(Some).collect()
            };
            for (n, item) in periods.into_iter().enumerate() {
                let from = item.and_then(|i| i.exempt_from.as_deref());
                let to = item.and_then(|i| i.exempt_to.as_deref());
                let unknown = DeclaredUnknown {
                    interest: None,
                    share: ShareBounds::UNKNOWN,
                    id: format!("{link}#{reason}#{}", n + 1),
                    subject: subject.clone(),
                    reason: reason.clone(),
                    details: None,
                    valid_from: self.date(line, "exempt_from", from)?,
                    valid_to: self.date(line, "exempt_to", to)?,
                };
                self.sink.unknown(unknown, &at)?;
            }
        }
        Ok(())
    }

    /// Sends the notes.
    fn finish(mut self) {
        for (kind, n) in &self.skipped_kinds {
            self.notes
                .push(format!("{n} lines of unknown kind '{kind}' skipped"));
        }
        for (code, n) in &self.skipped_natures {
            self.notes.push(format!(
                "nature of control '{code}' not recognised; {n} skipped"
            ));
        }
        if !self.totals {
            self.notes.push(
                "no totals line: fine for a part of a split snapshot, but a cut at a line break cannot be detected",
            );
        }
        for line in self.notes.into_lines() {
            self.sink.note(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testing::{STEPS, Trickle, names_of};
    use crate::testdata::read_shared;

    fn bytes(path: &str) -> Vec<u8> {
        read_shared(&format!("ownership/uk-psc/{path}"))
    }

    fn sample(path: &str) -> Registry {
        parse_psc(path, &bytes(path)).unwrap()
    }

    fn snapshot(n: usize) -> Registry {
        sample(&format!("companies-house-snapshot-lines/psc-data-{n}.json"))
    }

    fn day(s: &str) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
    }

    fn code(j: Option<Jurisdiction>) -> Option<String> {
        j.map(|j| j.to_string())
    }

    fn bounds(code: &str) -> ShareBounds {
        nature(code).unwrap().1
    }

    #[test]
    fn band_25_to_50_is_more_than_25_and_at_most_50() {
        let b = bounds("ownership-of-shares-25-to-50-percent");
        assert_eq!(
            (b.min, b.min_exclusive, b.max, b.max_exclusive),
            (Some(25.0), true, Some(50.0), false)
        );
        assert!(!b.contains(25.0) && b.contains(25.01) && b.contains(50.0) && !b.contains(50.01));
    }

    #[test]
    fn band_50_to_75_is_more_than_50_and_less_than_75() {
        let b = bounds("voting-rights-50-to-75-percent");
        assert_eq!(
            (b.min, b.min_exclusive, b.max, b.max_exclusive),
            (Some(50.0), true, Some(75.0), true)
        );
        assert!(!b.contains(50.0) && b.contains(74.99) && !b.contains(75.0));
    }

    #[test]
    fn band_75_to_100_is_75_or_more() {
        let b = bounds("ownership-of-shares-75-to-100-percent");
        assert_eq!(
            (b.min, b.min_exclusive, b.max, b.max_exclusive),
            (Some(75.0), false, Some(100.0), false)
        );
        assert!(b.contains(75.0) && b.contains(100.0) && !b.contains(74.99));
    }

    #[test]
    fn overseas_entity_band_is_more_than_25() {
        let b = bounds("ownership-of-shares-more-than-25-percent-registered-overseas-entity");
        assert!(!b.contains(25.0) && b.contains(25.01) && b.contains(100.0));
    }

    #[test]
    fn natures_map_to_interests() {
        let cases = [
            (
                "ownership-of-shares-25-to-50-percent-as-trust",
                Interest::Shares,
            ),
            ("voting-rights-75-to-100-percent-as-firm", Interest::Votes),
            (
                "voting-rights-more-than-25-percent-as-trust-registered-overseas-entity",
                Interest::Votes,
            ),
            (
                "right-to-share-surplus-assets-50-to-75-percent-limited-liability-partnership",
                Interest::Shares,
            ),
            ("right-to-appoint-and-remove-directors", Interest::Board),
            (
                "right-to-appoint-and-remove-directors-as-firm",
                Interest::Board,
            ),
            (
                "right-to-appoint-and-remove-members-limited-liability-partnership",
                Interest::Board,
            ),
            ("significant-influence-or-control", Interest::Control),
            (
                "significant-influence-or-control-as-trust-registered-overseas-entity",
                Interest::Control,
            ),
        ];
        for (code, interest) in cases {
            assert_eq!(nature(code).map(|n| n.0), Some(interest), "{code}");
        }
        assert_eq!(
            nature("significant-influence-or-control").unwrap().1,
            ShareBounds::UNKNOWN
        );
        for unknown in ["ownership-of-shares", "voting-rights-10-percent", "other"] {
            assert_eq!(nature(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn a_corporate_psc_is_an_edge_to_the_company_with_its_number() {
        let r = snapshot(8);
        assert_eq!(
            (r.parties.len(), r.links.len(), r.unknowns.len()),
            (6, 6, 0)
        );
        let owner = r.party("GB/03530981").unwrap();
        assert_eq!(owner.name.as_str(), "Clientlogic Holding Limited");
        assert_eq!(owner.kind, EntityKind::Company);
        assert_eq!(code(owner.jurisdiction).as_deref(), Some("GB"));
        assert_eq!(
            owner.identifiers,
            [("registration_number".to_owned(), "03530981".to_owned())]
        );
        let edges: Vec<(&str, Interest)> = r
            .links
            .iter()
            .filter(|l| l.owner == "GB/03530981")
            .map(|l| (l.owned.as_str(), l.interest))
            .collect();
        assert_eq!(
            edges,
            [
                ("GB/04120481", Interest::Shares),
                ("GB/04120481", Interest::Votes),
                ("GB/04120481", Interest::Board)
            ]
        );
        let shares = &r.links[0];
        assert_eq!(shares.share, BANDS[2].1);
        assert_eq!(shares.valid_from, day("2016-04-06"));
        assert_eq!(
            shares.details.as_deref(),
            Some("ownership-of-shares-75-to-100-percent")
        );
        // The company itself: known by number only.
        let company = r.party("GB/04120481").unwrap();
        assert_eq!(company.name.as_str(), "04120481");
        assert!(r.notes.iter().any(|n| n.starts_with("snapshot totals")));
    }

    #[test]
    fn a_company_line_and_a_corporate_psc_share_one_party() {
        let text = concat!(
            r#"{"company_number":"1234567","data":{"kind":"persons-with-significant-control-statement","statement":"psc-details-not-confirmed","notified_on":"2017-01-02","links":{"self":"/s/1"}}}"#,
            "\n",
            r#"{"company_number":"09999999","data":{"kind":"corporate-entity-person-with-significant-control","name":"Parent Ltd","identification":{"registration_number":"1234567","country_registered":"England & Wales"},"natures_of_control":["ownership-of-shares-50-to-75-percent"],"links":{"self":"/s/2"}}}"#,
            "\n",
        );
        let r = parse_psc("l.jsonl", text.as_bytes()).unwrap();
        assert_eq!(r.parties.len(), 2);
        assert_eq!(r.parties[0].id, "GB/01234567");
        assert_eq!(r.parties[0].name.as_str(), "Parent Ltd");
        assert_eq!(r.links[0].owner, "GB/01234567");
        assert_eq!(r.links[0].owned, "GB/09999999");
        assert_eq!(r.unknowns[0].reason, "psc-details-not-confirmed");
        assert_eq!(r.unknowns[0].subject, "GB/01234567");
    }

    #[test]
    fn individuals_and_statements() {
        let r = snapshot(1);
        assert_eq!(
            (r.parties.len(), r.links.len(), r.unknowns.len()),
            (2, 1, 1)
        );
        let person = &r.parties[1];
        assert_eq!(person.kind, EntityKind::Person);
        assert_eq!(
            person.id,
            "/company/08209948/persons-with-significant-control/individual/FReSTxwXcJbAHBrerDpmTylkW48"
        );
        assert_eq!(person.name.as_str(), "Mr Marc Anthony Feldman");
        assert_eq!(names_of(&person.aliases), ["Marc Anthony Feldman"]);
        assert_eq!(code(person.jurisdiction).as_deref(), Some("GB"));
        assert_eq!(code(person.headquarters).as_deref(), Some("GB-ENG"));
        let link = &r.links[0];
        assert_eq!(
            (link.owner.as_str(), link.owned.as_str()),
            (person.id.as_str(), "GB/08209948")
        );
        assert_eq!(link.valid_from, day("2021-12-13"));
        let statement = &r.unknowns[0];
        assert_eq!(statement.subject, "GB/08209948");
        assert_eq!(
            statement.reason,
            "no-individual-or-entity-with-signficant-control"
        );
        assert_eq!(statement.valid_from, day("2016-09-11"));
        assert_eq!(statement.valid_to, day("2021-12-13"));
    }

    #[test]
    fn a_ceased_psc_ends_on_its_ceased_date() {
        let r = sample("synthetic-kinds/psc_ceased_on.json");
        assert_eq!(r.links.len(), 2);
        for link in &r.links {
            assert_eq!(link.owned, "GB/01234567");
            assert_eq!(link.valid_from, day("2016-04-06"));
            assert_eq!(link.valid_to, day("2016-10-11"));
        }
        assert_eq!(r.links[1].interest, Interest::Votes);
        assert_eq!(r.links[1].share, BANDS[0].1);
        let r = snapshot(11);
        assert_eq!(r.links.len(), 4);
        assert!(r.links.iter().all(|l| l.valid_to == day("2018-02-27")));
        assert!(r.notes.iter().all(|n| !n.starts_with("no totals")));
        let r = sample("synthetic-kinds/psc_statement_ceased_on.json");
        assert_eq!(r.unknowns[0].valid_to, day("2016-10-11"));
    }

    #[test]
    fn every_synthetic_kind() {
        let r = sample("synthetic-kinds/psc_super_secure.json");
        assert_eq!(
            r.unknowns[0].reason,
            "super-secure-person-with-significant-control"
        );
        assert_eq!(r.unknowns[0].subject, "GB/01234567");
        let r = sample("synthetic-kinds/psc_exemptions.json");
        assert_eq!(r.unknowns.len(), 1);
        assert_eq!(
            r.unknowns[0].reason,
            "psc-exempt-as-shares-admitted-on-market"
        );
        assert_eq!(r.unknowns[0].valid_from, day("2016-10-29"));
        let r = sample("synthetic-kinds/psc_statement.json");
        assert_eq!(
            r.unknowns[0].reason,
            "no-individual-or-entity-with-signficant-control"
        );
        let r = sample("synthetic-kinds/psc_unknown_kind.json");
        assert!(r.parties.is_empty());
        assert!(
            r.notes.iter().any(|n| n.contains("'unknown-kind'")),
            "{:?}",
            r.notes
        );
        let r = sample("synthetic-kinds/psc_totals.json");
        assert!(r.parties.is_empty() && r.notes.iter().any(|n| n.starts_with("snapshot totals")));
        for file in ["psc_corporate.json", "psc_legal.json"] {
            let r = sample(&format!("synthetic-kinds/{file}"));
            let p = r.party("GB/89101112").unwrap();
            assert_eq!(p.name.as_str(), "Foo Bar Limited", "{file}");
        }
        // No register country, or one that is no country: the self link is the id.
        for file in ["psc_no_country.json", "psc_no_match.json"] {
            let r = sample(&format!("synthetic-kinds/{file}"));
            assert_eq!(r.parties.len(), 2, "{file}");
            assert!(r.parties[1].id.starts_with("/company/"), "{file}");
        }
        let r = sample("synthetic-kinds/psc_individual.json");
        assert_eq!(r.parties[1].name.as_str(), "Joe Bloggs");
        assert_eq!(code(r.parties[1].headquarters).as_deref(), Some("GB"));
        assert!(r.notes.iter().any(|n| n.starts_with("no totals")));
    }

    #[test]
    fn all_snapshot_samples_parse() {
        let (mut links, mut unknowns) = (0, 0);
        for n in 1..=16 {
            let r = snapshot(n);
            links += r.links.len();
            unknowns += r.unknowns.len();
            for l in &r.links {
                assert!(r.party(&l.owner).is_some() && r.party(&l.owned).is_some());
            }
        }
        assert_eq!((links, unknowns), (31, 2));
        let r = snapshot(6);
        assert_eq!(r.links.len(), 2);
        assert_eq!(r.links[0].share, BANDS[3].1);
        assert_eq!(r.parties[0].id, "GB/OE031044");
    }

    #[test]
    fn json_lines_read_like_the_array() {
        let array =
            String::from_utf8(bytes("companies-house-snapshot-lines/psc-data-1.json")).unwrap();
        let lines: String = array
            .lines()
            .filter(|l| *l != "[" && *l != "]")
            .map(|l| format!("{}\n", l.trim_end_matches(',')))
            .collect();
        let a = parse_psc("a.json", array.as_bytes()).unwrap();
        let b = parse_psc("a.json", lines.as_bytes()).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn malformed_and_cut_files_name_the_line() {
        let text =
            "{\"company_number\":\"1\",\"data\":{\"kind\":\"x\"}}\n{\"company_number\": 1,\n";
        let err = parse_psc("f.jsonl", text.as_bytes()).unwrap_err();
        assert_eq!(err.at, "f.jsonl line 2", "{err}");
        let array = bytes("companies-house-snapshot-lines/psc-data-8.json");
        for cut in crate::formats::testing::cut_points(array.len()) {
            if array[cut..].iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let err = parse_psc("a.json", &array[..cut]).unwrap_err();
            assert!(err.at.starts_with("a.json line "), "cut at {cut}: {err}");
        }
        let cases = [
            (
                "{\"company_number\":\"1\",\"data\":{\"kind\":\"individual-person-with-significant-control\",\"name\":\"A\",\"notified_on\":\"2016-13-01\",\"links\":{\"self\":\"/x\"}}}\n",
                "not a YYYY-MM-DD date",
            ),
            (
                "{\"data\":{\"kind\":\"persons-with-significant-control-statement\",\"statement\":\"s\",\"links\":{\"self\":\"/x\"}}}\n",
                "no company_number",
            ),
            (
                "{\"company_number\":\"1\",\"data\":{\"kind\":\"individual-person-with-significant-control\",\"links\":{\"self\":\"/x\"}}}\n",
                "without a name",
            ),
            ("[{\"data\":{}}] x", "after the closing"),
        ];
        for (text, message) in cases {
            let err = parse_psc("f", text.as_bytes()).unwrap_err();
            assert!(err.message.contains(message), "{text}: {err}");
            assert!(err.at.starts_with("f line "), "{err}");
        }
    }

    fn trickled(file: &str, bytes: &[u8], step: usize) -> Result<Registry, FormatError> {
        let mut collector = Collector::default();
        read_psc(file, Trickle::new(bytes, step), &mut collector)?;
        Ok(collector.finish())
    }

    #[test]
    fn a_file_read_a_few_bytes_at_a_time_reads_like_the_whole() {
        let mut files: Vec<String> = (1..=16)
            .map(|n| format!("companies-house-snapshot-lines/psc-data-{n}.json"))
            .collect();
        let dir = crate::testdata::shared_path("ownership/uk-psc/synthetic-kinds");
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            files.push(format!("synthetic-kinds/{name}"));
        }
        files.sort();
        for file in &files {
            let b = bytes(file);
            let whole = parse_psc(file, &b);
            for step in STEPS {
                assert_eq!(trickled(file, &b, step), whole, "{file} by {step}");
            }
            let cut = &b[..b.len() * 2 / 3];
            let cut_whole = parse_psc(file, cut);
            for step in STEPS {
                assert_eq!(
                    trickled(file, cut, step),
                    cut_whole,
                    "{file} cut, by {step}"
                );
            }
        }
    }

    #[test]
    fn utf8_and_byte_order_marks() {
        let line = r#"{"company_number":"1","data":{"kind":"persons-with-significant-control-statement","statement":"café €","links":{"self":"/s/1"}}}"#;
        let good = format!("\u{feff}[\n{line},\n{}\n]\n", line.replace("/s/1", "/s/2"));
        let r = parse_psc("f", good.as_bytes()).unwrap();
        assert_eq!(r.unknowns.len(), 2);
        for step in STEPS {
            assert_eq!(trickled("f", good.as_bytes(), step).unwrap(), r);
        }
        let mut bad = format!("{line}\n").into_bytes();
        bad.extend_from_slice(b"{\"company_number\":\"\xff\"}\n");
        for step in [0, 1, 2] {
            let err = match step {
                0 => parse_psc("f", &bad).unwrap_err(),
                s => trickled("f", &bad, s).unwrap_err(),
            };
            assert_eq!(err.to_string(), "f line 2: not valid UTF-8");
        }
    }

    /// Mangled samples are accepted or refused, never a panic.
    #[test]
    fn mangled_samples_never_panic() {
        let noise = b"[]{}\",:0-\n\r \xff\xc3";
        for file in [
            "companies-house-snapshot-lines/psc-data-8.json",
            "companies-house-snapshot-lines/psc-data-1.json",
            "synthetic-kinds/psc_exemptions.json",
        ] {
            crate::formats::testing::mangle(&bytes(file), noise, 11, 300, |b| {
                let _ = parse_psc("m", &b);
            });
        }
    }

    /// Parse times; run with
    /// `cargo test --release --lib formats::psc::tests::parse_times -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn parse_times() {
        let file = "companies-house-snapshot-lines/psc-data-8.json";
        let b = bytes(file);
        let (best, _) = crate::formats::testing::best_of(20, || parse_psc(file, &b).unwrap());
        println!("{file} ({} bytes): {best:?} (best of 20)", b.len());
        // 200,000 JSON lines made from the psc-data-1 person, one company each.
        let line = String::from_utf8(bytes("companies-house-snapshot-lines/psc-data-1.json"))
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .trim_end_matches(',')
            .to_owned();
        let mut big = String::new();
        for i in 0..200_000 {
            big.push_str(&line.replace("08209948", &format!("{i:08}")));
            big.push('\n');
        }
        let start = std::time::Instant::now();
        let r = parse_psc("big.jsonl", big.as_bytes()).unwrap();
        println!(
            "synthetic JSON Lines ({} MB, 200000 lines): {:?}",
            big.len() / 1_000_000,
            start.elapsed()
        );
        assert_eq!(r.links.len(), 200_000);
    }
}
