//! Scoring two normalised names, then a query against a record.
//!
//! **Tokens.** Two tokens are as similar as their Damerau-Levenshtein distance allows, with
//! `r` the edits per character: `1 - r - 1.5 r²` (one typo in a long word costs little, several
//! cost fast), raised when their consonant skeletons are equal (a transliteration variant:
//! `0.55 + 0.45 × edit`, or 0.9 when one is written without vowels), 1 for synonyms and nicknames, 0.9 for an initial and a name it
//! starts with; numbers are equal or not at all.
//!
//! **Alignment.** Every token of one name may pair with any token of the other, in any order;
//! two or three neighbours written together on one side may pair with one token on the other
//! ("SiemensAG", "Patr ushev"). Pairs are taken greedily, best similarity first; a pair below
//! [`MIN_PAIR`] is no pair.
//!
//! **Name score.** A weighted Dice coefficient: each pair adds its similarity times the weights
//! of its tokens, over the weights of all tokens of both names; so unmatched tokens on either
//! side count against. When one name is wholly matched and the other has more (a patronymic, a
//! grandfather's name), the extra tokens count half for persons, who often drop or add
//! middle names; for organisations they count a quarter more, as an added word usually names
//! another entity ("Banco Santander México", "Deutsche Bank Trust Company"), and ownership
//! between such entities is the graph's business, not the name matcher's. When both names keep unmatched tokens, those
//! stand against each other (a substitution, "al-Tikriti" for "al-Mosuli") and count once
//! more. A match on weak tokens alone (legal forms,
//! generic words, particles) when a name has real words is halved; conflicting legal forms and
//! differing numbers multiply it down.

use std::borrow::Cow;
use std::ops::Range;

use super::explain::{LegalFormCheck, MatchKind, NumberCheck, TokenMatch};
use super::legal_forms::{self, Agreement};
use super::normalize::{self, Class, Name, Token};

/// Below this similarity two tokens are not paired.
pub(crate) const MIN_PAIR: f64 = 0.5;
/// Tokens joined on one side must match this well.
const MIN_JOINED: f64 = 0.85;
/// At most this many neighbours are joined.
const MAX_JOIN: usize = 3;
/// Weight of the tokens beyond a wholly matched name, for persons and organisations.
const EXTRA_PERSON: f64 = 0.5;
const EXTRA_ORG: f64 = 1.25;
/// Extra weight of the unmatched tokens that stand against each other.
const SWAP: f64 = 1.0;
/// Factor when only weak tokens matched though a name has real words.
const WEAK_ONLY: f64 = 0.5;
/// Factor for legal forms of different generic types.
const LEGAL_CONFLICT: f64 = 0.7;
/// Factor for differing numbers.
const NUMBER_CONFLICT: f64 = 0.5;

/// The outcome of comparing two names.
#[derive(Clone, Debug)]
pub(crate) struct NameMatch {
    pub score: f64,
    pub tokens: Vec<TokenMatch>,
    pub legal_form: LegalFormCheck,
    pub numbers: NumberCheck,
}

/// One token, or neighbours joined, of one name.
struct Item<'a> {
    range: Range<usize>,
    text: Cow<'a, str>,
}

struct Pair {
    q: Range<usize>,
    c: Range<usize>,
    sim: f64,
    kind: MatchKind,
}

fn alignable(t: &Token) -> bool {
    !matches!(t.class, Class::Title | Class::LegalForm(_))
}

fn joinable(t: &Token) -> bool {
    !matches!(t.class, Class::Title | Class::Number(_))
}

fn items(name: &Name) -> Vec<Item<'_>> {
    let t = &name.tokens;
    let mut out: Vec<Item> = (0..t.len())
        .filter(|&i| alignable(&t[i]))
        .map(|i| Item {
            range: i..i + 1,
            text: Cow::Borrowed(t[i].text.as_str()),
        })
        .collect();
    for len in 2..=MAX_JOIN {
        for start in 0..t.len().saturating_sub(len - 1) {
            let span = &t[start..start + len];
            if span.iter().all(joinable) {
                out.push(Item {
                    range: start..start + len,
                    text: Cow::Owned(span.iter().map(|x| x.text.as_str()).collect()),
                });
            }
        }
    }
    out
}

