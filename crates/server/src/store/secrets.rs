//! Mailbox and profile passwords at rest: sealed with AES-256-GCM under the
//! organization's key, as Dataverse encrypts them.
//!
//! The engine must sign in with them, so they cannot be hashed. The key lives in its own
//! file beside the database (`<db>.key`, owner-only on Unix): a copy of the SQLite file
//! alone (a backup, a file attached to a support request) holds no usable password.
//!
//! Sealing happens inside SQL: every connection of the store gets the functions
//! `mailsync_seal(text, table, column, key)` and `mailsync_open(text, table, column,
//! key)`, so the Web API's writes (`webapi/write.rs`), the seed and the engine's reads
//! (`engine/db.rs`) name the function where the column is written or read, with no key
//! passed around (`seal_sql`, `open_sql` write the calls). The columns are core's
//! write-only ones (`Access::WriteOnly`).
//!
//! Stored form: `sealed2:` + base64(nonce ‖ ciphertext ‖ tag), sealed with the
//! associated data `<table>.<column>.<row key>`: a sealed value copied into another
//! row or column does not open there. `sealed1:` (no associated data) and clear values
//! were written by older versions: `Store::open` seals them again (`seal_plaintext`),
//! and until then `mailsync_open` reads them. A value sent through the API that looks
//! sealed is refused (`looks_sealed`): only the server seals.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use mailsync_core::model::{Access, Kind, TABLES};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::{Value, ValueRef};
use rusqlite::Connection;

use super::{Result, StoreError};

/// The SQL function that seals a value for storage.
pub const SEAL: &str = "mailsync_seal";
/// The SQL function that opens a stored value (NULL when this key cannot open it).
pub const OPEN: &str = "mailsync_open";

const PREFIX: &str = "sealed2:";
/// Sealed without associated data by versions before the binding to a row.
const LEGACY_PREFIX: &str = "sealed1:";
const KEY_LEN: usize = 32;

/// The organization's key for its stored passwords.
pub struct SecretKey(LessSafeKey);

impl SecretKey {
    fn from_bytes(bytes: &[u8]) -> Result<SecretKey> {
        let key = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| StoreError::Other("the key for stored passwords is not valid".into()))?;
        Ok(SecretKey(LessSafeKey::new(key)))
    }

    /// `plain` sealed with a fresh random nonce, bound to `place` (`table.column.key`).
    pub fn seal(&self, plain: &str, place: &str) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::getrandom(&mut nonce)
            .map_err(|e| StoreError::Other(format!("no random numbers for a nonce: {e}")))?;
        let mut data = plain.as_bytes().to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(place.as_bytes()),
                &mut data,
            )
            .map_err(|_| StoreError::Other("cannot seal a password".into()))?;
        let mut out = nonce.to_vec();
        out.append(&mut data);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    /// The password in `stored` at `place`: opened when sealed there, as is when stored
    /// in clear by an older version; `None` when sealed under another key, for another
    /// place, or damaged.
    pub fn open(&self, stored: &str, place: &str) -> Option<String> {
        if let Some(b64) = stored.strip_prefix(PREFIX) {
            return self.open_with(b64, Aad::from(place.as_bytes()));
        }
        if let Some(b64) = stored.strip_prefix(LEGACY_PREFIX) {
            return self.open_with(b64, Aad::from(&[][..]));
        }
        Some(stored.to_owned())
    }

    fn open_with(&self, b64: &str, aad: Aad<&[u8]>) -> Option<String> {
        let mut bytes = STANDARD.decode(b64).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let mut data = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).ok()?;
        let plain = self.0.open_in_place(nonce, aad, &mut data).ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

/// Where the key of the database at `db` lives: `<db>.key`.
pub fn key_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".key");
    db.with_file_name(name)
}

