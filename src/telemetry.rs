//! Logs: one JSON object per line by default, for log collectors, or text for a person at a
//! terminal (`--log-format text`). A JSON line holds the event's fields at the top level, and
//! the fields of the spans it was written in: for a request, its id, method and route
//! ([`crate::http::trace`]).
//!
//! Must not break: in the JSON format every line on stderr is a JSON object.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{Format, Json, JsonFields};
use tracing_subscriber::fmt::time::SystemTime;
use tracing_subscriber::fmt::{MakeWriter, SubscriberBuilder};

/// What is logged unless `RUST_LOG` says otherwise.
const DEFAULT_FILTER: &str = "info,sqlx=warn,tower_http=info";

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines, coloured on a terminal.
    Text,
}

/// The JSON log format, writing to `writer`.
pub fn json<W>(
    filter: EnvFilter,
    writer: W,
) -> SubscriberBuilder<JsonFields, Format<Json, SystemTime>, EnvFilter, W>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(true)
}

/// Installs the process's logger, writing to stderr, filtered by `RUST_LOG`.
pub fn init(format: LogFormat) {
    let filter =
        || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let _ = match format {
        LogFormat::Json => json(filter(), std::io::stderr).try_init(),
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}
