//! A private PostgreSQL cluster, so that `ownergraph serve` runs on a machine where PostgreSQL
//! is installed but no server is running.
//!
//! [`choose`] decides where the database is: the URL given, else the server at the default
//! address when something answers there, else a private cluster. [`LocalCluster::start`] runs
//! that cluster from the installed binaries ([`find_binaries`]): `initdb` the first time, then
//! the postmaster as a child process, stopped with a fast shutdown by [`LocalCluster::stop`].
//!
//! The data folder ([`data_dir`]) holds:
//! - `data/`: the cluster itself (PGDATA);
//! - `run/`: the folder of its unix socket, mode 0700;
//! - `postgres.log`: the server's log;
//! - `ownergraph.lock`: locked by the `serve` that owns the running cluster, so that a second
//!   one cannot adopt it and stop it under the first.
//!
//! Must not break: the cluster never listens on TCP (`listen_addresses=''`) and its socket
//! folder stays private. Authentication is `trust`, so whoever reaches the socket is the
//! superuser; only the cluster's own user (and root) can.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

/// Where root keeps the cluster when the usual per-user folder is out of the cluster user's
/// reach (root's home is normally 0700). The FHS place for a service's state.
pub const SYSTEM_DATA_DIR: &str = "/var/lib/ownergraph/postgres";

/// The port only names the socket file (`.s.PGSQL.5432`); nothing listens on TCP. Given
/// explicitly to the server and in the URL, so that a `PGPORT` in the environment cannot
/// make the two disagree.
const PORT: u16 = 5432;

/// How long a start (which may include crash recovery) may take before it is given up.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a fast shutdown (which ends with a checkpoint) may take before an immediate one.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

const POLL: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "cannot tell where to keep the private PostgreSQL cluster (neither XDG_DATA_HOME nor \
         HOME is set): set --data-dir or OWNERGRAPH_DATA_DIR"
    )]
    NoDataDir,
    #[error(
        "running as root, the private PostgreSQL cluster must run as an unprivileged user, and \
         neither `postgres` nor `nobody` exists in /etc/passwd: create a `postgres` user, or run \
         ownergraph as an ordinary user"
    )]
    NoAccount,
    #[error(
        "the private PostgreSQL cluster runs as user {user}, which cannot reach {dir} ({blocker} \
         is not searchable by it): choose a --data-dir it can reach, such as {SYSTEM_DATA_DIR}"
    )]
    Unreachable {
        user: String,
        dir: PathBuf,
        blocker: PathBuf,
    },
    #[error("the data folder {0} is not valid UTF-8, which a connection URL needs: choose another")]
    NotUtf8(PathBuf),
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error(
        "the private PostgreSQL cluster in {0} is in use by another `ownergraph serve`: stop \
         that one first, or set DATABASE_URL"
    )]
    InUse(PathBuf),
    #[error("initdb failed in {dir}: {detail}")]
    Initdb { dir: PathBuf, detail: String },
    #[error("PostgreSQL did not start in {dir}: {detail} (log: {log})")]
    NotStarted {
        dir: PathBuf,
        detail: String,
        log: PathBuf,
    },
    #[error(
        "PostgreSQL (pid {pid}) in {dir} did not finish a fast shutdown in {} s and was stopped \
         at once; it recovers from its log at the next start",
        STOP_TIMEOUT.as_secs()
    )]
    StoppedAtOnce { pid: i32, dir: PathBuf },
}

fn io_error(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Error {
    let path = path.to_owned();
    move |source| Error::Io { what, path, source }
}

// ---------------------------------------------------------------------------------------
// Where the database is

/// Where a command's database is.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    /// A URL given with `--database-url` or `DATABASE_URL`: used as it is, whatever answers.
    Given(String),
    /// Nothing given, and a server answers at the default address.
    Default(String),
    /// Nothing given, and nothing answers at the default address.
    Private,
}

/// Decides where the database is. `default_url` is a parameter, not read from anywhere, so
/// that the decision can be tested whatever runs on the machine's port 5432.
pub async fn choose(given: Option<&str>, default_url: &str) -> Target {
    if let Some(url) = given {
        return Target::Given(url.to_owned());
    }
    if answers(default_url).await {
        Target::Default(default_url.to_owned())
    } else {
        Target::Private
    }
}

