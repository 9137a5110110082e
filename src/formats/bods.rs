//! Beneficial Ownership Data Standard (BODS) 0.4: a streaming reader and a writer.
//!
//! [`read_bods`] reads a JSON array of statements (the usual package) or JSON Lines (one
//! statement a line), one statement at a time: a small splitter finds each top-level object
//! (tracking strings, escapes and depth), so the file is never held whole. Every statement is
//! validated against the BODS 0.4 schema (the schema files of `data/bods/`, registered by
//! their `$id`s) and the additional checks of lib-cove-bods, then mapped. Errors name the
//! file, the line the statement starts on and its `statementId`
//! (`fermcat.json line 40 (statement 39a4...): ...`); a schema error adds the JSON pointer of
//! the failing field. A truncated array, or a statement cut short, is an error; a JSON Lines
//! file cut exactly at a line break cannot be told from a shorter one.
//!
//! # Additional checks (lib-cove-bods)
//!
//! - a `share` gives either `exact` or bounds, never both; at most one of `minimum` /
//!   `exclusiveMinimum` and of `maximum` / `exclusiveMaximum`; the lower bound is at most the
//!   upper, and equal bounds with an exclusive end (an empty range) are refused;
//! - a relationship's `subject` names an entity record, its `interestedParty` an entity or
//!   person record (or is an unspecified-record object), described by an earlier statement;
//! - `beneficialOwnershipOrControl: true` only when the interested party is a person;
//! - every `componentRecords` entry names an earlier record with `isComponent: true`, and
//!   every record with `isComponent: true` is listed by some relationship's
//!   `componentRecords` by the end of the file.
//!
//! # Mapping
//!
//! - **Entity records** become [`RegistryParty`]s with id = `recordId`, source `bods`. Kind:
//!   `state` / `stateBody`, or subtype `governmentDepartment` / `stateAgency` → government;
//!   subtype `trust` → trust; other `arrangement`s → other; `registeredEntity` /
//!   `legalEntity` → company, except that an `entityType.details` of exactly `fund`,
//!   `partnership` or `other` gives that kind (what [`write_bods`] writes for them).
//!   `jurisdiction.code` is the jurisdiction (its `name`, when it has no code and names a
//!   country). The headquarters is the country of a `business` address, else of a
//!   `registered` one, only when it has a valid ISO code (a country object whose `name` is an
//!   ISO 3166-2 code of that country, as the writer writes a subdivision, gives the
//!   subdivision). `alternateNames` are aliases. Identifiers: scheme
//!   `XI-LEI` → `lei`; an org-id.guide prefix `CC-XXX` whose `CC` is an ISO 3166-1 country
//!   (`GB-COH`, `FI-PRO`) → `registration_number`, and `CC` becomes the jurisdiction when the
//!   record has none (org-id.guide cannot tell a company register from another national
//!   list, so every such scheme counts as a register); person schemes `CCC-PASSPORT`,
//!   `CCC-TAXID`, `CCC-IDCARD` → `passport`, `tax_id`, `national_id`; no scheme and a
//!   `schemeName` that is one of [`super::SCHEMES`] → that scheme (what the writer writes);
//!   anything else → `other` with value `SCHEME:id` (just the id without a scheme).
//! - **Person records** become person parties: the name is the `fullName` (or the name
//!   parts) of the first `legal` or `individual` name, else of the first name; the other
//!   names are aliases. `nationalities[0]` is the jurisdiction; `taxResidencies[0]`, else a
//!   `residence` address's country, is the headquarters.
//! - `anonymousEntity` / `unknownEntity` / `anonymousPerson` / `unknownPerson` records are
//!   not parties: a relationship naming one as interested party is a [`DeclaredUnknown`]
//!   (below). A relationship whose subject is one is skipped with a note.
//! - **Relationship records** give one [`RegistryLink`] per interest, from the interested
//!   party to the subject. `shareholding` → [`Interest::Shares`], `votingRights` → votes,
//!   `appointmentOfBoard` → board, every other type (or none) → control. `details` keeps the
//!   source's words so that [`write_bods`] can write them back: a type that is not the
//!   interest's own (`boardMember` for control) is kept as `type` or `type; details`; the
//!   interest's own type is implied and only the interest's `details` text is kept. An
//!   `otherInfluenceOrControl` interest whose `details` is `accountingConsolidation` (or starts
//!   with `accountingConsolidation; `) is [`Interest::Consolidation`], with the rest as
//!   details: this is how the writer writes consolidation, so `read(write(r))` keeps every
//!   interest. `share` gives the [`ShareBounds`] (kept for any interest; none gives
//!   [`ShareBounds::UNKNOWN`], the importer decides). `startDate` is `valid_from`;
//!   `valid_to` is the day after `endDate` (`valid_to` is exclusive, `endDate` is the last
//!   day). `directOrIndirect: indirect` sets `declared_indirect`, kept as declared; component
//!   relationships are ordinary links. A relationship with no interests is one link of type
//!   `unknownInterest`.
//! - An interested party that is an unspecified object `{reason, description}`, or names an
//!   anonymous or unknown record, gives a [`DeclaredUnknown`] per interest (or one, without
//!   interest, when none is stated): reason = the BODS `unspecifiedReason` (of the object or
//!   of the record's `unspecifiedPersonDetails` / `unspecifiedEntityDetails`; `unknown` when
//!   absent), details = the description, interest and share from the interest
//!   (`unknownInterest` or no type: none). When the description starts with a code-like
//!   word (letters, digits, `-`, `_`, `#`, with a `-` or `_`) that
//!   [`bods_unspecified_reason`] maps to the reason, that word is the
//!   reason and the rest the details: this is how the writer keeps GLEIF and PSC reasons.
//! - Link and declared-unknown ids: `{recordId}` when the record ever states one interest,
//!   else `{recordId}/{n}` with `n` counting the distinct interests of the record in the order
//!   they first appear.
//!
//! # Record series
//!
//! One `recordId` may have several statements (`new`, `updated`, `closed`) in `statementDate`
//! order (a statement dated before the record's previous one is an error). What statement
//! `k` says holds from its date until statement `k+1`'s:
//! - entity and person records: the latest statement replaces the party whole (sent again
//!   with [`RegistrySink::replace_party`] when it differs);
//! - relationships: an interest of `k+1` with the same terms (type, details, share,
//!   directness, parties) as one still open carries on as the same link (a new `endDate`
//!   ends it); an open interest `k+1` no longer states ends at `k+1`'s date; an interest of
//!   `k+1` that matches none starts at `k+1`'s date, or its own `startDate` if later; a
//!   `closed` statement ends every open interest at its own `endDate` (+1), else at the
//!   statement's date. A statement about a closed relationship is an error.
//!
//! Parties are sent as they come; a relationship's links are sent when it is closed, when its
//! last statement in the file has been read (given [`SeriesLengths`], counted in a light first
//! pass over a file on disk), or else at the end of the file. Memory is proportional to the
//! relationship records still open (their interests: with the lengths, only those with
//! statements still to come), plus the id and a few flags of every record seen (for the
//! reference checks): never the statements themselves.
//!
//! # Writer
//!
//! [`write_bods`] writes a JSON array of BODS 0.4 statements, one at a time: an entity or
//! person statement per party (a placeholder is an entity named by its id), a relationship
//! per `(owner, owned)` pair with one interest per link, and one per [`DeclaredUnknown`] with
//! an unspecified interested party. See [`write_bods`] for what is inherently lost.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{BufRead, Write};
use std::num::NonZeroU64;
use std::sync::LazyLock;

use chrono::{Days, NaiveDate};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::record::{Notes, aliases, parse_name, push_identifier};
use super::registry::{
    BODS_UNSPECIFIED_REASONS, Collector, DeclaredUnknown, Registry, RegistryLink, RegistryParty,
    RegistrySink, ShareBounds, bods_unspecified_reason,
};
use super::text::iso_date;
use super::{FormatError, SCHEMES, country};
use crate::domain::{EntityKind, Interest, Jurisdiction};

const SOURCE: &str = "bods";

/// The longest statement accepted (a guard against a file that never closes an object).
const MAX_STATEMENT_BYTES: usize = 16 << 20;

/// How [`Interest::Consolidation`] is written: an `otherInfluenceOrControl` interest whose
/// `details` is this word (or starts with it and `; `).
const CONSOLIDATION: &str = "accountingConsolidation";

/// The BODS 0.4 interest types and the [`Interest`] each gives.
const INTEREST_TYPES: [(&str, Interest); 23] = [
    ("shareholding", Interest::Shares),
    ("votingRights", Interest::Votes),
    ("appointmentOfBoard", Interest::Board),
    ("otherInfluenceOrControl", Interest::Control),
    ("seniorManagingOfficial", Interest::Control),
    ("settlor", Interest::Control),
    ("trustee", Interest::Control),
    ("protector", Interest::Control),
    ("beneficiaryOfLegalArrangement", Interest::Control),
    ("rightsToSurplusAssetsOnDissolution", Interest::Control),
    ("rightsToProfitOrIncome", Interest::Control),
    ("rightsGrantedByContract", Interest::Control),
    ("conditionalRightsGrantedByContract", Interest::Control),
    ("controlViaCompanyRulesOrArticles", Interest::Control),
    ("controlByLegalFramework", Interest::Control),
    ("boardMember", Interest::Control),
    ("boardChair", Interest::Control),
    ("unknownInterest", Interest::Control),
    ("unpublishedInterest", Interest::Control),
    ("enjoymentAndUseOfAssets", Interest::Control),
    ("rightToProfitOrIncomeFromAssets", Interest::Control),
    ("nominee", Interest::Control),
    ("nominator", Interest::Control),
];

const UNKNOWN_INTEREST: &str = "unknownInterest";

/// The BODS type written for an interest (and implied by it when read).
fn own_type(interest: Interest) -> &'static str {
    match interest {
        Interest::Shares => "shareholding",
        Interest::Votes => "votingRights",
        Interest::Board => "appointmentOfBoard",
        Interest::Control | Interest::Consolidation => "otherInfluenceOrControl",
    }
}

fn interest_of(code: &str) -> Interest {
    INTEREST_TYPES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(Interest::Control, |(_, i)| *i)
}

/// The interest and link details of a BODS interest type and `details` text.
fn read_interest(kind: Option<&str>, text: Option<&str>) -> (Interest, Option<String>) {
    let Some(kind) = kind else {
        return (Interest::Control, text.map(str::to_owned));
    };
    if kind == own_type(Interest::Control)
        && let Some(t) = text
    {
        if t == CONSOLIDATION {
            return (Interest::Consolidation, None);
        }
        if let Some(rest) = t
            .strip_prefix(CONSOLIDATION)
            .and_then(|r| r.strip_prefix("; "))
        {
            return (Interest::Consolidation, Some(rest.to_owned()));
        }
    }
    let interest = interest_of(kind);
    if kind == own_type(interest) {
        return (interest, text.map(str::to_owned));
    }
    let details = match text {
        Some(t) => format!("{kind}; {t}"),
        None => kind.to_owned(),
    };
    (interest, Some(details))
}

