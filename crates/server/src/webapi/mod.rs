//! The Web API's entity routes under `/api/data/v9.2/`, with Dataverse's conventions,
//! for every table of core's model (`mailsync_core::model::TABLES`):
//!
//! * `GET /<set>`: `$select`, `$filter`, `$orderby`, `$top`, `$count`, `$skiptoken`,
//!   `Prefer: odata.maxpagesize` (`read.rs`);
//! * `GET|PATCH|DELETE /<set>(<guid>)`, `POST /<set>` (`read.rs`, `write.rs`);
//! * `GET /mailboxes(<guid>)/Microsoft.Dynamics.CRM.DownloadMailboxDetails()`: the
//!   mailbox's Mailbox Details log as `text/plain` (`download.rs`).
//!
//! `json.rs` converts rows to JSON and request bodies to column values by column kind;
//! `rules.rs` holds what the local organization enforces (who sees what, approval,
//! profile form rules, alerts are never updated). Query parsing is core's
//! (`mailsync_core::odata`), SQL generation `crate::odata_sql`'s: this module is glue.

mod download;
mod json;
mod read;
mod rules;
mod write;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use mailsync_core::model::{self, Table};
use mailsync_core::odata::{Guid, ODataError};
use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::api::{ApiError, AppState};
use crate::auth::CurrentUser;

/// Where the Web API lives, inside `/api`.
pub const PREFIX: &str = "/data/v9.2/";

/// Error codes of the entity routes, as Dataverse answers them.
pub mod errcodes {
    /// A record with that id does not exist.
    pub const RECORD_NOT_FOUND: &str = "0x80040217";
    /// `If-Match` does not match the record's version.
    pub const CONCURRENCY_VERSION_MISMATCH: &str = "0x80060882";
    /// The caller lacks a privilege.
    pub const PRIVILEGE_DENIED: &str = "0x80040220";
    /// The operation is not supported for the entity.
    pub const UNSUPPORTED_OPERATION: &str = "0x80040800";
}

impl From<ODataError> for ApiError {
    fn from(e: ODataError) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, ODataError::CODE, e.message())
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, msg) = &e {
            if f.code == rusqlite::ErrorCode::ConstraintViolation {
                let detail = msg.clone().unwrap_or_else(|| e.to_string());
                return ApiError::bad_request(format!(
                    "The values are not valid for this table: {detail}."
                ));
            }
        }
        ApiError::from(crate::store::StoreError::Sqlite(e))
    }
}

/// The table, the key (if any) and the bound function of a request path.
#[derive(Debug, PartialEq)]
struct Target {
    table: &'static Table,
    key: Option<Guid>,
    function: Option<String>,
}

/// `mailboxes`, `mailboxes(<guid>)`, `mailboxes(<guid>)/Microsoft.Dynamics.CRM.X()`.
fn parse_target(path: &str) -> Result<Target, ApiError> {
    let rest = path.trim_end_matches('/');
    let (first, function) = match rest.split_once('/') {
        Some((a, b)) => (a, Some(b.to_string())),
        None => (rest, None),
    };
    let not_found =
        || ApiError::not_found(format!("Resource not found for the segment '{first}'."));
    let (set, key) = match first.split_once('(') {
        Some((set, k)) => {
            let k = k.strip_suffix(')').ok_or_else(not_found)?;
            let k = k.trim_matches('\'');
            let g = Guid::parse(k).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "Bad Request - Error in query syntax: '{k}' is not a valid key (expected a GUID)."
                ))
            })?;
            (set, Some(g))
        }
        None => (first, None),
    };
    let table = model::TABLES
        .iter()
        .copied()
        .find(|t| t.entity_set == set)
        .ok_or_else(not_found)?;
    if function.is_some() && key.is_none() {
        return Err(not_found());
    }
    Ok(Target {
        table,
        key,
        function,
    })
}

