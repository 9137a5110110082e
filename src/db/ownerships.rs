//! Ownerships: create, read, soft delete.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{FromRow, PgConnection, PgPool};

use super::entities::lock_live;
use super::{
    ChangeRecord, Committed, DbError, Page, begin_change, commit_change, decode_cursor, json,
    on_constraint, page,
};
use crate::domain::{
    EntityId, Interest, Invalid, NewOwnership, Ownership, OwnershipId, Share, ShareRange, Text,
};
use crate::engine::{EdgeData, GraphChange};

#[derive(Clone, FromRow)]
pub(crate) struct OwnershipRow {
    pub pk: i64,
    pub id: String,
    pub owner: String,
    pub owned: String,
    pub interest: String,
    pub share: Option<f64>,
    pub share_min: Option<f64>,
    pub share_max: Option<f64>,
    pub share_min_exclusive: bool,
    pub share_max_exclusive: bool,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub source: Option<String>,
    pub created_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

pub(crate) const SELECT: &str =
    "SELECT o.pk, o.id, a.id AS owner, b.id AS owned, o.interest, o.share, o.share_min,
        o.share_max, o.share_min_exclusive, o.share_max_exclusive, o.valid_from, o.valid_to,
        o.source, o.created_at, o.deleted_at
    FROM ownerships o JOIN entities a ON a.pk = o.owner_pk JOIN entities b ON b.pk = o.owned_pk";

impl OwnershipRow {
    pub(crate) fn interest(&self) -> Result<Interest, DbError> {
        Interest::parse(&self.interest)
            .ok_or_else(|| DbError::Corrupt(format!("interest '{}'", self.interest)))
    }

