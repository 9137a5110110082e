//! Building [`ListRecord`]s and FtM party names from what a reader finds, with the rules every
//! format shares (cleaning, deduplication, caps, validation) in one place.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;

use super::text::clean;
use super::{ListRecord, MAX_ALIASES, country};
use crate::domain::{EntityKind, EntryId, Jurisdiction, Lei, Name, Text};

/// The longest identifier value kept (the limit of the domain's identifier values).
const MAX_IDENTIFIER_CHARS: usize = 128;

/// The most lines of [`Notes::push`] kept: a file of millions of records may note many of
/// them; the rest are counted.
const MAX_NOTES: usize = 1000;

/// What a parse skipped or trimmed without failing; becomes [`super::Parsed::notes`].
#[derive(Default)]
pub struct Notes {
    unknown_countries: BTreeMap<String, usize>,
    capped_aliases: Vec<(String, usize)>,
    dropped_identifiers: usize,
    other: Vec<String>,
    /// Lines of [`Notes::push`] over [`MAX_NOTES`].
    unlisted: usize,
}

impl Notes {
    pub fn unknown_country(&mut self, name: &str) {
        *self.unknown_countries.entry(name.to_owned()).or_default() += 1;
    }

    pub fn push(&mut self, line: impl Into<String>) {
        if self.other.len() < MAX_NOTES {
            self.other.push(line.into());
        } else {
            self.unlisted += 1;
        }
    }

    pub fn into_lines(self) -> Vec<String> {
        let mut lines = self.other;
        if self.unlisted > 0 {
            lines.push(format!(
                "{} more notes like these not listed",
                self.unlisted
            ));
        }
        for (id, n) in self.capped_aliases {
            lines.push(format!(
                "'{id}' has {n} aliases; kept the first {MAX_ALIASES}"
            ));
        }
        if self.dropped_identifiers > 0 {
            lines.push(format!(
                "{} identifier values over {MAX_IDENTIFIER_CHARS} characters or with control characters dropped",
                self.dropped_identifiers
            ));
        }
        for (name, n) in self.unknown_countries {
            let times = if n == 1 {
                "once".to_owned()
            } else {
                format!("{n} times")
            };
            lines.push(format!("unknown country '{name}' skipped ({times})"));
        }
        lines
    }
}

/// A record being read; [`Draft::finish`] validates it.
pub struct Draft {
    pub id: String,
    name: String,
    aliases: Vec<String>,
    pub kind: Option<EntityKind>,
    programs: Vec<String>,
    pub listed_on: Option<NaiveDate>,
    countries: Vec<Jurisdiction>,
    identifiers: Vec<(String, String)>,
}

impl Draft {
    pub fn new(id: &str) -> Self {
        Self {
            id: id.trim().to_owned(),
            name: String::new(),
            aliases: Vec::new(),
            kind: None,
            programs: Vec::new(),
            listed_on: None,
            countries: Vec::new(),
            identifiers: Vec::new(),
        }
    }

    pub fn set_name(&mut self, name: &str) {
        self.name = clean(name);
    }

    /// Adds an alias; blank ones are ignored.
    pub fn alias(&mut self, alias: &str) {
        let alias = clean(alias);
        if !alias.is_empty() {
            self.aliases.push(alias);
        }
    }

    /// Adds a program once; blank ones are ignored.
    pub fn program(&mut self, program: &str) {
        let program = clean(program);
        if !program.is_empty() && !self.programs.contains(&program) {
            self.programs.push(program);
        }
    }

    pub fn country(&mut self, j: Jurisdiction) {
        if !self.countries.contains(&j) {
            self.countries.push(j);
        }
    }

    /// Adds the country a name stands for; unknown names are noted and skipped.
    pub fn country_name(&mut self, name: &str, notes: &mut Notes) {
        let name = clean(name);
        if name.is_empty() {
            return;
        }
        match country::by_name(&name) {
            Some(j) => self.country(j),
            None => notes.unknown_country(&name),
        }
    }

    /// Adds the country of an ISO code; pseudo codes are noted and skipped.
    pub fn country_code(&mut self, code: &str, notes: &mut Notes) {
        let code = code.trim();
        if code.is_empty() {
            return;
        }
        match country::by_code(code) {
            Some(j) => self.country(j),
            None => notes.unknown_country(code),
        }
    }

    pub fn identifier(&mut self, scheme: &str, value: &str, notes: &mut Notes) {
        push_identifier(&mut self.identifiers, scheme, value, notes);
    }

    /// Validates the record; the error message names what is wrong, the caller adds where.
    pub fn finish(self, notes: &mut Notes) -> Result<ListRecord, String> {
        let id = EntryId::try_from(self.id.clone()).map_err(|_| {
            format!(
                "id '{}' is not 1 to 128 characters of A-Z, a-z, 0-9, '.', '_', ':', '-'",
                self.id
            )
        })?;
        let name = parse_name(&self.name)?;
        let aliases = aliases(&name, self.aliases, &self.id, notes)?;
        let programs = self
            .programs
            .into_iter()
            .map(|p| Text::try_from(p.clone()).map_err(|e| format!("program '{p}': {e}")))
            .collect::<Result<_, _>>()?;
        Ok(ListRecord {
            id,
            name,
            aliases,
            kind: self.kind,
            programs,
            listed_on: self.listed_on,
            countries: self.countries,
            identifiers: self.identifiers,
        })
    }
}

