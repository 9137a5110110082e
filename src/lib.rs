//! # ownergraph
//!
//! Screens legal entities against their ownership chains: does this entity's ownership reach
//! a sanctions-listed owner or a restricted jurisdiction, and why?
//!
//! # Layout
//!
//! - [`domain`]: validated types (`EntityId`, `Jurisdiction`, `Share`, policy rules, screening
//!   answers). JSON becomes these once, at the edge.
//! - [`engine`]: the in-memory graph (petgraph) and the rules. No I/O, no async.
//! - [`formats`]: readers of the public file formats (sanctions lists, company registries);
//!   parsing only, no I/O beyond reading bytes.
//! - [`matching`]: fuzzy name screening: normalisation, legal forms, token-aligned scoring with
//!   explanations, the in-memory candidate index over list names, and its evaluation.
//! - [`db`]: all the SQL: the store of record, the change log, loading the graph, and the
//!   audit trail (written by Postgres triggers; read and its hash chain checked here).
//! - [`http`]: the axum routes, extractors, error type and OpenAPI description; request ids
//!   and request logs (`http::trace`), `/metrics` (`http::metrics`).
//! - [`app`]: the running service: shared state, applying committed changes to the graph in
//!   change-log order, and start-up.
//! - [`import`]: importing list files: read the format, map it onto domain values, apply it
//!   as a delta.
//! - [`rescreen`]: re-screening jobs: the entities a change reaches, the whole-graph pass on
//!   one snapshot, and a stored result for every entity.
//! - [`metrics`]: what the service counts for `/metrics`, in a registry each service owns.
//! - [`telemetry`]: the log format (JSON lines, or text for a terminal).
//! - [`names`]: name screening in the running service: the name indexes of list entries and
//!   entities, kept in step with the change log.
//! - [`seed`]: the demonstration data set in `seed-data/`.
//! - [`gen`](crate::r#gen): a synthetic registry shaped like a real one, for benchmarks.
//! - [`cli`]: the `ownergraph` command line, `audit verify` among its commands.
//! - [`localpg`]: a private PostgreSQL cluster run from the installed binaries, for `serve`
//!   when no database is named and none answers at the default address.
//! - [`testdata`]: where tests and evaluations find the shared public sample data.

pub mod app;
pub mod cli;
pub mod db;
pub mod domain;
pub mod engine;
pub mod formats;
// `gen` is a reserved keyword from the 2024 edition on, hence the raw identifier.
pub mod r#gen;
pub mod http;
pub mod import;
pub mod localpg;
pub mod matching;
pub mod metrics;
pub mod names;
pub mod rescreen;
pub mod seed;
pub mod telemetry;
pub mod testdata;
