//! Why a hit scored what it scored, for the HTTP answers.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How one query token and one list-name token were paired, or that one stayed alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// Same normalised text.
    Exact,
    /// Close spelling (edit distance).
    Fuzzy,
    /// Same consonant skeleton: a transliteration variant ("Mohammed" / "Muhammad").
    Phonetic,
    /// Known synonyms or nickname ("Corp" / "Corporation", "Bill" / "William").
    Synonym,
    /// An initial and a name it can stand for ("J" / "Joachim").
    Initial,
    /// Tokens written together on one side and apart on the other ("SiemensAG").
    Joined,
    /// A legal form ("Ltd", "GmbH"); compared on its generic type.
    LegalForm,
    /// A number; numbers agree only when equal.
    Number,
    /// In the list name, not in the query.
    Missing,
    /// In the query, not in the list name.
    Extra,
    /// A title or article that does not count ("Mr", "The").
    Ignored,
}

/// One line of the token alignment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TokenMatch {
    /// Normalised query token(s); absent for a missing token.
    pub query: Option<String>,
    /// Normalised list-name token(s); absent for an extra token.
    pub candidate: Option<String>,
    /// 0 to 1.
    pub similarity: f64,
    pub kind: MatchKind,
    /// How much the pair counts in the name score (informative words 1, generic words,
    /// initials, legal forms and particles less, titles nothing).
    pub weight: f64,
}

/// How the legal forms of the two names compare.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum LegalFormCheck {
    /// Neither name has a legal form.
    None,
    /// Only one name has one: neutral.
    OneSided { form: String },
    /// Same form or same generic type ("Ltd" / "Limited", "AG" / "SA").
    Agree { query: String, candidate: String },
    /// Different forms whose generic type is not known for both: neutral.
    Different { query: String, candidate: String },
    /// Different generic types ("AG" / "GmbH"): counts against.
    Conflict { query: String, candidate: String },
}

/// How the numbers in the two names compare ("Fund VII" / "Fund VIII").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum NumberCheck {
    None,
    /// Only one name has numbers; they count as unmatched tokens.
    OneSided,
    Agree {
        numbers: Vec<u64>,
    },
    /// Different numbers: a strong negative.
    Conflict {
        query: Vec<u64>,
        candidate: Vec<u64>,
    },
}

/// An identifier scheme present on both sides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IdentifierCheck {
    pub scheme: String,
    /// The normalised query value compared.
    pub value: String,
    /// Whether the record has the same value under the scheme (else it has others: a
    /// conflict).
    pub matched: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum CountryCheck {
    /// One side or both have no country: neutral.
    Unknown,
    Agree {
        countries: Vec<String>,
    },
    /// No country in common: counts against.
    Conflict {
        query: Vec<String>,
        candidate: Vec<String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KindCheck {
    /// A kind is unknown on one side, and the names do not contradict the other.
    Unknown,
    Agree,
    /// A person against an organisation: no match unless an identifier ties them.
    Conflict,
}

/// Everything that went into a hit's score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Explanation {
    /// One line for a human reader.
    pub summary: String,
    /// The name comparison alone, before kind, country and identifiers.
    pub name_score: f64,
    pub tokens: Vec<TokenMatch>,
    pub legal_form: LegalFormCheck,
    pub numbers: NumberCheck,
    pub identifiers: Vec<IdentifierCheck>,
    pub country: CountryCheck,
    pub kind: KindCheck,
}

impl Explanation {
    /// Writes [`Explanation::summary`] from the other fields.
    pub(crate) fn summarise(&mut self, score: f64) {
        let mut parts = Vec::new();
        let count = |k: MatchKind| self.tokens.iter().filter(|t| t.kind == k).count();
        let paired = self
            .tokens
            .iter()
            .filter(|t| {
                t.query.is_some() && t.candidate.is_some() && t.kind != MatchKind::LegalForm
            })
            .count();
        let exact = count(MatchKind::Exact) + count(MatchKind::Number);
        parts.push(format!(
            "name {:.2}: {paired} token pair(s), {exact} exact",
            self.name_score
        ));
        let fuzzy: Vec<String> = self
            .tokens
            .iter()
            .filter(|t| {
                matches!(
                    t.kind,
                    MatchKind::Fuzzy
                        | MatchKind::Phonetic
                        | MatchKind::Synonym
                        | MatchKind::Initial
                        | MatchKind::Joined
                )
            })
            .map(|t| {
                format!(
                    "{}~{}",
                    t.query.as_deref().unwrap_or(""),
                    t.candidate.as_deref().unwrap_or("")
                )
            })
            .collect();
        if !fuzzy.is_empty() {
            parts.push(format!("close: {}", fuzzy.join(", ")));
        }
        let lonely = |k: MatchKind| -> Vec<String> {
            self.tokens
                .iter()
                .filter(|t| t.kind == k)
                .filter_map(|t| t.query.clone().or_else(|| t.candidate.clone()))
                .collect()
        };
        let (extra, missing) = (lonely(MatchKind::Extra), lonely(MatchKind::Missing));
        if !extra.is_empty() {
            parts.push(format!("only in query: {}", extra.join(" ")));
        }
        if !missing.is_empty() {
            parts.push(format!("only in list name: {}", missing.join(" ")));
        }
        match &self.legal_form {
            LegalFormCheck::Agree { query, candidate } => {
                parts.push(format!("legal forms agree ({query}/{candidate})"));
            }
            LegalFormCheck::Conflict { query, candidate } => {
                parts.push(format!("legal forms conflict ({query}/{candidate})"));
            }
            _ => {}
        }
        if let NumberCheck::Conflict { query, candidate } = &self.numbers {
            parts.push(format!("numbers differ ({query:?}/{candidate:?})"));
        }
        for id in &self.identifiers {
            let verdict = if id.matched { "matches" } else { "conflicts" };
            parts.push(format!("{} {} {verdict}", id.scheme, id.value));
        }
        match &self.country {
            CountryCheck::Agree { countries } => {
                parts.push(format!("country agrees ({})", countries.join(",")));
            }
            CountryCheck::Conflict { query, candidate } => parts.push(format!(
                "country conflicts ({} vs {})",
                query.join(","),
                candidate.join(",")
            )),
            CountryCheck::Unknown => {}
        }
        if self.kind == KindCheck::Conflict {
            parts.push("person vs organisation".to_owned());
        }
        self.summary = format!("score {score:.2}; {}", parts.join("; "));
    }
}