/// Similarity of two strings from their edit distance, `r` edits per character.
pub(crate) fn edit_similarity(a: &str, b: &str) -> f64 {
    let len = a.chars().count().max(b.chars().count());
    if len == 0 {
        return 0.0;
    }
    // Optimal string alignment: Levenshtein with adjacent transpositions as one edit.
    let r = strsim::osa_distance(a, b) as f64 / len as f64;
    curve(r)
}

/// Similarity from edits per character: `1 - r - 1.5 r²`.
fn curve(r: f64) -> f64 {
    (1.0 - r - 1.5 * r * r).max(0.0)
}

/// Whether the lengths alone leave room for an edit similarity of `min`: the distance is at
/// least the difference in length.
fn could_pair(a: &str, b: &str, min: f64) -> bool {
    let (la, lb) = (a.len(), b.len());
    curve(la.abs_diff(lb) as f64 / la.max(lb).max(1) as f64) >= min
}

fn phonetic_similarity(a: &Token, b: &Token, edit: f64) -> f64 {
    let comparable = !a.skeleton.is_empty()
        && a.skeleton == b.skeleton
        && a.text.len() >= 2
        && b.text.len() >= 2;
    if !comparable {
        return 0.0;
    }
    // Short skeletons ("sn" for "snow" and "snoe") say little.
    let short = if a.skeleton.len() <= 2 { 0.9 } else { 1.0 };
    // Written without vowels (Arabic or Hebrew script): the skeleton is all there is.
    let abjad = |t: &Token| !t.text.bytes().any(normalize::is_vowel);
    let base = if abjad(a) || abjad(b) {
        0.9
    } else {
        0.55 + 0.45 * edit
    };
    base * short
}

pub(crate) fn token_similarity(a: &Token, b: &Token) -> (f64, MatchKind) {
    match (a.class, b.class) {
        (Class::Number(x), Class::Number(y)) => {
            return (if x == y { 1.0 } else { 0.0 }, MatchKind::Number);
        }
        (Class::Number(_), _) | (_, Class::Number(_)) => return (0.0, MatchKind::Fuzzy),
        _ => {}
    }
    if a.text == b.text {
        return (1.0, MatchKind::Exact);
    }
    if a.groups.iter().any(|g| b.groups.contains(g)) {
        return (1.0, MatchKind::Synonym);
    }
    let initial = |i: &Token, w: &Token| {
        let fits = w.text.starts_with(i.text.as_str()) && w.class != Class::Initial;
        (if fits { 0.9 } else { 0.0 }, MatchKind::Initial)
    };
    if a.class == Class::Initial {
        return initial(a, b);
    }
    if b.class == Class::Initial {
        return initial(b, a);
    }
    let edit = if could_pair(&a.text, &b.text, MIN_PAIR) {
        edit_similarity(&a.text, &b.text)
    } else {
        0.0
    };
    let phonetic = phonetic_similarity(a, b, edit);
    if phonetic > edit {
        (phonetic, MatchKind::Phonetic)
    } else {
        (edit, MatchKind::Fuzzy)
    }
}

fn item_similarity(q: &Name, qi: &Item, c: &Name, ci: &Item) -> Option<(f64, MatchKind)> {
    if qi.range.len() == ci.range.len() {
        if qi.range.len() > 1 {
            return None; // as many tokens on both sides: the single pairs say it better
        }
        let (sim, kind) = token_similarity(&q.tokens[qi.range.start], &c.tokens[ci.range.start]);
        return (sim >= MIN_PAIR).then_some((sim, kind));
    }
    if let Some(found) = acronym(q, qi, c, ci).or_else(|| acronym(c, ci, q, qi)) {
        return Some(found);
    }
    if !could_pair(&qi.text, &ci.text, MIN_JOINED) {
        return None;
    }
    let sim = edit_similarity(&qi.text, &ci.text);
    (sim >= MIN_JOINED).then_some((sim, MatchKind::Joined))
}

