//! `POST /<set>`, `PATCH /<set>(<id>)`, `DELETE /<set>(<id>)`.
//!
//! Each runs in one immediate transaction: the record is read through the caller's
//! view (`privileges::from_clause`), `If-Match` is compared with its `versionnumber`, the
//! table's rules apply (`rules::before_write`), and any refusal rolls everything back.

use axum::http::{header, HeaderValue, StatusCode};
use mailsync_core::model::{Access, Table};
use mailsync_core::odata::Guid;
use rusqlite::{params_from_iter, Connection, OptionalExtension};

use super::json::{self, Change, Mode};
use super::privileges::{self, Tier};
use super::rules::{self, Op, Stored};
use super::{errcodes, record_not_found, Ctx, Reply};
use crate::error::ApiError;
use crate::odata_sql::{quote, SqlParam};
use crate::store::{new_guid, secrets};

/// Every column but the hidden ones, and the stored record through the caller's view.
pub fn load(
    conn: &Connection,
    table: &'static Table,
    from: &str,
    id: Guid,
) -> Result<Option<Stored>, ApiError> {
    let cols: Vec<_> = table
        .columns
        .iter()
        .filter(|c| c.access != Access::Hidden)
        .collect();
    let list: Vec<String> = cols.iter().map(|c| quote(c.name)).collect();
    let sql = format!(
        "SELECT {} FROM {from} WHERE {} = ?1",
        list.join(", "),
        quote(table.key)
    );
    let values = conn
        .prepare_cached(&sql)?
        .query_row([id.to_string()], |r| {
            (0..cols.len())
                .map(|i| r.get_ref(i).map(json::param_of))
                .collect::<rusqlite::Result<Vec<SqlParam>>>()
        })
        .optional()?;
    Ok(values.map(|values| Stored { cols, values }))
}

/// `If-Match`: `*` or one or more ETags; `None` when absent.
fn if_match_ok(header: Option<&str>, version: &SqlParam) -> bool {
    let Some(h) = header else {
        return true;
    };
    let current = json::etag(version);
    let bare = current.trim_start_matches("W/");
    h.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t == current || t.trim_start_matches("W/") == bare)
}

fn precondition_failed() -> ApiError {
    ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        errcodes::CONCURRENCY_VERSION_MISMATCH,
        "The version of the existing record doesn't match the RowVersion property provided.",
    )
}

fn entity_url(ctx: &Ctx, table: &Table, id: &str) -> String {
    format!("{}{}({id})", ctx.base_url(), table.entity_set)
}

/// The answer to a write: 204 (or `created`), or the record with
/// `Prefer: return=representation` (read in the same transaction).
fn answer(
    ctx: &Ctx,
    conn: &Connection,
    table: &'static Table,
    id: String,
    created: bool,
) -> Result<Reply, ApiError> {
    let prefer = ctx.prefer()?;
    let url = entity_url(ctx, table, &id);
    // As Dataverse answers: a create is 204 with its URL in OData-EntityId, 201 with
    // the record when `Prefer: return=representation` asks for it; an update 204, or
    // 200 with the record.
    let status = match (created, prefer.return_representation) {
        (true, true) => StatusCode::CREATED,
        (false, true) => StatusCode::OK,
        (_, false) => StatusCode::NO_CONTENT,
    };
    let mut resp = if prefer.return_representation {
        let guid = Guid::parse(&id).ok_or_else(|| record_not_found_text(table, &id))?;
        let body = super::read::fetch_one(ctx, conn, table, guid)?;
        let mut r = Reply::json(status, &body);
        r.headers.insert(
            "Preference-Applied",
            HeaderValue::from_static("return=representation"),
        );
        r
    } else {
        Reply::empty(status)
    };
    if let Ok(v) = HeaderValue::from_str(&url) {
        resp.headers.insert("OData-EntityId", v.clone());
        if created {
            resp.headers.insert(header::LOCATION, v);
        }
    }
    Ok(resp)
}

fn record_not_found_text(table: &Table, id: &str) -> ApiError {
    ApiError::not_found(format!("{} With Id = {id} Does Not Exist", table.logical))
}

/// The SQL for the `i`th parameter of a write: write-only columns (passwords) are sealed
/// on their way in, bound to the row whose key is the SQL expression `key`
/// (`store::secrets`).
fn value_sql(table: &Table, change: &Change, i: usize, key: &str) -> String {
    if change.column.access == Access::WriteOnly {
        secrets::seal_sql(table.logical, change.column.name, &format!("?{i}"), key)
    } else {
        format!("?{i}")
    }
}

fn insert(tx: &Connection, table: &Table, changes: &[Change]) -> Result<(), ApiError> {
    let cols: Vec<String> = changes.iter().map(|c| quote(c.column.name)).collect();
    let key = changes
        .iter()
        .position(|c| c.column.name == table.key)
        .map_or("NULL".to_string(), |i| format!("?{}", i + 1));
    let marks: Vec<String> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| value_sql(table, c, i + 1, &key))
        .collect();
    tx.prepare_cached(&format!(
        "INSERT INTO {} ({}) VALUES ({})",
        quote(table.logical),
        cols.join(", "),
        marks.join(", ")
    ))?
    .execute(params_from_iter(changes.iter().map(|c| &c.value)))?;
    Ok(())
}

