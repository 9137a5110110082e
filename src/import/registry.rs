//! Importing company-registry files (BODS 0.4, GLEIF, UK PSC) with bounded memory.
//!
//! A reader runs on a blocking thread and streams records into batches of [`BATCH`]; the
//! batches cross a channel of [`IN_FLIGHT`] to the task that applies them to the store
//! ([`crate::db::registry::Importer`]) inside one transaction. Memory is therefore the
//! readers' own small per-id state plus a few batches, whatever the size of the file. The
//! input is hashed as it is read. A reader error or a store error stops both sides and rolls
//! everything back.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio::sync::mpsc;

use super::ImportError;
use crate::db::registry::{Batch, Importer, RegistryImportSummary};
use crate::db::{Committed, DbError};
use crate::formats::{
    self, DeclaredUnknown, FormatError, RegistryLink, RegistryParty, RegistrySink,
};

/// Records a batch holds.
const BATCH: usize = 5_000;
/// Batches read ahead of the store.
const IN_FLIGHT: usize = 4;

/// A registry file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistryFormat {
    /// BODS 0.4 statements: a JSON array or JSON Lines.
    Bods,
    /// GLEIF LEI-CDF, RR-CDF and reporting-exception XML files.
    Gleif,
    /// The UK Companies House PSC snapshot (JSON Lines).
    Psc,
}

impl RegistryFormat {
    pub const ALL: [RegistryFormat; 3] = [Self::Bods, Self::Gleif, Self::Psc];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bods => "bods",
            Self::Gleif => "gleif",
            Self::Psc => "psc",
        }
    }

    /// The source its records are kept under.
    pub fn source(self) -> &'static str {
        match self {
            Self::Bods => "bods",
            Self::Gleif => "gleif",
            Self::Psc => "uk-psc",
        }
    }

    /// The file extensions taken from a folder.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Bods | Self::Psc => &["json", "jsonl", "ndjson"],
            Self::Gleif => &["xml"],
        }
    }

    /// Reads `input`, the content of the file at `path`.
    fn read(
        self,
        path: &Path,
        name: &str,
        input: &mut dyn BufRead,
        sink: &mut dyn RegistrySink,
    ) -> Result<(), FormatError> {
        match self {
            // A first, light pass counts each relationship's statements, so that the reading
            // pass need not hold every relationship to the end of the file.
            Self::Bods => {
                let file = std::fs::File::open(path)
                    .map_err(|e| FormatError::new(name, format!("cannot open: {e}")))?;
                let lengths = formats::SeriesLengths::count(name, BufReader::new(file));
                formats::read_bods_counted(name, input, lengths, sink)
            }
            Self::Gleif => formats::read_gleif(name, input, sink),
            Self::Psc => formats::read_psc(name, input, sink),
        }
    }
}

impl FromStr for RegistryFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("unknown registry format '{s}' (bods, gleif or psc)"))
    }
}

/// The files of `path`: itself, or the files of a directory with one of the format's
/// extensions, in name order.
pub fn files_of(path: &Path, format: RegistryFormat) -> std::io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        std::fs::metadata(path)?;
        return Ok(vec![path.to_owned()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|p| {
        p.is_file()
            && p.extension().is_some_and(|e| {
                format
                    .extensions()
                    .iter()
                    .any(|x| e.eq_ignore_ascii_case(x))
            })
    });
    files.sort();
    Ok(files)
}

/// A file's name as errors quote it.
fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// How far an import has got.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub records: u64,
    pub bytes: u64,
    pub total_bytes: u64,
    pub elapsed: Duration,
}

