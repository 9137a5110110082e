//! A synthetic registry shaped like a real one, for benchmarks and load tests.
//!
//! What makes a screening fast or slow is the shape of the graph, so the shape follows real
//! registries (GLEIF relationship records, the UK register of persons with significant
//! control, OFAC's SDN list) rather than a uniform random graph:
//!
//! - **Groups** have Zipf sizes, P(size ≥ s) = s^-1.3 (firm sizes follow a power law): about
//!   six companies in ten stand alone, and a few groups have thousands of subsidiaries.
//! - **Trees** grow half as a random recursive tree (a new company hangs under a random member,
//!   which builds chains of intermediate holdings) and half by preferential attachment (under
//!   the parent of a random member, which builds hubs with hundreds of direct subsidiaries).
//!   A chain stops at [`MAX_LEVEL`] links from its top owner.
//! - **Stakes**: most links are wholly owned; then majority stakes beside minority holders of
//!   5–30%, 60/40 and 50/50 joint ventures with another group's parent, ranges (UK-style
//!   25–50/50–75/75–100 bands, mostly on British companies), acquisitions and changes of owner
//!   as validity intervals, and a few `board`, `control`, `votes` (dual-class founders) and
//!   `consolidation` links.
//! - **Tops**: founders and families (persons, some owning several companies), family trusts
//!   controlled by a settlor, state holding agencies, and investment funds holding 3–10% of
//!   large groups whose other shares are dispersed.
//! - **Places** are skewed (US, GB, DE, CN, FR ... then a long tail; see `places`), with the
//!   offshore layer of real groups: Chinese groups list through Cayman or BVI holding
//!   companies headquartered in China, Russian groups hold through Cyprus, US companies are
//!   registered in Delaware.
//! - **Sanctions**: about 0.5% of entities are designated on one of two synthetic lists (some
//!   on both, a few since delisted), drawn by country risk: persons, group parents (so that
//!   taint flows down a whole group) and single companies.
//! - **Cycles**: 1% of groups of three or more companies (about 0.2% of all groups) hold a
//!   cross-holding, a subsidiary owning a few percent of its own parent.
//!
//! Generation is one pass with ChaCha8 (a quarter of a second for a million entities); names
//! go into one string arena and shares are integers, so a million entities take some 90 MB.
//!
//! Must not break: the same seed and size give the same registry (the figures in
//! `docs/benchmarks.md` name their seed), and at no date do the known minimum shares or votes
//! held in an entity pass 100%, as the store requires.

pub mod files;
mod names;
mod places;

use chrono::{NaiveDate, TimeDelta};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::domain::{EntityKind, Interest, Jurisdiction};
use crate::engine::{self, BaseBuilder, EdgeData, ListMeta, NodeData, Snapshot};
use names::{CompanyName, Names, Role};
use places::{COUNTRIES, Hub, Places};

/// The longest chain of ownership links from a group's top owner to its deepest company
/// (cross-holdings aside).
pub const MAX_LEVEL: u8 = 12;

/// Exponent of the group-size law: P(size ≥ s) = s^-ALPHA.
const ALPHA: f64 = 1.3;
/// Share of entities designated on a sanctions list.
const LISTED: f64 = 0.005;
/// Chance that a group of three or more companies holds a cross-holding.
const CYCLIC: f64 = 0.01;
/// One hundred percent, in hundredths of a percent.
const ALL: u16 = 10_000;

/// Targets in each of the benchmarks' samples ([`Registry::samples`]).
pub const SAMPLE: usize = 1_000;
/// An entity at least this many links below its top owner is in the benchmarks' deep sample.
pub const DEEP: u8 = 10;
/// The seed of the generator the benchmarks draw their samples with.
pub const SAMPLE_SEED: u64 = 99;

pub struct Config {
    pub entities: usize,
    pub seed: u64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Entity {
    pub kind: EntityKind,
    pub jurisdiction: Option<Jurisdiction>,
    pub headquarters: Option<Jurisdiction>,
    /// Links between the entity and the top of its group: 0 for persons, trusts, funds and
    /// governments, 1 for a group's parent, up to [`MAX_LEVEL`].
    pub level: u8,
    /// The parent of the entity's corporate group (a parent is its own); none for persons,
    /// trusts, funds and governments.
    pub group: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Link {
    pub owner: u32,
    pub owned: u32,
    pub interest: Interest,
    /// Known minimum and possible maximum, in hundredths of a percent so that shares print
    /// exactly ("33.33"); equal for an exact share, both 0 for `board`, `control` and
    /// `consolidation`.
    pub min: u16,
    pub max: u16,
    pub valid_from: Option<NaiveDate>,
    /// Exclusive.
    pub valid_to: Option<NaiveDate>,
}

impl Link {
    pub fn min_percent(&self) -> f64 {
        f64::from(self.min) / 100.0
    }

    pub fn max_percent(&self) -> f64 {
        f64::from(self.max) / 100.0
    }
}

/// A synthetic sanctions list.
pub struct ListSpec {
    pub id: &'static str,
    pub name: &'static str,
    /// EU-style entry ids ("EU.1234.56") rather than SDN-style numbers.
    eu_style: bool,
}

impl ListSpec {
    pub fn entry_id(&self, number: u32) -> String {
        if self.eu_style {
            format!("EU.{}.{:02}", number / 100, number % 100)
        } else {
            number.to_string()
        }
    }
}

pub const LISTS: [ListSpec; 2] = [
    ListSpec {
        id: "synthetic-sdn",
        name: "Synthetic SDN List",
        eu_style: false,
    },
    ListSpec {
        id: "synthetic-eu",
        name: "Synthetic EU Consolidated List",
        eu_style: true,
    },
];

/// A designation of an entity by an entry of one of [`LISTS`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Listing {
    pub entity: u32,
    /// Index into [`LISTS`].
    pub list: usize,
    /// The entry's number on its list; see [`Listing::entry_id`].
    pub entry: u32,
    pub program: &'static str,
    pub listed_on: NaiveDate,
    /// Exclusive.
    pub delisted_on: Option<NaiveDate>,
}

impl Listing {
    pub fn entry_id(&self) -> String {
        LISTS[self.list].entry_id(self.entry)
    }

