//! `POST /api/data/v9.2/$batch`, as Dataverse accepts it (OData 4.0 multipart batches).
//!
//! The request is `Content-Type: multipart/mixed; boundary=batch_<id>`. Each part is
//! either one operation (`Content-Type: application/http`, then the request line
//! `GET|POST|PATCH|DELETE <url> HTTP/1.1`, headers, a blank line and a JSON body) or a
//! change set (`Content-Type: multipart/mixed; boundary=changeset_<id>`) whose parts are
//! operations with a `Content-ID`. URLs may be absolute (`http://host/api/data/v9.2/x`),
//! rooted (`/api/data/v9.2/x`) or relative to the service (`x`); inside a change set
//! `$<Content-ID>` at the start of a URL, or as the value of an `x@odata.bind`, stands
//! for the record an earlier operation of the change set created or changed.
//!
//! Semantics (Dataverse's):
//!
//! * Operations run in order, each through the same code as a single request
//!   (`super::execute`), so every rule (approval by role, ...) applies per operation.
//! * A change set is one immediate transaction: all its operations apply or none. When
//!   one fails, the transaction rolls back and the change set answers with that one
//!   error (a single `application/http` part carrying the failing operation's
//!   `Content-ID`) instead of a `changesetresponse`.
//! * An operation outside a change set applies or fails on its own. Without
//!   `Prefer: odata.continue-on-error` on the batch request, the batch stops at the
//!   first failure (of an operation or a change set): its error is the last part of the
//!   response and nothing after it runs. With it, every part runs and each failure is
//!   reported in its place.
//! * The response is 200 `multipart/mixed; boundary=batchresponse_<guid>` whenever the
//!   batch itself could be read; parts answer `HTTP/1.1 <status> <reason>` with their
//!   headers (`OData-EntityId`, `ETag`, `Content-Type`, ...) and body; a change set's
//!   answers are nested in `changesetresponse_<guid>`. `Server-Timing: batch;dur=<ms>`
//!   is the time spent executing.
//! * Writes run in an immediate transaction with a savepoint per operation and per
//!   change set: a failure rolls back to its savepoint only, so each operation is still
//!   independent, while the batch commits rarely (a commit per operation made
//!   committing most of the cost of 1,000 approvals). GETs run outside it, so reading
//!   never holds the write lock, and the transaction is committed whenever it has been
//!   held for `HOLD` (100 ms): another user's write waits that long at most.
//! * The answer is at most `MAX_RESPONSE_BYTES` (16 MB): an operation whose answer
//!   would go past it gets a 400 in its place, so a thousand GETs of 5,000 records each
//!   cannot make the server build gigabytes.
//! * At most 1,000 operations (counting those inside change sets); more, a malformed
//!   body or a nested batch → 400 in Dataverse's error shape and nothing runs.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Instant;

use axum::body::Bytes;
use axum::http::header::{self, HeaderName};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::{base_url, errcodes, execute, Ctx, Reply, PREFIX};
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{new_guid, StoreError};

/// Most operations in one batch, as in Dataverse.
pub const MAX_OPERATIONS: usize = 1000;

/// One operation of a batch, as read from its part.
#[derive(Debug)]
struct Operation {
    content_id: Option<String>,
    /// The request, or why its part could not be read (answered as that operation's
    /// 400).
    request: Result<OpRequest, String>,
}

#[derive(Debug)]
struct OpRequest {
    method: Method,
    url: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

#[derive(Debug)]
enum Item {
    Single(Operation),
    ChangeSet(Vec<Operation>),
}

/// One answered operation.
struct Answer {
    content_id: Option<String>,
    reply: Reply,
}

enum Outcome {
    Single(Answer),
    ChangeSet(Vec<Answer>),
    /// A change set that rolled back: the one error.
    Failed(Answer),
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message)
}

