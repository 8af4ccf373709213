//! Rows to JSON and JSON bodies to column values, by column kind.
//!
//! Out: GUIDs and dates as strings (dates as stored: RFC 3339 UTC), integers and option
//! values as numbers, booleans as booleans, lookups as `_x_value`, plus `@odata.etag`
//! (`W/"<versionnumber>"`). Write-only and hidden columns are never selected.
//!
//! In: a JSON object of logical names; lookups as `"x@odata.bind": "/<set>(<id>)"`
//! (`"x_<target>@odata.bind"` for a lookup to several tables); annotations (`@...`)
//! ignored. Unknown, read-only and mistyped properties are 400s that name them.

use mailsync_core::model::{Column, Kind, Table};
use mailsync_core::odata::Guid;
use mailsync_core::options::describe;
use mailsync_core::Timestamp;
use serde_json::Value as Json;

use crate::error::ApiError;
use crate::odata_sql::SqlParam;

/// A stored value as rusqlite returns it, owned.
pub fn param_of(v: rusqlite::types::ValueRef<'_>) -> SqlParam {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null | ValueRef::Blob(_) => SqlParam::Null,
        ValueRef::Integer(i) => SqlParam::Int(i),
        ValueRef::Real(f) => SqlParam::Real(f),
        ValueRef::Text(t) => SqlParam::Text(String::from_utf8_lossy(t).into_owned()),
    }
}

/// A stored value as its JSON property value.
pub fn to_json(kind: Kind, v: &SqlParam) -> Json {
    match (kind, v) {
        (_, SqlParam::Null) => Json::Null,
        (Kind::Bool, SqlParam::Int(i)) => Json::Bool(*i != 0),
        (Kind::Decimal, SqlParam::Int(i)) => Json::from(*i as f64),
        (_, SqlParam::Int(i)) => Json::from(*i),
        (_, SqlParam::Real(f)) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        (_, SqlParam::Text(s)) => Json::String(s.clone()),
    }
}

/// The ETag of a record's version.
pub fn etag(version: &SqlParam) -> String {
    match version {
        SqlParam::Int(v) => format!("W/\"{v}\""),
        _ => "W/\"0\"".to_string(),
    }
}

/// One column set by a request body.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub column: &'static Column,
    pub value: SqlParam,
    /// For a lookup to several tables: the logical name of the target's table.
    pub target: Option<&'static str>,
}

/// Whether a body is for a new record (the key may be given) or an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Update,
}

/// Parses a request body into the columns it sets.
pub fn parse_body(table: &Table, body: &[u8], mode: Mode) -> Result<Vec<Change>, ApiError> {
    let json: Json = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "The request body is not valid JSON: {e}. Send a JSON object of the record's properties."
        ))
    })?;
    let Json::Object(obj) = json else {
        return Err(ApiError::bad_request(
            "The request body must be a JSON object of the record's properties.",
        ));
    };
    let mut out: Vec<Change> = Vec::new();
    for (key, value) in obj {
        let change = if let Some(nav) = key.strip_suffix("@odata.bind") {
            bind(table, nav, &value, mode)?
        } else if key.starts_with('@') || key.contains('@') {
            // Instance and property annotations (`@odata.etag`, `x@OData.Community...`).
            continue;
        } else {
            property(table, &key, &value, mode)?
        };
        if out.iter().any(|c| c.column == change.column) {
            return Err(ApiError::bad_request(format!(
                "The property '{}' is set more than once in the request body.",
                change.column.name
            )));
        }
        out.push(change);
    }
    Ok(out)
}

fn unknown(table: &Table, name: &str) -> ApiError {
    ApiError::bad_request(format!(
        "The property '{name}' does not exist on type '{}'. Make sure to only use property \
         names that are defined by the type.",
        table.type_name()
    ))
}

fn property(table: &Table, key: &str, value: &Json, mode: Mode) -> Result<Change, ApiError> {
    let column = table.property(key).ok_or_else(|| unknown(table, key))?;
    if column.kind.is_lookup() {
        return Err(ApiError::bad_request(format!(
            "The property '{key}' is a lookup and cannot be set directly; use \
             \"{}@odata.bind\": \"/<entity set>(<id>)\".",
            column.name
        )));
    }
    let is_key = column.name == table.key;
    let key_on_create = is_key && mode == Mode::Create;
    if column.writable() && !column.updatable() && mode == Mode::Update {
        return Err(ApiError::bad_request(format!(
            "The property '{key}' of '{}' can only be set when the record is created.",
            table.type_name()
        )));
    }
    if !(column.writable() || key_on_create) {
        return Err(ApiError::bad_request(format!(
            "The property '{key}' of '{}' is read-only: it is set by the system and cannot be \
             written.",
            table.type_name()
        )));
    }
    let value = convert(column, value)?;
    if is_key && value == SqlParam::Null {
        return Err(ApiError::bad_request(format!(
            "The key property '{key}' cannot be null."
        )));
    }
    Ok(Change {
        column,
        value,
        target: None,
    })
}

