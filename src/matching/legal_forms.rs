//! Legal forms ("Ltd", "GmbH", "общество с ограниченной ответственностью") recognised as one
//! unit each, from rigour's `org_types.yml` (see `data/README.md`).
//!
//! A legal form is kept in the name with a low weight rather than stripped, and two legal
//! forms are compared on what they mean: the same `compare` form ("Ltd" = "Limited") or the
//! same generic type ("AG" and "SA" are both joint-stock companies) agree; two known and
//! different generic types ("AG" against "GmbH") conflict.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;

use super::normalize::{roman, split_tokens};

/// One legal form of the table.
#[derive(Debug)]
pub(crate) struct LegalForm {
    /// How it is shown: "GmbH", "LLC", "ООО".
    pub display: String,
    /// What it is compared on: the normalised `compare` form, else the normalised display.
    pub compare: String,
    /// The generic type ("LLC", "JSC", "LP" ...), when the table gives one.
    pub generic: Option<String>,
}

#[derive(Deserialize)]
struct File {
    types: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    display: Option<String>,
    compare: Option<String>,
    generic: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
}

pub(crate) struct Table {
    pub forms: Vec<LegalForm>,
    /// Alias token sequences by their first token, longest first.
    by_first: HashMap<String, Vec<(Vec<String>, u16)>>,
}

static TABLE: LazyLock<Table> = LazyLock::new(|| build(include_str!("data/org_types.yml")));

pub(crate) fn table() -> &'static Table {
    &TABLE
}

fn build(yaml: &str) -> Table {
    // The file is bundled and checked by the tests; an unreadable table only disables
    // legal-form recognition instead of failing every screening.
    let entries = serde_yaml_ng::from_str::<File>(yaml)
        .map(|f| f.types)
        .unwrap_or_default();
    let mut forms = Vec::new();
    let mut by_first: HashMap<String, Vec<(Vec<String>, u16)>> = HashMap::new();
    for e in entries {
        let Some(display) = e.display.clone().or_else(|| e.aliases.first().cloned()) else {
            continue;
        };
        let compare = split_tokens(e.compare.as_deref().unwrap_or(&display)).concat();
        let generic = e.generic.filter(|g| !g.is_empty());
        let Ok(id) = u16::try_from(forms.len()) else {
            break;
        };
        forms.push(LegalForm {
            display: display.clone(),
            compare,
            generic,
        });
        for alias in e.aliases.iter().chain(std::iter::once(&display)) {
            let tokens = split_tokens(alias);
            let Some(first) = tokens.first().cloned() else {
                continue;
            };
            // "II" reads as a number at the end of a name, not as a legal form.
            if tokens.len() == 1 && roman(&first).is_some() {
                continue;
            }
            let list = by_first.entry(first).or_default();
            // The first entry to claim an alias keeps it.
            if !list.iter().any(|(t, _)| *t == tokens) {
                list.push((tokens, id));
            }
        }
    }
    for list in by_first.values_mut() {
        list.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
    }
    Table { forms, by_first }
}

impl Table {
    pub fn get(&self, id: u16) -> Option<&LegalForm> {
        self.forms.get(usize::from(id))
    }

    /// The longest legal form starting at `tokens[at]`: its length in tokens and its id.
    fn longest_at(&self, tokens: &[String], at: usize) -> Option<(usize, u16)> {
        let candidates = self.by_first.get(tokens.get(at)?)?;
        candidates
            .iter()
            .find(|(alias, _)| tokens.get(at..at + alias.len()) == Some(alias.as_slice()))
            .map(|(alias, id)| (alias.len(), *id))
    }

