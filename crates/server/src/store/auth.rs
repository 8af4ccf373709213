//! Users' roles, passwords (argon2id, PHC strings in `systemuser.passwordhash`, a column
//! the API never returns) and sign-in sessions. A session token is 32 random bytes
//! (hex); the database keeps only its BLAKE2 hash, so a copied database file signs no
//! one in.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use mailsync_core::time::Timestamp;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::{digest, hex, iso, random_bytes, Result, StoreError};

/// How long a sign-in lasts.
pub const SESSION_SECS: i64 = 8 * 3600;

/// The security roles the local organization knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Role {
    #[serde(rename = "System Administrator")]
    SystemAdministrator,
    #[serde(rename = "Global Administrator")]
    GlobalAdministrator,
    #[serde(rename = "Exchange Administrator")]
    ExchangeAdministrator,
    #[serde(rename = "Delegated Mailbox Approver")]
    DelegatedMailboxApprover,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::SystemAdministrator,
        Role::GlobalAdministrator,
        Role::ExchangeAdministrator,
        Role::DelegatedMailboxApprover,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::SystemAdministrator => "System Administrator",
            Role::GlobalAdministrator => "Global Administrator",
            Role::ExchangeAdministrator => "Exchange Administrator",
            Role::DelegatedMailboxApprover => "Delegated Mailbox Approver",
        }
    }

    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.name().eq_ignore_ascii_case(name.trim()))
    }
}

/// `systemuser.roles`: role names separated by `;` (empty for a plain user).
pub fn roles_to_column(roles: &[Role]) -> String {
    roles.iter().map(|r| r.name()).collect::<Vec<_>>().join(";")
}

/// Parses `systemuser.roles` (or [`ROLES_WITH_TEAMS`]); unknown names are ignored, a
/// role held twice counts once.
pub fn roles_from_column(text: &str) -> Vec<Role> {
    let mut roles: Vec<Role> = Vec::new();
    for role in text.split(';').filter_map(Role::from_name) {
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    roles
}

/// The roles a user `u` holds, in SQL: their own and those of every team they are a
/// member of (as Dataverse's privileges include roles inherited through teams).
pub const ROLES_WITH_TEAMS: &str = "u.roles || ';' || COALESCE((SELECT group_concat(t.roles, ';') \
     FROM teammembership m JOIN team t ON t.teamid = m.teamid \
     WHERE m.systemuserid = u.systemuserid), '')";

/// The signed-in user, as the API sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignedInUser {
    pub systemuserid: String,
    pub fullname: String,
    pub domainname: String,
    pub roles: Vec<Role>,
}

impl SignedInUser {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
    /// Holds the "Approve Email Addresses for Users or Queues" privilege.
    pub fn can_approve_email(&self) -> bool {
        self.has(Role::SystemAdministrator) || self.can_approve_exchange_online()
    }
    /// May approve mailboxes on an Exchange Online profile.
    pub fn can_approve_exchange_online(&self) -> bool {
        self.has(Role::GlobalAdministrator)
            || self.has(Role::ExchangeAdministrator)
            || self.has(Role::DelegatedMailboxApprover)
    }
}