/// Whether something accepts TCP connections at the URL's host and port. Only whether a
/// server is there: whether it is PostgreSQL and lets us in is for the connection to say,
/// since starting a second server beside a running one would hide the real problem.
async fn answers(url: &str) -> bool {
    let (host, port) = tcp_address(url);
    matches!(
        tokio::time::timeout(
            Duration::from_secs(3),
            tokio::net::TcpStream::connect((host.as_str(), port)),
        )
        .await,
        Ok(Ok(_))
    )
}

/// `host:port` of a URL, for messages.
pub fn address(url: &str) -> String {
    let (host, port) = tcp_address(url);
    format!("{host}:{port}")
}

fn tcp_address(url: &str) -> (String, u16) {
    let parsed = url::Url::parse(url).ok();
    let host = parsed
        .as_ref()
        .and_then(|u| u.host_str())
        .filter(|h| !h.is_empty())
        .unwrap_or("localhost")
        .to_owned();
    (host, parsed.and_then(|u| u.port()).unwrap_or(PORT))
}

// ---------------------------------------------------------------------------------------
// The binaries

/// The programs a private cluster needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binaries {
    pub initdb: PathBuf,
    pub postgres: PathBuf,
}

impl Binaries {
    fn in_dir(dir: &Path) -> Option<Self> {
        let found = Binaries {
            initdb: dir.join("initdb"),
            postgres: dir.join("postgres"),
        };
        (is_executable(&found.initdb) && is_executable(&found.postgres)).then_some(found)
    }
}

/// Install layouts that keep each version's binaries apart: the folder, and how the name of
/// a version's folder in it starts (the version follows, or nothing for Homebrew's
/// unversioned formula).
const LAYOUTS: [(&str, &str); 4] = [
    // Debian, Ubuntu: /usr/lib/postgresql/15/bin
    ("usr/lib/postgresql", ""),
    // RHEL, Fedora (PGDG packages): /usr/pgsql-15/bin
    ("usr", "pgsql-"),
    // Homebrew on Apple silicon: /opt/homebrew/opt/postgresql@15/bin
    ("opt/homebrew/opt", "postgresql"),
    // Homebrew on Intel: /usr/local/opt/postgresql@15/bin
    ("usr/local/opt", "postgresql"),
];

/// The PostgreSQL binaries on this machine: where `pg_config --bindir` says when pg_config is
/// on PATH, else the highest version in the usual install folders, else `initdb` and
/// `postgres` on PATH.
pub fn find_binaries() -> Option<Binaries> {
    let path: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    let pg_config_bindir = on_path(&path, "pg_config").and_then(|pg_config| {
        let out = Command::new(pg_config)
            .arg("--bindir")
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    });
    discover(pg_config_bindir.as_deref(), Path::new("/"), &path)
}

/// [`find_binaries`] over a given pg_config answer, file-system root and PATH.
fn discover(pg_config_bindir: Option<&Path>, root: &Path, path: &[PathBuf]) -> Option<Binaries> {
    // pg_config may come from the client library alone (libpq-dev), whose bindir has no
    // server: then it is passed over.
    if let Some(found) = pg_config_bindir.and_then(Binaries::in_dir) {
        return Some(found);
    }
    let installed = LAYOUTS
        .iter()
        .flat_map(|&(folder, prefix)| {
            fs::read_dir(root.join(folder))
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(move |entry| {
                    let name = entry.file_name();
                    let version = version_of(name.to_str()?.strip_prefix(prefix)?)?;
                    Some((version, Binaries::in_dir(&entry.path().join("bin"))?))
                })
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, found)| found);
    installed.or_else(|| {
        Some(Binaries {
            initdb: on_path(path, "initdb")?,
            postgres: on_path(path, "postgres")?,
        })
    })
}