/// The BODS type and `details` text that [`read_interest`] reads back as `interest` and
/// `details`.
fn write_interest(interest: Interest, details: Option<&str>) -> (&'static str, Option<String>) {
    if interest == Interest::Consolidation {
        let text = match details {
            Some(d) => format!("{CONSOLIDATION}; {d}"),
            None => CONSOLIDATION.to_owned(),
        };
        return (own_type(interest), Some(text));
    }
    if let Some(d) = details {
        let (code, rest) = match d.split_once("; ") {
            Some((c, r)) if !r.is_empty() => (c, Some(r)),
            _ => (d, None),
        };
        if let Some((code, _)) = INTEREST_TYPES
            .iter()
            .find(|(c, i)| *c == code && *i == interest && *c != own_type(interest))
        {
            return (code, rest.map(str::to_owned));
        }
    }
    (own_type(interest), details.map(str::to_owned))
}

/// A code-like word: what a GLEIF or PSC reason looks like, and a sentence does not.
fn code_like(s: &str) -> bool {
    !s.is_empty()
        && s.contains(['-', '_'])
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '#'))
}

/// The reason and details of an unspecified interested party: a non-BODS reason the writer
/// put at the head of the description is taken back.
fn read_reason(reason: &str, description: Option<&str>) -> (String, Option<String>) {
    if let Some(d) = description {
        let (code, rest) = match d.split_once("; ") {
            Some((c, r)) if !r.is_empty() => (c, Some(r)),
            _ => (d, None),
        };
        if code_like(code)
            && !BODS_UNSPECIFIED_REASONS.contains(&code)
            && bods_unspecified_reason(code) == reason
        {
            return (code.to_owned(), rest.map(str::to_owned));
        }
    }
    (reason.to_owned(), description.map(str::to_owned))
}

/// The BODS reason and description written for a declared unknown.
fn write_reason(reason: &str, details: Option<&str>) -> (&'static str, Option<String>) {
    let bods = bods_unspecified_reason(reason);
    if bods == reason {
        return (bods, details.map(str::to_owned));
    }
    let description = match details {
        Some(d) => format!("{reason}; {d}"),
        None => reason.to_owned(),
    };
    (bods, Some(description))
}

// ---------------------------------------------------------------------------------------
// Schema

const SCHEMAS: [(&str, &str); 5] = [
    ("urn:statement", include_str!("data/bods/statement.json")),
    ("urn:components", include_str!("data/bods/components.json")),
    ("urn:entity", include_str!("data/bods/entity-record.json")),
    ("urn:person", include_str!("data/bods/person-record.json")),
    (
        "urn:relationship",
        include_str!("data/bods/relationship-record.json"),
    ),
];

/// The validator of one statement, compiled once.
static VALIDATOR: LazyLock<Result<jsonschema::Validator, String>> = LazyLock::new(|| {
    let mut options = jsonschema::options().with_draft(jsonschema::Draft::Draft202012);
    for (uri, text) in SCHEMAS {
        let schema: Value = serde_json::from_str(text).map_err(|e| format!("{uri}: {e}"))?;
        let resource =
            jsonschema::Resource::from_contents(schema).map_err(|e| format!("{uri}: {e}"))?;
        options = options.with_resource(uri, resource);
    }
    options
        .build(&json!({"$ref": "urn:statement#/$defs/Statement"}))
        .map_err(|e| format!("the BODS schema does not compile: {e}"))
});

fn validator(file: &str) -> Result<&'static jsonschema::Validator, FormatError> {
    VALIDATOR
        .as_ref()
        .map_err(|m| FormatError::new(file, m.clone()))
}

/// The first schema error of a statement, with the JSON pointer of the failing field.
fn schema_error(statement: &Value, file: &str) -> Result<Option<String>, FormatError> {
    Ok(validator(file)?.validate(statement).err().map(|e| {
        let pointer = e.instance_path.as_str();
        let pointer = if pointer.is_empty() { "/" } else { pointer };
        format!("does not match the BODS 0.4 schema at {pointer}: {e}")
    }))
}

// ---------------------------------------------------------------------------------------
// Splitting the input into statements

#[derive(Clone, Copy, PartialEq)]
enum Layout {
    Start,
    /// Inside the array, before the first element.
    ArrayFirst,
    /// Inside the array, after an element.
    ArrayNext,
    AfterArray,
    Lines,
}

/// Cuts a JSON array of objects, or whitespace-separated objects, into the objects' bytes.
struct Splitter<R> {
    input: R,
    line: usize,
    layout: Layout,
}

impl<R: BufRead> Splitter<R> {
    fn new(input: R) -> Self {
        Self {
            input,
            line: 1,
            layout: Layout::Start,
        }
    }

    fn err(&self, file: &str, message: impl Into<String>) -> FormatError {
        FormatError::new(format!("{file} line {}", self.line), message)
    }

    fn peek(&mut self, file: &str) -> Result<Option<u8>, FormatError> {
        match self.input.fill_buf() {
            Ok(buf) => Ok(buf.first().copied()),
            Err(e) => Err(self.err(file, e.to_string())),
        }
    }

    fn byte(&mut self, file: &str) -> Result<Option<u8>, FormatError> {
        let b = self.peek(file)?;
        if let Some(b) = b {
            self.input.consume(1);
            if b == b'\n' {
                self.line += 1;
            }
        }
        Ok(b)
    }

    /// The next byte that is not whitespace, consumed.
    fn token(&mut self, file: &str) -> Result<Option<u8>, FormatError> {
        loop {
            match self.byte(file)? {
                Some(b) if b.is_ascii_whitespace() => {}
                other => return Ok(other),
            }
        }
    }

    /// The next statement's first line and bytes; `None` at a proper end.
    fn next(&mut self, file: &str) -> Result<Option<(usize, Vec<u8>)>, FormatError> {
        loop {
            let token = self.token(file)?;
            let layout = self.layout;
            match (layout, token) {
                (Layout::Start, None) => return Err(self.err(file, "the file is empty")),
                (Layout::Start, Some(b'[')) => self.layout = Layout::ArrayFirst,
                (Layout::Start | Layout::Lines, Some(b'{')) => {
                    self.layout = Layout::Lines;
                    return self.object(file).map(Some);
                }
                (Layout::ArrayFirst, Some(b'{')) => {
                    self.layout = Layout::ArrayNext;
                    return self.object(file).map(Some);
                }
                (Layout::ArrayNext, Some(b',')) => match self.token(file)? {
                    Some(b'{') => return self.object(file).map(Some),
                    None => return Err(self.cut(file)),
                    Some(_) => return Err(self.err(file, "expected a statement object after ','")),
                },
                (Layout::ArrayFirst | Layout::ArrayNext, Some(b']')) => {
                    self.layout = Layout::AfterArray;
                }
                (Layout::ArrayFirst | Layout::ArrayNext, None) => return Err(self.cut(file)),
                (Layout::AfterArray | Layout::Lines, None) => return Ok(None),
                (Layout::AfterArray, Some(_)) => {
                    return Err(self.err(file, "content after the closing ']'"));
                }
                (Layout::ArrayNext, Some(_)) => {
                    return Err(self.err(file, "expected ',' or ']' after a statement"));
                }
                (_, Some(_)) => {
                    return Err(self.err(
                        file,
                        "expected a statement object (a JSON array of statements, or one statement a line)",
                    ));
                }
            }
        }
    }

    fn cut(&self, file: &str) -> FormatError {
        self.err(
            file,
            "the array is never closed with ']': the file is cut short",
        )
    }

    /// The bytes of an object whose `{` was just read, scanned a buffer at a time.
    fn object(&mut self, file: &str) -> Result<(usize, Vec<u8>), FormatError> {
        let start = self.line;
        let mut bytes = vec![b'{'];
        let (mut depth, mut string, mut escape) = (1usize, false, false);
        loop {
            let line = self.line;
            let buf = self
                .input
                .fill_buf()
                .map_err(|e| FormatError::new(format!("{file} line {line}"), e.to_string()))?;
            if buf.is_empty() {
                return Err(self.err(
                    file,
                    format!("the statement starting on line {start} is cut short"),
                ));
            }
            let mut used = buf.len();
            for (i, &b) in buf.iter().enumerate() {
                if b == b'\n' {
                    self.line += 1;
                }
                if string {
                    if escape {
                        escape = false;
                    } else if b == b'\\' {
                        escape = true;
                    } else if b == b'"' {
                        string = false;
                    }
                    continue;
                }
                match b {
                    b'"' => string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    used = i + 1;
                    break;
                }
            }
            bytes.extend_from_slice(&buf[..used]);
            self.input.consume(used);
            if depth == 0 {
                return Ok((start, bytes));
            }
            if bytes.len() > MAX_STATEMENT_BYTES {
                return Err(self.err(
                    file,
                    format!(
                        "the statement starting on line {start} is over {MAX_STATEMENT_BYTES} bytes"
                    ),
                ));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Reading

/// Parses a BODS 0.4 file whole into a [`Registry`] (for tests and small files).
pub fn parse_bods(name: &str, bytes: &[u8]) -> Result<Registry, FormatError> {
    let mut sink = Collector::default();
    read_bods(name, bytes, &mut sink)?;
    Ok(sink.finish())
}

/// How many statements each relationship record of a file has: what lets [`read_bods`] send a
/// relationship as soon as its last statement is read instead of holding it to the end.
/// Keyed by a hash of the record id: two ids sharing one only keep both open longer.
#[derive(Debug, Default)]
pub struct SeriesLengths(HashMap<u64, u32>);

impl SeriesLengths {
    /// Counts them in a light pass (only `recordId` and `recordType` are read). A file that
    /// does not split into statements gives no lengths: the reading pass reports why.
    pub fn count(name: &str, input: impl BufRead) -> Self {
        #[derive(serde::Deserialize)]
        struct Head<'a> {
            #[serde(rename = "recordId", borrow)]
            record_id: Option<std::borrow::Cow<'a, str>>,
            #[serde(rename = "recordType", borrow)]
            record_type: Option<std::borrow::Cow<'a, str>>,
        }
        let mut split = Splitter::new(input);
        let mut lengths = HashMap::new();
        loop {
            match split.next(name) {
                Ok(Some((_, bytes))) => {
                    let Ok(head) = serde_json::from_slice::<Head>(&bytes) else {
                        continue;
                    };
                    if !matches!(head.record_type.as_deref(), Some("entity" | "person")) {
                        let id = head.record_id.as_deref().unwrap_or_default();
                        *lengths.entry(record_hash(id)).or_insert(0) += 1;
                    }
                }
                Ok(None) => return Self(lengths),
                Err(_) => return Self::default(),
            }
        }
    }

    fn of(&self, record_id: &str) -> Option<u32> {
        self.0.get(&record_hash(record_id)).copied()
    }
}

fn record_hash(id: &str) -> u64 {
    let mut h = DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

/// Reads a BODS file whose relationships' [`SeriesLengths`] are known: each is sent once its
/// last statement is read, so memory does not grow with the relationships of the file.
pub fn read_bods_counted(
    name: &str,
    input: impl BufRead,
    lengths: SeriesLengths,
    sink: &mut dyn RegistrySink,
) -> Result<(), FormatError> {
    read(name, input, lengths, sink)
}

/// Reads a BODS 0.4 file (a JSON array of statements or JSON Lines) statement by statement
/// into `sink`; see the module documentation.
pub fn read_bods(
    name: &str,
    input: impl BufRead,
    sink: &mut dyn RegistrySink,
) -> Result<(), FormatError> {
    read(name, input, SeriesLengths::default(), sink)
}

fn read(
    name: &str,
    input: impl BufRead,
    lengths: SeriesLengths,
    sink: &mut dyn RegistrySink,
) -> Result<(), FormatError> {
    let mut split = Splitter::new(input);
    let mut reader = Reader {
        lengths,
        records: HashMap::new(),
        unspecified: HashMap::new(),
        pending_components: HashMap::new(),
        statements: 0,
        open: BTreeMap::new(),
        open_index: HashMap::new(),
        next_seq: 0,
        closed: HashSet::new(),
        notes: Notes::default(),
    };
    while let Some((line, bytes)) = split.next(name)? {
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            FormatError::new(
                format!("{name} line {}", line + e.line().saturating_sub(1)),
                format!("malformed JSON: {e}"),
            )
        })?;
        let at = match value.get("statementId").and_then(Value::as_str) {
            Some(id) => format!("{name} line {line} (statement {id})"),
            None => format!("{name} line {line}"),
        };
        if let Some(message) = schema_error(&value, name)? {
            return Err(FormatError::new(at, message));
        }
        reader.statement(&value, &at, sink)?;
    }
    reader.finish(sink)
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum RecordType {
    Entity,
    Person,
    Relationship,
}

impl RecordType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Entity => "entity",
            Self::Person => "person",
            Self::Relationship => "relationship",
        }
    }
}

