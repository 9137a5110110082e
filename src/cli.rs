//! The `ownergraph` command line: `serve`, `migrate`, `seed`, `lists import`, `import`, `gen`,
//! `audit verify`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::domain::{
    JobResult, KeyName, ListId, ListKind, Name, NewKey, RescreenRequest, Role, Scope,
};
use crate::formats::{self, Files, Format};
use crate::r#gen::{Config, Registry, files};
use crate::import::registry::{RegistryFormat, files_of};
use crate::import::{self, ListImport};
use crate::localpg::{self, Account, LocalCluster, Target};
use crate::telemetry::{self, LogFormat};
use crate::{app, db, http, matching, rescreen, seed};

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/ownergraph";

#[derive(Parser)]
#[command(
    name = "ownergraph",
    version,
    about = "Ownership-graph screening service"
)]
struct Cli {
    /// Postgres URL; the database is created if it is missing. Without one: the server at
    /// postgres://postgres@127.0.0.1:5432/ownergraph if one answers there, else the private
    /// cluster in --data-dir (which `serve` starts).
    #[arg(long, env = "DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// Where `serve` keeps the private PostgreSQL cluster it runs when no database is named
    /// and none answers at the default address [default: $XDG_DATA_HOME/ownergraph/postgres,
    /// else ~/.local/share/ownergraph/postgres; as root, /var/lib/ownergraph/postgres when the
    /// cluster's user cannot reach that].
    #[arg(long, env = "OWNERGRAPH_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// How logs are written to stderr: json (one object per line) or text (for a terminal).
    /// `RUST_LOG` chooses what is logged.
    #[arg(
        long,
        env = "OWNERGRAPH_LOG_FORMAT",
        value_enum,
        default_value = "json",
        global = true
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the database if missing, migrate, load the graph and serve HTTP. An empty
    /// database is first loaded with the seed data. Without a database to use, runs a private
    /// PostgreSQL cluster from the installed binaries and stops it on exit.
    Serve {
        #[arg(long, env = "OWNERGRAPH_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Folder of seed data for an empty database.
        #[arg(long)]
        seed_dir: Option<PathBuf>,
        /// Do not seed an empty database.
        #[arg(long)]
        no_seed: bool,
        /// On SIGTERM or Ctrl-C, how many seconds the requests in flight get to finish; the
        /// process exits anyway after that (with status 1).
        #[arg(long, env = "OWNERGRAPH_SHUTDOWN_TIMEOUT", default_value_t = 30)]
        shutdown_timeout: u64,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Run the migrations and exit.
    Migrate,
    /// Lists of designated parties.
    Lists {
        #[command(subcommand)]
        command: ListsCommand,
    },
    /// Import a company-registry file (or every file of a folder, in name order) in one
    /// transaction: parties are resolved to entities by record, LEI, registration number and
    /// other identifiers; ownerships, declared indirect interests and owners declared unknown
    /// are added or updated; every fact keeps its source. Importing the same file again
    /// changes nothing. A bad record rejects the whole import, naming it.
    Import {
        /// bods (BODS 0.4 JSON or JSON Lines), gleif (LEI-CDF, RR-CDF and reporting-exception
        /// XML) or psc (UK PSC snapshot JSON Lines).
        #[arg(long)]
        format: RegistryFormat,
        /// A file, or a folder of files (`.xml` for gleif; `.json`, `.jsonl`, `.ndjson` for
        /// the others).
        path: PathBuf,
        /// No progress bar (it is also off when stderr is not a terminal).
        #[arg(long)]
        quiet: bool,
    },
    /// Export the graph, or one entity's ownership neighbourhood, as BODS 0.4 statements (a
    /// JSON array). Importing the export again changes nothing.
    Export {
        /// Only this entity, its owners and its holdings.
        #[arg(long)]
        entity: Option<String>,
        /// How many links away from `--entity` to go, each way.
        #[arg(long, default_value_t = 3)]
        depth: u32,
        /// Where to write (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Re-screen every entity, or those a change since a graph version can reach, on one
    /// snapshot of the graph under the policy in force. The job is recorded like one queued
    /// over HTTP (`GET /v1/jobs/{id}`), and its results are written here too.
    Rescreen {
        /// all, or affected (what changed after --since-version, default: after the last job
        /// that succeeded, and everything it holds).
        #[arg(long, default_value = "all", value_parser = parse_scope)]
        scope: Scope,
        #[arg(long)]
        since_version: Option<i64>,
        /// The date to screen at (default: today, UTC).
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
        /// Where to write the results (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// ndjson (one result per line, with reasons and paths) or csv (entity, decision,
        /// rules, reasons as JSON).
        #[arg(long, default_value = "ndjson")]
        output: ResultFormat,
        /// No progress bar (it is also off when stderr is not a terminal).
        #[arg(long)]
        quiet: bool,
    },
    /// API keys: make one (shown once), list them, revoke one.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The audit trail of every write, import, screening, policy change and decision.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Measure quality against public labelled data.
    Eval {
        #[command(subcommand)]
        command: EvalCommand,
    },
    /// Load the seed data (idempotent).
    Seed {
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Fill an empty database with a synthetic registry for benchmarks: corporate groups,
    /// ownership chains, sanctions listings (docs/benchmarks.md describes its shape).
    /// Restart a running instance afterwards: it loads the new graph at start-up. With
    /// `--format`, write the registry as registry files instead (import benchmarks); the
    /// database is not touched.
    Gen {
        /// How many entities: companies, persons, trusts, funds and governments.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
        entities: u64,
        /// The same seed and size give the same registry.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Replace what the database holds: entities, ownerships, lists, list entries,
        /// screenings and the change log (the policy stays).
        #[arg(long, conflicts_with = "format")]
        force: bool,
        /// Write registry files instead of loading the database: gleif (lei.xml, rr.xml and
        /// repex.xml in the folder --out) or psc (the JSON Lines snapshot --out).
        #[arg(long, requires = "out")]
        format: Option<GenFormat>,
        /// Where --format writes.
        #[arg(long, requires = "format")]
        out: Option<PathBuf>,
    },
}

/// How `rescreen` writes its results.
#[derive(Clone, Copy, clap::ValueEnum)]
enum ResultFormat {
    Ndjson,
    Csv,
}

fn parse_scope(s: &str) -> Result<Scope, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| "all or affected".to_owned())
}

/// The registry file formats `gen` writes.
#[derive(Clone, Copy, clap::ValueEnum)]
enum GenFormat {
    /// BODS 0.4 statements (a JSON array), written by the BODS exporter.
    Bods,
    /// GLEIF golden copy: LEI-CDF, RR-CDF and reporting exceptions.
    Gleif,
    /// UK persons with significant control snapshot.
    Psc,
}

#[derive(Subcommand)]
enum ListsCommand {
    /// Import a list file: the list (created if missing) becomes what the file states.
    /// Entries that appear, change or disappear are counted; disappeared entries get
    /// `delisted_on`; importing the same file again changes nothing. A file that does not
    /// parse is rejected whole, naming the line or element at fault.
    Import {
        /// The list's id, such as `ofac-sdn`.
        #[arg(long)]
        list: ListId,
        /// ofac-csv (PATH is the folder holding sdn.csv, alt.csv, add.csv), ofac-xml, un-xml,
        /// eu-xml, uk-csv or ftm (OpenSanctions FollowTheMoney JSON lines).
        #[arg(long)]
        format: Format,
        /// The list's name, when the import creates it (default: its id).
        #[arg(long, value_parser = parse_name)]
        name: Option<Name>,
        /// The list's kind, when the import creates it.
        #[arg(long, default_value = "sanctions", value_parser = parse_list_kind)]
        kind: ListKind,
        /// The list file (for ofac-csv, the folder holding its files).
        path: PathBuf,
    },
}

/// What keeps overload from queueing forever (src/http/limits.rs).
#[derive(clap::Args)]
struct LimitArgs {
    /// The largest request body in bytes, but for imports (which take files of their own size).
    #[arg(long, env = "OWNERGRAPH_BODY_LIMIT", default_value_t = http::limits::BODY_BYTES)]
    body_limit: usize,
    /// Seconds a request may take before it is answered 503 and its transaction rolled back.
    #[arg(long, env = "OWNERGRAPH_REQUEST_TIMEOUT", default_value_t = http::limits::REQUEST_TIMEOUT_SECS,
          value_parser = clap::value_parser!(u64).range(1..))]
    request_timeout: u64,
    /// Requests handled at once; more are answered 503 with Retry-After at once, not queued.
    #[arg(long, env = "OWNERGRAPH_MAX_IN_FLIGHT", default_value_t = http::limits::MAX_IN_FLIGHT,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_in_flight: u32,
    /// Requests a second each API key may make on this instance (a burst of one second's
    /// worth); past it, 429 with Retry-After.
    #[arg(long, env = "OWNERGRAPH_KEY_RATE_LIMIT", default_value_t = http::limits::PER_KEY_PER_SECOND)]
    key_rate_limit: std::num::NonZeroU32,
    /// Seconds a connection may take to send a request's headers, or stay idle between
    /// requests, before it is closed.
    #[arg(long, env = "OWNERGRAPH_HEADER_TIMEOUT", default_value_t = http::limits::HEADER_TIMEOUT_SECS,
          value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout: u64,
}

