//! Creating the organization: the first start writes the organization row and the
//! `admin` user; `--seed demo` adds a believable organization, `--seed scale:N` N
//! mailboxes with about 10 alerts each. Seeding happens only into an empty database:
//! an existing organization is never overwritten (`initialize` reports `Existing`).
//!
//! Deterministic: a fixed-seed xorshift RNG (as core's `synth`) drives every choice and
//! every GUID, so the same seed and `now` write the same rows. Dates are relative to
//! `now`, so the demo looks alive whenever it is created.
//!
//! In `scale:N` exactly the mailboxes whose user number ends in 7 (the address
//! `first.last<number>@contoso.com` contains `7@`) are pending approval and no other is:
//! a tenth of them, so `?view=unapproved&q=7@` is a known 10% slice to approve in bulk
//! (`e2e/bench/console-bench.mjs`). The other states keep their demo proportions.

use std::str::FromStr;

use mailsync_core::kb;
use mailsync_core::rng::Rng;
use mailsync_core::time::Timestamp;
use mailsync_core::RETRY_LIMIT;
use rusqlite::types::Value;
use rusqlite::{Connection, Transaction};

use super::auth::{hash_password, roles_to_column, Role};
use super::secrets;
use super::{guid_from, iso, random_bytes, write_tx, Result};

/// What to put into a new organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedKind {
    /// Only the organization and its `admin`.
    Empty,
    /// About 300 mailboxes in mixed states, users with roles, queues, four profiles.
    Demo,
    /// The demo's users, queues and profiles, plus N mailboxes (each with its user) and
    /// about 10 alerts per mailbox.
    Scale(u64),
}

/// Largest `scale:N` accepted.
pub const SCALE_MAX: u64 = 5_000_000;

impl FromStr for SeedKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim() {
            "empty" | "none" => Ok(SeedKind::Empty),
            "demo" => Ok(SeedKind::Demo),
            other => {
                let n = other
                    .strip_prefix("scale:")
                    .ok_or_else(|| format!("unknown seed {other:?}: expected demo or scale:N"))?;
                match n.parse::<u64>() {
                    Ok(n) if (1..=SCALE_MAX).contains(&n) => Ok(SeedKind::Scale(n)),
                    _ => Err(format!(
                        "bad seed {other:?}: N in scale:N must be a whole number from 1 to {SCALE_MAX}"
                    )),
                }
            }
        }
    }
}

/// Rows written by a seed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub users: u64,
    pub queues: u64,
    pub profiles: u64,
    pub mailboxes: u64,
    pub alerts: u64,
    pub teams: u64,
}

/// What `initialize` did.
#[derive(Debug)]
pub enum Outcome {
    /// The database already held an organization; nothing was written.
    Existing,
    /// A new organization was created.
    Created {
        counts: Counts,
        /// The generated `admin` password when none was given: print it once.
        generated_password: Option<String>,
    },
}

/// The `admin` user's fixed id in every seeded organization.
pub const ADMIN_ID: &str = "00000000-0000-4000-8000-00000000ad01";

/// Creates the organization unless the database already has one. Everything is written
/// in one immediate transaction (two processes starting on one new file cannot both
/// seed it). `admin_password`: `None` generates one (returned in the outcome). The demo
/// users who can sign in share the admin's password.
pub fn initialize(
    conn: &mut Connection,
    kind: SeedKind,
    admin_password: Option<&str>,
    now: Timestamp,
) -> Result<Outcome> {
    write_tx(conn, |tx| {
        let orgs: i64 = tx.query_row("SELECT count(*) FROM organization", [], |r| r.get(0))?;
        if orgs > 0 {
            return Ok(Outcome::Existing);
        }
        let generated = match admin_password {
            Some(_) => None,
            None => Some(generate_password()?),
        };
        let password = admin_password.or(generated.as_deref()).unwrap_or_default();
        // One hash for every demo sign-in: argon2 is deliberately slow.
        let hash = hash_password(password)?;
        // A large page cache while seeding: the random GUID keys of a million alerts
        // otherwise thrash SQLite's default 2 MB cache (3x slower at scale:100000).
        tx.execute_batch("PRAGMA cache_size = -262144")?;
        let counts = Seeder::new(tx, now, hash).run(kind);
        tx.execute_batch("PRAGMA cache_size = -2000")?;
        let counts = counts?;
        Ok(Outcome::Created {
            counts,
            generated_password: generated,
        })
    })
}

/// 20 characters from an alphabet without look-alikes (about 110 bits).
fn generate_password() -> Result<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let bytes = random_bytes::<20>()?;
    // 256 is not a multiple of 54: a negligible bias, irrelevant for a 20-char secret.
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

/// Random GUIDs for seeded records (deterministic, like everything the seed makes).
trait GuidExt {
    fn guid(&mut self) -> String;
}

impl GuidExt for Rng {
    fn guid(&mut self) -> String {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        b[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        guid_from(b)
    }
}

const FIRST: &[&str] = &[
    "Adele",
    "Alex",
    "Allan",
    "Ben",
    "Christie",
    "Debra",
    "Diego",
    "Emily",
    "Enrico",
    "Grady",
    "Henrietta",
    "Irvin",
    "Isaiah",
    "Johanna",
    "Joni",
    "Lee",
    "Lidia",
    "Lynne",
    "Megan",
    "Miriam",
    "Nestor",
    "Patti",
    "Pradeep",
    "Raul",
    "Sara",
    "Tomas",
    "Vanessa",
    "Wei",
    "Yuki",
    "Zainab",
    "Omar",
    "Priya",
    "Jonas",
    "Amelie",
    "Kwame",
    "Ingrid",
    "Mateo",
    "Aiko",
];
const LAST: &[&str] = &[
    "Vance",
    "Wilber",
    "Deyoung",
    "Andrews",
    "Cline",
    "Berger",
    "Siciliani",
    "Braun",
    "Bowen",
    "Sherwood",
    "Langer",
    "Cortez",
    "Lanier",
    "Wilke",
    "Holloway",
    "Gupta",
    "Adams",
    "Bianchi",
    "Nakamura",
    "Okafor",
    "Lindqvist",
    "Haddad",
    "Rossi",
    "Kowalski",
    "Fischer",
    "Mensah",
    "Tanaka",
    "Moreau",
    "Novak",
    "Schmidt",
    "Duarte",
    "Chen",
];

/// The 20 people who can sign in: (user name, full name, roles).
const PEOPLE: &[(&str, &str, &[Role])] = &[
    (
        "admin",
        "Admin (System Administrator)",
        &[Role::SystemAdministrator, Role::GlobalAdministrator],
    ),
    ("megan", "Megan Bowen", &[Role::SystemAdministrator]),
    (
        "isaiah",
        "Isaiah Langer",
        &[Role::SystemAdministrator, Role::DelegatedMailboxApprover],
    ),
    ("alex", "Alex Wilber", &[Role::ExchangeAdministrator]),
    ("patti", "Patti Fernandez", &[Role::GlobalAdministrator]),
    (
        "diego",
        "Diego Siciliani",
        &[Role::DelegatedMailboxApprover],
    ),
    (
        "lidia",
        "Lidia Holloway",
        &[Role::SystemAdministrator, Role::ExchangeAdministrator],
    ),
    ("adele", "Adele Vance", &[]),
    ("allan", "Allan Deyoung", &[]),
    ("christie", "Christie Cline", &[]),
    ("debra", "Debra Berger", &[]),
    ("emily", "Emily Braun", &[]),
    ("enrico", "Enrico Cattaneo", &[]),
    ("grady", "Grady Archie", &[]),
    ("henrietta", "Henrietta Mueller", &[]),
    ("irvin", "Irvin Sayers", &[]),
    ("johanna", "Johanna Lorenz", &[]),
    ("joni", "Joni Sherman", &[]),
    ("lee", "Lee Gu", &[]),
    ("nestor", "Nestor Wilke", &[]),
];

const QUEUES: &[(&str, &str)] = &[
    ("Customer Service", "support"),
    ("Sales Inquiries", "sales"),
    ("Billing", "billing"),
    ("Partner Desk", "partners"),
    ("Recruiting", "jobs"),
    ("Field Service Dispatch", "dispatch"),
    ("Marketing Replies", "marketing"),
    ("Legal Notices", "legal"),
];

const DOMAIN: &str = "contoso.com";

/// The four profiles, by role in the seed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Profile {
    ExchangeOnline,
    ExchangeOnPremises,
    Imap,
    Pop3,
}