/// A cleaned, validated name; the message says why not.
pub fn parse_name(name: &str) -> Result<Name, String> {
    let name = clean(name);
    if name.is_empty() {
        return Err("the name is empty".to_owned());
    }
    Name::parse(&name).map_err(|e| format!("name '{name}': {e}"))
}

/// The aliases kept: cleaned, deduplicated, without `name`, in order, at most
/// [`MAX_ALIASES`] (the rest noted).
pub fn aliases(
    name: &Name,
    raw: Vec<String>,
    owner: &str,
    notes: &mut Notes,
) -> Result<Vec<Name>, String> {
    let mut seen = HashSet::new();
    seen.insert(name.as_str().to_owned());
    let mut out = Vec::new();
    for alias in raw {
        let alias = clean(&alias);
        if alias.is_empty() || !seen.insert(alias.clone()) {
            continue;
        }
        out.push(Name::parse(&alias).map_err(|e| format!("alias '{alias}': {e}"))?);
    }
    if out.len() > MAX_ALIASES {
        notes.capped_aliases.push((owner.to_owned(), out.len()));
        out.truncate(MAX_ALIASES);
    }
    Ok(out)
}

/// Adds `(scheme, value)` once. Values are whitespace-cleaned; blank ones are ignored, over-long
/// ones dropped (and counted); an `lei` failing ISO 17442 goes under `other`.
pub fn push_identifier(
    list: &mut Vec<(String, String)>,
    scheme: &str,
    value: &str,
    notes: &mut Notes,
) {
    let value = clean(value);
    if value.is_empty() {
        return;
    }
    if crate::domain::clean_text(&value, MAX_IDENTIFIER_CHARS).is_none() {
        notes.dropped_identifiers += 1;
        return;
    }
    let pair = match (scheme, Lei::parse(&value)) {
        ("lei", Ok(lei)) => ("lei".to_owned(), lei.as_str().to_owned()),
        ("lei", Err(_)) => ("other".to_owned(), value),
        _ => (scheme.to_owned(), value),
    };
    if !list.contains(&pair) {
        list.push(pair);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_dedupes_and_validates() {
        let mut notes = Notes::default();
        let mut d = Draft::new(" 36 ");
        d.set_name(" ACME \n LTD ");
        for a in ["ACME LTD", "A", "A", " ", "B"] {
            d.alias(a);
        }
        d.program("SDGT");
        d.program("SDGT");
        d.country_name("Cuba", &mut notes);
        d.country_name("Cuba", &mut notes);
        d.country_name("Atlantis", &mut notes);
        d.identifier("lei", "485100GBI2SE0KIX8T70", &mut notes);
        d.identifier("lei", "856458879", &mut notes);
        d.identifier("imo", &"9".repeat(129), &mut notes);
        let r = d.finish(&mut notes).unwrap();
        assert_eq!(r.id.as_str(), "36");
        assert_eq!(r.name.as_str(), "ACME LTD");
        let aliases: Vec<&str> = r.aliases.iter().map(Name::as_str).collect();
        assert_eq!(aliases, ["A", "B"]);
        assert_eq!(r.programs.len(), 1);
        assert_eq!(r.countries.len(), 1);
        assert_eq!(
            r.identifiers,
            [
                ("lei".to_owned(), "485100GBI2SE0KIX8T70".to_owned()),
                ("other".to_owned(), "856458879".to_owned())
            ]
        );
        let lines = notes.into_lines();
        assert!(lines.iter().any(|l| l.contains("'Atlantis'")), "{lines:?}");
        assert!(
            lines.iter().any(|l| l.contains("1 identifier")),
            "{lines:?}"
        );
    }

    #[test]
    fn bad_ids_and_empty_names_are_refused() {
        let mut notes = Notes::default();
        let mut d = Draft::new("a b");
        d.set_name("x");
        assert!(d.finish(&mut notes).unwrap_err().contains("'a b'"));
        assert_eq!(
            Draft::new("1").finish(&mut notes).unwrap_err(),
            "the name is empty"
        );
    }

    #[test]
    fn aliases_are_capped_with_a_note() {
        let mut notes = Notes::default();
        let name = Name::parse("n").unwrap();
        let raw = (0..150).map(|i| format!("a{i}")).collect();
        assert_eq!(
            aliases(&name, raw, "x", &mut notes).unwrap().len(),
            MAX_ALIASES
        );
        assert_eq!(
            notes.into_lines(),
            ["'x' has 150 aliases; kept the first 100"]
        );
    }
}
