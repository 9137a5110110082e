//! The required behaviours, each able to fail.

use std::path::PathBuf;

use super::*;

fn query(name: &str) -> Query<'_> {
    Query {
        name,
        kind: None,
        countries: &[],
        identifiers: &[],
    }
}

fn record(names: &[&str], kind: Option<EntityKind>) -> Record {
    Record {
        names: names.iter().map(|n| (*n).to_owned()).collect(),
        kind,
        ..Record::default()
    }
}

fn score_of(q: &Query, r: &Record) -> f64 {
    compare(q, r).map_or(0.0, |h| h.score)
}

fn score(a: &str, b: &str) -> f64 {
    score_of(&query(a), &record(&[b], None))
}

fn j(code: &str) -> Jurisdiction {
    Jurisdiction::parse(code).expect("a valid code")
}

#[test]
fn conflicting_legal_forms_are_different_companies() {
    assert!(score("Deutsche Bank AG", "Deutsche Bank GmbH") < REVIEW_THRESHOLD);
    assert!(score("Deutsche Bank AG", "Deutsche Bank Aktiengesellschaft") >= REVIEW_THRESHOLD);
    assert!(score("CRYSTALORD LIMITED", "CRYSTALORD LTD") > 0.95);
    let hit = compare(
        &query("Deutsche Bank AG"),
        &record(&["Deutsche Bank GmbH"], None),
    );
    assert!(matches!(
        hit.map(|h| h.explanation.legal_form),
        Some(LegalFormCheck::Conflict { .. })
    ));
}

#[test]
fn a_legal_form_alone_carries_no_match() {
    assert!(score("BELLETECH CORP", "11420 CORP.") < 0.5);
    assert!(score("Volkswagen AG", "Siemens AG") < 0.5);
}

#[test]
fn a_company_is_not_a_person_with_the_same_first_name() {
    assert!(score("EMMA LLC", "emma daniels") < REVIEW_THRESHOLD);
    let person = record(&["emma daniels"], Some(EntityKind::Person));
    assert!(score_of(&query("EMMA LLC"), &person) < 0.5);
    let hit = compare(&query("EMMA LLC"), &person);
    assert_eq!(hit.map(|h| h.explanation.kind), Some(KindCheck::Conflict));
}

#[test]
fn numbers_must_agree() {
    assert!(score("Blackstone Fund VII", "Blackstone Fund VIII") < REVIEW_THRESHOLD);
    assert!(score("Blackstone Fund 7", "Blackstone Fund VII") >= REVIEW_THRESHOLD);
    assert!(score("1st International Bank", "First International Bank") >= REVIEW_THRESHOLD);
    assert!(score("Brigade Forty-Four", "Brigade 44") >= REVIEW_THRESHOLD);
}

#[test]
fn homoglyphs_compare_equal_to_their_latin_twin() {
    // Cyrillic а and Greek ο hidden in Latin names.
    assert!(score("Deutsche B\u{430}nk AG", "Deutsche Bank AG") > 0.99);
    assert!(score("R\u{3bf}sneft", "Rosneft") > 0.99);
}

#[test]
fn other_scripts_are_transliterated() {
    let p = Some(EntityKind::Person);
    let cyrillic = Query {
        kind: p,
        ..query("Владимир Путин")
    };
    assert!(score_of(&cyrillic, &record(&["Vladimir Putin"], p)) >= REVIEW_THRESHOLD);
    let arabic = Query {
        kind: p,
        ..query("أحمد حسن")
    };
    assert!(score_of(&arabic, &record(&["Ahmed Hassan"], p)) >= REVIEW_THRESHOLD);
}

#[test]
fn persons_in_any_order_with_variants() {
    let p = Some(EntityKind::Person);
    let q = |n| Query {
        kind: p,
        ..query(n)
    };
    assert!(score_of(&q("SCHOLZ, Olaf"), &record(&["Olaf Scholz"], p)) > 0.99);
    assert!(
        score_of(
            &q("Muhammad bin Salman"),
            &record(&["Mohammed bin Salman"], p)
        ) >= REVIEW_THRESHOLD
    );
    assert!(score_of(&q("Jean Marie Le Pen"), &record(&["Jean-Marie Le Pen"], p)) > 0.95);
    assert!(score_of(&q("Octavian Scholz"), &record(&["Olaf Scholz"], p)) < REVIEW_THRESHOLD);
}