/// A JSON value as the store keeps a column of this kind.
pub fn convert(column: &Column, value: &Json) -> Result<SqlParam, ApiError> {
    let name = column.name;
    let wrong = || {
        ApiError::bad_request(format!(
            "Cannot convert the literal '{value}' to the expected type '{}' of the property \
             '{name}'.",
            column.kind.edm()
        ))
    };
    Ok(match (column.kind, value) {
        (_, Json::Null) => SqlParam::Null,
        (Kind::Text, Json::String(s)) => {
            if !column.fits(s) {
                return Err(ApiError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    crate::error::codes::TOO_LONG,
                    format!(
                        "A validation error occurred.  The length of the '{name}' attribute \
                         exceeded the maximum allowed length of '{}'.",
                        column.max_len.unwrap_or(0)
                    ),
                ));
            }
            if column.access == mailsync_core::model::Access::WriteOnly
                && crate::store::secrets::looks_sealed(s)
            {
                return Err(ApiError::bad_request(format!(
                    "The value of '{name}' looks like a sealed secret of this server; send \
                     the secret itself."
                )));
            }
            SqlParam::Text(s.clone())
        }
        (Kind::Int | Kind::Choice, Json::Number(n)) => {
            let i = n.as_i64().ok_or_else(wrong)?;
            i32::try_from(i).map_err(|_| wrong())?;
            if !column.allows(i) {
                let allowed = column.options.map(describe).unwrap_or_default();
                return Err(ApiError::bad_request(format!(
                    "{i} is not a valid value of the property '{name}': it must be one of \
                     {allowed}."
                )));
            }
            SqlParam::Int(i)
        }
        (Kind::Decimal, Json::Number(n)) => SqlParam::Real(n.as_f64().ok_or_else(wrong)?),
        (Kind::Bool, Json::Bool(b)) => SqlParam::Int(i64::from(*b)),
        (Kind::Guid | Kind::Lookup(_), Json::String(s)) => {
            SqlParam::Text(Guid::parse(s).ok_or_else(wrong)?.to_string())
        }
        (Kind::DateTime, Json::String(s)) => {
            let p = Timestamp::parse(s).filter(|p| p.zoned).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "Cannot convert the literal '{value}' to the expected type \
                         'Edm.DateTimeOffset' of the property '{name}': give a date and time \
                         with a zone, e.g. 2026-01-02T03:04:05Z."
                ))
            })?;
            SqlParam::Text(p.at.to_rfc3339())
        }
        _ => return Err(wrong()),
    })
}

/// The entity set and id an `@odata.bind` value names: a relative, absolute or full URL
/// whose last segment is `<set>(<id>)`.
pub fn reference(text: &str) -> Option<(&str, Guid)> {
    let last = text.trim_end_matches('/').rsplit('/').next()?;
    let (set, rest) = last.split_once('(')?;
    let id = rest
        .strip_suffix(')')
        .map(|k| k.trim_matches('\''))
        .and_then(Guid::parse)?;
    Some((set, id))
}