/// What the reader keeps of every record, for the reference checks: kept small, as a file
/// has millions of records.
struct RecordInfo {
    kind: RecordType,
    component: bool,
    /// An anonymous or unknown entity or person (its reason and description are in
    /// [`Reader::unspecified`]).
    unspecified: bool,
    /// A hash of the party last sent.
    sent: Option<NonZeroU64>,
}

/// Who holds a relationship's interests.
#[derive(Clone, PartialEq, Debug)]
enum Holder {
    Party(String),
    Unspecified {
        reason: String,
        description: Option<String>,
    },
}

/// An interest as stated, with its validity so far.
struct Stated {
    subject: String,
    holder: Holder,
    kind: Option<String>,
    text: Option<String>,
    share: ShareBounds,
    indirect: bool,
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
    /// The statement that first stated it.
    at: String,
}

impl Stated {
    fn same_terms(&self, other: &Stated) -> bool {
        self.subject == other.subject
            && self.holder == other.holder
            && self.kind == other.kind
            && self.text == other.text
            && self.share == other.share
            && self.indirect == other.indirect
    }
}

struct OpenInterest {
    stated: Stated,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
    /// Still stated by the record's latest statement.
    current: bool,
}

/// A relationship record being read.
struct Series {
    record_id: String,
    last_date: NaiveDate,
    interests: Vec<OpenInterest>,
    /// Statements read.
    statements: u32,
}

struct Reader {
    lengths: SeriesLengths,
    records: HashMap<Box<str>, RecordInfo>,
    /// The reason and description of each anonymous or unknown entity or person.
    unspecified: HashMap<String, (String, Option<String>)>,
    /// Records with `isComponent: true` no `componentRecords` has listed yet, with the
    /// number and place of their statement.
    pending_components: HashMap<String, (usize, String)>,
    statements: usize,
    open: BTreeMap<usize, Series>,
    open_index: HashMap<String, usize>,
    next_seq: usize,
    closed: HashSet<String>,
    notes: Notes,
}

fn text<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn day_after(d: NaiveDate) -> Option<NaiveDate> {
    d.checked_add_days(Days::new(1))
}

fn err(at: &str, message: impl Into<String>) -> FormatError {
    FormatError::new(at, message)
}

/// A BODS date: `YYYY-MM-DD`, or the date of a date-time.
fn bods_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let rest = s.get(10..)?;
    if !(rest.is_empty() || rest.starts_with('T')) {
        return None;
    }
    iso_date(s.get(..10)?)
}

fn date_field(v: &Value, key: &str, at: &str) -> Result<Option<NaiveDate>, FormatError> {
    match v.get(key).and_then(Value::as_str) {
        None => Ok(None),
        Some(s) => bods_date(s)
            .map(Some)
            .ok_or_else(|| err(at, format!("{key} '{s}' is not a date"))),
    }
}

/// The bounds of a `share`, checked as lib-cove-bods does.
fn share_bounds(share: &Value) -> Result<ShareBounds, String> {
    let get = |k: &str| share.get(k).and_then(Value::as_f64);
    let exact = get("exact");
    let (min, xmin) = (get("minimum"), get("exclusiveMinimum"));
    let (max, xmax) = (get("maximum"), get("exclusiveMaximum"));
    if exact.is_some() && min.or(xmin).or(max).or(xmax).is_some() {
        return Err("share gives both 'exact' and a range".to_owned());
    }
    if min.is_some() && xmin.is_some() {
        return Err("share gives both 'minimum' and 'exclusiveMinimum'".to_owned());
    }
    if max.is_some() && xmax.is_some() {
        return Err("share gives both 'maximum' and 'exclusiveMaximum'".to_owned());
    }
    let bounds = ShareBounds {
        exact,
        min: min.or(xmin),
        min_exclusive: xmin.is_some(),
        max: max.or(xmax),
        max_exclusive: xmax.is_some(),
    };
    if let (Some(lo), Some(hi)) = (bounds.min, bounds.max) {
        let exclusive = bounds.min_exclusive || bounds.max_exclusive;
        if lo > hi || (lo == hi && exclusive) {
            return Err(format!("share range from {lo} to {hi} is empty"));
        }
    }
    Ok(bounds)
}

/// A jurisdiction from a BODS country or jurisdiction object: its `code`, or its `name` when
/// that is an ISO 3166-2 code of the `code`'s country (how the writer writes a subdivision
/// where only a country code fits).
fn place(v: Option<&Value>, notes: &mut Notes) -> Option<Jurisdiction> {
    let v = v?;
    let code = text(v, "code")?;
    let Some(j) = country::by_code(code) else {
        notes.unknown_country(code);
        return None;
    };
    let sub = text(v, "name")
        .filter(|n| n.contains('-'))
        .and_then(|n| Jurisdiction::parse(n).ok())
        .filter(|s| !s.is_country() && s.country() == j);
    Some(sub.unwrap_or(j))
}

fn address_place(v: &Value, types: &[&str], notes: &mut Notes) -> Option<Jurisdiction> {
    let addresses = v.get("addresses").and_then(Value::as_array)?;
    types.iter().find_map(|t| {
        addresses
            .iter()
            .filter(|a| text(a, "type") == Some(t))
            .find_map(|a| place(a.get("country"), notes))
    })
}

/// The scheme of a BODS identifier and the value kept (see the module documentation).
fn classify(scheme: Option<&str>, scheme_name: Option<&str>, id: &str) -> (String, String) {
    let Some(scheme) = scheme else {
        return match scheme_name.filter(|n| SCHEMES.contains(n)) {
            Some(s) => (s.to_owned(), id.to_owned()),
            None => ("other".to_owned(), id.to_owned()),
        };
    };
    if scheme == "XI-LEI" {
        return ("lei".to_owned(), id.to_owned());
    }
    if let Some((prefix, kind)) = scheme.split_once('-') {
        if prefix.len() == 3 && prefix.bytes().all(|b| b.is_ascii_uppercase()) {
            let person = match kind {
                "PASSPORT" => Some("passport"),
                "TAXID" => Some("tax_id"),
                "IDCARD" => Some("national_id"),
                _ => None,
            };
            if let Some(p) = person {
                return (p.to_owned(), id.to_owned());
            }
        }
        if register_country(scheme).is_some() && !kind.is_empty() {
            return ("registration_number".to_owned(), id.to_owned());
        }
    }
    ("other".to_owned(), format!("{scheme}:{id}"))
}

/// The country of an org-id.guide national scheme `CC-XXX`.
fn register_country(scheme: &str) -> Option<Jurisdiction> {
    let (prefix, rest) = scheme.split_once('-')?;
    if prefix.len() != 2 || rest.is_empty() || !prefix.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    Jurisdiction::parse(prefix).ok()
}

fn hash_of(party: &RegistryParty) -> u64 {
    let mut h = DefaultHasher::new();
    format!("{party:?}").hash(&mut h);
    h.finish()
}

impl Reader {
    fn statement(
        &mut self,
        v: &Value,
        at: &str,
        sink: &mut dyn RegistrySink,
    ) -> Result<(), FormatError> {
        let record_id = v
            .get("recordId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let kind = match v.get("recordType").and_then(Value::as_str) {
            Some("entity") => RecordType::Entity,
            Some("person") => RecordType::Person,
            _ => RecordType::Relationship,
        };
        let details = v.get("recordDetails").unwrap_or(&Value::Null);
        let component = details
            .get("isComponent")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if let Some(known) = self.records.get(record_id.as_str())
            && known.kind != kind
        {
            return Err(err(
                at,
                format!(
                    "record '{record_id}' was a {} record and is now a {} record",
                    known.kind.as_str(),
                    kind.as_str()
                ),
            ));
        }
        let was_component = self
            .records
            .get(record_id.as_str())
            .is_some_and(|r| r.component);
        self.statements += 1;
        if component && !was_component {
            self.pending_components
                .insert(record_id.clone(), (self.statements, at.to_owned()));
        }
        match kind {
            RecordType::Relationship => self.relationship(v, &record_id, details, at, sink)?,
            _ => self.party(&record_id, kind, details, at, sink)?,
        }
        if let Some(info) = self.records.get_mut(record_id.as_str()) {
            info.component |= component;
        }
        Ok(())
    }

    fn party(
        &mut self,
        record_id: &str,
        kind: RecordType,
        d: &Value,
        at: &str,
        sink: &mut dyn RegistrySink,
    ) -> Result<(), FormatError> {
        let unspecified = if kind == RecordType::Entity {
            let t = d.get("entityType").and_then(|t| text(t, "type"));
            matches!(t, Some("anonymousEntity" | "unknownEntity"))
                .then(|| d.get("unspecifiedEntityDetails"))
        } else {
            let t = text(d, "personType");
            matches!(t, Some("anonymousPerson" | "unknownPerson"))
                .then(|| d.get("unspecifiedPersonDetails"))
        };
        let info = self.records.entry(record_id.into()).or_insert(RecordInfo {
            kind,
            component: false,
            unspecified: false,
            sent: None,
        });
        info.unspecified = unspecified.is_some();
        if let Some(u) = unspecified {
            let reason = u.and_then(|u| text(u, "reason")).unwrap_or("unknown");
            let description = u.and_then(|u| text(u, "description")).map(str::to_owned);
            self.unspecified
                .insert(record_id.to_owned(), (reason.to_owned(), description));
            return Ok(());
        }
        self.unspecified.remove(record_id);
        let party = if kind == RecordType::Entity {
            entity(record_id, d, &mut self.notes)
        } else {
            person(record_id, d, &mut self.notes)
        }
        .map_err(|m| err(at, m))?;
        let hash = NonZeroU64::new(hash_of(&party) | 1);
        let previous = std::mem::replace(&mut info.sent, hash);
        match previous {
            None => sink.party(party),
            Some(h) if Some(h) != hash => sink.replace_party(party),
            Some(_) => Ok(()),
        }
    }

