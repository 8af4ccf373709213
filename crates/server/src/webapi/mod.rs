//! The Web API's entity routes under `/api/data/v9.2/`, with Dataverse's conventions,
//! for every table of core's model (`mailsync_core::model::TABLES`):
//!
//! * `GET /<set>`: `$select`, `$filter`, `$orderby`, `$top`, `$count`, `$skiptoken`,
//!   `Prefer: odata.maxpagesize` (`read.rs`);
//! * `GET|PATCH|DELETE /<set>(<guid>)`, `POST /<set>` (`read.rs`, `write.rs`);
//! * `GET /mailboxes(<guid>)/Microsoft.Dynamics.CRM.DownloadMailboxDetails()`: the
//!   mailbox's Mailbox Details log as `text/plain` (`download.rs`);
//! * `POST /$batch`: many operations in one multipart request, change sets in one
//!   transaction (`batch.rs`).
//!
//! Every operation goes through `execute`: synchronous, on a connection (or a
//! transaction) the caller owns, returning a `Reply` (status, headers, body). A single
//! request runs it with `run_one` (a write in its own immediate transaction); `$batch`
//! runs many on one connection.
//!
//! `json.rs` converts rows to JSON and request bodies to column values by column kind;
//! `rules.rs` holds what the local organization enforces (who sees what, approval,
//! profile form rules, alerts are never updated). Query parsing is core's
//! (`mailsync_core::odata`), SQL generation `crate::odata_sql`'s: this module is glue.

mod batch;
mod download;
mod json;
mod parties;
mod privileges;
mod prompts;
mod read;
mod rules;
mod service;
pub mod signin;
mod users;
mod write;

pub use service::BUSINESS_UNIT_ID;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use mailsync_core::model::{self, Table};
use mailsync_core::odata::{Guid, ODataError};
use rusqlite::{Connection, TransactionBehavior};

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::auth::SignedInUser;

/// Where the Web API lives, inside `/api`.
pub const PREFIX: &str = "/data/v9.2/";

/// Largest body of one operation: a record whose text columns are all at their
/// MaxLength (an email's description is 1 MB) fits.
pub const BODY_LIMIT: usize = 4 * 1024 * 1024;
/// Largest `$batch` body: 1,000 operations.
pub const BATCH_BODY_LIMIT: usize = 16 * 1024 * 1024;

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

/// What one operation answers: status, headers and body, before it becomes an HTTP
/// response (`IntoResponse`) or a part of a `$batch` response (`batch.rs`).
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn empty(status: StatusCode) -> Reply {
        let mut headers = HeaderMap::new();
        headers.insert(ODATA_VERSION.0, HeaderValue::from_static(ODATA_VERSION.1));
        Reply {
            status,
            headers,
            body: Vec::new(),
        }
    }

    /// A JSON body (`application/json; odata.metadata=minimal`).
    pub fn json(status: StatusCode, body: &serde_json::Value) -> Reply {
        let mut r = Reply::empty(status);
        r.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; odata.metadata=minimal"),
        );
        r.body = serde_json::to_vec(body).unwrap_or_default();
        r
    }

    /// An error in Dataverse's shape.
    pub fn error(e: &ApiError) -> Reply {
        let mut r = Reply::empty(e.status);
        r.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        r.body = serde_json::to_vec(
            &serde_json::json!({"error": {"code": e.code, "message": e.message}}),
        )
        .unwrap_or_default();
        r
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut resp = (self.status, self.body).into_response();
        resp.headers_mut().remove(header::CONTENT_TYPE);
        resp.headers_mut().extend(self.headers);
        resp
    }
}