    pub fn active_at(&self, d: NaiveDate) -> bool {
        self.listed_on <= d && self.delisted_on.is_none_or(|t| d < t)
    }
}

/// The id of the entity at index `ix`: `e0000123`.
pub fn entity_id(ix: u32) -> String {
    format!("e{ix:07}")
}

/// A generated registry. Entity `ix` has id [`entity_id`]`(ix)`.
#[derive(PartialEq)]
pub struct Registry {
    entities: Vec<Entity>,
    /// Every name, end to end; `name_ends[ix]` is where entity `ix`'s name ends.
    names: String,
    name_ends: Vec<u32>,
    links: Vec<Link>,
    listings: Vec<Listing>,
}

impl Registry {
    pub fn generate(config: &Config) -> Self {
        Gen::new(config).run()
    }

    pub fn entities(&self) -> &[Entity] {
        &self.entities
    }

    pub fn links(&self) -> &[Link] {
        &self.links
    }

    pub fn listings(&self) -> &[Listing] {
        &self.listings
    }

    pub fn name(&self, ix: u32) -> &str {
        let ix = ix as usize;
        let start = if ix == 0 { 0 } else { self.name_ends[ix - 1] };
        &self.names[start as usize..self.name_ends[ix] as usize]
    }

    /// The registration number of a company, partnership or fund. Multiplying the index by
    /// an odd constant not divisible by 5 permutes 0..10^8, so numbers are unique and look
    /// random.
    pub fn registration_number(&self, ix: u32) -> Option<String> {
        let registered = matches!(
            self.entities[ix as usize].kind,
            EntityKind::Company | EntityKind::Partnership | EntityKind::Fund
        );
        registered.then(|| format!("{:08}", (u64::from(ix) * 2_654_435_761) % 100_000_000))
    }

    /// How many entities an active listing designates at `d`.
    pub fn listed_at(&self, d: NaiveDate) -> usize {
        let mut listed: Vec<u32> = self
            .listings
            .iter()
            .filter(|l| l.active_at(d))
            .map(|l| l.entity)
            .collect();
        listed.sort_unstable();
        listed.dedup();
        listed.len()
    }

    /// The registry as an in-memory graph, as the service would load it from the store.
    /// List keys, entry keys and edge keys are positions plus one, where the store would use
    /// its primary keys.
    pub fn snapshot(&self) -> Snapshot {
        let mut b = BaseBuilder::with_capacity(self.entities.len(), self.links.len());
        for (ix, e) in (0u32..).zip(&self.entities) {
            // Ids are unique, so node indices are entity indices and links can skip lookups.
            let node = b.add_node(NodeData {
                key: i64::from(ix) + 1,
                id: entity_id(ix).into(),
                name: self.name(ix).into(),
                kind: e.kind,
                jurisdiction: e.jurisdiction,
                headquarters: e.headquarters,
            });
            debug_assert_eq!(node, ix);
        }
        for (key, l) in (1..).zip(&self.links) {
            let data = EdgeData {
                key,
                interest: l.interest,
                min: l.min_percent(),
                max: l.max_percent(),
                valid_from: l.valid_from,
                valid_to: l.valid_to,
            };
            b.add_link_ix(l.owner, l.owned, data);
        }
        for (key, spec) in (1..).zip(&LISTS) {
            b.add_list(ListMeta {
                key,
                id: spec.id.into(),
                name: spec.name.into(),
                active: true,
            });
        }
        for (key, l) in (1..).zip(&self.listings) {
            let listing = engine::Listing {
                list: l.list as i64 + 1,
                entry_key: key,
                entry_id: l.entry_id().into(),
                listed_on: Some(l.listed_on),
                delisted_on: l.delisted_on,
            };
            b.add_listing(&entity_id(l.entity), listing)
                .unwrap_or_else(|_| unreachable!("listings designate generated entities"));
        }
        b.finish(1)
    }

    /// The targets the benchmarks screen (`docs/benchmarks.md`): [`SAMPLE`] entities drawn
    /// uniformly, with repeats, then [`SAMPLE`] of those at least [`DEEP`] links below their
    /// top owner (all of them if there are fewer), in random order. Benchmarks seed `rng` with
    /// [`SAMPLE_SEED`], so that they screen the same targets and their figures compare.
    pub fn samples(&self, rng: &mut ChaCha8Rng) -> (Vec<u32>, Vec<u32>) {
        let n = self.entities.len() as u32;
        let random = (0..SAMPLE).map(|_| rng.gen_range(0..n)).collect();
        let mut deep: Vec<u32> = (0..n)
            .filter(|&ix| self.entities[ix as usize].level >= DEEP)
            .collect();
        deep.shuffle(rng);
        deep.truncate(SAMPLE);
        (random, deep)
    }

