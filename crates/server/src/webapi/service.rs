//! The service-level resources a Dataverse client asks for besides the tables: the
//! service document (`GET /api/data/v9.2/`), `$metadata` (CSDL), `WhoAmI` (with or
//! without its parentheses), `RetrieveTotalRecordCount`, and `EntityDefinitions` with
//! its attributes and option sets. The documents themselves are core's
//! (`mailsync_core::metadata`), generated from the model; this module routes and
//! projects them (`$select`, `$expand`, `$filter` by `LogicalName`).

use axum::http::{header, HeaderValue, StatusCode};
use mailsync_core::metadata;
use mailsync_core::model::{self, Access, Column, Kind, Table};
use mailsync_core::odata::percent_decode;
use rusqlite::{Connection, OptionalExtension};
use serde_json::{json, Map, Value};

use super::{privileges, Ctx, Reply};
use crate::error::ApiError;

/// The local organization has one business unit.
pub const BUSINESS_UNIT_ID: &str = "00000000-0000-4000-8000-0000000000b1";

/// Answers `rel` (the path after `/api/data/v9.2/`) when it names a service-level
/// resource; `None` for the tables.
pub fn route(ctx: &Ctx, conn: &Connection, rel: &str) -> Option<Result<Reply, ApiError>> {
    let rel = rel.trim_end_matches('/');
    Some(match rel {
        "" => Ok(Reply::json(
            StatusCode::OK,
            &metadata::service_document(ctx.base),
        )),
        "$metadata" => Ok(csdl()),
        "WhoAmI" | "WhoAmI()" => who_am_i(ctx, conn),
        _ if rel.starts_with("RetrieveTotalRecordCount") => total_record_count(ctx, conn, rel),
        _ if rel.starts_with("EntityDefinitions") => entity_definitions(ctx, rel),
        _ => return None,
    })
}

/// Whether `rel` names one of the service-level functions (called with GET only).
pub fn is_function(rel: &str) -> bool {
    let rel = rel.trim_end_matches('/');
    matches!(rel, "WhoAmI" | "WhoAmI()" | "$metadata" | "")
        || rel.starts_with("RetrieveTotalRecordCount")
        || rel.starts_with("EntityDefinitions")
}

fn csdl() -> Reply {
    let mut r = Reply::empty(StatusCode::OK);
    r.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    r.body = metadata::csdl().into_bytes();
    r
}

/// `WhoAmI`, as Dataverse answers it.
fn who_am_i(ctx: &Ctx, conn: &Connection) -> Result<Reply, ApiError> {
    let org: Option<String> = conn
        .query_row("SELECT organizationid FROM organization LIMIT 1", [], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(Reply::json(
        StatusCode::OK,
        &json!({
            "@odata.context": format!("{}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse", ctx.base),
            "BusinessUnitId": BUSINESS_UNIT_ID,
            "UserId": ctx.user.systemuserid,
            "OrganizationId": org,
        }),
    ))
}

/// `RetrieveTotalRecordCount(EntityNames=@p)?@p=["mailbox","tracelog"]`: a count per
/// table of what the caller sees (Dataverse's is a recent snapshot; here it is now).
fn total_record_count(ctx: &Ctx, conn: &Connection, rel: &str) -> Result<Reply, ApiError> {
    let raw = ctx.uri.query().unwrap_or("");
    let names = raw
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.starts_with('@'))
        .map(|(_, v)| percent_decode(v).unwrap_or_default())
        .or_else(|| {
            let inner = rel.split_once("EntityNames=")?.1.trim_end_matches(')');
            Some(percent_decode(inner).unwrap_or_default())
        })
        .ok_or_else(|| {
            ApiError::bad_request(
                "RetrieveTotalRecordCount needs EntityNames, e.g. \
                 RetrieveTotalRecordCount(EntityNames=@p)?@p=[\"mailbox\"].",
            )
        })?;
    let names: Vec<String> = serde_json::from_str(&names).map_err(|_| {
        ApiError::bad_request("EntityNames must be a JSON array of table logical names.")
    })?;
    let mut keys = Vec::new();
    let mut values = Vec::new();
    for name in names.iter().take(100) {
        let table = model::table(name)
            .filter(|t| t.logical == name)
            .ok_or_else(|| ApiError::bad_request(format!("'{name}' is not a table.")))?;
        privileges::check_read(ctx.user, table)?;
        let from = privileges::from_clause(table, ctx.user);
        let n: i64 = conn.query_row(&format!("SELECT count(*) FROM {from}"), [], |r| r.get(0))?;
        keys.push(Value::String(name.clone()));
        values.push(json!(n));
    }
    Ok(Reply::json(
        StatusCode::OK,
        &json!({
            "@odata.context": format!("{}$metadata#Microsoft.Dynamics.CRM.RetrieveTotalRecordCountResponse", ctx.base),
            "EntityRecordCountCollection": {"Count": keys.len(), "IsReadOnly": false, "Keys": keys, "Values": values},
        }),
    ))
}