/// A version folder's version as numbers, compared as numbers (9.6 < 15): "15", "9.6", "@16"
/// (Homebrew), or "" (Homebrew's unversioned formula, ranked below every version).
fn version_of(s: &str) -> Option<Vec<u32>> {
    let s = s.strip_prefix('@').unwrap_or(s);
    if s.is_empty() {
        return Some(Vec::new());
    }
    s.split('.').map(|part| part.parse().ok()).collect()
}

fn on_path(path: &[PathBuf], name: &str) -> Option<PathBuf> {
    path.iter()
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

// ---------------------------------------------------------------------------------------
// Who runs it, and where it lives

/// The unprivileged account a cluster started by root runs as (PostgreSQL refuses to run as
/// root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl Account {
    /// `None` when not running as root: the cluster runs as the current user. As root: the
    /// `postgres` system user if it exists, else `nobody`.
    pub fn for_cluster() -> Result<Option<Account>, Error> {
        if !rustix::process::geteuid().is_root() {
            return Ok(None);
        }
        let passwd_path = Path::new("/etc/passwd");
        let passwd = fs::read_to_string(passwd_path).map_err(io_error("read", passwd_path))?;
        ["postgres", "nobody"]
            .iter()
            .find_map(|name| account_named(&passwd, name))
            .map(Some)
            .ok_or(Error::NoAccount)
    }
}

/// An account's entry in the text of /etc/passwd. Read directly rather than through
/// getpwnam, which needs unsafe code or another crate; system accounts live there.
fn account_named(passwd: &str, name: &str) -> Option<Account> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != name {
            return None;
        }
        let _password = fields.next()?;
        Some(Account {
            name: name.to_owned(),
            uid: fields.next()?.parse().ok()?,
            gid: fields.next()?.parse().ok()?,
        })
    })
}

/// The folder of the private cluster: the one given (`--data-dir`, `OWNERGRAPH_DATA_DIR`),
/// else `$XDG_DATA_HOME/ownergraph/postgres`, else `~/.local/share/ownergraph/postgres`.
/// Run as root, when `account` cannot reach that default (as under /root), it is
/// [`SYSTEM_DATA_DIR`]; a folder given that it cannot reach is an error, not moved.
pub fn data_dir(given: Option<&Path>, account: Option<&Account>) -> Result<PathBuf, Error> {
    let user_default = user_data_dir(
        std::env::var_os("XDG_DATA_HOME").map(PathBuf::from),
        std::env::var_os("HOME").map(PathBuf::from),
    );
    choose_data_dir(given, user_default, account)
}

/// The per-user default, following the XDG base directory rules (a relative XDG_DATA_HOME is
/// ignored).
fn user_data_dir(xdg_data_home: Option<PathBuf>, home: Option<PathBuf>) -> Option<PathBuf> {
    let base = xdg_data_home
        .filter(|p| p.is_absolute())
        .or_else(|| Some(home.filter(|p| p.is_absolute())?.join(".local/share")))?;
    Some(base.join("ownergraph/postgres"))
}

fn choose_data_dir(
    given: Option<&Path>,
    user_default: Option<PathBuf>,
    account: Option<&Account>,
) -> Result<PathBuf, Error> {
    if let Some(dir) = given {
        let dir = std::path::absolute(dir).map_err(io_error("resolve", dir))?;
        if let Some(account) = account {
            reachable(&dir, account)?;
        }
        return Ok(dir);
    }
    let dir = user_default.ok_or(Error::NoDataDir)?;
    match account.map(|a| reachable(&dir, a)) {
        Some(Err(Error::Unreachable { user, blocker, .. })) => {
            // Debug, not info: every command as root comes here, and `serve` names the
            // folder it uses anyway.
            tracing::debug!(
                "the private PostgreSQL cluster runs as user {user}, which cannot reach {} ({} \
                 is not searchable by it): it lives in {SYSTEM_DATA_DIR} instead",
                dir.display(),
                blocker.display()
            );
            Ok(PathBuf::from(SYSTEM_DATA_DIR))
        }
        Some(Err(e)) => Err(e),
        _ => Ok(dir),
    }
}

