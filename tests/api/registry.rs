//! Registry imports over HTTP: GLEIF and UK PSC files, resolution against what the store
//! already holds, sources per fact, and a bad record changing nothing.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::harness::{TestApp, ofac_50, reason, unsupported_regions};
use ownergraph::testdata::read_shared;

fn gleif_files() -> Vec<(&'static str, Vec<u8>)> {
    [
        "lei-data.xml",
        "rr-data.xml",
        "rr-updates-data2.xml",
        "repex-data.xml",
    ]
    .into_iter()
    .map(|f| (f, read_shared(&format!("ownership/gleif-level2/{f}"))))
    .collect()
}

pub(crate) async fn import(app: &TestApp, format: &str, body: &str) -> (StatusCode, Value) {
    app.upload(
        &format!("/v1/imports?format={format}"),
        body.as_bytes().to_vec(),
    )
    .await
}

async fn sources(app: &TestApp, id: &str) -> Value {
    let (s, b) = app.get(&format!("/v1/entities/{id}/sources")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

async fn entity_count(app: &TestApp) -> usize {
    let (s, b) = app.get("/v1/entities?limit=1000").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["items"].as_array().unwrap().len()
}

/// One PSC snapshot line.
pub(crate) fn psc_line(company: &str, data: Value) -> String {
    json!({"company_number": company, "data": data}).to_string()
}

#[tokio::test]
async fn gleif_parents_are_consolidation_and_exceptions_are_declared_unknowns() {
    let app = TestApp::new().await;
    // The store already knows a parent (named in the relationship file only) and a company
    // (with a full LEI record) by their LEIs, under its own ids and names.
    for (id, name, lei) in [
        ("parent-co", "Parent as onboarded", "ZZG38T0MDR3QY1ETUA76"),
        (
            "dentsu-intl",
            "Dentsu International",
            "213800FERQ5LE3H7WJ58",
        ),
    ] {
        let (s, b) = app
            .post(
                "/v1/entities",
                json!({"id": id, "name": name, "identifiers": {"lei": lei}}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }

    let (s, summary) = app
        .upload_parts("/v1/imports?format=gleif", &gleif_files())
        .await;
    assert_eq!(s, StatusCode::OK, "{summary}");
    assert!(summary["version"].is_i64(), "{summary}");
    assert_eq!(summary["resolved"]["lei"], 2, "{summary}");
    let added = summary["ownerships"]["added"].as_u64().unwrap();
    assert!(added >= 5, "{summary}");
    assert!(summary["declared_unknowns"]["added"].as_u64().unwrap() >= 3);
    assert!(summary["declared_indirect"]["added"].as_u64().unwrap() >= 1);

    // The child's direct parent is an accounting-consolidation link into the entity the
    // store already had.
    let child = sources(&app, "gleif:010CMKZ3VON21WF2ZD45").await;
    let links = child["ownerships"].as_array().unwrap();
    let parent = links
        .iter()
        .find(|l| l["owner"] == "parent-co")
        .unwrap_or_else(|| panic!("{child}"));
    assert_eq!(parent["interest"], "consolidation");
    assert_eq!(parent["source"], "gleif");
    assert_eq!(
        parent["source_record"],
        "010CMKZ3VON21WF2ZD45/IS_DIRECTLY_CONSOLIDATED_BY/ZZG38T0MDR3QY1ETUA76"
    );
    // Both keep the store's names. A full LEI record's legal name becomes an alias; a
    // relationship file's mention (the LEI alone) adds nothing. Each page says who said what.
    let (_, parent) = app.get("/v1/entities/parent-co").await;
    assert_eq!(parent["name"], "Parent as onboarded");
    assert_eq!(parent["aliases"], json!([]), "{parent}");
    let (_, dentsu) = app.get("/v1/entities/dentsu-intl").await;
    assert_eq!(dentsu["name"], "Dentsu International");
    assert_eq!(
        dentsu["aliases"],
        json!([
            "DENTSU INTERNATIONAL LIMITED",
            "DENTSU AEGIS NETWORK LTD.",
            "AEGIS GROUP PLC"
        ]),
        "{dentsu}"
    );
    // What the store did not say comes from the record.
    assert_eq!(dentsu["jurisdiction"], "GB", "{dentsu}");
    assert_eq!(dentsu["identifiers"]["registration_number"], "01403668");
    for (id, placeholder) in [("parent-co", true), ("dentsu-intl", false)] {
        let page = sources(&app, id).await;
        let said: Vec<(&str, bool)> = page["statements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["source"].as_str().unwrap(), s["placeholder"] == true))
            .collect();
        assert_eq!(said, [("store", false), ("gleif", placeholder)], "{page}");
        assert_eq!(page["statements"][1]["resolved_by"], "lei");
    }

    // Reporting exceptions are kept with the BODS reason beside GLEIF's own.
    for (id, reason, source_reason) in [
        (
            "gleif:001GPB6A9XPE8XJICC14",
            "noBeneficialOwners",
            "NO_KNOWN_PERSON",
        ),
        (
            "gleif:004L5FPTUREIWK9T2N63",
            "subjectExemptFromDisclosure",
            "NON_CONSOLIDATING",
        ),
        (
            "gleif:01370W6ZIY66KQ4J3570",
            "subjectExemptFromDisclosure",
            "NON_PUBLIC",
        ),
    ] {
        let page = sources(&app, id).await;
        let u = &page["unknown_owners"][0];
        assert_eq!(
            (
                u["reason"].as_str(),
                u["source_reason"].as_str(),
                u["source"].as_str()
            ),
            (Some(reason), Some(source_reason), Some("gleif")),
            "{page}"
        );
    }

    // A consolidation parent never counts as an owner: listing it taints nothing below.
    app.policy(json!([ofac_50()])).await;
    app.list("parent-co").await;
    let child = app.screen("gleif:010CMKZ3VON21WF2ZD45").await;
    assert!(reason(&child, "ofac-50").is_none(), "{child}");
    assert_eq!(app.screen("parent-co").await["decision"], "block");

    // The same files again change nothing and take no version.
    let (s, again) = app
        .upload_parts("/v1/imports?format=gleif", &gleif_files())
        .await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert!(again["version"].is_null(), "{again}");
    assert_eq!(again["ownerships"]["unchanged"].as_u64(), Some(added));
    assert_eq!(again["resolved"]["record"], summary["parties"]);
}

#[tokio::test]
async fn psc_band_above_half_from_a_restricted_region_blocks() {
    let app = TestApp::new().await;
    let (s, b) = app
        .post(
            "/v1/entities",
            json!({"id": "acme-uk", "name": "Acme Widgets Ltd", "jurisdiction": "GB",
                   "identifiers": {"registration_number": "01234567"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    app.policy(json!([unsupported_regions()])).await;

    let owner = json!({
        "kind": "corporate-entity-person-with-significant-control",
        "name": "Volga Holdings JSC",
        "identification": {"country_registered": "Russia", "legal_form": "Joint stock company"},
        "natures_of_control": ["ownership-of-shares-50-to-75-percent"],
        "notified_on": "2019-03-01",
        "links": {"self": "/company/01234567/persons-with-significant-control/corporate-entity/volga1"}
    });
    let file = psc_line("1234567", owner.clone());
    let (s, summary) = import(&app, "psc", &file).await;
    assert_eq!(s, StatusCode::OK, "{summary}");
    assert_eq!(summary["resolved"]["registration_number"], 1, "{summary}");
    assert_eq!(summary["ownerships"]["added"], 1, "{summary}");

    // "More than 50% but less than 75%" is more than half: a definite block under a "more
    // than 50%" rule, not a possibility to review.
    let screening = app.screen("acme-uk").await;
    let r = reason(&screening, "unsupported-regions").unwrap_or_else(|| panic!("{screening}"));
    assert_eq!(r["basis"], "owned", "{screening}");
    assert_eq!(screening["decision"], "block");

    let page = sources(&app, "acme-uk").await;
    let link = &page["ownerships"][0];
    assert_eq!(link["source"], "uk-psc");
    assert_eq!(
        link["share"],
        json!({"min": 50.0, "min_exclusive": true, "max": 75.0, "max_exclusive": true})
    );
    assert_eq!(link["details"], "ownership-of-shares-50-to-75-percent");

    // An operator's correction is not undone by later imports.
    let (s, b) = app
        .patch(
            "/v1/entities/acme-uk",
            json!({"name": "Acme Widgets Limited"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    // The register later records the PSC as ceased: only that difference is applied, and the
    // company screens clear from that day.
    let mut ceased = owner;
    ceased["ceased_on"] = json!("2024-06-30");
    let (s, summary) = import(&app, "psc", &psc_line("1234567", ceased)).await;
    assert_eq!(s, StatusCode::OK, "{summary}");
    assert_eq!(
        summary["ownerships"],
        json!({"added": 0, "changed": 1, "unchanged": 0})
    );
    let (_, now) = app
        .post(
            "/v1/screenings",
            json!({"entity": "acme-uk", "as_of": "2025-01-01"}),
        )
        .await;
    assert_eq!(now["decision"], "clear", "{now}");
    let (_, before) = app
        .post(
            "/v1/screenings",
            json!({"entity": "acme-uk", "as_of": "2024-01-01"}),
        )
        .await;
    assert_eq!(before["decision"], "block", "{before}");
    let (_, entity) = app.get("/v1/entities/acme-uk").await;
    assert_eq!(entity["name"], "Acme Widgets Limited", "{entity}");
}

#[tokio::test]
async fn a_bad_record_rejects_the_whole_import() {
    let app = TestApp::new().await;
    let good = psc_line(
        "00000001",
        json!({
            "kind": "individual-person-with-significant-control",
            "name": "Jane Example",
            "natures_of_control": ["ownership-of-shares-75-to-100-percent"],
            "notified_on": "2020-01-01",
            "links": {"self": "/company/00000001/persons-with-significant-control/individual/jane"}
        }),
    );
    let before = entity_count(&app).await;

    // Malformed JSON on line 2.
    let file = format!("{good}\n{{\"company_number\": \"00000002\", \"data\": \n");
    let (s, b) = import(&app, "psc", &file).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(
        b["error"]["message"].as_str().unwrap().contains("line 2"),
        "{b}"
    );
    assert_eq!(entity_count(&app).await, before);

    // A PSC that ceased before it was notified: the store refuses it, naming the record, and
    // the parties read before it are rolled back too.
    let bad = psc_line(
        "00000003",
        json!({
            "kind": "individual-person-with-significant-control",
            "name": "John Example",
            "natures_of_control": ["ownership-of-shares-25-to-50-percent"],
            "notified_on": "2021-05-01",
            "ceased_on": "2020-05-01",
            "links": {"self": "/company/00000003/persons-with-significant-control/individual/john"}
        }),
    );
    let (s, b) = import(&app, "psc", &format!("{good}\n{bad}\n")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("psc line 2:"),
        "{b}"
    );
    assert_eq!(entity_count(&app).await, before);

    let (s, b) = app.upload("/v1/imports?format=xlsx", b"x".to_vec()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["error"]["field"], "format");
}

#[tokio::test]
async fn a_name_alone_makes_a_possible_match_never_a_merge() {
    let app = TestApp::new().await;
    let (s, b) = app
        .post(
            "/v1/entities",
            json!({"id": "northwind-ky", "name": "Northwind Trading Limited", "jurisdiction": "KY"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let file = psc_line(
        "07654321",
        json!({
            "kind": "corporate-entity-person-with-significant-control",
            "name": "Northwind Trading Ltd",
            "identification": {"country_registered": "Cayman Islands", "legal_form": "Limited company"},
            "natures_of_control": ["ownership-of-shares-75-to-100-percent"],
            "notified_on": "2018-01-01",
            "links": {"self": "/company/07654321/persons-with-significant-control/corporate-entity/nw"}
        }),
    );
    let (s, summary) = import(&app, "psc", &file).await;
    assert_eq!(s, StatusCode::OK, "{summary}");
    assert_eq!(summary["possible_matches"], 1, "{summary}");
    assert_eq!(summary["resolved"]["new"], 2, "{summary}");

    let page = sources(&app, "northwind-ky").await;
    let m = &page["possible_matches"][0];
    assert_eq!(m["basis"], "name");
    assert_eq!(m["status"], "pending");
    assert!(m["score"].as_f64().unwrap() >= ownergraph::matching::REVIEW_THRESHOLD);
    // Not merged: the store's entity has no registry statement and no ownership.
    assert_eq!(page["statements"].as_array().unwrap().len(), 0, "{page}");
    assert!(page["ownerships"].as_array().unwrap().is_empty());
    let newcomer = m["entity"].as_str().unwrap().to_owned();
    assert_eq!(m["candidate"], "northwind-ky");

    // The pair waits in the review queue until a person decides.
    let (s, queue) = app.get("/v1/possible-matches?status=pending").await;
    assert_eq!(s, StatusCode::OK, "{queue}");
    assert_eq!(queue["items"].as_array().unwrap().len(), 1);
    let id = queue["items"][0]["id"].as_i64().unwrap();
    let decide = |decision: &str| json!({"decision": decision, "note": "same Cayman company, checked the register"});
    let (s, decided) = app
        .post(
            &format!("/v1/possible-matches/{id}/decisions"),
            decide("confirmed"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{decided}");
    assert_eq!(decided["status"], "confirmed");
    assert_eq!(decided["decided_by"], "tester");

    // Merged into the older entity: the registry's statement and its holding moved there.
    let (s, _) = app.get(&format!("/v1/entities/{newcomer}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let page = sources(&app, "northwind-ky").await;
    let said: Vec<(&str, &str)> = page["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["source"].as_str().unwrap(),
                s["resolved_by"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(said.contains(&("uk-psc", "merged")), "{page}");
    assert_eq!(page["ownerships"][0]["owner"], "northwind-ky", "{page}");
    assert_eq!(page["ownerships"][0]["owned"], "uk-psc:GB:07654321");
    let (_, entity) = app.get("/v1/entities/northwind-ky").await;
    assert_eq!(entity["name"], "Northwind Trading Limited");
    assert_eq!(
        entity["aliases"],
        json!(["Northwind Trading Ltd"]),
        "{entity}"
    );
    // The graph follows: listing the survivor now taints what the record said it holds.
    app.policy(json!([ofac_50()])).await;
    app.list("northwind-ky").await;
    let held = app.screen("uk-psc:GB:07654321").await;
    assert_eq!(held["decision"], "block", "{held}");

    // A decision is made once.
    let (s, b) = app
        .post(
            &format!("/v1/possible-matches/{id}/decisions"),
            decide("rejected"),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    let (s, _) = app
        .post("/v1/possible-matches/999999/decisions", decide("rejected"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn owners_declared_unknown_are_a_screening_reason() {
    let app = TestApp::new().await;
    // 00000010 is held 75–100% by 00000011, which states that its own PSC's details are not
    // confirmed.
    let file = [
        psc_line(
            "00000010",
            json!({
                "kind": "corporate-entity-person-with-significant-control",
                "name": "Holdco Eleven Limited",
                "identification": {"country_registered": "England", "place_registered": "Companies House",
                                   "registration_number": "00000011", "legal_form": "Limited company"},
                "natures_of_control": ["ownership-of-shares-75-to-100-percent"],
                "notified_on": "2017-01-01",
                "links": {"self": "/company/00000010/persons-with-significant-control/corporate-entity/h11"}
            }),
        ),
        psc_line(
            "00000011",
            json!({
                "kind": "persons-with-significant-control-statement",
                "statement": "psc-details-not-confirmed",
                "notified_on": "2018-02-01",
                "links": {"self": "/company/00000011/persons-with-significant-control-statements/s1"}
            }),
        ),
    ]
    .join("\n");
    let (s, summary) = import(&app, "psc", &file).await;
    assert_eq!(s, StatusCode::OK, "{summary}");
    assert_eq!(summary["declared_unknowns"]["added"], 1, "{summary}");

    app.policy(json!([{"id": "opaque-owners", "kind": "unknown_owners", "threshold": 25}]))
        .await;
    let screening = app.screen("uk-psc:GB:00000010").await;
    assert_eq!(screening["decision"], "review", "{screening}");
    let r = reason(&screening, "opaque-owners").unwrap();
    assert_eq!(r["basis"], "owners_unknown");
    assert_eq!(r["sources"], json!(["uk-psc:GB:00000011"]));
    assert_eq!(r["share"], 75.0);
    assert_eq!(r["paths"][0][0]["owner"], "uk-psc:GB:00000011");
    let declared = &r["unknown_owners"][0];
    assert_eq!(declared["source_reason"], "psc-details-not-confirmed");
    assert_eq!(
        declared["reason"],
        "subjectUnableToConfirmOrIdentifyBeneficialOwner"
    );
    assert_eq!(declared["source"], "uk-psc");

    // Before the statement was made, and under a rule that counts other reasons only, clear.
    let (_, early) = app
        .post(
            "/v1/screenings",
            json!({"entity": "uk-psc:GB:00000010", "as_of": "2018-01-31"}),
        )
        .await;
    assert_eq!(early["decision"], "clear", "{early}");
    app.policy(json!([{"id": "opaque-owners", "kind": "unknown_owners",
                       "reasons": ["noBeneficialOwners"]}]))
        .await;
    assert_eq!(app.screen("uk-psc:GB:00000010").await["decision"], "clear");
    let (s, b) = app
        .put(
            "/v1/policy",
            json!({"rules": [{"id": "u", "kind": "unknown_owners", "reasons": ["nobody"]}]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["error"]["field"], "rules[0].reasons[0]");

    // A restarted service loads the declarations from the store.
    app.policy(json!([{"id": "opaque-owners", "kind": "unknown_owners"}]))
        .await;
    let again = app.screen_after_restart("uk-psc:GB:00000010").await;
    assert_eq!(again["decision"], "review", "{again}");
}

/// Every BODS 0.4 example and fixture: import, export, import again into the same store
/// (nothing changes) and into a fresh one (the same export).
#[tokio::test]
async fn bods_examples_round_trip_through_the_store() {
    let dir = ownergraph::testdata::shared_data_dir().join("ownership");
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for sub in ["bods-v0.4-examples", "bods-v04-fixtures"] {
        let mut stack = vec![dir.join(sub)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "json") {
                    files.push(p);
                }
            }
        }
    }
    files.sort();
    assert_eq!(files.len(), 22, "{files:?}");
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy();
        let app = TestApp::new().await;
        let (s, first) = app
            .upload("/v1/imports?format=bods", std::fs::read(file).unwrap())
            .await;
        assert_eq!(s, StatusCode::OK, "{name}: {first}");
        let (s, export) = app.get("/v1/export/bods").await;
        assert_eq!(s, StatusCode::OK, "{name}: {export}");
        let bytes = serde_json::to_vec(&export).unwrap();
        ownergraph::formats::parse_bods("export.json", &bytes)
            .unwrap_or_else(|e| panic!("{name}: the export does not read back: {e}"));

        let (s, again) = app.upload("/v1/imports?format=bods", bytes.clone()).await;
        assert_eq!(s, StatusCode::OK, "{name}: {again}");
        assert!(
            again["version"].is_null(),
            "{name}: re-importing the export changed {again}"
        );

        let fresh = TestApp::new().await;
        let (s, b) = fresh.upload("/v1/imports?format=bods", bytes).await;
        assert_eq!(s, StatusCode::OK, "{name}: {b}");
        let (_, export2) = fresh.get("/v1/export/bods").await;
        assert_eq!(
            export, export2,
            "{name}: a fresh store exports something else"
        );
    }
}

/// A real register line: a British company held 75–100% by a Chinese state body.
#[tokio::test]
async fn a_uk_company_held_from_a_restricted_region_is_blocked() {
    let app = TestApp::new().await;
    app.policy(json!([unsupported_regions()])).await;
    let (s, summary) = app
        .upload(
            "/v1/imports?format=psc",
            read_shared("ownership/uk-psc/companies-house-snapshot-lines/psc-data-5.json"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{summary}");
    let screening = app.screen("uk-psc:GB:07102351").await;
    assert_eq!(screening["decision"], "block", "{screening}");
    let r = reason(&screening, "unsupported-regions").unwrap();
    assert_eq!(r["basis"], "owned");
    let owner = r["sources"][0].as_str().unwrap();
    let (_, entity) = app.get(&format!("/v1/entities/{owner}")).await;
    assert_eq!(entity["name"], "State Administration Of Foreign Exchange");
    assert_eq!(entity["jurisdiction"], "CN", "{entity}");
    assert_eq!(entity["headquarters"], "CN", "{entity}");
}

#[tokio::test]
async fn a_registry_upload_is_read_as_it_streams_in() {
    use axum::body::Body;
    use axum::http::Request;
    use futures_util::StreamExt;

    let app = TestApp::new().await;
    // 2,000 companies, each wholly owned by one person: larger than one import batch, sent
    // in small chunks that split lines anywhere.
    let file: String = (0..2_000)
        .map(|i| {
            let company = format!("{:08}", 10_000_000 + i);
            psc_line(
                &company,
                json!({
                    "kind": "individual-person-with-significant-control",
                    "name": format!("Owner {i}"),
                    "natures_of_control": ["ownership-of-shares-75-to-100-percent"],
                    "notified_on": "2020-01-01",
                    "links": {"self": format!("/company/{company}/persons-with-significant-control/individual/p{i}")}
                }),
            ) + "\n"
        })
        .collect();
    let chunks: Vec<Vec<u8>> = file.as_bytes().chunks(997).map(<[u8]>::to_vec).collect();
    let body = Body::from_stream(futures_util::stream::iter(chunks).map(Ok::<_, std::io::Error>));
    let req = Request::builder()
        .method("POST")
        .uri("/v1/imports?format=psc")
        .header("content-type", "application/octet-stream")
        .header("authorization", app.bearer())
        .body(body)
        .unwrap();
    let (s, summary) = app.raw(req).await;
    assert_eq!(s, StatusCode::OK, "{summary}");
    assert_eq!(summary["resolved"]["new"], 4_000, "{summary}");
    assert_eq!(summary["ownerships"]["added"], 2_000, "{summary}");
    // The same bytes in one piece are the same file: nothing changes.
    let (s, again) = import(&app, "psc", &file).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again["sha256"], summary["sha256"]);
    assert_eq!(again["version"], Value::Null, "{again}");
}

/// An entity's neighbourhood: its owners and holdings up to the depth asked, no further.
#[tokio::test]
async fn a_neighbourhood_export_stops_at_its_depth() {
    let app = TestApp::new().await;
    app.entities(&["top", "mid", "sub", "leaf", "aside"]).await;
    app.owns("top", "mid", 100.0).await;
    app.owns("mid", "sub", 60.0).await;
    app.owns("aside", "sub", 40.0).await;
    app.owns("sub", "leaf", 100.0).await;
    let records = |export: &Value, kind: &str| -> Vec<String> {
        let mut ids: Vec<String> = export
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["recordType"] == kind)
            .map(|s| s["recordId"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };

    let (s, one) = app.get("/v1/export/bods?entity=sub&depth=1").await;
    assert_eq!(s, StatusCode::OK, "{one}");
    assert_eq!(records(&one, "entity"), ["aside", "leaf", "mid", "sub"]);
    assert_eq!(records(&one, "relationship").len(), 3, "{one}");

    let (_, all) = app.get("/v1/export/bods").await;
    assert_eq!(
        records(&all, "entity"),
        ["aside", "leaf", "mid", "sub", "top"]
    );
    assert_eq!(records(&all, "relationship").len(), 4, "{all}");

    let (s, b) = app.get("/v1/export/bods?entity=nobody&depth=1").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
}
