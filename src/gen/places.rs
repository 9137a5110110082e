//! Where the synthetic registry's entities are: countries with how often each is home to a
//! corporate group, hosts a foreign subsidiary, or turns up on a sanctions list, and the legal
//! forms its company names end with.
//!
//! The weights are rough orders of magnitude read off public registries (GLEIF's country mix,
//! OpenCorporates' largest registries, OFAC's SDN programmes), not measurements: what matters
//! for a benchmark is the skew, a few countries holding most entities and a long tail, and the
//! offshore layer that sits between a group's home and its operating companies.

use rand::distributions::{Distribution, WeightedIndex};
use rand::{Rng, RngCore};

use super::names::Region::{self, *};
use crate::domain::Jurisdiction;

/// What role a jurisdiction plays in group structures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hub {
    /// Companies there mostly are where they are registered.
    Onshore,
    /// Holding hubs (NL, LU, CY, SG, HK, ...): a foreign group's company there is often
    /// headquartered at the group's home.
    Conduit,
    /// Offshore registries (KY, VG, BM, ...): companies there are run from elsewhere.
    Offshore,
}

pub struct Country {
    pub code: &'static str,
    /// Short English name, for "(Singapore)"-style markers in subsidiary names.
    pub label: &'static str,
    pub region: Region,
    /// Relative weight as the home of a corporate group and nationality of its owners.
    pub home: f64,
    /// Relative weight as the location of a subsidiary abroad.
    pub abroad: f64,
    /// Relative chance that an entity from here is designated on a sanctions list.
    pub risk: f64,
    pub hub: Hub,
    /// Legal forms, the most common first.
    pub forms: &'static [&'static str],
    /// Whether the legal form goes before the name (`OOO "Uralmash"`, `PT Bumi Jaya`).
    pub form_first: bool,
    /// The form of a limited partnership; empty where the generator makes none.
    pub partnership: &'static str,
}

#[allow(clippy::too_many_arguments)]
const fn c(
    code: &'static str,
    label: &'static str,
    region: Region,
    home: f64,
    abroad: f64,
    risk: f64,
    hub: Hub,
    forms: &'static [&'static str],
    partnership: &'static str,
) -> Country {
    Country {
        code,
        label,
        region,
        home,
        abroad,
        risk,
        hub,
        forms,
        form_first: false,
        partnership,
    }
}

const fn prefixed(mut country: Country) -> Country {
    country.form_first = true;
    country
}

use Hub::*;