impl LimitArgs {
    fn limits(&self) -> http::limits::Limits {
        http::limits::Limits {
            body_bytes: self.body_limit,
            request_timeout: Duration::from_secs(self.request_timeout),
            max_in_flight: self.max_in_flight as usize,
            per_key_per_second: self.key_rate_limit,
            header_timeout: Duration::from_secs(self.header_timeout),
        }
    }
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make a key with a role and store it; prints the key, once. Nothing can show it again.
    Create {
        #[arg(long, value_enum)]
        role: Role,
        /// The key's name: the actor the audit trail records for what is done with it.
        #[arg(long)]
        name: String,
        /// The key stops working this many days from now.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=3650))]
        expires_in_days: Option<u32>,
    },
    /// Every key, revoked and expired ones too, without secrets.
    List,
    /// Revoke a key by name, at once on every instance.
    Revoke { name: String },
    /// Print a new random key without storing it, for `OWNERGRAPH_BOOTSTRAP_KEY`.
    Generate,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the whole hash chain: every entry as written, none missing, the head at the last
    /// one. Prints the head hash to keep elsewhere; exits 1 naming the first broken link.
    Verify {
        /// No progress bar (it is also off when stderr is not a terminal).
        #[arg(long)]
        quiet: bool,
    },
}

#[derive(Subcommand)]
enum EvalCommand {
    /// Precision, recall and F1 of the name matcher on the labelled pairs (nomenklatura's
    /// name benchmark, beside its own matcher's frozen scores), recall of yente's UN
    /// positives against the UN list and false positives of its negatives, and the
    /// cross-script pairs; all at the one review threshold.
    Names {
        /// The shared data folder holding `sanctions/labelled/` and `sanctions/un/`
        /// (default: $OWNERGRAPH_SHARED_DATA, else ../shared/data).
        #[arg(long)]
        data: Option<PathBuf>,
    },
}