impl Profile {
    fn is_exchange(self) -> bool {
        matches!(self, Profile::ExchangeOnline | Profile::ExchangeOnPremises)
    }
}

/// A known error as it appears on a mailbox and in its alerts, classified by core's
/// knowledge base as `kb` (a test checks it).
struct KnownError {
    kb: &'static str,
    lastsyncerror: &'static str,
    code: Option<i64>,
    errortype: &'static str,
    tracecode: i64,
    /// Which direction it stops: 0 incoming, 1 outgoing, 2 ACT.
    direction: u8,
    profiles: &'static [Profile],
}

const ANY: &[Profile] = &[
    Profile::ExchangeOnline,
    Profile::ExchangeOnPremises,
    Profile::Imap,
    Profile::Pop3,
];
const EXCHANGE: &[Profile] = &[Profile::ExchangeOnline, Profile::ExchangeOnPremises];
const EXO: &[Profile] = &[Profile::ExchangeOnline];
const ONPREM: &[Profile] = &[Profile::ExchangeOnPremises];
const INTERNET: &[Profile] = &[Profile::Imap, Profile::Pop3];

const ERRORS: &[KnownError] = &[
    KnownError { kb: "exchange-server-unavailable", lastsyncerror: "The remote server returned an error: (503) Server Unavailable.", code: Some(503), errortype: "IncomingEmailServerServiceError", tracecode: 52, direction: 0, profiles: EXCHANGE },
    KnownError { kb: "exchange-server-busy", lastsyncerror: "The server cannot service this request right now. Try again later. ErrorServerBusy", code: Some(429), errortype: "ExchangeSyncServerServiceError", tracecode: 65, direction: 2, profiles: EXCHANGE },
    KnownError { kb: "mailbox-move-in-progress", lastsyncerror: "Mailbox move in progress. Try again later., Cannot open mailbox. ErrorMailboxMoveInProgress", code: None, errortype: "UnknownIncomingEmailIntegrationError", tracecode: 2, direction: 0, profiles: EXCHANGE },
    KnownError { kb: "isv-unexpected", lastsyncerror: "Exchange server returned UnknownIncomingEmailIntegrationError -2147220956 exception.", code: Some(-2_147_220_956), errortype: "UnknownIncomingEmailIntegrationError", tracecode: 2, direction: 0, profiles: EXCHANGE },
    KnownError { kb: "credentials-mailbox", lastsyncerror: "Email cannot be received because the credentials specified in the mailbox are incorrect or have insufficient permissions. The remote server returned an error: (401) Unauthorized.", code: Some(401), errortype: "IncomingEmailMailboxError", tracecode: 45, direction: 0, profiles: INTERNET },
    KnownError { kb: "credentials-profile", lastsyncerror: "Email cannot be received because the credentials specified in the associated email server profile are incorrect or have insufficient permissions.", code: Some(401), errortype: "IncomingEmailServerServiceError", tracecode: 31, direction: 0, profiles: ONPREM },
    KnownError { kb: "o365-admin-approval", lastsyncerror: "Email cannot be sent because the email address of the mailbox requires an approval by an Office 365 administrator.", code: None, errortype: "OutgoingEmailMailboxError", tracecode: 44, direction: 1, profiles: EXO },
    KnownError { kb: "email-address-not-approved", lastsyncerror: "The email address of the mailbox is not approved and the mailbox has been disabled.", code: None, errortype: "IncomingEmailMailboxError", tracecode: 44, direction: 0, profiles: ANY },
    KnownError { kb: "secure-connection", lastsyncerror: "Email cannot be received for the mailbox because an error occurred while establishing a secure connection to the email server.", code: None, errortype: "IncomingEmailServerServiceError", tracecode: 31, direction: 0, profiles: INTERNET },
    KnownError { kb: "mailbox-location-undetermined", lastsyncerror: "The mailbox location could not be determined while sending the email message. The autodiscover service couldn't be located.", code: None, errortype: "OutgoingEmailServerServiceError", tracecode: 12, direction: 1, profiles: ONPREM },
    KnownError { kb: "organizer-field-missing", lastsyncerror: "Appointments can't be synchronized because the Organizer field is not present.", code: None, errortype: "ExchangeSyncMailboxError", tracecode: 90, direction: 2, profiles: EXCHANGE },
    KnownError { kb: "act-other-organization-primary", lastsyncerror: "Appointments, contacts, and tasks can't be synchronized because the mailbox is configured with another Microsoft Dynamics 365 organization.", code: None, errortype: "ExchangeSyncMailboxError", tracecode: 91, direction: 2, profiles: EXCHANGE },
    KnownError { kb: "gmail-receive-credentials", lastsyncerror: "Email cannot be received for the mailbox. Make sure that the credentials specified in the mailbox are correct and have sufficient permissions for receiving email.", code: None, errortype: "IncomingEmailMailboxError", tracecode: 45, direction: 0, profiles: &[Profile::Imap] },
];

fn is_transient(e: &KnownError) -> bool {
    kb::by_id(e.kb).is_some_and(|k| k.nature == mailsync_core::Nature::Transient)
}

/// The state a seeded mailbox is in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Healthy,
    Idle,
    Processing,
    PendingApproval,
    Rejected,
    NeverTested,
    TestPending,
    Failing,
    DisabledByAdmin,
}

/// A state for a mailbox of `scale:N` (see the module's documentation): pending approval
/// when its user number ends in 7, else any other state in the demo's proportions.
fn pick_scale_state(rng: &mut Rng, user_number: u64) -> State {
    if user_number % 10 == 7 {
        rng.below(100); // the draw pick_state would make: the sequence stays in step
        return State::PendingApproval;
    }
    loop {
        match pick_state(rng) {
            State::PendingApproval => continue,
            s => return s,
        }
    }
}

fn pick_state(rng: &mut Rng) -> State {
    match rng.below(100) {
        0..=34 => State::Healthy,
        35..=46 => State::Idle,
        47..=49 => State::Processing,
        50..=61 => State::PendingApproval,
        62..=64 => State::Rejected,
        65..=71 => State::NeverTested,
        72..=79 => State::TestPending,
        80..=94 => State::Failing,
        _ => State::DisabledByAdmin,
    }
}