    /// The legal forms in a name's tokens, as `(start, end, id)` spans. Short one-token forms
    /// ("SA", "AS", "NA") count only at either end of the name, where legal forms stand, so
    /// that a name part such as "Na" in "Daba Na Tena" stays a name part. A name is never
    /// all legal form: "Public Limited Company" alone stays words.
    pub fn find(&self, tokens: &[String]) -> Vec<(usize, usize, u16)> {
        let mut found = Vec::new();
        let mut at = 0;
        while at < tokens.len() {
            match self.longest_at(tokens, at) {
                Some((len, id)) => {
                    found.push((at, at + len, id));
                    at += len;
                }
                None => at += 1,
            }
        }
        let n = tokens.len();
        let strong = |&(s, e, _): &(usize, usize, u16)| e - s > 1 || tokens[s].len() >= 4;
        // Leading and trailing runs of legal forms.
        let mut edge = vec![false; found.len()];
        let mut next = 0;
        for (i, f) in found.iter().enumerate() {
            if f.0 != next {
                break;
            }
            edge[i] = true;
            next = f.1;
        }
        let mut prev = n;
        for (i, f) in found.iter().enumerate().rev() {
            if f.1 != prev {
                break;
            }
            edge[i] = true;
            prev = f.0;
        }
        let kept: Vec<_> = found
            .iter()
            .zip(&edge)
            .filter(|(f, e)| **e || strong(f))
            .map(|(f, _)| *f)
            .collect();
        let covered: usize = kept.iter().map(|(s, e, _)| e - s).sum();
        if covered >= n { Vec::new() } else { kept }
    }
}

/// How two names' legal forms compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Agreement {
    /// Neither name has one.
    None,
    /// Only one name has one: neutral.
    OneSided,
    /// Same compare form or same generic type.
    Agree,
    /// Different, but at least one generic type is unknown: neutral.
    Unknown,
    /// Known and different generic types.
    Conflict,
}

pub(crate) fn agreement(a: &[u16], b: &[u16]) -> Agreement {
    let t = table();
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Agreement::None,
        (true, false) | (false, true) => return Agreement::OneSided,
        _ => {}
    }
    let mut all_known = true;
    for x in a.iter().filter_map(|&i| t.get(i)) {
        for y in b.iter().filter_map(|&i| t.get(i)) {
            if x.compare == y.compare {
                return Agreement::Agree;
            }
            match (&x.generic, &y.generic) {
                (Some(gx), Some(gy)) if gx == gy => return Agreement::Agree,
                (Some(_), Some(_)) => {}
                _ => all_known = false,
            }
        }
    }
    if all_known {
        Agreement::Conflict
    } else {
        Agreement::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forms(name: &str) -> Vec<String> {
        let tokens = split_tokens(name);
        table()
            .find(&tokens)
            .into_iter()
            .filter_map(|(_, _, id)| table().get(id).map(|f| f.display.clone()))
            .collect()
    }

    #[test]
    fn the_table_loads() {
        assert!(table().forms.len() > 400, "{}", table().forms.len());
    }

    #[test]
    fn multi_token_forms_are_one_unit() {
        assert_eq!(
            forms("Lloyds Banking Group Public Limited Company"),
            ["PLC"]
        );
        assert_eq!(
            forms("ОБЩЕСТВО С ОГРАНИЧЕННОЙ ОТВЕТСТВЕННОСТЬЮ \"БАЙКАЛ\"").len(),
            1
        );
        assert_eq!(forms("FABERLIC EUROPE Sp. z o.o."), ["Sp. z o.o."]);
        assert_eq!(forms("Bowne Global Solutions, S.A.R.L."), ["SARL"]);
    }

    #[test]
    fn short_forms_count_only_at_the_edges() {
        assert!(forms("Daba Na Tena").is_empty());
        assert_eq!(forms("Banco Santander S.A."), ["SA"]);
        assert!(forms("Public Limited Company").is_empty());
    }

    #[test]
    fn generic_types_decide_agreement() {
        let id = |n: &str| {
            let t = split_tokens(n);
            table().find(&[t, vec!["x".into()]].concat())[0].2
        };
        assert_eq!(agreement(&[id("AG")], &[id("GmbH")]), Agreement::Conflict);
        assert_eq!(agreement(&[id("Ltd")], &[id("Limited")]), Agreement::Agree);
        assert_eq!(agreement(&[id("OAO")], &[id("JSC")]), Agreement::Agree);
        assert_eq!(agreement(&[id("LLC")], &[]), Agreement::OneSided);
    }
}
