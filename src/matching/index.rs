//! The in-memory candidate index over list names.
//!
//! **Keys.** Each indexed name posts its id under two keys per informative token (words,
//! numbers, generic words; initials, particles and legal forms only when a name has nothing
//! else): the token and its consonant skeleton (transliteration variants, vowel typos). A query
//! token the index does not know is looked up with every single edit (about 75 lookups a
//! letter, in the hash map only): typos cost the index no memory.
//! A query also looks up its neighbouring tokens joined ("Patr ushev") and its long tokens
//! split in two ("FridrichBuchenberg"), so names written together or apart meet.
//!
//! **Search.** Postings are sorted id lists. Keys are taken rarest first and each adds
//! `ln(1 + N / postings)` (less for skeleton and prefix keys) to the names it lists; keys
//! longer than [`SCAN_LIMIT`] are not scanned but only checked, by binary search, for the best
//! candidates found so far. When the rare keys find too few names, the names sharing the
//! rarest key of every query token (sorted-list intersections, token by token until few are
//! left) join them. The best [`CANDIDATES`] names that `accept` lets through are then
//! scored in full (see [`score`](super::score)) and the best name per record is kept.
//!
//! **Memory.** Names are kept in one string arena, records and names in flat slots, countries
//! in one array; a removed record leaves garbage that a compaction reclaims once it outweighs
//! the live data.

use std::cell::RefCell;
use std::collections::HashMap as StdHashMap;
use std::hash::{BuildHasher, Hash};

use hashbrown::{DefaultHashBuilder, HashMap};

use super::normalize::{self, Class, Name, Token};
use super::{Hit, Prepared, Query, Record, RecordView};
use crate::domain::{EntityKind, Jurisdiction};

/// Postings longer than this are checked, not scanned.
const SCAN_LIMIT: usize = 10_000;
/// Names scored in full per search.
const CANDIDATES: usize = 150;
/// Candidates kept for checking against long postings.
const SHORTLIST: usize = 1_000;

const EXACT: u8 = 0;
const SKELETON: u8 = 1;
/// Not a kind of key in the index: a word one edit away from a query token.
const TYPO: u8 = 2;
/// Weight of a key kind in the candidate ranking.
const KEY_WEIGHT: [f32; 3] = [1.0, 0.7, 0.8];
/// Query tokens up to this long that the index does not know are looked up with each
/// single edit.
const MAX_TYPO_LEN: usize = 24;

/// Separates a record's identifiers in the arena: scheme, value, scheme, value...
const SEP: char = '\u{1F}';

#[derive(Clone, Copy)]
struct NameSlot {
    /// Record slot; `u32::MAX` once removed.
    record: u32,
    start: u32,
    len: u32,
}

const DEAD: u32 = u32::MAX;

#[derive(Clone)]
struct Slot<K> {
    key: K,
    kind: Option<EntityKind>,
    first_name: u32,
    name_count: u32,
    /// Identifiers in the arena.
    ids_start: u32,
    ids_len: u32,
    countries_start: u32,
    countries_len: u32,
}

/// An in-memory index of list records, searchable by name.
pub struct Index<K> {
    hasher: DefaultHashBuilder,
    postings: HashMap<u64, Vec<u32>>,
    names: Vec<NameSlot>,
    records: Vec<Option<Slot<K>>>,
    free_records: Vec<u32>,
    by_key: HashMap<K, u32>,
    arena: String,
    countries: Vec<Jurisdiction>,
    live_names: usize,
    /// Arena bytes and country entries of removed records.
    garbage: usize,
}

impl<K: Copy + Eq + Hash + Send + Sync> Default for Index<K> {
    fn default() -> Self {
        Self::new()
    }
}

/// A search key of one token: its kind and its text.
type Key = (u8, String);

fn indexed(t: &Token) -> bool {
    matches!(t.class, Class::Word | Class::Number(_) | Class::Generic)
}