/// Whether `account` can pass through every existing folder above `dir` (folders still to be
/// made are made searchable). Only the account's primary group is considered, so a folder
/// open to it through another group is wrongly refused, never the other way round.
fn reachable(dir: &Path, account: &Account) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt;
    for folder in dir.ancestors().skip(1) {
        let Ok(m) = fs::metadata(folder) else {
            continue;
        };
        let search = if m.uid() == account.uid {
            0o100
        } else if m.gid() == account.gid {
            0o010
        } else {
            0o001
        };
        if m.mode() & search == 0 {
            return Err(Error::Unreachable {
                user: account.name.clone(),
                dir: dir.to_owned(),
                blocker: folder.to_owned(),
            });
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The cluster

/// A running private cluster, owned by this process: stopped by [`LocalCluster::stop`], or
/// when dropped (a panic, an early return).
pub struct LocalCluster {
    dir: PathBuf,
    /// `None` once stopped.
    postmaster: Option<Postmaster>,
    /// Held while this process owns the cluster.
    _lock: File,
}

/// The postmaster this process stops.
struct Postmaster {
    pid: Pid,
    /// `None` when it was left running by an earlier run that ended without stopping it
    /// (killed, or a crash) and this one took it over.
    child: Option<Child>,
}

impl Postmaster {
    /// Whether it has exited. A child is reaped here; a postmaster taken over is gone once
    /// its lock file is (it removes it as it exits) or its process is.
    fn is_gone(&mut self, pgdata: &Path) -> bool {
        match &mut self.child {
            Some(c) => !matches!(c.try_wait(), Ok(None)),
            None => !pgdata.join("postmaster.pid").exists() || !is_alive(self.pid),
        }
    }
}

impl LocalCluster {
    /// Starts the private cluster in `dir`, making it (initdb) the first time, and returns
    /// once it accepts connections. `account` is whom it runs as when this process is root
    /// ([`Account::for_cluster`]). A postmaster an earlier run left running there is taken
    /// over rather than started again; a stale `postmaster.pid` is PostgreSQL's to clear.
    pub fn start(
        binaries: &Binaries,
        dir: &Path,
        account: Option<&Account>,
    ) -> Result<LocalCluster, Error> {
        let dir = std::path::absolute(dir).map_err(io_error("resolve", dir))?;
        if dir.to_str().is_none() {
            return Err(Error::NotUtf8(dir));
        }
        if let Some(parent) = dir.parent() {
            fs::create_dir_all(parent).map_err(io_error("create", parent))?;
        }
        if !dir.exists() {
            fs::DirBuilder::new()
                .mode(0o700)
                .create(&dir)
                .map_err(io_error("create", &dir))?;
        }
        let run = dir.join("run");
        if !run.exists() {
            fs::create_dir(&run).map_err(io_error("create", &run))?;
        }
        // Always, not only when made: the socket trusts whoever reaches it.
        fs::set_permissions(&run, fs::Permissions::from_mode(0o700))
            .map_err(io_error("protect", &run))?;
        if let Some(account) = account {
            reachable(&dir, account)?;
            for folder in [&dir, &run] {
                std::os::unix::fs::chown(folder, Some(account.uid), Some(account.gid))
                    .map_err(io_error("hand over", folder))?;
            }
        }
        let lock = lock(&dir)?;
        let pgdata = dir.join("data");
        if !pgdata.join("PG_VERSION").exists() {
            initdb(binaries, &pgdata, account)?;
        }
        let version = fs::read_to_string(pgdata.join("PG_VERSION")).unwrap_or_default();
        let mut cluster = LocalCluster {
            postmaster: None,
            _lock: lock,
            dir,
        };
        match cluster.ready_pid() {
            Some(pid) => {
                tracing::info!(
                    "taking over PostgreSQL (pid {}) left running in {}",
                    pid.as_raw_nonzero(),
                    cluster.dir.display()
                );
                cluster.postmaster = Some(Postmaster { pid, child: None });
            }
            None => cluster.spawn(binaries, account)?,
        }
        tracing::info!(
            "private PostgreSQL {} cluster in {} (pid {}), on a unix socket only; it stops with \
             the service",
            version.trim(),
            cluster.dir.display(),
            cluster.pid().unwrap_or_default()
        );
        Ok(cluster)
    }

    /// The URL of a private cluster that a `serve` keeps running in `dir`, for the other
    /// commands; `None` when none is.
    pub fn running_url(dir: &Path) -> Option<String> {
        let run = dir.join("run");
        ready_pid(&dir.join("data"), &run)?;
        Some(url(&run))
    }

    /// The URL to connect with: the `ownergraph` database as `postgres`, over the socket.
    pub fn url(&self) -> String {
        url(&self.run())
    }

    /// The postmaster's process id, while it runs.
    pub fn pid(&self) -> Option<i32> {
        self.postmaster
            .as_ref()
            .map(|p| p.pid.as_raw_nonzero().get())
    }

    /// Stops the cluster with a fast shutdown: sessions are ended, and a checkpoint is written
    /// before it exits. Returns once its process is gone.
    pub fn stop(mut self) -> Result<(), Error> {
        self.shutdown()
    }

    fn run(&self) -> PathBuf {
        self.dir.join("run")
    }

    fn pgdata(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn ready_pid(&self) -> Option<Pid> {
        ready_pid(&self.pgdata(), &self.run())
    }

    fn spawn(&mut self, binaries: &Binaries, account: Option<&Account>) -> Result<(), Error> {
        let log = self.dir.join("postgres.log");
        let mut log_file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&log)
            .map_err(io_error("open", &log))?;
        let log_start = log_file
            .seek(SeekFrom::End(0))
            .map_err(io_error("open", &log))?;
        let stdout = log_file.try_clone().map_err(io_error("open", &log))?;
        let run = self.run();
        let mut cmd = Command::new(&binaries.postgres);
        cmd.arg("-D")
            .arg(self.pgdata())
            .args(["-p", &PORT.to_string()])
            .args(["-c", "listen_addresses="])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", quoted(&run)))
            .args(["-c", "unix_socket_permissions=0700"])
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(log_file)
            // Its own process group: a Ctrl-C at the terminal reaches the service only, which
            // stops the cluster once requests in flight are done, not before.
            .process_group(0);
        as_account(&mut cmd, account);
        let mut child = cmd.spawn().map_err(io_error("run", &binaries.postgres))?;
        let dir = self.dir.clone();
        let not_started = |detail: String| Error::NotStarted {
            dir,
            detail,
            log: log.clone(),
        };
        let Some(pid) = i32::try_from(child.id()).ok().and_then(Pid::from_raw) else {
            let _ = child.kill();
            return Err(not_started(format!("unusable process id {}", child.id())));
        };
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let detail = log_excerpt(&log, log_start)
                    .unwrap_or_else(|| format!("postgres exited ({status})"));
                return Err(not_started(detail));
            }
            if self.ready_pid() == Some(pid) {
                self.postmaster = Some(Postmaster {
                    pid,
                    child: Some(child),
                });
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                let detail = format!("not ready after {} s", START_TIMEOUT.as_secs());
                // Not left running behind a service that gave up on it.
                self.postmaster = Some(Postmaster {
                    pid,
                    child: Some(child),
                });
                let _ = self.shutdown();
                return Err(not_started(detail));
            }
            std::thread::sleep(POLL);
        }
    }

    fn shutdown(&mut self) -> Result<(), Error> {
        let Some(mut postmaster) = self.postmaster.take() else {
            return Ok(());
        };
        let pgdata = self.pgdata();
        let pid = postmaster.pid;
        // A postmaster taken over is not our child: once its lock file no longer names it,
        // it has gone, and the pid may since belong to another process.
        if postmaster.child.is_none() && pid_file(&pgdata).map(|(p, _)| p) != Some(pid) {
            return Ok(());
        }
        // SIGINT is PostgreSQL's fast shutdown; SIGQUIT its immediate one (no checkpoint:
        // the next start replays the write-ahead log, so nothing committed is lost).
        let _ = rustix::process::kill_process(pid, Signal::INT);
        if wait_until(STOP_TIMEOUT, || postmaster.is_gone(&pgdata)) {
            return Ok(());
        }
        let _ = rustix::process::kill_process(pid, Signal::QUIT);
        wait_until(STOP_TIMEOUT, || postmaster.is_gone(&pgdata));
        Err(Error::StoppedAtOnce {
            pid: pid.as_raw_nonzero().get(),
            dir: self.dir.clone(),
        })
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::warn!("{e}");
        }
    }
}

