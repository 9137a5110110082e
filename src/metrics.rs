//! What the service counts and shows at `GET /metrics`: requests by route, screenings by
//! decision and by the rule behind each reason, and the figures read when scraped (graph size
//! and version, change-log lag, jobs, readiness).
//!
//! Every [`AppState`](crate::app::AppState) owns its own [`Metrics`], so services that share a
//! process (the tests start many) never mix their counts.
//!
//! Must not break: every label value comes from a bounded set (known methods, route templates
//! and never raw paths, status codes, policy rule ids), so no client can grow the number of
//! series.

use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::db::jobs::OpenJobs;
use crate::domain::Screening;

/// Every metric name starts with this.
const PREFIX: &str = "ownergraph";

/// Request latency buckets in seconds: from screenings (under a millisecond) to imports.
const LATENCY_BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    120.0,
];

/// One kind of answered request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// An HTTP method the API knows, or `other`.
    pub method: &'static str,
    /// The route template that matched (`/v1/entities/{id}`), or `unmatched`.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    decision: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    rule: String,
    decision: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: &'static str,
}

type LatencyFamily = Family<RequestLabels, Histogram, fn() -> Histogram>;

/// The counters of one service, in their registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    screenings: Family<DecisionLabels, Counter>,
    reasons: Family<ReasonLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix(PREFIX);
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = LatencyFamily::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS));
        let screenings = Family::<DecisionLabels, Counter>::default();
        let reasons = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request (until the response head), by method, route template and status",
            latency.clone(),
        );
        registry.register(
            "screenings",
            "Screenings answered and stored, by decision",
            screenings.clone(),
        );
        registry.register(
            "screening_reasons",
            "Reasons given by screenings, by rule and the decision of the reason",
            reasons.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            screenings,
            reasons,
        }
    }

    /// Counts an answered request.
    pub fn request(&self, labels: RequestLabels, latency: Duration) {
        self.latency
            .get_or_create(&labels)
            .observe(latency.as_secs_f64());
        self.requests.get_or_create(&labels).inc();
    }

    /// Counts a screening that was answered, and each of its reasons.
    pub fn screened(&self, s: &Screening) {
        self.screenings
            .get_or_create(&DecisionLabels {
                decision: s.decision.as_str(),
            })
            .inc();
        for r in &s.reasons {
            self.reasons
                .get_or_create(&ReasonLabels {
                    rule: r.rule.clone(),
                    decision: r.decision.as_str(),
                })
                .inc();
        }
    }

    /// The exposition: the counters, then `now`, in the OpenMetrics text format.
    pub fn encode(&self, now: &Figures) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(8 * 1024);
        encode_registry(&mut out, &self.registry)?;
        encode_registry(&mut out, &now.registry())?;
        encode_eof(&mut out)?;
        Ok(out)
    }
}

/// What a scrape reads at that moment.
#[derive(Debug)]
pub struct Figures {
    /// The graph is loaded (what `/readyz` also needs).
    pub ready: bool,
    pub entity_names_built: bool,
    pub graph_version: i64,
    pub graph_entities: usize,
    pub graph_links: usize,
    pub graph_advanced_at: SystemTime,
    /// None when the store did not answer in time.
    pub store: Option<StoreFigures>,
}

/// What a scrape reads from the store.
#[derive(Debug)]
pub struct StoreFigures {
    /// The latest committed change-log version.
    pub version: i64,
    pub jobs: OpenJobs,
}

