//! Imports: sanctions-list files ([`lists`]) and company-registry files ([`registry`]). Each
//! reads a file format ([`crate::formats`]) and applies what it states to the store in one
//! transaction. The CLI and the HTTP routes both come through here.

mod lists;
pub mod registry;

pub use lists::{ListImport, import_list};

use crate::db::DbError;
use crate::domain::Invalid;
use crate::formats::FormatError;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file does not parse; nothing was changed.
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<Invalid> for ImportError {
    fn from(e: Invalid) -> Self {
        Self::Db(DbError::Invalid(e))
    }
}
