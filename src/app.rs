//! The running service: shared state, applying committed changes to the graph, storing
//! screenings, and the screening use case that ties the store and the engine together.
//!
//! Writes commit in Postgres first; then [`AppState::publish`] applies them to the graph in
//! change-log order and returns once the new snapshot is visible, so a client that got an
//! answer to its write sees that write in its next screening (read-your-writes). A version
//! that a writer committed but never published (its request was cancelled) is read back from
//! the change log, so a gap can delay the graph but never lose a change.
//!
//! Must not break: the published snapshot's version only grows, and every version up to it
//! has been applied exactly once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use chrono::Utc;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{Mutex, mpsc, oneshot, watch};

use crate::db::registry::RegistryImportSummary;
use crate::db::{self, Committed, DbError};
use crate::domain::{
    Candidate, EntityId, ImportSummary, Invalid, Job, Jurisdiction, ListMatch, ListSelector,
    MatchRequest, OwnerRef, Policy, RescreenRequest, Rule, Scope, Screening, ScreeningId,
    ScreeningRequest,
};
use crate::engine::{self, Declared, GraphChange, Local, NodeData, Party, Snapshot};
use crate::http::error::ApiError;
use crate::import::registry::RegistryFormat;
use crate::import::{self, ListImport};
use crate::matching::Record;
use crate::metrics::Metrics;
use crate::names::{self, EntityNames, NameChange, Names, Subject};
use crate::rescreen;

/// Overlay size past which the graph is compacted in the background.
const COMPACT_AFTER: usize = 50_000;

/// Channels the store announces on (`migrations/0007_notify.sql`).
const CHANGES: &str = "ownergraph_changes";
const POLICY: &str = "ownergraph_policy";
const JOBS: &str = "ownergraph_jobs";
const KEYS: &str = "ownergraph_keys";
/// How often the store is read even without an announcement.
const POLL_STORE: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub graph: Arc<ArcSwap<Snapshot>>,
    pub policy: Arc<ArcSwap<Policy>>,
    pub ready: Arc<AtomicBool>,
    /// The name indexes, at least as new as the published graph.
    pub names: Arc<RwLock<Names>>,
    /// What this service counts, for `/metrics`. Each state has its own registry.
    pub metrics: Arc<Metrics>,
    /// The API keys that may be used.
    pub keys: Arc<crate::http::auth::KeyRing>,
    /// The limits on requests in flight and on each key's rate.
    pub gate: Arc<crate::http::limits::Gate>,
    applier: Arc<Applier>,
    /// Woken when a job is queued.
    jobs: Arc<tokio::sync::Notify>,
    recorder: mpsc::Sender<(db::screenings::Record, oneshot::Sender<Result<(), String>>)>,
}

struct Applier {
    pending: Mutex<Pending>,
    applied: watch::Sender<i64>,
    /// When the published version last grew, in milliseconds since the Unix epoch.
    advanced_at: AtomicI64,
    /// Whether the entity name index is complete (it is built after start-up).
    entity_names: watch::Sender<bool>,
}

#[derive(Default)]
struct Pending {
    /// Committed changes waiting for the versions before them.
    waiting: BTreeMap<i64, Committed>,
    /// While a compaction runs: every change applied since it began, to replay on its result.
    since_compaction: Option<Vec<(i64, Vec<GraphChange>)>>,
    /// While the entity name index is being built: every entity name change applied since
    /// the build began, to replay on its result.
    entity_log: Option<Vec<(i64, Vec<NameChange>)>>,
    /// Counts full reloads, so that a compaction or an index build begun before one is
    /// discarded.
    reloads: u64,
    compacting: bool,
}