    /// The holder a relationship's `interestedParty` names.
    fn holder(&self, party: &Value, at: &str) -> Result<(Holder, Option<RecordType>), FormatError> {
        if let Some(id) = party.as_str() {
            let Some(info) = self.records.get(id) else {
                return Err(err(
                    at,
                    format!("interestedParty '{id}' names no earlier entity or person statement"),
                ));
            };
            if info.kind == RecordType::Relationship {
                return Err(err(
                    at,
                    format!(
                        "interestedParty '{id}' is a relationship record, not an entity or person"
                    ),
                ));
            }
            let holder = match self.unspecified.get(id) {
                Some((reason, description)) if info.unspecified => Holder::Unspecified {
                    reason: reason.clone(),
                    description: description.clone(),
                },
                _ => Holder::Party(id.to_owned()),
            };
            return Ok((holder, Some(info.kind)));
        }
        let reason = text(party, "reason").unwrap_or("unknown").to_owned();
        let description = text(party, "description").map(str::to_owned);
        Ok((
            Holder::Unspecified {
                reason,
                description,
            },
            None,
        ))
    }

    fn relationship(
        &mut self,
        v: &Value,
        record_id: &str,
        d: &Value,
        at: &str,
        sink: &mut dyn RegistrySink,
    ) -> Result<(), FormatError> {
        if self.closed.contains(record_id) {
            return Err(err(
                at,
                format!("relationship '{record_id}' was closed by an earlier statement"),
            ));
        }
        self.records.entry(record_id.into()).or_insert(RecordInfo {
            kind: RecordType::Relationship,
            component: false,
            unspecified: false,
            sent: None,
        });
        let subject = text(d, "subject").unwrap_or_default().to_owned();
        let subject_unspecified = match self.records.get(subject.as_str()) {
            None => {
                return Err(err(
                    at,
                    format!("subject '{subject}' names no earlier entity statement"),
                ));
            }
            Some(info) if info.kind != RecordType::Entity => {
                return Err(err(
                    at,
                    format!(
                        "subject '{subject}' is a {} record, not an entity",
                        info.kind.as_str()
                    ),
                ));
            }
            Some(info) => info.unspecified,
        };
        let (holder, holder_kind) =
            self.holder(d.get("interestedParty").unwrap_or(&Value::Null), at)?;
        for listed in d
            .get("componentRecords")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let id = listed.as_str().unwrap_or_default();
            if !self.records.get(id).is_some_and(|r| r.component) {
                return Err(err(
                    at,
                    format!(
                        "componentRecords names '{id}', which no earlier statement describes with isComponent true"
                    ),
                ));
            }
            self.pending_components.remove(id);
        }
        let mut stated = Vec::new();
        for interest in d
            .get("interests")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if interest.get("beneficialOwnershipOrControl") == Some(&Value::Bool(true))
                && holder_kind == Some(RecordType::Entity)
            {
                return Err(err(
                    at,
                    "beneficialOwnershipOrControl is true but the interested party is an entity, not a person",
                ));
            }
            let share = match interest.get("share") {
                Some(s) => share_bounds(s).map_err(|m| err(at, m))?,
                None => ShareBounds::UNKNOWN,
            };
            stated.push(Stated {
                subject: subject.clone(),
                holder: holder.clone(),
                kind: text(interest, "type").map(str::to_owned),
                text: interest
                    .get("details")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                share,
                indirect: text(interest, "directOrIndirect") == Some("indirect"),
                start: date_field(interest, "startDate", at)?,
                end: date_field(interest, "endDate", at)?,
                at: at.to_owned(),
            });
        }
        if subject_unspecified {
            self.notes.push(format!(
                "{at}: the subject '{subject}' is an anonymous or unknown entity; relationship skipped"
            ));
            return Ok(());
        }
        if stated.is_empty() {
            stated.push(Stated {
                subject,
                holder,
                kind: Some(UNKNOWN_INTEREST.to_owned()),
                text: None,
                share: ShareBounds::UNKNOWN,
                indirect: false,
                start: None,
                end: None,
                at: at.to_owned(),
            });
        }
        let date = date_field(v, "statementDate", at)?
            .ok_or_else(|| err(at, "statementDate is missing"))?;
        let closing = v.get("recordStatus").and_then(Value::as_str) == Some("closed");
        self.update(record_id, date, stated, closing, at)?;
        if closing {
            self.closed.insert(record_id.to_owned());
        }
        let complete = self.open_index.get(record_id).is_some_and(|seq| {
            self.lengths.of(record_id) == self.open.get(seq).map(|series| series.statements)
        });
        if (closing || complete)
            && let Some(seq) = self.open_index.remove(record_id)
            && let Some(series) = self.open.remove(&seq)
        {
            self.emit(series, sink)?;
        }
        Ok(())
    }

    /// Folds a statement's interests into the record's series.
    fn update(
        &mut self,
        record_id: &str,
        date: NaiveDate,
        stated: Vec<Stated>,
        closing: bool,
        at: &str,
    ) -> Result<(), FormatError> {
        let ends = |s: &Stated| s.end.and_then(day_after);
        let Some(series) = self
            .open_index
            .get(record_id)
            .and_then(|seq| self.open.get_mut(seq))
        else {
            let interests = stated
                .into_iter()
                .map(|s| OpenInterest {
                    valid_from: s.start,
                    valid_to: ends(&s).or(closing.then_some(date)),
                    stated: s,
                    current: true,
                })
                .collect();
            let seq = self.next_seq;
            self.next_seq += 1;
            self.open_index.insert(record_id.to_owned(), seq);
            self.open.insert(
                seq,
                Series {
                    record_id: record_id.to_owned(),
                    last_date: date,
                    interests,
                    statements: 1,
                },
            );
            return Ok(());
        };
        series.statements += 1;
        if date < series.last_date {
            return Err(err(
                at,
                format!(
                    "statementDate {date} is before the date of the record's previous statement ({})",
                    series.last_date
                ),
            ));
        }
        series.last_date = date;
        let mut matched = vec![false; series.interests.len()];
        let mut added = Vec::new();
        for s in stated {
            let found = series
                .interests
                .iter()
                .enumerate()
                .position(|(i, o)| o.current && !matched[i] && o.stated.same_terms(&s));
            match found {
                Some(i) => {
                    matched[i] = true;
                    let open = &mut series.interests[i];
                    if let Some(to) = ends(&s) {
                        open.valid_to = Some(to);
                    } else if closing && open.valid_to.is_none() {
                        open.valid_to = Some(date);
                    }
                }
                None => {
                    let from = match s.start {
                        Some(start) if start > date => start,
                        _ => date,
                    };
                    added.push(OpenInterest {
                        valid_from: Some(from),
                        valid_to: ends(&s).or(closing.then_some(date)),
                        stated: s,
                        current: true,
                    });
                }
            }
        }
        for (open, matched) in series.interests.iter_mut().zip(matched) {
            if open.current && !matched {
                open.current = false;
                if open.valid_to.is_none_or(|to| to > date) {
                    open.valid_to = Some(date);
                }
            }
        }
        series.interests.extend(added);
        Ok(())
    }

    /// Sends a relationship's links and declared unknowns.
    fn emit(&mut self, series: Series, sink: &mut dyn RegistrySink) -> Result<(), FormatError> {
        let single = series.interests.len() == 1;
        for (n, open) in series.interests.into_iter().enumerate() {
            let id = if single {
                series.record_id.clone()
            } else {
                format!("{}/{}", series.record_id, n + 1)
            };
            let s = open.stated;
            match s.holder {
                Holder::Party(owner) => {
                    let (interest, details) = read_interest(s.kind.as_deref(), s.text.as_deref());
                    let link = RegistryLink {
                        id,
                        owner,
                        owned: s.subject,
                        interest,
                        share: s.share,
                        valid_from: open.valid_from,
                        valid_to: open.valid_to,
                        declared_indirect: s.indirect,
                        details,
                    };
                    sink.link(link, &s.at)?;
                }
                Holder::Unspecified {
                    reason,
                    description,
                } => {
                    let interest = match s.kind.as_deref() {
                        None | Some(UNKNOWN_INTEREST) => None,
                        kind => Some(read_interest(kind, s.text.as_deref()).0),
                    };
                    let (reason, details) = read_reason(&reason, description.as_deref());
                    let unknown = DeclaredUnknown {
                        id,
                        subject: s.subject,
                        interest,
                        share: s.share,
                        reason,
                        details,
                        valid_from: open.valid_from,
                        valid_to: open.valid_to,
                    };
                    sink.unknown(unknown, &s.at)?;
                }
            }
        }
        Ok(())
    }

    fn finish(mut self, sink: &mut dyn RegistrySink) -> Result<(), FormatError> {
        if let Some((id, (_, at))) = self.pending_components.iter().min_by_key(|(_, (n, _))| *n) {
            return Err(err(
                at,
                format!(
                    "record '{id}' has isComponent true but no relationship lists it in componentRecords"
                ),
            ));
        }
        for series in std::mem::take(&mut self.open).into_values() {
            self.emit(series, sink)?;
        }
        for note in self.notes.into_lines() {
            sink.note(note);
        }
        Ok(())
    }
}