/// A progress bar on stderr over the bytes read, hidden when `quiet` or not on a terminal.
fn progress_bar(quiet: bool) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {bytes}/{total_bytes} {elapsed} (eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

fn parse_name(s: &str) -> Result<Name, String> {
    Name::parse(s).map_err(|e| e.to_string())
}

fn parse_list_kind(s: &str) -> Result<ListKind, String> {
    ListKind::parse(s).ok_or_else(|| "one of sanctions, export_control, watchlist, other".into())
}

/// A failure already reported (a check's report printed, a log line written): only the exit
/// code remains to say it.
#[derive(Debug, thiserror::Error)]
#[error("already reported")]
struct Reported;

/// Who runs a key command on the host, as the audit trail names them.
fn host_actor() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    format!("host:{user}")
}

async fn keys(database: &Database, command: KeysCommand) -> anyhow::Result<()> {
    let show = |k: &db::keys::KeyInfo| {
        let state = match (&k.revoked_at, &k.expires_at) {
            (Some(t), _) => format!("revoked {}", t.format("%Y-%m-%d %H:%M")),
            (None, Some(t)) if *t <= chrono::Utc::now() => {
                format!("expired {}", t.format("%Y-%m-%d"))
            }
            (None, Some(t)) => format!("expires {}", t.format("%Y-%m-%d")),
            (None, None) => "active".into(),
        };
        println!("{}\t{}\tog_{}_…\t{}", k.name, k.role, k.prefix, state);
    };
    match command {
        KeysCommand::Create {
            role,
            name,
            expires_in_days,
        } => {
            let name = KeyName::try_from(name)?;
            let expires =
                expires_in_days.map(|d| chrono::Utc::now() + chrono::Duration::days(d.into()));
            let key = NewKey::generate();
            let pool = open(database).await?;
            let info = db::keys::create(&pool, &name, role, expires, &key, &host_actor()).await?;
            eprintln!(
                "made {} key '{}'; it is shown this once:",
                info.role, info.name
            );
            println!("{}", key.text);
        }
        KeysCommand::List => db::keys::list(&open(database).await?)
            .await?
            .iter()
            .for_each(show),
        KeysCommand::Revoke { name } => {
            show(&db::keys::revoke(&open(database).await?, &name, &host_actor()).await?)
        }
        KeysCommand::Generate => println!("{}", NewKey::generate().text),
    }
    Ok(())
}