impl AppState {
    /// A service that is not ready yet: an empty graph, until [`AppState::load`] has run.
    /// This lets the listener answer `/healthz` and `/readyz` (503) while the graph loads.
    pub fn new(db: PgPool) -> Self {
        let (applied, _) = watch::channel(0);
        let (entity_names, _) = watch::channel(false);
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(record_screenings(db.clone(), rx));
        AppState {
            db,
            graph: Arc::new(ArcSwap::from_pointee(Snapshot::empty())),
            policy: Arc::new(ArcSwap::from_pointee(Policy::empty())),
            ready: Arc::new(AtomicBool::new(false)),
            names: Arc::new(RwLock::new(Names::new())),
            metrics: Arc::new(Metrics::new()),
            keys: Arc::default(),
            gate: Arc::new(crate::http::limits::Gate::new(Default::default())),
            applier: Arc::new(Applier {
                pending: Mutex::new(Pending::default()),
                applied,
                advanced_at: AtomicI64::new(unix_millis(SystemTime::now())),
                entity_names,
            }),
            jobs: Arc::new(tokio::sync::Notify::new()),
            recorder: tx,
        }
    }

    /// The same service with other limits on its requests.
    pub fn with_limits(mut self, limits: crate::http::limits::Limits) -> Self {
        self.gate = Arc::new(crate::http::limits::Gate::new(limits));
        self
    }

    /// Loads the graph, the list-entry names and the policy in one consistent read, starts
    /// following the change log and building the entity name index, and marks the service
    /// ready.
    pub async fn load(&self) -> Result<(), DbError> {
        self.refresh_keys().await?;
        let (snapshot, names) = load(&self.db).await?;
        let policy = db::policy::current(&self.db).await?;
        let version = snapshot.version();
        {
            let _p = self.applier.pending.lock().await;
            *self.names_mut() = names;
            self.graph.store(Arc::new(snapshot));
            self.applier.advance(version);
        }
        self.policy.store(Arc::new(policy));
        tokio::spawn(self.clone().follow_store());
        tokio::spawn(self.clone().build_entity_names());
        tokio::spawn(self.clone().run_jobs());
        self.ready.store(true, Ordering::Release);
        Ok(())
    }

    /// Queues a re-screening job and wakes the runner.
    pub async fn queue_job(
        &self,
        actor: &str,
        trigger: &str,
        req: &RescreenRequest,
    ) -> Result<Job, ApiError> {
        let job = db::jobs::create(&self.db, actor, trigger, req).await?;
        self.jobs.notify_one();
        Ok(job)
    }