/// The query options of a metadata request, decoded.
struct Options {
    select: Option<Vec<String>>,
    expand: Option<String>,
    filter: Option<String>,
}

fn options(ctx: &Ctx) -> Options {
    let mut o = Options {
        select: None,
        expand: None,
        filter: None,
    };
    for part in ctx.uri.query().unwrap_or("").split('&') {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let v = percent_decode(v).unwrap_or_default();
        match percent_decode(k).unwrap_or_default().as_str() {
            "$select" => o.select = Some(v.split(',').map(|s| s.trim().to_string()).collect()),
            "$expand" => o.expand = Some(v),
            "$filter" => o.filter = Some(v),
            _ => {}
        }
    }
    o
}

/// Keeps only the `$select`ed properties (and annotations) of a metadata object.
fn project(mut v: Value, select: Option<&[String]>) -> Value {
    if let (Some(select), Value::Object(m)) = (select, &mut v) {
        m.retain(|k, _| k.starts_with('@') || k == "MetadataId" || select.iter().any(|s| s == k));
    }
    v
}

fn not_found(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        super::errcodes::RECORD_NOT_FOUND,
        format!("Could not find {what}."),
    )
}

/// `(LogicalName='x')` or `(<MetadataId>)` after a segment name.
fn key_of(segment: &str) -> Option<String> {
    let inner = segment.split_once('(')?.1.strip_suffix(')')?;
    let inner = percent_decode(inner).ok()?;
    let inner = inner.trim();
    Some(
        inner
            .strip_prefix("LogicalName=")
            .unwrap_or(inner)
            .trim_matches('\'')
            .to_string(),
    )
}

fn table_by_key(key: &str) -> Option<&'static Table> {
    model::TABLES.iter().copied().find(|t| {
        t.logical == key || metadata::metadata_id(&format!("entity:{}", t.logical)) == key
    })
}