    /// A joint venture of joint ventures, `depth` levels deep: the case that defeats anything
    /// that enumerates ownership paths. At the top two persons, the first designated on the
    /// first of [`LISTS`]; below them `depth` levels of two British companies, each held 50/50
    /// by the two entities of the level above; at the bottom, the last entity, one company held
    /// 50/50 by the two of the last level. 2^(depth+1) simple paths lead from the persons to
    /// the bottom company, in which each person's effective share is exactly 50%.
    pub fn lattice(depth: u8) -> Registry {
        let gb = Jurisdiction::parse("GB").unwrap_or_else(|_| unreachable!("an ISO code"));
        let ru = Jurisdiction::parse("RU").unwrap_or_else(|_| unreachable!("an ISO code"));
        let mut out = Registry {
            entities: Vec::new(),
            names: String::new(),
            name_ends: Vec::new(),
            links: Vec::new(),
            listings: Vec::new(),
        };
        let mut add = |name: &str, entity: Entity| {
            out.names.push_str(name);
            out.name_ends.push(out.names.len() as u32);
            out.entities.push(entity);
        };
        let person = |nationality| Entity {
            kind: EntityKind::Person,
            jurisdiction: Some(nationality),
            headquarters: None,
            level: 0,
            group: None,
        };
        // The first company of the first level stands for the group's parent.
        let company = |level| Entity {
            kind: EntityKind::Company,
            jurisdiction: Some(gb),
            headquarters: Some(gb),
            level,
            group: Some(2),
        };
        add("Viktor Sergeevich Orlov", person(ru));
        add("Margaret Ellen Hughes", person(gb));
        for level in 1..=depth {
            for side in ['A', 'B'] {
                add(
                    &format!("Lattice Holdings {level}{side} Limited"),
                    company(level),
                );
            }
        }
        add("Lattice Operating Company Limited", company(depth + 1));
        let bottom = out.entities.len() as u32 - 1;
        for level in 0..=u32::from(depth) {
            let owners = [2 * level, 2 * level + 1];
            let owned = if level == u32::from(depth) {
                vec![bottom]
            } else {
                owners.iter().map(|o| o + 2).collect()
            };
            for &owned in &owned {
                for &owner in &owners {
                    out.links.push(Link {
                        owner,
                        owned,
                        interest: Interest::Shares,
                        min: ALL / 2,
                        max: ALL / 2,
                        valid_from: None,
                        valid_to: None,
                    });
                }
            }
        }
        out.listings.push(Listing {
            entity: 0,
            list: 0,
            entry: 10_001,
            program: "RUSSIA-EO14024",
            listed_on: ymd(2022, 2, 24),
            delisted_on: None,
        });
        out
    }
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_else(|| unreachable!("a valid calendar date"))
}

/// The last day any generated date falls on, so that "active today" never changes.
fn horizon() -> NaiveDate {
    ymd(2025, 6, 30)
}

/// PSC-style band of an exact share: the register says "more than 50% but not more than
/// 75%" rather than 60%.
fn band(share: u16) -> (u16, u16) {
    match share {
        7_501.. => (7_500, ALL),
        5_001.. => (5_000, 7_500),
        2_501.. => (2_500, 5_000),
        _ => (share, share),
    }
}

/// The corporate group being built.
struct Group<'a> {
    /// Its parent company, once made.
    parent: Option<u32>,
    home: u8,
    brand: &'a str,
}

fn pick(rng: &mut ChaCha8Rng, from: &[u32]) -> Option<u32> {
    (!from.is_empty()).then(|| from[rng.gen_range(0..from.len())])
}

/// The generator's state while it runs.
struct Gen {
    rng: ChaCha8Rng,
    n: usize,
    places: Places,
    words: Names,
    out: Registry,
    /// Per entity: its group's home country (a person's nationality), for names and for how
    /// likely it is to be listed.
    home: Vec<u8>,
    /// Per entity: the known minimum shares held in it by open-ended links, in hundredths of
    /// a percent. Links with an end date belong to a period before every open-ended link
    /// into the same entity began, so they never add to this.
    held: Vec<u16>,
    persons: Vec<u32>,
    persons_by_home: Vec<Vec<u32>>,
    funds: Vec<u32>,
    governments: Vec<Option<u32>>,
    /// Parents of finished groups of five or more with no cross-holding: they take joint
    /// venture and minority stakes in other groups. Their own owners are top owners, so a
    /// chain through them stays within [`MAX_LEVEL`].
    partners: Vec<u32>,
    /// Parents of groups with subsidiaries, candidates for a listing that taints a group.
    parents: Vec<u32>,
    /// Great Britain, whose registry reports persons' holdings in bands.
    gb: Jurisdiction,
    /// The group being built: its companies, each one's parent (a position in `members`) and
    /// the country it is registered in.
    members: Vec<(u32, u32, u8)>,
}

impl Gen {
    fn new(config: &Config) -> Self {
        let places = Places::new();
        Self {
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            n: config.entities,
            gb: places.codes[places::index_of("GB") as usize],
            places,
            words: Names::new(),
            out: Registry {
                entities: Vec::with_capacity(config.entities),
                names: String::with_capacity(config.entities * 32),
                name_ends: Vec::with_capacity(config.entities),
                links: Vec::with_capacity(config.entities * 6 / 5),
                listings: Vec::new(),
            },
            home: Vec::with_capacity(config.entities),
            held: Vec::with_capacity(config.entities),
            persons: Vec::new(),
            persons_by_home: vec![Vec::new(); COUNTRIES.len()],
            funds: Vec::new(),
            governments: vec![None; COUNTRIES.len()],
            partners: Vec::new(),
            parents: Vec::new(),
            members: Vec::new(),
        }
    }

    fn run(mut self) -> Registry {
        // State holders and funds are few and own much; a tiny registry would be all of them.
        if self.n >= 10_000 {
            self.add_governments();
        }
        self.add_funds(self.n / 500);
        while self.room() > 0 {
            self.group();
        }
        self.designate();
        self.out
    }

    fn room(&self) -> usize {
        self.n - self.out.entities.len()
    }

    fn unit(&mut self) -> f64 {
        self.rng.gen_range(0.0..1.0)
    }

    fn date(&mut self, from: NaiveDate, to: NaiveDate) -> NaiveDate {
        let days = (to - from).num_days();
        from + TimeDelta::days(self.rng.gen_range(0..=days))
    }

