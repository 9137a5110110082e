//! List imports over HTTP, from the real list files in the shared data folder.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::harness::{TestApp, ofac_50, reason};
use ownergraph::testdata::read_shared;

/// POSTs one list file as the body of an import.
async fn import_file(
    app: &TestApp,
    list: &str,
    format: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    app.upload(&format!("/v1/lists/{list}/import?format={format}"), bytes)
        .await
}

/// POSTs the OFAC CSV files as `multipart/form-data`.
async fn import_parts(app: &TestApp, list: &str, parts: &[(&str, Vec<u8>)]) -> (StatusCode, Value) {
    app.upload_parts(&format!("/v1/lists/{list}/import?format=ofac-csv"), parts)
        .await
}

fn ofac_parts(dir: &str) -> Vec<(&'static str, Vec<u8>)> {
    ["sdn.csv", "alt.csv", "add.csv"]
        .into_iter()
        .map(|f| (f, read_shared(&format!("sanctions/ofac/{dir}/{f}"))))
        .collect()
}

/// Every entry of a list, through the paged listing.
async fn all_entries(app: &TestApp, list: &str) -> Vec<Value> {
    app.all_pages(&format!("/v1/lists/{list}/entries?limit=1000"))
        .await
}

fn count(summary: &Value, field: &str) -> u64 {
    summary[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} in {summary}"))
}

#[tokio::test]
async fn the_full_ofac_snapshot_imports_once_and_again_changes_nothing() {
    let app = TestApp::new().await;
    let (s, first) = import_parts(&app, "ofac-sdn", &ofac_parts("full_2021")).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    assert_eq!(first["list_created"], true);
    assert_eq!(count(&first, "records"), 8976);
    assert_eq!(count(&first, "added"), 8976);
    assert!(first["graph_version"].is_i64());

    // The entry keeps OFAC's ent_num as its id, with its aliases and country.
    let (s, e) = app.get("/v1/lists/ofac-sdn/entries/36").await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(e["name"], "AEROCARIBBEAN AIRLINES");
    assert!(
        e["aliases"]
            .as_array()
            .unwrap()
            .contains(&json!("AERO-CARIBBEAN"))
    );
    assert_eq!(e["countries"], json!(["CU"]));
    assert_eq!(e["listed_on"], Value::Null, "OFAC's CSV states no dates");

    let (s, again) = import_parts(&app, "ofac-sdn", &ofac_parts("full_2021")).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    for field in ["added", "changed", "relisted", "delisted"] {
        assert_eq!(count(&again, field), 0, "{field}: {again}");
    }
    assert_eq!(count(&again, "unchanged"), 8976);
    assert_eq!(again["graph_version"], Value::Null, "{again}");
    assert_eq!(again["sha256"], first["sha256"]);

    let (s, lists) = app.get("/v1/lists").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(lists["items"].as_array().unwrap().len(), 1);
    assert_eq!(all_entries(&app, "ofac-sdn").await.len(), 8976);
}

/// The first `n` entries of the full OFAC snapshot, with their alternate names and addresses,
/// as OFAC would publish such a list; `edit` may change the entry rows first.
fn ofac_subset(n: usize, edit: impl Fn(&mut Vec<String>)) -> Vec<(&'static str, Vec<u8>)> {
    let rows = |f: &str| -> Vec<String> {
        String::from_utf8_lossy(&read_shared(&format!("sanctions/ofac/full_2021/{f}")))
            .split_inclusive('\n')
            .map(str::to_owned)
            .filter(|r| !r.trim_start_matches('\u{1a}').trim().is_empty())
            .collect()
    };
    let ent = |r: &str| r.split(',').next().unwrap_or_default().to_owned();
    let mut sdn: Vec<String> = rows("sdn.csv").into_iter().take(n).collect();
    edit(&mut sdn);
    let kept: Vec<String> = sdn.iter().map(|r| ent(r)).collect();
    let file = |lines: Vec<String>| {
        let mut text: String = lines.concat();
        text.push('\u{1a}');
        text.into_bytes()
    };
    let related = |f: &str| {
        file(
            rows(f)
                .into_iter()
                .filter(|r| kept.contains(&ent(r)))
                .collect(),
        )
    };
    vec![
        ("sdn.csv", file(sdn.clone())),
        ("alt.csv", related("alt.csv")),
        ("add.csv", related("add.csv")),
    ]
}

/// Drops the first entry, renames the second and adds one.
fn edited(rows: &mut Vec<String>) {
    rows.remove(0);
    // The name is the first quoted field; it may hold commas.
    let start = rows[0].find(",\"").unwrap() + 2;
    let end = start + rows[0][start..].find("\",").unwrap();
    rows[0].replace_range(start..end, "RENAMED TRADING COMPANY");
    rows.push(
        "999999,\"NEWLY LISTED HOLDINGS LTD\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n"
            .to_owned(),
    );
}