fn column_by_key(table: &'static Table, key: &str) -> Option<&'static Column> {
    table.columns.iter().find(|c| {
        c.access != Access::Hidden
            && (c.name == key
                || metadata::metadata_id(&format!("attribute:{}.{}", table.logical, c.name)) == key)
    })
}

/// An attribute, with its option set when asked (`$expand=OptionSet` or
/// `GlobalOptionSet`, as a client casting to Picklist/Boolean/State/Status does).
fn attribute(
    table: &Table,
    column: &Column,
    with_options: bool,
    select: Option<&[String]>,
) -> Value {
    let mut a = project(metadata::attribute_definition(table, column), select);
    if with_options {
        if let Some(set) = metadata::option_set(table, column) {
            a["OptionSet"] = set;
            a["GlobalOptionSet"] = Value::Null;
        }
    }
    a
}

/// `EntityDefinitions[(key)][/Attributes[(key)]][/Microsoft.Dynamics.CRM.<Type>]`.
fn entity_definitions(ctx: &Ctx, rel: &str) -> Result<Reply, ApiError> {
    let o = options(ctx);
    let segments: Vec<&str> = rel.split('/').collect();
    let context = |suffix: &str| format!("{}$metadata#{suffix}", ctx.base);
    let wants_options = o.expand.as_deref().is_some_and(|e| e.contains("OptionSet"));
    // EntityDefinitions, optionally `$filter=LogicalName eq 'x'`.
    if segments.len() == 1 && !segments[0].contains('(') {
        let only = o.filter.as_deref().and_then(|f| {
            f.split_once("eq")
                .map(|(_, v)| v.trim().trim_matches('\'').to_string())
        });
        let value: Vec<Value> = model::TABLES
            .iter()
            .filter(|t| only.as_deref().is_none_or(|n| n == t.logical))
            .map(|t| entity(t, &o))
            .collect();
        return Ok(Reply::json(
            StatusCode::OK,
            &json!({"@odata.context": context("EntityDefinitions"), "value": value}),
        ));
    }
    let key = key_of(segments[0]).ok_or_else(|| not_found("the entity"))?;
    let table = table_by_key(&key)
        .ok_or_else(|| not_found(&format!("an entity with the logical name or id '{key}'")))?;
    match segments.get(1..).unwrap_or(&[]) {
        [] => {
            let mut e = entity(table, &o);
            if let Value::Object(m) = &mut e {
                let mut out = Map::new();
                out.insert(
                    "@odata.context".into(),
                    Value::String(context("EntityDefinitions/$entity")),
                );
                out.extend(std::mem::take(m));
                *m = out;
            }
            Ok(Reply::json(StatusCode::OK, &e))
        }
        [attrs, rest @ ..] if attrs.starts_with("Attributes") => {
            // A cast names the attribute type; a client casting wants that type's
            // properties (OptionSet for a Picklist when expanded).
            let cast = rest
                .first()
                .and_then(|c| c.strip_prefix("Microsoft.Dynamics.CRM."));
            let of_type = |c: &Column| cast.is_none_or(|t| metadata::metadata_type(c) == t);
            let select = o.select.as_deref();
            if let Some(col_key) = key_of(attrs) {
                let column = column_by_key(table, &col_key)
                    .ok_or_else(|| not_found(&format!("the attribute '{col_key}'")))?;
                if !of_type(column) {
                    return Err(ApiError::bad_request(format!(
                        "The attribute '{}' is a {}, not a {}.",
                        column.name,
                        metadata::metadata_type(column),
                        cast.unwrap_or_default()
                    )));
                }
                let mut a = attribute(table, column, wants_options, select);
                a["@odata.context"] =
                    Value::String(context("EntityDefinitions(...)/Attributes/$entity"));
                return Ok(Reply::json(StatusCode::OK, &a));
            }
            let value: Vec<Value> = table
                .columns
                .iter()
                .filter(|c| c.access != Access::Hidden && of_type(c))
                .map(|c| attribute(table, c, wants_options, select))
                .collect();
            Ok(Reply::json(
                StatusCode::OK,
                &json!({"@odata.context": context("EntityDefinitions(...)/Attributes"), "value": value}),
            ))
        }
        _ => Err(not_found(&format!("the resource '{rel}'"))),
    }
}

/// One EntityMetadata, projected, with `Attributes` when expanded.
fn entity(table: &Table, o: &Options) -> Value {
    let mut e = project(metadata::entity_definition(table), o.select.as_deref());
    if let Some(expand) = o.expand.as_deref().filter(|e| e.starts_with("Attributes")) {
        // `Attributes($select=LogicalName,AttributeType)`.
        let inner: Option<Vec<String>> = expand.split_once("$select=").map(|(_, s)| {
            s.trim_end_matches(')')
                .split(',')
                .map(|x| x.trim().to_string())
                .collect()
        });
        let attrs: Vec<Value> = table
            .columns
            .iter()
            .filter(|c| c.access != Access::Hidden)
            .map(|c| {
                let with_options =
                    expand.contains("OptionSet") && matches!(c.kind, Kind::Choice | Kind::Bool);
                attribute(table, c, with_options, inner.as_deref())
            })
            .collect();
        e["Attributes"] = Value::Array(attrs);
    }
    e
}