    /// Adds an entity whose name `name` writes into the arena.
    fn add(
        &mut self,
        entity: Entity,
        home: u8,
        name: impl FnOnce(&Names, &mut ChaCha8Rng, &mut String),
    ) -> u32 {
        let ix = self.out.entities.len() as u32;
        name(&self.words, &mut self.rng, &mut self.out.names);
        self.out.name_ends.push(self.out.names.len() as u32);
        self.out.entities.push(entity);
        self.home.push(home);
        self.held.push(0);
        ix
    }

    fn link(&mut self, owner: u32, owned: u32, interest: Interest, (min, max): (u16, u16)) {
        self.link_during(owner, owned, interest, (min, max), None, None);
    }

    fn link_during(
        &mut self,
        owner: u32,
        owned: u32,
        interest: Interest,
        (min, max): (u16, u16),
        valid_from: Option<NaiveDate>,
        valid_to: Option<NaiveDate>,
    ) {
        if interest == Interest::Shares && valid_to.is_none() {
            let held = &mut self.held[owned as usize];
            debug_assert!(*held + min <= ALL, "shares held in {owned} pass 100%");
            *held += min;
        }
        self.out.links.push(Link {
            owner,
            owned,
            interest,
            min,
            max,
            valid_from,
            valid_to,
        });
    }

    fn add_governments(&mut self) {
        for code in places::STATE_OWNERS {
            let country = places::index_of(code);
            let j = self.places.codes[country as usize];
            let label = self.places.country(country).label;
            let entity = Entity {
                kind: EntityKind::Government,
                jurisdiction: Some(j),
                headquarters: Some(j),
                level: 0,
                group: None,
            };
            let ix = self.add(entity, country, |w, rng, out| w.government(rng, label, out));
            self.governments[country as usize] = Some(ix);
        }
    }

    fn add_funds(&mut self, count: usize) {
        let mut brand = String::new();
        for _ in 0..count {
            let j = self.places.fund_domicile(&mut self.rng);
            let country = self.places.index(j);
            let form = if COUNTRIES[country as usize].code == "LU" {
                "SCSp"
            } else {
                "LP"
            };
            brand.clear();
            self.words
                .brand(&mut self.rng, names::Region::Anglo, &mut brand);
            let entity = Entity {
                kind: EntityKind::Fund,
                jurisdiction: Some(j),
                headquarters: None,
                level: 0,
                group: None,
            };
            let ix = self.add(entity, country, |w, rng, out| {
                w.fund(rng, &brand, form, out)
            });
            self.funds.push(ix);
        }
    }

    /// A person of country `home`: often someone who already owns a company (serial
    /// founders), else a new person. `None` only when the registry is full and has nobody
    /// to reuse.
    fn person(&mut self, home: u8) -> Option<u32> {
        let full = self.room() == 0;
        if full || self.rng.gen_bool(0.2) {
            let mut pool = &self.persons_by_home[home as usize];
            if pool.is_empty() && full {
                pool = &self.persons;
            }
            if !pool.is_empty() || full {
                return pick(&mut self.rng, pool);
            }
        }
        let nationality = if self.rng.gen_bool(0.9) {
            home
        } else {
            self.places.draw_home(&mut self.rng)
        };
        let x = self.unit();
        let residence = if x < 0.6 {
            Some(nationality)
        } else if x < 0.85 {
            None
        } else {
            Some(self.places.residence_abroad(nationality, &mut self.rng))
        };
        let entity = Entity {
            kind: EntityKind::Person,
            jurisdiction: Some(self.places.codes[nationality as usize]),
            headquarters: residence.map(|r| self.places.codes[r as usize]),
            level: 0,
            group: None,
        };
        let region = self.places.country(nationality).region;
        let ix = self.add(entity, nationality, |w, rng, out| {
            w.person(rng, region, out)
        });
        self.persons.push(ix);
        self.persons_by_home[nationality as usize].push(ix);
        Some(ix)
    }

    /// A company of group `g`, registered in `country` at `jurisdiction`.
    fn company(
        &mut self,
        g: &Group,
        country: u8,
        jurisdiction: Jurisdiction,
        level: u8,
        role: Role,
    ) -> u32 {
        let home = g.home;
        let c = self.places.country(country);
        let partnership =
            role == Role::Subsidiary && !c.partnership.is_empty() && self.rng.gen_bool(0.03);
        let (kind, form) = if partnership {
            (EntityKind::Partnership, c.partnership)
        } else if self.rng.gen_bool(0.6) {
            (EntityKind::Company, c.forms[0])
        } else {
            let i = self.rng.gen_range(0..c.forms.len());
            (EntityKind::Company, c.forms[i])
        };
        let headquarters = self.headquarters(home, country);
        let abroad = role == Role::Subsidiary && country != home && self.rng.gen_bool(0.5);
        let name = CompanyName {
            brand: g.brand,
            role,
            registered_in: c.region,
            abroad: abroad.then_some(c.label),
            form,
            form_first: c.form_first,
        };
        let entity = Entity {
            kind,
            jurisdiction: Some(jurisdiction),
            headquarters,
            level,
            group: Some(g.parent.unwrap_or(self.out.entities.len() as u32)),
        };
        self.add(entity, home, |w, rng, out| w.company(rng, &name, out))
    }

    /// Offshore and holding-hub companies of a foreign group are mostly run from the group's
    /// home; elsewhere the data gives the local office about half the time.
    fn headquarters(&mut self, home: u8, country: u8) -> Option<Jurisdiction> {
        let hub = self.places.country(country).hub;
        let from_home = country != home
            && match hub {
                Hub::Offshore => self.rng.gen_bool(0.8),
                Hub::Conduit => self.rng.gen_bool(0.5),
                Hub::Onshore => false,
            };
        if from_home {
            Some(self.places.office(home, &mut self.rng))
        } else if hub != Hub::Offshore && self.rng.gen_bool(0.55) {
            Some(self.places.office(country, &mut self.rng))
        } else {
            None
        }
    }