/// A short token standing for the initials of neighbours on the other side ("U.S." for
/// "United States", "JC" for "Jean Claude"). For a person the initials may not be the whole
/// name: "N.N." is nobody in particular.
fn acronym(a: &Name, ai: &Item, b: &Name, bi: &Item) -> Option<(f64, MatchKind)> {
    let short = ai.range.len() == 1 && bi.range.len() > 1;
    let token = &a.tokens[ai.range.start];
    if !short || matches!(token.class, Class::Number(_)) || !(2..=5).contains(&token.text.len()) {
        return None;
    }
    let initials: String = b.tokens[bi.range.clone()]
        .iter()
        .filter_map(|t| t.text.chars().next())
        .collect();
    let whole = b.tokens.iter().filter(|t| alignable(t)).count() == bi.range.len();
    let allowed = a.org_like || b.org_like || !whole;
    (allowed && initials == token.text).then_some((0.9, MatchKind::Initial))
}

/// Greedy alignment: best pairs first, each token in one pair at most.
fn align(q: &Name, c: &Name) -> Vec<Pair> {
    let (qs, cs) = (items(q), items(c));
    let mut candidates = Vec::new();
    for qi in &qs {
        for ci in &cs {
            if let Some((sim, kind)) = item_similarity(q, qi, c, ci) {
                candidates.push(Pair {
                    q: qi.range.clone(),
                    c: ci.range.clone(),
                    sim,
                    kind,
                });
            }
        }
    }
    candidates.sort_by(|a, b| {
        b.sim
            .total_cmp(&a.sim)
            .then((a.q.len() + a.c.len()).cmp(&(b.q.len() + b.c.len())))
            .then(a.q.start.cmp(&b.q.start))
            .then(a.c.start.cmp(&b.c.start))
    });
    let mut used_q = vec![false; q.tokens.len()];
    let mut used_c = vec![false; c.tokens.len()];
    let mut pairs = Vec::new();
    for p in candidates {
        if used_q[p.q.clone()].iter().any(|&u| u) || used_c[p.c.clone()].iter().any(|&u| u) {
            continue;
        }
        used_q[p.q.clone()].fill(true);
        used_c[p.c.clone()].fill(true);
        pairs.push(p);
    }
    pairs.sort_by_key(|p| (p.q.start, p.c.start));
    pairs
}

fn weight(name: &Name, r: &Range<usize>) -> f64 {
    name.tokens[r.clone()].iter().map(Token::weight).sum()
}

fn text(name: &Name, r: &Range<usize>) -> String {
    let parts: Vec<&str> = name.tokens[r.clone()]
        .iter()
        .map(|t| t.text.as_str())
        .collect();
    parts.join(" ")
}

fn is_distinctive(t: &Token) -> bool {
    matches!(t.class, Class::Word | Class::Number(_))
}

fn display(id: u16) -> String {
    legal_forms::table()
        .get(id)
        .map_or_else(String::new, |f| f.display.clone())
}

/// Legal forms not taken into a joined pair, as (token index, form id).
fn free_forms(name: &Name, used: &[bool]) -> Vec<(usize, u16)> {
    name.tokens
        .iter()
        .enumerate()
        .filter(|(i, _)| !used[*i])
        .filter_map(|(i, t)| match t.class {
            Class::LegalForm(id) => Some((i, id)),
            _ => None,
        })
        .collect()
}

fn legal_check(q: &[(usize, u16)], c: &[(usize, u16)], agreement: Agreement) -> LegalFormCheck {
    let first = |v: &[(usize, u16)]| v.first().map(|&(_, id)| display(id)).unwrap_or_default();
    match agreement {
        Agreement::None => LegalFormCheck::None,
        Agreement::OneSided => LegalFormCheck::OneSided {
            form: if q.is_empty() { first(c) } else { first(q) },
        },
        Agreement::Agree => LegalFormCheck::Agree {
            query: first(q),
            candidate: first(c),
        },
        Agreement::Unknown => LegalFormCheck::Different {
            query: first(q),
            candidate: first(c),
        },
        Agreement::Conflict => LegalFormCheck::Conflict {
            query: first(q),
            candidate: first(c),
        },
    }
}

fn number_check(q: &Name, c: &Name) -> NumberCheck {
    let (a, b) = (q.numbers(), c.numbers());
    match (a.is_empty(), b.is_empty()) {
        (true, true) => NumberCheck::None,
        (true, false) | (false, true) => NumberCheck::OneSided,
        _ if a == b => NumberCheck::Agree { numbers: a },
        _ => NumberCheck::Conflict {
            query: a,
            candidate: b,
        },
    }
}

