//! Re-screening jobs: what a caller asks for, and what a job reports.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Decision, Invalid, Reason};

/// Which entities a job screens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every entity of the graph.
    All,
    /// The entities a change since `since_version` can reach: the entities whose listings,
    /// jurisdictions or ownerships changed, and everything they hold, directly or not.
    Affected,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Affected => "affected",
        }
    }
}

/// `POST /v1/jobs/rescreen`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescreenRequest {
    pub scope: Scope,
    /// For `affected`: the graph version to look for changes after. Defaults to the graph
    /// version of the last job that finished.
    pub since_version: Option<i64>,
    /// The date to screen at; defaults to the day the job runs (UTC).
    pub as_of: Option<NaiveDate>,
}

impl RescreenRequest {
    pub fn check(&self) -> Result<(), Invalid> {
        match (self.scope, self.since_version) {
            (Scope::All, Some(_)) => Err(Invalid::new(
                "since_version",
                "not_for_scope",
                "since_version applies to scope affected only",
            )),
            (_, Some(v)) if v < 0 => Err(Invalid::new(
                "since_version",
                "invalid_version",
                "since_version is a graph version, 0 or more",
            )),
            _ => Ok(()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            _ => return None,
        })
    }

    pub fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

/// Results so far, per decision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DecisionCounts {
    pub clear: i64,
    pub review: i64,
    pub block: i64,
}

impl DecisionCounts {
    pub fn add(&mut self, d: Decision) {
        match d {
            Decision::Clear => self.clear += 1,
            Decision::Review => self.review += 1,
            Decision::Block => self.block += 1,
        }
    }
}

/// A re-screening job, as `GET /v1/jobs/{id}` reports it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub scope: Scope,
    pub since_version: Option<i64>,
    pub as_of: Option<NaiveDate>,
    pub status: JobStatus,
    /// What asked for the job: `request`, `list_import` or `registry_import`.
    pub trigger: String,
    pub actor: String,
    /// The graph and policy versions of the one snapshot the job ran on.
    pub graph_version: Option<i64>,
    pub policy_version: Option<i64>,
    /// Entities to screen, once known; `done` of them have a stored result.
    pub total: Option<i64>,
    pub done: i64,
    pub counts: DecisionCounts,
    /// Results stored per second since the job started.
    pub rate_per_s: Option<f64>,
    /// Seconds until the job should finish, at that rate.
    pub eta_s: Option<f64>,
    /// Why an `affected` job screened everything, why a job failed, or that it was started
    /// again after the service running it stopped.
    pub notes: Vec<String>,
    pub error: Option<String>,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// One entity's result in a job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobResult {
    pub entity: String,
    pub decision: Decision,
    /// The reasons, with ownership paths and shares, as a screening of the entity gives them.
    pub reasons: Vec<Reason>,
}
