//! API tests: the real router against a real Postgres database, one database per test.

mod alerts;
mod audit;
mod concurrency;
mod entities;
mod harness;
mod imports;
mod instances;
mod jobs;
mod lists_policy;
mod matching;
mod ownerships;
mod process;
mod registry;
mod screenings;
mod seed;