/// Takes the lock that says a `serve` owns the cluster in `dir`. A lock on an open file: the
/// system releases it when the process ends, however it ends.
fn lock(dir: &Path) -> Result<File, Error> {
    let path = dir.join("ownergraph.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(io_error("open", &path))?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(file),
        Err(rustix::io::Errno::WOULDBLOCK) => Err(Error::InUse(dir.to_owned())),
        Err(e) => Err(io_error("lock", &path)(e.into())),
    }
}

fn initdb(binaries: &Binaries, pgdata: &Path, account: Option<&Account>) -> Result<(), Error> {
    tracing::info!(
        "making a private PostgreSQL cluster in {}",
        pgdata.display()
    );
    let mut cmd = Command::new(&binaries.initdb);
    cmd.arg("-D")
        .arg(pgdata)
        .args(["-U", "postgres", "--encoding=UTF8"])
        // The C locale: the same sort order and case rules on every system, and no
        // dependence on which locales the machine has generated.
        .arg("--no-locale")
        // Trust on the socket only; TCP is refused even if listen_addresses is ever set.
        // No --no-sync: the data must survive a power cut.
        .args(["--auth-local=trust", "--auth-host=reject"])
        .current_dir(pgdata.parent().unwrap_or(Path::new("/")))
        .stdin(Stdio::null());
    as_account(&mut cmd, account);
    let out = cmd.output().map_err(io_error("run", &binaries.initdb))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(Error::Initdb {
        dir: pgdata.to_owned(),
        detail: stderr
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .map_or_else(|| format!("exited ({})", out.status), str::to_owned),
    })
}