/// The key in `path`, created (random, owner-only) when the file does not exist.
pub fn load_or_create(path: &Path) -> Result<SecretKey> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.len() == KEY_LEN => SecretKey::from_bytes(&bytes),
        Ok(bytes) => Err(StoreError::Other(format!(
            "{} holds {} bytes, not a {KEY_LEN}-byte key for stored passwords",
            path.display(),
            bytes.len()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; KEY_LEN];
            getrandom::getrandom(&mut bytes)
                .map_err(|e| StoreError::Other(format!("no random numbers for a key: {e}")))?;
            write_owner_only(path, &bytes)
                .map_err(|e| StoreError::Other(format!("cannot write {}: {e}", path.display())))?;
            SecretKey::from_bytes(&bytes)
        }
        Err(e) => Err(StoreError::Other(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

fn write_owner_only(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    // create_new: two servers starting on one new database never overwrite each other's key.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Gives `conn` the functions `mailsync_seal` and `mailsync_open` under `key`, each
/// `(value, table, column, row key)`.
pub fn register(conn: &Connection, key: &Arc<SecretKey>) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8;
    let k = Arc::clone(key);
    conn.create_scalar_function(SEAL, 4, flags, move |ctx| match text_arg(ctx, 0)? {
        None => Ok(Value::Null),
        Some(s) => k
            .seal(&s, &place(ctx)?)
            .map(Value::Text)
            .map_err(|e| rusqlite::Error::UserFunctionError(e.to_string().into())),
    })?;
    let k = Arc::clone(key);
    conn.create_scalar_function(
        OPEN,
        4,
        flags | FunctionFlags::SQLITE_DETERMINISTIC,
        move |ctx| {
            Ok(match text_arg(ctx, 0)? {
                None => Value::Null,
                Some(s) => k.open(&s, &place(ctx)?).map_or(Value::Null, Value::Text),
            })
        },
    )
}

/// `table.column.key` from the function's last three arguments.
fn place(ctx: &Context<'_>) -> rusqlite::Result<String> {
    let part = |i| text_arg(ctx, i).map(Option::unwrap_or_default);
    Ok(format!("{}.{}.{}", part(1)?, part(2)?, part(3)?))
}

/// The SQL that seals `value` (an SQL expression) for `table.column` of the row whose
/// key is `key` (an SQL expression).
pub fn seal_sql(table: &str, column: &str, value: &str, key: &str) -> String {
    format!("{SEAL}({value}, '{table}', '{column}', {key})")
}

/// The SQL that opens `table.column` of the current row (key column from core's model).
pub fn open_sql(table: &str, column: &str) -> String {
    let key = mailsync_core::model::table(table).map_or("rowid", |t| t.key);
    format!("{OPEN}({column}, '{table}', '{column}', {key})")
}

/// Whether a value looks like one this server sealed: never accepted from a client.
pub fn looks_sealed(value: &str) -> bool {
    let v = value.trim_start();
    v.len() > 8
        && v.starts_with("sealed")
        && v.as_bytes()[6].is_ascii_digit()
        && v[7..].starts_with(':')
}

fn text_arg(ctx: &Context<'_>, i: usize) -> rusqlite::Result<Option<String>> {
    Ok(match ctx.get_raw(i) {
        ValueRef::Null => None,
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        _ => {
            return Err(rusqlite::Error::UserFunctionError(
                "a stored password must be text".into(),
            ))
        }
    })
}

/// The stored-secret columns: core's write-only text columns, as (table, column).
pub fn columns() -> impl Iterator<Item = (&'static str, &'static str)> {
    TABLES.iter().flat_map(|t| {
        t.columns
            .iter()
            .filter(|c| c.access == Access::WriteOnly && c.kind == Kind::Text)
            .map(move |c| (t.logical, c.name))
    })
}

/// Whether `table.column` holds a stored secret (written through `mailsync_seal`).
pub fn is_secret(table: &str, column: &str) -> bool {
    columns().any(|(t, c)| t == table && c == column)
}

/// Seals, bound to their rows, the secrets stored in clear or sealed by an older
/// version (`sealed1:`); returns how many. One that this key cannot open is left as it
/// is (`unopenable` counts it).
pub fn seal_plaintext(conn: &Connection) -> Result<usize> {
    let mut n = 0;
    for (table, column) in columns() {
        let key = mailsync_core::model::table(table).map_or("rowid", |t| t.key);
        let opened = open_sql(table, column);
        let sealed = seal_sql(table, column, &opened, key);
        n += conn.execute(
            &format!(
                "UPDATE {table} SET {column} = {sealed} \
                 WHERE {column} IS NOT NULL AND {column} NOT LIKE '{PREFIX}%' \
                 AND {opened} IS NOT NULL"
            ),
            [],
        )?;
    }
    Ok(n)
}

/// How many stored secrets this key cannot open (the key file was replaced or lost).
pub fn unopenable(conn: &Connection) -> Result<u64> {
    let mut n = 0;
    for (table, column) in columns() {
        let count: i64 = conn.query_row(
            &format!(
                "SELECT count(*) FROM {table} \
                 WHERE {column} IS NOT NULL AND {} IS NULL",
                open_sql(table, column)
            ),
            [],
            |r| r.get(0),
        )?;
        n += count as u64;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_bytes(&[byte; KEY_LEN]).unwrap()
    }

    #[test]
    fn seals_and_opens() {
        let k = key(1);
        let here = "mailbox.password.m1";
        let a = k.seal("pässword", here).unwrap();
        let b = k.seal("pässword", here).unwrap();
        assert!(a.starts_with(PREFIX) && !a.contains("pässword"));
        assert_ne!(a, b, "a fresh nonce each time");
        assert_eq!(k.open(&a, here).as_deref(), Some("pässword"));
        assert_eq!(k.open("", here).as_deref(), Some(""), "clear text passes");
        assert_eq!(key(2).open(&a, here), None, "another key");
        // Bound to its row and column: copied elsewhere it does not open.
        assert_eq!(k.open(&a, "mailbox.password.m2"), None);
        assert_eq!(k.open(&a, "emailserverprofile.incomingpassword.m1"), None);
        let mut damaged = a.clone();
        damaged.pop();
        damaged.push(if a.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(k.open(&damaged, here), None);
        assert_eq!(k.open("sealed2:!!", here), None);
        assert_eq!(k.open("sealed2:AAAA", here), None);
        assert!(looks_sealed(&a) && looks_sealed("sealed1:abc") && !looks_sealed("sealed"));
        assert!(!looks_sealed("my sealed2: password"));
    }

    #[test]
    fn legacy_values_open_without_binding() {
        let k = key(4);
        // What versions before the binding wrote: `sealed1:` without associated data.
        let mut nonce = [7u8; NONCE_LEN];
        nonce[0] = 1;
        let mut data = b"old-pw".to_vec();
        k.0.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
            .unwrap();
        let mut raw = nonce.to_vec();
        raw.extend(data);
        let legacy = format!("{LEGACY_PREFIX}{}", STANDARD.encode(raw));
        assert_eq!(
            k.open(&legacy, "mailbox.password.any").as_deref(),
            Some("old-pw")
        );
    }

    #[test]
    fn the_columns_are_the_passwords() {
        let cols: Vec<_> = columns().collect();
        assert!(cols.contains(&("mailbox", "password")), "{cols:?}");
        assert!(cols.contains(&("emailserverprofile", "incomingpassword")));
        assert!(cols.contains(&("emailserverprofile", "outgoingpassword")));
        assert!(!cols.iter().any(|(_, c)| c.contains("username")));
        assert!(is_secret("mailbox", "password") && !is_secret("mailbox", "name"));
    }

    #[test]
    fn sql_functions_seal_open_and_pass_null() {
        let c = Connection::open_in_memory().unwrap();
        register(&c, &Arc::new(key(3))).unwrap();
        let (sealed, null): (String, Option<String>) = c
            .query_row(
                "SELECT mailsync_seal('pw', 'mailbox', 'password', 'm1'), \
                 mailsync_seal(NULL, 'mailbox', 'password', 'm1')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert!(sealed.starts_with(PREFIX) && null.is_none());
        let (opened, elsewhere): (String, Option<String>) = c
            .query_row(
                "SELECT mailsync_open(?1, 'mailbox', 'password', 'm1'), \
                 mailsync_open(?1, 'mailbox', 'password', 'm2')",
                [&sealed],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(opened, "pw");
        assert_eq!(elsewhere, None, "another row's value does not open here");
        assert_eq!(
            open_sql("mailbox", "password"),
            "mailsync_open(password, 'mailbox', 'password', mailboxid)"
        );
    }

    #[test]
    fn key_file_is_created_once_and_owner_only() {
        let dir = super::super::testutil::TempDir::new("key");
        let path = key_path(&dir.path().join("org.sqlite"));
        assert!(path.ends_with("org.sqlite.key"));
        let sealed = load_or_create(&path).unwrap().seal("x", "t.c.k").unwrap();
        assert_eq!(std::fs::read(&path).unwrap().len(), KEY_LEN);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Loaded again, the same key.
        assert_eq!(
            load_or_create(&path)
                .unwrap()
                .open(&sealed, "t.c.k")
                .as_deref(),
            Some("x")
        );
        std::fs::write(&path, b"short").unwrap();
        let err = load_or_create(&path).err().unwrap().to_string();
        assert!(err.contains("not a 32-byte key"), "{err}");
    }
}