    /// A group size from the Zipf law, by inverting its tail P(size ≥ s) = s^-ALPHA.
    fn group_size(&mut self) -> usize {
        let cap = (self.n / 100).clamp(1, 20_000);
        let u: f64 = self.rng.gen_range(f64::EPSILON..1.0);
        (u.powf(-1.0 / ALPHA) as usize).clamp(1, cap)
    }

    fn group(&mut self) {
        let home = self.places.draw_home(&mut self.rng);
        let size = self.group_size().min(self.room());
        let cyclic = size >= 3 && self.rng.gen_bool(CYCLIC);
        let mut brand = String::new();
        let region = self.places.country(home).region;
        self.words.brand(&mut self.rng, region, &mut brand);

        let abroad = if size > 1 {
            self.places.holding_abroad(home, &mut self.rng)
        } else {
            None
        };
        let (country, jurisdiction) = match abroad {
            Some(j) => (self.places.index(j), j),
            None => (home, self.places.register(home, &mut self.rng)),
        };
        let role = if size > 1 {
            Role::Parent
        } else {
            Role::Standalone
        };
        let mut g = Group {
            parent: None,
            home,
            brand: &brand,
        };
        let parent = self.company(&g, country, jurisdiction, 1, role);
        g.parent = Some(parent);
        self.top_owners(parent, home, size, cyclic);

        self.members.clear();
        self.members.push((parent, u32::MAX, country));
        while self.members.len() < size && self.room() > 0 {
            let at = self.pick_parent();
            let (owner, _, owner_country) = self.members[at];
            let x = self.unit();
            let country = if x < 0.62 {
                home
            } else if x < 0.75 {
                owner_country
            } else {
                self.places.draw_abroad(&mut self.rng)
            };
            let jurisdiction = self.places.register(country, &mut self.rng);
            let level = self.out.entities[owner as usize].level + 1;
            let child = self.company(&g, country, jurisdiction, level, Role::Subsidiary);
            self.shareholders(child, owner, parent, home);
            self.members.push((child, at as u32, country));
        }
        if cyclic {
            self.cross_holding(parent);
        }
        if self.members.len() >= 5 && !cyclic {
            self.partners.push(parent);
        }
        if self.members.len() >= 2 {
            self.parents.push(parent);
        }
    }

    /// Where the next subsidiary hangs: half the time under a random member (deep chains),
    /// half under the parent of a random member (hubs), never below [`MAX_LEVEL`].
    fn pick_parent(&mut self) -> usize {
        let k = self.members.len();
        let mut at = self.rng.gen_range(0..k);
        if at > 0 && self.rng.gen_bool(0.5) {
            at = self.members[at].1 as usize;
        }
        while self.out.entities[self.members[at].0 as usize].level >= MAX_LEVEL {
            at = self.members[at].1 as usize;
        }
        at
    }

    /// Who owns a group's parent. A cyclic group's owners leave 10% for the cross-holding.
    fn top_owners(&mut self, parent: u32, home: u8, size: usize, cyclic: bool) {
        let room = if cyclic { 9_000 } else { ALL };
        let government = self.governments[home as usize];
        let x = self.unit();
        if size >= 50 {
            if x < 0.40 {
                self.dispersed(parent, room);
            } else if let (true, Some(state)) = (x < 0.55, government) {
                let share = [5_100, 6_000, 7_500, ALL][self.rng.gen_range(0..4)].min(room);
                self.link(state, parent, Interest::Shares, (share, share));
                self.dispersed(parent, room - share);
            } else if x < 0.65 {
                self.trust(parent, home, room);
            } else {
                self.founders(parent, home, room, true);
            }
        } else if let (true, Some(state)) = (x < 0.03, government) {
            self.link(state, parent, Interest::Shares, (room, room));
        } else if x < 0.06 {
            // No known owner: bearer shares, a listed company with no large holder, or a
            // register that does not say.
        } else if x < 0.10 {
            self.trust(parent, home, room);
        } else {
            self.founders(parent, home, room, false);
        }
    }

    /// A large company whose shares are spread out: funds hold 3–10% each.
    fn dispersed(&mut self, parent: u32, room: u16) {
        let mut room = room;
        for _ in 0..self.rng.gen_range(1..=4) {
            let share = self.rng.gen_range(300..1_000).min(room);
            let Some(fund) = self.pick_fund() else { return };
            if share == 0 {
                return;
            }
            self.link(fund, parent, Interest::Shares, (share, share));
            room -= share;
        }
    }

    /// Funds are picked with a strong bias to the first ones: a few asset managers hold stakes
    /// in a large share of groups.
    fn pick_fund(&mut self) -> Option<u32> {
        if self.funds.is_empty() {
            return None;
        }
        let u = self.unit();
        Some(self.funds[(u * u * u * self.funds.len() as f64) as usize])
    }

    /// A family trust owns the parent; its settlor controls the trust.
    fn trust(&mut self, parent: u32, home: u8, room: u16) {
        if self.room() == 0 {
            return self.founders(parent, home, room, false);
        }
        let j = if self.rng.gen_bool(0.3) {
            self.places.codes[home as usize]
        } else {
            self.places.trust_domicile(&mut self.rng)
        };
        let region = self.places.country(home).region;
        let family = self.words.family(&mut self.rng, region);
        let entity = Entity {
            kind: EntityKind::Trust,
            jurisdiction: Some(j),
            headquarters: None,
            level: 0,
            group: None,
        };
        let trust = self.add(entity, home, |w, rng, out| w.trust(rng, family, out));
        self.link(trust, parent, Interest::Shares, (room, room));
        if let Some(settlor) = self.person(home) {
            self.link(settlor, trust, Interest::Control, (0, 0));
        }
    }