/// `"nav@odata.bind": "/<set>(<id>)"`; `nav` is the lookup's logical name, or
/// `<name>_<target logical name>` for a lookup to several tables.
fn bind(table: &Table, nav: &str, value: &Json, mode: Mode) -> Result<Change, ApiError> {
    let (column, hinted) = match table.column(nav).filter(|c| c.kind.is_lookup()) {
        Some(c) => (c, None),
        None => table
            .columns
            .iter()
            .filter(|c| c.kind.is_lookup())
            .find_map(|c| {
                let rest = nav.strip_prefix(c.name)?.strip_prefix('_')?;
                match c.kind {
                    Kind::Lookup(targets) => {
                        targets.iter().find(|t| **t == rest).map(|t| (c, Some(*t)))
                    }
                    _ => None,
                }
            })
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "An undeclared property '{nav}' which only has property annotations in the \
                     payload but no property value was found in the payload. In OData, only \
                     declared navigation properties and declared named streams can be \
                     represented as properties without values."
                ))
            })?,
    };
    let Kind::Lookup(targets) = column.kind else {
        return Err(unknown(table, nav));
    };
    if !column.writable() {
        return Err(ApiError::bad_request(format!(
            "The lookup '{nav}' is read-only and cannot be bound."
        )));
    }
    if !column.updatable() && mode == Mode::Update {
        return Err(ApiError::bad_request(format!(
            "The lookup '{nav}' can only be bound when the record is created."
        )));
    }
    if value.is_null() {
        return Ok(Change {
            column,
            value: SqlParam::Null,
            target: None,
        });
    }
    let Some(text) = value.as_str() else {
        return Err(ApiError::bad_request(format!(
            "The value of '{nav}@odata.bind' must be a string such as \"/<entity set>(<id>)\"."
        )));
    };
    let bad = || {
        ApiError::bad_request(format!(
            "The value '{text}' of '{nav}@odata.bind' is not a reference: expected \
             \"/<entity set>(<id>)\"."
        ))
    };
    let (set, id) = reference(text).ok_or_else(bad)?;
    let target = mailsync_core::model::table(set)
        .filter(|t| t.entity_set == set)
        .ok_or_else(bad)?;
    if !targets.contains(&target.logical) || hinted.is_some_and(|h| h != target.logical) {
        return Err(ApiError::bad_request(format!(
            "The lookup '{nav}' cannot refer to a record of '{}'; it refers to {}.",
            target.entity_set,
            targets.join(" or ")
        )));
    }
    Ok(Change {
        column,
        value: SqlParam::Text(id.to_string()),
        target: Some(target.logical),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailsync_core::model::{EMAILSERVERPROFILE, MAILBOX, TRACELOG};

    fn msg(r: Result<Vec<Change>, ApiError>) -> String {
        r.unwrap_err().message
    }

    #[test]
    fn bodies() {
        let body = br#"{"name":"A","enabledforincomingemail":true,"incomingemaildeliverymethod":2,
            "processemailreceivedafter":"2026-01-02T03:04:05+01:00","@odata.etag":"W/\"1\"",
            "emailserverprofile@odata.bind":"/emailserverprofiles(9FB6600B-0965-E811-A97F-000D4A161089)"}"#;
        let c = parse_body(&MAILBOX, body, Mode::Update).unwrap();
        let get = |n: &str| c.iter().find(|c| c.column.name == n).unwrap().value.clone();
        assert_eq!(get("name"), SqlParam::Text("A".into()));
        assert_eq!(get("enabledforincomingemail"), SqlParam::Int(1));
        assert_eq!(
            get("processemailreceivedafter"),
            SqlParam::Text("2026-01-02T02:04:05Z".into())
        );
        assert_eq!(
            get("emailserverprofile"),
            SqlParam::Text("9fb6600b-0965-e811-a97f-000d4a161089".into())
        );
        assert!(msg(parse_body(&MAILBOX, b"{\"foo\":1}", Mode::Update)).contains("'foo'"));
        assert!(msg(parse_body(&MAILBOX, b"{\"name\":1}", Mode::Update)).contains("Edm.String"));
        assert!(
            msg(parse_body(&MAILBOX, b"{\"mailboxstatus\":1}", Mode::Update)).contains("read-only")
        );
        assert!(msg(parse_body(&MAILBOX, b"{\"password\":", Mode::Update)).contains("JSON"));
        assert!(msg(parse_body(&MAILBOX, b"[]", Mode::Update)).contains("object"));
        assert!(msg(parse_body(
            &MAILBOX,
            b"{\"_emailserverprofile_value\":\"x\"}",
            Mode::Update
        ))
        .contains("odata.bind"));
        assert!(msg(parse_body(
            &MAILBOX,
            br#"{"emailserverprofile@odata.bind":"/mailboxes(9fb6600b-0965-e811-a97f-000d4a161089)"}"#,
            Mode::Update
        ))
        .contains("cannot refer"));
        assert!(parse_body(&MAILBOX, b"{\"password\":\"s\"}", Mode::Update).is_ok());
        assert!(msg(parse_body(
            &EMAILSERVERPROFILE,
            b"{\"maxconcurrentconnections\":1e20}",
            Mode::Create
        ))
        .contains("Edm.Int32"));
        // The key: on create only.
        let id = br#"{"tracelogid":"9fb6600b-0965-e811-a97f-000d4a161089"}"#;
        assert!(parse_body(&TRACELOG, id, Mode::Create).is_ok());
        assert!(parse_body(&TRACELOG, id, Mode::Update).is_err());
        // A lookup to several tables, by target.
        let c = parse_body(
            &TRACELOG,
            br#"{"regardingobjectid_mailbox@odata.bind":"mailboxes(9fb6600b-0965-e811-a97f-000d4a161089)"}"#,
            Mode::Create,
        )
        .unwrap();
        assert_eq!(c[0].target, Some("mailbox"));
    }
}
