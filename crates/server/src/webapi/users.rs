//! Users, teams and their roles, as Dataverse exposes them:
//!
//! * `systemusers(<id>)/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()`: what the
//!   user may do, from their own roles and those of their teams (Dataverse's answer
//!   includes roles inherited through teams; the direct association below does not).
//! * `systemusers(<id>)/systemuserroles_association`: the user's own security roles.
//! * `teams(<id>)/teammembership_association` (the members) and
//!   `systemusers(<id>)/teammembership_association` (the user's teams); an
//!   administrator adds a member with `POST teams(<id>)/teammembership_association/$ref`
//!   (`{"@odata.id": ".../systemusers(<id>)"}`) and removes one with `DELETE
//!   teams(<id>)/teammembership_association(<user id>)/$ref` (or `.../$ref?$id=<url>`).

use axum::http::{Method, StatusCode};
use mailsync_core::model::{Table, SYSTEMUSER, TEAM};
use mailsync_core::odata::{percent_decode, Guid};
use rusqlite::{Connection, OptionalExtension};
use serde_json::{json, Value};

use super::{errcodes, privileges, record_not_found, rules, Ctx, Reply, BUSINESS_UNIT_ID};
use crate::error::ApiError;
use crate::store::auth::{roles_from_column, SignedInUser, ROLES_WITH_TEAMS};

/// The navigation property of team membership, on both sides.
pub const MEMBERSHIP: &str = "teammembership_association";

/// The user's roles (`with_teams`: and their teams'), when the caller may see the user.
fn roles_of(ctx: &Ctx, conn: &Connection, id: Guid, with_teams: bool) -> Result<String, ApiError> {
    let from = privileges::from_clause(&SYSTEMUSER, ctx.user);
    let own: String = conn
        .query_row(
            &format!("SELECT roles FROM {from} WHERE systemuserid = ?1"),
            [id.to_string()],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| record_not_found(&SYSTEMUSER, id))?;
    if !with_teams {
        return Ok(own);
    }
    Ok(conn.query_row(
        &format!("SELECT {ROLES_WITH_TEAMS} FROM systemuser u WHERE u.systemuserid = ?1"),
        [id.to_string()],
        |r| r.get(0),
    )?)
}

/// `RetrieveUserPrivileges`: what the user's roles allow, in Dataverse's shape (the
/// same rules the API enforces: `privileges::role_privileges`). A user the caller
/// cannot see is a 404.
pub fn privileges(ctx: &Ctx, conn: &Connection, id: Guid) -> Result<Reply, ApiError> {
    let user = SignedInUser {
        systemuserid: id.to_string(),
        fullname: String::new(),
        domainname: String::new(),
        roles: roles_from_column(&roles_of(ctx, conn, id, true)?),
    };
    let list: Vec<Value> = privileges::role_privileges(privileges::Tier::of(&user))
        .into_iter()
        .map(|(name, depth)| {
            json!({
                "Depth": depth.as_str(),
                "PrivilegeId": mailsync_core::metadata::metadata_id(&format!("privilege:{name}")),
                "BusinessUnitId": BUSINESS_UNIT_ID,
                "PrivilegeName": name,
            })
        })
        .collect();
    Ok(Reply::json(
        StatusCode::OK,
        &json!({
            "@odata.context": format!(
                "{}$metadata#Microsoft.Dynamics.CRM.RetrieveUserPrivilegesResponse",
                ctx.base
            ),
            "RolePrivileges": list,
        }),
    ))
}

/// `systemuserroles_association`: the user's own security roles as Dataverse lists them
/// (`roleid`, `name`; each role's id is fixed, derived from its name).
pub fn roles(ctx: &Ctx, conn: &Connection, id: Guid) -> Result<Reply, ApiError> {
    let value: Vec<Value> = roles_from_column(&roles_of(ctx, conn, id, false)?)
        .into_iter()
        .map(|role| {
            json!({
                "roleid": mailsync_core::metadata::metadata_id(&format!("role:{}", role.name())),
                "name": role.name(),
            })
        })
        .collect();
    Ok(Reply::json(
        StatusCode::OK,
        &json!({
            "@odata.context": format!("{}$metadata#roles", ctx.base),
            "value": value,
        }),
    ))
}

/// `<table>(<id>)/teammembership_association[...]`: read the members or teams, or (on
/// a team, administrators only) add or remove a member.
pub fn membership(
    ctx: &Ctx,
    conn: &Connection,
    method: &Method,
    table: &'static Table,
    id: Guid,
    path: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let rest = &path[MEMBERSHIP.len()..];
    match (method, table.logical, rest) {
        (&Method::GET, _, "") => list(ctx, conn, table, id),
        (&Method::POST, "team", "/$ref") => {
            let user = referenced_user(body)?;
            change(ctx, conn, id, user, true)
        }
        (&Method::DELETE, "team", rest) => {
            let user = match rest.strip_suffix("/$ref") {
                Some("") => ctx
                    .uri
                    .query()
                    .and_then(|q| {
                        q.split('&').find_map(|p| {
                            p.strip_prefix("$id=").or_else(|| p.strip_prefix("%24id="))
                        })
                    })
                    .and_then(|v| percent_decode(v).ok())
                    .and_then(|v| user_in_url(&v))
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            "Name the member to remove: .../teammembership_association(<systemuserid>)/$ref \
                             or .../$ref?$id=<url of the systemuser>.",
                        )
                    })?,
                Some(key) => key
                    .strip_prefix('(')
                    .and_then(|k| k.strip_suffix(')'))
                    .and_then(Guid::parse)
                    .ok_or_else(|| bad_key(key))?,
                None => return Err(not_found(path)),
            };
            change(ctx, conn, id, user, false)
        }
        _ => Err(not_found(path)),
    }
}

