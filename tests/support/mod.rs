//! What the test crates that run the real binary share: a database per test, and the
//! `ownergraph` service as a child process.

pub mod database;
pub mod server;
