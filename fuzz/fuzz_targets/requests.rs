//! The JSON request bodies, parsed and validated exactly as the HTTP layer does
//! (`http::extract::parse_json`): a 400 or 422, or a value, never a panic. The first byte picks
//! the request type; a policy is also checked as `PUT /v1/policy` checks it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ownergraph::db::matches::MatchDecision;
use ownergraph::domain::{
    AlertDecisionRequest, EntityPatch, ListPatch, MatchRequest, NewEntity, NewEntry, NewList,
    NewOwnership, PolicySpec, RescreenRequest, ScreeningRequest,
};
use ownergraph::http::extract::parse_json;
use ownergraph::http::keys::NewKeyRequest;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    match pick % 13 {
        0 => drop(parse_json::<NewEntity>(body)),
        1 => drop(parse_json::<EntityPatch>(body)),
        2 => drop(parse_json::<NewOwnership>(body)),
        3 => drop(parse_json::<NewEntry>(body)),
        4 => drop(parse_json::<ScreeningRequest>(body)),
        5 => drop(parse_json::<MatchRequest>(body)),
        6 => drop(parse_json::<RescreenRequest>(body)),
        7 => drop(parse_json::<AlertDecisionRequest>(body)),
        8 => drop(parse_json::<NewList>(body)),
        9 => drop(parse_json::<ListPatch>(body)),
        10 => drop(parse_json::<MatchDecision>(body)),
        11 => drop(parse_json::<NewKeyRequest>(body)),
        _ => {
            if let Ok(spec) = parse_json::<PolicySpec>(body) {
                let _ = spec.check(|_| true);
            }
        }
    }
});