/// 12345 as `12,345`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = cli.log_format;
    telemetry::init(format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            fail(
                format,
                &anyhow::anyhow!("cannot start the async runtime: {e}"),
            );
            return ExitCode::FAILURE;
        }
    };
    // A private cluster `serve` started: stopped once the runtime is gone.
    let mut cluster = None;
    let result = runtime.block_on(run(cli, &mut cluster));
    // Whatever must finish has been awaited. What is left (a re-screening pass, a graph
    // compaction on a blocking thread) is abandoned rather than waited for: a job whose
    // heartbeat stops is taken back by the next instance (`db::jobs::recover`).
    runtime.shutdown_background();
    let mut code = match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<Reported>() => ExitCode::FAILURE,
        Err(e) => {
            fail(format, &e);
            ExitCode::FAILURE
        }
    };
    if let Some(cluster) = cluster {
        tracing::info!("stopping the private PostgreSQL cluster");
        if let Err(e) = cluster.stop() {
            fail(format, &anyhow::anyhow!(e));
            code = ExitCode::FAILURE;
        }
    }
    code
}

/// Reports the error that ends the process: a log line in the JSON format, so that every
/// line stays JSON; else a plain message.
fn fail(format: LogFormat, e: &anyhow::Error) {
    match format {
        LogFormat::Json => tracing::error!(error = format!("{e:#}"), "ownergraph failed"),
        LogFormat::Text => eprintln!("ownergraph: {e:#}"),
    }
}

/// Where the database is, as the command line says.
struct Database {
    url: Option<String>,
    data_dir: Option<PathBuf>,
}

/// The database of a command other than `serve`: the URL given, else the server at the
/// default address, else the private cluster a running `serve` keeps. Only `serve` starts
/// one: a command that ran one for itself would leave a server behind or make each run pay
/// for a start and a checkpoint.
async fn open(database: &Database) -> anyhow::Result<sqlx::PgPool> {
    let url = match localpg::choose(database.url.as_deref(), DEFAULT_DATABASE_URL).await {
        Target::Given(url) | Target::Default(url) => url,
        Target::Private => {
            let account = Account::for_cluster()?;
            let dir = localpg::data_dir(database.data_dir.as_deref(), account.as_ref())?;
            LocalCluster::running_url(&dir).with_context(|| {
                format!(
                    "no PostgreSQL answers at {} and no private cluster is running in {}: \
                     start `ownergraph serve` (it runs one there) or set DATABASE_URL",
                    localpg::address(DEFAULT_DATABASE_URL),
                    dir.display()
                )
            })?
        }
    };
    open_url(&url).await
}