    /// Founders and families. British companies report bands more often than exact shares.
    fn founders(&mut self, parent: u32, home: u8, room: u16, large: bool) {
        let x = self.unit();
        let mut shares: Vec<u16> = if large {
            vec![self.rng.gen_range(15..=60) * 100]
        } else if x < 0.55 {
            vec![ALL]
        } else if x < 0.75 {
            if self.rng.gen_bool(0.6) {
                vec![5_000, 5_000]
            } else {
                vec![6_000, 4_000]
            }
        } else if x < 0.85 {
            if self.rng.gen_bool(0.5) {
                vec![4_000, 3_000, 3_000]
            } else {
                vec![3_400, 3_300, 3_300]
            }
        } else if x < 0.93 {
            let major = self.rng.gen_range(70..=95) * 100;
            vec![major, ALL - major]
        } else {
            vec![self.rng.gen_range(51..=90) * 100]
        };
        for s in &mut shares {
            *s = (u32::from(*s) * u32::from(room) / u32::from(ALL)) as u16;
        }
        let british = self.out.entities[parent as usize]
            .jurisdiction
            .is_some_and(|j| j.country() == self.gb);
        let bands = british && self.rng.gen_bool(0.7);
        let mut used = 0;
        for (i, &share) in shares.iter().enumerate() {
            let Some(founder) = self.person(home) else {
                return;
            };
            let stake = if bands { band(share) } else { (share, share) };
            self.link(founder, parent, Interest::Shares, stake);
            used += stake.0;
            // Dual-class shares: the founder of a large group keeps control with few shares.
            if large && i == 0 && self.rng.gen_bool(0.3) {
                let votes = self.rng.gen_range(51..=70) * 100;
                self.link(founder, parent, Interest::Votes, (votes, votes));
            }
        }
        if large {
            self.dispersed(parent, room - used);
        }
    }

    /// The holders of a new subsidiary `child` of `owner`, in a group whose parent is `top`.
    fn shareholders(&mut self, child: u32, owner: u32, top: u32, home: u8) {
        // Some subsidiaries changed hands: the previous holder's link ends the day every
        // current link begins, so the two periods never add up.
        let x = self.unit();
        let since = if x < 0.025 {
            let t = self.date(ymd(2005, 1, 1), horizon());
            let previous = if self.rng.gen_bool(0.5) {
                pick(&mut self.rng, &self.partners)
            } else {
                self.person(home)
            };
            if let Some(p) = previous {
                let from = self
                    .rng
                    .gen_bool(0.5)
                    .then(|| self.date(ymd(1990, 1, 1), t - TimeDelta::days(1)));
                self.link_during(p, child, Interest::Shares, (ALL, ALL), from, Some(t));
            }
            Some(t)
        } else if x < 0.08 {
            // Acquired or incorporated on a known date.
            Some(self.date(ymd(1990, 1, 1), horizon()))
        } else {
            None
        };
        let held = |g: &mut Self, holder: u32, stake: (u16, u16)| {
            g.link_during(holder, child, Interest::Shares, stake, since, None);
        };
        let x = self.unit();
        if x < 0.80 {
            held(self, owner, (ALL, ALL));
        } else if x < 0.87 {
            let share = self.rng.gen_range(51..=95) * 100;
            held(self, owner, (share, share));
            self.minority(child, home, ALL - share, since, true);
        } else if x < 0.94 {
            // A joint venture with another group, 60/40 or 50/50.
            let share = if x < 0.91 { 6_000 } else { 5_000 };
            held(self, owner, (share, share));
            let partner = self.partner(home);
            if let Some(p) = partner {
                held(self, p, (ALL - share, ALL - share));
            }
        } else if x < 0.97 {
            // Managers hold a few percent each.
            let share = self.rng.gen_range(70..=90) * 100;
            held(self, owner, (share, share));
            self.minority(child, home, ALL - share, since, false);
        } else {
            // A filing that gives only a band.
            let stake = if self.rng.gen_bool(0.5) {
                (5_000, 7_500)
            } else {
                (7_500, ALL)
            };
            held(self, owner, stake);
        }
        let x = self.unit();
        if x < 0.004 {
            // A nominee arrangement: someone else appoints the board.
            if let Some(p) = self.person(home) {
                self.link(p, child, Interest::Board, (0, 0));
            }
        } else if x < 0.007 {
            if let Some(p) = self.partner(home) {
                self.link(p, child, Interest::Control, (0, 0));
            }
        } else if x < 0.05 && owner != top {
            self.link(top, child, Interest::Consolidation, (0, 0));
        }
    }

    /// Another group's parent, a fund or a person, to hold a stake beside a group.
    fn partner(&mut self, home: u8) -> Option<u32> {
        let x = self.unit();
        if x < 0.7 && !self.partners.is_empty() {
            pick(&mut self.rng, &self.partners)
        } else if x < 0.85 {
            self.pick_fund().or_else(|| self.person(home))
        } else {
            self.person(home)
        }
    }

    /// Up to three minority stakes of 5–30% within `room`; from persons only for managers.
    fn minority(
        &mut self,
        child: u32,
        home: u8,
        mut room: u16,
        since: Option<NaiveDate>,
        investors: bool,
    ) {
        for _ in 0..3 {
            if room < 500 {
                return;
            }
            let share = self.rng.gen_range(500..=room.min(3_000));
            let holder = if investors {
                self.partner(home)
            } else {
                self.person(home)
            };
            let Some(h) = holder else { return };
            self.link_during(h, child, Interest::Shares, (share, share), since, None);
            room -= share;
        }
    }