type Row = Vec<(&'static str, Value)>;

fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}
fn int(i: i64) -> Value {
    Value::Integer(i)
}
fn flag(b: bool) -> Value {
    Value::Integer(i64::from(b))
}
/// `now` plus `offset_secs`, as the store writes dates.
fn at(now: Timestamp, offset_secs: i64) -> Value {
    text(iso(Timestamp(now.0 + offset_secs)))
}
fn opt_text(s: Option<String>) -> Value {
    s.map_or(Value::Null, Value::Text)
}

/// Inserts `rows` (all with the same columns in the same order) with one prepared
/// statement.
fn insert(tx: &Transaction<'_>, table: &str, rows: &[Row]) -> Result<u64> {
    let Some(first) = rows.first() else {
        return Ok(0);
    };
    let cols: Vec<&str> = first.iter().map(|(c, _)| *c).collect();
    // Secrets are sealed for their row: the key's parameter names it.
    let key = mailsync_core::model::table(table)
        .and_then(|t| cols.iter().position(|c| *c == t.key))
        .map_or("NULL".to_string(), |i| format!("?{}", i + 1));
    let marks: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| match secrets::is_secret(table, c) {
            true => secrets::seal_sql(table, c, &format!("?{}", i + 1), &key),
            false => format!("?{}", i + 1),
        })
        .collect();
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        cols.join(", "),
        marks.join(", ")
    );
    let mut stmt = tx.prepare_cached(&sql)?;
    for row in rows {
        debug_assert!(row.iter().map(|(c, _)| *c).eq(cols.iter().copied()));
        stmt.execute(rusqlite::params_from_iter(row.iter().map(|(_, v)| v)))?;
    }
    Ok(rows.len() as u64)
}

/// An owner of a mailbox: a user or a queue.
struct Regarding {
    id: String,
    typecode: &'static str,
    name: String,
    email: String,
    owner: String,
    /// The number in a generated user's name (`first.last<number>`).
    number: Option<u64>,
}

struct Seeder<'a> {
    tx: &'a Transaction<'a>,
    now: Timestamp,
    hash: String,
    rng: Rng,
    profiles: Vec<(Profile, String, String)>,
    counts: Counts,
}

impl<'a> Seeder<'a> {
    fn new(tx: &'a Transaction<'a>, now: Timestamp, hash: String) -> Self {
        Seeder {
            tx,
            now,
            hash,
            rng: Rng::new(0x5EED_D3A0_2026_0001),
            profiles: Vec::new(),
            counts: Counts::default(),
        }
    }

    fn run(mut self, kind: SeedKind) -> Result<Counts> {
        self.people(if kind == SeedKind::Empty {
            1
        } else {
            PEOPLE.len()
        })?;
        if kind != SeedKind::Empty {
            self.profiles()?;
        }
        self.organization()?;
        match kind {
            SeedKind::Empty => {}
            SeedKind::Demo => {
                let mut owners = self.named_regardings()?;
                owners.extend(self.queues()?);
                let extra = 300u64.saturating_sub(owners.len() as u64);
                owners.extend(self.generated_users(extra)?);
                self.mailboxes(&owners, None)?;
                self.profile_alerts()?;
                self.teams()?;
            }
            SeedKind::Scale(n) => {
                self.queues()?;
                self.profile_alerts()?;
                // Mailboxes and their users in chunks, to bound memory at any N.
                let mut done = 0;
                while done < n {
                    let chunk = (n - done).min(10_000);
                    let owners = self.generated_users(chunk)?;
                    self.mailboxes(&owners, Some(10))?;
                    done += chunk;
                }
            }
        }
        Ok(self.counts)
    }

    fn people(&mut self, how_many: usize) -> Result<()> {
        let mut rows = Vec::new();
        for (i, (user, name, roles)) in PEOPLE.iter().take(how_many).enumerate() {
            let id = if i == 0 {
                ADMIN_ID.to_string()
            } else {
                self.rng.guid()
            };
            rows.push(vec![
                ("systemuserid", text(id)),
                ("fullname", text(*name)),
                // UPN-style, as Dataverse's sign-in names are (self-approval compares a
                // mailbox's address with it); password sign-in also takes "nestor".
                ("domainname", text(format!("{user}@{DOMAIN}"))),
                ("internalemailaddress", text(format!("{user}@{DOMAIN}"))),
                ("emailrouteraccessapproval", int(1)),
                ("roles", text(roles_to_column(roles))),
                ("passwordhash", text(self.hash.clone())),
                ("createdon", at(self.now, -86_400 * 400)),
                ("modifiedon", at(self.now, -86_400 * 30)),
            ]);
        }
        self.counts.users += insert(self.tx, "systemuser", &rows)?;
        Ok(())
    }