/// Every entity route: dispatches on the path and the method. Reads run on a pooled
/// connection, writes in one immediate transaction (rolled back on any refusal); both
/// off the async workers. `POST /$batch` goes to `batch.rs`.
pub async fn entity(
    State(state): State<AppState>,
    user: CurrentUser,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let is_batch = relative_path(uri.path()) == "$batch";
    let limit = if is_batch {
        BATCH_BODY_LIMIT
    } else {
        BODY_LIMIT
    };
    let body = match crate::auth::read_body(&headers, body, limit).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    if is_batch {
        return batch::handle(state, user, method, headers, body).await;
    }
    if !body.is_empty() {
        if let Err(e) = crate::auth::require_json(&headers) {
            return e.into_response();
        }
    }
    let base = base_url(&headers, state.security.tls);
    let out = state
        .store
        .call(move |conn| {
            let ctx = Ctx {
                user: &user.0,
                headers: &headers,
                uri: &uri,
                base: &base,
            };
            run_one(conn, &ctx, &method, &body)
        })
        .await;
    match out {
        Ok(Ok(r)) => r.into_response(),
        Ok(Err(e)) => Reply::error(&e).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// One operation with its own transaction handling: a write in one immediate
/// transaction (committed on success), a read without.
pub(crate) fn run_one(
    conn: &mut Connection,
    ctx: &Ctx,
    method: &Method,
    body: &[u8],
) -> Result<Result<Reply, ApiError>, crate::store::StoreError> {
    if method == Method::GET {
        return Ok(execute(conn, ctx, method, body));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let out = execute(&tx, ctx, method, body);
    if out.is_ok() {
        tx.commit()?;
    }
    Ok(out)
}

/// The part of a request path after `/api/data/v9.2/`.
fn relative_path(path: &str) -> &str {
    path.find(PREFIX)
        .map(|i| &path[i + PREFIX.len()..])
        .unwrap_or("")
}

/// Executes one operation on `conn` (the caller owns the transaction, if any): the
/// rules of the table apply, any refusal is an `ApiError` (and the caller rolls back).
pub(crate) fn execute(
    conn: &Connection,
    ctx: &Ctx,
    method: &Method,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let rel = relative_path(ctx.uri.path());
    if method == Method::GET {
        if let Some(reply) = service::route(ctx, conn, rel) {
            return reply;
        }
    } else if service::is_function(rel) {
        // A function is called with GET; any other method is refused as such.
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            errcodes::UNSUPPORTED_OPERATION,
            format!(
                "The HTTP method '{method}' is not supported for the resource '{rel}': \
                 it is a function, called with GET."
            ),
        ));
    }
    let target = parse_target(rel)?;
    match (method, target.key, target.function.as_deref()) {
        (&Method::GET, None, None) => read::collection(ctx, conn, target.table),
        (&Method::GET, Some(id), None) => read::single(ctx, conn, target.table, id),
        (&Method::POST, None, None) => write::create(ctx, conn, target.table, body),
        (&Method::PATCH, Some(id), None) => write::update(ctx, conn, target.table, id, body),
        (&Method::DELETE, Some(id), None) => write::delete(ctx, conn, target.table, id),
        (&Method::GET, Some(id), Some(f))
            if target.table.entity_set == "mailboxes"
                && matches!(
                    f,
                    "Microsoft.Dynamics.CRM.DownloadMailboxDetails()"
                        | "Microsoft.Dynamics.CRM.DownloadMailboxDetails"
                ) =>
        {
            download::mailbox_details(ctx, conn, id)
        }
        (&Method::GET, Some(id), Some(f))
            if target.table.entity_set == "systemusers"
                && matches!(
                    f,
                    "Microsoft.Dynamics.CRM.RetrieveUserPrivileges()"
                        | "Microsoft.Dynamics.CRM.RetrieveUserPrivileges"
                ) =>
        {
            users::privileges(ctx, conn, id)
        }
        (&Method::GET, Some(id), Some("systemuserroles_association"))
            if target.table.entity_set == "systemusers" =>
        {
            users::roles(ctx, conn, id)
        }
        (method, Some(id), Some(f))
            if matches!(target.table.entity_set, "teams" | "systemusers")
                && f.starts_with(users::MEMBERSHIP) =>
        {
            users::membership(ctx, conn, method, target.table, id, f, body)
        }
        (&Method::POST, Some(id), Some(signin::ACTION))
            if target.table.entity_set == "mailboxes" =>
        {
            signin::begin(ctx, conn, id)
        }
        (&Method::POST, Some(id), Some(f))
            if target.table.entity_set == "tracelogs" && f.starts_with(prompts::PREFIX) =>
        {
            prompts::decide(ctx, conn, id, f, body)
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

/// `http(s)://host/api/data/v9.2/` as the client called it.
pub(crate) fn base_url(headers: &HeaderMap, tls: bool) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("localhost");
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{host}/api{PREFIX}")
}

/// What a handler needs of the request (an HTTP request or one operation of a batch).
pub(crate) struct Ctx<'a> {
    pub user: &'a SignedInUser,
    pub headers: &'a HeaderMap,
    pub uri: &'a Uri,
    /// `http://host/api/data/v9.2/`.
    pub base: &'a str,
}

impl Ctx<'_> {
    fn base_url(&self) -> &str {
        self.base
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
