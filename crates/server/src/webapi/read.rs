//! `GET /<set>` (collections, with paging; `fetchXml=` and `$apply=` too) and
//! `GET /<set>(<id>)`, answered as Dataverse answers them:
//!
//! * `$count=true` counts up to 5,000, as Dataverse does: `@odata.count` is at most
//!   5,000, and with `Prefer: odata.include-annotations` naming them,
//!   `@Microsoft.Dynamics.CRM.totalrecordcount` (-1 without `$count`) and
//!   `…totalrecordcountlimitexceeded`. Counting stops at 5,001 rows, so it costs no more
//!   than that on a large table.
//! * Annotations (`Prefer: odata.include-annotations="..."`, core's
//!   `metadata::wants_annotation`): a property's `@OData.Community.Display.V1.
//!   FormattedValue` (choice labels, Yes/No, numbers, dates; a lookup's record name,
//!   read through the caller's view), and a lookup's `@Microsoft.Dynamics.CRM.
//!   lookuplogicalname` / `…associatednavigationproperty`.
//! * `fetchXml=`: core's `odata::parse_fetch` into the same query, with page numbers
//!   or paging cookies (`@Microsoft.Dynamics.CRM.fetchxmlpagingcookie`,
//!   `…morerecords`); properties that are null are left out, as Dataverse does.
//! * `$apply=`: core's `odata::parse_apply`, grouped and aggregated in SQL; more than
//!   50,000 rows to aggregate is Dataverse's error `0x8004e023`.
//!
//! Rows are turned into JSON one at a time into the answer's bytes, never as a tree of
//! every row.

use std::collections::HashMap;
use std::time::Instant;

use axum::http::{header, HeaderValue, StatusCode};
use mailsync_core::metadata::{formatted_value, wants_annotation, FORMATTED_VALUE};
use mailsync_core::model::{self, Column, Kind, Table};
use mailsync_core::odata::{
    self, parse_query, percent_decode, Guid, Navigation, Query, AGGREGATE_RECORD_LIMIT,
    AGGREGATE_RECORD_LIMIT_CODE, AGGREGATE_RECORD_LIMIT_MESSAGE, MAX_PAGE_SIZE,
};
use rusqlite::{params_from_iter, Connection, OptionalExtension};
use serde_json::{json, Map, Value as Json_};

use super::json;
use super::privileges;
use super::{record_not_found, Ctx, Reply};
use crate::error::ApiError;
use crate::odata_sql::{self, quote, SqlParam};

/// Dataverse's `$count` stops here.
pub const COUNT_LIMIT: i64 = 5000;

const TOTAL_COUNT: &str = "Microsoft.Dynamics.CRM.totalrecordcount";
const TOTAL_COUNT_EXCEEDED: &str = "Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded";
const LOOKUP_LOGICAL_NAME: &str = "Microsoft.Dynamics.CRM.lookuplogicalname";
const NAVIGATION_PROPERTY: &str = "Microsoft.Dynamics.CRM.associatednavigationproperty";
const PAGING_COOKIE: &str = "Microsoft.Dynamics.CRM.fetchxmlpagingcookie";
const MORE_RECORDS: &str = "Microsoft.Dynamics.CRM.morerecords";

/// The value of a query option (percent-decoded name and value).
fn option(raw: &str, name: &str) -> Option<String> {
    raw.split('&').find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        percent_decode(k)
            .is_ok_and(|k| k == name)
            .then(|| percent_decode(v).unwrap_or_default())
    })
}

/// Whether the raw query string has this system query option (percent-decoded name).
fn has_option(raw: &str, name: &str) -> bool {
    option(raw, name).is_some()
}

/// `$metadata#mailboxes` or `$metadata#mailboxes(name,emailaddress)`.
fn context(ctx: &Ctx, table: &Table, q: &Query, selected: bool, suffix: &str) -> String {
    let mut s = format!("{}$metadata#{}", ctx.base_url(), table.entity_set);
    if selected || !q.expand.is_empty() {
        // `accounts(name,primarycontactid(fullname))`, as Dataverse writes it.
        let mut props: Vec<String> = if selected {
            q.select.iter().map(|c| c.property()).collect()
        } else {
            Vec::new()
        };
        for e in &q.expand {
            let cols: Vec<String> = e.select.iter().map(|c| c.property()).collect();
            props.push(format!("{}({})", e.name, cols.join(",")));
        }
        s.push('(');
        s.push_str(&props.join(","));
        s.push(')');
    }
    s.push_str(suffix);
    s
}