/// Reads every input in order and applies it as one import. `progress` is called after each
/// batch is applied.
pub async fn import_registry(
    pool: &PgPool,
    actor: &str,
    format: RegistryFormat,
    inputs: Vec<PathBuf>,
    mut progress: impl FnMut(Progress),
) -> Result<(RegistryImportSummary, Option<Committed>), ImportError> {
    let started = Instant::now();
    if inputs.is_empty() {
        return Err(FormatError::new(format.as_str(), "no input files").into());
    }
    let total_bytes = inputs
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    let bytes = Arc::new(AtomicU64::new(0));
    let (tx, mut rx) = mpsc::channel::<Batch>(IN_FLIGHT);
    let read_bytes = bytes.clone();
    let reader = tokio::task::spawn_blocking(move || read_all(format, inputs, tx, &read_bytes));

    let mut importer = Importer::begin(pool, actor, format.as_str(), format.source()).await?;
    let mut applied: Result<(), DbError> = Ok(());
    while let Some(batch) = rx.recv().await {
        applied = importer.apply(batch).await;
        if applied.is_err() {
            break;
        }
        progress(Progress {
            records: importer.summary().records,
            bytes: bytes.load(Ordering::Relaxed),
            total_bytes,
            elapsed: started.elapsed(),
        });
    }
    // Stops the reader, if the store failed first.
    drop(rx);
    let read = reader
        .await
        .map_err(|e| FormatError::new(format.as_str(), format!("the reader failed: {e}")))?;
    applied?;
    let (sha256, notes) = read?;
    let (summary, committed) = importer
        .finish(pool, &sha256, notes, started.elapsed().as_millis() as u64)
        .await?;
    tracing::info!(
        format = format.as_str(),
        records = summary.records,
        version = summary.version,
        elapsed_ms = summary.elapsed_ms,
        "registry imported"
    );
    Ok((summary, committed))
}

/// Reads the inputs into the channel; returns the digest of all of them and the readers'
/// notes.
fn read_all(
    format: RegistryFormat,
    inputs: Vec<PathBuf>,
    tx: mpsc::Sender<Batch>,
    bytes: &AtomicU64,
) -> Result<(String, Vec<String>), FormatError> {
    let mut sink = ChannelSink {
        batch: Batch::default(),
        tx,
        notes: Vec::new(),
    };
    let mut digests: Vec<(String, [u8; 32])> = Vec::new();
    for path in inputs {
        let name = file_name(&path);
        let raw = std::fs::File::open(&path)
            .map_err(|e| FormatError::new(&name, format!("cannot open: {e}")))?;
        let mut hashing = BufReader::with_capacity(
            1 << 16,
            Hashing {
                inner: raw,
                hash: Sha256::new(),
                bytes,
            },
        );
        format.read(&path, &name, &mut hashing, &mut sink)?;
        let mut rest = Vec::new();
        // Whatever the reader left unread still counts towards the digest.
        hashing
            .read_to_end(&mut rest)
            .map_err(|e| FormatError::new(&name, format!("cannot read: {e}")))?;
        digests.push((name, hashing.into_inner().hash.finalize().into()));
    }
    sink.flush()?;
    digests.sort();
    let mut all = Sha256::new();
    for (name, d) in digests {
        all.update(name.as_bytes());
        all.update([0]);
        all.update(d);
    }
    let hex = crate::domain::hex(&all.finalize());
    Ok((hex, sink.notes))
}

/// Hashes and counts what passes through.
struct Hashing<'a> {
    inner: std::fs::File,
    hash: Sha256,
    bytes: &'a AtomicU64,
}

impl Read for Hashing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Sends full batches to the store.
struct ChannelSink {
    batch: Batch,
    tx: mpsc::Sender<Batch>,
    notes: Vec<String>,
}

impl ChannelSink {
    fn full(&mut self) -> Result<(), FormatError> {
        if self.batch.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), FormatError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.tx
            .blocking_send(batch)
            .map_err(|_| FormatError::new("import", "stopped: the store failed"))
    }
}

impl RegistrySink for ChannelSink {
    fn party(&mut self, party: RegistryParty) -> Result<(), FormatError> {
        self.batch.parties.push((party, false));
        self.full()
    }

    fn replace_party(&mut self, party: RegistryParty) -> Result<(), FormatError> {
        self.batch.parties.push((party, true));
        self.full()
    }

    fn link(&mut self, link: RegistryLink, at: &str) -> Result<(), FormatError> {
        self.batch.links.push((link, at.to_owned()));
        self.full()
    }

    fn unknown(&mut self, unknown: DeclaredUnknown, at: &str) -> Result<(), FormatError> {
        self.batch.unknowns.push((unknown, at.to_owned()));
        self.full()
    }

    fn note(&mut self, note: String) {
        self.notes.push(note);
    }
}