/// `POST /$batch`.
pub async fn handle(
    state: AppState,
    user: CurrentUser,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match batch(state, user, method, headers, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn batch(
    state: AppState,
    user: CurrentUser,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if method != Method::POST {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            errcodes::UNSUPPORTED_OPERATION,
            format!("The HTTP method '{method}' is not supported for '$batch': use POST."),
        ));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = multipart_boundary(content_type).ok_or_else(|| {
        bad(format!(
            "A $batch request needs 'Content-Type: multipart/mixed; boundary=batch_<id>' \
             (got '{content_type}')."
        ))
    })?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| bad("The $batch request body is not valid UTF-8."))?;
    let items = parse_batch(text, &boundary)?;
    let count: usize = items
        .iter()
        .map(|i| match i {
            Item::Single(_) => 1,
            Item::ChangeSet(ops) => ops.len(),
        })
        .sum();
    if count > MAX_OPERATIONS {
        return Err(bad(format!(
            "Number of requests in the batch ({count}) exceeded the limit of {MAX_OPERATIONS}."
        )));
    }
    let continue_on_error = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("odata.continue-on-error"));
    let host = headers.get(header::HOST).cloned();
    let base = base_url(&headers, state.security.tls);
    let started = Instant::now();
    let outcomes = state
        .store
        .call(move |conn| run_items(conn, &user, &base, host, items, continue_on_error))
        .await?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let boundary = format!("batchresponse_{}", new_guid()?);
    let body = render(&boundary, &outcomes)?;
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("multipart/mixed; boundary={boundary}")) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert("OData-Version", HeaderValue::from_static("4.0"));
    if let Ok(v) = HeaderValue::from_str(&format!("batch;dur={ms:.1}")) {
        h.insert("Server-Timing", v);
    }
    if continue_on_error {
        h.insert(
            "Preference-Applied",
            HeaderValue::from_static("odata.continue-on-error"),
        );
    }
    Ok(resp)
}

/// Most bytes a batch's answer holds: an operation whose answer would go past it is
/// answered with an error instead (and counts as failed), so a small request asking for
/// a thousand big pages cannot make the server build gigabytes.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Longest time a batch holds the database's write lock at a stretch: past it, what
/// is done is committed and the next write starts a new transaction, so another
/// user's write waits for at most this much (plus one operation).
const HOLD: std::time::Duration = std::time::Duration::from_millis(100);

/// The write transaction a batch holds, opened and closed in SQL (`BEGIN IMMEDIATE`,
/// savepoints) so that its GETs can run on the same connection between two of them,
/// outside any transaction, without holding the write lock.
struct Writer<'c> {
    conn: &'c rusqlite::Connection,
    since: Option<Instant>,
}

impl<'c> Writer<'c> {
    /// Inside a write transaction (a new one when none is open, or after `HOLD`).
    fn begin(&mut self) -> Result<(), StoreError> {
        if self.since.is_some_and(|t| t.elapsed() >= HOLD) {
            self.commit()?;
        }
        if self.since.is_none() {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.since = Some(Instant::now());
        }
        Ok(())
    }

    /// Commits what is open, if anything.
    fn commit(&mut self) -> Result<(), StoreError> {
        if self.since.take().is_some() {
            self.conn.execute_batch("COMMIT")?;
        }
        Ok(())
    }

    /// Runs `f` inside a savepoint: released when it succeeds, rolled back to when it
    /// fails.
    fn savepoint<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Connection) -> Result<T, ApiError>,
    ) -> Result<Result<T, ApiError>, StoreError> {
        self.begin()?;
        self.conn.execute_batch("SAVEPOINT op")?;
        let out = f(self.conn);
        if out.is_ok() {
            self.conn.execute_batch("RELEASE op")?;
        } else {
            self.conn.execute_batch("ROLLBACK TO op; RELEASE op")?;
        }
        Ok(out)
    }
}