#[rustfmt::skip]
pub const COUNTRIES: &[Country] = &[
    c("US", "USA", Anglo, 17.0, 9.0, 0.3, Onshore, &["Inc.", "LLC", "Corp."], "LP"),
    c("GB", "UK", Anglo, 10.0, 8.0, 0.3, Onshore, &["Limited", "Ltd", "PLC"], "LLP"),
    c("DE", "Deutschland", German, 6.0, 6.0, 0.1, Onshore, &["GmbH", "AG", "SE"], "GmbH & Co. KG"),
    c("FR", "France", French, 3.5, 3.0, 0.1, Onshore, &["SAS", "SA", "SARL"], "SCS"),
    c("IT", "Italia", Italian, 2.5, 2.0, 0.1, Onshore, &["S.r.l.", "S.p.A."], "S.a.s."),
    c("ES", "España", Iberian, 2.0, 2.0, 0.1, Onshore, &["S.L.", "S.A."], ""),
    c("NL", "Nederland", Dutch, 2.5, 5.0, 0.1, Conduit, &["B.V.", "N.V."], "C.V."),
    c("BE", "Belgium", French, 0.8, 1.2, 0.1, Onshore, &["SA", "BV", "SRL"], ""),
    c("LU", "Luxembourg", French, 0.4, 4.0, 0.2, Conduit, &["S.à r.l.", "S.A."], "SCSp"),
    c("IE", "Ireland", Anglo, 0.8, 3.0, 0.1, Conduit, &["Limited", "DAC"], "LP"),
    c("CH", "Schweiz", German, 1.5, 3.0, 0.3, Conduit, &["AG", "SA", "GmbH"], ""),
    c("AT", "Austria", German, 0.7, 0.8, 0.1, Onshore, &["GmbH", "AG"], "KG"),
    c("SE", "Sweden", Nordic, 1.2, 1.0, 0.05, Onshore, &["AB"], "KB"),
    c("NO", "Norway", Nordic, 0.8, 0.7, 0.05, Onshore, &["AS", "ASA"], ""),
    c("DK", "Denmark", Nordic, 0.8, 0.8, 0.05, Onshore, &["A/S", "ApS"], "K/S"),
    c("FI", "Finland", Nordic, 0.5, 0.5, 0.05, Onshore, &["Oy", "Oyj"], ""),
    c("PL", "Polska", Central, 1.2, 1.0, 0.1, Onshore, &["Sp. z o.o.", "S.A."], ""),
    c("CZ", "Czech", Central, 0.5, 0.5, 0.1, Onshore, &["s.r.o.", "a.s."], ""),
    c("HU", "Hungary", Central, 0.3, 0.3, 0.1, Onshore, &["Kft.", "Zrt."], ""),
    c("RO", "Romania", Central, 0.4, 0.4, 0.1, Onshore, &["S.R.L.", "S.A."], ""),
    c("GR", "Hellas", Greek, 0.4, 0.4, 0.1, Onshore, &["S.A.", "IKE"], ""),
    c("CY", "Cyprus", Greek, 0.3, 2.5, 3.0, Conduit, &["Limited", "Ltd"], "LP"),
    c("MT", "Malta", Italian, 0.1, 1.0, 0.5, Conduit, &["Limited"], ""),
    c("PT", "Portugal", Iberian, 0.4, 0.5, 0.1, Onshore, &["Lda.", "S.A."], ""),
    prefixed(c("RU", "Russia", Slavic, 3.0, 1.0, 30.0, Onshore, &["OOO", "AO", "PAO"], "")),
    prefixed(c("BY", "Belarus", Slavic, 0.3, 0.2, 12.0, Onshore, &["OOO", "OAO", "ZAO"], "")),
    prefixed(c("UA", "Ukraine", Slavic, 0.6, 0.3, 0.5, Onshore, &["TOV", "PrAT"], "")),
    prefixed(c("KZ", "Kazakhstan", Slavic, 0.4, 0.3, 1.0, Onshore, &["TOO", "AO"], "")),
    c("TR", "Türkiye", Turkish, 1.0, 1.0, 2.0, Onshore, &["A.Ş.", "Ltd. Şti."], ""),
    c("AE", "UAE", Arabic, 1.0, 3.0, 4.0, Conduit, &["LLC", "FZE", "FZ-LLC", "DMCC"], ""),
    c("SA", "Saudi Arabia", Arabic, 0.8, 0.5, 0.5, Onshore, &["Company", "LLC"], ""),
    c("QA", "Qatar", Arabic, 0.2, 0.3, 0.3, Onshore, &["LLC", "W.L.L."], ""),
    c("EG", "Egypt", Arabic, 0.3, 0.2, 0.3, Onshore, &["S.A.E.", "LLC"], ""),
    c("SY", "Syria", Arabic, 0.1, 0.02, 30.0, Onshore, &["LLC", "Co."], ""),
    c("IR", "Iran", Persian, 0.4, 0.05, 35.0, Onshore, &["Co.", "PJS"], ""),
    c("IN", "India", Indian, 3.0, 2.0, 0.2, Onshore, &["Private Limited", "Limited"], "LLP"),
    c("CN", "China", Chinese, 8.0, 3.0, 1.5, Onshore, &["Co., Ltd."], "LP"),
    c("HK", "Hong Kong", Chinese, 2.0, 5.0, 2.5, Conduit, &["Limited", "Co., Limited"], "LP"),
    c("MO", "Macau", Chinese, 0.05, 0.2, 1.0, Onshore, &["Limited"], ""),
    c("TW", "Taiwan", Chinese, 1.0, 0.8, 0.1, Onshore, &["Co., Ltd.", "Corporation"], ""),
    c("SG", "Singapore", Chinese, 1.5, 5.0, 0.5, Conduit, &["Pte. Ltd.", "Ltd."], "LP"),
    c("MY", "Malaysia", Malay, 0.8, 0.6, 0.3, Onshore, &["Sdn. Bhd.", "Berhad"], ""),
    prefixed(c("ID", "Indonesia", Malay, 0.8, 0.5, 0.2, Onshore, &["PT"], "")),
    c("JP", "Japan", Japanese, 3.0, 2.5, 0.05, Onshore, &["K.K.", "Co., Ltd."], ""),
    c("KR", "Korea", Korean, 1.2, 1.0, 0.1, Onshore, &["Co., Ltd.", "Corporation"], ""),
    c("KP", "DPRK", Korean, 0.02, 0.01, 80.0, Onshore, &["Corporation", "Trading Company"], ""),
    c("CA", "Canada", Anglo, 2.0, 1.5, 0.1, Onshore, &["Inc.", "Ltd.", "Corp."], "LP"),
    c("AU", "Australia", Anglo, 1.8, 1.5, 0.1, Onshore, &["Pty Ltd", "Limited"], "LP"),
    c("NZ", "New Zealand", Anglo, 0.3, 0.3, 0.05, Onshore, &["Limited"], "LP"),
    c("ZA", "South Africa", Anglo, 0.5, 0.4, 0.1, Onshore, &["(Pty) Ltd", "Limited"], ""),
    c("BR", "Brasil", Iberian, 2.0, 1.5, 0.1, Onshore, &["Ltda.", "S.A."], ""),
    c("MX", "México", Iberian, 1.0, 1.0, 0.2, Onshore, &["S.A. de C.V.", "S. de R.L. de C.V."], ""),
    c("AR", "Argentina", Iberian, 0.4, 0.3, 0.1, Onshore, &["S.A.", "S.R.L."], ""),
    c("CL", "Chile", Iberian, 0.3, 0.3, 0.1, Onshore, &["SpA", "S.A."], ""),
    c("CO", "Colombia", Iberian, 0.3, 0.3, 0.3, Onshore, &["S.A.S."], ""),
    c("VE", "Venezuela", Iberian, 0.3, 0.1, 8.0, Onshore, &["C.A.", "S.A."], ""),
    c("CU", "Cuba", Iberian, 0.05, 0.02, 15.0, Onshore, &["S.A."], ""),
    c("PA", "Panama", Iberian, 0.1, 1.0, 0.8, Offshore, &["S.A.", "Inc."], ""),
    c("KY", "Cayman", Anglo, 0.3, 4.0, 1.0, Offshore, &["Ltd.", "Limited"], "LP"),
    c("VG", "BVI", Anglo, 0.2, 4.0, 1.5, Offshore, &["Ltd.", "Limited", "Corp."], "LP"),
    c("BM", "Bermuda", Anglo, 0.2, 1.0, 0.2, Offshore, &["Ltd."], "LP"),
    c("JE", "Jersey", Anglo, 0.1, 1.0, 0.2, Offshore, &["Limited"], "LP"),
    c("GG", "Guernsey", Anglo, 0.05, 0.5, 0.2, Offshore, &["Limited"], "LP"),
    c("IM", "Isle of Man", Anglo, 0.05, 0.3, 0.2, Offshore, &["Limited"], ""),
    c("BS", "Bahamas", Anglo, 0.03, 0.3, 0.3, Offshore, &["Ltd."], ""),
    c("SC", "Seychelles", Anglo, 0.01, 0.3, 0.8, Offshore, &["Ltd."], ""),
    c("MH", "Marshall Islands", Anglo, 0.01, 0.5, 0.8, Offshore, &["Inc."], ""),
    c("LR", "Liberia", Anglo, 0.01, 0.3, 0.5, Offshore, &["Inc.", "Corp."], ""),
    c("MU", "Mauritius", Indian, 0.05, 0.5, 0.2, Offshore, &["Ltd"], ""),
    c("LI", "Liechtenstein", German, 0.05, 0.3, 0.2, Offshore, &["AG", "Anstalt"], ""),
    c("GI", "Gibraltar", Anglo, 0.02, 0.1, 0.2, Offshore, &["Limited"], ""),
];