/// Hashes `password` with argon2id and a random salt; returns the PHC string.
pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .map_err(|e| StoreError::Other(format!("cannot make a salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Other(format!("cannot hash the password: {e}")))
}

/// True when `password` matches the PHC string `hash` (false for a malformed hash).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash of nothing anyone can type, verified when the user name is unknown so an
/// unknown name takes as long to refuse as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("\u{0}no user\u{0}").unwrap_or_default())
}

/// Checks a user name and password; `Some(systemuserid)` when they match an enabled
/// user. CPU-heavy (argon2): call it off the async workers.
pub fn check_credentials(
    conn: &Connection,
    username: &str,
    password: &str,
) -> Result<Option<String>> {
    let row = user_by_sign_in_name(conn, username.trim())?;
    // One argon2 verification whatever the outcome: an unknown user, a user without a
    // password and a wrong password take the same time, so timing tells no names.
    match row {
        Some((id, Some(hash))) => Ok(verify_password(password, &hash).then_some(id)),
        _ => {
            verify_password(password, dummy_hash());
            Ok(None)
        }
    }
}

/// The enabled user (id, password hash) whose sign-in name is `name`: their
/// `domainname` (UPN-style, `nestor@contoso.com`), or the part of it before the `@`
/// when that names exactly one user ("nestor"; two users of that name in different
/// domains must give the whole name).
fn user_by_sign_in_name(conn: &Connection, name: &str) -> Result<Option<(String, Option<String>)>> {
    let exact = conn
        .prepare_cached(
            "SELECT systemuserid, passwordhash FROM systemuser
             WHERE domainname = ?1 AND isdisabled = 0",
        )?
        .query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if exact.is_some() || name.contains('@') {
        return Ok(exact);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT systemuserid, passwordhash FROM systemuser
         WHERE isdisabled = 0 AND instr(domainname, '@') = length(?1) + 1
           AND substr(domainname, 1, length(?1)) = ?1 COLLATE NOCASE
         LIMIT 2",
    )?;
    let found = stmt
        .query_map([name], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<(String, Option<String>)>>>()?;
    Ok(match <[_; 1]>::try_from(found) {
        Ok([one]) => Some(one),
        Err(_) => None,
    })
}

/// Sets (or clears, with `None`) a user's password.
#[allow(dead_code)] // no caller yet: a password-change route is not part of issue 3's API
pub fn set_password(conn: &Connection, systemuserid: &str, password: Option<&str>) -> Result<()> {
    let hash = password.map(hash_password).transpose()?;
    conn.execute(
        "UPDATE systemuser SET passwordhash = ?2 WHERE systemuserid = ?1",
        params![systemuserid, hash],
    )?;
    Ok(())
}

/// Starts a session for the user; returns the token (shown once, only its hash is kept).
/// Expired sessions are swept on the way.
pub fn create_session(conn: &Connection, systemuserid: &str, now: Timestamp) -> Result<String> {
    let token = hex(&random_bytes::<32>()?);
    conn.execute("DELETE FROM session WHERE expireson <= ?1", [iso(now)])?;
    conn.execute(
        "INSERT INTO session (tokenhash, systemuserid, createdon, expireson, lastusedon)
         VALUES (?1, ?2, ?3, ?4, ?3)",
        params![
            digest(&token),
            systemuserid,
            iso(now),
            iso(Timestamp(now.0 + SESSION_SECS))
        ],
    )?;
    Ok(token)
}

/// How often a session's last use is written down, at most: an idle time is exact to
/// this much (or a third of the idle time, when that is shorter), and a busy session
/// costs one small write a minute, not one per request.
pub const TOUCH_EVERY_SECS: i64 = 60;

/// The user a token signs in, if the session exists, has not expired, was used within
/// `idle_secs` and the user is enabled. Records the use (see `TOUCH_EVERY_SECS`)
/// without ever waiting for the database's write lock: a request is not held up
/// behind another's write to keep a session's clock exact.
pub fn session_user(
    conn: &Connection,
    token: &str,
    now: Timestamp,
    idle_secs: i64,
) -> Result<Option<SignedInUser>> {
    if token.is_empty() || token.len() > 256 {
        return Ok(None);
    }
    let hash = digest(token);
    let found = conn
        .query_row(
            &format!(
                "SELECT u.systemuserid, u.fullname, u.domainname, {ROLES_WITH_TEAMS}, s.lastusedon
                 FROM session s JOIN systemuser u ON u.systemuserid = s.systemuserid
                 WHERE s.tokenhash = ?1 AND s.expireson > ?2 AND u.isdisabled = 0"
            ),
            params![hash, iso(now)],
            |r| {
                Ok((
                    SignedInUser {
                        systemuserid: r.get(0)?,
                        fullname: r.get(1)?,
                        domainname: r.get(2)?,
                        roles: roles_from_column(&r.get::<_, String>(3)?),
                    },
                    r.get::<_, Option<String>>(4)?,
                ))
            },
        )
        .optional()?;
    let Some((user, last)) = found else {
        return Ok(None);
    };
    let last = last
        .as_deref()
        .and_then(Timestamp::parse)
        .map_or(0, |t| t.at.0);
    if now.0 - last >= idle_secs {
        return Ok(None);
    }
    if now.0 - last >= TOUCH_EVERY_SECS.min(idle_secs / 3) {
        touch(conn, &hash, now)?;
    }
    Ok(Some(user))
}

/// Writes a session's last use unless another writer holds the database: then the
/// next request will.
fn touch(conn: &Connection, hash: &str, now: Timestamp) -> Result<()> {
    conn.busy_timeout(std::time::Duration::ZERO)?;
    let out = conn.execute(
        "UPDATE session SET lastusedon = ?2 WHERE tokenhash = ?1",
        params![hash, iso(now)],
    );
    conn.busy_timeout(super::BUSY_TIMEOUT)?;
    match out {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(f, _))
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// The enabled user a bearer token's identity names: by directory object id, else by
/// sign-in name or primary email (without regard to case).
pub fn user_of_identity(
    conn: &Connection,
    object_id: Option<&str>,
    name: Option<&str>,
) -> Result<Option<SignedInUser>> {
    let row = |r: &rusqlite::Row<'_>| {
        Ok(SignedInUser {
            systemuserid: r.get(0)?,
            fullname: r.get(1)?,
            domainname: r.get(2)?,
            roles: roles_from_column(&r.get::<_, String>(3)?),
        })
    };
    let columns = format!(
        "SELECT u.systemuserid, u.fullname, u.domainname, {ROLES_WITH_TEAMS} FROM systemuser u"
    );
    if let Some(oid) = object_id.filter(|o| !o.is_empty()) {
        let found = conn
            .prepare_cached(&format!(
                "{columns} WHERE u.azureactivedirectoryobjectid = ?1 AND u.isdisabled = 0"
            ))?
            .query_row([oid], row)
            .optional()?;
        if found.is_some() {
            return Ok(found);
        }
    }
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    Ok(conn
        .prepare_cached(&format!(
            "{columns} WHERE (u.domainname = ?1 COLLATE NOCASE \
             OR u.internalemailaddress = ?1 COLLATE NOCASE) AND u.isdisabled = 0 \
             ORDER BY u.domainname = ?1 COLLATE NOCASE DESC LIMIT 1"
        ))?
        .query_row([name], row)
        .optional()?)
}

/// Ends the session of `token` (no error when there is none).
pub fn delete_session(conn: &Connection, token: &str) -> Result<()> {
    conn.execute("DELETE FROM session WHERE tokenhash = ?1", [digest(token)])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::TempDir;
    use super::super::Store;
    use super::*;

    #[test]
    fn roles_round_trip() {
        let roles = [Role::SystemAdministrator, Role::GlobalAdministrator];
        let col = roles_to_column(&roles);
        assert_eq!(col, "System Administrator;Global Administrator");
        assert_eq!(roles_from_column(&col), roles);
        assert_eq!(roles_from_column(""), []);
        assert_eq!(
            roles_from_column("Bogus; exchange administrator"),
            [Role::ExchangeAdministrator]
        );
    }

    #[test]
    fn sign_in_names_are_upns_or_their_unique_short_part() {
        let dir = TempDir::new("auth-upn");
        let store = Store::open(&dir.path().join("a.sqlite")).unwrap();
        store
            .with_conn(|c| {
                for (id, name) in [
                    ("u1", "nestor@contoso.com"),
                    ("u2", "pat@contoso.com"),
                    ("u3", "pat@fabrikam.com"),
                    ("u4", "x_y@contoso.com"),
                ] {
                    c.execute(
                        "INSERT INTO systemuser (systemuserid, fullname, domainname, roles)
                         VALUES (?1, ?1, ?2, '')",
                        [id, name],
                    )?;
                    set_password(c, id, Some("pw"))?;
                }
                let who = |n: &str| check_credentials(c, n, "pw");
                assert_eq!(who("nestor@contoso.com")?, Some("u1".into()));
                assert_eq!(who("Nestor")?, Some("u1".into()));
                // Two users called pat: the short name names nobody.
                assert_eq!(who("pat")?, None);
                assert_eq!(who("pat@fabrikam.com")?, Some("u3".into()));
                // The short part is compared as text, not as a pattern.
                assert_eq!(who("x_y")?, Some("u4".into()));
                assert_eq!(who("x%y")?, None);
                assert_eq!(who("nest")?, None);
                assert_eq!(who("nestor@fabrikam.com")?, None);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn passwords_and_sessions() {
        let dir = TempDir::new("auth");
        let store = Store::open(&dir.path().join("a.sqlite")).unwrap();
        store
            .with_conn(|c| {
                c.execute(
                    "INSERT INTO systemuser (systemuserid, fullname, domainname, roles)
                     VALUES ('u1', 'Ann', 'ann', 'Exchange Administrator')",
                    [],
                )?;
                // No password set: nobody signs in (and it takes a verification).
                assert_eq!(check_credentials(c, "ann", "")?, None);
                set_password(c, "u1", Some("s3cret!"))?;
                let hash: String =
                    c.query_row("SELECT passwordhash FROM systemuser", [], |r| r.get(0))?;
                assert!(hash.starts_with("$argon2id$"), "{hash}");
                assert!(!hash.contains("s3cret!"));
                assert_eq!(check_credentials(c, "ann", "s3cret!")?, Some("u1".into()));
                assert_eq!(check_credentials(c, "ANN", "s3cret!")?, Some("u1".into()));
                assert_eq!(check_credentials(c, "ann", "wrong")?, None);
                assert_eq!(check_credentials(c, "bob", "s3cret!")?, None);

                let now = Timestamp(1_800_000_000);
                let token = create_session(c, "u1", now)?;
                assert_eq!(token.len(), 64);
                let stored: String =
                    c.query_row("SELECT tokenhash FROM session", [], |r| r.get(0))?;
                assert_ne!(stored, token, "the token itself is never stored");
                let idle = 1800;
                let me = session_user(c, &token, now, idle)?.unwrap();
                assert_eq!(me.domainname, "ann");
                assert_eq!(me.roles, [Role::ExchangeAdministrator]);
                assert!(me.can_approve_exchange_online());
                assert!(session_user(c, "nope", now, idle)?.is_none());
                // Expired.
                assert!(
                    session_user(c, &token, Timestamp(now.0 + SESSION_SECS), i64::MAX)?.is_none()
                );
                // Idle: used within the idle time keeps it alive (and is written down
                // once a minute); unused for longer ends it.
                let t = |s: i64| Timestamp(now.0 + s);
                assert!(session_user(c, &token, t(idle - 1), idle)?.is_some());
                let last: String =
                    c.query_row("SELECT lastusedon FROM session", [], |r| r.get(0))?;
                assert_eq!(last, iso(t(idle - 1)));
                assert!(
                    session_user(c, &token, t(idle + 30), idle)?.is_some(),
                    "not idle yet"
                );
                assert!(session_user(c, &token, t(2 * idle), idle)?.is_none());
                // Disabled user.
                let fresh = create_session(c, "u1", now)?;
                c.execute("UPDATE systemuser SET isdisabled = 1", [])?;
                assert!(session_user(c, &fresh, now, idle)?.is_none());
                c.execute("UPDATE systemuser SET isdisabled = 0", [])?;
                assert!(session_user(c, &fresh, now, idle)?.is_some());
                delete_session(c, &fresh)?;
                assert!(session_user(c, &fresh, now, idle)?.is_none());
                Ok(())
            })
            .unwrap();
    }
}