impl Drop for Writer<'_> {
    /// A batch that stopped on a database error leaves nothing half-open on its pooled
    /// connection.
    fn drop(&mut self) {
        if self.since.is_some() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// Runs every item on one connection, in order (see the module's documentation): GETs
/// outside the write transaction, writes in it with a savepoint each (a change set one
/// savepoint for all), the answers within `MAX_RESPONSE_BYTES`.
fn run_items(
    conn: &mut rusqlite::Connection,
    user: &CurrentUser,
    base: &str,
    host: Option<HeaderValue>,
    items: Vec<Item>,
    continue_on_error: bool,
) -> Result<Vec<Outcome>, StoreError> {
    let mut writer = Writer { conn, since: None };
    let mut budget = MAX_RESPONSE_BYTES;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let failed = match item {
            Item::Single(op) => {
                let reply = match prepare(&op, host.as_ref(), base, &HashMap::new()) {
                    Ok(Prepared {
                        method: m,
                        uri,
                        headers,
                        body,
                    }) => {
                        let ctx = Ctx {
                            user: &user.0,
                            headers: &headers,
                            uri: &uri,
                            base,
                        };
                        if m == Method::GET && budget == 0 {
                            // The answer is full: the read would only be thrown away.
                            Err(answer_full())
                        } else if m == Method::GET {
                            writer.commit()?;
                            execute(writer.conn, &ctx, &m, &body)
                        } else {
                            writer.savepoint(|c| execute(c, &ctx, &m, &body))?
                        }
                    }
                    Err(e) => Err(e),
                };
                let reply = within(&mut budget, reply.unwrap_or_else(|e| Reply::error(&e)));
                let failed = !reply.status.is_success();
                out.push(Outcome::Single(Answer {
                    content_id: op.content_id,
                    reply,
                }));
                failed
            }
            Item::ChangeSet(ops) => {
                let mut answers = Vec::with_capacity(ops.len());
                let mut failure = None;
                let applied = writer.savepoint(|sp| {
                    let mut refs: HashMap<String, String> = HashMap::new();
                    for op in &ops {
                        let result = prepare(op, host.as_ref(), base, &refs).and_then(
                            |Prepared {
                                 method: m,
                                 uri,
                                 headers,
                                 body,
                             }| {
                                if m == Method::GET {
                                    return Err(bad(
                                        "A change set holds only POST, PATCH and DELETE \
                                         operations; send GET requests outside change sets.",
                                    ));
                                }
                                let ctx = Ctx {
                                    user: &user.0,
                                    headers: &headers,
                                    uri: &uri,
                                    base,
                                };
                                execute(sp, &ctx, &m, &body)
                            },
                        );
                        match result {
                            Ok(reply) => {
                                if let (Some(id), Some(url)) = (
                                    &op.content_id,
                                    reply
                                        .headers
                                        .get("OData-EntityId")
                                        .and_then(|v| v.to_str().ok()),
                                ) {
                                    refs.insert(id.clone(), url.to_string());
                                }
                                answers.push(Answer {
                                    content_id: op.content_id.clone(),
                                    reply,
                                });
                            }
                            Err(e) => {
                                failure = Some(Answer {
                                    content_id: op.content_id.clone(),
                                    reply: Reply::error(&e),
                                });
                                return Err(e);
                            }
                        }
                    }
                    Ok(())
                })?;
                match (applied, failure) {
                    (Ok(()), _) => {
                        let answers = answers
                            .into_iter()
                            .map(|a| Answer {
                                reply: within(&mut budget, a.reply),
                                ..a
                            })
                            .collect();
                        out.push(Outcome::ChangeSet(answers));
                        false
                    }
                    (Err(e), f) => {
                        let f = f.unwrap_or_else(|| Answer {
                            content_id: None,
                            reply: Reply::error(&e),
                        });
                        out.push(Outcome::Failed(f));
                        true
                    }
                }
            }
        };
        if failed && !continue_on_error {
            break;
        }
    }
    writer.commit()?;
    Ok(out)
}

/// `reply`, or an error in its place when its body would take the batch's answer past
/// `MAX_RESPONSE_BYTES` (then the answer counts as full: later reads are not run).
fn within(budget: &mut usize, reply: Reply) -> Reply {
    if reply.body.len() <= *budget {
        *budget -= reply.body.len();
        return reply;
    }
    *budget = 0;
    Reply::error(&answer_full())
}

fn answer_full() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        crate::error::codes::INVALID_ARGUMENT,
        format!(
            "The answers of this batch would be larger than the {} MB a batch may answer; \
             ask for fewer records per operation (Prefer: odata.maxpagesize, $top, \
             $select) or send fewer operations per batch.",
            MAX_RESPONSE_BYTES / (1024 * 1024)
        ),
    )
}

/// An operation ready to run: its URL and its binds resolved.
struct Prepared<'a> {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Cow<'a, [u8]>,
}

/// The method, URI, headers and body of an operation, with its URL resolved.
fn prepare<'a>(
    op: &'a Operation,
    host: Option<&HeaderValue>,
    base: &str,
    refs: &HashMap<String, String>,
) -> Result<Prepared<'a>, ApiError> {
    let req = op.request.as_ref().map_err(|m| bad(m.clone()))?;
    let mut url = req.url.clone();
    if let Some(rest) = url.strip_prefix('$') {
        let end = rest
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_')
            .unwrap_or(rest.len());
        let (id, tail) = rest.split_at(end);
        let target = refs.get(id).ok_or_else(|| {
            bad(format!(
                "'${id}' does not name an earlier operation of this change set (Content-ID)."
            ))
        })?;
        url = format!("{target}{tail}");
    }
    let path = if let Some(i) = url.find(&format!("/api{PREFIX}")) {
        url[i..].to_string()
    } else if url.starts_with('/') || url.contains("://") {
        return Err(ApiError::not_found(format!(
            "The URL '{url}' is not under {base}."
        )));
    } else {
        format!("/api{PREFIX}{url}")
    };
    if path.trim_end_matches('/').ends_with("$batch") {
        return Err(bad("A batch cannot contain another batch."));
    }
    let uri: Uri = path.replace(' ', "%20").parse().map_err(|_| {
        bad(format!(
            "The URL '{url}' of a batch operation is not valid."
        ))
    })?;
    let mut headers = req.headers.clone();
    if let Some(h) = host {
        headers.insert(header::HOST, h.clone());
    }
    Ok(Prepared {
        method: req.method.clone(),
        uri,
        headers,
        body: bind_references(&req.body, refs)?,
    })
}