    /// Runs queued re-screening jobs one at a time, on the graph as it is when each starts,
    /// and takes back the jobs of instances that stopped.
    async fn run_jobs(self) {
        loop {
            match self.next_job().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "running re-screening jobs failed"),
            }
            let _ = tokio::time::timeout(Duration::from_secs(5), self.jobs.notified()).await;
        }
    }

    /// Runs the next queued job, if there is one.
    async fn next_job(&self) -> Result<bool, DbError> {
        let (queued, failed) = db::jobs::recover(&self.db).await?;
        if queued + failed > 0 {
            tracing::warn!(
                queued,
                failed,
                "took back the jobs of a service that stopped"
            );
        }
        let Some(stored) = db::jobs::claim(&self.db, None).await? else {
            return Ok(false);
        };
        let (snap, policy) = (self.graph.load_full(), self.policy.load_full());
        let mut logged = std::time::Instant::now();
        let id = stored.job.id.clone();
        let progress = |done, total| {
            if logged.elapsed() >= Duration::from_secs(10) {
                logged = std::time::Instant::now();
                tracing::info!(job = %id, done, total, "re-screening in progress");
            }
        };
        match rescreen::run(&self.db, snap, policy, &stored, progress, None).await {
            Ok(ended) => tracing::info!(job = %stored.job.id, ?ended, "re-screening job ended"),
            Err(e) => {
                tracing::error!(job = %stored.job.id, error = %e, "re-screening job failed");
                let reason = match e {
                    rescreen::RunError::Db(DbError::Sqlx(_)) => {
                        "the database failed while the job ran".to_owned()
                    }
                    other => other.to_string(),
                };
                db::jobs::finish(&self.db, stored.pk, Some(&reason)).await?;
            }
        }
        Ok(true)
    }

    /// Builds the entity name index off the request path, from a consistent read of the
    /// store, then replays what was applied meanwhile and swaps it in. Screenings that need it
    /// wait for it ([`AppState::entity_names_ready`]); the others never do.
    async fn build_entity_names(self) {
        while let Err(e) = self.entity_names_once().await {
            tracing::error!(error = %e, "building the entity name index failed; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// One attempt of [`AppState::build_entity_names`]; a build that a full reload overtook is
    /// discarded (the reload starts its own).
    async fn entity_names_once(&self) -> Result<(), String> {
        let started = std::time::Instant::now();
        let reloads = {
            let mut p = self.applier.pending.lock().await;
            p.entity_log = Some(Vec::new());
            p.reloads
        };
        let (tx, mut rx) = mpsc::channel::<Vec<NameChange>>(8);
        let builder = tokio::task::spawn_blocking(move || {
            let mut built = EntityNames::default();
            while let Some(batch) = rx.blocking_recv() {
                built.apply(batch);
            }
            built.shrink_to_fit();
            built
        });
        let read = db::load::entity_names(&self.db, tx).await;
        let built = builder.await;
        let mut p = self.applier.pending.lock().await;
        let log = p.entity_log.take().unwrap_or_default();
        if p.reloads != reloads {
            return Ok(());
        }
        let version = read.map_err(|e| e.to_string())?;
        let mut built = built.map_err(|e| e.to_string())?;
        for (v, changes) in log {
            if v > version {
                built.apply(changes);
            }
        }
        self.names_mut().set_entities(built);
        self.applier.entity_names.send_replace(true);
        tracing::info!(
            version,
            build_ms = started.elapsed().as_millis() as u64,
            "entity name index ready"
        );
        Ok(())
    }

    /// Waits until the entity name index is complete (it is built after start-up).
    async fn entity_names_ready(&self) -> Result<(), ApiError> {
        let mut rx = self.applier.entity_names.subscribe();
        tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|ready| *ready))
            .await
            .map(|_| ())
            .map_err(|_| ApiError::Unavailable("the entity name index is still being built".into()))
    }

    /// A ready service: [`AppState::new`] then [`AppState::load`].
    pub async fn start(db: PgPool) -> Result<Self, DbError> {
        let state = Self::new(db);
        state.load().await?;
        Ok(state)
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Whether the entity name index is complete.
    pub fn entity_names_built(&self) -> bool {
        *self.applier.entity_names.borrow()
    }

    /// When the published graph last moved to a new version (or the service started).
    pub fn graph_advanced_at(&self) -> SystemTime {
        let millis = self.applier.advanced_at.load(Ordering::Relaxed);
        SystemTime::UNIX_EPOCH + Duration::from_millis(millis.max(0) as u64)
    }

    /// The name indexes, for reading. A poisoned lock only means a writer panicked while
    /// applying a change; the index is still usable.
    pub fn names(&self) -> RwLockReadGuard<'_, Names> {
        self.names.read().unwrap_or_else(|e| e.into_inner())
    }

    fn names_mut(&self) -> RwLockWriteGuard<'_, Names> {
        self.names.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies a committed change, and any committed before it, to the graph; returns once the
    /// published snapshot includes it.
    pub async fn publish(&self, c: Committed) -> Result<(), ApiError> {
        let target = c.version;
        {
            let mut p = self.applier.pending.lock().await;
            if target > self.graph.load().version() {
                p.waiting.insert(target, c);
                let drained = self.drain(&mut p);
                drop(p);
                self.after_drain(drained).await?;
            }
        }
        let mut rx = self.applier.applied.subscribe();
        loop {
            if *rx.borrow_and_update() >= target {
                return Ok(());
            }
            // An earlier version has not been published by its writer yet. Give it a moment,
            // then read the gap from the change log.
            if tokio::time::timeout(Duration::from_millis(50), rx.changed())
                .await
                .is_err()
            {
                self.catch_up().await?;
            }
        }
    }

    /// Rebuilds the graph when draining stopped at a change that asks for it or that did not
    /// apply.
    async fn after_drain(&self, drained: Result<Drained, ApiError>) -> Result<(), ApiError> {
        match drained {
            Ok(Drained::Done) => Ok(()),
            Ok(Drained::Reload(version)) => {
                tracing::info!(version, "change {version} asks for a rebuild of the graph");
                self.reload().await
            }
            Err(e) => {
                tracing::error!(error = %e, "rebuilding the graph from the store");
                self.reload().await
            }
        }
    }

    /// Applies every waiting change whose predecessors are all applied, up to one that asks
    /// for a rebuild.
    fn drain(&self, p: &mut Pending) -> Result<Drained, ApiError> {
        let mut snap = self.graph.load_full();
        let start = snap.version();
        let mut names = Vec::new();
        let mut outcome = Drained::Done;
        while let Some(c) = p.waiting.remove(&(snap.version() + 1)) {
            let v = snap.version() + 1;
            if c.reload {
                outcome = Drained::Reload(v);
                break;
            }
            let next = snap.apply(&c.changes, v).map_err(|e| {
                ApiError::internal(format!("change {v} does not apply to the graph: {e}"))
            })?;
            if let Some(log) = &mut p.since_compaction {
                log.push((v, c.changes));
            }
            if let Some(log) = &mut p.entity_log {
                let entity: Vec<NameChange> =
                    c.names.iter().filter(|n| n.is_entity()).cloned().collect();
                if !entity.is_empty() {
                    log.push((v, entity));
                }
            }
            names.extend(c.names);
            snap = Arc::new(next);
        }
        p.waiting.retain(|&v, _| v > snap.version());
        if snap.version() > start {
            let version = snap.version();
            let overlay = snap.overlay_len();
            // Names first: whoever sees the new graph also sees its names.
            if !names.is_empty() {
                self.names_mut().apply(names);
            }
            self.graph.store(snap);
            self.applier.advance(version);
            if overlay > COMPACT_AFTER && !p.compacting {
                p.compacting = true;
                tokio::spawn(self.clone().compact());
            }
        }
        Ok(outcome)
    }

    /// Reads and applies whatever the change log holds past the published version.
    pub async fn catch_up(&self) -> Result<(), ApiError> {
        loop {
            let from = self.graph.load().version();
            let batch = db::changes_since(&self.db, from, 10_000).await?;
            if batch.is_empty() {
                return Ok(());
            }
            let mut p = self.applier.pending.lock().await;
            for c in batch {
                p.waiting.entry(c.version).or_insert(c);
            }
            let drained = self.drain(&mut p);
            drop(p);
            self.after_drain(drained).await?;
        }
    }

    /// Rebuilds the graph from the store in one consistent read: a change asked for it, or
    /// the graph and the store disagree (a change did not apply), and a graph that may be
    /// wrong is never served.
    async fn reload(&self) -> Result<(), ApiError> {
        let (fresh, names) = load(&self.db).await?;
        let mut p = self.applier.pending.lock().await;
        if fresh.version() >= self.graph.load().version() {
            let version = fresh.version();
            p.waiting.retain(|&v, _| v > version);
            p.since_compaction = None;
            p.reloads += 1;
            *self.names_mut() = names;
            self.graph.store(Arc::new(fresh));
            self.applier.advance(version);
            self.applier.entity_names.send_replace(false);
            tokio::spawn(self.clone().build_entity_names());
        }
        Ok(())
    }

    /// Follows the store, so that what other processes commit (another instance, the `seed`
    /// command) reaches this one: the store announces each change-log version, policy version
    /// and queued job (`migrations/0007_notify.sql`), and a slow poll covers announcements lost
    /// while the listening connection was down.
    async fn follow_store(self) {
        tokio::spawn(self.clone().poll_store());
        loop {
            if let Err(e) = self.listen().await {
                tracing::warn!(error = %e, "listening for changes failed; listening again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    async fn listen(&self) -> Result<(), ApiError> {
        let mut listener = PgListener::connect_with(&self.db)
            .await
            .map_err(DbError::from)?;
        listener
            .listen_all([CHANGES, POLICY, JOBS, KEYS])
            .await
            .map_err(DbError::from)?;
        // What committed before the listening began is read now.
        self.refresh().await?;
        loop {
            match listener.try_recv().await.map_err(DbError::from)? {
                Some(n) => match n.channel() {
                    CHANGES => {
                        let announced = n.payload().parse::<i64>().unwrap_or(i64::MAX);
                        if announced > self.graph.load().version() {
                            self.catch_up().await?;
                        }
                    }
                    POLICY => self.refresh_policy().await?,
                    KEYS => self.refresh_keys().await?,
                    _ => self.jobs.notify_one(),
                },
                // The connection dropped and was opened again: announcements may be lost.
                None => self.refresh().await?,
            }
        }
    }

    async fn poll_store(self) {
        let mut tick = tokio::time::interval(POLL_STORE);
        loop {
            tick.tick().await;
            if let Err(e) = self.refresh().await {
                tracing::warn!(error = %e, "catching up with the store failed");
            }
        }
    }

    /// Applies whatever the change log holds past the published version, loads the policy
    /// in force if it is newer, and reads the usable keys again.
    async fn refresh(&self) -> Result<(), ApiError> {
        self.catch_up().await?;
        self.refresh_policy().await?;
        Ok(self.refresh_keys().await?)
    }

    /// Reads the usable API keys from the store again.
    pub async fn refresh_keys(&self) -> Result<(), DbError> {
        self.keys.replace(db::keys::usable(&self.db).await?);
        Ok(())
    }

    async fn refresh_policy(&self) -> Result<(), ApiError> {
        let policy = db::policy::current(&self.db).await?;
        self.adopt_policy(policy);
        Ok(())
    }

    /// Puts a policy in force unless a newer one already is: versions only grow, so a slower
    /// concurrent writer or an announcement read late never brings back an older policy.
    pub fn adopt_policy(&self, policy: Policy) {
        self.policy.rcu(|cur| {
            if cur.version < policy.version {
                Arc::new(policy.clone())
            } else {
                Arc::clone(cur)
            }
        });
    }

    /// Folds the overlay into a new base now, rather than when it grows past its limit.
    pub async fn compact_now(&self) {
        {
            let mut p = self.applier.pending.lock().await;
            if p.compacting {
                return;
            }
            p.compacting = true;
        }
        self.clone().compact().await;
    }

    /// Folds the overlay into a new base off the request path, then replays what was applied
    /// meanwhile and swaps the result in.
    async fn compact(self) {
        // Start the replay log here, under the lock: the snapshot taken now already holds
        // everything applied before.
        let (snap, reloads) = {
            let mut p = self.applier.pending.lock().await;
            p.since_compaction = Some(Vec::new());
            (self.graph.load_full(), p.reloads)
        };
        let built = tokio::task::spawn_blocking(move || snap.compact()).await;
        let mut p = self.applier.pending.lock().await;
        p.compacting = false;
        let replay = p.since_compaction.take().unwrap_or_default();
        if p.reloads != reloads {
            return;
        }
        let Ok(mut fresh) = built else {
            tracing::error!("graph compaction panicked; keeping the overlay");
            return;
        };
        for (v, changes) in &replay {
            match fresh.apply(changes, *v) {
                Ok(next) => fresh = next,
                Err(e) => {
                    tracing::error!(error = %e, "replay after compaction failed; keeping the overlay");
                    return;
                }
            }
        }
        if fresh.version() == self.graph.load().version() {
            tracing::info!(version = fresh.version(), "graph compacted");
            self.graph.store(Arc::new(fresh));
        }
    }

    /// Stores a screening; returns once it has committed.
    async fn record(
        &self,
        screening: Screening,
        actor: Arc<str>,
        request: serde_json::Value,
    ) -> Result<(), ApiError> {
        let (tx, rx) = oneshot::channel();
        let rec = db::screenings::Record {
            screening,
            actor,
            request,
        };
        self.recorder
            .send((rec, tx))
            .await
            .map_err(|_| ApiError::Unavailable("the screening store is shutting down".into()))?;
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ApiError::Unavailable(format!(
                "the screening could not be stored: {e}"
            ))),
            Err(_) => Err(ApiError::Unavailable("the screening store stopped".into())),
        }
    }

    /// Screens a known entity or a signup candidate under the policy in force, stores the
    /// answer, and returns it.
    pub async fn screen(
        &self,
        actor: Arc<str>,
        req: ScreeningRequest,
    ) -> Result<Screening, ApiError> {
        let request_json = serde_json::to_value(&req).unwrap_or_default();
        let declared = req.owners()?;
        let as_of = req.as_of.unwrap_or_else(crate::domain::today);

        // Resolve identifiers first: that is the only SQL on the way, and it must happen
        // before the snapshot is taken so that the snapshot is at least as new.
        let mut resolved_by = None;
        let subject_id = match (&req.entity, &req.candidate) {
            (Some(id), _) => Some(id.clone()),
            (None, Some(c)) => self.resolve(c).await?.map(|(id, by)| {
                resolved_by = Some(by.to_owned());
                id
            }),
            (None, None) => None,
        };
        // A candidate no identifier names may still be a known entity: match its names.
        let by_name = match (&subject_id, &req.candidate) {
            (None, Some(c)) if c.identifiers.is_empty() => Some(c),
            _ => None,
        };
        if by_name.is_some() {
            self.entity_names_ready().await?;
        }
        let mut owner_ids = Vec::with_capacity(declared.len());
        for (who, _, _) in &declared {
            owner_ids.push(match who {
                OwnerRef::Entity(id) => Some(id.clone()),
                OwnerRef::Candidate(c) => self.resolve(c).await?.map(|(id, _)| id),
            });
        }

        let snap = self.graph.load_full();
        let policy = self.policy.load_full();
        let possible_matches = by_name.map_or_else(Vec::new, |c| {
            self.names().entity_matches(
                &snap,
                &Subject::of(&candidate_party(c)),
                5,
                crate::matching::REVIEW_THRESHOLD,
            )
        });
        // Name matches only name entities the snapshot holds.
        let subject_id = match (subject_id, names::strong_unique(&possible_matches)) {
            (None, Some(m)) => {
                resolved_by = Some("name".to_owned());
                m.entity.parse().ok()
            }
            (id, _) => id,
        };
        let lookup = |id: &EntityId, field: String| {
            snap.lookup(id.as_str())
                .ok_or_else(|| ApiError::NotFound(format!("entity '{id}' not found"), Some(field)))
        };
        let root = match (&subject_id, &req.candidate) {
            (Some(id), _) => {
                let field = if req.entity.is_some() {
                    "entity"
                } else {
                    "candidate"
                };
                Party::Known(lookup(id, field.into())?)
            }
            (None, Some(c)) => Party::New(candidate_node(c, "candidate")),
            (None, None) => unreachable!("checked by ScreeningRequest::owners"),
        };
        let mut edges = Vec::with_capacity(declared.len());
        for (i, ((who, interest, stake), id)) in declared.iter().zip(&owner_ids).enumerate() {
            let owner = match (id, who) {
                (Some(id), _) => {
                    let ix = lookup(id, format!("owners[{i}].entity"))?;
                    if matches!(root, Party::Known(r) if r == ix) {
                        return Err(Invalid::new(
                            format!("owners[{i}]"),
                            "self_ownership",
                            "an entity cannot own itself",
                        )
                        .into());
                    }
                    Party::Known(ix)
                }
                (None, OwnerRef::Candidate(c)) => {
                    Party::New(candidate_node(c, &format!("owners[{i}]")))
                }
                (None, OwnerRef::Entity(_)) => unreachable!("entity owners always have an id"),
            };
            edges.push(Declared {
                owner,
                interest: *interest,
                min: stake.min(),
                max: stake.max(),
            });
        }

        let name_rules = policy.rules.iter().any(|r| matches!(r, Rule::NameMatch(_)));
        if name_rules && subject_id.is_some() {
            self.entity_names_ready().await?;
        }
        let local = Local::upstream(&snap, &root, &edges, as_of);
        let mut outcome = engine::screen(&local, &policy.rules);
        let subject_party = match (&subject_id, &req.candidate) {
            _ if !name_rules => None,
            (Some(id), _) => snap
                .lookup(id.as_str())
                .and_then(|ix| snap.node(ix))
                .and_then(|n| self.names().entity(n.key)),
            (None, Some(c)) => Some(candidate_party(c)),
            (None, None) => None,
        };
        if let Some(party) = subject_party {
            let names = self.names();
            for rule in &policy.rules {
                let Rule::NameMatch(rule) = rule else {
                    continue;
                };
                let matches = names.list_matches(
                    &snap,
                    &Subject::of(&party),
                    as_of,
                    &rule.lists,
                    10,
                    rule.review_threshold,
                );
                let subject = subject_id.as_ref().map(|i| i.as_str());
                if let Some(reason) = names::name_reason(rule, subject, matches) {
                    outcome.decision = outcome.decision.max(reason.decision);
                    outcome.reasons.push(reason);
                }
            }
        }
        let screening = Screening {
            id: ScreeningId::generate().to_string(),
            entity: req.entity.as_ref().map(ToString::to_string),
            resolved_entity: subject_id.map(|id| id.to_string()),
            resolved_by,
            candidate: req.candidate.clone(),
            decision: outcome.decision,
            as_of,
            policy_version: policy.version,
            graph_version: snap.version(),
            screened_at: Utc::now(),
            reasons: outcome.reasons,
            ubo: outcome.ubo,
            possible_matches,
        };
        self.record(screening.clone(), actor, request_json).await?;
        self.metrics.screened(&screening);
        Ok(screening)
    }

    /// `POST /v1/match`: the list entries whose names match, best first.
    pub fn match_lists(&self, req: &MatchRequest) -> Result<Vec<ListMatch>, ApiError> {
        let limit = req.limit()?;
        let threshold = req.threshold()?;
        let snap = self.graph.load_full();
        let all = [ListSelector::All];
        let lists = req.lists.as_deref().unwrap_or(&all);
        for (i, l) in lists.iter().enumerate() {
            if let ListSelector::One(id) = l
                && !snap.lists().any(|m| &*m.id == id.as_str())
            {
                return Err(ApiError::invalid(
                    format!("lists[{i}]"),
                    "unknown_list",
                    format!("no list '{id}'"),
                ));
            }
        }
        let countries: Vec<Jurisdiction> = req.jurisdiction.into_iter().collect();
        let identifiers: Vec<(String, String)> = req
            .identifiers
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let subject = Subject {
            names: vec![req.name.as_str()],
            kind: req.kind,
            countries: &countries,
            identifiers: &identifiers,
        };
        Ok(self.names().list_matches(
            &snap,
            &subject,
            crate::domain::today(),
            lists,
            limit,
            threshold,
        ))
    }

    /// Imports a list file and publishes what it changed.
    pub async fn import_list(
        &self,
        actor: &str,
        req: ListImport,
        rescreen: Option<Scope>,
    ) -> Result<ImportSummary, ApiError> {
        let (mut summary, committed) = import::import_list(&self.db, actor, req).await?;
        if let Some(c) = committed {
            self.publish(c).await?;
        }
        summary.rescreen_job = self
            .queue_after_import(actor, "list_import", rescreen, summary.graph_version)
            .await?;
        Ok(summary)
    }

    /// Queues the re-screening an import asked for (`?rescreen=`), when it changed anything:
    /// `affected` looks at the changes of the import's own version.
    async fn queue_after_import(
        &self,
        actor: &str,
        trigger: &str,
        scope: Option<Scope>,
        version: Option<i64>,
    ) -> Result<Option<String>, ApiError> {
        let (Some(scope), Some(version)) = (scope, version) else {
            return Ok(None);
        };
        let req = RescreenRequest {
            scope,
            since_version: (scope == Scope::Affected).then_some(version - 1),
            as_of: None,
        };
        Ok(Some(self.queue_job(actor, trigger, &req).await?.id))
    }

    /// Imports registry files and publishes what they changed.
    pub async fn import_registry(
        &self,
        actor: &str,
        format: RegistryFormat,
        inputs: Vec<std::path::PathBuf>,
        rescreen: Option<Scope>,
    ) -> Result<RegistryImportSummary, ApiError> {
        let mut logged = Duration::ZERO;
        let (mut summary, committed) =
            import::registry::import_registry(&self.db, actor, format, inputs, |p| {
                // A long import reports how far it has got every ten seconds.
                if p.elapsed >= logged + Duration::from_secs(10) {
                    logged = p.elapsed;
                    tracing::info!(
                        format = format.as_str(),
                        records = p.records,
                        bytes = p.bytes,
                        total_bytes = p.total_bytes,
                        elapsed_s = p.elapsed.as_secs(),
                        "registry import in progress"
                    );
                }
            })
            .await?;
        if let Some(c) = committed {
            self.publish(c).await?;
        }
        summary.rescreen_job = self
            .queue_after_import(actor, "registry_import", rescreen, summary.version)
            .await?;
        Ok(summary)
    }

    async fn resolve(&self, c: &Candidate) -> Result<Option<(EntityId, &'static str)>, ApiError> {
        let registration = c.identifiers.registration_number().zip(c.jurisdiction);
        Ok(db::entities::resolve(&self.db, c.identifiers.lei(), registration).await?)
    }
}

impl Applier {
    /// Tells waiting writers that `version` is published, and notes when.
    fn advance(&self, version: i64) {
        self.advanced_at
            .store(unix_millis(SystemTime::now()), Ordering::Relaxed);
        self.applied.send_replace(version);
    }
}

fn unix_millis(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// How far [`AppState::drain`] got.
enum Drained {
    /// Every change that could be applied was.
    Done,
    /// Stopped at this version, which asks for a rebuild.
    Reload(i64),
}

/// Reads the graph and the list-entry names at one version. The entry name index is built on
/// another thread while the rows stream in.
async fn load(db: &PgPool) -> Result<(Snapshot, Names), DbError> {
    let (tx, mut rx) = mpsc::channel::<Vec<names::NameChange>>(8);
    let started = std::time::Instant::now();
    let builder = tokio::task::spawn_blocking(move || {
        let mut names = Names::new();
        let mut busy = std::time::Duration::ZERO;
        while let Some(batch) = rx.blocking_recv() {
            let t = std::time::Instant::now();
            names.apply(batch);
            busy += t.elapsed();
        }
        names.shrink_to_fit();
        (names, busy)
    });
    let snapshot = db::load::snapshot(db, tx).await?;
    let read_ms = started.elapsed().as_millis() as u64;
    let (names, busy) = builder
        .await
        .map_err(|e| DbError::Corrupt(format!("building the name indexes failed: {e}")))?;
    tracing::info!(
        read_ms,
        names_build_ms = busy.as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "graph and list-entry names loaded"
    );
    Ok((snapshot, names))
}

/// What a candidate looks like to the name matcher.
fn candidate_party(c: &Candidate) -> Record {
    let mut countries: Vec<Jurisdiction> = c.jurisdiction.into_iter().collect();
    countries.extend(c.headquarters.filter(|h| Some(*h) != c.jurisdiction));
    Record {
        names: std::iter::once(c.name.as_str())
            .chain(c.aliases.0.iter().map(|a| a.as_str()))
            .map(str::to_owned)
            .collect(),
        kind: Some(c.kind),
        countries,
        identifiers: c
            .identifiers
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    }
}

/// What a candidate looks like to the engine. Its id is where it sits in the request, so paths
/// through it read `owners[1] → candidate`.
fn candidate_node(c: &Candidate, at: &str) -> NodeData {
    NodeData {
        key: 0,
        id: at.into(),
        name: c.name.as_str().into(),
        kind: c.kind,
        jurisdiction: c.jurisdiction,
        headquarters: c.headquarters,
    }
}

/// Stores screenings in batches: whatever arrived while the previous batch committed goes
/// into the next, so under load many screenings share one commit.
///
/// A screening is answered only once its batch has committed, so an answered screening is
/// stored. Whatever is queued here belongs to a request still waiting for its answer; a
/// graceful shutdown waits for those requests, so by the time it ends the queue is empty.
async fn record_screenings(
    db: PgPool,
    mut rx: mpsc::Receiver<(db::screenings::Record, oneshot::Sender<Result<(), String>>)>,
) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, 1000).await > 0 {
        let (records, acks): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        let result = db::screenings::insert_batch(&db, &records)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, count = records.len(), "storing screenings failed");
                "the database did not accept it".to_owned()
            });
        for ack in acks {
            let _ = ack.send(result.clone());
        }
    }
}