/// A legal form of one name paired with a misspelling of it in the other ("Limtied", "Icn.").
struct Misspelt {
    form_text: String,
    word_text: String,
    sim: f64,
    form_weight: f64,
    word_weight: f64,
}

/// Pairs the unmatched legal forms of `forms` with unmatched words (one, or two written
/// apart) of `words` that spell them with a typo; the words then weigh as a legal form.
fn misspelt_forms(
    forms: &Name,
    used_f: &mut [bool],
    words: &Name,
    used_w: &mut [bool],
) -> Vec<Misspelt> {
    let mut out = Vec::new();
    for (j, form) in forms.tokens.iter().enumerate() {
        if used_f[j] || !matches!(form.class, Class::LegalForm(_)) || form.written.is_empty() {
            continue;
        }
        let mut best: Option<(f64, Range<usize>)> = None;
        for len in 1..=2 {
            for start in 0..words.tokens.len().saturating_sub(len - 1) {
                let r = start..start + len;
                let free = words.tokens[r.clone()]
                    .iter()
                    .zip(&used_w[r.clone()])
                    .all(|(t, u)| !u && matches!(t.class, Class::Word | Class::Generic));
                if !free {
                    continue;
                }
                let joined: String = words.tokens[r.clone()]
                    .iter()
                    .map(|t| t.text.as_str())
                    .collect();
                let sim = edit_similarity(&joined, &form.written);
                if sim >= MIN_PAIR && best.as_ref().is_none_or(|(b, _)| sim > *b) {
                    best = Some((sim, r));
                }
            }
        }
        if let Some((sim, r)) = best {
            used_f[j] = true;
            used_w[r.clone()].fill(true);
            out.push(Misspelt {
                form_text: form.text.clone(),
                word_text: text(words, &r),
                sim,
                form_weight: form.weight(),
                word_weight: weight(words, &r),
            });
        }
    }
    out
}

