//! Every sanctions-list reader on arbitrary bytes: a clean error or a parse, never a panic,
//! a hang or unbounded memory. The first byte picks the format; for OFAC's CSV, which takes
//! three files, the rest is split at the first two 0xFF bytes into sdn.csv, alt.csv and add.csv.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ownergraph::formats::{Files, Format, parse};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let format = Format::ALL[usize::from(pick) % Format::ALL.len()];
    let files = if format == Format::OfacCsv {
        let mut parts = rest.splitn(3, |&b| b == 0xFF);
        let mut files = Files::new();
        for name in ["sdn.csv", "alt.csv", "add.csv"] {
            let part = parts.next().unwrap_or_default();
            if files.add(name, part.to_vec()).is_err() {
                return;
            }
        }
        files
    } else {
        Files::single("input", rest.to_vec())
    };
    let _ = parse(format, &files);
});