fn entity(id: &str, d: &Value, notes: &mut Notes) -> Result<RegistryParty, String> {
    let entity_type = d.get("entityType").unwrap_or(&Value::Null);
    let kind = match (
        text(entity_type, "type"),
        text(entity_type, "subtype"),
        text(entity_type, "details"),
    ) {
        (Some("state" | "stateBody"), _, _)
        | (_, Some("governmentDepartment" | "stateAgency"), _) => EntityKind::Government,
        (_, Some("trust"), _) => EntityKind::Trust,
        (Some("arrangement"), _, _) => EntityKind::Other,
        (_, _, Some("fund")) => EntityKind::Fund,
        (_, _, Some("partnership")) => EntityKind::Partnership,
        (_, _, Some("other")) => EntityKind::Other,
        _ => EntityKind::Company,
    };
    let alternate: Vec<String> = d
        .get("alternateNames")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    let raw_name = match text(d, "name") {
        Some(n) => n.to_owned(),
        None => {
            notes.push(format!("entity '{id}' has no name; named by its recordId"));
            id.to_owned()
        }
    };
    let name = parse_name(&raw_name)?;
    let aliases = aliases(&name, alternate, id, notes)?;
    let mut jurisdiction = d.get("jurisdiction").and_then(|j| {
        text(j, "code")
            .and_then(country::by_code)
            .or_else(|| text(j, "name").and_then(country::by_name))
    });
    let headquarters = address_place(d, &["business", "registered"], notes);
    let mut identifiers = Vec::new();
    for ident in d
        .get("identifiers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(value) = text(ident, "id") else {
            continue;
        };
        let scheme = text(ident, "scheme");
        let (kind, value) = classify(scheme, text(ident, "schemeName"), value);
        if kind == "registration_number" && jurisdiction.is_none() {
            jurisdiction = scheme.and_then(register_country);
        }
        push_identifier(&mut identifiers, &kind, &value, notes);
    }
    Ok(RegistryParty {
        id: id.to_owned(),
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

/// The text of a BODS person name: `fullName`, else its parts.
fn person_name(n: &Value) -> Option<String> {
    if let Some(full) = text(n, "fullName") {
        return Some(full.to_owned());
    }
    let parts: Vec<&str> = ["givenName", "patronymicName", "familyName"]
        .iter()
        .filter_map(|k| text(n, k))
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

fn person(id: &str, d: &Value, notes: &mut Notes) -> Result<RegistryParty, String> {
    let names: Vec<&Value> = d
        .get("names")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let primary = names
        .iter()
        .position(|n| matches!(text(n, "type"), Some("legal" | "individual")))
        .unwrap_or(0);
    let mut texts: Vec<String> = names.iter().filter_map(|n| person_name(n)).collect();
    let primary_text = names.get(primary).and_then(|n| person_name(n));
    let raw_name = match primary_text {
        Some(n) => n,
        None => {
            notes.push(format!("person '{id}' has no name; named by its recordId"));
            id.to_owned()
        }
    };
    texts.retain(|t| *t != raw_name);
    let name = parse_name(&raw_name)?;
    let aliases = aliases(&name, texts, id, notes)?;
    let first = |key: &str| d.get(key).and_then(Value::as_array).and_then(|a| a.first());
    let jurisdiction = place(first("nationalities"), notes);
    let headquarters =
        place(first("taxResidencies"), notes).or_else(|| address_place(d, &["residence"], notes));
    let mut identifiers = Vec::new();
    for ident in d
        .get("identifiers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(value) = text(ident, "id") else {
            continue;
        };
        let (kind, value) = classify(text(ident, "scheme"), text(ident, "schemeName"), value);
        push_identifier(&mut identifiers, &kind, &value, notes);
    }
    Ok(RegistryParty {
        id: id.to_owned(),
        kind: EntityKind::Person,
        name,
        aliases,
        jurisdiction,
        headquarters,
        identifiers,
        source: SOURCE.to_owned(),
        placeholder: false,
    })
}

// ---------------------------------------------------------------------------------------
// Writing

/// Who publishes a BODS file and when.
#[derive(Clone, Debug, PartialEq)]
pub struct Publication {
    pub publisher: String,
    pub publication_date: NaiveDate,
    /// The `statementDate` of every statement.
    pub statement_date: NaiveDate,
}

impl Publication {
    /// Published and stated today by `publisher`.
    pub fn today(publisher: &str) -> Self {
        let today = crate::domain::today();
        Self {
            publisher: publisher.to_owned(),
            publication_date: today,
            statement_date: today,
        }
    }
}

/// Writes `registry` as a JSON array of BODS 0.4 statements, one statement at a time.
///
/// Every statement is `new`, dated [`Publication::statement_date`]; its `statementId` is the
/// hex SHA-256 of its record id, type, date and details, so the same registry always gives
/// the same file.
///
/// - Each party is an entity or person statement, `recordId` = the party id. Company →
///   `registeredEntity`; government → `stateBody`; trust → `arrangement` / `trust`; fund,
///   partnership and other → `registeredEntity` (other: `legalEntity`) with
///   `entityType.details` `fund` / `partnership` / `other`. A placeholder is an entity named
///   by its id. The jurisdiction is `jurisdiction` (entities) or `nationalities` (persons);
///   the headquarters a `business` (entities) or `residence` (persons) address. Where only a
///   country code fits (nationality, address) a subdivision is written as its country's code
///   with the subdivision code as the country's name. Identifiers: `lei` → `XI-LEI`;
///   `other` values `SCHEME:id` → that scheme; every other scheme as its name in
///   `schemeName`.
/// - Links are grouped by `(owner, owned)` into one relationship statement with one interest
///   per link (type and `details` as the module documentation describes, so that reading
///   back gives the same interest and details), `share`, `startDate`, `endDate` (the day
///   before `valid_to`) and `directOrIndirect` (`indirect` when declared so, else `direct`).
///   The relationship's `recordId` is the link id for a single link, `R` for links
///   `R/1`..`R/n`, else `{owner} -> {owned}`.
/// - Each declared unknown is a relationship with an unspecified interested party: the BODS
///   reason of [`bods_unspecified_reason`] and the details as description (a non-BODS reason
///   put before them, `NON_PUBLIC; ...`, so that reading back restores it).
///
/// A link owning a person, or a declared unknown about a person, is not written: a BODS
/// relationship's subject is an entity. Party, link and declared-unknown ids share BODS's one
/// `recordId` space, so a link id equal to a party id makes output the reader refuses.
///
/// What BODS cannot carry, so `parse_bods(write_bods(r))` differs from `r` in: `source`
/// (`bods`), `placeholder` (false), `notes`, the link ids of a pair with several links not
///   numbered `R/1`..`R/n` (BODS interests have no ids), a control link whose details start
///   with `accountingConsolidation` (read as consolidation), and a reason that is not a
///   code-like word. `beneficialOwnershipOrControl` is not written: the model does not say.
pub fn write_bods(
    registry: &Registry,
    publication: &Publication,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let mut w = BodsWriter::start(out, publication)?;
    for party in &registry.parties {
        w.party(party)?;
    }
    // Written as person records, so never a relationship's subject.
    let persons: HashSet<&str> = registry
        .parties
        .iter()
        .filter(|p| p.kind == EntityKind::Person && !p.placeholder)
        .map(|p| p.id.as_str())
        .collect();
    let mut groups: Vec<Vec<&RegistryLink>> = Vec::new();
    let mut index: HashMap<(&str, &str), usize> = HashMap::new();
    for link in registry
        .links
        .iter()
        .filter(|l| !persons.contains(l.owned.as_str()))
    {
        let key = (link.owner.as_str(), link.owned.as_str());
        match index.get(&key) {
            Some(&i) => groups[i].push(link),
            None => {
                index.insert(key, groups.len());
                groups.push(vec![link]);
            }
        }
    }
    for group in &groups {
        w.relationship(group)?;
    }
    for unknown in registry
        .unknowns
        .iter()
        .filter(|u| !persons.contains(u.subject.as_str()))
    {
        w.unknown(unknown)?;
    }
    w.finish()
}

/// Writes BODS 0.4 statements one at a time as a JSON array: [`write_bods`] for a registry in
/// memory, or a caller that pages through a store. Parties must come before the
/// relationships that name them.
pub struct BodsWriter<'a, W> {
    out: &'a mut W,
    publication: &'a Publication,
    first: bool,
}

/// The ISO name of a jurisdiction, or its code.
fn jurisdiction_name(j: Jurisdiction) -> String {
    let code = j.to_string();
    let name = if j.is_country() {
        rust_iso3166::from_alpha2(&code).map(|c| c.name)
    } else {
        rust_iso3166::iso3166_2::from_code(&code).map(|s| s.name)
    };
    name.map_or(code, str::to_owned)
}

/// A BODS country object (two-letter code) for a jurisdiction.
fn country_object(j: Jurisdiction) -> Value {
    let country = j.country();
    let name = if j.is_country() {
        jurisdiction_name(country)
    } else {
        j.to_string()
    };
    json!({"name": name, "code": country.to_string()})
}

fn identifier_objects(party: &RegistryParty) -> Vec<Value> {
    party
        .identifiers
        .iter()
        .map(|(scheme, value)| {
            if scheme == "lei" {
                return json!({"id": value, "scheme": "XI-LEI"});
            }
            if scheme == "other"
                && let Some((s, id)) = value.split_once(':')
                && !s.is_empty()
                && !id.is_empty()
                && !s.contains(char::is_whitespace)
                && classify(Some(s), None, id) == ("other".to_owned(), value.clone())
            {
                return json!({"id": id, "scheme": s});
            }
            json!({"id": value, "schemeName": scheme})
        })
        .collect()
}

fn date_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn share_object(share: &ShareBounds) -> Option<Value> {
    let mut m = Map::new();
    if let Some(e) = share.exact {
        m.insert("exact".into(), json!(e));
    }
    if let Some(lo) = share.min {
        let key = if share.min_exclusive {
            "exclusiveMinimum"
        } else {
            "minimum"
        };
        m.insert(key.into(), json!(lo));
    }
    if let Some(hi) = share.max {
        let key = if share.max_exclusive {
            "exclusiveMaximum"
        } else {
            "maximum"
        };
        m.insert(key.into(), json!(hi));
    }
    (!m.is_empty()).then_some(Value::Object(m))
}

fn interest_object(
    kind: &str,
    text: Option<String>,
    share: &ShareBounds,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    indirect: bool,
) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!(kind));
    let direct = if indirect { "indirect" } else { "direct" };
    m.insert("directOrIndirect".into(), json!(direct));
    if let Some(t) = text {
        m.insert("details".into(), json!(t));
    }
    if let Some(s) = share_object(share) {
        m.insert("share".into(), s);
    }
    if let Some(f) = from {
        m.insert("startDate".into(), json!(date_text(f)));
    }
    if let Some(end) = to.and_then(|t| t.pred_opt()) {
        m.insert("endDate".into(), json!(date_text(end)));
    }
    Value::Object(m)
}

impl<'a, W: Write> BodsWriter<'a, W> {
    /// Opens the array.
    pub fn start(out: &'a mut W, publication: &'a Publication) -> std::io::Result<Self> {
        out.write_all(b"[")?;
        Ok(Self {
            out,
            publication,
            first: true,
        })
    }

    /// Closes the array.
    pub fn finish(self) -> std::io::Result<()> {
        self.out.write_all(b"\n]\n")
    }

    fn statement(
        &mut self,
        record_id: &str,
        record_type: &str,
        declaration_subject: &str,
        details: Value,
    ) -> std::io::Result<()> {
        let p = self.publication;
        let mut hasher = Sha256::new();
        let date = date_text(p.statement_date);
        for part in [record_id, record_type, &date, &details.to_string()] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        let digest = hasher.finalize();
        let statement_id = crate::domain::hex(&digest);
        let statement = json!({
            "statementId": statement_id,
            "statementDate": date,
            "publicationDetails": {
                "publicationDate": date_text(p.publication_date),
                "bodsVersion": "0.4",
                "publisher": {"name": p.publisher},
            },
            "declarationSubject": declaration_subject,
            "recordId": record_id,
            "recordType": record_type,
            "recordStatus": "new",
            "recordDetails": details,
        });
        self.out
            .write_all(if self.first { b"\n" } else { b",\n" })?;
        self.first = false;
        serde_json::to_writer(&mut *self.out, &statement)?;
        Ok(())
    }

