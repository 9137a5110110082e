//! The audit trail: reading it, and checking that nobody changed it.
//!
//! Entries are written by Postgres alone (migrations/0004_audit.sql): triggers on the audited
//! tables append, at commit, through `audit_append`, and a trigger on `audit_log` chains each
//! entry to the one before with SHA-256. This module recomputes that chain from the rows.
//!
//! Must not break: [`canonical`] is byte for byte the `audit_canonical` function of the
//! migration. Changing either alone makes every entry look tampered with.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;

use super::{DbError, Page, page};
use crate::domain::hex;

/// The first line of the canonical bytes: the format's version.
const FORMAT: &str = "ownergraph-audit-v1";

/// The hash before the first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// One entry as stored, with its jsonb fields in Postgres's text form, which is what the hash
/// covers.
#[derive(FromRow)]
struct Row {
    seq: i64,
    recorded_at: DateTime<Utc>,
    actor: String,
    action: String,
    subject: Option<String>,
    before: Option<String>,
    after: Option<String>,
    context: Option<String>,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

/// The fields an entry's hash covers.
pub struct Contents<'a> {
    pub prev_hash: &'a [u8],
    pub seq: i64,
    pub recorded_at: DateTime<Utc>,
    pub actor: &'a str,
    pub action: &'a str,
    pub subject: Option<&'a str>,
    /// `before::text`, `after::text`, `context::text` as Postgres renders them.
    pub before: Option<&'a str>,
    pub after: Option<&'a str>,
    pub context: Option<&'a str>,
}

/// The canonical bytes of an entry (docs/audit.md): one line each, the text fields as
/// `<byte length>:<text>` or `-` for null, so no choice of contents can shift bytes from one
/// field into the next.
pub fn canonical(c: &Contents<'_>) -> Vec<u8> {
    let mut s = String::with_capacity(
        160 + [c.subject, c.before, c.after, c.context]
            .iter()
            .map(|f| f.map_or(0, str::len))
            .sum::<usize>(),
    );
    s.push_str(FORMAT);
    s.push('\n');
    s.push_str(&hex(c.prev_hash));
    s.push('\n');
    let _ = writeln!(s, "{}", c.seq);
    let _ = writeln!(s, "{}", c.recorded_at.format("%Y-%m-%dT%H:%M:%S%.6fZ"));
    for f in [
        Some(c.actor),
        Some(c.action),
        c.subject,
        c.before,
        c.after,
        c.context,
    ] {
        match f {
            None => s.push_str("-\n"),
            Some(f) => {
                let _ = writeln!(s, "{}:{f}", f.len());
            }
        }
    }
    s.into_bytes()
}

/// SHA-256 of the canonical bytes.
pub fn hash(c: &Contents<'_>) -> [u8; 32] {
    Sha256::digest(canonical(c)).into()
}

/// What checking the chain found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VerifyReport {
    /// Every entry is as written, in an unbroken chain up to the head.
    pub intact: bool,
    /// How many entries were read.
    pub entries: u64,
    /// The hash of the last entry, as lower-case hex. Keep it somewhere else: only against a
    /// head kept outside the database can a cut-off tail be told from a short log.
    pub head: String,
    /// The first broken link, when there is one.
    pub broken: Option<Broken>,
}

/// Where the chain first breaks, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Broken {
    pub seq: i64,
    pub problem: String,
}

/// Reads the whole log in seq order, one row at a time, and checks every link: seqs run from
/// 1 without a gap, each entry names its predecessor's hash, each hash matches its entry, and
/// `audit_head` names the last one. `progress` hears how many entries were read so far, every
/// 10,000 entries and at the end.
///
/// The head and the rows are read in one snapshot, so entries appended meanwhile do not look
/// like a mismatch.
pub async fn verify(
    pool: &PgPool,
    mut progress: impl FnMut(u64) + Send,
) -> Result<VerifyReport, DbError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let (head_seq, head_hash): (i64, Vec<u8>) = sqlx::query_as("SELECT seq, hash FROM audit_head")
        .fetch_one(&mut *tx)
        .await?;
    let mut rows = sqlx::query_as::<_, Row>(
        "SELECT seq, recorded_at, actor, action, subject, before::text AS before,
                after::text AS after, context::text AS context, prev_hash, hash
         FROM audit_log ORDER BY seq",
    )
    .fetch(&mut *tx);
    let mut entries = 0u64;
    let mut last_seq = 0i64;
    let mut last_hash = GENESIS.to_vec();
    let mut broken = None;
    while let Some(r) = rows.try_next().await? {
        entries += 1;
        if entries.is_multiple_of(10_000) {
            progress(entries);
        }
        if broken.is_some() {
            // Count the rest, so the report says how long the log is.
            continue;
        }
        let problem = if r.seq != last_seq + 1 {
            let missing = last_seq + 1;
            Some((missing, format!("entry {missing} is missing")))
        } else if r.prev_hash != last_hash {
            Some((r.seq, "links to a different predecessor".to_owned()))
        } else if hash(&Contents {
            prev_hash: &r.prev_hash,
            seq: r.seq,
            recorded_at: r.recorded_at,
            actor: &r.actor,
            action: &r.action,
            subject: r.subject.as_deref(),
            before: r.before.as_deref(),
            after: r.after.as_deref(),
            context: r.context.as_deref(),
        })
        .as_slice()
            != r.hash
        {
            Some((r.seq, "hash does not match its contents".to_owned()))
        } else {
            None
        };
        if let Some((seq, problem)) = problem {
            broken = Some(Broken { seq, problem });
        }
        last_seq = r.seq;
        last_hash = r.hash;
    }
    drop(rows);
    tx.rollback().await?;
    progress(entries);
    if broken.is_none() && (head_seq != last_seq || head_hash != last_hash) {
        broken = Some(if head_seq > last_seq {
            Broken {
                seq: last_seq + 1,
                problem: format!("head says {head_seq} but the log ends at {last_seq}"),
            }
        } else if head_seq < last_seq {
            Broken {
                seq: head_seq + 1,
                problem: format!("head says {head_seq} but the log ends at {last_seq}"),
            }
        } else {
            Broken {
                seq: last_seq,
                problem: "the head's hash is not the last entry's".to_owned(),
            }
        });
    }
    Ok(VerifyReport {
        intact: broken.is_none(),
        entries,
        head: hex(&head_hash),
        broken,
    })
}

