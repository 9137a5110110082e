//! What OFAC's CSV and XML formats share: entry types, identifier labels, and the
//! identifiers and countries written into the CSV remarks.

use super::text::strip_trailing_note;
use crate::domain::EntityKind;

/// `individual` → Person; `vessel`/`aircraft` → Other; an entity (the CSV's `-0-`) →
/// Company.
pub fn kind(sdn_type: Option<&str>) -> EntityKind {
    match sdn_type.map(|t| t.trim().to_ascii_lowercase()).as_deref() {
        Some("individual") => EntityKind::Person,
        None | Some("entity" | "") => EntityKind::Company,
        Some(_) => EntityKind::Other,
    }
}

/// OFAC's identifier labels (XML `idType`, and the start of a remarks item) and the scheme
/// each becomes. Labels not listed (emails, websites, gender, phone numbers, ...) are skipped.
const ID_LABELS: &[(&str, &str)] = &[
    ("Vessel Registration Identification", "imo"),
    ("IMO", "imo"),
    ("Legal Entity Number", "lei"),
    ("SWIFT/BIC", "swift"),
    ("Tax ID No.", "tax_id"),
    ("V.A.T. Number", "tax_id"),
    ("US FEIN", "tax_id"),
    ("R.F.C.", "tax_id"),
    ("RFC", "tax_id"),
    ("RUC #", "tax_id"),
    ("C.U.I.T.", "tax_id"),
    ("Italian Fiscal Code", "tax_id"),
    ("Registration ID", "registration_number"),
    ("Registration Number", "registration_number"),
    ("Business Registration Number", "registration_number"),
    ("Company Number", "registration_number"),
    ("UK Company Number", "registration_number"),
    ("Commercial Registry Number", "registration_number"),
    ("Chamber of Commerce Number", "registration_number"),
    ("Certificate of Incorporation Number", "registration_number"),
    ("Passport", "passport"),
    ("Diplomatic Passport", "passport"),
    ("National ID No.", "national_id"),
    ("Cedula No.", "national_id"),
    ("Identification Number", "national_id"),
    ("Turkish Identification Number", "national_id"),
    ("Personal ID Card", "national_id"),
    ("D.N.I.", "national_id"),
    ("C.U.R.P.", "national_id"),
    ("SSN", "national_id"),
];

/// Remarks items that give a country (nationality, citizenship, a vessel's registration);
/// the longer label first, since both start with "nationality".
const COUNTRY_LABELS: [&str; 3] = ["Nationality of Registration", "nationality", "citizen"];

/// The scheme of an identifier label, compared case-insensitively.
pub fn id_scheme(label: &str) -> Option<&'static str> {
    let label = label.trim().trim_end_matches(':');
    ID_LABELS
        .iter()
        .find(|(l, _)| l.eq_ignore_ascii_case(label))
        .map(|(_, scheme)| *scheme)
}

/// The value part of an identifier: without "issued …"/"expires …" dates, a trailing
/// "(Country)", and for IMO numbers the "IMO " prefix.
pub fn id_value<'a>(scheme: &str, raw: &'a str) -> &'a str {
    let mut v = raw;
    for cut in [" issued ", " expires "] {
        if let Some(i) = v.find(cut) {
            v = &v[..i];
        }
    }
    let v = strip_trailing_note(v).trim();
    if scheme == "imo" {
        strip_prefix_ci(v, "IMO ").unwrap_or(v).trim()
    } else {
        v
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// `label value`, case-insensitive on the label, with a space after it.
fn labelled<'a>(item: &'a str, label: &str) -> Option<&'a str> {
    strip_prefix_ci(item, label)?.strip_prefix(' ')
}

/// What the CSV remarks state: items are separated by ';', an "alt. " prefix marks a further
/// value of the same kind.
#[derive(Debug, Default, PartialEq)]
pub struct Remarks<'a> {
    pub identifiers: Vec<(&'static str, &'a str)>,
    pub countries: Vec<&'a str>,
}

pub fn remarks(text: &str) -> Remarks<'_> {
    let mut out = Remarks::default();
    for item in text.split(';') {
        let item = item.trim();
        let item = item.strip_suffix('.').unwrap_or(item);
        let item = strip_prefix_ci(item, "alt. ").unwrap_or(item);
        if let Some(country) = COUNTRY_LABELS.iter().find_map(|l| labelled(item, l)) {
            out.countries.push(country.trim());
        } else if let Some((scheme, value)) = ID_LABELS
            .iter()
            .find_map(|(l, scheme)| labelled(item, l).map(|v| (*scheme, v)))
        {
            out.identifiers.push((scheme, id_value(scheme, value)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remarks_give_identifiers_and_countries() {
        let r = remarks(
            "DOB 12 Jul 1986; nationality China; alt. nationality Russia; Passport P139681 (Saudi Arabia) issued 27 May 2014 expires 04 Apr 2019; Registration ID F.5 (29) AR-11/2002 (Pakistan); Vessel Registration Identification IMO 9187629; SWIFT/BIC HAVIGB2L; alt. SWIFT/BIC IREPRUMM; Tax ID No. 7718852163; Legal Entity Number 485100GBI2SE0KIX8T70; Nationality of Registration Korea, North; citizen Egypt; Linked To: X.",
        );
        assert_eq!(r.countries, ["China", "Russia", "Korea, North", "Egypt"]);
        assert_eq!(
            r.identifiers,
            [
                ("passport", "P139681"),
                ("registration_number", "F.5 (29) AR-11/2002"),
                ("imo", "9187629"),
                ("swift", "HAVIGB2L"),
                ("swift", "IREPRUMM"),
                ("tax_id", "7718852163"),
                ("lei", "485100GBI2SE0KIX8T70"),
            ]
        );
    }

    #[test]
    fn labels_and_types_map_case_insensitively() {
        assert_eq!(id_scheme("National ID No."), Some("national_id"));
        assert_eq!(id_scheme("swift/bic"), Some("swift"));
        assert_eq!(id_scheme("Email Address"), None);
        assert_eq!(kind(Some("Individual")), EntityKind::Person);
        assert_eq!(kind(Some("vessel")), EntityKind::Other);
        assert_eq!(kind(None), EntityKind::Company);
        assert_eq!(kind(Some("Entity")), EntityKind::Company);
    }
}