/// A body whose `x@odata.bind` values name `$<Content-ID>`s of earlier operations of
/// the change set, with those records' URLs in their place (a mailbox bound to the
/// profile created just before it).
fn bind_references<'a>(
    body: &'a [u8],
    refs: &HashMap<String, String>,
) -> Result<Cow<'a, [u8]>, ApiError> {
    if refs.is_empty() || !body.contains(&b'$') {
        return Ok(Cow::Borrowed(body));
    }
    let Ok(serde_json::Value::Object(mut obj)) = serde_json::from_slice(body) else {
        return Ok(Cow::Borrowed(body));
    };
    let mut changed = false;
    for (key, value) in obj.iter_mut() {
        let Some(id) = value.as_str().and_then(|v| v.strip_prefix('$')) else {
            continue;
        };
        if !key.ends_with("@odata.bind") {
            continue;
        }
        let target = refs.get(id).ok_or_else(|| {
            bad(format!(
                "'${id}' in '{key}' does not name an earlier operation of this change set (Content-ID)."
            ))
        })?;
        *value = serde_json::Value::String(target.clone());
        changed = true;
    }
    Ok(if changed {
        Cow::Owned(serde_json::to_vec(&obj).unwrap_or_else(|_| body.to_vec()))
    } else {
        Cow::Borrowed(body)
    })
}

/// The boundary of a `multipart/mixed` content type.
fn multipart_boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let mime = params.next()?.trim();
    if !mime.eq_ignore_ascii_case("multipart/mixed") {
        return None;
    }
    params
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        .filter(|b| !b.is_empty() && b.len() <= 70)
}

/// The parts of a multipart body, each without the line break before the next
/// delimiter. Text before the first delimiter (a preamble) is ignored; the closing
/// delimiter is required.
fn split_parts<'a>(body: &'a str, boundary: &str) -> Result<Vec<&'a str>, ApiError> {
    let open = format!("--{boundary}");
    let close = format!("--{boundary}--");
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut offset = 0;
    for line in body.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\r', '\n']).trim_end();
        let at = offset;
        offset += line.len();
        if bare == open || bare == close {
            if let Some(s) = start {
                let mut part = &body[s..at];
                part = part
                    .strip_suffix("\r\n")
                    .or_else(|| part.strip_suffix('\n'))
                    .unwrap_or(part);
                parts.push(part);
            }
            if bare == close {
                return Ok(parts);
            }
            start = Some(offset);
        }
    }
    Err(bad(if start.is_none() {
        format!("The $batch body has no part delimited by '--{boundary}'.")
    } else {
        format!("The $batch body does not end with the closing delimiter '--{boundary}--'.")
    }))
}

