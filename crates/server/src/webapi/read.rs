//! `GET /<set>` (collections, with paging) and `GET /<set>(<id>)`.

use std::time::Instant;

use axum::http::{header, HeaderValue, StatusCode};
use mailsync_core::model::{Column, Table};
use mailsync_core::odata::{parse_query, percent_decode, Guid, Query, MAX_PAGE_SIZE};
use rusqlite::{params_from_iter, Connection, OptionalExtension};
use serde_json::{json, Map, Value as Json_};

use super::json;
use super::privileges;
use super::{record_not_found, Ctx, Reply};
use crate::error::ApiError;
use crate::odata_sql::{self, quote, SqlParam};

/// Whether the raw query string has this system query option (percent-decoded name).
fn has_option(raw: &str, name: &str) -> bool {
    raw.split('&').any(|p| {
        let k = p.split_once('=').map_or(p, |(k, _)| k);
        percent_decode(k).is_ok_and(|k| k == name)
    })
}

/// `$metadata#mailboxes` or `$metadata#mailboxes(name,emailaddress)`.
fn context(ctx: &Ctx, table: &Table, q: &Query, selected: bool, suffix: &str) -> String {
    let mut s = format!("{}$metadata#{}", ctx.base_url(), table.entity_set);
    if selected {
        let props: Vec<String> = q.select.iter().map(|c| c.property()).collect();
        s.push('(');
        s.push_str(&props.join(","));
        s.push(')');
    }
    s.push_str(suffix);
    s
}

/// `GET /<set>?$select=..&$filter=..&$orderby=..&$top=..&$count=true` with
/// `Prefer: odata.maxpagesize=N` (default and cap 5000): one page and, when more rows
/// follow, `@odata.nextLink` with a keyset `$skiptoken`. `Server-Timing: db;dur=<ms>` is
/// the time in SQLite (the page and the count), `total;dur=<ms>` the whole read (query
/// parsing, SQL, JSON).
pub fn collection(ctx: &Ctx, conn: &Connection, table: &'static Table) -> Result<Reply, ApiError> {
    let started = Instant::now();
    privileges::check_read(ctx.user, table)?;
    let raw = ctx.uri.query().unwrap_or("").to_string();
    let q = parse_query(table, &raw)?;
    let prefer = ctx.prefer()?;
    let page_size = prefer.max_page_size.unwrap_or(MAX_PAGE_SIZE);
    let page = odata_sql::page(&q, page_size);
    let cols = odata_sql::fetch_columns(&q);
    let from = privileges::from_clause(table, ctx.user);
    let sql = format!(
        "SELECT {}, \"versionnumber\" FROM {from}{}",
        odata_sql::select_list(&q),
        page.sql
    );
    let count_sql = q.count.then(|| {
        let (tail, params) = odata_sql::count(&q);
        (format!("SELECT COUNT(*) FROM {from}{tail}"), params)
    });
    let n = cols.len();
    let db_started = Instant::now();
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt
        .query_map(params_from_iter(page.params.iter()), |r| {
            (0..=n)
                .map(|i| r.get_ref(i).map(json::param_of))
                .collect::<rusqlite::Result<Vec<SqlParam>>>()
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let count = match count_sql {
        Some((sql, params)) => {
            Some(conn.query_row(&sql, params_from_iter(params.iter()), |r| {
                r.get::<_, i64>(0)
            })?)
        }
        None => None,
    };
    let db_ms = db_started.elapsed().as_secs_f64() * 1000.0;
    let mut next = None;
    if let Some(size) = page.page_size {
        if rows.len() > size as usize {
            rows.truncate(size as usize);
            if let Some(last) = rows.last() {
                let value_of = |c: &Column| {
                    cols.iter()
                        .position(|k| k == &c)
                        .map_or(SqlParam::Null, |i| last[i].clone())
                };
                next = odata_sql::skiptoken_after(&q, value_of);
            }
        }
    }
    let selected = q.select.len();
    let value: Vec<Json_> = rows
        .iter()
        .map(|r| json::record(&q.select, &r[..selected], &r[n]))
        .collect();
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        Json_::String(context(ctx, table, &q, has_option(&raw, "$select"), "")),
    );
    if let Some(count) = count {
        body.insert("@odata.count".into(), json!(count));
    }
    body.insert("value".into(), Json_::Array(value));
    if let Some(token) = next {
        let mut kept: Vec<&str> = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .filter(|p| {
                let k = p.split_once('=').map_or(*p, |(k, _)| k);
                !percent_decode(k).is_ok_and(|k| k == "$skiptoken")
            })
            .collect();
        let token = format!("$skiptoken={token}");
        kept.push(&token);
        body.insert(
            "@odata.nextLink".into(),
            Json_::String(format!(
                "{}{}?{}",
                ctx.base_url(),
                table.entity_set,
                kept.join("&")
            )),
        );
    }
    let mut resp = Reply::json(StatusCode::OK, &Json_::Object(body));
    if let (Some(n), None) = (prefer.max_page_size, q.top) {
        if let Ok(v) = HeaderValue::from_str(&format!("odata.maxpagesize={n}")) {
            resp.headers.insert("Preference-Applied", v);
        }
    }
    let total_ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(v) = HeaderValue::from_str(&format!("db;dur={db_ms:.2}, total;dur={total_ms:.2}")) {
        resp.headers.insert("Server-Timing", v);
    }
    Ok(resp)
}

/// The record as JSON (with `@odata.context`), through the caller's view, `$select`
/// from the request's query string.
pub fn fetch_one(
    ctx: &Ctx,
    conn: &Connection,
    table: &'static Table,
    id: Guid,
) -> Result<Json_, ApiError> {
    privileges::check_read(ctx.user, table)?;
    let raw = ctx.uri.query().unwrap_or("").to_string();
    let q = parse_query(table, &raw)?;
    let from = privileges::from_clause(table, ctx.user);
    let list: Vec<String> = q.select.iter().map(|c| quote(c.name)).collect();
    let sql = format!(
        "SELECT {}, \"versionnumber\" FROM {from} WHERE {} = ?1",
        list.join(", "),
        quote(table.key)
    );
    let n = q.select.len();
    let row = conn
        .prepare_cached(&sql)?
        .query_row([id.to_string()], |r| {
            (0..=n)
                .map(|i| r.get_ref(i).map(json::param_of))
                .collect::<rusqlite::Result<Vec<SqlParam>>>()
        })
        .optional()?
        .ok_or_else(|| record_not_found(table, id))?;
    let mut rec = json::record(&q.select, &row[..n], &row[n]);
    if let Json_::Object(m) = &mut rec {
        let context = context(ctx, table, &q, has_option(&raw, "$select"), "/$entity");
        let mut out = Map::new();
        out.insert("@odata.context".into(), Json_::String(context));
        out.extend(std::mem::take(m));
        *m = out;
    }
    Ok(rec)
}

/// `GET /<set>(<id>)`, with `$select`; 404 in Dataverse's shape when missing.
pub fn single(
    ctx: &Ctx,
    conn: &Connection,
    table: &'static Table,
    id: Guid,
) -> Result<Reply, ApiError> {
    let body = fetch_one(ctx, conn, table, id)?;
    let etag = body
        .get("@odata.etag")
        .and_then(Json_::as_str)
        .and_then(|e| HeaderValue::from_str(e).ok());
    let mut resp = Reply::json(StatusCode::OK, &body);
    if let Some(e) = etag {
        resp.headers.insert(header::ETAG, e);
    }
    Ok(resp)
}