    /// An entity or person statement.
    pub fn party(&mut self, party: &RegistryParty) -> std::io::Result<()> {
        let mut d = Map::new();
        d.insert("isComponent".into(), json!(false));
        let identifiers = identifier_objects(party);
        if !identifiers.is_empty() {
            d.insert("identifiers".into(), Value::Array(identifiers));
        }
        if party.kind == EntityKind::Person && !party.placeholder {
            d.insert("personType".into(), json!("knownPerson"));
            let names: Vec<Value> =
                std::iter::once(json!({"type": "legal", "fullName": party.name.as_str()}))
                    .chain(
                        party
                            .aliases
                            .iter()
                            .map(|a| json!({"type": "alternative", "fullName": a.as_str()})),
                    )
                    .collect();
            d.insert("names".into(), Value::Array(names));
            if let Some(j) = party.jurisdiction {
                d.insert("nationalities".into(), json!([country_object(j)]));
            }
            if let Some(h) = party.headquarters {
                d.insert(
                    "addresses".into(),
                    json!([{"type": "residence", "country": country_object(h)}]),
                );
            }
            return self.statement(&party.id, "person", &party.id, Value::Object(d));
        }
        let entity_type = match party.kind {
            EntityKind::Government => json!({"type": "stateBody"}),
            EntityKind::Trust => json!({"type": "arrangement", "subtype": "trust"}),
            EntityKind::Fund => json!({"type": "registeredEntity", "details": "fund"}),
            EntityKind::Partnership => {
                json!({"type": "registeredEntity", "details": "partnership"})
            }
            EntityKind::Other => json!({"type": "legalEntity", "details": "other"}),
            EntityKind::Company | EntityKind::Person => json!({"type": "registeredEntity"}),
        };
        d.insert("entityType".into(), entity_type);
        d.insert("name".into(), json!(party.name.as_str()));
        if !party.aliases.is_empty() {
            let names: Vec<&str> = party.aliases.iter().map(|a| a.as_str()).collect();
            d.insert("alternateNames".into(), json!(names));
        }
        if let Some(j) = party.jurisdiction {
            d.insert(
                "jurisdiction".into(),
                json!({"name": jurisdiction_name(j), "code": j.to_string()}),
            );
        }
        if let Some(h) = party.headquarters {
            d.insert(
                "addresses".into(),
                json!([{"type": "business", "country": country_object(h)}]),
            );
        }
        self.statement(&party.id, "entity", &party.id, Value::Object(d))
    }

    /// One relationship statement for the links of one `(owner, owned)` pair, one interest
    /// each (the subject must be an entity, not a person).
    pub fn relationship(&mut self, group: &[&RegistryLink]) -> std::io::Result<()> {
        let Some(first) = group.first() else {
            return Ok(());
        };
        let record_id = if group.len() == 1 {
            first.id.clone()
        } else {
            let base = first.id.rsplit_once('/').map(|(b, _)| b);
            let numbered = base.is_some_and(|b| {
                group
                    .iter()
                    .enumerate()
                    .all(|(n, l)| l.id == format!("{b}/{}", n + 1))
            });
            match base {
                Some(b) if numbered => b.to_owned(),
                _ => format!("{} -> {}", first.owner, first.owned),
            }
        };
        let interests: Vec<Value> = group
            .iter()
            .map(|l| {
                let (kind, text) = write_interest(l.interest, l.details.as_deref());
                interest_object(
                    kind,
                    text,
                    &l.share,
                    l.valid_from,
                    l.valid_to,
                    l.declared_indirect,
                )
            })
            .collect();
        let details = json!({
            "isComponent": false,
            "subject": first.owned,
            "interestedParty": first.owner,
            "interests": interests,
        });
        self.statement(&record_id, "relationship", &first.owned, details)
    }