#[tokio::test]
async fn a_reimport_counts_what_appeared_changed_and_disappeared() {
    let app = TestApp::new().await;
    let (s, first) = import_parts(&app, "sdn", &ofac_subset(40, |_| {})).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let before = all_entries(&app, "sdn").await;
    assert_eq!(before.len() as u64, count(&first, "records"));

    let (s, delta) = import_parts(&app, "sdn", &ofac_subset(40, edited)).await;
    assert_eq!(s, StatusCode::OK, "{delta}");
    assert_eq!(count(&delta, "added"), 1, "{delta}");
    assert_eq!(count(&delta, "changed"), 1, "{delta}");
    assert_eq!(count(&delta, "delisted"), 1, "{delta}");
    assert_eq!(count(&delta, "unchanged"), count(&first, "records") - 2);

    let today = chrono::Utc::now().date_naive().to_string();
    let after = all_entries(&app, "sdn").await;
    let delisted: Vec<&Value> = after
        .iter()
        .filter(|e| !e["delisted_on"].is_null())
        .collect();
    assert_eq!(delisted.len(), 1);
    assert_eq!(delisted[0]["delisted_on"], json!(today));
    let added = after.iter().find(|e| e["id"] == "999999").unwrap();
    assert_eq!(added["name"], "NEWLY LISTED HOLDINGS LTD");
    assert_eq!(
        added["listed_on"],
        json!(today),
        "appeared in a later import"
    );
    assert!(after.iter().any(|e| e["name"] == "RENAMED TRADING COMPANY"));

    // The same edited files again change nothing, and the original relists the dropped entry.
    let (_, same) = import_parts(&app, "sdn", &ofac_subset(40, edited)).await;
    assert_eq!(same["graph_version"], Value::Null, "{same}");
    let (_, back) = import_parts(&app, "sdn", &ofac_subset(40, |_| {})).await;
    assert_eq!(count(&back, "relisted"), 1, "{back}");
    assert_eq!(count(&back, "delisted"), 1, "the added one leaves: {back}");
    // Listed and delisted on one day, it left no trace; stated again, it comes back.
    let (s, again) = import_parts(&app, "sdn", &ofac_subset(40, edited)).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(count(&again, "relisted"), 1, "{again}");
    assert_eq!(count(&again, "delisted"), 1, "{again}");
    let (s, e) = app.get("/v1/lists/sdn/entries/999999").await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!(e["delisted_on"], Value::Null);
}