/// Every entity route: dispatches on the path and the method.
pub async fn entity(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match dispatch(state, user, method, uri, headers, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn dispatch(
    state: AppState,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let path = uri.path();
    let rel = path
        .find(PREFIX)
        .map(|i| &path[i + PREFIX.len()..])
        .unwrap_or("");
    let target = parse_target(rel)?;
    let ctx = Ctx {
        state,
        user,
        headers,
        uri: uri.clone(),
    };
    match (&method, target.key, target.function.as_deref()) {
        (&Method::GET, None, None) => read::collection(&ctx, target.table).await,
        (&Method::GET, Some(id), None) => read::single(&ctx, target.table, id).await,
        (&Method::POST, None, None) => write::create(&ctx, target.table, &body).await,
        (&Method::PATCH, Some(id), None) => write::update(&ctx, target.table, id, &body).await,
        (&Method::DELETE, Some(id), None) => write::delete(&ctx, target.table, id).await,
        (&Method::GET, Some(id), Some(f))
            if target.table.entity_set == "mailboxes"
                && matches!(
                    f,
                    "Microsoft.Dynamics.CRM.DownloadMailboxDetails()"
                        | "Microsoft.Dynamics.CRM.DownloadMailboxDetails"
                ) =>
        {
            download::mailbox_details(&ctx, id).await
        }
        (_, _, Some(f)) => Err(ApiError::not_found(format!(
            "Resource not found for the segment '{f}'."
        ))),
        _ => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            errcodes::UNSUPPORTED_OPERATION,
            format!("The HTTP method '{method}' is not supported for the resource '{rel}'.",),
        )),
    }
}

/// What a handler needs of the request.
pub(crate) struct Ctx {
    state: AppState,
    user: CurrentUser,
    headers: HeaderMap,
    uri: Uri,
}

impl Ctx {
    /// `http://host/api/data/v9.2/` as the client called it.
    fn base_url(&self) -> String {
        let host = self
            .headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
            .unwrap_or("localhost");
        format!("http://{host}/api{PREFIX}")
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Prefer` preferences (every `Prefer` header joined).
    fn prefer(&self) -> Result<mailsync_core::odata::Prefer, ApiError> {
        let joined: Vec<&str> = self
            .headers
            .get_all("prefer")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(mailsync_core::odata::parse_prefer(&joined.join(","))?)
    }

    /// Runs `f` on a pooled connection off the async workers.
    async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    {
        self.state.store.call(move |c| Ok(f(c))).await?
    }

    /// Runs `f` in an immediate transaction: committed when `f` returns `Ok`, rolled
    /// back (nothing changes) when it returns an error.
    async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, ApiError> + Send + 'static,
    {
        self.state
            .store
            .call(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                match f(&tx) {
                    Ok(v) => {
                        tx.commit()?;
                        Ok(Ok(v))
                    }
                    Err(e) => Ok(Err(e)),
                }
            })
            .await?
    }
}

/// `mailbox With Id = <id> Does Not Exist`, Dataverse's 404 for a missing record.
fn record_not_found(table: &Table, id: Guid) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        errcodes::RECORD_NOT_FOUND,
        format!("{} With Id = {id} Does Not Exist", table.logical),
    )
}

fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        errcodes::PRIVILEGE_DENIED,
        message.into(),
    )
}

/// Response header names.
const ODATA_VERSION: (&str, &str) = ("OData-Version", "4.0");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = parse_target("mailboxes").unwrap();
        assert_eq!(
            (t.table.logical, t.key, t.function),
            ("mailbox", None, None)
        );
        let t = parse_target("mailboxes(9FB6600B-0965-E811-A97F-000D4A161089)").unwrap();
        assert_eq!(
            t.key.unwrap().to_string(),
            "9fb6600b-0965-e811-a97f-000d4a161089"
        );
        let t = parse_target(
            "mailboxes(9fb6600b-0965-e811-a97f-000d4a161089)/Microsoft.Dynamics.CRM.DownloadMailboxDetails()",
        )
        .unwrap();
        assert!(t.function.is_some());
        assert_eq!(parse_target("accounts").unwrap_err().status, 404);
        assert_eq!(parse_target("mailboxes(1)").unwrap_err().status, 400);
        assert_eq!(parse_target("mailboxes(").unwrap_err().status, 404);
        assert_eq!(parse_target("").unwrap_err().status, 404);
        assert_eq!(parse_target("mailboxes/x").unwrap_err().status, 404);
    }
}