#[test]
fn a_matching_identifier_outweighs_the_name() {
    let ids = [("lei".to_owned(), "5493001KJTIIGC8Y1R12".to_owned())];
    let q = Query {
        identifiers: &ids,
        ..query("Bank of Nowhere Holdings")
    };
    let mut r = record(&["BoN Holding Company"], None);
    r.identifiers = vec![("LEI".to_owned(), "5493 001K JTII GC8Y 1R12".to_owned())];
    assert!(score_of(&q, &r) >= 0.9);
    // The same scheme with another value counts against.
    r.identifiers = vec![("lei".to_owned(), "529900T8BM49AURSDO55".to_owned())];
    let same_name = Query {
        identifiers: &ids,
        ..query("BoN Holding Company")
    };
    assert!(score_of(&same_name, &r) < REVIEW_THRESHOLD);
}

#[test]
fn a_conflicting_country_lowers_the_score_an_absent_one_does_not() {
    let r = Record {
        countries: vec![j("RU")],
        ..record(&["Ivan Petrov"], Some(EntityKind::Person))
    };
    let base = score_of(&query("Ivan Petrov"), &r);
    let same = [j("RU")];
    let other = [j("FR")];
    let with = |c| {
        score_of(
            &Query {
                countries: c,
                ..query("Ivan Petrov")
            },
            &r,
        )
    };
    assert_eq!(with(&same), base);
    assert!(with(&other) < base);
}

#[test]
fn a_person_is_not_a_company() {
    let q = Query {
        kind: Some(EntityKind::Person),
        ..query("Acme Trading")
    };
    assert!(score_of(&q, &record(&["Acme Trading"], Some(EntityKind::Company))) < REVIEW_THRESHOLD);
}

#[test]
fn hits_are_explained() {
    let hit = compare(&query("Olaf Scholze"), &record(&["Olaf Scholz"], None));
    let Some(hit) = hit else {
        panic!("a hit");
    };
    let kinds: Vec<MatchKind> = hit.explanation.tokens.iter().map(|t| t.kind).collect();
    assert!(kinds.contains(&MatchKind::Exact));
    assert!(kinds.contains(&MatchKind::Phonetic) || kinds.contains(&MatchKind::Fuzzy));
    assert!(
        hit.explanation.summary.contains("scholze~scholz"),
        "{}",
        hit.explanation.summary
    );
    assert!(serde_json::to_string(&hit).is_ok());
}

fn sample_index() -> Index<i64> {
    let mut index = Index::new();
    let names = [
        "Gazprom Neft PAO",
        "Olaf Scholz",
        "Deutsche Bank AG",
        "Friedrich Buchenberg",
        "Rosneft Oil Company",
    ];
    for (key, name) in (1..).zip(names) {
        index.upsert(key, record(&[name], None));
    }
    index
}

#[test]
fn the_index_finds_a_name_with_a_typo() {
    let index = sample_index();
    let hits = index.search(&query("Gasprom Neft"), 5, REVIEW_THRESHOLD, |_| true);
    assert_eq!(hits.first().map(|h| h.key), Some(1));
    let hits = index.search(&query("FridrichBuchenberg"), 5, REVIEW_THRESHOLD, |_| true);
    assert_eq!(hits.first().map(|h| h.key), Some(4));
    assert_eq!(
        hits.first().map(|h| h.name.as_str()),
        Some("Friedrich Buchenberg")
    );
}

#[test]
fn upsert_replaces_and_remove_removes() {
    let mut index = sample_index();
    assert_eq!((index.len(), index.name_count()), (5, 5));
    index.upsert(2, record(&["Angela Merkel", "A. Merkel"], None));
    assert_eq!((index.len(), index.name_count()), (5, 6));
    assert!(
        index
            .search(&query("Olaf Scholz"), 5, 0.5, |_| true)
            .is_empty()
    );
    let hits = index.search(&query("Angela Merkel"), 5, REVIEW_THRESHOLD, |_| true);
    assert_eq!(hits.first().map(|h| h.key), Some(2));
    assert!(index.remove(2));
    assert!(!index.remove(2));
    assert!(
        index
            .search(&query("Angela Merkel"), 5, 0.5, |_| true)
            .is_empty()
    );
    assert_eq!(index.len(), 4);
}

