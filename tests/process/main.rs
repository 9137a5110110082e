//! The real `ownergraph serve` binary, run as processes: stopped by a supervisor, and several
//! instances on one store.

mod instances;
mod keys;
mod load;
mod shutdown;
#[path = "../support/mod.rs"]
mod support;