/// US companies are registered with a state, most of them in Delaware.
#[rustfmt::skip]
const US_INCORPORATION: &[(&str, f64)] = &[
    ("US-DE", 55.0), ("US-NY", 8.0), ("US-CA", 8.0), ("US-TX", 6.0), ("US-NV", 5.0),
    ("US-FL", 5.0), ("US-IL", 3.0), ("US-WA", 2.0), ("US-MA", 2.0), ("US-NJ", 2.0),
    ("US-GA", 2.0), ("US-CO", 2.0),
];

/// Where US companies are run from.
#[rustfmt::skip]
const US_OFFICES: &[(&str, f64)] = &[
    ("US-NY", 20.0), ("US-CA", 20.0), ("US-TX", 12.0), ("US-FL", 8.0), ("US-IL", 7.0),
    ("US-MA", 5.0), ("US-WA", 5.0), ("US-PA", 5.0), ("US-GA", 4.0), ("US-NJ", 4.0),
    ("US-OH", 4.0), ("US-CO", 3.0),
];

/// Where Chinese companies are run from (the registry records the country only).
#[rustfmt::skip]
const CN_OFFICES: &[(&str, f64)] = &[
    ("CN-GD", 20.0), ("CN-SH", 15.0), ("CN-BJ", 15.0), ("CN-ZJ", 12.0), ("CN-JS", 12.0),
    ("CN-SD", 6.0), ("CN-FJ", 5.0), ("CN-SC", 5.0), ("CN-HB", 4.0), ("CN-TJ", 3.0),
];

