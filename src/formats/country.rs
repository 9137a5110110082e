//! Country names and codes, as the lists write them, to ISO 3166 [`Jurisdiction`]s.
//!
//! Names are looked up case- and accent-insensitively, ignoring punctuation, among the ISO
//! 3166-1 names of `rust_iso3166` (also without their parenthesised part when that is
//! unambiguous: "Iran (Islamic Republic of)" answers to "Iran" too) and the spellings below.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::domain::Jurisdiction;

/// Spellings the lists use that are not ISO 3166-1 names, and the demonyms seen in
/// nationality fields. Keys are compared after [`key`] normalisation.
const SPELLINGS: &[(&str, &str)] = &[
    ("Bahamas, The", "BS"),
    ("Gambia, The", "GM"),
    ("The Gambia", "GM"),
    ("British Virgin Islands", "VG"),
    ("Virgin Islands, British", "VG"),
    ("Virgin Islands, U.S.", "VI"),
    ("Brunei", "BN"),
    ("Burma", "MM"),
    ("Cape Verde", "CV"),
    ("China, Hong Kong Special Administrative Region", "HK"),
    ("People's Republic of China", "CN"),
    ("Macau", "MO"),
    ("Congo, Democratic Republic of the", "CD"),
    ("Democratic Republic of the Congo", "CD"),
    ("Congo, Republic of the", "CG"),
    ("Republic of the Congo", "CG"),
    ("Ivory Coast", "CI"),
    ("Czech Republic", "CZ"),
    ("Democratic People's Republic of Korea", "KP"),
    ("Korea, North", "KP"),
    ("North Korea", "KP"),
    ("Korea, South", "KR"),
    ("South Korea", "KR"),
    ("Republic of Korea", "KR"),
    ("Laos", "LA"),
    ("Macedonia", "MK"),
    ("Macedonia, The Former Yugoslav Republic of", "MK"),
    ("Man, Isle of", "IM"),
    ("Micronesia, Federated States of", "FM"),
    ("State of Palestine", "PS"),
    ("West Bank", "PS"),
    ("Gaza", "PS"),
    ("Palestinian Territories", "PS"),
    ("Crimea", "UA-43"),
    ("Northern Mali", "ML"),
    ("Russia", "RU"),
    ("Syria", "SY"),
    ("Swaziland", "SZ"),
    ("East Timor", "TL"),
    ("Turkey", "TR"),
    ("United Kingdom", "GB"),
    ("United States", "US"),
    ("USA", "US"),
    ("United Republic of Tanzania", "TZ"),
    ("Vatican City", "VA"),
    ("Vietnam", "VN"),
    // Demonyms, as nationality fields sometimes hold them.
    ("Afghan", "AF"),
    ("Belarusian", "BY"),
    ("British", "GB"),
    ("Chinese", "CN"),
    ("Egyptian", "EG"),
    ("Iranian", "IR"),
    ("Iraqi", "IQ"),
    ("Jordanian", "JO"),
    ("Lebanese", "LB"),
    ("Libyan", "LY"),
    ("North Korean", "KP"),
    ("Pakistani", "PK"),
    ("Palestinian", "PS"),
    ("Russian", "RU"),
    ("Saudi", "SA"),
    ("Somali", "SO"),
    ("Sudanese", "SD"),
    ("Syrian", "SY"),
    ("Ukrainian", "UA"),
    ("Yemeni", "YE"),
];

static BY_NAME: LazyLock<HashMap<String, Jurisdiction>> = LazyLock::new(build);

fn build() -> HashMap<String, Jurisdiction> {
    let mut map = HashMap::new();
    // Short forms ("Iran" from "Iran (Islamic Republic of)"); `None` once two countries
    // share one ("Korea").
    let mut short: HashMap<String, Option<Jurisdiction>> = HashMap::new();
    for c in rust_iso3166::ALL {
        let Ok(j) = Jurisdiction::parse(c.alpha2) else {
            continue;
        };
        map.insert(key(c.name), j);
        if let Some((head, _)) = c.name.split_once(" (") {
            short
                .entry(key(head))
                .and_modify(|v| {
                    if *v != Some(j) {
                        *v = None;
                    }
                })
                .or_insert(Some(j));
        }
    }
    for (k, j) in short {
        if let Some(j) = j {
            map.entry(k).or_insert(j);
        }
    }
    for (name, code) in SPELLINGS {
        if let Ok(j) = Jurisdiction::parse(code) {
            map.insert(key(name), j);
        }
    }
    map
}

/// Lower-case, accents folded, "&" as "and", punctuation as spaces, whitespace collapsed,
/// "st" as "saint".
fn key(name: &str) -> String {
    let folded: String = name
        .replace('&', " and ")
        .chars()
        .flat_map(char::to_lowercase)
        .map(fold_accent)
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let words: Vec<&str> = folded
        .split_whitespace()
        .map(|w| if w == "st" { "saint" } else { w })
        .collect();
    words.join(" ")
}

