//! `/v1/lists` and their entries.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{Actor, Json, Query};
use super::upload::{InMemory, read_upload};
use super::{ListParams, parse_id};
use crate::app::AppState;
use crate::db;
use crate::domain::{
    Entry, EntryId, ImportSummary, List, ListId, ListKind, ListPatch, Name, NewEntry, NewList,
    Scope,
};
use crate::formats::{Format, UnknownFormat};
use crate::import::ListImport;

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

/// The largest list file the import route takes.
pub const IMPORT_LIMIT: usize = 512 * 1024 * 1024;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// `ofac-csv`, `ofac-xml`, `un-xml`, `eu-xml`, `uk-csv` or `ftm`.
    format: String,
    /// The list's name, when the import creates it (default: its id).
    name: Option<String>,
    /// The list's kind, when the import creates it (default `sanctions`).
    kind: Option<ListKind>,
    /// Queue a re-screening job when the import changes anything: `affected` (what the
    /// import's changes reach) or `all`. Its id is the summary's `rescreen_job`.
    rescreen: Option<Scope>,
}

/// Import a list file: the list becomes what the file states. Entries that appear, change or
/// disappear are counted; disappeared entries get `delisted_on`; the same file twice changes
/// nothing. A file that does not parse is rejected whole (422, naming the line or element)
/// and the list stays as it was. The body is the file itself; `ofac-csv` takes
/// `multipart/form-data` with the parts `sdn.csv`, `alt.csv`, `add.csv` (and optionally
/// `sdn_comments.csv`).
#[utoipa::path(post, path = "/v1/lists/{list}/import", tag = "lists",
    params(("list" = String, Path), ImportParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = ImportSummary), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import(
    State(s): State<AppState>,
    Actor(actor): Actor,
    Path(list): Path<String>,
    Query(q): Query<ImportParams>,
    req: Request,
) -> ApiResult<axum::Json<ImportSummary>> {
    let list: ListId = list
        .parse()
        .map_err(|_| ApiError::invalid("list", "invalid_id", "not a valid list id"))?;
    let format: Format = q
        .format
        .parse()
        .map_err(|e: UnknownFormat| ApiError::invalid("format", "unknown_format", e.to_string()))?;
    let name = q
        .name
        .map(|n| Name::parse(&n))
        .transpose()
        .map_err(|_| ApiError::invalid("name", "invalid_name", "not a valid list name"))?;
    let mut files = InMemory::default();
    read_upload(req, format.as_str(), IMPORT_LIMIT, &mut files).await?;
    let files = files.finish()?;
    let import = ListImport {
        list,
        name,
        kind: q.kind.unwrap_or(ListKind::Sanctions),
        format,
        files,
    };
    Ok(axum::Json(s.import_list(&actor, import, q.rescreen).await?))
}