/// Starts the private cluster for `serve`, or says in one line how to get a server.
async fn start_private(data_dir: Option<&Path>) -> anyhow::Result<LocalCluster> {
    let binaries = localpg::find_binaries().with_context(|| {
        format!(
            "no PostgreSQL answers at {} and no PostgreSQL binaries were found: install \
             PostgreSQL (apt-get install postgresql, dnf install postgresql-server, brew install \
             postgresql) or set DATABASE_URL",
            localpg::address(DEFAULT_DATABASE_URL)
        )
    })?;
    let data_dir = data_dir.map(Path::to_owned);
    // initdb, and waiting for the server, block.
    let cluster = tokio::task::spawn_blocking(move || {
        let account = Account::for_cluster()?;
        let dir = localpg::data_dir(data_dir.as_deref(), account.as_ref())?;
        LocalCluster::start(&binaries, &dir, account.as_ref())
    })
    .await
    .context("starting PostgreSQL failed")??;
    Ok(cluster)
}

async fn open_url(url: &str) -> anyhow::Result<sqlx::PgPool> {
    let pool = db::connect(url, 16)
        .await
        .with_context(|| format!("cannot connect to {}", redact(url)))?;
    db::migrate(&pool).await.context("migrations failed")?;
    Ok(pool)
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

async fn run(cli: Cli, cluster: &mut Option<LocalCluster>) -> anyhow::Result<()> {
    let database = Database {
        url: cli.database_url,
        data_dir: cli.data_dir,
    };
    match cli.command {
        Command::Migrate => {
            open(&database).await?;
            tracing::info!("migrations applied");
        }
        Command::Lists {
            command:
                ListsCommand::Import {
                    list,
                    format,
                    name,
                    kind,
                    path,
                },
        } => {
            let pool = open(&database).await?;
            let started = std::time::Instant::now();
            let files = Files::read_path(format, &path)?;
            let req = ListImport {
                list,
                name,
                kind,
                format,
                files,
            };
            let (summary, _) = import::import_list(&pool, "cli", req).await?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
            eprintln!(
                "imported in {:.2} s; running instances pick the change up from the change log",
                started.elapsed().as_secs_f64()
            );
        }
        Command::Import {
            format,
            path,
            quiet,
        } => {
            let pool = open(&database).await?;
            let inputs = files_of(&path, format)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let bar = progress_bar(quiet);
            let (summary, _) =
                import::registry::import_registry(&pool, "cli", format, inputs, |p| {
                    bar.set_length(p.total_bytes);
                    bar.set_position(p.bytes);
                    let rate = p.records as f64 / p.elapsed.as_secs_f64().max(1e-3);
                    bar.set_message(format!("{} records, {rate:.0}/s", p.records));
                })
                .await?;
            bar.finish_and_clear();
            println!("{}", serde_json::to_string_pretty(&summary)?);
            let secs = summary.elapsed_ms as f64 / 1000.0;
            eprintln!(
                "imported {} records in {secs:.2} s ({:.0} records/s); running instances pick \
                 the change up from the change log",
                summary.records,
                summary.records as f64 / secs.max(1e-3)
            );
        }
        Command::Rescreen {
            scope,
            since_version,
            as_of,
            out,
            output,
            quiet,
        } => {
            let pool = open(&database).await?;
            let req = RescreenRequest {
                scope,
                since_version,
                as_of,
            };
            // Queued and claimed in one transaction, so that no running service takes it.
            let mut tx = pool.begin().await?;
            let job = db::jobs::create(&mut *tx, "cli", "cli", &req).await?;
            let stored = db::jobs::claim(&mut *tx, Some(&job.id))
                .await?
                .context("the job just queued could not be claimed")?;
            tx.commit().await?;
            eprintln!("job {} ({} entities)", job.id, scope.as_str());
            let started = std::time::Instant::now();
            let (names, mut drain) = tokio::sync::mpsc::channel(8);
            tokio::spawn(async move { while drain.recv().await.is_some() {} });
            let snap = std::sync::Arc::new(db::load::snapshot(&pool, names).await?);
            let policy = std::sync::Arc::new(db::policy::current(&pool).await?);
            let loaded = started.elapsed();
            let writer: Box<dyn std::io::Write + Send> = match &out {
                Some(p) => Box::new(std::fs::File::create(p)?),
                None => Box::new(std::io::stdout()),
            };
            let mut sink = ResultWriter::new(writer, output)?;
            let mut write = |results: &[JobResult]| sink.write(results);
            let bar = progress_bar(quiet);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} entities {elapsed} (eta {eta}) {per_sec}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let progress = |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            };
            let ended =
                rescreen::run(&pool, snap, policy, &stored, progress, Some(&mut write)).await;
            bar.finish_and_clear();
            if let Err(e) = &ended {
                db::jobs::finish(&pool, stored.pk, Some(&e.to_string())).await?;
            }
            ended?;
            sink.finish()?;
            let job = db::jobs::get(&pool, &job.id).await?.job;
            eprintln!(
                "{} entities on graph version {} and policy version {}: {} block, {} review, {} clear; \
                 graph loaded in {:.2} s, job done in {:.2} s",
                job.done,
                job.graph_version.unwrap_or_default(),
                job.policy_version.unwrap_or_default(),
                job.counts.block,
                job.counts.review,
                job.counts.clear,
                loaded.as_secs_f64(),
                (started.elapsed() - loaded).as_secs_f64(),
            );
        }
        Command::Export { entity, depth, out } => {
            let pool = open(&database).await?;
            let scope = match entity {
                Some(entity) => db::export::Scope::Around { entity, depth },
                None => db::export::Scope::All,
            };
            let publication = formats::Publication::today("ownergraph");
            let mut sink: Box<dyn std::io::Write + Send> = match &out {
                Some(p) => Box::new(std::fs::File::create(p)?),
                None => Box::new(std::io::stdout()),
            };
            let mut w = std::io::BufWriter::with_capacity(1 << 16, &mut sink);
            let written = db::export::write(&pool, &scope, &publication, &mut w).await?;
            std::io::Write::flush(&mut w)?;
            eprintln!(
                "exported {} parties, {} links, {} declared unknowns",
                written.parties, written.links, written.unknowns
            );
        }
        Command::Keys { command } => keys(&database, command).await?,
        Command::Audit {
            command: AuditCommand::Verify { quiet },
        } => {
            let pool = open(&database).await?;
            let bar = progress_bar(quiet);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {pos} entries checked {elapsed}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            let report = db::audit::verify(&pool, |n| bar.set_position(n)).await?;
            bar.finish_and_clear();
            match &report.broken {
                None => println!(
                    "audit trail intact: {} entries, head {}",
                    thousands(report.entries),
                    report.head
                ),
                Some(b) => {
                    println!(
                        "audit trail broken at entry {}: {} ({} entries, head {})",
                        b.seq,
                        b.problem,
                        thousands(report.entries),
                        report.head
                    );
                    return Err(Reported.into());
                }
            }
        }
        Command::Eval {
            command: EvalCommand::Names { data },
        } => {
            let dir = data.unwrap_or_else(crate::testdata::shared_data_dir);
            let un = dir.join("sanctions/un/un_consolidated_2026-02-27.xml");
            let parsed = formats::parse(Format::UnXml, &Files::read_path(Format::UnXml, &un)?)?;
            let un_list: Vec<matching::Record> = parsed
                .records
                .iter()
                .map(|r| matching::Record {
                    names: std::iter::once(&r.name)
                        .chain(&r.aliases)
                        .map(|n| n.as_str().to_owned())
                        .collect(),
                    kind: r.kind,
                    countries: r.countries.clone(),
                    identifiers: r.identifiers.clone(),
                })
                .collect();
            let started = std::time::Instant::now();
            let report = matching::eval::run_eval(&dir.join("sanctions/labelled"), &un_list)?;
            println!("{report}");
            eprintln!("evaluated in {:.1} s", started.elapsed().as_secs_f64());
        }
        Command::Seed { dir } => {
            let pool = open(&database).await?;
            let dir = dir.unwrap_or_else(seed::default_dir);
            let r = seed::load(&pool, &dir).await?;
            tracing::info!(created = r.created, existing = r.existing, policy_version = ?r.policy_version, "seed data loaded");
        }
        Command::Gen {
            entities,
            seed,
            format: Some(format),
            out: Some(out),
            ..
        } => {
            let started = std::time::Instant::now();
            let config = Config {
                entities: entities as usize,
                seed,
            };
            let (generated, counts, written) = tokio::task::spawn_blocking(move || {
                let registry = Registry::generate(&config);
                let generated = started.elapsed();
                let counts = match format {
                    GenFormat::Bods => files::write_bods(&registry, &out),
                    GenFormat::Gleif => files::write_gleif(&registry, &out),
                    GenFormat::Psc => files::write_psc(&registry, &out),
                }
                .with_context(|| format!("cannot write {}", out.display()))?;
                anyhow::Ok((generated, counts, started.elapsed() - generated))
            })
            .await
            .context("writing the registry failed")??;
            println!(
                "{} records ({} parties, {} links, {} unknowns; {} links skipped), {:.1} MB; generated in {:.2} s, written in {:.2} s",
                counts.records,
                counts.parties,
                counts.links,
                counts.unknowns,
                counts.skipped,
                counts.bytes as f64 / 1e6,
                generated.as_secs_f64(),
                written.as_secs_f64()
            );
        }
        Command::Gen {
            entities,
            seed,
            force,
            ..
        } => {
            let pool = open(&database).await?;
            let started = std::time::Instant::now();
            let config = Config {
                entities: entities as usize,
                seed,
            };
            // Generation is CPU-bound: keep it off the async workers.
            let registry = tokio::task::spawn_blocking(move || Registry::generate(&config))
                .await
                .context("generating the registry failed")?;
            let generate_ms = started.elapsed().as_millis() as u64;
            let started = std::time::Instant::now();
            let loaded = db::bulk::load(&pool, &registry, seed, force)
                .await
                .context("loading the registry failed")?;
            tracing::info!(
                entities = loaded.entities,
                ownerships = loaded.ownerships,
                list_entries = loaded.list_entries,
                version = loaded.version,
                generate_ms,
                load_ms = started.elapsed().as_millis() as u64,
                "synthetic registry loaded"
            );
        }
        Command::Serve {
            listen,
            seed_dir,
            no_seed,
            shutdown_timeout,
            limits,
        } => {
            // Listening for signals from here on: a signal during start-up then stops a private
            // cluster too, rather than killing the service and leaving the cluster behind.
            let stop = stop_requested();
            let url = match localpg::choose(database.url.as_deref(), DEFAULT_DATABASE_URL).await {
                Target::Given(url) | Target::Default(url) => url,
                Target::Private => cluster
                    .insert(start_private(database.data_dir.as_deref()).await?)
                    .url(),
            };
            let start_up = async {
                let pool = open_url(&url).await?;
                if !no_seed && seed::store_is_empty(&pool).await? {
                    let dir = seed_dir.unwrap_or_else(seed::default_dir);
                    let r = seed::load(&pool, &dir).await?;
                    tracing::info!(created = r.created, dir = %dir.display(), "empty database seeded");
                }
                if let Ok(text) = std::env::var("OWNERGRAPH_BOOTSTRAP_KEY") {
                    let key = NewKey::given(&text)
                        .map_err(|e| anyhow::anyhow!("OWNERGRAPH_BOOTSTRAP_KEY: {e}"))?;
                    if db::keys::bootstrap(&pool, &key).await? {
                        tracing::info!(prefix = %key.prefix, "bootstrap admin key stored");
                    } else {
                        tracing::warn!(prefix = %key.prefix, "OWNERGRAPH_BOOTSTRAP_KEY names a revoked key; it stays revoked");
                    }
                }
                anyhow::Ok(pool)
            };
            // A start-up cut short leaves nothing half done: migrations and seeding run in
            // transactions.
            let pool = tokio::select! {
                biased;
                () = stopped(stop.clone()) => return Ok(()),
                ready = start_up => ready?,
            };
            let drain = Duration::from_secs(shutdown_timeout);
            serve(pool, listen, limits.limits(), drain, stop).await?;
        }
    }
    Ok(())
}