    /// A subsidiary holds 2–10% of its own group's parent.
    fn cross_holding(&mut self, parent: u32) {
        if self.members.len() < 2 {
            return;
        }
        let at = self.rng.gen_range(1..self.members.len());
        let holder = self.members[at].0;
        let room = ALL - self.held[parent as usize];
        let share = self.rng.gen_range(200..=1_000).min(room);
        if share > 0 {
            self.link(holder, parent, Interest::Shares, (share, share));
        }
    }

    /// Designates about [`LISTED`] of the entities, drawn by their country's risk: a third
    /// persons, a quarter group parents, the rest any entity.
    fn designate(&mut self) {
        let target = (self.n as f64 * LISTED).round() as usize;
        let max_risk = COUNTRIES.iter().map(|c| c.risk).fold(0.0, f64::max);
        let mut listed = vec![false; self.n];
        let mut count = 0;
        let mut numbers = [10_000u32, 1_000];
        // Bounded, in case the registry holds too few risky entities to reach the target.
        for _ in 0..target.saturating_mul(5_000) {
            if count >= target {
                break;
            }
            let x = self.unit();
            let candidate = if x < 0.35 && !self.persons.is_empty() {
                self.persons[self.rng.gen_range(0..self.persons.len())]
            } else if x < 0.60 && !self.parents.is_empty() {
                self.parents[self.rng.gen_range(0..self.parents.len())]
            } else {
                self.rng.gen_range(0..self.n as u32)
            };
            let risk = COUNTRIES[self.home[candidate as usize] as usize].risk;
            if listed[candidate as usize] || !self.rng.gen_bool(risk / max_risk) {
                continue;
            }
            listed[candidate as usize] = true;
            count += 1;
            let (program, from, to) = self.program(candidate);
            let listed_on = self.date(from, to);
            let delisted_on = self
                .rng
                .gen_bool(0.03)
                .then(|| listed_on + TimeDelta::days(self.rng.gen_range(365..1_500)))
                .filter(|&d| d <= horizon());
            let sdn = self.rng.gen_bool(0.85);
            let eu = !sdn || self.rng.gen_bool(0.35);
            for (list, on) in [(0, sdn), (1, eu)] {
                if on {
                    numbers[list] += self.rng.gen_range(1..40);
                    self.out.listings.push(Listing {
                        entity: candidate,
                        list,
                        entry: numbers[list],
                        program,
                        listed_on,
                        delisted_on,
                    });
                }
            }
        }
    }

