//! Mailbox and profile passwords at rest: sealed with AES-256-GCM under the
//! organization's key, as Dataverse encrypts them.
//!
//! The engine must sign in with them, so they cannot be hashed. The key lives in its own
//! file beside the database (`<db>.key`, owner-only on Unix): a copy of the SQLite file
//! alone (a backup, a file attached to a support request) holds no usable password.
//!
//! Sealing happens inside SQL: every connection of the store gets the functions
//! `mailsync_seal(text)` and `mailsync_open(text)`, so the Web API's writes
//! (`webapi/write.rs`), the seed and the engine's reads (`engine/db.rs`) name the
//! function where the column is written or read, with no key passed around. The columns
//! are core's write-only ones (`Access::WriteOnly`).
//!
//! Stored form: `sealed1:` + base64(nonce ‖ ciphertext ‖ tag). A value without the
//! prefix is a password stored by an older version: `Store::open` seals those
//! (`seal_plaintext`), and until then `mailsync_open` returns them as they are.

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

const PREFIX: &str = "sealed1:";
const KEY_LEN: usize = 32;

/// The organization's key for its stored passwords.
pub struct SecretKey(LessSafeKey);

impl SecretKey {
    fn from_bytes(bytes: &[u8]) -> Result<SecretKey> {
        let key = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| StoreError::Other("the key for stored passwords is not valid".into()))?;
        Ok(SecretKey(LessSafeKey::new(key)))
    }

    /// `plain` sealed with a fresh random nonce.
    pub fn seal(&self, plain: &str) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::getrandom(&mut nonce)
            .map_err(|e| StoreError::Other(format!("no random numbers for a nonce: {e}")))?;
        let mut data = plain.as_bytes().to_vec();
        self.0
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
            .map_err(|_| StoreError::Other("cannot seal a password".into()))?;
        let mut out = nonce.to_vec();
        out.append(&mut data);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    /// The password in `stored`: opened when sealed, as is when stored in clear by an
    /// older version; `None` when sealed under another key or damaged.
    pub fn open(&self, stored: &str) -> Option<String> {
        let Some(b64) = stored.strip_prefix(PREFIX) else {
            return Some(stored.to_owned());
        };
        let mut bytes = STANDARD.decode(b64).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let mut data = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).ok()?;
        let plain = self.0.open_in_place(nonce, Aad::empty(), &mut data).ok()?;
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

/// Gives `conn` the functions `mailsync_seal` and `mailsync_open` under `key`.
pub fn register(conn: &Connection, key: &Arc<SecretKey>) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8;
    let k = Arc::clone(key);
    conn.create_scalar_function(SEAL, 1, flags, move |ctx| {
        match text_arg(ctx)? {
            None => Ok(Value::Null),
            // Already sealed (a value read back and written again): kept as it is.
            Some(s) if s.starts_with(PREFIX) => Ok(Value::Text(s)),
            Some(s) => k
                .seal(&s)
                .map(Value::Text)
                .map_err(|e| rusqlite::Error::UserFunctionError(e.to_string().into())),
        }
    })?;
    let k = Arc::clone(key);
    conn.create_scalar_function(
        OPEN,
        1,
        flags | FunctionFlags::SQLITE_DETERMINISTIC,
        move |ctx| {
            Ok(match text_arg(ctx)? {
                None => Value::Null,
                Some(s) => k.open(&s).map_or(Value::Null, Value::Text),
            })
        },
    )
}

fn text_arg(ctx: &Context<'_>) -> rusqlite::Result<Option<String>> {
    Ok(match ctx.get_raw(0) {
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

/// Seals every secret still stored in clear (from an older version, or written with
/// another tool); returns how many.
pub fn seal_plaintext(conn: &Connection) -> Result<usize> {
    let mut n = 0;
    for (table, column) in columns() {
        n += conn.execute(
            &format!(
                "UPDATE {table} SET {column} = {SEAL}({column}) \
                 WHERE {column} IS NOT NULL AND {column} NOT LIKE '{PREFIX}%'"
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
                 WHERE {column} IS NOT NULL AND {OPEN}({column}) IS NULL"
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
        let a = k.seal("pässword").unwrap();
        let b = k.seal("pässword").unwrap();
        assert!(a.starts_with(PREFIX) && !a.contains("pässword"));
        assert_ne!(a, b, "a fresh nonce each time");
        assert_eq!(k.open(&a).as_deref(), Some("pässword"));
        assert_eq!(k.open("").as_deref(), Some(""), "clear text passes");
        assert_eq!(key(2).open(&a), None, "another key");
        let mut damaged = a.clone();
        damaged.pop();
        damaged.push(if a.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(k.open(&damaged), None);
        assert_eq!(k.open("sealed1:!!"), None);
        assert_eq!(k.open("sealed1:AAAA"), None);
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
            .query_row("SELECT mailsync_seal('pw'), mailsync_seal(NULL)", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert!(sealed.starts_with(PREFIX) && null.is_none());
        let (opened, again): (String, String) = c
            .query_row(
                "SELECT mailsync_open(?1), mailsync_seal(?1)",
                [&sealed],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(opened, "pw");
        assert_eq!(again, sealed, "sealing twice keeps one layer");
    }

    #[test]
    fn key_file_is_created_once_and_owner_only() {
        let dir = super::super::testutil::TempDir::new("key");
        let path = key_path(&dir.path().join("org.sqlite"));
        assert!(path.ends_with("org.sqlite.key"));
        let sealed = load_or_create(&path).unwrap().seal("x").unwrap();
        assert_eq!(std::fs::read(&path).unwrap().len(), KEY_LEN);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Loaded again, the same key.
        assert_eq!(
            load_or_create(&path).unwrap().open(&sealed).as_deref(),
            Some("x")
        );
        std::fs::write(&path, b"short").unwrap();
        let err = load_or_create(&path).err().unwrap().to_string();
        assert!(err.contains("not a 32-byte key"), "{err}");
    }
}