/// Serves until SIGTERM or Ctrl-C, then drains: the listener closes at once (new connections
/// are refused), the requests in flight finish, and the process exits 0; a drain that takes
/// longer than `drain` is cut short, with a log line, and the process exits 1.
///
/// Nothing answered is lost: a write or a screening is answered only once it has committed
/// (screenings wait for their batch, see `app::record_screenings`), and a request cut short
/// by the drain time was never answered. The background tasks are abandoned: the change-log
/// follower and the name index only feed this process's memory, and a re-screening job that
/// was running is queued again by the next instance once its heartbeat stops
/// (`db::jobs::STALE_AFTER`), its partial results dropped.
async fn serve(
    pool: sqlx::PgPool,
    listen: SocketAddr,
    limits: http::limits::Limits,
    drain: Duration,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let state = app::AppState::new(pool).with_limits(limits);
    let listener =
        http::server::bind(listen).with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let open_files = http::server::raise_open_file_limit();
    tracing::info!(%addr, open_files, "listening; loading the graph");
    let stopped = move || stopped(stop.clone());
    let mut server = tokio::spawn(http::server::serve(
        listener,
        http::router(state.clone()),
        limits.header_timeout,
        stopped(),
    ));
    let started = std::time::Instant::now();
    tokio::select! {
        loaded = state.load() => {
            loaded.context("loading the graph failed")?;
            let snap = state.graph.load_full();
            let (named_entries, named_entities) = state.names().counts();
            tracing::info!(
                entities = snap.entity_count(),
                links = snap.link_count(),
                named_entries,
                named_entities,
                version = snap.version(),
                load_ms = started.elapsed().as_millis() as u64,
                "graph loaded; ready"
            );
        }
        () = stopped() => tracing::info!("stopping before the graph was loaded"),
    }
    tokio::select! {
        served = &mut server => {
            served.context("the server task failed")?;
            tracing::info!("stopped");
            Ok(())
        }
        () = async { stopped().await; tokio::time::sleep(drain).await } => {
            tracing::error!(
                drain_s = drain.as_secs(),
                "requests still in flight after the drain time; exiting without them"
            );
            Err(Reported.into())
        }
    }
}