/// Runs a command as `account` (uid, gid, and no supplementary groups: the standard library
/// drops them when root changes uid).
fn as_account(cmd: &mut Command, account: Option<&Account>) {
    if let Some(a) = account {
        cmd.uid(a.uid).gid(a.gid);
    }
}

/// The pid of a postmaster serving `pgdata` and accepting connections on the socket in
/// `run`.
fn ready_pid(pgdata: &Path, run: &Path) -> Option<Pid> {
    let (pid, state) = pid_file(pgdata)?;
    // A crash leaves "ready" behind, so the process and the socket are checked too.
    let ready = state == "ready"
        && is_alive(pid)
        && UnixStream::connect(run.join(format!(".s.PGSQL.{PORT}"))).is_ok();
    ready.then_some(pid)
}

/// The pid `postmaster.pid` names, and the postmaster's state: its 8th line, which
/// PostgreSQL 10 and later keep up to date ("starting", "ready", "stopping"), as `pg_ctl -w`
/// reads it.
fn pid_file(pgdata: &Path) -> Option<(Pid, String)> {
    let text = fs::read_to_string(pgdata.join("postmaster.pid")).ok()?;
    let mut lines = text.lines();
    let pid = Pid::from_raw(lines.next()?.trim().parse().ok()?)?;
    let state = lines.nth(6).unwrap_or_default().trim().to_owned();
    Some((pid, state))
}

/// Whether a process exists (one of another user answers "not permitted": it exists).
fn is_alive(pid: Pid) -> bool {
    !matches!(
        rustix::process::test_kill_process(pid),
        Err(rustix::io::Errno::SRCH)
    )
}

fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while !done() {
        if started.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(POLL);
    }
    true
}

/// The line of this start's log that says why it failed: the last FATAL or PANIC, else the
/// last line.
fn log_excerpt(log: &Path, from: u64) -> Option<String> {
    let mut file = File::open(log).ok()?;
    file.seek(SeekFrom::Start(from)).ok()?;
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines
        .iter()
        .rfind(|l| l.contains("FATAL:") || l.contains("PANIC:"))
        .or(lines.last())
        .map(|l| l.trim().to_owned())
}