/// Compares a query name with a list name.
pub(crate) fn compare_names(q: &Name, c: &Name) -> NameMatch {
    let pairs = align(q, c);
    let mut used_q = vec![false; q.tokens.len()];
    let mut used_c = vec![false; c.tokens.len()];
    let mut matched = 0.0;
    let mut distinctive_pair = false;
    let mut tokens = Vec::new();
    for p in &pairs {
        used_q[p.q.clone()].fill(true);
        used_c[p.c.clone()].fill(true);
        let w = weight(q, &p.q) + weight(c, &p.c);
        matched += p.sim * w;
        distinctive_pair |= q.tokens[p.q.clone()].iter().any(is_distinctive)
            || c.tokens[p.c.clone()].iter().any(is_distinctive);
        tokens.push(TokenMatch {
            query: Some(text(q, &p.q)),
            candidate: Some(text(c, &p.c)),
            similarity: p.sim,
            kind: p.kind,
            weight: w / 2.0,
        });
    }

    // Legal forms: agreeing pairs count as matched; the rest stay unmatched.
    let (fq, fc) = (free_forms(q, &used_q), free_forms(c, &used_c));
    let ids = |v: &[(usize, u16)]| v.iter().map(|&(_, id)| id).collect::<Vec<_>>();
    let agreement = legal_forms::agreement(&ids(&fq), &ids(&fc));
    if agreement == Agreement::Agree {
        for &(i, a) in &fq {
            let agreeing = fc.iter().find(|&&(j, b)| {
                !used_c[j] && legal_forms::agreement(&[a], &[b]) == Agreement::Agree
            });
            let Some(&(j, _)) = agreeing else {
                continue;
            };
            used_q[i] = true;
            used_c[j] = true;
            let w = q.tokens[i].weight() + c.tokens[j].weight();
            matched += w;
            tokens.push(TokenMatch {
                query: Some(q.tokens[i].text.clone()),
                candidate: Some(c.tokens[j].text.clone()),
                similarity: 1.0,
                kind: MatchKind::LegalForm,
                weight: w / 2.0,
            });
        }
    }
    let legal_form = legal_check(&fq, &fc, agreement);
    let mut relief = 0.0;
    for (forms, words, forms_are_query) in [(c, q, false), (q, c, true)] {
        let (used_f, used_w) = if forms_are_query {
            (&mut used_q, &mut used_c)
        } else {
            (&mut used_c, &mut used_q)
        };
        for m in misspelt_forms(forms, used_f, words, used_w) {
            matched += m.sim * 2.0 * m.form_weight;
            relief += m.word_weight - m.form_weight;
            let (form_text, word_text) = (Some(m.form_text), Some(m.word_text));
            let (query, candidate) = if forms_are_query {
                (form_text, word_text)
            } else {
                (word_text, form_text)
            };
            tokens.push(TokenMatch {
                query,
                candidate,
                similarity: m.sim,
                kind: MatchKind::LegalForm,
                weight: m.form_weight,
            });
        }
    }
    let numbers = number_check(q, c);

    let unmatched = |name: &Name, used: &[bool], out: &mut Vec<TokenMatch>, query_side: bool| {
        let mut total = 0.0;
        for (t, _) in name.tokens.iter().zip(used).filter(|(_, u)| !**u) {
            total += t.weight();
            let kind = match t.class {
                Class::Title => MatchKind::Ignored,
                Class::LegalForm(_) => MatchKind::LegalForm,
                _ if query_side => MatchKind::Extra,
                _ => MatchKind::Missing,
            };
            let text = Some(t.text.clone());
            out.push(TokenMatch {
                query: if query_side { text.clone() } else { None },
                candidate: if query_side { None } else { text },
                similarity: 0.0,
                kind,
                weight: t.weight(),
            });
        }
        total
    };
    let extra_q = unmatched(q, &used_q, &mut tokens, true);
    let extra_c = unmatched(c, &used_c, &mut tokens, false);

    let total: f64 = q
        .tokens
        .iter()
        .chain(&c.tokens)
        .map(Token::weight)
        .sum::<f64>()
        - relief;
    let keep = if q.org_like || c.org_like {
        EXTRA_ORG
    } else {
        EXTRA_PERSON
    };
    let discount = match (extra_q > 0.0, extra_c > 0.0) {
        (false, true) => (1.0 - keep) * extra_c,
        (true, false) => (1.0 - keep) * extra_q,
        _ => 0.0,
    };
    // A token unmatched on each side is a substitution: a different name part, which says
    // more against than a part merely left out.
    let swap = SWAP * extra_q.min(extra_c);
    let denominator = total - discount + swap;
    let mut score = if denominator > 0.0 {
        matched / denominator
    } else {
        0.0
    };
    let has_words = q.tokens.iter().chain(&c.tokens).any(is_distinctive);
    if has_words && !distinctive_pair {
        score *= WEAK_ONLY;
    }
    if agreement == Agreement::Conflict {
        score *= LEGAL_CONFLICT;
    }
    if matches!(numbers, NumberCheck::Conflict { .. }) {
        score *= NUMBER_CONFLICT;
    }
    NameMatch {
        score: score.clamp(0.0, 1.0),
        tokens,
        legal_form,
        numbers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EntityKind;
    use crate::matching::normalize::normalize;

    fn score(a: &str, b: &str, kind: Option<EntityKind>) -> f64 {
        compare_names(&normalize(a, kind), &normalize(b, kind)).score
    }

    #[test]
    fn typos_cost_little_many_edits_much() {
        assert!(edit_similarity("scholze", "scholz") > 0.8);
        assert!(edit_similarity("henriksen", "frederiksen") < 0.55);
    }

    #[test]
    fn order_free_persons() {
        let p = Some(EntityKind::Person);
        assert!(score("SCHOLZ, Olaf", "Olaf Scholz", p) > 0.99);
        assert!(score("Hans J Friedrich", "Hans Joachim Friedrich", p) > 0.9);
        assert!(score("Hans O Friedrich", "Hans Joachim Friedrich", p) < 0.8);
    }

    #[test]
    fn joined_tokens() {
        assert!(score("SiemensAG", "Siemens AG", None) > 0.9);
        assert!(score("Nikolai Patr ushev", "Nikolai Patrushev", None) > 0.95);
        assert!(score("习近平", "Xi Jinping", None) > 0.9);
    }
}