/// Writes a job's results as NDJSON or CSV.
struct ResultWriter {
    ndjson: Option<std::io::BufWriter<Box<dyn std::io::Write + Send>>>,
    csv: Option<csv::Writer<Box<dyn std::io::Write + Send>>>,
}

impl ResultWriter {
    fn new(w: Box<dyn std::io::Write + Send>, format: ResultFormat) -> std::io::Result<Self> {
        Ok(match format {
            ResultFormat::Ndjson => Self {
                ndjson: Some(std::io::BufWriter::with_capacity(1 << 16, w)),
                csv: None,
            },
            ResultFormat::Csv => {
                let mut csv = csv::Writer::from_writer(w);
                csv.write_record(["entity", "decision", "rules", "reasons"])?;
                Self {
                    ndjson: None,
                    csv: Some(csv),
                }
            }
        })
    }

    fn write(&mut self, results: &[JobResult]) -> std::io::Result<()> {
        for r in results {
            if let Some(w) = &mut self.ndjson {
                serde_json::to_writer(&mut *w, r)?;
                std::io::Write::write_all(w, b"\n")?;
            }
            if let Some(w) = &mut self.csv {
                let rules: Vec<&str> = r.reasons.iter().map(|x| x.rule.as_str()).collect();
                let reasons = if r.reasons.is_empty() {
                    String::new()
                } else {
                    serde_json::to_string(&r.reasons)?
                };
                w.write_record([&r.entity, r.decision.as_str(), &rules.join(";"), &reasons])?;
            }
        }
        Ok(())
    }

    fn finish(self) -> std::io::Result<()> {
        if let Some(mut w) = self.ndjson {
            std::io::Write::flush(&mut w)?;
        }
        if let Some(mut w) = self.csv {
            w.flush()?;
        }
        Ok(())
    }
}

/// Becomes true at SIGTERM or Ctrl-C. Listening starts when this is called; the sender's
/// task runs until the signal, so the receiver never sees it dropped before.
fn stop_requested() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tx.send_replace(true);
    });
    rx
}

async fn stopped(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// SIGTERM or Ctrl-C. A signal that cannot be listened for is never taken as received.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}

#[cfg(test)]
mod tests {
    /// Counts print with thousands separators, as `audit verify` reports them.
    #[test]
    fn audit_counts_have_thousands_separators() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(12_345), "12,345");
        assert_eq!(super::thousands(1_234_567), "1,234,567");
    }
}
