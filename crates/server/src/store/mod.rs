//! The local organization's storage: one SQLite file (WAL mode, foreign keys on, busy
//! timeout), the schema and its migrations (`schema`, tested against core's
//! `mailsync_core::model`), users, passwords and sign-in sessions (`auth`), mailbox and
//! profile passwords sealed at rest (`secrets`), and demo/scale data (`seed`).
//!
//! # Connections
//!
//! rusqlite is blocking and a `Connection` is `Send` but not `Sync`. `Store` keeps a
//! small pool of connections to the one file (a `Mutex<Vec<Connection>>`, no extra
//! crate) and runs each piece of work on tokio's blocking pool (`Store::call`), so a
//! query never blocks the async workers. With WAL, readers on different connections run
//! at the same time and never wait for the writer; writers take SQLite's lock in turn
//! (write transactions should be `BEGIN IMMEDIATE`, see `write`, and wait up to the busy
//! timeout). A single `Mutex<Connection>` would serialize readers behind a long write
//! (a 1,000-operation `$batch`), and r2d2 would add a dependency for what is 30 lines.

pub mod auth;
pub mod schema;
pub mod secrets;
pub mod seed;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mailsync_core::time::Timestamp;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

/// Environment variable naming the default database file.
pub const DB_ENV: &str = "MAILSYNC_DB";

/// How long a connection waits for another writer before giving up.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle connections kept for reuse; more are opened under load and closed after. As
/// many as `mailsync serve` runs blocking threads, so a busy server reuses them all.
const POOL_IDLE: usize = 24;

