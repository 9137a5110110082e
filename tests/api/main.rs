//! API tests: the real router against a real Postgres database, one database per test.

mod access;
mod alerts;
mod audit;
mod concurrency;
#[path = "../support/database.rs"]
mod database;
mod entities;
mod harness;
mod hostile;
mod imports;
mod jobs;
mod keys;
mod limits;
mod lists_policy;
mod matching;
mod operations;
mod ownerships;
mod registry;
mod screenings;
mod seed;