/// Related records of one `$expand` at most (a collection-valued navigation property
/// over a whole page), as many as a page of records: more is refused rather than held
/// in memory (ask for fewer records per page, or `$filter` the expansion).
const MAX_EXPANDED_ROWS: u32 = 5_000;

/// `$expand`: for each row (by its key, in order), the navigation properties to add.
/// Related records are read through the caller's privileges on their table: a lookup
/// to a record the caller may not read expands to `null`, as to none.
fn expanded(
    ctx: &Ctx,
    conn: &Connection,
    table: &'static Table,
    q: &Query,
    keys: &[Option<String>],
) -> Result<Vec<Map<String, Json_>>, ApiError> {
    let mut out = vec![Map::new(); keys.len()];
    if q.expand.is_empty() {
        return Ok(out);
    }
    // Keys come from the store; only GUIDs go into the SQL text.
    let literal = |ids: &mut dyn Iterator<Item = &String>| -> String {
        let list: Vec<String> = ids
            .filter_map(|k| Guid::parse(k))
            .map(|g| format!("'{g}'"))
            .collect();
        if list.is_empty() {
            "NULL".into()
        } else {
            list.join(",")
        }
    };
    let in_keys = literal(&mut keys.iter().flatten());
    let none = HashMap::new();
    let wanted = Wanted { prefer: None };
    for e in &q.expand {
        privileges::check_read(ctx.user, e.target)?;
        let target_from = privileges::from_clause(e.target, ctx.user);
        let sub = Query {
            select: e.select.clone(),
            filter: e.filter.clone(),
            order: e.order.clone(),
            top: None,
            count: false,
            after: None,
            expand: Vec::new(),
        };
        let n = sub.select.len();
        let key_at =
            |cols: &[&'static Column], name: &str| cols.iter().position(|c| c.name == name);
        let text = |v: &SqlParam| match v {
            SqlParam::Text(t) => Some(t.to_ascii_lowercase()),
            _ => None,
        };
        match e.navigation {
            Navigation::Lookup(column) => {
                let base = privileges::from_clause(table, ctx.user);
                let sql = format!(
                    "SELECT {}, {} FROM {base} WHERE {} IN ({in_keys})",
                    quote(table.key),
                    quote(column.name),
                    quote(table.key)
                );
                let links: HashMap<String, String> = conn
                    .prepare(&sql)?
                    .query_map([], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
                    })?
                    .filter_map(|r| match r {
                        Ok((k, Some(v))) => {
                            Some(Ok((k.to_ascii_lowercase(), v.to_ascii_lowercase())))
                        }
                        Ok(_) => None,
                        Err(e) => Some(Err(e)),
                    })
                    .collect::<rusqlite::Result<_>>()?;
                let mut related = HashMap::new();
                if !links.is_empty() {
                    let from = format!(
                        "(SELECT * FROM {target_from} WHERE {} IN ({})) AS expanded",
                        quote(e.target.key),
                        literal(&mut links.values())
                    );
                    let rows = read_rows(conn, &from, &sub, MAX_EXPANDED_ROWS, 0, false)?;
                    let at = key_at(&sub.select, e.target.key).unwrap_or(0);
                    for r in &rows.rows {
                        let mut rec = record(&sub.select, &r[..n], &r[n], &wanted, &none, false);
                        // A single-valued expansion has no etag of its own (Dataverse's).
                        if let Json_::Object(m) = &mut rec {
                            m.remove("@odata.etag");
                        }
                        if let Some(id) = text(&r[at]) {
                            related.insert(id, rec);
                        }
                    }
                }
                for (i, k) in keys.iter().enumerate() {
                    let rec = k
                        .as_ref()
                        .and_then(|k| links.get(&k.to_ascii_lowercase()))
                        .and_then(|id| related.get(id))
                        .cloned()
                        .unwrap_or(Json_::Null);
                    out[i].insert(e.name.clone(), rec);
                }
            }
            Navigation::Collection(fk) => {
                let from = format!(
                    "(SELECT * FROM {target_from} WHERE {} IN ({in_keys})) AS expanded",
                    quote(fk.name)
                );
                let rows = read_rows(conn, &from, &sub, MAX_EXPANDED_ROWS, 0, false)?;
                if rows.more {
                    return Err(ApiError::bad_request(format!(
                        "The $expand of '{}' would return more than {MAX_EXPANDED_ROWS} \
                         records; ask for fewer records per page or filter the expansion.",
                        e.name
                    )));
                }
                let at = key_at(&sub.select, fk.name).unwrap_or(0);
                let mut groups: HashMap<String, Vec<Json_>> = HashMap::new();
                for r in &rows.rows {
                    let Some(parent) = text(&r[at]) else { continue };
                    let group = groups.entry(parent).or_default();
                    if e.top.is_some_and(|t| group.len() >= t as usize) {
                        continue;
                    }
                    group.push(record(&sub.select, &r[..n], &r[n], &wanted, &none, false));
                }
                for (i, k) in keys.iter().enumerate() {
                    let list = k
                        .as_ref()
                        .and_then(|k| groups.remove(&k.to_ascii_lowercase()))
                        .unwrap_or_default();
                    out[i].insert(e.name.clone(), Json_::Array(list));
                }
            }
        }
    }
    Ok(out)
}