/// A folder as one item of `unix_socket_directories`, a comma-separated list: quoted, so
/// commas and spaces in the path stay part of it.
fn quoted(dir: &Path) -> String {
    format!("\"{}\"", dir.to_string_lossy().replace('"', "\"\""))
}

/// The connection URL for the socket in `run`. The port names the socket file.
fn url(run: &Path) -> String {
    let host: String =
        url::form_urlencoded::byte_serialize(run.to_string_lossy().as_bytes()).collect();
    format!("postgres:///ownergraph?host={host}&port={PORT}&user=postgres&sslmode=disable")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn executable(path: &Path) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, "#!/bin/sh\n").unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn install(bin: &Path) {
        executable(&bin.join("initdb"));
        executable(&bin.join("postgres"));
    }

    /// The highest complete install wins across layouts, versions compare as numbers, and a
    /// folder lacking `postgres` is passed over.
    #[test]
    fn the_highest_complete_version_is_found() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        install(&r.join("usr/lib/postgresql/9.6/bin"));
        install(&r.join("usr/lib/postgresql/15/bin"));
        executable(&r.join("usr/lib/postgresql/18/bin/initdb"));
        install(&r.join("usr/pgsql-14/bin"));
        install(&r.join("opt/homebrew/opt/postgresql/bin"));
        let found = discover(None, r, &[]).unwrap();
        assert_eq!(found.initdb, r.join("usr/lib/postgresql/15/bin/initdb"));
        assert_eq!(found.postgres, r.join("usr/lib/postgresql/15/bin/postgres"));

        install(&r.join("opt/homebrew/opt/postgresql@16/bin"));
        let found = discover(None, r, &[]).unwrap();
        assert_eq!(
            found.postgres,
            r.join("opt/homebrew/opt/postgresql@16/bin/postgres")
        );
    }

    /// pg_config's bindir comes first when it holds a server, and is passed over when it is
    /// the client library's alone.
    #[test]
    fn pg_config_bindir_comes_first_when_it_holds_a_server() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        install(&r.join("usr/lib/postgresql/16/bin"));
        install(&r.join("custom/bin"));
        executable(&r.join("client/bin/psql"));
        let found = discover(Some(&r.join("custom/bin")), r, &[]).unwrap();
        assert_eq!(found.initdb, r.join("custom/bin/initdb"));
        let found = discover(Some(&r.join("client/bin")), r, &[]).unwrap();
        assert_eq!(found.initdb, r.join("usr/lib/postgresql/16/bin/initdb"));
    }

    /// Without install folders, `initdb` and `postgres` are taken from PATH, each where it
    /// first appears; a file without the executable bit does not count.
    #[test]
    fn path_is_the_last_resort() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let path = [r.join("a"), r.join("b"), r.join("c")];
        fs::create_dir_all(&path[0]).unwrap();
        fs::write(path[0].join("postgres"), "").unwrap();
        executable(&path[1].join("initdb"));
        assert_eq!(discover(None, r, &path), None);
        executable(&path[2].join("postgres"));
        let found = discover(None, r, &path).unwrap();
        assert_eq!(found.initdb, path[1].join("initdb"));
        assert_eq!(found.postgres, path[2].join("postgres"));
        assert_eq!(discover(None, r, &[]), None);
    }

    #[test]
    fn version_folders_parse_as_numbers() {
        assert_eq!(version_of("15"), Some(vec![15]));
        assert_eq!(version_of("9.6"), Some(vec![9, 6]));
        assert_eq!(version_of("@16"), Some(vec![16]));
        assert_eq!(version_of(""), Some(vec![]));
        assert_eq!(version_of("-common"), None);
        assert!(version_of("9.6") < version_of("15"));
    }

    /// The cluster's user is read from /etc/passwd by exact name.
    #[test]
    fn accounts_are_read_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      postgresql:x:7:7::/:/bin/false\n\
                      postgres:x:101:104:PostgreSQL administrator:/var/lib/postgresql:/bin/bash\n";
        assert_eq!(
            account_named(passwd, "postgres"),
            Some(Account {
                name: "postgres".into(),
                uid: 101,
                gid: 104
            })
        );
        assert_eq!(account_named(passwd, "nobody"), None);
    }

    /// XDG_DATA_HOME, else ~/.local/share; relative or missing values do not count.
    #[test]
    fn the_user_default_follows_xdg() {
        let home = Some(PathBuf::from("/home/ann"));
        assert_eq!(
            user_data_dir(Some("/data".into()), home.clone()),
            Some(PathBuf::from("/data/ownergraph/postgres"))
        );
        assert_eq!(
            user_data_dir(Some("rel".into()), home.clone()),
            Some(PathBuf::from("/home/ann/.local/share/ownergraph/postgres"))
        );
        assert_eq!(user_data_dir(None, None), None);
        assert!(matches!(
            choose_data_dir(None, None, None),
            Err(Error::NoDataDir)
        ));
    }

    /// As root, a default folder the cluster's user cannot reach moves to the system folder;
    /// one given is refused, naming the folder in the way; one it can reach is kept.
    #[test]
    fn an_unreachable_folder_is_moved_or_refused() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let private = tmp.path().join("private");
        fs::DirBuilder::new().mode(0o700).create(&private).unwrap();
        let open = tmp.path().join("open");
        fs::DirBuilder::new().mode(0o755).create(&open).unwrap();
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let owner = fs::metadata(&private).unwrap();
        // Someone who is neither the owner nor in the owner's group.
        let stranger = Account {
            name: "stranger".into(),
            uid: owner.uid() + 1,
            gid: owner.gid() + 1,
        };
        let in_private = private.join("home/ownergraph/postgres");
        assert_eq!(
            choose_data_dir(None, Some(in_private.clone()), Some(&stranger)).unwrap(),
            PathBuf::from(SYSTEM_DATA_DIR)
        );
        match choose_data_dir(Some(&in_private), None, Some(&stranger)) {
            Err(Error::Unreachable { blocker, .. }) => assert_eq!(blocker, private),
            other => panic!("expected Unreachable, got {other:?}"),
        }
        let in_open = open.join("ownergraph/postgres");
        assert_eq!(
            choose_data_dir(None, Some(in_open.clone()), Some(&stranger)).unwrap(),
            in_open
        );
        // Not root: the cluster runs as the current user, who made the folder.
        assert_eq!(
            choose_data_dir(None, Some(in_private.clone()), None).unwrap(),
            in_private
        );
    }

    /// The URL names the socket folder, the port of the socket file and the database.
    #[test]
    fn the_url_connects_over_the_socket() {
        let run = Path::new("/tmp/a dir,x/run");
        let options: sqlx::postgres::PgConnectOptions = url(run).parse().unwrap();
        assert_eq!(options.get_socket().map(PathBuf::as_path), Some(run));
        assert_eq!(options.get_port(), PORT);
        assert_eq!(options.get_database(), Some("ownergraph"));
        assert_eq!(options.get_username(), "postgres");
        assert_eq!(quoted(run), "\"/tmp/a dir,x/run\"");
    }

    /// A URL given is used whatever answers; else the default address when a server answers
    /// there; else a private cluster. The default address is a listener of the test's own.
    #[tokio::test]
    async fn the_database_is_the_one_given_the_default_or_a_private_cluster() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let answering = format!(
            "postgres://postgres@127.0.0.1:{}/ownergraph",
            listener.local_addr().unwrap().port()
        );
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!(
                "postgres://postgres@127.0.0.1:{}/ownergraph",
                l.local_addr().unwrap().port()
            )
        };
        assert_eq!(
            choose(Some(&closed), &closed).await,
            Target::Given(closed.clone())
        );
        assert_eq!(
            choose(None, &answering).await,
            Target::Default(answering.clone())
        );
        assert_eq!(choose(None, &closed).await, Target::Private);
    }

    /// Messages name the address probed, with PostgreSQL's port when the URL has none.
    #[test]
    fn addresses_default_to_the_postgres_port() {
        assert_eq!(
            address("postgres://postgres@127.0.0.1:5433/ownergraph"),
            "127.0.0.1:5433"
        );
        assert_eq!(address("postgres://u@db/x"), "db:5432");
    }
}