fn token_keys(t: &Token, out: &mut Vec<Key>) {
    out.push((EXACT, t.text.clone()));
    if matches!(t.class, Class::Number(_)) {
        return;
    }
    if t.skeleton.len() >= 2 {
        out.push((SKELETON, t.skeleton.clone()));
    }
}

/// The tokens a name is found by: informative ones, or all but titles if it has none.
fn key_tokens(name: &Name) -> Vec<&Token> {
    let informative: Vec<&Token> = name.tokens.iter().filter(|t| indexed(t)).collect();
    if informative.is_empty() {
        name.tokens
            .iter()
            .filter(|t| t.class != Class::Title)
            .collect()
    } else {
        informative
    }
}

/// The keys an indexed name posts under.
fn name_keys(name: &Name) -> Vec<Key> {
    let mut keys = Vec::new();
    for t in key_tokens(name) {
        token_keys(t, &mut keys);
    }
    keys.sort();
    keys.dedup();
    keys
}

/// The keys a query looks up, each with the query token it stands for.
fn query_keys(name: &Name) -> Vec<(Key, usize)> {
    let tokens = key_tokens(name);
    let mut keys = Vec::new();
    let mut buf = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        buf.clear();
        token_keys(t, &mut buf);
        keys.extend(buf.drain(..).map(|k| (k, i)));
        // Written apart in the query, together in the list.
        if let Some(next) = tokens.get(i + 1) {
            let joined = format!("{}{}", t.text, next.text);
            keys.push(((SKELETON, normalize::skeleton(&joined)), i));
            keys.push(((EXACT, joined), i));
        }
        // Written together in the query, apart in the list.
        let chars: Vec<usize> = t.text.char_indices().map(|(b, _)| b).collect();
        if chars.len() >= 7 {
            for &at in &chars[3..chars.len() - 2] {
                keys.push(((EXACT, t.text[..at].to_owned()), i));
                keys.push(((EXACT, t.text[at..].to_owned()), i));
            }
        }
    }
    keys
}

/// Calls `f` with every string one edit (deletion, transposition, substitution, insertion of
/// a letter or digit) away from `word`, an ASCII token.
fn one_edit(word: &str, mut f: impl FnMut(&str)) {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let w = word.as_bytes();
    let mut buf: Vec<u8> = Vec::with_capacity(w.len() + 1);
    let mut emit = |buf: &Vec<u8>| {
        if let Ok(s) = std::str::from_utf8(buf) {
            f(s);
        }
    };
    for i in 0..w.len() {
        buf.clear();
        buf.extend_from_slice(&w[..i]);
        buf.extend_from_slice(&w[i + 1..]);
        emit(&buf);
        if i + 1 < w.len() {
            buf.clear();
            buf.extend_from_slice(w);
            buf.swap(i, i + 1);
            emit(&buf);
        }
        for &c in ALPHABET {
            if c != w[i] {
                buf.clear();
                buf.extend_from_slice(w);
                buf[i] = c;
                emit(&buf);
            }
        }
    }
    for i in 0..=w.len() {
        for &c in ALPHABET {
            buf.clear();
            buf.extend_from_slice(&w[..i]);
            buf.push(c);
            buf.extend_from_slice(&w[i..]);
            emit(&buf);
        }
    }
}

/// The ids in both sorted lists.
fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// Per-thread scratch space for ranking candidates without allocating per search.
#[derive(Default)]
struct Scratch {
    generation: u32,
    stamps: Vec<u32>,
    scores: Vec<f32>,
    touched: Vec<u32>,
}

impl Scratch {
    fn reset(&mut self, size: usize) {
        if self.stamps.len() < size {
            self.stamps.resize(size, 0);
            self.scores.resize(size, 0.0);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.stamps.fill(0);
            self.generation = 1;
        }
        self.touched.clear();
    }

