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
        let (min, max) = match (self.share, self.share_min, self.share_max) {
            (Some(s), _, _) => (s, s),
            (None, Some(a), Some(b)) => (a, b),
            _ => (0.0, 0.0),
        };
        Ok(EdgeData::stated(
            self.pk,
            self.interest()?,
            (min, self.share_min_exclusive),
            (max, self.share_max_exclusive),
            self.valid_from,
            self.valid_to,
        ))
    }
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

/// Of the `(owned entity, interest)` pairs given, those whose known minimums add up past 100%
/// at some date, with the highest total.
pub(crate) async fn over_total(
    conn: &mut PgConnection,
    owned: &[i64],
    interests: &[&str],
) -> Result<Vec<((i64, String), f64)>, DbError> {
    // The total is a step function of the date that only rises where a link starts, so its
    // maximum is at one of the start dates (or before all of them).
    let rows: Vec<(i64, String, f64)> = sqlx::query_as(
        "WITH pairs AS (
             SELECT DISTINCT owned_pk, interest FROM unnest($1::bigint[], $2::text[])
                 AS q(owned_pk, interest)
         ), e AS (
             SELECT p.owned_pk, p.interest, coalesce(o.share, o.share_min) AS s,
                    o.valid_from AS f, o.valid_to AS t
             FROM pairs p JOIN ownerships o ON o.owned_pk = p.owned_pk
                 AND o.interest = p.interest AND o.deleted_at IS NULL
         ), starts AS (SELECT DISTINCT owned_pk, interest, f AS d FROM e)
         SELECT owned_pk, interest, max(total)::float8 FROM (
             SELECT starts.owned_pk, starts.interest, sum(e.s) AS total FROM starts JOIN e
                 ON e.owned_pk = starts.owned_pk AND e.interest = starts.interest
                AND (e.f IS NULL OR (starts.d IS NOT NULL AND e.f <= starts.d))
                AND (e.t IS NULL OR starts.d IS NULL OR starts.d < e.t)
             GROUP BY starts.owned_pk, starts.interest, starts.d) totals
         GROUP BY owned_pk, interest
         HAVING max(total) > 100.0 + 1e-9",
    )
    .bind(owned)
    .bind(interests)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(pk, interest, total)| ((pk, interest), total))
        .collect())
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