/// Header lines up to the first blank line, and what follows it.
fn split_head(part: &str) -> (Vec<(String, String)>, &str) {
    let mut headers = Vec::new();
    let mut offset = 0;
    for line in part.split_inclusive('\n') {
        offset += line.len();
        let bare = line.trim_end_matches(['\r', '\n']);
        if bare.trim().is_empty() {
            return (headers, &part[offset..]);
        }
        if let Some((k, v)) = bare.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    (headers, "")
}

fn get<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn parse_batch(body: &str, boundary: &str) -> Result<Vec<Item>, ApiError> {
    let mut items = Vec::new();
    for (n, part) in split_parts(body, boundary)?.into_iter().enumerate() {
        let (headers, content) = split_head(part);
        let ct = get(&headers, "content-type").unwrap_or("");
        if let Some(cs) = multipart_boundary(ct) {
            let mut ops = Vec::new();
            for op in split_parts(content, &cs)? {
                let (h, c) = split_head(op);
                let ct = get(&h, "content-type").unwrap_or("");
                if multipart_boundary(ct).is_some() {
                    return Err(bad("A change set cannot contain another change set."));
                }
                ops.push(parse_operation(&h, c));
            }
            if ops.is_empty() {
                return Err(bad(format!("Change set {} of the batch is empty.", n + 1)));
            }
            items.push(Item::ChangeSet(ops));
        } else {
            items.push(Item::Single(parse_operation(&headers, content)));
        }
    }
    if items.is_empty() {
        return Err(bad("The $batch request holds no operation."));
    }
    Ok(items)
}

/// One `application/http` part: `METHOD URL HTTP/1.1`, headers, blank line, body.
fn parse_operation(part_headers: &[(String, String)], content: &str) -> Operation {
    let content_id = get(part_headers, "content-id").map(str::to_string);
    let ct = get(part_headers, "content-type").unwrap_or("");
    let request = if ct
        .split(';')
        .next()
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/http"))
    {
        parse_request(content)
    } else {
        Err(format!(
            "A batch part must have 'Content-Type: application/http' (or be a change set, \
             multipart/mixed); got '{ct}'."
        ))
    };
    Operation {
        content_id,
        request,
    }
}

fn parse_request(content: &str) -> Result<OpRequest, String> {
    let content = content.trim_start_matches(['\r', '\n']);
    let (line, rest) = match content.find('\n') {
        Some(i) => (&content[..i], &content[i + 1..]),
        None => (content, ""),
    };
    let line = line.trim();
    let (method, target) = line
        .split_once(' ')
        .ok_or_else(|| format!("'{line}' is not a request line (METHOD URL HTTP/1.1)."))?;
    let url = target
        .rsplit_once(' ')
        .filter(|(_, v)| v.starts_with("HTTP/"))
        .map_or(target, |(u, _)| u)
        .trim();
    let method = match method {
        "GET" => Method::GET,
        "POST" => Method::POST,
        "PATCH" => Method::PATCH,
        "DELETE" => Method::DELETE,
        "PUT" => Method::PUT,
        other => return Err(format!("The method '{other}' is not supported in a batch.")),
    };
    if url.is_empty() {
        return Err(format!("The request line '{line}' has no URL."));
    }
    let (lines, body) = split_head(rest);
    let mut headers = HeaderMap::new();
    for (k, v) in lines {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| format!("'{k}' is not a valid header name."))?;
        let value =
            HeaderValue::from_str(&v).map_err(|_| format!("The header '{k}' is not valid."))?;
        headers.append(name, value);
    }
    Ok(OpRequest {
        method,
        url: url.to_string(),
        headers,
        body: body.trim_end().as_bytes().to_vec(),
    })
}

fn reason(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Unknown")
}