#[test]
fn a_record_reads_back_as_stored() {
    let mut index = sample_index();
    let stored = Record {
        names: vec!["Artavil Shipping".into(), "ARTAVIL".into()],
        kind: Some(EntityKind::Company),
        countries: vec![Jurisdiction::parse("IR").unwrap()],
        identifiers: vec![("imo".into(), "9187629".into())],
    };
    index.upsert(7, stored.clone());
    assert_eq!(index.record(7), Some(stored));
    // After others are removed and the arena compacted, it still reads back.
    for k in 1..=5 {
        index.remove(k);
    }
    assert_eq!(index.record(7).map(|r| r.names.len()), Some(2));
    assert_eq!(index.record(1), None);
}

#[test]
fn accept_filters_before_scoring() {
    let index = sample_index();
    let hits = index.search(&query("Deutsche Bank AG"), 5, 0.5, |k| k != 3);
    assert!(hits.is_empty());
    let hits = index.search(&query("Deutsche Bank AG"), 5, 0.5, |k| k == 3);
    assert_eq!(hits.len(), 1);
}

#[test]
fn the_index_survives_churn() {
    let mut index: Index<u32> = Index::new();
    for round in 0..3u32 {
        for k in 0..3_000u32 {
            index.upsert(
                k,
                record(
                    &[&format!("Company {} {round} Trading Ltd", k * 7919)],
                    None,
                ),
            );
        }
    }
    for k in (0..3_000u32).step_by(2) {
        index.remove(k);
    }
    assert_eq!(index.len(), 1_500);
    let name = format!("Company {} 2 Trading Ltd", 7 * 7919);
    let hits = index.search(&query(&name), 3, REVIEW_THRESHOLD, |_| true);
    assert_eq!(hits.first().map(|h| h.key), Some(7));
}

#[test]
fn odd_input_does_not_panic() {
    let index = sample_index();
    for s in [
        "",
        " ",
        "\u{0}\u{1F}",
        "&",
        "..",
        "x",
        "🙂🙂",
        "ⅷⅷ",
        "Ǆ",
        "ﷺ",
        "9999999999999999999999999",
    ] {
        let _ = score(s, s);
        let _ = index.search(&query(s), 5, 0.0, |_| true);
    }
    let mut index = index;
    index.upsert(99, record(&["\u{1F}a\u{1F}", ""], None));
    assert!(index.remove(99));
}

/// `$OWNERGRAPH_SHARED_DATA`, else `<manifest>/../shared/data`; `None` when absent.
fn labelled_dir() -> Option<PathBuf> {
    let base = std::env::var_os("OWNERGRAPH_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    let dir = base.join("sanctions/labelled");
    dir.is_dir().then_some(dir)
}

#[test]
fn the_labelled_pairs_read_and_score() {
    let Some(dir) = labelled_dir() else {
        eprintln!("no shared data: skipped");
        return;
    };
    let report = eval::run_eval(&dir, &[]);
    let Ok(report) = report else {
        panic!("{report:?}");
    };
    assert_eq!(report.bench[0].ours_all.total(), 826);
    assert_eq!(report.screening.positives, 683);
    assert_eq!(report.screening.misaligned_rows, 0);
    assert_eq!(report.cross_script.0, 22);
}

#[test]
fn distinctive_words_leave_out_legal_forms_and_generic_words() {
    let org = Some(EntityKind::Company);
    assert_eq!(distinctive_words("HAC Global Limited", org), "hac");
    assert_eq!(distinctive_words("Acme Co.", org), "acme");
    assert_eq!(distinctive_words("ACME COMPANY LIMITED", org), "acme");
    assert_eq!(
        distinctive_words("Public Joint Stock Company Gazprom Neft", org),
        "gazprom neft"
    );
    // Nothing distinctive: the generic words, else everything.
    assert_eq!(
        distinctive_words("Global Holdings Ltd", org),
        "global holdings"
    );
    assert!(!distinctive_words("Limited", org).is_empty());
}