    fn add(&mut self, id: u32, w: f32) {
        let i = id as usize;
        if self.stamps[i] != self.generation {
            self.stamps[i] = self.generation;
            self.scores[i] = 0.0;
            self.touched.push(id);
        }
        self.scores[i] += w;
    }

    fn has(&self, id: u32) -> bool {
        self.stamps.get(id as usize) == Some(&self.generation)
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl<K: Copy + Eq + Hash + Send + Sync> Index<K> {
    pub fn new() -> Self {
        Self {
            hasher: DefaultHashBuilder::default(),
            postings: HashMap::new(),
            names: Vec::new(),
            records: Vec::new(),
            free_records: Vec::new(),
            by_key: HashMap::new(),
            arena: String::new(),
            countries: Vec::new(),
            live_names: 0,
            garbage: 0,
        }
    }

    /// Records in the index.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Names and aliases in the index.
    pub fn name_count(&self) -> usize {
        self.live_names
    }

    fn hash(&self, key: &(u8, impl Hash)) -> u64 {
        self.hasher.hash_one(key)
    }

    fn name_text(&self, slot: NameSlot) -> &str {
        let start = slot.start as usize;
        self.arena
            .get(start..start + slot.len as usize)
            .unwrap_or("")
    }

    fn push_text(&mut self, s: &str) -> (u32, u32) {
        let start = to_u32(self.arena.len());
        self.arena.push_str(s);
        (start, to_u32(s.len()))
    }

    /// Adds a record, replacing any record with the same key.
    pub fn upsert(&mut self, key: K, record: Record) {
        self.remove(key);
        let slot_id = match self.free_records.pop() {
            Some(id) => id,
            None => {
                self.records.push(None);
                to_u32(self.records.len() - 1)
            }
        };
        let first_name = to_u32(self.names.len());
        let mut name_count = 0;
        for name in &record.names {
            let normal = normalize::normalize(name, record.kind);
            let keys = name_keys(&normal);
            if keys.is_empty() {
                continue;
            }
            let (start, len) = self.push_text(name);
            let id = to_u32(self.names.len());
            self.names.push(NameSlot {
                record: slot_id,
                start,
                len,
            });
            name_count += 1;
            for k in &keys {
                let h = self.hash(k);
                // Ids only grow, so pushing keeps the postings sorted.
                self.postings.entry(h).or_default().push(id);
            }
        }
        self.live_names += name_count as usize;
        let ids_start = to_u32(self.arena.len());
        for (scheme, value) in &record.identifiers {
            let clean = |s: &str| s.replace(SEP, " ");
            self.arena.push_str(&clean(scheme));
            self.arena.push(SEP);
            self.arena.push_str(&clean(value));
            self.arena.push(SEP);
        }
        let ids_len = to_u32(self.arena.len()) - ids_start;
        let countries_start = to_u32(self.countries.len());
        self.countries.extend_from_slice(&record.countries);
        self.records[slot_id as usize] = Some(Slot {
            key,
            kind: record.kind,
            first_name,
            name_count,
            ids_start,
            ids_len,
            countries_start,
            countries_len: to_u32(record.countries.len()),
        });
        self.by_key.insert(key, slot_id);
    }

    /// Removes the record with this key; false if there was none.
    pub fn remove(&mut self, key: K) -> bool {
        let Some(slot_id) = self.by_key.remove(&key) else {
            return false;
        };
        let Some(slot) = self
            .records
            .get_mut(slot_id as usize)
            .and_then(Option::take)
        else {
            return false;
        };
        self.free_records.push(slot_id);
        for id in slot.first_name..slot.first_name + slot.name_count {
            let Some(&name) = self.names.get(id as usize) else {
                continue;
            };
            let normal = normalize::normalize(self.name_text(name), slot.kind);
            for k in name_keys(&normal) {
                let h = self.hash(&k);
                if let Some(list) = self.postings.get_mut(&h) {
                    if let Ok(at) = list.binary_search(&id) {
                        list.remove(at);
                    }
                    if list.is_empty() {
                        self.postings.remove(&h);
                    }
                }
            }
            self.garbage += name.len as usize;
            self.names[id as usize].record = DEAD;
        }
        self.live_names -= slot.name_count as usize;
        self.garbage += slot.ids_len as usize + slot.countries_len as usize;
        if self.garbage > 1 << 16 && self.garbage > self.arena.len() / 2 {
            self.compact();
        }
        true
    }

    /// Rewrites the arena, the countries and the name ids without what removed records left.
    fn compact(&mut self) {
        let mut arena =
            String::with_capacity(self.arena.len() - self.garbage.min(self.arena.len()));
        let mut countries = Vec::new();
        let mut names = Vec::with_capacity(self.live_names);
        let mut new_id: Vec<u32> = vec![DEAD; self.names.len()];
        for slot in self.records.iter_mut().flatten() {
            let first = to_u32(names.len());
            for id in slot.first_name..slot.first_name + slot.name_count {
                let Some(&old) = self.names.get(id as usize) else {
                    continue;
                };
                let start = to_u32(arena.len());
                let text = self
                    .arena
                    .get(old.start as usize..(old.start + old.len) as usize)
                    .unwrap_or("");
                arena.push_str(text);
                new_id[id as usize] = to_u32(names.len());
                names.push(NameSlot { start, ..old });
            }
            slot.first_name = first;
            let ids = self
                .arena
                .get(slot.ids_start as usize..(slot.ids_start + slot.ids_len) as usize)
                .unwrap_or("");
            slot.ids_start = to_u32(arena.len());
            arena.push_str(ids);
            let c =
                slot.countries_start as usize..(slot.countries_start + slot.countries_len) as usize;
            slot.countries_start = to_u32(countries.len());
            countries.extend_from_slice(self.countries.get(c).unwrap_or(&[]));
        }
        for list in self.postings.values_mut() {
            for id in list.iter_mut() {
                *id = new_id.get(*id as usize).copied().unwrap_or(DEAD);
            }
            list.retain(|&id| id != DEAD);
            // Renumbering by record order may reorder ids.
            list.sort_unstable();
            list.shrink_to_fit();
        }
        self.postings.retain(|_, l| !l.is_empty());
        self.arena = arena;
        self.countries = countries;
        self.names = names;
        self.garbage = 0;
    }

    /// The record stored under `key`, as it was given (names without a searchable word are
    /// not kept).
    pub fn record(&self, key: K) -> Option<Record> {
        let slot = self
            .records
            .get(*self.by_key.get(&key)? as usize)?
            .as_ref()?;
        let names = (slot.first_name..slot.first_name + slot.name_count)
            .filter_map(|id| self.names.get(id as usize))
            .map(|n| self.name_text(*n).to_owned())
            .collect();
        let ids = self
            .arena
            .get(slot.ids_start as usize..(slot.ids_start + slot.ids_len) as usize)
            .unwrap_or("");
        let parts: Vec<&str> = ids.split(SEP).collect();
        let identifiers = parts
            .chunks_exact(2)
            .map(|p| (p[0].to_owned(), p[1].to_owned()))
            .collect();
        let c = slot.countries_start as usize..(slot.countries_start + slot.countries_len) as usize;
        Some(Record {
            names,
            kind: slot.kind,
            countries: self.countries.get(c).unwrap_or(&[]).to_vec(),
            identifiers,
        })
    }

    /// Releases spare capacity after a bulk load.
    pub fn shrink_to_fit(&mut self) {
        for list in self.postings.values_mut() {
            list.shrink_to_fit();
        }
        self.postings.shrink_to_fit();
        self.names.shrink_to_fit();
        self.records.shrink_to_fit();
        self.arena.shrink_to_fit();
        self.countries.shrink_to_fit();
        self.by_key.shrink_to_fit();
    }

    /// Approximate heap bytes held by the index.
    pub fn heap_bytes(&self) -> usize {
        let postings: usize = self
            .postings
            .values()
            .map(|l| l.capacity() * 4 + std::mem::size_of::<Vec<u32>>() + 16)
            .sum();
        postings
            + self.names.capacity() * std::mem::size_of::<NameSlot>()
            + self.records.capacity() * std::mem::size_of::<Option<Slot<K>>>()
            + self.by_key.capacity() * (std::mem::size_of::<(K, u32)>() + 1)
            + self.arena.capacity()
            + self.countries.capacity() * std::mem::size_of::<Jurisdiction>()
    }

    /// How many names the candidate stage picks for full scoring: the candidate stage alone,
    /// for benchmarks and diagnostics.
    pub fn candidate_count(&self, query: &Query) -> usize {
        let name = normalize::normalize(query.name, query.kind);
        self.candidates(&name, query.name.len(), &|_| true).len()
    }

    /// The names most worth scoring for a query, best first, as name ids.
    fn candidates(&self, name: &Name, query_len: usize, accept: &impl Fn(K) -> bool) -> Vec<u32> {
        // Among names that share as much, those of the query's length first.
        let distance = |id: u32| {
            self.names
                .get(id as usize)
                .map_or(usize::MAX, |n| (n.len as usize).abs_diff(query_len))
        };
        let total = self.names.len().max(1) as f32;
        let mut lists: Vec<(&[u32], f32, usize)> = Vec::new();
        let mut seen: StdHashMap<u64, ()> = StdHashMap::new();
        for ((kind, text), token) in query_keys(name) {
            let h = self.hash(&(kind, text));
            if seen.insert(h, ()).is_some() {
                continue;
            }
            if let Some(list) = self.postings.get(&h) {
                let idf = (1.0 + total / list.len() as f32).ln();
                lists.push((list, idf * KEY_WEIGHT[usize::from(kind)], token));
            }
        }
        for (token, t) in key_tokens(name).into_iter().enumerate() {
            let known = self
                .postings
                .contains_key(&self.hash(&(EXACT, t.text.as_str())));
            if known || !(3..=MAX_TYPO_LEN).contains(&t.text.len()) {
                continue;
            }
            one_edit(&t.text, |variant| {
                let h = self.hash(&(EXACT, variant));
                if seen.insert(h, ()).is_none()
                    && let Some(list) = self.postings.get(&h)
                {
                    let idf = (1.0 + total / list.len() as f32).ln();
                    lists.push((list, idf * KEY_WEIGHT[usize::from(TYPO)], token));
                }
            });
        }
        lists.sort_by_key(|(l, _, _)| l.len());
        SCRATCH.with(|cell| {
            let mut s = cell.borrow_mut();
            s.reset(self.names.len());
            let (short, long): (Vec<_>, Vec<_>) =
                lists.iter().partition(|(l, _, _)| l.len() <= SCAN_LIMIT);
            for (list, w, _) in &short {
                for &id in *list {
                    s.add(id, *w);
                }
            }
            // Too few names from the rare keys, or too many to rank: add the names that
            // share the rarest key of each query token, intersecting token by token until
            // few are left.
            let mut seeds: Option<Vec<u32>> = None;
            let unclear = s.touched.len() < CANDIDATES || s.touched.len() > SHORTLIST;
            if unclear {
                let mut tokens_done = Vec::new();
                for (list, _, token) in &long {
                    if tokens_done.contains(token) {
                        continue;
                    }
                    tokens_done.push(*token);
                    seeds = Some(match seeds {
                        None => list.to_vec(),
                        Some(so_far) => intersect(&so_far, list),
                    });
                    if seeds.as_ref().is_some_and(|s| s.len() <= SHORTLIST) {
                        break;
                    }
                }
            }
            let mut ranked = Self::best(&s, SHORTLIST, distance);
            let mut seeds = seeds.unwrap_or_default();
            if seeds.len() > SHORTLIST {
                seeds.select_nth_unstable_by_key(SHORTLIST, |&id| distance(id));
                seeds.truncate(SHORTLIST);
            }
            ranked.extend(seeds.into_iter().filter(|&id| !s.has(id)));
            for &id in &ranked {
                s.add(id, 0.0);
            }
            for (list, w, _) in &long {
                for &id in &ranked {
                    if list.binary_search(&id).is_ok() && s.has(id) {
                        s.scores[id as usize] += *w;
                    }
                }
            }
            ranked.sort_by(|&a, &b| {
                s.scores[b as usize]
                    .total_cmp(&s.scores[a as usize])
                    .then(distance(a).cmp(&distance(b)))
                    .then(a.cmp(&b))
            });
            ranked
                .into_iter()
                .filter(|&id| self.record_of(id).is_some_and(|slot| accept(slot.key)))
                .take(CANDIDATES)
                .collect()
        })
    }

    /// The `n` best-ranked touched names, names of the query's length first among equals.
    fn best(s: &Scratch, n: usize, distance: impl Fn(u32) -> usize) -> Vec<u32> {
        let mut ids = s.touched.clone();
        let by_score = |a: &u32, b: &u32| {
            s.scores[*b as usize]
                .total_cmp(&s.scores[*a as usize])
                .then(distance(*a).cmp(&distance(*b)))
        };
        if ids.len() > n {
            ids.select_nth_unstable_by(n, by_score);
            ids.truncate(n);
        }
        ids
    }

    fn record_of(&self, name_id: u32) -> Option<&Slot<K>> {
        let slot = self.names.get(name_id as usize)?;
        self.records.get(slot.record as usize)?.as_ref()
    }

    /// Records matching the query at or above `threshold`, best first, at most `limit`.
    /// `accept` filters records by key before they are scored.
    pub fn search(
        &self,
        query: &Query,
        limit: usize,
        threshold: f64,
        accept: impl Fn(K) -> bool,
    ) -> Vec<Hit<K>> {
        let prepared = Prepared::new(query);
        let candidates = self.candidates(prepared.name(), query.name.len(), &accept);
        // Candidate names grouped by record, in order of first appearance.
        let mut by_record: Vec<(u32, Vec<u32>)> = Vec::new();
        let mut position: StdHashMap<u32, usize> = StdHashMap::new();
        for id in candidates {
            let Some(slot) = self.names.get(id as usize) else {
                continue;
            };
            let at = *position.entry(slot.record).or_insert_with(|| {
                by_record.push((slot.record, Vec::new()));
                by_record.len() - 1
            });
            by_record[at].1.push(id);
        }
        let mut hits = Vec::new();
        for (record, ids) in by_record {
            let Some(Some(slot)) = self.records.get(record as usize) else {
                continue;
            };
            let view = RecordView {
                names: ids
                    .iter()
                    .filter_map(|&id| self.names.get(id as usize))
                    .map(|&n| self.name_text(n)),
                kind: slot.kind,
                countries: self.record_countries(slot),
                identifiers: self.record_identifiers(slot),
            };
            if let Some(hit) = prepared.score(view, slot.key)
                && hit.score >= threshold
            {
                hits.push(hit);
            }
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(limit);
        hits
    }

    fn record_countries(&self, slot: &Slot<K>) -> &[Jurisdiction] {
        let start = slot.countries_start as usize;
        self.countries
            .get(start..start + slot.countries_len as usize)
            .unwrap_or(&[])
    }

    fn record_identifiers(&self, slot: &Slot<K>) -> impl Iterator<Item = (&str, &str)> {
        let start = slot.ids_start as usize;
        let text = self
            .arena
            .get(start..start + slot.ids_len as usize)
            .unwrap_or("");
        let mut parts = text.split(SEP);
        std::iter::from_fn(move || {
            let scheme = parts.next()?;
            let value = parts.next()?;
            Some((scheme, value))
        })
    }
}