/// One entry, as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema, FromRow)]
#[schema(as = AuditEntry)]
pub struct Entry {
    pub seq: i64,
    pub recorded_at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    /// Where the entry sits: the change-log version, file and response digests, counts.
    pub context: Option<serde_json::Value>,
    /// This entry's hash, lower-case hex.
    pub hash: String,
    /// The previous entry's hash, lower-case hex.
    pub prev_hash: String,
}

/// Which entries to list.
#[derive(Debug, Default)]
pub struct Filter {
    pub actor: Option<String>,
    pub action: Option<String>,
    /// An entity id (or list id, or `policy`): entries whose subject is it or names it.
    pub subject: Option<String>,
    /// Only entries after this seq.
    pub since: Option<i64>,
}

/// Entries in seq order, oldest first, a page at a time.
pub async fn list(
    pool: &PgPool,
    f: &Filter,
    limit: usize,
    cursor: Option<&str>,
) -> Result<Page<Entry>, DbError> {
    let after = super::decode_key_cursor(cursor)?;
    let from = after.into_iter().chain(f.since).max().unwrap_or(0);
    let rows: Vec<Entry> = sqlx::query_as(
        "SELECT seq, recorded_at, actor, action, subject, before, after, context,
                encode(hash, 'hex') AS hash, encode(prev_hash, 'hex') AS prev_hash
         FROM audit_log
         WHERE seq > $1
           AND ($2::text IS NULL OR actor = $2)
           AND ($3::text IS NULL OR action = $3)
           AND ($4::text IS NULL OR string_to_array(subject, ',') @> ARRAY[$4::text])
         ORDER BY seq LIMIT $5",
    )
    .bind(from)
    .bind(&f.actor)
    .bind(&f.action)
    .bind(&f.subject)
    .bind(limit as i64 + 1)
    .fetch_all(pool)
    .await?;
    Ok(page(rows, limit, |e| e.seq.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The canonical bytes and hash match what Postgres computes for the same entry:
    /// `SELECT encode(sha256(audit_canonical('\x00…00', 7, '2024-05-06 07:08:09.012345+00',
    /// 'alice', 'entity.update', 'ant-sg', '{"b": 1, "a": [1, 2.50]}', NULL,
    /// '{"version": 3}')), 'hex')` on the migrated schema.
    #[test]
    fn audit_hash_matches_postgres() {
        let c = Contents {
            prev_hash: &GENESIS,
            seq: 7,
            recorded_at: "2024-05-06T07:08:09.012345Z".parse().unwrap(),
            actor: "alice",
            action: "entity.update",
            subject: Some("ant-sg"),
            // Postgres's text form of the jsonb: keys sorted, numbers as written.
            before: Some(r#"{"a": [1, 2.50], "b": 1}"#),
            after: None,
            context: Some(r#"{"version": 3}"#),
        };
        let expected = "ownergraph-audit-v1\n\
            0000000000000000000000000000000000000000000000000000000000000000\n\
            7\n\
            2024-05-06T07:08:09.012345Z\n\
            5:alice\n\
            13:entity.update\n\
            6:ant-sg\n\
            24:{\"a\": [1, 2.50], \"b\": 1}\n\
            -\n\
            14:{\"version\": 3}\n";
        assert_eq!(String::from_utf8(canonical(&c)).unwrap(), expected);
        assert_eq!(
            hex(&hash(&c)),
            "2ff2066e610e0aa2d0358faa27ac867ae50e61ad11d839f35274ddc540616ec7"
        );
    }

    /// Lengths count bytes, not characters, as Postgres's octet_length does; and a timestamp
    /// on a whole second still shows six decimals.
    #[test]
    fn audit_canonical_counts_bytes_and_pads_microseconds() {
        let c = Contents {
            prev_hash: &[0xab; 32],
            seq: 1,
            recorded_at: "2025-01-01T00:00:00Z".parse().unwrap(),
            actor: "zoë",
            action: "a\nb",
            subject: None,
            before: None,
            after: None,
            context: None,
        };
        let s = String::from_utf8(canonical(&c)).unwrap();
        assert!(
            s.contains("\n2025-01-01T00:00:00.000000Z\n4:zoë\n3:a\nb\n-\n"),
            "{s}"
        );
    }
}
