//! Every ownership-registry reader (BODS 0.4, GLEIF, UK PSC) on arbitrary bytes: a clean error
//! or a parse, never a panic. The first byte picks the reader.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ownergraph::formats::{parse_bods, parse_gleif, parse_psc};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let _ = match pick % 3 {
        0 => parse_bods("input.json", rest),
        1 => parse_gleif("input.xml", rest),
        _ => parse_psc("input.jsonl", rest),
    };
});