    /// The sanctions programme an entity would be listed under, and when.
    fn program(&mut self, entity: u32) -> (&'static str, NaiveDate, NaiveDate) {
        let code = COUNTRIES[self.home[entity as usize] as usize].code;
        let x = self.unit();
        let end = horizon();
        match code {
            "RU" if x < 0.7 => ("RUSSIA-EO14024", ymd(2022, 2, 24), end),
            "RU" => ("UKRAINE-EO13662", ymd(2014, 3, 17), ymd(2021, 12, 31)),
            "BY" => ("BELARUS-EO14038", ymd(2021, 8, 9), end),
            "IR" if x < 0.5 => ("IRAN", ymd(2012, 1, 1), end),
            "IR" if x < 0.75 => ("IFSR", ymd(2012, 1, 1), end),
            "IR" => ("SDGT", ymd(2012, 1, 1), end),
            "KP" => ("DPRK3", ymd(2016, 3, 2), end),
            "SY" => ("SYRIA", ymd(2011, 5, 18), end),
            "CU" => ("CUBA", ymd(1995, 1, 1), ymd(2020, 12, 31)),
            "VE" => ("VENEZUELA-EO13850", ymd(2018, 11, 1), end),
            "CN" | "HK" | "MO" if x < 0.3 => ("CMIC-EO13959", ymd(2021, 6, 3), end),
            "CN" | "HK" | "MO" if x < 0.7 => ("RUSSIA-EO14024", ymd(2022, 2, 24), end),
            "CN" | "HK" | "MO" => ("IRAN", ymd(2015, 1, 1), end),
            _ if x < 0.5 => ("RUSSIA-EO14024", ymd(2022, 2, 24), end),
            _ if x < 0.7 => ("SDGT", ymd(2002, 1, 1), end),
            _ if x < 0.85 => ("IRAN", ymd(2012, 1, 1), end),
            _ if x < 0.95 => ("CYBER2", ymd(2016, 1, 1), end),
            _ => ("GLOMAG", ymd(2018, 1, 1), end),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EntityId, Name};
    use petgraph::graph::NodeIndex;

    fn registry(seed: u64) -> Registry {
        Registry::generate(&Config {
            entities: 20_000,
            seed,
        })
    }

    /// The largest total of known minimum shares (or votes) held in one entity at any date.
    /// The total only rises where a link starts, so it peaks at a start date or before all.
    fn peak(links: &[&Link]) -> u32 {
        let mut starts: Vec<Option<NaiveDate>> = links.iter().map(|l| l.valid_from).collect();
        starts.push(None);
        starts
            .iter()
            .map(|&d| {
                links
                    .iter()
                    .filter(|l| {
                        let begun = match (l.valid_from, d) {
                            (None, _) => true,
                            (Some(f), Some(d)) => f <= d,
                            (Some(_), None) => false,
                        };
                        let ended = matches!((l.valid_to, d), (Some(t), Some(d)) if d >= t);
                        begun && !ended
                    })
                    .map(|l| u32::from(l.min))
                    .sum()
            })
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn a_seed_gives_one_registry_and_another_seed_another() {
        let a = registry(7);
        assert!(a == registry(7), "same seed, same registry");
        assert!(a != registry(8), "another seed, another registry");
        assert_eq!(a.entities().len(), 20_000);
    }

    #[test]
    fn a_registry_has_the_shape_and_invariants_the_store_requires() {
        let r = registry(42);
        let n = r.entities().len();
        assert_eq!(n, 20_000);

        // Known minimum shares and votes into any entity never pass 100% at any date.
        let mut into: Vec<Vec<&Link>> = vec![Vec::new(); n];
        for l in r.links() {
            assert_ne!(l.owner, l.owned, "no entity owns itself");
            assert!(l.min <= l.max && l.max <= ALL);
            assert_eq!(l.interest.is_quantified(), l.min > 0);
            into[l.owned as usize].push(l);
        }
        for links in &into {
            for interest in [Interest::Shares, Interest::Votes] {
                let of: Vec<&Link> = links
                    .iter()
                    .copied()
                    .filter(|l| l.interest == interest)
                    .collect();
                assert!(peak(&of) <= u32::from(ALL), "{of:?}");
            }
        }

        // Cross-holdings aside, every link runs from a lower level to a higher one, so no
        // chain is longer than MAX_LEVEL.
        let level = |ix: u32| r.entities()[ix as usize].level;
        let upward = r
            .links()
            .iter()
            .filter(|l| level(l.owner) >= level(l.owned))
            .collect::<Vec<_>>();
        assert!(upward.iter().all(|l| l.interest == Interest::Control
            || (l.interest == Interest::Shares && level(l.owned) == 1)));
        assert!(r.entities().iter().all(|e| e.level <= MAX_LEVEL));

        // Some cross-holdings make cycles.
        let mut g = petgraph::graph::DiGraph::<(), ()>::with_capacity(n, r.links().len());
        for _ in 0..n {
            g.add_node(());
        }
        for l in r.links().iter().filter(|l| l.interest == Interest::Shares) {
            let (o, d) = (l.owner as usize, l.owned as usize);
            g.add_edge(NodeIndex::new(o), NodeIndex::new(d), ());
        }
        let cycles = petgraph::algo::tarjan_scc(&g)
            .iter()
            .filter(|c| c.len() > 1)
            .count();
        assert!(cycles >= 3, "{cycles} cycles");

        // About 0.5% listed, and some of them group parents.
        let listed = r.listed_at(horizon());
        assert!((60..=110).contains(&listed), "{listed} listed");
        let listed_parents = r
            .listings()
            .iter()
            .filter(|l| r.entities()[l.entity as usize].level == 1)
            .count();
        assert!(listed_parents > 5, "{listed_parents} listed parents");

        // Zipf group sizes: most companies stand alone, and the largest groups come near the
        // size cap (1% of the registry).
        let mut sizes = vec![0usize; n];
        for g in r.entities().iter().filter_map(|e| e.group) {
            sizes[g as usize] += 1;
        }
        let groups = sizes.iter().filter(|&&s| s > 0).count();
        let single = sizes.iter().filter(|&&s| s == 1).count();
        assert!(
            single * 2 > groups && single * 4 < groups * 3,
            "{single} of {groups}"
        );
        let largest = sizes.iter().max().copied().unwrap_or(0);
        assert!(
            largest >= n / 200 && largest <= n / 100,
            "largest group {largest}"
        );

        // Persons at the tops, chains within the bound, stakes of each kind.
        let persons = r
            .entities()
            .iter()
            .filter(|e| e.kind == EntityKind::Person)
            .count();
        assert!(persons > n / 5 && persons < n / 2, "{persons} persons");
        let share = |l: &&Link| l.interest == Interest::Shares;
        let whole = r
            .links()
            .iter()
            .filter(share)
            .filter(|l| l.min == ALL)
            .count();
        let ranges = r.links().iter().filter(|l| l.min != l.max).count();
        let dated = r.links().iter().filter(|l| l.valid_to.is_some()).count();
        let total = r.links().iter().filter(share).count();
        assert!(whole * 2 > total, "{whole} of {total} wholly owned");
        assert!(ranges > 0 && dated > 0);

        // What the store and the API would accept.
        for ix in 0..n as u32 {
            assert!(entity_id(ix).parse::<EntityId>().is_ok());
            assert!(Name::parse(r.name(ix)).is_ok(), "{:?}", r.name(ix));
        }
        assert_eq!(r.snapshot().entity_count(), n);
    }

    #[test]
    fn the_lattice_blocks_its_bottom_company_through_a_listed_half_and_explains_it() {
        let depth = 20;
        let r = Registry::lattice(depth);
        assert_eq!(r.entities().len(), 2 * usize::from(depth) + 3);
        assert_eq!(r.links().len(), 4 * usize::from(depth) + 2);
        for ix in 0..r.entities().len() as u32 {
            assert!(Name::parse(r.name(ix)).is_ok(), "{:?}", r.name(ix));
        }

        let snap = r.snapshot();
        let bottom = r.entities().len() as u32 - 1;
        let rules = crate::domain::PolicySpec::contract_example().rules;
        let o = engine::sweep::explain(&snap, &rules, ymd(2025, 7, 1), bottom);
        assert_eq!(o.decision, crate::domain::Decision::Block);
        let ofac = &o.reasons[0];
        assert_eq!(ofac.rule, "ofac-50");
        assert_eq!(ofac.basis, crate::domain::Basis::Owned);
        // Every company is tainted, so its two tainted owners hold all of the bottom one.
        assert_eq!(ofac.share, Some(100.0));
        assert_eq!(ofac.sources, [entity_id(0)]);
        assert_eq!(ofac.paths.len(), engine::paths::MAX_PATHS);
        for p in &ofac.paths {
            assert_eq!(p.len(), usize::from(depth) + 1);
            assert_eq!(p[0].owner, entity_id(0));
            assert_eq!(p[p.len() - 1].owned, entity_id(bottom));
            assert!(p.iter().all(|s| s.share == Some(50.0)));
        }
        let ubo: Vec<(&str, f64)> = o
            .ubo
            .iter()
            .map(|u| (u.entity.as_str(), u.effective_share))
            .collect();
        assert_eq!(ubo, [("e0000000", 50.0), ("e0000001", 50.0)]);
    }
}