    /// A relationship statement with an unspecified interested party.
    pub fn unknown(&mut self, u: &DeclaredUnknown) -> std::io::Result<()> {
        let (reason, description) = write_reason(&u.reason, u.details.as_deref());
        let mut party = Map::new();
        party.insert("reason".into(), json!(reason));
        if let Some(d) = description {
            party.insert("description".into(), json!(d));
        }
        let stated = u.interest.is_some()
            || u.share != ShareBounds::UNKNOWN
            || u.valid_from.is_some()
            || u.valid_to.is_some();
        let interests: Vec<Value> = if stated {
            let (kind, text) = match u.interest {
                Some(i) => write_interest(i, None),
                None => (UNKNOWN_INTEREST, None),
            };
            vec![interest_object(
                kind,
                text,
                &u.share,
                u.valid_from,
                u.valid_to,
                false,
            )]
        } else {
            Vec::new()
        };
        let details = json!({
            "isComponent": false,
            "subject": u.subject,
            "interestedParty": Value::Object(party),
            "interests": interests,
        });
        self.statement(&u.id, "relationship", &u.subject, details)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testing::{cut_points, names_of};
    use crate::testdata::shared_path;

    fn dir(sub: &str) -> std::path::PathBuf {
        shared_path(&format!("ownership/{sub}"))
    }

    /// Every `.json` file under `sub`, sorted, with its path relative to `ownership/`.
    fn files(sub: &str) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        let mut dirs = vec![dir(sub)];
        while let Some(d) = dirs.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "json") {
                    let name = path.file_name().unwrap().to_string_lossy().into_owned();
                    out.push((name, std::fs::read(&path).unwrap()));
                }
            }
        }
        out.sort();
        out
    }

    fn example(name: &str) -> Registry {
        let bytes = std::fs::read(dir("bods-v0.4-examples").join(name)).unwrap();
        parse_bods(name, &bytes).unwrap()
    }

    fn day(s: &str) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
    }

    fn exact(p: f64) -> ShareBounds {
        ShareBounds {
            exact: Some(p),
            ..ShareBounds::UNKNOWN
        }
    }

    fn all_samples() -> Vec<(String, Vec<u8>)> {
        let mut all = files("bods-v0.4-examples");
        all.extend(files("bods-v04-fixtures"));
        all
    }

    #[test]
    fn every_example_and_fixture_parses() {
        let all = all_samples();
        assert_eq!(all.len(), 22);
        for (name, bytes) in &all {
            let r = parse_bods(name, bytes).unwrap_or_else(|e| panic!("{e}"));
            for l in &r.links {
                assert!(r.party(&l.owner).is_some() && r.party(&l.owned).is_some());
            }
            for u in &r.unknowns {
                assert!(r.party(&u.subject).is_some(), "{name}: {u:?}");
            }
        }
    }

    #[test]
    fn declared_indirect_interests_stay_declared() {
        let r = example("indirect-ownership.json");
        assert_eq!((r.parties.len(), r.links.len()), (3, 3));
        let direct = r.links.iter().find(|l| l.id == "4cf2837bd01f").unwrap();
        assert_eq!(
            (direct.owner.as_str(), direct.owned.as_str()),
            ("d4ab89ea169a", "ad3f6c2fcc9e")
        );
        assert_eq!(direct.interest, Interest::Shares);
        assert_eq!(direct.share, exact(60.0));
        assert_eq!(direct.valid_from, day("2017-11-01"));
        assert!(!direct.declared_indirect);
        let indirect = r.links.iter().find(|l| l.id == "d8d75ccf40e4").unwrap();
        assert_eq!(indirect.owner, "c25d4d612c2c");
        assert_eq!(indirect.share, exact(30.0));
        assert!(indirect.declared_indirect);
        // The component link of unknown nature.
        let unknown = r.links.iter().find(|l| l.id == "05e81af035e4").unwrap();
        assert_eq!(
            (unknown.interest, unknown.details.as_deref()),
            (Interest::Control, None)
        );
        let a = r.party("ad3f6c2fcc9e").unwrap();
        assert_eq!(a.name.as_str(), "Company A");
        assert_eq!(
            a.identifiers,
            [("registration_number".to_owned(), "XE9999".to_owned())]
        );
        assert_eq!(a.jurisdiction.map(|j| j.to_string()).as_deref(), Some("GB"));
        let person = r.party("c25d4d612c2c").unwrap();
        assert_eq!(person.kind, EntityKind::Person);
        assert_eq!(
            person.jurisdiction.map(|j| j.to_string()).as_deref(),
            Some("GB")
        );
    }

    #[test]
    fn joint_ownership_goes_through_an_arrangement() {
        let r = example("joint-ownership.json");
        let arrangement = r.party("91b4236a7d89").unwrap();
        assert_eq!(arrangement.kind, EntityKind::Other);
        assert_eq!(arrangement.name.as_str(), "Joint shareholding");
        let held: Vec<_> = r
            .links
            .iter()
            .filter(|l| l.owned == "91b4236a7d89")
            .collect();
        assert_eq!(held.len(), 2);
        assert!(held.iter().all(|l| l.share == exact(50.0)));
        let top = r.links.iter().find(|l| l.owner == "91b4236a7d89").unwrap();
        assert_eq!(top.share, exact(100.0));
        assert_eq!(top.valid_from, day("2018-01-01"));
    }

    #[test]
    fn record_series_rebuild_history() {
        let r = example("fermcat.json");
        assert_eq!(r.parties.len(), 4);
        let patrick: Vec<&RegistryLink> = r
            .links
            .iter()
            .filter(|l| l.owner == "per-41c0bb0cef246f7c")
            .collect();
        let shares: Vec<_> = patrick
            .iter()
            .filter(|l| l.interest == Interest::Shares)
            .map(|l| (l.share.exact, l.valid_from, l.valid_to))
            .collect();
        assert_eq!(
            shares,
            [
                (Some(50.0), day("2019-09-11"), day("2022-01-21")),
                (Some(100.0), day("2022-01-21"), None),
            ]
        );
        let board: Vec<_> = patrick
            .iter()
            .filter(|l| l.interest == Interest::Control)
            .collect();
        assert_eq!(board.len(), 1, "an unchanged interest carries on");
        assert_eq!(board[0].details.as_deref(), Some("boardMember"));
        assert_eq!(
            (board[0].valid_from, board[0].valid_to),
            (day("2019-09-11"), None)
        );
        assert_eq!(
            patrick.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(),
            [
                "rel-3fc02d9b6bdfd5ca/1",
                "rel-3fc02d9b6bdfd5ca/2",
                "rel-3fc02d9b6bdfd5ca/3"
            ]
        );
        // Closed with an end date: ends the day after it.
        let riyadh: Vec<_> = r
            .links
            .iter()
            .filter(|l| l.owner == "per-5faa4103dee78621")
            .collect();
        assert_eq!(riyadh.len(), 2);
        assert!(riyadh.iter().all(|l| l.valid_to == day("2021-04-04")));
        let declan = r
            .links
            .iter()
            .find(|l| l.owner == "per-e334cc6258e56467")
            .unwrap();
        assert_eq!(declan.id, "rel-b64a491543d986d0");
        assert_eq!(
            (declan.valid_from, declan.valid_to),
            (day("2021-04-03"), day("2022-01-22"))
        );
        // Tecido: a share changing at each statement, the changed one starting at the
        // statement's date; a closed record with no end date ends at the closing statement.
        let r = example("tecido.json");
        let maria: Vec<_> = r
            .links
            .iter()
            .filter(|l| l.owner == "018AF6B3EB" && l.interest == Interest::Shares)
            .map(|l| (l.share.exact, l.valid_from, l.valid_to))
            .collect();
        assert_eq!(
            maria,
            [
                (Some(100.0), day("2002-03-09"), day("2021-09-25")),
                (Some(40.0), day("2021-09-25"), day("2022-09-25")),
                (Some(30.0), day("2022-09-25"), day("2023-03-03")),
            ]
        );
        let chair = r
            .links
            .iter()
            .find(|l| {
                l.owner == "018AF6B3EB"
                    && l.share.exact == Some(30.0)
                    && l.interest == Interest::Control
            })
            .unwrap();
        assert_eq!(chair.details.as_deref(), Some("boardChair"));
    }

    #[test]
    fn unspecified_owners_are_declared_unknowns() {
        let r = example("listed-company-exempt-from-disclosure.json");
        assert_eq!(
            (r.parties.len(), r.links.len(), r.unknowns.len()),
            (1, 0, 1)
        );
        let u = &r.unknowns[0];
        assert_eq!(u.id, "fa402c4818f9");
        assert_eq!(u.subject, "4c7ea3bfbe6c");
        assert_eq!(u.reason, "subjectExemptFromDisclosure");
        assert!(
            u.details
                .as_deref()
                .unwrap()
                .starts_with("Exempt from disclosure")
        );
        assert_eq!((u.interest, u.share), (None, ShareBounds::UNKNOWN));
        let bytes =
            std::fs::read(dir("bods-v04-fixtures/edge-cases/11-anonymous-person.json")).unwrap();
        let r = parse_bods("anon.json", &bytes).unwrap();
        assert_eq!(r.unknowns.len(), 1);
        assert_eq!(
            r.unknowns[0].reason,
            "subjectUnableToConfirmOrIdentifyBeneficialOwner"
        );
        assert_eq!(r.unknowns[0].subject, "rec-opaque-holdings-sa");
        // An anonymous person record: its unspecifiedPersonDetails give the reason.
        let r = example("levent.json");
        assert_eq!(r.unknowns.len(), 1);
        let u = &r.unknowns[0];
        assert_eq!(u.reason, "interestedPartyExemptFromDisclosure");
        assert_eq!(u.interest, Some(Interest::Control));
        assert_eq!(u.valid_from, day("2019-11-08"));
        assert!(r.party("81337a6e").is_none());
        assert_eq!(r.party("8e40d059").unwrap().kind, EntityKind::Trust);
    }

    #[test]
    fn ranges_kinds_and_identifiers() {
        let r = example("bods-package-entity-owning-entity.json");
        assert_eq!(
            r.links[0].share,
            ShareBounds {
                min: Some(75.0),
                max: Some(100.0),
                max_exclusive: true,
                ..ShareBounds::UNKNOWN
            }
        );
        let r = example("bods-package-fi-soe.json");
        assert_eq!(
            r.party("05ce06ec97b1").unwrap().kind,
            EntityKind::Government
        );
        let ministry = r.party("7ff95ba3682c").unwrap();
        assert_eq!(ministry.kind, EntityKind::Government);
        assert_eq!(names_of(&ministry.aliases), ["Finansministeriet"]);
        let r = example("plc-entity-statement.json");
        assert_eq!(
            r.parties[0].identifiers,
            [
                ("registration_number".to_owned(), "02723534".to_owned()),
                ("lei".to_owned(), "PY6ZZQWO2IZFZC3IOL08".to_owned())
            ]
        );
        let r = example("fermcat.json");
        let fermcat = r.party("ent-93c75c87ab28f889").unwrap();
        assert_eq!(
            fermcat.identifiers,
            [("other".to_owned(), "IRL-BAU:434151".to_owned())]
        );
        let person = r.party("per-5faa4103dee78621").unwrap();
        assert_eq!(
            person.identifiers,
            [("tax_id".to_owned(), "7700225VH".to_owned())]
        );
        let r = example("multiple-tax-residencies.json");
        let logan = r.party("8f2f34b57a8f").unwrap();
        assert_eq!(
            logan.headquarters.map(|j| j.to_string()).as_deref(),
            Some("GB")
        );
        let r = example("bods-package.json");
        let jenny = r.party("10478c6cf6de").unwrap();
        assert_eq!(jenny.name.as_str(), "Jennifer Hewitson-Smith");
        assert_eq!(names_of(&jenny.aliases), ["Jenny Hewitson-Smith"]);
    }

    #[test]
    fn additional_checks() {
        let cases = files("bods-checks-agpl");
        assert_eq!(cases.len(), 30);
        for (name, bytes) in &cases {
            let result = parse_bods(name, bytes);
            if name.contains("-valid-") {
                assert!(result.is_ok(), "{name}: {result:?}");
            } else {
                let e = result.expect_err(name);
                assert!(e.at.contains("(statement "), "{name}: {e}");
            }
        }
    }

    #[test]
    fn an_interested_party_must_be_an_entity_or_person() {
        let bytes = std::fs::read(dir(
            "bods-checks-agpl/statement_relationship_interested_party_entity_or_person-invalid-2.json",
        ))
        .unwrap();
        let mut statements: Vec<Value> = serde_json::from_slice(&bytes).unwrap();
        // The file also gives an entity a beneficial-ownership flag; drop it to reach the
        // relationship naming a relationship.
        for s in &mut statements {
            if let Some(interests) = s["recordDetails"]["interests"].as_array_mut() {
                for i in interests {
                    i["beneficialOwnershipOrControl"] = json!(false);
                }
            }
        }
        let e = parse_bods("r.json", &serde_json::to_vec(&statements).unwrap()).unwrap_err();
        assert!(e.message.contains("is a relationship record"), "{e}");
        assert!(e.at.contains("cd4c52633f6761962e98e1dd9dbf7da7"), "{e}");
    }

    #[test]
    fn a_later_statement_replaces_the_party() {
        let bytes = std::fs::read(dir("bods-v0.4-examples/plc-entity-statement.json")).unwrap();
        let mut statements: Vec<Value> = serde_json::from_slice(&bytes).unwrap();
        let mut update = statements[0].clone();
        update["statementId"] = json!("0123456789abcdef0123456789abcdef");
        update["recordStatus"] = json!("updated");
        update["recordDetails"]["name"] = json!("AstraZeneca Holdings PLC");
        statements.push(update);
        let r = parse_bods("u.json", &serde_json::to_vec(&statements).unwrap()).unwrap();
        assert_eq!(r.parties.len(), 1);
        assert_eq!(r.parties[0].name.as_str(), "AstraZeneca Holdings PLC");
        assert!(r.parties[0].aliases.is_empty());
    }

    #[test]
    fn small_reads_give_the_same_registry() {
        for (name, bytes) in all_samples() {
            let mut sink = Collector::default();
            let reader = std::io::BufReader::with_capacity(7, bytes.as_slice());
            read_bods(&name, reader, &mut sink).unwrap();
            assert_eq!(sink.finish(), parse_bods(&name, &bytes).unwrap(), "{name}");
        }
    }

    /// With the series lengths counted first, links arrive earlier but are the same.
    #[test]
    fn series_lengths_change_when_links_are_sent_not_what() {
        let by_id = |mut r: Registry| {
            r.links.sort_by(|a, b| a.id.cmp(&b.id));
            r.unknowns.sort_by(|a, b| a.id.cmp(&b.id));
            r
        };
        for (name, bytes) in all_samples() {
            let lengths = SeriesLengths::count(&name, bytes.as_slice());
            let mut sink = Collector::default();
            read_bods_counted(&name, bytes.as_slice(), lengths, &mut sink).unwrap();
            let whole = parse_bods(&name, &bytes).unwrap();
            assert_eq!(by_id(sink.finish()), by_id(whole), "{name}");
        }
    }

    /// Records the order in which parties and links arrive.
    #[derive(Default)]
    struct Arrivals(Vec<String>);

    impl RegistrySink for Arrivals {
        fn party(&mut self, p: RegistryParty) -> Result<(), FormatError> {
            self.0.push(format!("party {}", p.id));
            Ok(())
        }
        fn link(&mut self, l: RegistryLink, _: &str) -> Result<(), FormatError> {
            self.0.push(format!("link {}", l.id));
            Ok(())
        }
        fn unknown(&mut self, u: DeclaredUnknown, _: &str) -> Result<(), FormatError> {
            self.0.push(format!("unknown {}", u.id));
            Ok(())
        }
        fn note(&mut self, _: String) {}
    }

    #[test]
    fn a_relationship_is_sent_once_its_last_statement_is_read() {
        // Two copies of an example, one after the other, with fresh record ids: with the
        // lengths, the first copy's relationships arrive before the second copy's parties.
        let bytes = std::fs::read(dir("bods-v0.4-examples/indirect-ownership.json")).unwrap();
        let statements: Vec<Value> = serde_json::from_slice(&bytes).unwrap();
        let mut lines = String::new();
        for copy in ["a", "b"] {
            for st in &statements {
                let mut st = st.to_string();
                for other in &statements {
                    let id = other["recordId"].as_str().unwrap();
                    st = st.replace(id, &format!("{id}-{copy}"));
                }
                lines.push_str(&st);
                lines.push('\n');
            }
        }
        let first_link_and_last_party = |order: &[String]| {
            let link = order.iter().position(|a| a.starts_with("link ")).unwrap();
            let party = order.iter().rposition(|a| a.starts_with("party ")).unwrap();
            (link, party)
        };
        let mut counted = Arrivals::default();
        let lengths = SeriesLengths::count("two.jsonl", lines.as_bytes());
        read_bods_counted("two.jsonl", lines.as_bytes(), lengths, &mut counted).unwrap();
        let (link, party) = first_link_and_last_party(&counted.0);
        assert!(link < party, "{:?}", counted.0);
        // Without them, every relationship waits for the end of the file.
        let mut held = Arrivals::default();
        read_bods("two.jsonl", lines.as_bytes(), &mut held).unwrap();
        let (link, party) = first_link_and_last_party(&held.0);
        assert!(link > party, "{:?}", held.0);
    }

    /// Counts what a reader sends, keeping nothing.
    #[derive(Default)]
    struct Counter(usize, usize, usize);

    impl RegistrySink for Counter {
        fn party(&mut self, _: RegistryParty) -> Result<(), FormatError> {
            self.0 += 1;
            Ok(())
        }
        fn link(&mut self, _: RegistryLink, _: &str) -> Result<(), FormatError> {
            self.1 += 1;
            Ok(())
        }
        fn unknown(&mut self, _: DeclaredUnknown, _: &str) -> Result<(), FormatError> {
            self.2 += 1;
            Ok(())
        }
        fn note(&mut self, _: String) {}
    }

    /// Reads the BODS file at `$OWNERGRAPH_BODS_FILE` as an import does (series lengths
    /// first) into a sink that keeps nothing, printing the time and peak memory; run with
    /// `OWNERGRAPH_BODS_FILE=/tmp/og-bods.json cargo test --release --lib
    /// formats::bods::tests::read_a_file -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn read_a_file() {
        let path = std::env::var("OWNERGRAPH_BODS_FILE").expect("OWNERGRAPH_BODS_FILE");
        let open = || std::io::BufReader::new(std::fs::File::open(&path).unwrap());
        let start = std::time::Instant::now();
        let lengths = SeriesLengths::count(&path, open());
        let counted = start.elapsed();
        let mut counter = Counter::default();
        read_bods_counted(&path, open(), lengths, &mut counter).unwrap();
        println!(
            "{} parties, {} links, {} unknowns: lengths {counted:?}, in all {:?}; VmHWM {}",
            counter.0,
            counter.1,
            counter.2,
            start.elapsed(),
            crate::formats::testing::peak_memory()
        );
    }

    /// Read time of a large synthetic file (the indirect-ownership example repeated with
    /// fresh record ids) streamed into a sink that keeps nothing; run with
    /// `cargo test --release --lib formats::bods::tests::read_times -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn read_times() {
        let bytes = std::fs::read(dir("bods-v0.4-examples/indirect-ownership.json")).unwrap();
        let statements: Vec<Value> = serde_json::from_slice(&bytes).unwrap();
        let ids: Vec<String> = statements
            .iter()
            .map(|s| s["recordId"].as_str().unwrap().to_owned())
            .collect();
        let lines: Vec<String> = statements.iter().map(Value::to_string).collect();
        let copies = 20_000;
        let mut big = String::new();
        for k in 0..copies {
            for line in &lines {
                let mut line = line.clone();
                for id in &ids {
                    line = line.replace(id.as_str(), &format!("{id}x{k}"));
                }
                big.push_str(&line);
                big.push('\n');
            }
        }
        let start = std::time::Instant::now();
        let mut counter = Counter::default();
        read_bods("big.jsonl", big.as_bytes(), &mut counter).unwrap();
        println!(
            "{} MB, {} statements: {:?} ({} parties, {} links)",
            big.len() / 1_000_000,
            copies * lines.len(),
            start.elapsed(),
            counter.0,
            counter.1
        );
        assert_eq!((counter.0, counter.1), (3 * copies, 3 * copies));
    }

    #[test]
    fn output_is_deterministic() {
        let r = example("fermcat.json");
        let write = || {
            let mut out = Vec::new();
            write_bods(&r, &publication(), &mut out).unwrap();
            out
        };
        assert_eq!(write(), write());
    }

    #[test]
    fn schema_errors_name_the_statement_and_field() {
        let text = String::from_utf8(
            std::fs::read(dir(
                "bods-v0.4-examples/bods-package-entity-owning-entity.json",
            ))
            .unwrap(),
        )
        .unwrap();
        let bad = text.replacen("\"minimum\": 75", "\"minimum\": 175", 1);
        assert_ne!(bad, text);
        let e = parse_bods("e.json", bad.as_bytes()).unwrap_err();
        assert!(e.at.starts_with("e.json line "), "{e}");
        assert!(e.at.contains("(statement "), "{e}");
        assert!(
            e.message
                .contains("/recordDetails/interests/0/share/minimum"),
            "{e}"
        );
    }

    #[test]
    fn json_lines_read_like_the_array() {
        for (name, bytes) in all_samples() {
            let statements: Vec<Value> = serde_json::from_slice(&bytes).unwrap();
            let lines: String = statements.iter().map(|s| format!("{s}\n")).collect();
            let a = parse_bods(&name, &bytes).unwrap();
            let b = parse_bods(&name, lines.as_bytes()).unwrap();
            assert_eq!(a, b, "{name}");
            // A cut inside the last line is caught.
            let cut = &lines.as_bytes()[..lines.len() - 5];
            let e = parse_bods(&name, cut).unwrap_err();
            assert!(e.message.contains("cut short"), "{name}: {e}");
        }
    }

    #[test]
    fn a_reference_to_a_later_record_is_an_error() {
        let bytes = std::fs::read(dir("bods-v0.4-examples/joint-ownership.json")).unwrap();
        let mut statements: Vec<Value> = serde_json::from_slice(&bytes).unwrap();
        // The relationship naming Natalie Coleman, before her person statement.
        let rel = statements.remove(5);
        statements.insert(3, rel.clone());
        let moved = serde_json::to_vec(&statements).unwrap();
        let e = parse_bods("j.json", &moved).unwrap_err();
        let id = rel["statementId"].as_str().unwrap();
        assert!(e.at.contains(id), "{e}");
        assert!(e.message.contains("no earlier"), "{e}");
    }

    #[test]
    fn cut_files_are_rejected() {
        for (name, bytes) in all_samples() {
            for cut in cut_points(bytes.len()) {
                if bytes[cut..].iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let e =
                    parse_bods(&name, &bytes[..cut]).expect_err(&format!("{name} cut at {cut}"));
                assert!(e.at.contains(" line "), "{name} cut at {cut}: {e}");
            }
        }
        assert!(parse_bods("e.json", b"").is_err());
        assert!(parse_bods("e.json", b"[]").unwrap().parties.is_empty());
        assert!(parse_bods("e.json", b"[] x").is_err());
    }

    #[test]
    fn mangled_files_never_panic() {
        let noise = b"{}[]\",:\\ -0aZ\n\xff";
        for name in ["fermcat.json", "indirect-ownership.json", "levent.json"] {
            let bytes = std::fs::read(dir("bods-v0.4-examples").join(name)).unwrap();
            crate::formats::testing::mangle(&bytes, noise, 3, 100, |b| {
                let _ = parse_bods("m.json", &b);
            });
        }
    }

    fn publication() -> Publication {
        Publication {
            publisher: "ownergraph tests".to_owned(),
            publication_date: NaiveDate::from_ymd_opt(2026, 1, 2).unwrap(),
            statement_date: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        }
    }

    /// Writes `r`, checks every statement against the schema, reads it back.
    fn round_trip(name: &str, r: &Registry) -> Registry {
        let mut out = Vec::new();
        write_bods(r, &publication(), &mut out).unwrap();
        let statements: Vec<Value> = serde_json::from_slice(&out)
            .unwrap_or_else(|e| panic!("{name}: output is not JSON: {e}"));
        for s in &statements {
            assert_eq!(schema_error(s, name).unwrap(), None, "{name}: {s}");
        }
        parse_bods(name, &out).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// What BODS cannot carry: the source, placeholders, notes.
    fn comparable(r: &Registry) -> Registry {
        let mut r = r.clone();
        r.notes.clear();
        for p in &mut r.parties {
            p.source = SOURCE.to_owned();
            p.placeholder = false;
        }
        r
    }

    #[test]
    fn bods_round_trips() {
        for (name, bytes) in all_samples() {
            let first = parse_bods(&name, &bytes).unwrap();
            let second = round_trip(&name, &first);
            assert_eq!(comparable(&second), comparable(&first), "{name}");
        }
    }

    #[test]
    fn gleif_and_psc_round_trip() {
        let mut registries = Vec::new();
        for file in [
            "lei-data.xml",
            "rr-data.xml",
            "rr-updates-data2.xml",
            "repex-data.xml",
        ] {
            let bytes = crate::testdata::read_shared(&format!("ownership/gleif-level2/{file}"));
            registries.push((
                file.to_owned(),
                crate::formats::parse_gleif(file, &bytes).unwrap(),
            ));
        }
        let mut psc: Vec<String> = (1..=16)
            .map(|n| format!("companies-house-snapshot-lines/psc-data-{n}.json"))
            .collect();
        for entry in std::fs::read_dir(dir("uk-psc/synthetic-kinds")).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            psc.push(format!("synthetic-kinds/{name}"));
        }
        psc.sort();
        for file in psc {
            let bytes = crate::testdata::read_shared(&format!("ownership/uk-psc/{file}"));
            let r = crate::formats::parse_psc(&file, &bytes).unwrap();
            registries.push((file, r));
        }
        assert_eq!(registries.len(), 4 + 16 + 13);
        let mut seen = (0, 0, 0);
        for (name, original) in registries {
            let back = round_trip(&name, &original);
            let mut expected = comparable(&original);
            let mut got = comparable(&back);
            // BODS interests have no ids: a pair's links not numbered R/1..R/n get new ones.
            for l in expected.links.iter_mut().chain(got.links.iter_mut()) {
                l.id.clear();
            }
            assert_eq!(got, expected, "{name}");
            seen.0 += original.parties.len();
            seen.1 += original.links.len();
            seen.2 += original.unknowns.len();
        }
        assert!(seen.0 > 0 && seen.1 > 0 && seen.2 > 0, "{seen:?}");
    }

    #[test]
    fn every_interest_round_trips() {
        let party = |id: &str, kind: EntityKind| RegistryParty {
            id: id.to_owned(),
            kind,
            name: crate::domain::Name::parse(id).unwrap(),
            aliases: Vec::new(),
            jurisdiction: Jurisdiction::parse("US-DE").ok(),
            headquarters: Jurisdiction::parse("US-NY").ok(),
            identifiers: vec![
                ("lei".to_owned(), "PY6ZZQWO2IZFZC3IOL08".to_owned()),
                ("registration_number".to_owned(), "123".to_owned()),
                ("other".to_owned(), "XX-ABC:9".to_owned()),
                ("other".to_owned(), "plain".to_owned()),
                ("passport".to_owned(), "P1".to_owned()),
            ],
            source: SOURCE.to_owned(),
            placeholder: false,
        };
        let mut r = Registry::default();
        for (i, kind) in EntityKind::ALL.into_iter().enumerate() {
            r.parties.push(party(&format!("p{i}"), kind));
        }
        let details = [
            None,
            Some("boardMember"),
            Some("trustee; as trustee of X"),
            Some("free words"),
            Some("shareholding; odd"),
        ];
        let mut n = 0;
        for interest in Interest::ALL {
            for d in details {
                n += 1;
                r.links.push(RegistryLink {
                    id: format!("l{n}"),
                    owner: format!("p{}", n % 7),
                    // p1 is the person.
                    owned: format!("p{}", [0, 2, 3, 4, 5, 6][n % 6]),
                    interest,
                    share: ShareBounds {
                        min: Some(25.0),
                        min_exclusive: true,
                        max: Some(50.0),
                        ..ShareBounds::UNKNOWN
                    },
                    valid_from: day("2020-01-01"),
                    valid_to: day("2021-01-01"),
                    declared_indirect: n % 2 == 0,
                    details: d.map(str::to_owned),
                });
            }
        }
        for (i, reason) in ["NON_PUBLIC", "unknown", "psc-details-not-confirmed"]
            .iter()
            .enumerate()
        {
            r.unknowns.push(DeclaredUnknown {
                id: format!("u{i}"),
                subject: "p0".to_owned(),
                interest: [None, Some(Interest::Consolidation), Some(Interest::Votes)][i],
                share: ShareBounds::UNKNOWN,
                reason: (*reason).to_owned(),
                details: [Some("DIRECT"), None, Some("words; more")][i].map(str::to_owned),
                valid_from: None,
                valid_to: day("2024-05-01"),
            });
        }
        let mut with_person = r.clone();
        with_person.links.push(RegistryLink {
            id: "to-person".to_owned(),
            owned: "p1".to_owned(),
            ..r.links[0].clone()
        });
        let back = round_trip("synthetic", &with_person);
        let ids = |r: &Registry| -> Vec<Registry> {
            let mut r = comparable(r);
            for l in &mut r.links {
                l.id.clear();
            }
            vec![r]
        };
        assert_eq!(ids(&back), ids(&r));
    }
}