    pub(crate) fn edge(&self) -> Result<EdgeData, DbError> {
        Ok(edge(
            self.pk,
            self.interest()?,
            (self.share, self.share_min, self.share_max),
            (self.share_min_exclusive, self.share_max_exclusive),
            (self.valid_from, self.valid_to),
        ))
    }
}

/// What the graph keeps of a stored ownership, from its columns: an exact share, a range, or
/// no share at all (`board`, `control`, `consolidation`).
pub(crate) fn edge(
    pk: i64,
    interest: Interest,
    (share, share_min, share_max): (Option<f64>, Option<f64>, Option<f64>),
    (min_exclusive, max_exclusive): (bool, bool),
    (valid_from, valid_to): (Option<NaiveDate>, Option<NaiveDate>),
) -> EdgeData {
    let (min, max) = match (share, share_min, share_max) {
        (Some(s), _, _) => (s, s),
        (None, Some(a), Some(b)) => (a, b),
        _ => (0.0, 0.0),
    };
    EdgeData::stated(
        pk,
        interest,
        (min, min_exclusive),
        (max, max_exclusive),
        valid_from,
        valid_to,
    )
}

impl TryFrom<OwnershipRow> for Ownership {
    type Error = DbError;
    fn try_from(r: OwnershipRow) -> Result<Ownership, DbError> {
        let bad =
            |what: &str| DbError::Corrupt(format!("stored ownership '{}' has a bad {what}", r.id));
        let share = r
            .share
            .map(Share::new)
            .transpose()
            .map_err(|_| bad("share"))?;
        let share_range = match (r.share_min, r.share_max) {
            (Some(a), Some(b)) => Some(ShareRange {
                min: Share::new(a).map_err(|_| bad("share_min"))?,
                max: Share::new(b).map_err(|_| bad("share_max"))?,
            }),
            _ => None,
        };
        Ok(Ownership {
            interest: r.interest()?,
            id: r.id.parse().map_err(|_| bad("id"))?,
            owner: r.owner.parse().map_err(|_| bad("owner"))?,
            owned: r.owned.parse().map_err(|_| bad("owned"))?,
            share,
            share_range,
            valid_from: r.valid_from,
            valid_to: r.valid_to,
            source: r
                .source
                .map(Text::try_from)
                .transpose()
                .map_err(|_| bad("source"))?,
            created_at: r.created_at,
            deleted_at: r.deleted_at,
        })
    }
}

/// The error code of a write that would take the total held in an entity past 100%.
pub(crate) const TOTAL_EXCEEDED: &str = "share_total_exceeds_100";

/// Shares and votes are percentages of one whole: at no date may the known minimums held in an
/// entity add up past 100.
async fn check_total(
    conn: &mut PgConnection,
    owned_pk: i64,
    interest: Interest,
) -> Result<(), DbError> {
    let over = over_total(conn, &[owned_pk], &[interest.as_str()]).await?;
    if let Some((_, total)) = over.into_iter().next() {
        return Err(Invalid::new(
            "share",
            TOTAL_EXCEEDED,
            format!(
                "the known minimum {} held in this entity would reach {}% at some date",
                interest.as_str(),
                crate::engine::percent(total)
            ),
        )
        .into());
    }
    Ok(())
}

/// One stake in an entity, as the check of totals reads it.
#[derive(FromRow)]
struct Stake {
    owned_pk: i64,
    interest: String,
    share: f64,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
}

/// Of the `(owned entity, interest)` pairs given, those whose known minimums add up past 100%
/// at some date, with the highest total.
pub(crate) async fn over_total(
    conn: &mut PgConnection,
    owned: &[i64],
    interests: &[&str],
) -> Result<Vec<((i64, String), f64)>, DbError> {
    let rows: Vec<Stake> = sqlx::query_as(
        "SELECT o.owned_pk, o.interest, coalesce(o.share, o.share_min, 0) AS share,
             o.valid_from, o.valid_to
         FROM (SELECT DISTINCT owned_pk, interest FROM unnest($1::bigint[], $2::text[])
                   AS q(owned_pk, interest)) p
         JOIN ownerships o ON o.owned_pk = p.owned_pk AND o.interest = p.interest
             AND o.deleted_at IS NULL
         ORDER BY o.owned_pk, o.interest",
    )
    .bind(owned)
    .bind(interests)
    .fetch_all(&mut *conn)
    .await?;
    let mut over = Vec::new();
    for group in rows.chunk_by(|a, b| (a.owned_pk, &a.interest) == (b.owned_pk, &b.interest)) {
        let total = highest_total(group.iter().map(|r| (r.share, r.valid_from, r.valid_to)));
        if total > 100.0 + 1e-9 {
            over.push(((group[0].owned_pk, group[0].interest.clone()), total));
        }
    }
    Ok(over)
}

/// The highest total of stakes `(share, from, to)` held at one date, where a stake holds from
/// its start (inclusive; always when unstated) to its end (exclusive; forever when unstated).
/// The total only changes where a stake starts or ends, so one sweep over those dates finds
/// it, however many stakes there are.
fn highest_total(stakes: impl Iterator<Item = (f64, Option<NaiveDate>, Option<NaiveDate>)>) -> f64 {
    let mut total = 0.0;
    let mut steps: Vec<(NaiveDate, f64)> = Vec::new();
    for (share, from, to) in stakes {
        match from {
            Some(f) => steps.push((f, share)),
            None => total += share,
        }
        if let Some(t) = to {
            steps.push((t, -share));
        }
    }
    // A day's starts and ends apply together: a stake ending on the day another starts is not
    // held with it.
    steps.sort_by_key(|(day, _)| *day);
    let mut highest = total;
    for day in steps.chunk_by(|a, b| a.0 == b.0) {
        total += day.iter().map(|(_, s)| s).sum::<f64>();
        highest = highest.max(total);
    }
    highest
}

pub async fn create(
    pool: &PgPool,
    actor: &str,
    new: NewOwnership,
) -> Result<(Ownership, Committed), DbError> {
    let (mut tx, version) = begin_change(pool).await?;
    let (ownership, data) = write(&mut tx, None, &new).await?;
    let rec = ChangeRecord {
        actor,
        action: "ownership.create",
        entities: vec![new.owner.to_string(), new.owned.to_string()],
        before: None,
        after: json(&ownership),
        changes: vec![GraphChange::AddLink {
            owner: new.owner.as_str().into(),
            owned: new.owned.as_str().into(),
            data,
        }],
        names: Vec::new(),
    };
    let committed = commit_change(tx, version, rec).await?;
    Ok((ownership, committed))
}

/// Writes an ownership between two live entities inside a graph-changing transaction: a new
/// row, or new terms for the stored row `stored` (its id stays). Then checks that the shares
/// held in the owned entity stay within 100%.
pub(crate) async fn write(
    conn: &mut PgConnection,
    stored: Option<i64>,
    new: &NewOwnership,
) -> Result<(Ownership, EdgeData), DbError> {
    let stake = new.stake()?;
    let owner = lock_live(conn, &new.owner).await?;
    let owned = lock_live(conn, &new.owned).await?;
    let query = match stored {
        None => sqlx::query_scalar(
            "INSERT INTO ownerships (id, owner_pk, owned_pk, interest, share, share_min, share_max, valid_from, valid_to, source)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING pk",
        )
        .bind(
            new.id
                .clone()
                .unwrap_or_else(OwnershipId::generate)
                .to_string(),
        ),
        Some(pk) => sqlx::query_scalar(
            "UPDATE ownerships SET owner_pk = $2, owned_pk = $3, interest = $4, share = $5,
                 share_min = $6, share_max = $7, valid_from = $8, valid_to = $9, source = $10
             WHERE pk = $1 RETURNING pk",
        )
        .bind(pk),
    };
    let pk: i64 = query
        .bind(owner.pk)
        .bind(owned.pk)
        .bind(new.interest.as_str())
        .bind(stake.share().map(Share::get))
        .bind(stake.range().map(|r| r.min.get()))
        .bind(stake.range().map(|r| r.max.get()))
        .bind(new.valid_from)
        .bind(new.valid_to)
        .bind(new.source.as_ref().map(Text::as_str))
        .fetch_one(&mut *conn)
        .await
        .map_err(on_constraint)?;
    // Checked after the write, so that a taken id is reported as such, and counting the new
    // terms as stored; an error rolls the write back.
    if new.interest.is_quantified() {
        check_total(conn, owned.pk, new.interest).await?;
    }
    let row: OwnershipRow = sqlx::query_as(&format!("{SELECT} WHERE o.pk = $1"))
        .bind(pk)
        .fetch_one(&mut *conn)
        .await?;
    let data = row.edge()?;
    Ok((Ownership::try_from(row)?, data))
}

/// An ownership by id, deleted or not.
pub async fn get(pool: &PgPool, id: &OwnershipId) -> Result<Ownership, DbError> {
    let row: Option<OwnershipRow> = sqlx::query_as(&format!("{SELECT} WHERE o.id = $1"))
        .bind(id.as_str())
        .fetch_optional(pool)
        .await?;
    row.ok_or_else(|| DbError::not_found("ownership", id))?
        .try_into()
}

pub async fn delete(pool: &PgPool, actor: &str, id: &OwnershipId) -> Result<Committed, DbError> {
    let (mut tx, version) = begin_change(pool).await?;
    let row: Option<OwnershipRow> = sqlx::query_as(&format!(
        "{SELECT} WHERE o.id = $1 AND o.deleted_at IS NULL FOR UPDATE OF o"
    ))
    .bind(id.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let row = row.ok_or_else(|| DbError::not_found("ownership", id))?;
    sqlx::query("UPDATE ownerships SET deleted_at = now() WHERE pk = $1")
        .bind(row.pk)
        .execute(&mut *tx)
        .await?;
    let (key, owner, owned) = (row.pk, row.owner.clone(), row.owned.clone());
    let before = Ownership::try_from(row)?;
    let rec = ChangeRecord {
        actor,
        action: "ownership.delete",
        entities: vec![owner.clone(), owned.clone()],
        before: json(&before),
        after: None,
        changes: vec![GraphChange::RemoveLink {
            owner: owner.into(),
            owned: owned.into(),
            key,
        }],
        names: Vec::new(),
    };
    commit_change(tx, version, rec).await
}

pub struct OwnershipFilter {
    pub owner: Option<EntityId>,
    pub owned: Option<EntityId>,
    pub cursor: Option<String>,
    pub limit: usize,
}

/// Live ownerships, optionally of one owner or one owned entity.
pub async fn list(pool: &PgPool, f: OwnershipFilter) -> Result<Page<Ownership>, DbError> {
    let after = f.cursor.as_deref().map(decode_cursor).transpose()?;
    let rows: Vec<OwnershipRow> = sqlx::query_as(&format!(
        "{SELECT} WHERE o.deleted_at IS NULL AND ($1::text IS NULL OR o.id > $1)
           AND ($2::text IS NULL OR a.id = $2) AND ($3::text IS NULL OR b.id = $3)
         ORDER BY o.id LIMIT $4"
    ))
    .bind(after)
    .bind(f.owner.as_ref().map(EntityId::as_str))
    .bind(f.owned.as_ref().map(EntityId::as_str))
    .bind(f.limit as i64 + 1)
    .fetch_all(pool)
    .await?;
    let items = rows
        .into_iter()
        .map(Ownership::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page(items, f.limit, |o| o.id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Option<NaiveDate> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn highest_total_counts_only_stakes_held_together() {
        // 60% until 2020, then 60% from 2020: never more than 60 at once.
        let handover = [
            (60.0, None, day("2020-01-01")),
            (60.0, day("2020-01-01"), None),
        ];
        assert_eq!(highest_total(handover.into_iter()), 60.0);
        // Overlapping by one day is 120.
        let overlap = [
            (60.0, None, day("2020-01-02")),
            (60.0, day("2020-01-01"), None),
        ];
        assert_eq!(highest_total(overlap.into_iter()), 120.0);
        // Undated stakes all count; a later start adds to them.
        let later = [
            (30.0, None, None),
            (30.0, None, None),
            (50.0, day("2021-06-01"), day("2022-01-01")),
        ];
        assert_eq!(highest_total(later.into_iter()), 110.0);
        // A stake that ended before the undated ones' total was reached is not counted twice.
        let ended = [(50.0, None, day("2010-01-01")), (50.0, None, None)];
        assert_eq!(highest_total(ended.into_iter()), 100.0);
        assert_eq!(highest_total(std::iter::empty()), 0.0);
    }

    #[test]
    fn highest_total_is_linear_in_a_wide_fan_in() {
        // 100,000 owners of 0.001% each, each for its own year-long window, staggered by a day.
        let base: NaiveDate = "2000-01-01".parse().unwrap();
        let stakes = (0..100_000).map(|i| {
            let from = base + chrono::Days::new(i);
            (0.001, Some(from), Some(from + chrono::Days::new(365)))
        });
        let total = highest_total(stakes);
        assert!((total - 0.365).abs() < 1e-9, "{total}");
    }
}
