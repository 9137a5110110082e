//! `/v1/lists` and their entries.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiResult, ErrorBody};
use super::extract::{Actor, Json, Query};
use super::{ListParams, parse_id};
use crate::app::AppState;
use crate::db;
use crate::domain::{Entry, EntryId, List, ListId, ListPatch, NewEntry, NewList};

/// Create a list.
#[utoipa::path(post, path = "/v1/lists", tag = "lists", request_body = NewList,
    responses((status = 201, body = List), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Actor(actor): Actor,
    Json(new): Json<NewList>,
) -> ApiResult<(StatusCode, axum::Json<List>)> {
    let (list, committed) = db::lists::create_list(&s.db, &actor, new).await?;
    s.publish(committed).await?;
    Ok((StatusCode::CREATED, axum::Json(list)))
}

#[derive(Serialize, ToSchema)]
pub struct ListPage {
    items: Vec<List>,
    next_cursor: Option<String>,
}

/// Page through lists.
#[utoipa::path(get, path = "/v1/lists", tag = "lists", params(ListParams), responses((status = 200, body = ListPage)))]
pub async fn list(
    State(s): State<AppState>,
    Query(q): Query<ListParams>,
) -> ApiResult<axum::Json<ListPage>> {
    let page = db::lists::list_lists(&s.db, q.cursor.as_deref(), q.limit()?).await?;
    Ok(axum::Json(ListPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// Fetch a list.
#[utoipa::path(get, path = "/v1/lists/{list}", tag = "lists", params(("list" = String, Path)),
    responses((status = 200, body = List), (status = 404, body = ErrorBody)))]
pub async fn get(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<axum::Json<List>> {
    let id: ListId = parse_id(&id, "list")?;
    Ok(axum::Json(db::lists::get_list(&s.db, &id).await?))
}

/// Rename a list, or switch it off (an inactive list designates nobody) and on.
#[utoipa::path(patch, path = "/v1/lists/{list}", tag = "lists", params(("list" = String, Path)), request_body = ListPatch,
    responses((status = 200, body = List), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn patch(
    State(s): State<AppState>,
    Actor(actor): Actor,
    Path(id): Path<String>,
    Json(p): Json<ListPatch>,
) -> ApiResult<axum::Json<List>> {
    let id: ListId = parse_id(&id, "list")?;
    let (list, committed) = db::lists::patch_list(&s.db, &actor, &id, p).await?;
    s.publish(committed).await?;
    Ok(axum::Json(list))
}

/// Add an entry to a list.
#[utoipa::path(post, path = "/v1/lists/{list}/entries", tag = "lists", params(("list" = String, Path)), request_body = NewEntry,
    responses((status = 201, body = Entry), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_entry(
    State(s): State<AppState>,
    Actor(actor): Actor,
    Path(list): Path<String>,
    Json(new): Json<NewEntry>,
) -> ApiResult<(StatusCode, axum::Json<Entry>)> {
    let list: ListId = parse_id(&list, "list")?;
    let (entry, committed) = db::lists::create_entry(&s.db, &actor, &list, new).await?;
    s.publish(committed).await?;
    Ok((StatusCode::CREATED, axum::Json(entry)))
}

#[derive(Serialize, ToSchema)]
pub struct EntryPage {
    items: Vec<Entry>,
    next_cursor: Option<String>,
}

/// Page through a list's entries.
#[utoipa::path(get, path = "/v1/lists/{list}/entries", tag = "lists", params(("list" = String, Path), ListParams),
    responses((status = 200, body = EntryPage), (status = 404, body = ErrorBody)))]
pub async fn entries(
    State(s): State<AppState>,
    Path(list): Path<String>,
    Query(q): Query<ListParams>,
) -> ApiResult<axum::Json<EntryPage>> {
    let list: ListId = parse_id(&list, "list")?;
    let page = db::lists::list_entries(&s.db, &list, q.cursor.as_deref(), q.limit()?).await?;
    Ok(axum::Json(EntryPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// Fetch one entry.
#[utoipa::path(get, path = "/v1/lists/{list}/entries/{entry}", tag = "lists", params(("list" = String, Path), ("entry" = String, Path)),
    responses((status = 200, body = Entry), (status = 404, body = ErrorBody)))]
pub async fn get_entry(
    State(s): State<AppState>,
    Path((list, entry)): Path<(String, String)>,
) -> ApiResult<axum::Json<Entry>> {
    let list: ListId = parse_id(&list, "list")?;
    let entry: EntryId = parse_id(&entry, "entry")?;
    Ok(axum::Json(
        db::lists::get_entry(&s.db, &list, &entry).await?,
    ))
}

/// Remove an entry from a list.
#[utoipa::path(delete, path = "/v1/lists/{list}/entries/{entry}", tag = "lists", params(("list" = String, Path), ("entry" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_entry(
    State(s): State<AppState>,
    Actor(actor): Actor,
    Path((list, entry)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let list: ListId = parse_id(&list, "list")?;
    let entry: EntryId = parse_id(&entry, "entry")?;
    let committed = db::lists::delete_entry(&s.db, &actor, &list, &entry).await?;
    s.publish(committed).await?;
    Ok(StatusCode::NO_CONTENT)
}