/// The key of each row, where `q.select` holds it.
fn row_keys(table: &Table, q: &Query, rows: &[Vec<SqlParam>]) -> Vec<Option<String>> {
    let at = q.select.iter().position(|c| c.name == table.key);
    rows.iter()
        .map(|r| match at.and_then(|i| r.get(i)) {
            Some(SqlParam::Text(t)) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

/// The annotations a request asked for.
struct Wanted<'a> {
    prefer: Option<&'a str>,
}

impl Wanted<'_> {
    fn has(&self, annotation: &str) -> bool {
        self.prefer.is_some_and(|p| wants_annotation(p, annotation))
    }
}

/// A lookup's record by `(column index, id)`: its table and name.
/// (column index, id) → (the record's table, its name, the navigation property to it).
type Names = HashMap<(usize, String), (&'static str, String, String)>;

/// The names of the records the lookups of `rows` point at, read through the caller's
/// view (a record they may not see gets no name).
fn lookup_names(
    ctx: &Ctx,
    conn: &Connection,
    table: &Table,
    cols: &[&'static Column],
    rows: &[Vec<SqlParam>],
) -> Result<Names, ApiError> {
    let mut out = HashMap::new();
    for (i, c) in cols.iter().enumerate() {
        let Kind::Lookup(targets) = c.kind else {
            continue;
        };
        let mut ids: Vec<String> = rows
            .iter()
            .filter_map(|r| match &r[i] {
                SqlParam::Text(id) => Some(id.clone()),
                _ => None,
            })
            .collect();
        ids.sort();
        ids.dedup();
        for target in targets.iter().filter_map(|t| model::table(t)) {
            if privileges::check_read(ctx.user, target).is_err() {
                continue;
            }
            let from = privileges::from_clause(target, ctx.user);
            for chunk in ids.chunks(500) {
                let marks: Vec<String> = (1..=chunk.len()).map(|n| format!("?{n}")).collect();
                let sql = format!(
                    "SELECT {}, {} FROM {from} WHERE {} IN ({})",
                    quote(target.key),
                    quote(target.primary_name),
                    quote(target.key),
                    marks.join(", ")
                );
                let mut stmt = conn.prepare(&sql)?;
                let found = stmt
                    .query_map(params_from_iter(chunk.iter()), |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                for (id, name) in found {
                    let nav =
                        mailsync_core::metadata::navigation_property_name(table, c, target.logical);
                    out.insert((i, id), (target.logical, name.unwrap_or_default(), nav));
                }
            }
        }
    }
    Ok(out)
}

/// One record as JSON, with the annotations asked for; null properties left out when
/// `skip_nulls` (FetchXML's answers).
#[allow(clippy::too_many_arguments)]
fn record(
    cols: &[&'static Column],
    values: &[SqlParam],
    version: &SqlParam,
    wanted: &Wanted,
    names: &Names,
    skip_nulls: bool,
) -> Json_ {
    let mut m = Map::new();
    m.insert("@odata.etag".into(), Json_::String(json::etag(version)));
    for (i, (c, v)) in cols.iter().zip(values).enumerate() {
        let value = json::to_json(c.kind, v);
        if skip_nulls && value.is_null() {
            continue;
        }
        let prop = c.property();
        if c.kind.is_lookup() {
            if let SqlParam::Text(id) = v {
                if let Some((table, name, nav)) = names.get(&(i, id.clone())) {
                    if wanted.has(FORMATTED_VALUE) {
                        m.insert(
                            format!("{prop}@{FORMATTED_VALUE}"),
                            Json_::String(name.clone()),
                        );
                    }
                    if wanted.has(NAVIGATION_PROPERTY) {
                        m.insert(
                            format!("{prop}@{NAVIGATION_PROPERTY}"),
                            Json_::String(nav.clone()),
                        );
                    }
                    if wanted.has(LOOKUP_LOGICAL_NAME) {
                        m.insert(
                            format!("{prop}@{LOOKUP_LOGICAL_NAME}"),
                            Json_::String((*table).to_string()),
                        );
                    }
                }
            }
        } else if wanted.has(FORMATTED_VALUE) {
            if let Some(f) = formatted_value(c, &value) {
                m.insert(format!("{prop}@{FORMATTED_VALUE}"), Json_::String(f));
            }
        }
        m.insert(prop, value);
    }
    Json_::Object(m)
}

/// A page of a query's rows: the fetched columns (`fetch_columns`) and the version,
/// at most `page_size` of them, and whether more follow (with the last row for the
/// cursor).
struct Rows {
    cols: Vec<&'static Column>,
    rows: Vec<Vec<SqlParam>>,
    more: bool,
}

/// `cached`: keep the statement in the connection's cache (not for an expansion's,
/// whose SQL names the page's keys and is never the same twice).
fn read_rows(
    conn: &Connection,
    from: &str,
    q: &Query,
    page_size: u32,
    skip: u32,
    cached: bool,
) -> Result<Rows, ApiError> {
    let page = odata_sql::page(q, page_size);
    let cols = odata_sql::fetch_columns(q);
    let mut sql = format!(
        "SELECT {}, \"versionnumber\" FROM {from}{}",
        odata_sql::select_list(q),
        page.sql
    );
    if skip > 0 {
        sql.push_str(&format!(" OFFSET {skip}"));
    }
    let n = cols.len();
    let (mut kept, mut once);
    let stmt: &mut rusqlite::Statement = if cached {
        kept = conn.prepare_cached(&sql)?;
        &mut kept
    } else {
        once = conn.prepare(&sql)?;
        &mut once
    };
    let mut rows = stmt
        .query_map(params_from_iter(page.params.iter()), |r| {
            (0..=n)
                .map(|i| r.get_ref(i).map(json::param_of))
                .collect::<rusqlite::Result<Vec<SqlParam>>>()
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut more = false;
    if let Some(size) = page.page_size {
        if rows.len() > size as usize {
            rows.truncate(size as usize);
            more = true;
        }
    }
    Ok(Rows { cols, rows, more })
}

/// The rows matching `q`'s filter, counted up to `COUNT_LIMIT + 1`.
fn count_capped(conn: &Connection, from: &str, q: &Query) -> Result<i64, ApiError> {
    let (tail, params) = odata_sql::count(q);
    let sql = format!(
        "SELECT count(*) FROM (SELECT 1 FROM {from}{tail} LIMIT {})",
        COUNT_LIMIT + 1
    );
    Ok(conn.query_row(&sql, params_from_iter(params.iter()), |r| r.get(0))?)
}

/// The skiptoken after the last row of a page.
fn cursor_after(q: &Query, rows: &Rows) -> Option<String> {
    let last = rows.rows.last()?;
    let value_of = |c: &Column| {
        rows.cols
            .iter()
            .position(|k| k == &c)
            .map_or(SqlParam::Null, |i| last[i].clone())
    };
    odata_sql::skiptoken_after(q, value_of)
}

/// The answer's body: the collection's annotations, then `value` written record by
/// record, then the trailing annotations (nextLink).
struct Body {
    head: Map<String, Json_>,
    tail: Map<String, Json_>,
}

impl Body {
    fn render(self, records: impl Iterator<Item = Json_>) -> Vec<u8> {
        let mut out = Vec::new();
        out.push(b'{');
        for (k, v) in &self.head {
            push_member(&mut out, k, v);
            out.push(b',');
        }
        out.extend_from_slice(b"\"value\":[");
        for (i, r) in records.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let _ = serde_json::to_writer(&mut out, &r);
        }
        out.push(b']');
        for (k, v) in &self.tail {
            out.push(b',');
            push_member(&mut out, k, v);
        }
        out.push(b'}');
        out
    }
}

fn push_member(out: &mut Vec<u8>, k: &str, v: &Json_) {
    let _ = serde_json::to_writer(&mut *out, k);
    out.push(b':');
    let _ = serde_json::to_writer(&mut *out, v);
}

fn json_reply(body: Vec<u8>) -> Reply {
    let mut r = Reply::empty(StatusCode::OK);
    r.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; odata.metadata=minimal"),
    );
    r.body = body;
    r
}

/// `count` → `@odata.count` and the total-count annotations asked for.
fn count_annotations(head: &mut Map<String, Json_>, count: Option<i64>, wanted: &Wanted) {
    if let Some(n) = count {
        head.insert("@odata.count".into(), json!(n.min(COUNT_LIMIT)));
    }
    if wanted.has(TOTAL_COUNT) {
        head.insert(
            format!("@{TOTAL_COUNT}"),
            json!(count.map_or(-1, |n| n.min(COUNT_LIMIT))),
        );
    }
    if wanted.has(TOTAL_COUNT_EXCEEDED) {
        head.insert(
            format!("@{TOTAL_COUNT_EXCEEDED}"),
            json!(count.is_some_and(|n| n > COUNT_LIMIT)),
        );
    }
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
    let prefer = ctx.prefer()?;
    let wanted = Wanted {
        prefer: prefer.include_annotations.as_deref(),
    };
    if let Some(xml) = option(&raw, "fetchXml") {
        return fetch(ctx, conn, table, &xml, &wanted);
    }
    if let Some(apply) = option(&raw, "$apply") {
        return aggregate(ctx, conn, table, &apply, &wanted);
    }
    let q = parse_query(table, &raw)?;
    let page_size = prefer.max_page_size.unwrap_or(MAX_PAGE_SIZE);
    let from = privileges::from_clause(table, ctx.user);
    let db_started = Instant::now();
    let rows = read_rows(conn, &from, &q, page_size, 0, true)?;
    let count = if q.count {
        Some(count_capped(conn, &from, &q)?)
    } else {
        None
    };
    let db_ms = db_started.elapsed().as_secs_f64() * 1000.0;
    let next = if rows.more {
        cursor_after(&q, &rows)
    } else {
        None
    };
    let names = if wanted.has(FORMATTED_VALUE)
        || wanted.has(LOOKUP_LOGICAL_NAME)
        || wanted.has(NAVIGATION_PROPERTY)
    {
        lookup_names(ctx, conn, table, &q.select, &rows.rows)?
    } else {
        HashMap::new()
    };
    let mut head = Map::new();
    head.insert(
        "@odata.context".into(),
        Json_::String(context(ctx, table, &q, has_option(&raw, "$select"), "")),
    );
    count_annotations(&mut head, count, &wanted);
    let mut tail = Map::new();
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
        tail.insert(
            "@odata.nextLink".into(),
            Json_::String(format!(
                "{}{}?{}",
                ctx.base_url(),
                table.entity_set,
                kept.join("&")
            )),
        );
    }
    let selected = q.select.len();
    let n = rows.cols.len();
    let mut extra = expanded(ctx, conn, table, &q, &row_keys(table, &q, &rows.rows))?;
    let records = rows.rows.iter().zip(extra.iter_mut()).map(|(r, more)| {
        let mut rec = record(&q.select, &r[..selected], &r[n], &wanted, &names, false);
        if let Json_::Object(m) = &mut rec {
            m.append(more);
        }
        rec
    });
    let mut resp = json_reply(Body { head, tail }.render(records));
    if let (Some(n), None) = (prefer.max_page_size, q.top) {
        if let Ok(v) = HeaderValue::from_str(&format!("odata.maxpagesize={n}")) {
            resp.headers.append("Preference-Applied", v);
        }
    }
    if let Some(a) = prefer.include_annotations.as_deref() {
        if let Ok(v) = HeaderValue::from_str(&format!("odata.include-annotations=\"{a}\"")) {
            resp.headers.append("Preference-Applied", v);
        }
    }
    let total_ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(v) = HeaderValue::from_str(&format!("db;dur={db_ms:.2}, total;dur={total_ms:.2}")) {
        resp.headers.insert("Server-Timing", v);
    }
    Ok(resp)
}

/// `GET /<set>?fetchXml=<fetch>`.
fn fetch(
    ctx: &Ctx,
    conn: &Connection,
    table: &'static Table,
    xml: &str,
    wanted: &Wanted,
) -> Result<Reply, ApiError> {
    let me = Guid::parse(&ctx.user.systemuserid);
    let f = odata::parse_fetch(xml, me)?;
    if f.table.logical != table.logical {
        return Err(ApiError::bad_request(format!(
            "The entity '{}' of the FetchXML does not match the entity set '{}'.",
            f.table.logical, table.entity_set
        )));
    }
    let q = &f.query;
    let from = privileges::from_clause(table, ctx.user);
    let page_size = f.page_size.unwrap_or(MAX_PAGE_SIZE).min(MAX_PAGE_SIZE);
    let rows = read_rows(conn, &from, q, page_size, f.skip, true)?;
    let count = if q.count || f.total_record_count {
        Some(count_capped(conn, &from, q)?)
    } else {
        None
    };
    let names = lookup_names(ctx, conn, table, &q.select, &rows.rows)?;
    let mut head = Map::new();
    head.insert(
        "@odata.context".into(),
        Json_::String(context(ctx, table, q, true, "")),
    );
    count_annotations(&mut head, count, wanted);
    // The next page's cookie holds this page's last row (a keyset cursor), as
    // Dataverse's holds its first and last keys; on the last page neither annotation.
    // Dataverse sends both on a FetchXML page whether `Prefer` asks or not: clients
    // page on them unasked (dynamics-web-api's `fetchAll` reads the cookie without
    // requesting it).
    if rows.more {
        if let Some(token) = cursor_after(q, &rows) {
            let cookie = odata::paging_cookie(f.page, &token);
            head.insert(
                format!("@{PAGING_COOKIE}"),
                Json_::String(odata::fetchxml_paging_cookie_annotation(
                    f.page + 1,
                    &cookie,
                )),
            );
            head.insert(format!("@{MORE_RECORDS}"), Json_::Bool(true));
        }
    }
    let selected = q.select.len();
    let n = rows.cols.len();
    let records = rows
        .rows
        .iter()
        .map(|r| record(&q.select, &r[..selected], &r[n], wanted, &names, true));
    Ok(json_reply(
        Body {
            head,
            tail: Map::new(),
        }
        .render(records),
    ))
}

/// `GET /<set>?$apply=...`: groups and aggregates, as Dataverse answers them (null
/// group values left out; formatted values of the aliases when asked).
fn aggregate(
    ctx: &Ctx,
    conn: &Connection,
    table: &'static Table,
    raw: &str,
    wanted: &Wanted,
) -> Result<Reply, ApiError> {
    let apply = odata::parse_apply(table, raw)?;
    let from = privileges::from_clause(table, ctx.user);
    let (sql, rows_sql, params) = odata_sql::aggregate(&apply, &from);
    let over: i64 = conn.query_row(
        &format!(
            "SELECT count(*) FROM ({rows_sql} LIMIT {})",
            AGGREGATE_RECORD_LIMIT + 1
        ),
        params_from_iter(params.iter()),
        |r| r.get(0),
    )?;
    if over as u64 > AGGREGATE_RECORD_LIMIT {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            AGGREGATE_RECORD_LIMIT_CODE,
            AGGREGATE_RECORD_LIMIT_MESSAGE,
        ));
    }
    let keys = apply.group_by.len();
    let width = keys + apply.aggregates.len();
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map(params_from_iter(params.iter()), |r| {
            (0..width)
                .map(|i| r.get_ref(i).map(json::param_of))
                .collect::<rusqlite::Result<Vec<SqlParam>>>()
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let records = rows.iter().map(|r| {
        let mut m = Map::new();
        for (c, v) in apply.group_by.iter().zip(r) {
            let value = json::to_json(c.kind, v);
            if value.is_null() {
                continue;
            }
            if wanted.has(FORMATTED_VALUE) {
                if let Some(f) = formatted_value(c, &value) {
                    m.insert(
                        format!("{}@{FORMATTED_VALUE}", c.property()),
                        Json_::String(f),
                    );
                }
            }
            m.insert(c.property(), value);
        }
        for (a, v) in apply.aggregates.iter().zip(&r[keys..]) {
            let kind = match (a.method, a.column) {
                (odata::AggregateMethod::Min | odata::AggregateMethod::Max, Some(c)) => c.kind,
                (odata::AggregateMethod::Average | odata::AggregateMethod::Sum, _) => Kind::Decimal,
                _ => Kind::Int,
            };
            let value = json::to_json(kind, v);
            if wanted.has(FORMATTED_VALUE) {
                let shown = a
                    .column
                    .filter(|_| kind != Kind::Int && kind != Kind::Decimal);
                let f = match shown {
                    Some(c) => formatted_value(c, &value),
                    None => value
                        .as_f64()
                        .map(|n| group_thousands(n, kind == Kind::Decimal)),
                };
                if let Some(f) = f {
                    m.insert(format!("{}@{FORMATTED_VALUE}", a.alias), Json_::String(f));
                }
            }
            m.insert(a.alias.clone(), value);
        }
        Json_::Object(m)
    });
    let mut head = Map::new();
    head.insert(
        "@odata.context".into(),
        Json_::String(format!("{}$metadata#{}", ctx.base_url(), table.entity_set)),
    );
    Ok(json_reply(
        Body {
            head,
            tail: Map::new(),
        }
        .render(records),
    ))
}

/// `1,234` (or `1,234.50` with decimals), as Dataverse formats numbers in English.
fn group_thousands(n: f64, decimals: bool) -> String {
    let whole = n.trunc().abs() as u64;
    let digits = whole.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0.0 {
        out.insert(0, '-');
    }
    if decimals {
        out.push_str(&format!(
            ".{:02}",
            ((n.fract().abs() * 100.0).round() as u64).min(99)
        ));
    }
    out
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
    let prefer = ctx.prefer()?;
    let wanted = Wanted {
        prefer: prefer.include_annotations.as_deref(),
    };
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
    let names = if prefer.include_annotations.is_some() {
        lookup_names(ctx, conn, table, &q.select, std::slice::from_ref(&row))?
    } else {
        HashMap::new()
    };
    let mut rec = record(&q.select, &row[..n], &row[n], &wanted, &names, false);
    let mut extra = expanded(
        ctx,
        conn,
        table,
        &q,
        &row_keys(table, &q, std::slice::from_ref(&row)),
    )?;
    if let Json_::Object(m) = &mut rec {
        if let Some(more) = extra.first_mut() {
            m.append(more);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(group_thousands(8.0, false), "8");
        assert_eq!(group_thousands(1234.0, false), "1,234");
        assert_eq!(group_thousands(1234567.0, false), "1,234,567");
        assert_eq!(group_thousands(-1234.5, true), "-1,234.50");
    }

    #[test]
    fn metadata_annotation_names_are_dataverse_s() {
        // The annotation constants are the ones core's matcher knows.
        assert!(wants_annotation("*", TOTAL_COUNT));
        assert!(wants_annotation("Microsoft.Dynamics.CRM.*", PAGING_COOKIE));
        assert!(!wants_annotation(FORMATTED_VALUE, LOOKUP_LOGICAL_NAME));
    }
}