/// `POST /<set>`: 201 with `OData-EntityId` (and the record with
/// `Prefer: return=representation`).
pub fn create(
    ctx: &Ctx,
    tx: &Connection,
    table: &'static Table,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let user = ctx.user;
    rules::check_op(table, user, Op::Create)?;
    let (body, parties) = appointment_parties(table, body)?;
    let mut changes = json::parse_body(table, &body, Mode::Create)?;
    let id = match changes.iter().find(|c| c.column.name == table.key) {
        Some(Change {
            value: SqlParam::Text(id),
            ..
        }) => id.clone(),
        _ => {
            let id = new_guid()?;
            changes.push(Change {
                column: table.key_column(),
                value: SqlParam::Text(id.clone()),
                target: None,
            });
            id
        }
    };
    // The primary name is required, except where it is computed: a contact's
    // `fullname` comes from its names, of which the last is required (the reference's
    // ApplicationRequired).
    let required = match table.logical {
        "contact" => "lastname",
        _ => table.primary_name,
    };
    if table.logical != "tracelog"
        && !changes
            .iter()
            .any(|c| c.column.name == required && c.value != SqlParam::Null)
    {
        return Err(ApiError::bad_request(format!(
            "The property '{required}' is required to create a '{}'.",
            table.type_name()
        )));
    }
    let key = id.clone();
    {
        let exists: bool = tx
            .prepare_cached(&format!(
                "SELECT 1 FROM {} WHERE {} = ?1",
                quote(table.logical),
                quote(table.key)
            ))?
            .query_row([&key], |_| Ok(()))
            .optional()?
            .is_some();
        if exists {
            return Err(ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "0x80040237",
                format!(
                    "A record with id {key} already exists in {}.",
                    table.entity_set
                ),
            ));
        }
        rules::before_write(tx, user, table, None, &mut changes)?;
        insert(tx, table, &changes)?;
        if let Some(parties) = &parties {
            super::parties::write(tx, user, &id, parties)?;
        }
    }
    answer(ctx, tx, table, id, true)
}

/// An appointment's body without its `appointment_activity_parties`, and those.
fn appointment_parties(
    table: &Table,
    body: &[u8],
) -> Result<(Vec<u8>, Option<Vec<super::parties::Party>>), ApiError> {
    if table.logical == "appointment" {
        super::parties::split(body)
    } else {
        Ok((body.to_vec(), None))
    }
}

/// `PATCH /<set>(<id>)`: 204 (200 with the record with `Prefer: return=representation`);
/// a stale `If-Match` is 412 and changes nothing. No upsert: a missing record is 404.
pub fn update(
    ctx: &Ctx,
    tx: &Connection,
    table: &'static Table,
    id: Guid,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let user = ctx.user;
    rules::check_op(table, user, Op::Update)?;
    let (body, parties) = appointment_parties(table, body)?;
    let mut changes = json::parse_body(table, &body, Mode::Update)?;
    let if_match = ctx.header("if-match");
    let from = privileges::from_clause(table, user);
    {
        let old = load(tx, table, &from, id)?.ok_or_else(|| record_not_found(table, id))?;
        if !if_match_ok(if_match, old.get("versionnumber")) {
            return Err(precondition_failed());
        }
        rules::check_columns(user, table, &old, &mut changes)?;
        rules::before_write(tx, user, table, Some(&old), &mut changes)?;
        if let Some(parties) = &parties {
            super::parties::write(tx, user, &id.to_string(), parties)?;
        }
        if changes.is_empty() {
            return answer(ctx, tx, table, id.to_string(), false);
        }
        let key = format!("?{}", changes.len() + 1);
        let sets: Vec<String> = changes
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!(
                    "{} = {}",
                    quote(c.column.name),
                    value_sql(table, c, i + 1, &key)
                )
            })
            .collect();
        let mut values: Vec<SqlParam> = changes.iter().map(|c| c.value.clone()).collect();
        values.push(SqlParam::Text(id.to_string()));
        tx.prepare_cached(&format!(
            "UPDATE {} SET {} WHERE {} = ?{}",
            quote(table.logical),
            sets.join(", "),
            quote(table.key),
            values.len()
        ))?
        .execute(params_from_iter(values.iter()))?;
    }
    answer(ctx, tx, table, id.to_string(), false)
}

/// `DELETE /<set>(<id>)`: 204. `If-Match` is honoured as on update.
pub fn delete(
    ctx: &Ctx,
    tx: &Connection,
    table: &'static Table,
    id: Guid,
) -> Result<Reply, ApiError> {
    let user = ctx.user;
    rules::check_op(table, user, Op::Delete)?;
    let if_match = ctx.header("if-match");
    let from = privileges::from_clause(table, user);
    {
        let old = load(tx, table, &from, id)?.ok_or_else(|| record_not_found(table, id))?;
        if !if_match_ok(if_match, old.get("versionnumber")) {
            return Err(precondition_failed());
        }
        rules::before_delete(table, &old)?;
        if table.logical == "tracelog" {
            let regarding = match old.get("regardingobjecttypecode") {
                SqlParam::Text(t) => Some(t.as_str()),
                _ => None,
            };
            if !privileges::may_delete_alert(Tier::of(user), regarding) {
                return Err(super::forbidden(
                    "Only a System or Global Administrator deletes an email server profile's \
                     alerts: they concern every mailbox on the profile.",
                ));
            }
        }
        tx.prepare_cached(&format!(
            "DELETE FROM {} WHERE {} = ?1",
            quote(table.logical),
            quote(table.key)
        ))?
        .execute([id.to_string()])?;
    }
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match() {
        let v = SqlParam::Int(7);
        assert!(if_match_ok(None, &v));
        assert!(if_match_ok(Some("*"), &v));
        assert!(if_match_ok(Some("W/\"7\""), &v));
        assert!(if_match_ok(Some("\"7\""), &v));
        assert!(if_match_ok(Some("W/\"6\", W/\"7\""), &v));
        assert!(!if_match_ok(Some("W/\"6\""), &v));
        assert!(!if_match_ok(Some(""), &v));
    }
}
