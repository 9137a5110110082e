//! Test-only access to the shared sample data: real sanctions-list files and third-party
//! fixtures that are read in place and never copied into this repository.

use std::path::PathBuf;

/// The shared data folder: `$OWNERGRAPH_SHARED_DATA` when set, otherwise `../shared/data`
/// next to the crate.
pub fn shared_data_dir() -> PathBuf {
    match std::env::var_os("OWNERGRAPH_SHARED_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"),
    }
}

/// A path inside the shared data folder, e.g. `sanctions/un/un_sample_2024-10-17.xml`.
pub fn shared_path(relative: &str) -> PathBuf {
    shared_data_dir().join(relative)
}

/// The bytes of a shared file; panics with the path when it cannot be read.
pub fn read_shared(relative: &str) -> Vec<u8> {
    let path = shared_path(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}