fn fold_accent(c: char) -> char {
    match c {
        'à'..='å' => 'a',
        'ç' => 'c',
        'è'..='ë' => 'e',
        'ì'..='ï' => 'i',
        'ñ' => 'n',
        'ò'..='ö' | 'ø' => 'o',
        'ù'..='ü' => 'u',
        'ý' | 'ÿ' => 'y',
        c => c,
    }
}

/// The jurisdiction a country name stands for, if known. Tries the name as given, then
/// without a leading "Region:" and without a trailing parenthesised note ("Pakistan
/// (location as at May 2008)").
pub fn by_name(name: &str) -> Option<Jurisdiction> {
    let full = key(name);
    if full.is_empty() {
        return None;
    }
    let without_region = full.strip_prefix("region ").map(str::to_owned);
    let without_note = name.split_once(" (").map(|(head, _)| key(head));
    [Some(full), without_region, without_note]
        .into_iter()
        .flatten()
        .find_map(|k| BY_NAME.get(&k).copied())
}

/// The jurisdiction of an ISO 3166 code in any case ("ru", "US-DE"); pseudo codes that are
/// not ISO 3166 ("eu", "suhh", "xk", "00") give `None`.
pub fn by_code(code: &str) -> Option<Jurisdiction> {
    Jurisdiction::parse(&code.trim().to_ascii_uppercase()).ok()
}

/// Splits an enumerated field ("(1) Syria (2) Lebanon") into its items; a plain value is its
/// own single item.
pub fn enumerated(s: &str) -> Vec<&str> {
    let b = s.as_bytes();
    let mut parts = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if b[i] == b'(' && digits > 0 && b.get(i + 1 + digits) == Some(&b')') {
            parts.push(&s[start..i]);
            i += digits + 2;
            start = i;
        } else {
            i += 1;
        }
    }
    parts.push(&s[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(name: &str) -> Option<String> {
        by_name(name).map(|j| j.to_string())
    }

    #[test]
    fn list_spellings_map_to_iso_codes() {
        let cases = [
            ("Cuba", "CU"),
            ("Iran", "IR"),
            ("Iran (Islamic Republic of)", "IR"),
            ("Russia", "RU"),
            ("Russian Federation", "RU"),
            ("Korea, North", "KP"),
            ("Democratic People's Republic of Korea", "KP"),
            ("Burma", "MM"),
            ("Syria", "SY"),
            ("Venezuela", "VE"),
            ("Bolivia", "BO"),
            ("Congo, Democratic Republic of the", "CD"),
            ("Congo", "CG"),
            ("West Bank", "PS"),
            ("Cote d Ivoire", "CI"),
            ("Côte d'Ivoire", "CI"),
            ("Curacao", "CW"),
            ("Türkiye", "TR"),
            ("St. Kitts & Nevis", "KN"),
            ("Saint Vincent and the Grenadines", "VC"),
            ("Bahamas, The", "BS"),
            ("UNITED KINGDOM", "GB"),
            ("Netherlands", "NL"),
            ("Pakistan (location as at May 2008)", "PK"),
            ("Pakistani", "PK"),
            ("Region: Crimea", "UA-43"),
            ("Region: Gaza", "PS"),
        ];
        for (name, iso) in cases {
            assert_eq!(code(name).as_deref(), Some(iso), "{name}");
        }
    }

    #[test]
    fn unknown_and_ambiguous_names_give_none() {
        for name in [
            "Korea",
            "Kosovo",
            "Netherlands Antilles",
            "undetermined",
            "",
            "-0-",
        ] {
            assert_eq!(code(name), None, "{name}");
        }
    }

    #[test]
    fn codes_are_upper_cased_and_pseudo_codes_skipped() {
        assert_eq!(by_code("ru").map(|j| j.to_string()).as_deref(), Some("RU"));
        assert_eq!(
            by_code("us-de").map(|j| j.to_string()).as_deref(),
            Some("US-DE")
        );
        for pseudo in ["eu", "suhh", "xk", "00", ""] {
            assert_eq!(by_code(pseudo), None, "{pseudo}");
        }
    }

    #[test]
    fn enumerated_fields_split_on_numbered_markers() {
        assert_eq!(enumerated("(1) Syria (2) Lebanon"), ["Syria", "Lebanon"]);
        assert_eq!(enumerated("Syria"), ["Syria"]);
        assert_eq!(
            enumerated("Iran (Islamic Republic of)"),
            ["Iran (Islamic Republic of)"]
        );
        assert!(enumerated(" ").is_empty());
    }
}