#[tokio::test]
async fn a_truncated_file_is_rejected_whole_and_the_list_stays_as_it_was() {
    let app = TestApp::new().await;
    let un = read_shared("sanctions/un/un_consolidated_2026-02-27.xml");
    let (s, first) = import_file(&app, "un-sc", "un-xml", un.clone()).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let before = all_entries(&app, "un-sc").await;

    let cut = un[..un.len() * 2 / 3].to_vec();
    let (s, err) = import_file(&app, "un-sc", "un-xml", cut).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["error"]["code"], "invalid_file");
    assert!(
        err["error"]["message"].as_str().unwrap().contains("line"),
        "names the line: {err}"
    );
    assert_eq!(all_entries(&app, "un-sc").await, before);

    // A truncated file for a list that does not exist yet creates nothing.
    let (s, _) = import_file(&app, "other", "un-xml", un[..1000].to_vec()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.get("/v1/lists/other").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_sample_format_imports() {
    let app = TestApp::new().await;
    let cases = [
        (
            "ofac-xml",
            "sanctions/ofac/sdn_xml_excerpt_2020-04-22.xml",
            8,
        ),
        (
            "un-xml",
            "sanctions/un/un_consolidated_2026-02-27.xml",
            1003,
        ),
        (
            "uk-csv",
            "sanctions/uk/uk_hmt_conlist_sample_2020-04-27.csv",
            6,
        ),
    ];
    for (format, path, records) in cases {
        let list = format!("list-{format}");
        let (s, summary) = import_file(&app, &list, format, read_shared(path)).await;
        assert_eq!(s, StatusCode::OK, "{format}: {summary}");
        assert_eq!(count(&summary, "records"), records, "{format}");
        assert_eq!(all_entries(&app, &list).await.len() as u64, records);
    }
    // The EU sample holds a test entry ("TestOneWord") that reuses another entry's logicalId:
    // an ambiguous file, refused whole with both places named. Without it, it imports.
    let eu = String::from_utf8(read_shared("sanctions/eu/eu_fsf_sample_2020-04-15.xml")).unwrap();
    let (s, err) = import_file(&app, "eu", "eu-xml", eu.clone().into_bytes()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("line 110") && message.contains("5468"),
        "{err}"
    );
    let start = eu
        .find("TestOneWord")
        .and_then(|i| eu[..i].rfind("<sanctionEntity"))
        .unwrap();
    let end = start + eu[start..].find("</sanctionEntity>").unwrap() + "</sanctionEntity>".len();
    let cleaned = format!("{}{}", &eu[..start], &eu[end..]);
    let (s, summary) = import_file(&app, "eu", "eu-xml", cleaned.into_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{summary}");
    assert_eq!(count(&summary, "records"), 6);

    let (s, err) = import_file(&app, "x", "csv", b"a,b".to_vec()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["error"]["field"], "format");
}

/// The OpenSanctions cluster around Zala Aero, with its ownerships (CC BY-NC: read in place,
/// never copied into the repository).
fn zala() -> Vec<u8> {
    read_shared("sanctions/opensanctions/ftm/zala_cluster.entities.ftm.json")
}

const LLC_CST: &str = "NK-abdzbEBkqyT29GyREbiURZ";
const KALASHNIKOV: &str = "NK-nR5AXM9AVPq4pQaSPSaVam";
const ZAKHAROV: &str = "NK-aU5ybkbRFJucf8YMwsJvDw";

#[tokio::test]
async fn ftm_ownerships_enter_the_graph_and_sanctioned_parties_are_designated() {
    let app = TestApp::new().await;
    app.policy(json!([ofac_50()])).await;
    let (s, summary) = import_file(&app, "os-zala", "ftm", zala()).await;
    assert_eq!(s, StatusCode::OK, "{summary}");
    assert!(count(&summary, "entities_created") >= 17, "{summary}");
    assert_eq!(count(&summary, "ownerships_added"), 14, "{summary}");
    assert_eq!(count(&summary, "designating"), count(&summary, "records"));

    // LLC CST's owners come from the file: Kalashnikov Concern and Zakharov among them.
    let (s, owners) = app.get(&format!("/v1/entities/{LLC_CST}/owners")).await;
    assert_eq!(s, StatusCode::OK, "{owners}");
    let ids: Vec<&str> = owners["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["entity"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&KALASHNIKOV), "{owners}");
    assert!(ids.contains(&ZAKHAROV), "{owners}");

    // Kalashnikov Concern is sanctioned in the file: a screening says so, with the entry.
    let screening = app.screen(KALASHNIKOV).await;
    assert_eq!(screening["decision"], "block", "{screening}");
    let r = reason(&screening, "ofac-50").unwrap();
    assert_eq!(r["basis"], "listed");
    assert_eq!(r["listings"][0]["list"], "os-zala");

    // Importing the same file again changes nothing.
    let (_, again) = import_file(&app, "os-zala", "ftm", zala()).await;
    assert_eq!(again["graph_version"], Value::Null, "{again}");
    assert_eq!(count(&again, "entities_updated"), 0);
    assert_eq!(count(&again, "ownerships_changed"), 0);
}

#[tokio::test]
async fn a_delisting_keeps_history_for_as_of_screening() {
    let app = TestApp::new().await;
    app.policy(json!([ofac_50()])).await;
    let (s, _) = import_file(&app, "os-zala", "ftm", zala()).await;
    assert_eq!(s, StatusCode::OK);
    // The file again, without Kalashnikov Concern's designations: it is no longer sanctioned.
    let text = String::from_utf8(zala()).unwrap();
    let without: String = text
        .lines()
        .filter_map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            let about_it = v["properties"]["entity"]
                .as_array()
                .is_some_and(|e| e.iter().any(|x| x == KALASHNIKOV));
            if v["schema"] == "Sanction" && about_it {
                return None;
            }
            if v["id"] == KALASHNIKOV {
                v["properties"]["topics"] = json!([]);
            }
            Some(format!("{v}\n"))
        })
        .collect();
    let (s, delta) = import_file(&app, "os-zala", "ftm", without.into_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{delta}");
    assert_eq!(count(&delta, "delisted"), 1, "{delta}");

    let now = app.screen(KALASHNIKOV).await;
    assert!(
        reason(&now, "ofac-50").is_none_or(|r| r["basis"] != "listed"),
        "{now}"
    );
    let yesterday = (chrono::Utc::now().date_naive() - chrono::Days::new(1)).to_string();
    let (s, then) = app
        .post(
            "/v1/screenings",
            json!({"entity": KALASHNIKOV, "as_of": yesterday}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        reason(&then, "ofac-50").unwrap()["basis"],
        "listed",
        "{then}"
    );
}