fn write_answer(out: &mut Vec<u8>, a: &Answer) {
    out.extend_from_slice(
        b"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n",
    );
    if let Some(id) = &a.content_id {
        out.extend_from_slice(format!("Content-ID: {id}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    let r = &a.reply;
    out.extend_from_slice(
        format!("HTTP/1.1 {} {}\r\n", r.status.as_u16(), reason(r.status)).as_bytes(),
    );
    for (k, v) in &r.headers {
        if let Ok(v) = v.to_str() {
            out.extend_from_slice(format!("{}: {v}\r\n", canonical(k.as_str())).as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&r.body);
    out.extend_from_slice(b"\r\n");
}

/// `odata-entityid` → `OData-EntityId` (header names as Dataverse writes them).
fn canonical(name: &str) -> String {
    match name {
        "odata-version" => "OData-Version".into(),
        "odata-entityid" => "OData-EntityId".into(),
        "etag" => "ETag".into(),
        _ => name
            .split('-')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("-"),
    }
}

/// The multipart answer, built once into one buffer (its size is bounded by
/// `MAX_RESPONSE_BYTES` plus the parts' heads).
fn render(boundary: &str, outcomes: &[Outcome]) -> Result<Vec<u8>, StoreError> {
    let bodies: usize = outcomes
        .iter()
        .map(|o| match o {
            Outcome::Single(a) | Outcome::Failed(a) => a.reply.body.len() + 256,
            Outcome::ChangeSet(answers) => answers.iter().map(|a| a.reply.body.len() + 256).sum(),
        })
        .sum();
    let mut out = Vec::with_capacity(bodies + 128);
    for o in outcomes {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match o {
            Outcome::Single(a) | Outcome::Failed(a) => write_answer(&mut out, a),
            Outcome::ChangeSet(answers) => {
                let cs = format!("changesetresponse_{}", new_guid()?);
                out.extend_from_slice(
                    format!("Content-Type: multipart/mixed; boundary={cs}\r\n\r\n").as_bytes(),
                );
                for a in answers {
                    out.extend_from_slice(format!("--{cs}\r\n").as_bytes());
                    write_answer(&mut out, a);
                }
                out.extend_from_slice(format!("--{cs}--\r\n").as_bytes());
            }
        }
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries() {
        assert_eq!(
            multipart_boundary("multipart/mixed; boundary=batch_1").as_deref(),
            Some("batch_1")
        );
        assert_eq!(
            multipart_boundary("Multipart/Mixed;boundary=\"b x\"").as_deref(),
            Some("b x")
        );
        assert_eq!(multipart_boundary("application/json"), None);
        assert_eq!(multipart_boundary("multipart/mixed"), None);
    }

    #[test]
    fn parses_operations_and_change_sets() {
        let body = "preamble\r\n--batch_1\r\nContent-Type: application/http\r\n\
            Content-Transfer-Encoding: binary\r\n\r\nGET mailboxes?$top=1 HTTP/1.1\r\n\
            Accept: application/json\r\n\r\n\r\n--batch_1\r\n\
            Content-Type: multipart/mixed; boundary=changeset_2\r\n\r\n\
            --changeset_2\r\nContent-Type: application/http\r\nContent-ID: 1\r\n\r\n\
            PATCH /api/data/v9.2/mailboxes(00000000-0000-0000-0000-000000000001) HTTP/1.1\r\n\
            Content-Type: application/json\r\nIf-Match: *\r\n\r\n{\"name\":\"x\"}\r\n\
            --changeset_2--\r\n--batch_1--\r\n";
        let items = parse_batch(body, "batch_1").unwrap();
        assert_eq!(items.len(), 2);
        let Item::Single(op) = &items[0] else {
            panic!()
        };
        let req = op.request.as_ref().unwrap();
        assert_eq!(
            (req.method.as_str(), req.url.as_str()),
            ("GET", "mailboxes?$top=1")
        );
        assert!(req.body.is_empty());
        let Item::ChangeSet(ops) = &items[1] else {
            panic!()
        };
        assert_eq!(ops[0].content_id.as_deref(), Some("1"));
        let req = ops[0].request.as_ref().unwrap();
        assert_eq!(req.body, b"{\"name\":\"x\"}");
        assert_eq!(req.headers.get("if-match").unwrap(), "*");
    }

    #[test]
    fn reads_the_consoles_format() {
        // What `src/api/batch.rs` writes: no part or operation headers on a GET.
        let body = "--batch_1\r\nContent-Type: application/http\r\n\
            Content-Transfer-Encoding: binary\r\n\r\nGET /api/data/v9.2/queues HTTP/1.1\r\n\r\n\
            --batch_1\r\nContent-Type: application/http\r\n\
            Content-Transfer-Encoding: binary\r\n\r\n\
            PATCH /api/data/v9.2/mailboxes(a) HTTP/1.1\r\n\
            Content-Type: application/json; type=entry\r\n\r\n{\"x\":1}\r\n--batch_1--\r\n";
        let items = parse_batch(body, "batch_1").unwrap();
        let urls: Vec<_> = items
            .iter()
            .map(|i| match i {
                Item::Single(op) => {
                    let r = op.request.as_ref().unwrap();
                    (r.url.clone(), r.body.clone())
                }
                Item::ChangeSet(_) => panic!(),
            })
            .collect();
        assert_eq!(
            urls,
            [
                ("/api/data/v9.2/queues".to_string(), vec![]),
                (
                    "/api/data/v9.2/mailboxes(a)".to_string(),
                    b"{\"x\":1}".to_vec()
                )
            ]
        );
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        for body in [
            "",
            "--batch_1",
            "--batch_1\r\n",
            "--batch_1\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n--cs\r\n--batch_1--",
            "--batch_1--",
            "\u{0}\u{1}--",
        ] {
            assert_eq!(
                parse_batch(body, "batch_1").err().map(|e| e.status),
                Some(StatusCode::BAD_REQUEST),
                "{body:?}"
            );
        }
        // A part that is not a request is that operation's error, not the batch's.
        let items = parse_batch(
            "--b\nContent-Type: application/http\n\nnonsense\n--b--\n",
            "b",
        )
        .unwrap();
        let Item::Single(op) = &items[0] else {
            panic!()
        };
        assert!(op.request.is_err());
    }
}