impl Figures {
    /// A registry of gauges set to these figures, made for one scrape: nothing read once
    /// lingers into the next scrape.
    fn registry(&self) -> Registry {
        let mut r = Registry::with_prefix(PREFIX);
        let mut gauge = |name: &str, help: &str, value: i64| {
            let g: Gauge = Gauge::default();
            g.set(value);
            r.register(name, help, g);
        };
        gauge(
            "ready",
            "1 once the graph is loaded and requests are served",
            self.ready.into(),
        );
        gauge(
            "entity_name_index_ready",
            "1 once the entity name index (built after start-up) is complete",
            self.entity_names_built.into(),
        );
        gauge(
            "graph_version",
            "Change-log version of the graph that screenings read",
            self.graph_version,
        );
        gauge(
            "graph_entities",
            "Live entities in the graph",
            count(self.graph_entities),
        );
        gauge(
            "graph_links",
            "Ownership links in the graph",
            count(self.graph_links),
        );
        gauge(
            "store_up",
            "1 when the store answered this scrape in time",
            self.store.is_some().into(),
        );
        if let Some(store) = &self.store {
            gauge(
                "store_version",
                "Latest change-log version committed to the store",
                store.version,
            );
            gauge(
                "graph_lag_versions",
                "Committed change-log versions the graph has not applied yet",
                store.version - self.graph_version,
            );
            gauge(
                "job_entities",
                "Entities the running re-screening jobs will screen",
                store.jobs.total,
            );
            gauge(
                "job_done_entities",
                "Entities the running re-screening jobs have screened and stored",
                store.jobs.done,
            );
            let jobs = Family::<StatusLabels, Gauge>::default();
            jobs.get_or_create(&StatusLabels { status: "queued" })
                .set(store.jobs.queued);
            jobs.get_or_create(&StatusLabels { status: "running" })
                .set(store.jobs.running);
            r.register(
                "jobs",
                "Re-screening jobs not yet ended, of every instance, by status",
                jobs,
            );
        }
        let advanced = Gauge::<f64, AtomicU64>::default();
        advanced.set(
            self.graph_advanced_at
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        );
        r.register(
            "graph_advanced_timestamp_seconds",
            "When the graph last moved to a new version (or the service started), in Unix seconds",
            advanced,
        );
        r
    }
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(store: Option<StoreFigures>) -> Figures {
        Figures {
            ready: true,
            entity_names_built: false,
            graph_version: 40,
            graph_entities: 7,
            graph_links: 5,
            graph_advanced_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            store,
        }
    }

    /// The exposition names each figure once, with its value, and the lag is the store's
    /// version less the graph's.
    #[test]
    fn figures_read_at_scrape_time_are_exposed_with_their_values() {
        let m = Metrics::new();
        let text = m
            .encode(&figures(Some(StoreFigures {
                version: 43,
                jobs: OpenJobs {
                    queued: 2,
                    running: 1,
                    done: 300,
                    total: 1000,
                },
            })))
            .unwrap();
        for line in [
            "ownergraph_ready 1",
            "ownergraph_entity_name_index_ready 0",
            "ownergraph_graph_version 40",
            "ownergraph_graph_entities 7",
            "ownergraph_graph_links 5",
            "ownergraph_store_up 1",
            "ownergraph_store_version 43",
            "ownergraph_graph_lag_versions 3",
            "ownergraph_job_entities 1000",
            "ownergraph_job_done_entities 300",
            "ownergraph_jobs{status=\"queued\"} 2",
            "ownergraph_jobs{status=\"running\"} 1",
            "ownergraph_graph_advanced_timestamp_seconds 1700000000.0",
        ] {
            assert_eq!(
                text.lines().filter(|l| *l == line).count(),
                1,
                "{line} in\n{text}"
            );
        }
        assert!(text.ends_with("# EOF\n"));
    }

    /// When the store does not answer, the figures it holds are left out rather than shown
    /// stale or as zero.
    #[test]
    fn without_the_store_its_figures_are_left_out() {
        let text = Metrics::new().encode(&figures(None)).unwrap();
        assert!(text.lines().any(|l| l == "ownergraph_store_up 0"), "{text}");
        assert!(text.lines().any(|l| l == "ownergraph_graph_version 40"));
        for gone in ["store_version", "graph_lag_versions", "ownergraph_jobs"] {
            assert!(!text.contains(gone), "{gone} in\n{text}");
        }
    }
}