/// A country, the chance that a group from there has its parent abroad, and where.
type HoldingAbroad = (&'static str, f64, &'static [(&'static str, f64)]);

/// Where a group's parent is registered when it is not at home: Chinese groups list through
/// Cayman or BVI holding companies, Russian groups hold through Cyprus, and so on.
#[rustfmt::skip]
const HOLDING_ABROAD: &[HoldingAbroad] = &[
    ("CN", 0.45, &[("KY", 60.0), ("VG", 25.0), ("BM", 15.0)]),
    ("HK", 0.30, &[("VG", 50.0), ("KY", 35.0), ("BM", 15.0)]),
    ("RU", 0.35, &[("CY", 60.0), ("VG", 25.0), ("AE", 15.0)]),
    ("BY", 0.20, &[("CY", 70.0), ("VG", 30.0)]),
    ("UA", 0.25, &[("CY", 70.0), ("VG", 30.0)]),
    ("KZ", 0.20, &[("NL", 50.0), ("CY", 50.0)]),
    ("IN", 0.10, &[("MU", 60.0), ("SG", 40.0)]),
    ("BR", 0.10, &[("KY", 50.0), ("VG", 50.0)]),
];

/// Where other groups' parents go when they leave home (redomiciled or inverted groups).
const HOLDING_ELSEWHERE: &[(&str, f64)] = &[
    ("NL", 30.0),
    ("LU", 25.0),
    ("IE", 20.0),
    ("KY", 15.0),
    ("JE", 10.0),
];

/// Where wealthy persons of a region live when not at home.
fn residences(region: Region) -> &'static [&'static str] {
    match region {
        Slavic => &["AE", "CY", "GB", "CH", "TR", "DE"],
        Chinese => &["HK", "SG", "US", "CA", "AU", "GB"],
        Arabic | Persian => &["GB", "CH", "FR", "US", "AE"],
        _ => &["GB", "US", "CH", "AE", "SG", "MT", "PT"],
    }
}

/// Domiciles of investment funds.
const FUND_DOMICILES: &[(&str, f64)] = &[
    ("KY", 30.0),
    ("LU", 20.0),
    ("US-DE", 25.0),
    ("IE", 10.0),
    ("GB", 5.0),
    ("JE", 5.0),
    ("SG", 5.0),
];

/// Where family trusts and foundations are settled.
const TRUST_DOMICILES: &[(&str, f64)] = &[
    ("JE", 30.0),
    ("GG", 20.0),
    ("KY", 15.0),
    ("BS", 10.0),
    ("LI", 15.0),
    ("NZ", 10.0),
];

/// Countries whose governments own groups, in the generator's order.
pub const STATE_OWNERS: &[&str] = &[
    "CN", "RU", "SA", "AE", "QA", "SG", "NO", "IR", "KP", "VE", "CU", "SY", "BY", "KZ", "FR", "IN",
    "MY", "ID", "TR", "EG",
];

/// A weighted choice among parsed jurisdictions.
struct Table {
    codes: Vec<Jurisdiction>,
    weights: WeightedIndex<f64>,
}

impl Table {
    fn new(rows: &[(&str, f64)]) -> Self {
        Self {
            codes: rows.iter().map(|(code, _)| parse(code)).collect(),
            weights: WeightedIndex::new(rows.iter().map(|r| r.1))
                .expect("static weights are positive"),
        }
    }

    fn draw(&self, rng: &mut impl RngCore) -> Jurisdiction {
        self.codes[self.weights.sample(rng)]
    }
}

fn parse(code: &str) -> Jurisdiction {
    Jurisdiction::parse(code).expect("static tables hold ISO 3166 codes")
}

/// The tables above, parsed once.
pub struct Places {
    pub codes: Vec<Jurisdiction>,
    home: WeightedIndex<f64>,
    abroad: WeightedIndex<f64>,
    us_incorporation: Table,
    us_offices: Table,
    cn_offices: Table,
    holding_abroad: Vec<Option<(f64, Table)>>,
    holding_elsewhere: Table,
    funds: Table,
    trusts: Table,
    residences: Vec<Vec<u8>>,
    us: u8,
    cn: u8,
}

impl Places {
    pub fn new() -> Self {
        let codes: Vec<Jurisdiction> = COUNTRIES.iter().map(|c| parse(c.code)).collect();
        let us = index_of("US");
        let cn = index_of("CN");
        Self {
            codes,
            home: WeightedIndex::new(COUNTRIES.iter().map(|c| c.home)).expect("weights"),
            abroad: WeightedIndex::new(COUNTRIES.iter().map(|c| c.abroad)).expect("weights"),
            us_incorporation: Table::new(US_INCORPORATION),
            us_offices: Table::new(US_OFFICES),
            cn_offices: Table::new(CN_OFFICES),
            holding_abroad: COUNTRIES
                .iter()
                .map(|c| {
                    HOLDING_ABROAD
                        .iter()
                        .find(|h| h.0 == c.code)
                        .map(|h| (h.1, Table::new(h.2)))
                })
                .collect(),
            holding_elsewhere: Table::new(HOLDING_ELSEWHERE),
            funds: Table::new(FUND_DOMICILES),
            trusts: Table::new(TRUST_DOMICILES),
            residences: COUNTRIES
                .iter()
                .map(|c| residences(c.region).iter().map(|r| index_of(r)).collect())
                .collect(),
            us,
            cn,
        }
    }

    pub fn country(&self, ix: u8) -> &'static Country {
        &COUNTRIES[ix as usize]
    }

    pub fn draw_home(&self, rng: &mut impl RngCore) -> u8 {
        self.home.sample(rng) as u8
    }

    pub fn draw_abroad(&self, rng: &mut impl RngCore) -> u8 {
        self.abroad.sample(rng) as u8
    }

    /// Where a company of country `ix` is registered: a US state for the US, else the
    /// country.
    pub fn register(&self, ix: u8, rng: &mut impl RngCore) -> Jurisdiction {
        if ix == self.us {
            self.us_incorporation.draw(rng)
        } else {
            self.codes[ix as usize]
        }
    }

    /// The principal place of business in country `ix`: a state or province where the
    /// data usually gives one, else the country.
    pub fn office(&self, ix: u8, rng: &mut impl RngCore) -> Jurisdiction {
        if ix == self.us && rng.gen_bool(0.8) {
            self.us_offices.draw(rng)
        } else if ix == self.cn && rng.gen_bool(0.6) {
            self.cn_offices.draw(rng)
        } else {
            self.codes[ix as usize]
        }
    }

    /// Where the parent of a group from `home` is registered, if not at home.
    pub fn holding_abroad(&self, home: u8, rng: &mut impl RngCore) -> Option<Jurisdiction> {
        match &self.holding_abroad[home as usize] {
            Some((p, table)) => rng.gen_bool(*p).then(|| table.draw(rng)),
            None => rng.gen_bool(0.03).then(|| self.holding_elsewhere.draw(rng)),
        }
    }

    pub fn fund_domicile(&self, rng: &mut impl RngCore) -> Jurisdiction {
        self.funds.draw(rng)
    }

    pub fn trust_domicile(&self, rng: &mut impl RngCore) -> Jurisdiction {
        self.trusts.draw(rng)
    }

    /// A country of residence abroad for a national of `home`.
    pub fn residence_abroad(&self, home: u8, rng: &mut impl RngCore) -> u8 {
        let options = &self.residences[home as usize];
        options[rng.gen_range(0..options.len())]
    }

    /// The row of a jurisdiction drawn from these tables.
    pub fn index(&self, j: Jurisdiction) -> u8 {
        let country = j.country();
        let row = self.codes.iter().position(|&c| c == country);
        row.unwrap_or_else(|| unreachable!("{j} is not in COUNTRIES")) as u8
    }
}

/// A row's index by code.
pub fn index_of(code: &str) -> u8 {
    COUNTRIES
        .iter()
        .position(|c| c.code == code)
        .expect("the code is in COUNTRIES") as u8
}