    /// The named people as mailbox owners (their ids as inserted).
    fn named_regardings(&mut self) -> Result<Vec<Regarding>> {
        let mut stmt = self.tx.prepare(
            "SELECT systemuserid, fullname, internalemailaddress FROM systemuser ORDER BY rowid",
        )?;
        let rows = stmt.query_map([], |r| {
            let id: String = r.get(0)?;
            Ok(Regarding {
                owner: id.clone(),
                id,
                typecode: "systemuser",
                name: r.get(1)?,
                email: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                number: None,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn generated_users(&mut self, n: u64) -> Result<Vec<Regarding>> {
        let mut rows = Vec::with_capacity(n as usize);
        let mut out = Vec::with_capacity(n as usize);
        let base = self.counts.users;
        for i in 0..n {
            let first = *self.rng.pick(FIRST);
            let last = *self.rng.pick(LAST);
            let id = self.rng.guid();
            // Unique, readable user names: first.last plus a number.
            let user = format!(
                "{}.{}{}",
                first.to_ascii_lowercase(),
                last.to_ascii_lowercase(),
                base + i
            );
            let email = format!("{user}@{DOMAIN}");
            let name = format!("{first} {last}");
            rows.push(vec![
                ("systemuserid", text(id.clone())),
                ("fullname", text(name.clone())),
                ("domainname", text(email.clone())),
                ("internalemailaddress", text(email.clone())),
                ("emailrouteraccessapproval", int(0)),
                ("roles", text("")),
                ("createdon", at(self.now, -86_400 * self.rng.range(30, 900))),
                ("modifiedon", at(self.now, -86_400 * self.rng.range(0, 29))),
            ]);
            out.push(Regarding {
                owner: id.clone(),
                id,
                typecode: "systemuser",
                name,
                email,
                number: Some(base + i),
            });
        }
        self.counts.users += insert(self.tx, "systemuser", &rows)?;
        Ok(out)
    }

    /// Two owner teams (after everything else, so the rest of the demo stays as it was):
    /// the Help Desk owns the Customer Service queue and its mailbox (its members see
    /// them as theirs); Mailbox Administrators gives its member Johanna, who has no role
    /// of her own, the System Administrator role. (Not the Delegated Mailbox Approver
    /// role: Dataverse refuses it on a team, 0x80090905
    /// CannotAssignDelegatedMailboxApproverRoleToTeam.)
    fn teams(&mut self) -> Result<()> {
        let teams: &[(&str, &str, &[Role], &[&str])] = &[
            (
                "Help Desk",
                "Owns the Customer Service queue and its mailbox.",
                &[],
                &["henrietta", "irvin"],
            ),
            (
                "Mailbox Administrators",
                "Its members administer mailboxes and approve their email addresses.",
                &[Role::SystemAdministrator],
                &["johanna"],
            ),
        ];
        for (name, description, roles, members) in teams {
            let id = self.rng.guid();
            self.counts.teams += insert(
                self.tx,
                "team",
                &[vec![
                    ("teamid", text(id.clone())),
                    ("name", text(*name)),
                    ("description", text(*description)),
                    ("teamtype", int(0)),
                    ("roles", text(roles_to_column(roles))),
                    ("createdon", at(self.now, -86_400 * 200)),
                    ("modifiedon", at(self.now, -86_400 * 20)),
                ]],
            )?;
            for user in *members {
                let added = self.tx.execute(
                    "INSERT INTO teammembership (teamid, systemuserid) \
                     SELECT ?1, systemuserid FROM systemuser WHERE domainname = ?2",
                    [&id, &format!("{user}@{DOMAIN}")],
                )?;
                debug_assert_eq!(added, 1, "team member {user} is one of the demo's people");
            }
            if *name == "Help Desk" {
                self.tx.execute(
                    "UPDATE queue SET ownerid = ?1 WHERE name = 'Customer Service'",
                    [&id],
                )?;
                self.tx.execute(
                    "UPDATE mailbox SET ownerid = ?1 WHERE regardingobjectid = \
                     (SELECT queueid FROM queue WHERE name = 'Customer Service')",
                    [&id],
                )?;
            }
        }
        Ok(())
    }

    fn queues(&mut self) -> Result<Vec<Regarding>> {
        let mut rows = Vec::new();
        let mut out = Vec::new();
        for (name, alias) in QUEUES {
            let id = self.rng.guid();
            let email = format!("{alias}@{DOMAIN}");
            rows.push(vec![
                ("queueid", text(id.clone())),
                ("name", text(*name)),
                ("emailaddress", text(email.clone())),
                ("emailrouteraccessapproval", int(0)),
                ("ownerid", text(ADMIN_ID)),
                ("createdon", at(self.now, -86_400 * 380)),
                ("modifiedon", at(self.now, -86_400 * 12)),
            ]);
            out.push(Regarding {
                id,
                typecode: "queue",
                name: name.to_string(),
                email,
                owner: ADMIN_ID.to_string(),
                number: None,
            });
        }
        self.counts.queues += insert(self.tx, "queue", &rows)?;
        Ok(out)
    }

    fn profiles(&mut self) -> Result<()> {
        let tenant = self.rng.guid();
        let defs: [(Profile, &str, &str, Row); 4] = [
            (Profile::ExchangeOnline, "Microsoft Exchange Online", "Exchange Online in the organization's Microsoft 365 tenant: server-to-server authentication, Auto Discover on.", vec![
                ("servertype", int(0)), ("useautodiscover", flag(true)),
                ("incomingserverlocation", Value::Null), ("outgoingserverlocation", Value::Null),
                ("incomingcredentialretrieval", int(2)), ("outgoingcredentialretrieval", int(2)),
                ("incomingauthenticationprotocol", int(0)), ("outgoingauthenticationprotocol", int(0)),
                ("incominguseimpersonation", flag(false)), ("outgoinguseimpersonation", flag(false)),
                ("incomingportnumber", int(443)), ("outgoingportnumber", int(443)),
                ("incomingusername", Value::Null), ("incomingpassword", Value::Null),
                ("exchangeonlinetenantid", text(tenant)), ("exchangeversion", Value::Null),
            ]),
            (Profile::ExchangeOnPremises, "Exchange Server 2019 (Contoso on-premises)", "The on-premises Exchange organization, through its EWS endpoint with a service account that impersonates mailboxes.", vec![
                ("servertype", int(0)), ("useautodiscover", flag(false)),
                ("incomingserverlocation", text("https://mail.contoso.com/EWS/Exchange.asmx")), ("outgoingserverlocation", text("https://mail.contoso.com/EWS/Exchange.asmx")),
                ("incomingcredentialretrieval", int(1)), ("outgoingcredentialretrieval", int(1)),
                ("incomingauthenticationprotocol", int(2)), ("outgoingauthenticationprotocol", int(2)),
                ("incominguseimpersonation", flag(true)), ("outgoinguseimpersonation", flag(true)),
                ("incomingportnumber", int(443)), ("outgoingportnumber", int(443)),
                ("incomingusername", text("CONTOSO\\svc-crmsync")), ("incomingpassword", text("demo-only-service-password")),
                ("exchangeonlinetenantid", Value::Null), ("exchangeversion", int(5)),
            ]),
            (Profile::Imap, "IMAP/SMTP (Fabrikam hosted mail)", "The Fabrikam subsidiary's hosted mail: IMAP for incoming, SMTP for outgoing, credentials per mailbox.", vec![
                ("servertype", int(4)), ("useautodiscover", flag(false)),
                ("incomingserverlocation", text("imap.fabrikam.com")), ("outgoingserverlocation", text("smtp.fabrikam.com")),
                ("incomingcredentialretrieval", int(0)), ("outgoingcredentialretrieval", int(0)),
                ("incomingauthenticationprotocol", int(3)), ("outgoingauthenticationprotocol", int(3)),
                ("incominguseimpersonation", flag(false)), ("outgoinguseimpersonation", flag(false)),
                ("incomingportnumber", int(993)), ("outgoingportnumber", int(465)),
                ("incomingusername", Value::Null), ("incomingpassword", Value::Null),
                ("exchangeonlinetenantid", Value::Null), ("exchangeversion", Value::Null),
            ]),
            (Profile::Pop3, "POP3/SMTP (legacy mail host)", "The legacy mail host kept for a few shared addresses: POP3 in, SMTP out, one account in the profile.", vec![
                ("servertype", int(1)), ("useautodiscover", flag(false)),
                ("incomingserverlocation", text("pop.mail.contoso-legacy.com")), ("outgoingserverlocation", text("smtp.mail.contoso-legacy.com")),
                ("incomingcredentialretrieval", int(1)), ("outgoingcredentialretrieval", int(1)),
                ("incomingauthenticationprotocol", int(3)), ("outgoingauthenticationprotocol", int(3)),
                ("incominguseimpersonation", flag(false)), ("outgoinguseimpersonation", flag(false)),
                ("incomingportnumber", int(995)), ("outgoingportnumber", int(465)),
                ("incomingusername", text("crm-mail@contoso-legacy.com")), ("incomingpassword", text("demo-only-pop-password")),
                ("exchangeonlinetenantid", Value::Null), ("exchangeversion", Value::Null),
            ]),
        ];
        let mut rows = Vec::new();
        for (kind, name, description, settings) in defs {
            let id = self.rng.guid();
            let mut row: Row = vec![
                ("emailserverprofileid", text(id.clone())),
                ("name", text(name)),
                ("description", text(description)),
            ];
            row.extend(settings);
            row.extend([
                ("incomingusessl", flag(true)),
                ("outgoingusessl", flag(true)),
                ("usesamesettingsforoutgoingconnections", flag(true)),
                (
                    "maxconcurrentconnections",
                    int(if kind == Profile::ExchangeOnline {
                        20
                    } else {
                        10
                    }),
                ),
                ("minpollingintervalinminutes", int(0)),
                ("timeoutmailboxconnection", flag(false)),
                ("sendemailalert", flag(kind.is_exchange())),
                (
                    "lasttestexecutionstatus",
                    int(if kind == Profile::Pop3 { 2 } else { 1 }),
                ),
                ("lastteststarttime", at(self.now, -86_400 * 2)),
                ("lasttesttotalexecutiontime", int(self.rng.range(800, 9000))),
                ("ownerid", text(ADMIN_ID)),
                ("createdon", at(self.now, -86_400 * 390)),
                ("modifiedon", at(self.now, -86_400 * 3)),
            ]);
            rows.push(row);
            self.profiles.push((kind, id, name.to_string()));
        }
        self.counts.profiles += insert(self.tx, "emailserverprofile", &rows)?;
        Ok(())
    }

    fn organization(&mut self) -> Result<()> {
        let default_profile = self.profiles.first().map(|p| p.1.clone());
        // Each organization its own ID, as in Dataverse: Exchange mailboxes record the
        // ID of the organization they synchronize appointments, contacts and tasks with.
        let id = guid_from(random_bytes::<16>()?);
        let row =
            vec![
            ("organizationid", text(id)),
            ("name", text("Contoso (local organization)")),
            ("emailconnectionchannel", int(0)),
            ("defaultemailserverprofileid", opt_text(default_profile)),
            ("defaultemailsettings", text(
                "<EmailSettings><IncomingEmailDeliveryMethod>2</IncomingEmailDeliveryMethod>\
                 <OutgoingEmailDeliveryMethod>2</OutgoingEmailDeliveryMethod>\
                 <ACTDeliveryMethod>1</ACTDeliveryMethod></EmailSettings>",
            )),
            ("requireapprovalforuseremail", flag(true)),
            ("requireapprovalforqueueemail", flag(true)),
            ("generatealertsforerrors", flag(true)),
            ("generatealertsforwarnings", flag(true)),
            ("generatealertsforinformation", flag(true)),
            ("notifymailboxownerofemailserverlevelalerts", flag(false)),
            ("allowunresolvedpartiesonemailsend", flag(false)),
            ("createdon", at(self.now, -86_400 * 400)),
        ];
        insert(self.tx, "organization", &[row])?;
        Ok(())
    }

    fn pick_profile(&mut self) -> usize {
        let kind = match self.rng.below(100) {
            0..=59 => Profile::ExchangeOnline,
            60..=84 => Profile::ExchangeOnPremises,
            85..=94 => Profile::Imap,
            _ => Profile::Pop3,
        };
        self.profiles.iter().position(|p| p.0 == kind).unwrap_or(0)
    }

    /// One mailbox per owner, its approval mirrored on the user or queue, and its
    /// alerts (`alerts_each`: about that many per mailbox, and states as `scale:N` picks
    /// them; `None`: alerts by state, the demo's states).
    fn mailboxes(&mut self, owners: &[Regarding], alerts_each: Option<u64>) -> Result<()> {
        let mut rows = Vec::with_capacity(owners.len());
        let mut alerts = Vec::new();
        let mut approvals: Vec<(i64, &str, &str)> = Vec::new();
        for owner in owners {
            let p = self.pick_profile();
            let (kind, profile_id) = (self.profiles[p].0, self.profiles[p].1.clone());
            let state = match (alerts_each, owner.number) {
                (Some(_), Some(number)) => pick_scale_state(&mut self.rng, number),
                _ => pick_state(&mut self.rng),
            };
            let id = self.rng.guid();
            let (row, approval, error) = self.mailbox_row(&id, owner, kind, &profile_id, state);
            rows.push(row);
            approvals.push((approval, owner.typecode, &owner.id));
            let n = match alerts_each {
                Some(each) => self.rng.range(each as i64 - 2, each as i64 + 2) as u64,
                None => match state {
                    State::Failing => self.rng.range(3, 8) as u64,
                    State::Rejected | State::PendingApproval => self.rng.below(2),
                    _ => self.rng.below(3),
                },
            };
            for k in 0..n {
                alerts.push(self.alert_row(&id, &owner.name, state, error, k));
            }
        }
        self.counts.mailboxes += insert(self.tx, "mailbox", &rows)?;
        self.counts.alerts += insert(self.tx, "tracelog", &alerts)?;
        let mut user = self.tx.prepare_cached(
            "UPDATE systemuser SET emailrouteraccessapproval = ?1, defaultmailbox = ?3 WHERE systemuserid = ?2",
        )?;
        let mut queue = self.tx.prepare_cached(
            "UPDATE queue SET emailrouteraccessapproval = ?1, defaultmailbox = ?3 WHERE queueid = ?2",
        )?;
        for ((approval, typecode, id), row) in approvals.iter().zip(&rows) {
            let mailbox = &row[0].1;
            match *typecode {
                "queue" => queue.execute(rusqlite::params![approval, id, mailbox])?,
                _ => user.execute(rusqlite::params![approval, id, mailbox])?,
            };
        }
        Ok(())
    }

    /// A few alerts per email server profile: errors, warnings and information.
    fn profile_alerts(&mut self) -> Result<()> {
        let profiles = self.profiles.clone();
        let mut rows = Vec::new();
        for (kind, pid, pname) in &profiles {
            for k in 0..3 {
                rows.push(self.profile_alert(*kind, pid, pname, k));
            }
        }
        self.counts.alerts += insert(self.tx, "tracelog", &rows)?;
        Ok(())
    }

    fn mailbox_row(
        &mut self,
        id: &str,
        owner: &Regarding,
        kind: Profile,
        profile_id: &str,
        state: State,
    ) -> (Row, i64, Option<usize>) {
        let exchange = kind.is_exchange();
        let approval = match state {
            State::PendingApproval => 2,
            State::Rejected => 3,
            _ => 1,
        };
        let error = (state == State::Failing).then(|| {
            let fitting: Vec<usize> = (0..ERRORS.len())
                .filter(|i| ERRORS[*i].profiles.contains(&kind))
                .collect();
            *self.rng.pick(&fitting)
        });
        let transient = error.is_some_and(|e| is_transient(&ERRORS[e]));
        let error_count = match error {
            Some(_) if transient => self.rng.range(1, RETRY_LIMIT as i64),
            Some(_) => 1,
            None => 0,
        };
        // Past the retry limit a transient error disables the mailbox like a permanent one.
        let stopped = error.is_some() && (!transient || error_count >= RETRY_LIMIT as i64);
        let stopped_dir = error.map(|e| ERRORS[e].direction);
        let active = matches!(
            state,
            State::Healthy | State::Idle | State::Processing | State::Failing
        );
        let tested = !matches!(
            state,
            State::PendingApproval | State::NeverTested | State::Rejected
        );
        let outlook = state == State::DisabledByAdmin && self.rng.chance(50);
        let in_method = if state == State::DisabledByAdmin {
            if outlook {
                1
            } else {
                0
            }
        } else {
            2
        };
        let out_method = in_method;
        let act_method = if exchange && state != State::DisabledByAdmin {
            1
        } else {
            2
        };
        let enabled = |dir: u8| active && !(stopped && stopped_dir == Some(dir));
        let status = |dir: u8, applies: bool| -> i64 {
            if !applies || !active && state != State::TestPending {
                0
            } else if stopped_dir == Some(dir) {
                2
            } else {
                1
            }
        };
        let (s_in, s_out, s_act) = (status(0, true), status(1, true), status(2, exchange));
        let mailboxstatus = if [s_in, s_out, s_act].contains(&2) {
            2
        } else if [s_in, s_out, s_act].contains(&1) {
            1
        } else {
            0
        };
        let cycle = self.rng.range(0, 299);
        let next = match state {
            State::Idle => self.rng.range(600, 3600),
            _ => 300 - cycle,
        };
        let idle_count = match state {
            State::Idle => self.rng.range(8, 40),
            State::Healthy => self.rng.range(0, 3),
            _ => 0,
        };
        let processed = if tested {
            self.rng.range(200, 40_000)
        } else {
            0
        };
        let last_ok = match state {
            _ if !active => Value::Null,
            State::Failing => at(self.now, -(error_count * 300 + cycle)),
            _ => at(self.now, -cycle),
        };
        let processing = state == State::Processing;
        let test_pending = state == State::TestPending;
        let row: Row = vec![
            ("mailboxid", text(id)),
            ("name", text(owner.name.clone())),
            ("emailaddress", text(owner.email.clone())),
            ("regardingobjectid", text(owner.id.clone())),
            ("regardingobjecttypecode", text(owner.typecode)),
            ("ownerid", text(owner.owner.clone())),
            ("emailserverprofile", text(profile_id)),
            ("emailrouteraccessapproval", int(approval)),
            (
                "isemailaddressapprovedbyo365admin",
                flag(approval == 1 && kind == Profile::ExchangeOnline),
            ),
            ("incomingemaildeliverymethod", int(in_method)),
            ("outgoingemaildeliverymethod", int(out_method)),
            ("actdeliverymethod", int(act_method)),
            ("enabledforincomingemail", flag(enabled(0))),
            ("enabledforoutgoingemail", flag(enabled(1))),
            ("enabledforact", flag(exchange && enabled(2))),
            ("incomingemailstatus", int(s_in)),
            ("outgoingemailstatus", int(s_out)),
            ("actstatus", int(s_act)),
            ("mailboxstatus", int(mailboxstatus)),
            ("testemailconfigurationscheduled", flag(test_pending)),
            (
                "testemailconfigurationretrycount",
                int(if test_pending {
                    self.rng.range(0, 2)
                } else {
                    0
                }),
            ),
            (
                "testmailboxaccesscompletedon",
                if tested && !test_pending {
                    at(self.now, -86_400 * self.rng.range(1, 60))
                } else {
                    Value::Null
                },
            ),
            (
                "postponetestemailconfigurationuntil",
                if test_pending {
                    at(self.now, self.rng.range(30, 600))
                } else {
                    Value::Null
                },
            ),
            (
                "orgmarkedasprimaryforexchangesync",
                flag(exchange && tested),
            ),
            (
                "processemailreceivedafter",
                if tested {
                    at(self.now, -86_400 * 90)
                } else {
                    Value::Null
                },
            ),
            ("processingstatecode", int(i64::from(processing))),
            (
                "hostid",
                if processing {
                    text(format!("CRMASYNC-{:02}", self.rng.below(8)))
                } else {
                    Value::Null
                },
            ),
            (
                "processinglastattemptedon",
                if active {
                    at(self.now, if processing { -20 } else { -cycle })
                } else {
                    Value::Null
                },
            ),
            ("noemailcount", int(idle_count)),
            ("noactcount", int(idle_count / 2)),
            (
                "postponemailboxprocessinguntil",
                if active {
                    at(self.now, next)
                } else {
                    Value::Null
                },
            ),
            (
                "postponesendinguntil",
                if active {
                    at(self.now, next - 60)
                } else {
                    Value::Null
                },
            ),
            (
                "receivingpostponeduntil",
                if active {
                    at(self.now, next)
                } else {
                    Value::Null
                },
            ),
            (
                "receivingpostponeduntilforact",
                if active && exchange {
                    at(self.now, next + 300)
                } else {
                    Value::Null
                },
            ),
            ("lastsuccessfulsynccompletedon", last_ok),
            (
                "lastsyncstartedon",
                if active {
                    at(self.now, -cycle - 4)
                } else {
                    Value::Null
                },
            ),
            (
                "lastsyncerroroccurredon",
                if error.is_some() {
                    at(self.now, -cycle)
                } else {
                    Value::Null
                },
            ),
            (
                "lastsyncerror",
                error.map_or(Value::Null, |e| text(ERRORS[e].lastsyncerror)),
            ),
            (
                "lastsyncerrorcode",
                error.and_then(|e| ERRORS[e].code).map_or(Value::Null, int),
            ),
            ("lastsyncerrorcount", int(error_count)),
            (
                "itemsprocessedforlastsync",
                int(if active { self.rng.range(0, 25) } else { 0 }),
            ),
            ("itemsfailedforlastsync", int(i64::from(error.is_some()))),
            (
                "transientfailurecount",
                int(if transient { error_count } else { 0 }),
            ),
            ("processedtimes", int(processed)),
            (
                "averagetotalduration",
                int(if tested { self.rng.range(400, 6000) } else { 0 }),
            ),
            (
                "lastduration",
                int(if tested { self.rng.range(300, 9000) } else { 0 }),
            ),
            ("isforwardmailbox", flag(false)),
            ("isserviceaccount", flag(false)),
            (
                "allowemailconnectortousecredentials",
                flag(kind == Profile::Imap),
            ),
            (
                "username",
                if kind == Profile::Imap {
                    text(owner.email.clone())
                } else {
                    Value::Null
                },
            ),
            (
                "password",
                if kind == Profile::Imap {
                    text("demo-only-mailbox-password")
                } else {
                    Value::Null
                },
            ),
            ("createdon", at(self.now, -86_400 * self.rng.range(60, 700))),
            ("modifiedon", at(self.now, -self.rng.range(60, 86_400 * 20))),
        ];
        (row, approval, error)
    }

    fn alert_row(
        &mut self,
        mailbox: &str,
        name: &str,
        state: State,
        error: Option<usize>,
        k: u64,
    ) -> Row {
        // The newest alert is the mailbox's current error; older ones vary.
        let e = match error {
            Some(e) if k == 0 || self.rng.chance(60) => Some(e),
            _ if self.rng.chance(25) => Some(self.rng.below(ERRORS.len() as u64) as usize),
            _ => None,
        };
        let age = (k as i64 + 1) * self.rng.range(300, 86_400);
        let (level, tracecode, text_, errortype, details) = match e {
            Some(e) => {
                let err = &ERRORS[e];
                let transient = is_transient(err);
                // Transient errors are warnings until they pass the retry limit.
                let level =
                    if transient && !(k == 0 && state == State::Failing && self.rng.chance(30)) {
                        2
                    } else {
                        3
                    };
                (
                    level,
                    Some(err.tracecode),
                    format!("{} Mailbox: {name}.", err.lastsyncerror),
                    Some(err.errortype),
                    Some(format!(
                        "T:{}\nActivityId: {}\n>Error : {}",
                        self.rng.range(1, 400),
                        self.rng.guid(),
                        err.lastsyncerror
                    )),
                )
            }
            None => {
                let info = [
                    "The mailbox {name} was tested and enabled for synchronization: incoming email, outgoing email and appointments, contacts, and tasks.",
                    "Email was received successfully for the mailbox {name} after earlier errors.",
                    "The email address of the mailbox {name} was approved.",
                    "Test & Enable was scheduled for the mailbox {name}.",
                ];
                (
                    1,
                    None,
                    self.rng.pick(&info).replace("{name}", name),
                    None,
                    None,
                )
            }
        };
        vec![
            ("tracelogid", text(self.rng.guid())),
            ("level", int(level)),
            ("tracecode", tracecode.map_or(Value::Null, int)),
            ("text", text(text_)),
            ("errortypedisplay", errortype.map_or(Value::Null, text)),
            ("errordetails", opt_text(details)),
            ("regardingobjectid", text(mailbox)),
            ("regardingobjecttypecode", text("mailbox")),
            ("isunique", flag(false)),
            ("canbedeleted", flag(true)),
            ("createdon", at(self.now, -age)),
            ("modifiedon", at(self.now, -age + self.rng.range(0, 300))),
        ]
    }

    fn profile_alert(&mut self, kind: Profile, id: &str, name: &str, k: u64) -> Row {
        let (level, tracecode, errortype, msg) = match (kind, k) {
            (Profile::ExchangeOnPremises, 0) => (3, Some(31), Some("IncomingEmailServerServiceError"), format!("Email cannot be received because the credentials specified in the associated email server profile are incorrect or have insufficient permissions. Email server profile: {name}.")),
            (Profile::Imap | Profile::Pop3, 0) => (3, Some(31), Some("IncomingEmailServerServiceError"), format!("Email cannot be received for the mailboxes of the email server profile {name} because an error occurred while establishing a secure connection to the email server.")),
            (_, 0) | (_, 1) => (2, Some(52), Some("IncomingEmailServerServiceError"), format!("The remote server returned an error: (503) Server Unavailable. Email server profile: {name}. Server-side synchronization will retry.")),
            _ => (1, None, None, format!("The email server profile {name} was tested successfully.")),
        };
        let age = (k as i64 + 1) * self.rng.range(3600, 86_400 * 3);
        vec![
            ("tracelogid", text(self.rng.guid())),
            ("level", int(level)),
            ("tracecode", tracecode.map_or(Value::Null, int)),
            ("text", text(msg)),
            ("errortypedisplay", errortype.map_or(Value::Null, text)),
            ("errordetails", Value::Null),
            ("regardingobjectid", text(id)),
            ("regardingobjecttypecode", text("emailserverprofile")),
            ("isunique", flag(false)),
            ("canbedeleted", flag(true)),
            ("createdon", at(self.now, -age)),
            ("modifiedon", at(self.now, -age)),
        ]
    }
}

/// Short English summary of `counts`, for the startup message.
pub fn describe(c: &Counts) -> String {
    format!(
        "{} users, {} teams, {} queues, {} email server profiles, {} mailboxes, {} alerts",
        c.users, c.teams, c.queues, c.profiles, c.mailboxes, c.alerts
    )
}

#[cfg(test)]
mod tests {
    use super::super::testutil::TempDir;
    use super::super::{auth, Store};
    use super::*;
    use mailsync_core::classify::{lookup, Evidence};

    const NOW: Timestamp = Timestamp(1_790_000_000);

    fn count(c: &Connection, sql: &str) -> i64 {
        c.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// Every choice column holds only its options, and the organization's default
    /// methods parse: a seed writes what the Web API would accept.
    fn assert_choices_valid(c: &Connection) {
        for t in mailsync_core::model::TABLES {
            for col in t.columns.iter().filter(|col| col.options.is_some()) {
                let mut stmt = c
                    .prepare(&format!(
                        "SELECT DISTINCT {0} FROM {1} WHERE {0} IS NOT NULL",
                        col.name, t.logical
                    ))
                    .unwrap();
                let values: Vec<i64> = stmt
                    .query_map([], |r| r.get(0))
                    .unwrap()
                    .collect::<rusqlite::Result<_>>()
                    .unwrap();
                for v in values {
                    assert!(col.allows(v), "{}.{} = {v}", t.logical, col.name);
                }
            }
        }
        let xml: String = c
            .query_row("SELECT defaultemailsettings FROM organization", [], |r| {
                r.get(0)
            })
            .unwrap();
        mailsync_core::email_settings::DefaultMethods::parse(&xml).unwrap();
    }

    #[test]
    fn seed_kinds_parse() {
        assert_eq!("demo".parse(), Ok(SeedKind::Demo));
        assert_eq!("scale:100000".parse(), Ok(SeedKind::Scale(100_000)));
        assert_eq!("empty".parse(), Ok(SeedKind::Empty));
        for bad in [
            "scale:0",
            "scale:",
            "scale:-3",
            "scale:x",
            "lots",
            "scale:99999999",
        ] {
            assert!(bad.parse::<SeedKind>().is_err(), "{bad}");
        }
    }

    #[test]
    fn known_errors_classify_as_their_kb_entry() {
        for e in ERRORS {
            let ev = Evidence {
                error_type: Some(e.errortype),
                text: e.lastsyncerror,
                http_status: None,
                error_code: e.code,
            };
            assert_eq!(lookup(&ev).map(|k| k.id), Some(e.kb), "{}", e.lastsyncerror);
        }
    }

    #[test]
    fn demo_is_believable_and_never_overwritten() {
        let dir = TempDir::new("demo");
        let store = Store::open(&dir.path().join("demo.sqlite")).unwrap();
        let outcome = store
            .with_conn(|c| initialize(c, SeedKind::Demo, Some("pw-for-tests"), NOW))
            .unwrap();
        let Outcome::Created {
            counts,
            generated_password,
        } = outcome
        else {
            panic!("expected a new organization");
        };
        assert_eq!(generated_password, None);
        assert_eq!(counts.mailboxes, 300);
        assert_eq!(counts.profiles, 4);
        assert_eq!(counts.queues, 8);
        assert_eq!(counts.users, 292);
        assert!(counts.alerts > 300, "{counts:?}");
        store
            .with_conn(|c| {
                assert_eq!(count(c, "SELECT count(*) FROM mailbox"), 300);
                assert_eq!(count(c, "SELECT count(*) FROM organization"), 1);
                assert_eq!(count(c, "SELECT count(*) FROM systemuser WHERE passwordhash IS NOT NULL"), 20);
                assert_eq!(count(c, "SELECT count(*) FROM systemuser WHERE roles <> ''"), 7);
                let types: Vec<i64> = c
                    .prepare("SELECT servertype FROM emailserverprofile ORDER BY rowid")?
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                assert_eq!(types, [0, 0, 4, 1]);
                // Every state is represented, with sensible shares.
                for (what, sql, lo, hi) in [
                    ("approved", "emailrouteraccessapproval = 1", 180, 280),
                    ("pending", "emailrouteraccessapproval = 2", 15, 60),
                    ("rejected", "emailrouteraccessapproval = 3", 2, 20),
                    ("failing", "lastsyncerror IS NOT NULL", 25, 70),
                    ("test pending", "testemailconfigurationscheduled = 1", 10, 45),
                    ("never tested", "emailrouteraccessapproval = 1 AND testmailboxaccesscompletedon IS NULL AND testemailconfigurationscheduled = 0", 8, 40),
                    ("idle", "noemailcount >= 8", 15, 60),
                    ("processing", "processingstatecode = 1", 1, 20),
                    ("incoming disabled", "enabledforincomingemail = 0", 60, 200),
                    ("exchange online", "emailserverprofile = (SELECT emailserverprofileid FROM emailserverprofile ORDER BY rowid LIMIT 1)", 140, 220),
                    ("queue mailboxes", "regardingobjecttypecode = 'queue'", 8, 8),
                ] {
                    let n = count(c, &format!("SELECT count(*) FROM mailbox WHERE {sql}"));
                    assert!((lo..=hi).contains(&n), "{what}: {n} not in {lo}..={hi}");
                }
                // Approval mirrored on the user or queue.
                assert_eq!(
                    count(c, "SELECT count(*) FROM mailbox m JOIN systemuser u ON u.systemuserid = m.regardingobjectid
                              WHERE u.emailrouteraccessapproval <> m.emailrouteraccessapproval"),
                    0
                );
                assert_eq!(
                    count(c, "SELECT count(*) FROM mailbox m JOIN queue q ON q.queueid = m.regardingobjectid
                              WHERE q.emailrouteraccessapproval = m.emailrouteraccessapproval"),
                    8
                );
                // Alerts of every level, on mailboxes and profiles, texts from the knowledge base.
                for level in 1..=3 {
                    assert!(count(c, &format!("SELECT count(*) FROM tracelog WHERE level = {level}")) > 10);
                }
                assert_eq!(count(c, "SELECT count(*) FROM tracelog WHERE regardingobjecttypecode = 'emailserverprofile'"), 12);
                assert!(count(c, "SELECT count(*) FROM tracelog WHERE text LIKE '%Office 365 administrator%'") > 0);
                // Mailbox and profile passwords are sealed, and open to the demo's values;
                // the admin's password is only a hash.
                assert_eq!(count(c, "SELECT count(*) FROM mailbox WHERE password LIKE '%demo-only%'"), 0);
                assert!(count(c, "SELECT count(*) FROM mailbox WHERE mailsync_open(password, 'mailbox', 'password', mailboxid) = 'demo-only-mailbox-password'") > 0);
                assert_eq!(count(c, "SELECT count(*) FROM emailserverprofile WHERE mailsync_open(incomingpassword, 'emailserverprofile', 'incomingpassword', emailserverprofileid) LIKE 'demo-only-%'"), 2);
                assert_eq!(count(c, "SELECT count(*) FROM systemuser WHERE passwordhash LIKE '%pw-for-tests%'"), 0);
                assert_eq!(auth::check_credentials(c, "admin", "pw-for-tests")?.as_deref(), Some(ADMIN_ID));
                assert!(auth::check_credentials(c, "nestor", "pw-for-tests")?.is_some());
                assert_choices_valid(c);
                Ok(())
            })
            .unwrap();

        // A second seed finds the organization and changes nothing.
        let before: i64 = store
            .with_conn(|c| Ok(count(c, "SELECT count(*) FROM mailbox")))
            .unwrap();
        let again = store
            .with_conn(|c| initialize(c, SeedKind::Scale(50), None, NOW))
            .unwrap();
        assert!(matches!(again, Outcome::Existing));
        let after: i64 = store
            .with_conn(|c| Ok(count(c, "SELECT count(*) FROM mailbox")))
            .unwrap();
        assert_eq!(before, after);
        assert!(store
            .with_conn(|c| auth::check_credentials(c, "admin", "pw-for-tests"))
            .unwrap()
            .is_some());
    }

    #[test]
    fn deterministic() {
        let dump = |tag: &str| {
            let dir = TempDir::new(tag);
            let store = Store::open(&dir.path().join("d.sqlite")).unwrap();
            store
                .with_conn(|c| initialize(c, SeedKind::Demo, Some("x"), NOW))
                .unwrap();
            store
                .with_conn(|c| {
                    let mut s = c.prepare(
                        "SELECT mailboxid || name || emailrouteraccessapproval || ifnull(lastsyncerror, '') FROM mailbox ORDER BY mailboxid",
                    )?;
                    let v: Vec<String> = s.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
                    Ok(v)
                })
                .unwrap()
        };
        assert_eq!(dump("det-a"), dump("det-b"));
    }

    #[test]
    fn empty_org_has_only_admin_with_a_generated_password() {
        let dir = TempDir::new("empty");
        let store = Store::open(&dir.path().join("e.sqlite")).unwrap();
        let outcome = store
            .with_conn(|c| initialize(c, SeedKind::Empty, None, NOW))
            .unwrap();
        let Outcome::Created {
            counts,
            generated_password: Some(pw),
        } = outcome
        else {
            panic!("expected a generated password");
        };
        assert_eq!(pw.len(), 20);
        assert_eq!((counts.users, counts.mailboxes), (1, 0));
        store
            .with_conn(|c| {
                assert_eq!(
                    auth::check_credentials(c, "admin", &pw)?.as_deref(),
                    Some(ADMIN_ID)
                );
                let me =
                    auth::session_user(c, &auth::create_session(c, ADMIN_ID, NOW)?, NOW, 1800)?
                        .unwrap();
                assert_eq!(
                    me.roles,
                    [Role::SystemAdministrator, Role::GlobalAdministrator]
                );
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn scale_seeds_n_mailboxes_with_about_ten_alerts_each() {
        let dir = TempDir::new("scale");
        let store = Store::open(&dir.path().join("s.sqlite")).unwrap();
        let outcome = store
            .with_conn(|c| initialize(c, SeedKind::Scale(12_345), Some("x"), NOW))
            .unwrap();
        let Outcome::Created { counts, .. } = outcome else {
            panic!("expected a new organization");
        };
        assert_eq!(counts.mailboxes, 12_345);
        assert_eq!(counts.users, 12_345 + 20);
        let per = counts.alerts as f64 / counts.mailboxes as f64;
        assert!((9.5..=10.5).contains(&per), "{per} alerts per mailbox");
        store
            .with_conn(|c| {
                assert_eq!(count(c, "SELECT count(*) FROM mailbox"), 12_345);
                assert_eq!(
                    count(c, "SELECT count(DISTINCT domainname) FROM systemuser"),
                    12_365
                );
                // User numbers 20..=12364: those ending in 7, and only they, are pending.
                assert_eq!(count(c, "SELECT count(*) FROM mailbox WHERE emailaddress LIKE '%7@%'"), 1_234);
                assert_eq!(count(c, "SELECT count(*) FROM mailbox WHERE emailrouteraccessapproval = 2"), 1_234);
                assert_eq!(
                    count(c, "SELECT count(*) FROM mailbox WHERE emailrouteraccessapproval = 2 AND emailaddress LIKE '%7@%'"),
                    1_234
                );
                assert!(count(c, "SELECT count(*) FROM mailbox WHERE emailrouteraccessapproval = 3") > 100);
                assert_choices_valid(c);
                Ok(())
            })
            .unwrap();
    }
}