fn not_found(path: &str) -> ApiError {
    ApiError::not_found(format!("Resource not found for the segment '{path}'."))
}

fn bad_key(key: &str) -> ApiError {
    ApiError::bad_request(format!("'{key}' is not a valid key (expected a GUID)."))
}

/// The members of a team, or the teams of a user, as far as the caller sees them.
fn list(ctx: &Ctx, conn: &Connection, table: &'static Table, id: Guid) -> Result<Reply, ApiError> {
    let visible = privileges::from_clause(table, ctx.user);
    let seen: Option<String> = conn
        .query_row(
            &format!(
                "SELECT {key} FROM {visible} WHERE {key} = ?1",
                key = table.key
            ),
            [id.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    if seen.is_none() {
        return Err(record_not_found(table, id));
    }
    let (other, sql) = if table.logical == "team" {
        let users = privileges::from_clause(&SYSTEMUSER, ctx.user);
        (
            &SYSTEMUSER,
            format!(
                "SELECT systemuserid, fullname FROM {users} WHERE systemuserid IN \
                 (SELECT systemuserid FROM teammembership WHERE teamid = ?1) ORDER BY fullname"
            ),
        )
    } else {
        let teams = privileges::from_clause(&TEAM, ctx.user);
        (
            &TEAM,
            format!(
                "SELECT teamid, name FROM {teams} WHERE teamid IN \
                 (SELECT teamid FROM teammembership WHERE systemuserid = ?1) ORDER BY name"
            ),
        )
    };
    let mut stmt = conn.prepare(&sql)?;
    let value: Vec<Value> = stmt
        .query_map([id.to_string()], |r| {
            Ok(json!({
                other.key: r.get::<_, String>(0)?,
                other.primary_name: r.get::<_, Option<String>>(1)?,
            }))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Reply::json(
        StatusCode::OK,
        &json!({
            "@odata.context": format!("{}$metadata#{}({},{})", ctx.base, other.entity_set, other.key, other.primary_name),
            "value": value,
        }),
    ))
}

/// The user a `$ref` body names: `{"@odata.id": "<...>/systemusers(<id>)"}`.
fn referenced_user(body: &[u8]) -> Result<Guid, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("The body is not JSON: {e}.")))?;
    v["@odata.id"]
        .as_str()
        .and_then(user_in_url)
        .ok_or_else(|| {
            ApiError::bad_request(
                "A team's member is given as {\"@odata.id\": \"<organization>/api/data/v9.2/systemusers(<id>)\"}.",
            )
        })
}

/// The id in a URL ending in `systemusers(<id>)`.
fn user_in_url(url: &str) -> Option<Guid> {
    let last = url.trim_end_matches('/').rsplit('/').next()?;
    let key = last.strip_prefix("systemusers(")?.strip_suffix(')')?;
    Guid::parse(key.trim_matches('\''))
}

/// Adds (`add`) or removes a member: administrators only, both records must exist.
fn change(
    ctx: &Ctx,
    conn: &Connection,
    team: Guid,
    user: Guid,
    add: bool,
) -> Result<Reply, ApiError> {
    rules::check_op(&TEAM, ctx.user, rules::Op::Update)?;
    let exists = |table: &Table, id: Guid| -> Result<bool, ApiError> {
        Ok(conn
            .query_row(
                &format!("SELECT 1 FROM {} WHERE {} = ?1", table.logical, table.key),
                [id.to_string()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    };
    if !exists(&TEAM, team)? {
        return Err(record_not_found(&TEAM, team));
    }
    if !exists(&SYSTEMUSER, user)? {
        return Err(record_not_found(&SYSTEMUSER, user));
    }
    if add {
        conn.execute(
            "INSERT OR IGNORE INTO teammembership (teamid, systemuserid) VALUES (?1, ?2)",
            [team.to_string(), user.to_string()],
        )?;
    } else {
        let gone = conn.execute(
            "DELETE FROM teammembership WHERE teamid = ?1 AND systemuserid = ?2",
            [team.to_string(), user.to_string()],
        )?;
        if gone == 0 {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                errcodes::RECORD_NOT_FOUND,
                format!("systemuser With Id = {user} is not a member of team With Id = {team}"),
            ));
        }
    }
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_references() {
        let id = "6f1f3c1e-1111-4222-8333-000000000001";
        let body = format!(r#"{{"@odata.id":"http://x/api/data/v9.2/systemusers({id})"}}"#);
        assert_eq!(referenced_user(body.as_bytes()).unwrap().to_string(), id);
        assert!(
            referenced_user(br#"{"@odata.id":"teams(6f1f3c1e-1111-4222-8333-000000000001)"}"#)
                .is_err()
        );
        assert!(referenced_user(b"[]").is_err());
        let url = percent_decode(&format!(
            "http%3A%2F%2Fx%2Fapi%2Fdata%2Fv9.2%2Fsystemusers({id})"
        ))
        .unwrap();
        assert_eq!(user_in_url(&url).unwrap().to_string(), id);
    }
}