/// An error of the store, with a message fit for a log line or an API error.
#[derive(Debug)]
pub enum StoreError {
    /// SQLite reported an error.
    Sqlite(rusqlite::Error),
    /// Anything else (opening, migrating, a failed background task).
    Other(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Sqlite(e) => write!(f, "database error: {e}"),
            StoreError::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The organization's database. Cheap to clone; all clones share the pool.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    key: Arc<secrets::SecretKey>,
    pool: Mutex<Vec<Connection>>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to
    /// date. The parent folder is created when missing, and the key of its stored
    /// passwords (`secrets::key_path`) when it is new; passwords still in clear are sealed.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Other(format!("cannot create folder {}: {e}", parent.display()))
            })?;
        }
        let key = Arc::new(secrets::load_or_create(&secrets::key_path(path))?);
        owner_only(path)?;
        let mut conn = open_connection(path, &key)?;
        // WAL is a property of the file: set once, kept by every later connection.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| open_error(path, e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Other(format!(
                "cannot switch {} to WAL mode (journal mode is {mode})",
                path.display()
            )));
        }
        schema::migrate_to(&mut conn, schema::CURRENT_VERSION)
            .map_err(|m| StoreError::Other(format!("database {}: {m}", path.display())))?;
        secrets::seal_plaintext(&conn)?;
        Ok(Store {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                key,
                pool: Mutex::new(vec![conn]),
            }),
        })
    }

    #[allow(dead_code)] // no caller yet (diagnostics, backups)
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` with a pooled connection on the calling thread (blocking). For the CLI,
    /// startup and tests; request handlers use `call`.
    pub fn with_conn<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let pooled = self.inner.pool.lock().ok().and_then(|mut p| p.pop());
        let mut conn = match pooled {
            Some(c) => c,
            None => open_connection(&self.inner.path, &self.inner.key)?,
        };
        let out = f(&mut conn);
        // A connection left inside a transaction (a panic in `f` is caught by tokio,
        // not here) is dropped rather than reused.
        if conn.is_autocommit() {
            if let Ok(mut pool) = self.inner.pool.lock() {
                if pool.len() < POOL_IDLE {
                    pool.push(conn);
                }
            }
        }
        out
    }

    /// Runs `f` with a pooled connection on tokio's blocking pool.
    pub async fn call<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.with_conn(f))
            .await
            .map_err(|e| StoreError::Other(format!("database task failed: {e}")))?
    }

    /// Runs `f` in an immediate (write-locking) transaction, committed when `f` returns
    /// `Ok` and rolled back otherwise. (The Web API opens its transactions itself inside
    /// `call`, to carry API errors out of them: `webapi::run_one`, `webapi/batch.rs`.)
    #[allow(dead_code)] // no caller: kept for maintenance tasks
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        self.call(move |conn| write_tx(conn, f)).await
    }
}

/// `f` inside an immediate transaction on `conn`; commit on `Ok`.
pub fn write_tx<T>(
    conn: &mut Connection,
    f: impl FnOnce(&Transaction<'_>) -> Result<T>,
) -> Result<T> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let out = f(&tx)?;
    tx.commit()?;
    Ok(out)
}

/// The database holds other people's mail settings and sealed passwords: it is
/// created readable by its owner only (0600), and an existing file (with its `-wal` and
/// `-shm`, which SQLite creates with the database's permissions) is narrowed to that.
fn owner_only(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        let fail = |e: std::io::Error| {
            StoreError::Other(format!(
                "cannot restrict {} to its owner: {e}",
                path.display()
            ))
        };
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(fail)?;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = path.as_os_str().to_os_string();
            name.push(suffix);
            let file = Path::new(&name);
            match std::fs::metadata(file) {
                Ok(m) if m.permissions().mode() & 0o077 != 0 => {
                    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))
                        .map_err(fail)?;
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn open_error(path: &Path, e: rusqlite::Error) -> StoreError {
    StoreError::Other(format!("cannot open database {}: {e}", path.display()))
}

fn open_connection(path: &Path, key: &Arc<secrets::SecretKey>) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(|e| open_error(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| open_error(path, e))?;
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
        .map_err(|e| open_error(path, e))?;
    // The Web API's statements are prepared once per connection (`prepare_cached`): a
    // 1,000-operation `$batch` runs the same few statements over and over.
    conn.set_prepared_statement_cache_capacity(64);
    secrets::register(&conn, key).map_err(|e| open_error(path, e))?;
    Ok(conn)
}

/// The default database file: `$MAILSYNC_DB`, else the per-user data folder
/// (`$XDG_DATA_HOME/mailsync/mailsync.sqlite`, `~/.local/share/mailsync/mailsync.sqlite`,
/// `%APPDATA%\mailsync\mailsync.sqlite` on Windows), else `./mailsync.sqlite`.
pub fn default_db_path(env: impl Fn(&str) -> Option<String>) -> PathBuf {
    let var = |k: &str| env(k).filter(|v| !v.is_empty());
    if let Some(p) = var(DB_ENV) {
        return PathBuf::from(p);
    }
    let data = var("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| Path::new(&h).join(".local/share")))
        .or_else(|| var("APPDATA").map(PathBuf::from));
    match data {
        Some(d) => d.join("mailsync").join("mailsync.sqlite"),
        None => PathBuf::from("mailsync.sqlite"),
    }
}

/// Seconds since the epoch, now.
pub fn now() -> Timestamp {
    Timestamp(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    )
}

/// A date as the store writes it.
pub fn iso(t: Timestamp) -> String {
    t.to_rfc3339()
}

/// `n` bytes from the operating system's secure random source.
pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b)
        .map_err(|e| StoreError::Other(format!("no secure random source: {e}")))?;
    Ok(b)
}

/// A random (version 4) GUID, lower-case hyphenated.
pub fn new_guid() -> Result<String> {
    Ok(guid_from(random_bytes::<16>()?))
}

/// 16 bytes formatted as a version 4 GUID.
pub fn guid_from(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A secret's Blake2s-256 as hex: how a secret is named without being kept (session
/// tokens, a mailbox sign-in's state and session, the token caches' keys).
pub fn digest(secret: &str) -> String {
    use blake2::{Blake2s256, Digest};
    hex(&Blake2s256::digest(secret.as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
pub(crate) mod testutil {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh folder under the system temp dir, removed on drop.
    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new(tag: &str) -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "mailsync-store-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
        #[allow(dead_code)] // no caller yet (diagnostics, backups)
        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::TempDir;
    use super::*;

    #[test]
    fn open_sets_wal_foreign_keys_and_version() {
        let dir = TempDir::new("open");
        let path = dir.path().join("sub/org.sqlite");
        let store = Store::open(&path).unwrap();
        assert!(path.is_file());
        store
            .with_conn(|c| {
                let mode: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
                assert_eq!(mode, "wal");
                let fk: i64 = c.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
                assert_eq!(fk, 1);
                let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
                assert_eq!(v, schema::CURRENT_VERSION);
                Ok(())
            })
            .unwrap();
        // Opening again is a no-op migration.
        drop(store);
        Store::open(&path).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn the_database_files_are_the_owners_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = TempDir::new("mode");
        let path = dir.path().join("org.sqlite");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let store = Store::open(&path).unwrap();
        store
            .with_conn(|c| {
                c.execute("INSERT INTO queue (queueid, name) VALUES ('q', 'Q')", [])?;
                Ok(())
            })
            .unwrap();
        let wal = dir.path().join("org.sqlite-wal");
        let shm = dir.path().join("org.sqlite-shm");
        for p in [&path, &wal, &shm, &secrets::key_path(&path)] {
            assert!(p.exists(), "{}", p.display());
            assert_eq!(mode(p), 0o600, "{}", p.display());
        }
        drop(store);
        // A file left readable by others (an older version, a copy) is narrowed at open.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        Store::open(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    /// Every row of `table`, column by column (name, value), in rowid order.
    fn rows(c: &Connection, table: &str) -> Vec<Vec<(String, rusqlite::types::Value)>> {
        let mut stmt = c
            .prepare(&format!("SELECT * FROM {table} ORDER BY rowid"))
            .unwrap();
        let names: Vec<String> = stmt.column_names().map(|n| n.to_string()).collect();
        stmt.query_map([], |r| {
            (0..names.len())
                .map(|i| Ok((names[i].clone(), r.get(i)?)))
                .collect()
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
    }

    #[test]
    fn upgrades_a_version_1_file_without_losing_data() {
        use rusqlite::types::Value;
        const USER: &str = "11111111-1111-4111-8111-111111111111";
        const PROFILE: &str = "22222222-2222-4222-8222-222222222222";
        const MAILBOX: &str = "33333333-3333-4333-8333-333333333333";
        const V1_TABLES: [&str; 6] = [
            "systemuser",
            "emailserverprofile",
            "queue",
            "mailbox",
            "tracelog",
            "organization",
        ];
        let dir = TempDir::new("upgrade");
        let path = dir.path().join("old.sqlite");
        let mut before = Vec::new();
        {
            let mut c = Connection::open(&path).unwrap();
            schema::migrate_to(&mut c, 1).unwrap();
            let v: i64 = c
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap();
            assert_eq!(v, 1);
            // One row in every table (two alerts: on the mailbox and on the profile),
            // every column set to a value of its own rather than its default.
            let insert = |table: &str, n: usize, fixed: &[(&str, Value)]| {
                let mut stmt = c
                    .prepare(&format!(
                        "SELECT name, type FROM pragma_table_info('{table}')"
                    ))
                    .unwrap();
                let cols: Vec<(String, String)> = stmt
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .unwrap()
                    .collect::<rusqlite::Result<_>>()
                    .unwrap();
                drop(stmt);
                let values: Vec<Value> = cols
                    .iter()
                    .enumerate()
                    .map(
                        |(i, (name, ty))| match fixed.iter().find(|(f, _)| f == name) {
                            Some((_, v)) => v.clone(),
                            None if name.ends_with("on") || name.ends_with("until") => {
                                Value::Text(format!("2020-01-{:02}T03:04:05Z", (i % 27) + 1))
                            }
                            None if ty == "INTEGER" => Value::Integer(i as i64 + 2 + n as i64),
                            None => Value::Text(format!("{table}.{name}.{n}")),
                        },
                    )
                    .collect();
                let names: Vec<&str> = cols.iter().map(|(n, _)| n.as_str()).collect();
                let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
                c.execute(
                    &format!(
                        "INSERT INTO {table} ({}) VALUES ({})",
                        names.join(", "),
                        marks.join(", ")
                    ),
                    rusqlite::params_from_iter(values),
                )
                .unwrap();
            };
            let text = |s: &str| Value::Text(s.to_string());
            insert("systemuser", 0, &[("systemuserid", text(USER))]);
            insert(
                "emailserverprofile",
                0,
                &[
                    ("emailserverprofileid", text(PROFILE)),
                    ("ownerid", text(USER)),
                    ("incomingpassword", text("profile-in-pw")),
                    ("outgoingpassword", text("profile-out-pw")),
                    ("oauthclientsecret", text("profile-secret")),
                ],
            );
            insert(
                "queue",
                0,
                &[
                    ("queueid", text("44444444-4444-4444-8444-444444444444")),
                    ("ownerid", text(USER)),
                ],
            );
            insert(
                "mailbox",
                0,
                &[
                    ("mailboxid", text(MAILBOX)),
                    ("regardingobjectid", text(USER)),
                    ("regardingobjecttypecode", text("systemuser")),
                    ("ownerid", text(USER)),
                    ("emailserverprofile", text(PROFILE)),
                    ("password", text("mailbox-pw")),
                ],
            );
            for (n, (regarding, kind)) in [(MAILBOX, "mailbox"), (PROFILE, "emailserverprofile")]
                .into_iter()
                .enumerate()
            {
                insert(
                    "tracelog",
                    n,
                    &[
                        (
                            "tracelogid",
                            text(&format!("55555555-5555-4555-8555-55555555555{n}")),
                        ),
                        ("level", Value::Integer(n as i64 + 2)),
                        ("regardingobjectid", text(regarding)),
                        ("regardingobjecttypecode", text(kind)),
                    ],
                );
            }
            insert(
                "organization",
                0,
                &[
                    (
                        "organizationid",
                        text("66666666-6666-4666-8666-666666666666"),
                    ),
                    ("defaultemailserverprofileid", text(PROFILE)),
                ],
            );
            for t in V1_TABLES {
                let r = rows(&c, t);
                assert!(!r.is_empty(), "{t}");
                before.push(r);
            }
            assert_eq!(before[4].len(), 2);
            // No session table yet in version 1.
            assert!(c.prepare("SELECT * FROM session").is_err());
        }
        let store = Store::open(&path).unwrap();
        store
            .with_conn(|c| {
                let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
                assert_eq!(v, schema::CURRENT_VERSION);
                for (t, old) in V1_TABLES.iter().zip(&before) {
                    let new = rows(c, t);
                    assert_eq!(new.len(), old.len(), "{t}");
                    let sealed_row = old[0]
                        .iter()
                        .any(|(col, v)| secrets::is_secret(t, col) && *v != Value::Null);
                    for (old_row, new_row) in old.iter().zip(&new) {
                        for (col, was) in old_row {
                            // V6 gave "Delete Emails after Processing" Dataverse's name.
                            let renamed = match (*t, col.as_str()) {
                                ("mailbox", "deleteemails") => "processanddeleteemails",
                                _ => col.as_str(),
                            };
                            let now = &new_row
                                .iter()
                                .find(|(n, _)| n == renamed)
                                .unwrap_or_else(|| panic!("{t}.{col} lost"))
                                .1;
                            if secrets::is_secret(t, col) {
                                // Sealed at open; it opens to what was stored.
                                let key = mailsync_core::model::table(t).unwrap().key;
                                let row_key = &new_row.iter().find(|(n, _)| n == key).unwrap().1;
                                let opened: Option<String> = c.query_row(
                                    &format!("SELECT {}(?1, '{t}', '{col}', ?2)", secrets::OPEN),
                                    [now, row_key],
                                    |r| r.get(0),
                                )?;
                                assert_ne!(now, was, "{t}.{col} still in clear");
                                assert_eq!(Some(Value::Text(opened.unwrap())), Some(was.clone()), "{t}.{col}");
                            } else if sealed_row && (col == "versionnumber" || col == "modifiedon") {
                                // Sealing is an update of the record: a new version.
                                if col == "versionnumber" {
                                    assert!(matches!((was, now), (Value::Integer(a), Value::Integer(b)) if b > a));
                                }
                            } else {
                                assert_eq!(now, was, "{t}.{col}");
                            }
                        }
                    }
                }
                // The later versions' tables are there and work with the old rows.
                c.execute(
                    "INSERT INTO session (tokenhash, systemuserid, createdon, expireson)
                     VALUES ('x', ?1, 'a', 'b')",
                    [USER],
                )?;
                c.execute(
                    "INSERT INTO email (activityid, subject, sendermailboxid) VALUES
                     ('77777777-7777-4777-8777-777777777777', 'after the upgrade', ?1)",
                    [MAILBOX],
                )?;
                // The rebuilt tracelog keeps its trigger: deleting the mailbox takes its alert.
                c.execute("DELETE FROM mailbox WHERE mailboxid = ?1", [MAILBOX])?;
                let left: i64 = c.query_row("SELECT count(*) FROM tracelog", [], |r| r.get(0))?;
                assert_eq!(left, 1);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn passwords_in_clear_are_sealed_at_open_and_read_back_by_the_engine_function() {
        let dir = TempDir::new("seal");
        let path = dir.path().join("org.sqlite");
        drop(Store::open(&path).unwrap());
        {
            // An older version (or another tool) wrote the password in clear.
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "INSERT INTO emailserverprofile (emailserverprofileid, name, servertype, incomingpassword)
                 VALUES ('22222222-2222-4222-8222-222222222222', 'P', 4, 'profile-pw');
                 INSERT INTO mailbox (mailboxid, name, password)
                 VALUES ('33333333-3333-4333-8333-333333333333', 'M', 'mailbox-pw');",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let read = |sql: &str| -> String {
            store
                .with_conn(|c| Ok(c.query_row(sql, [], |r| r.get(0))?))
                .unwrap()
        };
        let raw = read("SELECT password FROM mailbox");
        assert!(
            raw.starts_with("sealed2:") && !raw.contains("mailbox-pw"),
            "{raw}"
        );
        assert!(read("SELECT incomingpassword FROM emailserverprofile").starts_with("sealed2:"));
        assert_eq!(
            read("SELECT mailsync_open(password, 'mailbox', 'password', mailboxid) FROM mailbox"),
            "mailbox-pw"
        );
        assert_eq!(
            read(
                "SELECT mailsync_open(incomingpassword, 'emailserverprofile', \
                 'incomingpassword', emailserverprofileid) FROM emailserverprofile"
            ),
            "profile-pw"
        );
        assert_eq!(store.with_conn(|c| secrets::unopenable(c)).unwrap(), 0);
        drop(store);

        // The key file replaced: the passwords are not readable, and that is counted.
        std::fs::remove_file(secrets::key_path(&path)).unwrap();
        let store = Store::open(&path).unwrap();
        assert_eq!(store.with_conn(|c| secrets::unopenable(c)).unwrap(), 2);
        let opened: Option<String> = store
            .with_conn(|c| {
                Ok(c.query_row(
                    "SELECT mailsync_open(password, 'mailbox', 'password', mailboxid) FROM mailbox",
                    [],
                    |r| r.get(0),
                )?)
            })
            .unwrap();
        assert_eq!(opened, None);
    }

    #[test]
    fn refuses_a_newer_file() {
        let dir = TempDir::new("newer");
        let path = dir.path().join("new.sqlite");
        {
            let c = Connection::open(&path).unwrap();
            c.pragma_update(None, "user_version", 999).unwrap();
        }
        let err = Store::open(&path).unwrap_err().to_string();
        assert!(err.contains("newer"), "{err}");
    }

    #[test]
    fn updates_bump_the_version_and_foreign_keys_hold() {
        let dir = TempDir::new("version");
        let store = Store::open(&dir.path().join("v.sqlite")).unwrap();
        store
            .with_conn(|c| {
                c.execute(
                    "INSERT INTO queue (queueid, name, createdon, modifiedon)
                     VALUES ('q', 'Support', '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z')",
                    [],
                )?;
                c.execute("UPDATE queue SET name = 'Help' WHERE queueid = 'q'", [])?;
                c.execute(
                    "UPDATE queue SET emailaddress = 'h@x' WHERE queueid = 'q'",
                    [],
                )?;
                let (v, m): (i64, String) =
                    c.query_row("SELECT versionnumber, modifiedon FROM queue", [], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })?;
                assert_eq!(v, 3);
                assert_ne!(m, "2020-01-01T00:00:00Z");
                // An owner is a user or a team (no foreign key: the Web API checks the
                // reference); when the owner goes, so does the ownership.
                c.execute(
                    "INSERT INTO team (teamid, name) VALUES ('t', 'Help Desk')",
                    [],
                )?;
                c.execute("UPDATE queue SET ownerid = 't' WHERE queueid = 'q'", [])?;
                c.execute("DELETE FROM team WHERE teamid = 't'", [])?;
                let owner: Option<String> =
                    c.query_row("SELECT ownerid FROM queue", [], |r| r.get(0))?;
                assert_eq!(owner, None);
                // A mailbox's profile still must exist.
                assert!(c
                    .execute(
                        "INSERT INTO mailbox (mailboxid, name, emailserverprofile) \
                         VALUES ('m', 'x', 'nowhere')",
                        []
                    )
                    .is_err());
                let fk: i64 =
                    c.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                        r.get(0)
                    })?;
                assert_eq!(fk, 0);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn default_path_precedence() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            default_db_path(env(&[("MAILSYNC_DB", "/x/y.sqlite"), ("HOME", "/h")])),
            PathBuf::from("/x/y.sqlite")
        );
        assert_eq!(
            default_db_path(env(&[("XDG_DATA_HOME", "/d"), ("HOME", "/h")])),
            PathBuf::from("/d/mailsync/mailsync.sqlite")
        );
        assert_eq!(
            default_db_path(env(&[("HOME", "/h"), ("MAILSYNC_DB", "")])),
            PathBuf::from("/h/.local/share/mailsync/mailsync.sqlite")
        );
        assert_eq!(default_db_path(env(&[])), PathBuf::from("mailsync.sqlite"));
    }

    #[test]
    fn guids_are_version_4() {
        let g = guid_from([0xff; 16]);
        assert_eq!(g, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_ne!(new_guid().unwrap(), new_guid().unwrap());
    }
}
