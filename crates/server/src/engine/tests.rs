//! The engine against real mail servers: Debian's dovecot (IMAP, POP3) and an aiosmtpd
//! SMTP server on 127.0.0.1, started by `bash scripts/mailservers.sh start` (the test
//! command does), with a real SQLite file and a clock the tests move.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use mailsync_core::Timestamp;
use rusqlite::{params, Connection};

use super::{Engine, EngineArgs, ManualClock, Switch};
use crate::store::seed::{self, SeedKind, ADMIN_ID};
use crate::store::{new_guid, Store};

/// The mail servers' addresses, users and files (`target/mailservers/env`).
struct Mail(HashMap<String, String>);

impl Mail {
    fn get() -> Mail {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let path = root.join("target/mailservers/env");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}. The engine's tests need the test mail servers: run \
                 `bash scripts/mailservers.sh start` first (scripts/test.sh does).",
                path.display()
            )
        });
        Mail(
            text.lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect(),
        )
    }

    fn var(&self, k: &str) -> String {
        self.0
            .get(k)
            .cloned()
            .unwrap_or_else(|| panic!("{k} missing from the mail env"))
    }

    fn port(&self, k: &str) -> i64 {
        self.var(k).parse().unwrap()
    }
}

/// An organization on a temp SQLite file, its engine and its clock.
struct Org {
    _dir: TempDir,
    store: Store,
    clock: Arc<ManualClock>,
    engine: Arc<Engine>,
    mail: Mail,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const START: Timestamp = Timestamp(1_900_000_000);

impl Org {
    fn new(tag: &str) -> Org {
        Org::with_args(tag, |_| {})
    }

    fn with_args(tag: &str, tune: impl FnOnce(&mut EngineArgs)) -> Org {
        let mail = Mail::get();
        let dir =
            std::env::temp_dir().join(format!("mailsync-engine-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&dir.join("org.sqlite")).unwrap();
        store
            .with_conn(|c| seed::initialize(c, SeedKind::Empty, Some("pw"), START).map(drop))
            .unwrap();
        let clock = Arc::new(ManualClock::new(START));
        let mut args = EngineArgs {
            engine: Switch::On,
            retry_limit: 10,
            retry_interval: 300,
            trust_ca: vec![PathBuf::from(mail.var("MAIL_CA"))],
            mail_timeout: 5,
            autodiscover_hosts: vec!["127.0.0.1".into()],
            entra_authority: mail
                .0
                .get("MAIL_OAUTH_AUTHORITY")
                .cloned()
                .unwrap_or_else(|| "http://127.0.0.1:9".into()),
            google_authority: mail
                .0
                .get("MAIL_GOOGLE_AUTHORITY")
                .cloned()
                .unwrap_or_else(|| "http://127.0.0.1:9".into()),
            exchange_online_tenant: None,
            exchange_online_client_id: None,
            exchange_online_certificate: None,
            exchange_online_secret: None,
        };
        tune(&mut args);
        let engine = Engine::new(store.clone(), clock.clone(), &args).unwrap();
        Org {
            _dir: TempDir(dir),
            store,
            clock,
            engine,
            mail,
        }
    }

    fn sql<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> T {
        self.store.with_conn(|c| Ok(f(c)?)).unwrap()
    }

    fn set_org(&self, column: &str, value: bool) {
        self.sql(|c| c.execute(&format!("UPDATE organization SET {column} = ?1"), [value]));
    }

    /// An IMAP/SMTP profile on the test servers; `tune` changes its columns.
    /// A profile whose incoming server is down: nothing listens on the loopback's port 9.
    fn down_profile(&self, name: &str, tune: &[(&str, rusqlite::types::Value)]) -> String {
        use rusqlite::types::Value::Integer;
        let mut cols = vec![
            ("incomingportnumber", Integer(9)),
            ("incomingusessl", Integer(0)),
        ];
        cols.extend(tune.iter().cloned());
        self.profile(name, &cols)
    }

    /// `n` mailboxes named `prefix 0`.. on `profile`, enabled and due now.
    fn enabled_mailboxes(&self, prefix: &str, profile: &str, n: usize, user: &str, pw: &str) {
        for i in 0..n {
            let m = self.mailbox(&format!("{prefix} {i}"), profile, user, pw);
            self.enable(&m);
        }
    }

    fn profile(&self, name: &str, tune: &[(&str, rusqlite::types::Value)]) -> String {
        use rusqlite::types::Value::{Integer, Text};
        let id = new_guid().unwrap();
        let host = self.mail.var("MAIL_HOST");
        let mut cols: Vec<(&str, rusqlite::types::Value)> = vec![
            ("emailserverprofileid", Text(id.clone())),
            ("name", Text(name.into())),
            ("servertype", Integer(4)),
            ("useautodiscover", Integer(0)),
            ("incomingserverlocation", Text(host.clone())),
            ("outgoingserverlocation", Text(host)),
            ("incomingcredentialretrieval", Integer(0)),
            ("outgoingcredentialretrieval", Integer(0)),
            ("incomingusessl", Integer(1)),
            ("outgoingusessl", Integer(1)),
            // SSL on IMAP's usual port: STARTTLS.
            (
                "incomingportnumber",
                Integer(self.mail.port("MAIL_IMAP_PORT")),
            ),
            (
                "outgoingportnumber",
                Integer(self.mail.port("MAIL_SMTP_PORT")),
            ),
            ("usesamesettingsforoutgoingconnections", Integer(1)),
            ("maxconcurrentconnections", Integer(10)),
            ("ownerid", Text(ADMIN_ID.into())),
        ];
        for (k, v) in tune {
            match cols.iter_mut().find(|(c, _)| c == k) {
                Some(c) => c.1 = v.clone(),
                None => cols.push((k, v.clone())),
            }
        }
        insert(self, "emailserverprofile", &cols);
        id
    }

    /// A mailbox of a new user, on `profile`, with the test server's `user`/`password`.
    fn mailbox(&self, name: &str, profile: &str, user: &str, password: &str) -> String {
        use rusqlite::types::Value::{Integer, Text};
        let uid = new_guid().unwrap();
        let domain = self.mail.var("MAIL_DOMAIN");
        let address = format!("{user}@{domain}");
        insert(
            self,
            "systemuser",
            &[
                ("systemuserid", Text(uid.clone())),
                ("fullname", Text(name.into())),
                ("domainname", Text(format!("{user}-{}", &uid[..8]))),
                ("internalemailaddress", Text(address.clone())),
            ],
        );
        let id = new_guid().unwrap();
        insert(
            self,
            "mailbox",
            &[
                ("mailboxid", Text(id.clone())),
                ("name", Text(name.into())),
                ("emailaddress", Text(address)),
                ("regardingobjectid", Text(uid.clone())),
                ("regardingobjecttypecode", Text("systemuser".into())),
                ("ownerid", Text(uid)),
                ("emailserverprofile", Text(profile.into())),
                ("emailrouteraccessapproval", Integer(1)),
                ("incomingemaildeliverymethod", Integer(2)),
                ("outgoingemaildeliverymethod", Integer(2)),
                ("actdeliverymethod", Integer(2)),
                ("allowemailconnectortousecredentials", Integer(1)),
                ("username", Text(user.into())),
                ("password", Text(password.into())),
            ],
        );
        id
    }

    fn test_user(&self, user: &str) -> (String, String) {
        let u = user.to_ascii_uppercase();
        (
            self.mail.var(&format!("MAIL_USER_{u}")),
            self.mail.var(&format!("MAIL_PASSWORD_{u}")),
        )
    }

    fn schedule_test(&self, mailbox: &str) {
        self.sql(|c| {
            c.execute(
                "UPDATE mailbox SET testemailconfigurationscheduled = 1, \
                 testemailconfigurationretrycount = 0, postponetestemailconfigurationuntil = ?2, \
                 postponemailboxprocessinguntil = ?2 WHERE mailboxid = ?1",
                params![mailbox, self.clock_now().to_rfc3339()],
            )
        });
    }

    /// Enabled for incoming and outgoing email as a passed test would leave it.
    fn enable(&self, mailbox: &str) {
        self.sql(|c| {
            c.execute(
                "UPDATE mailbox SET enabledforincomingemail = 1, enabledforoutgoingemail = 1, \
                 incomingemailstatus = 1, outgoingemailstatus = 1, postponemailboxprocessinguntil = ?2 \
                 WHERE mailboxid = ?1",
                params![mailbox, self.clock_now().to_rfc3339()],
            )
        });
    }

    fn clock_now(&self) -> Timestamp {
        use super::Clock;
        self.clock.now()
    }

    fn run(&self) -> Vec<super::Outcome> {
        runtime().block_on(self.engine.run_due()).unwrap()
    }

    fn col<T: rusqlite::types::FromSql>(&self, mailbox: &str, column: &str) -> T {
        self.sql(|c| {
            c.query_row(
                &format!("SELECT {column} FROM mailbox WHERE mailboxid = ?1"),
                [mailbox],
                |r| r.get(0),
            )
        })
    }

    /// The profile's last test: status, start, duration in ms.
    fn profile_test(&self, profile: &str) -> (Option<i64>, Option<String>, Option<i64>) {
        self.sql(|c| {
            c.query_row(
                "SELECT lasttestexecutionstatus, lastteststarttime, lasttesttotalexecutiontime \
                 FROM emailserverprofile WHERE emailserverprofileid = ?1",
                [profile],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
        })
    }

    /// (level, tracecode, text, errordetails) of the alerts regarding `record`.
    fn alerts(&self, record: &str) -> Vec<(i64, i64, String, String)> {
        self.sql(|c| {
            let mut s = c.prepare(
                "SELECT level, tracecode, text, COALESCE(errordetails, '') FROM tracelog \
                 WHERE regardingobjectid = ?1 ORDER BY modifiedon, level",
            )?;
            let rows = s
                .query_map([record], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>();
            rows
        })
    }
}

fn insert(org: &Org, table: &str, cols: &[(&str, rusqlite::types::Value)]) {
    let names: Vec<&str> = cols.iter().map(|(c, _)| *c).collect();
    let marks = vec!["?"; cols.len()].join(", ");
    org.sql(|c| {
        c.execute(
            &format!(
                "INSERT INTO {table} ({}) VALUES ({marks})",
                names.join(", ")
            ),
            rusqlite::params_from_iter(cols.iter().map(|(_, v)| v)),
        )
    });
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

use rusqlite::types::Value::{Integer, Null, Text};

#[test]
fn good_credentials_test_and_enable_then_mail_is_received_and_sent() {
    let org = Org::new("good");
    let p = org.profile("Test IMAP/SMTP", &[]);
    let (user, pw) = org.test_user("alice");
    let alice = org.mailbox("Alice Test", &p, &user, &pw);
    let (bob_user, bob_pw) = org.test_user("bob");
    let bob = org.mailbox("Bob Test", &p, &bob_user, &bob_pw);
    assert_eq!(org.profile_test(&p), (None, None, None));
    org.schedule_test(&alice);
    org.schedule_test(&bob);
    let outcomes = org.run();
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| o.test && !o.failed), "{outcomes:?}");
    // The profile's last test: a success, when it started and how long it took.
    let (status, started, ms) = org.profile_test(&p);
    assert_eq!(status, Some(1));
    assert!(started.is_some_and(|t| Timestamp::parse(&t).is_some()));
    assert!(ms.is_some_and(|ms| ms >= 0));
    for m in [&alice, &bob] {
        assert!(!org.col::<bool>(m, "testemailconfigurationscheduled"));
        assert!(org.col::<bool>(m, "enabledforincomingemail"));
        assert!(org.col::<bool>(m, "enabledforoutgoingemail"));
        assert_eq!(org.col::<i64>(m, "incomingemailstatus"), 1);
        assert_eq!(org.col::<i64>(m, "outgoingemailstatus"), 1);
        assert_eq!(org.col::<i64>(m, "mailboxstatus"), 1);
        assert_eq!(org.col::<i64>(m, "processingstatecode"), 0);
        let alerts = org.alerts(m);
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0].0, 1);
        assert!(alerts[0]
            .2
            .contains("was tested and enabled for incoming email, outgoing email"));
    }

    // The first cycle right after the test takes what the inbox holds.
    let outcomes = org.run();
    assert_eq!(outcomes.len(), 2);
    let received: i64 = org.sql(|c| {
        c.query_row(
            "SELECT count(*) FROM email WHERE receivingmailboxid = ?1 AND statuscode = 4",
            [&alice],
            |r| r.get(0),
        )
    });
    assert!(received >= 1, "alice's seeded messages are received");
    assert_eq!(
        org.col::<i64>(&alice, "itemsprocessedforlastsync"),
        received
    );
    assert!(org
        .col::<Option<String>>(&alice, "lastsuccessfulsynccompletedon")
        .is_some());
    // Nothing is due until the mailbox's next processing time.
    assert!(org.run().is_empty());

    // An email from Alice to Bob, Pending Send: sent at the next cycle, then received by
    // Bob's mailbox over IMAP.
    let subject = format!("Quote {}", new_guid().unwrap());
    let domain = org.mail.var("MAIL_DOMAIN");
    insert(
        &org,
        "email",
        &[
            ("activityid", Text(new_guid().unwrap())),
            ("subject", Text(subject.clone())),
            ("description", Text("The quote you asked for.".into())),
            ("torecipients", Text(format!("{bob_user}@{domain}"))),
            ("directioncode", Integer(1)),
            ("statuscode", Integer(6)),
            ("sendermailboxid", Text(alice.clone())),
        ],
    );
    org.clock.advance(300);
    org.run();
    let (status, senton): (i64, Option<String>) = org.sql(|c| {
        c.query_row(
            "SELECT statuscode, senton FROM email WHERE subject = ?1 AND directioncode = 1",
            [&subject],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    });
    assert_eq!((status, senton.is_some()), (3, true), "the email is Sent");
    let outbox = std::fs::read_dir(org.mail.var("MAIL_OUTBOX")).unwrap();
    let found = outbox
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .any(|m| m.contains(&subject));
    assert!(found, "the SMTP server received the email");
    // Bob's next cycles pick it up from his inbox.
    let mut got = false;
    for _ in 0..6 {
        org.clock.advance(600);
        org.run();
        got = org.sql(|c| {
            c.query_row(
                "SELECT count(*) FROM email WHERE receivingmailboxid = ?1 AND subject = ?2",
                params![bob, subject],
                |r| r.get::<_, i64>(0),
            )
        }) == 1;
        if got {
            break;
        }
    }
    assert!(got, "Bob's mailbox received Alice's email");
    let stats: (i64, i64) = org.sql(|c| {
        c.query_row(
            "SELECT SUM(mailsync_cycles), SUM(mailsync_tests) FROM mailsync_syncstatistic",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    });
    assert!(stats.0 >= 3 && stats.1 == 2, "{stats:?}");
}

#[test]
fn a_wrong_password_is_permanent_and_disables_at_once() {
    let org = Org::new("badpw");
    let p = org.profile("Test IMAP/SMTP", &[]);
    let (user, _) = org.test_user("alice");
    let m = org.mailbox("Alice Wrong", &p, &user, "not-the-password");
    org.schedule_test(&m);
    let o = org.run();
    assert!(o[0].failed);
    assert!(!org.col::<bool>(&m, "enabledforincomingemail"));
    assert_eq!(org.col::<i64>(&m, "incomingemailstatus"), 2);
    assert_eq!(org.col::<i64>(&m, "mailboxstatus"), 2);
    assert!(
        !org.col::<bool>(&m, "testemailconfigurationscheduled"),
        "no retry of a permanent error"
    );
    let alerts = org.alerts(&m);
    let error = alerts
        .iter()
        .find(|a| a.0 == 3)
        .expect("an Error alert on the mailbox");
    assert_eq!(
        error.1,
        mailsync_core::engine::failure::codes::MAILBOX_CREDENTIALS
    );
    assert!(
        error
            .2
            .contains("credentials specified in the mailbox Alice Wrong are incorrect"),
        "{}",
        error.2
    );
    assert!(error.3.contains("login"), "the server's words: {}", error.3);
    // Mailbox level: nothing on the profile; its last test failed.
    assert!(org.alerts(&p).is_empty());
    assert_eq!(org.profile_test(&p).0, Some(0));
}

#[test]
fn a_server_down_is_retried_ten_times_then_permanent() {
    let org = Org::new("down");
    // Nothing listens on port 9 of the loopback.
    let p = org.down_profile("Down", &[]);
    let (user, pw) = org.test_user("alice");
    let m = org.mailbox("Alice Down", &p, &user, &pw);
    org.enable(&m);
    for attempt in 1..=10 {
        let o = org.run();
        assert_eq!(o.len(), 1, "attempt {attempt} runs");
        assert_eq!(org.col::<i64>(&m, "lastsyncerrorcount"), attempt);
        let enabled: bool = org.col(&m, "enabledforincomingemail");
        assert_eq!(enabled, attempt < 10, "attempt {attempt}");
        // Not before the retry interval.
        org.clock.advance(299);
        assert!(org.run().is_empty(), "attempt {attempt}: retried too soon");
        org.clock.advance(1);
    }
    let alerts = org.alerts(&p);
    let warnings: Vec<_> = alerts.iter().filter(|a| a.0 == 2).collect();
    let errors: Vec<_> = alerts.iter().filter(|a| a.0 == 3).collect();
    assert_eq!(
        warnings.len(),
        1,
        "one Warning record, logged again each time: {alerts:?}"
    );
    assert!(
        warnings[0].3.ends_with("Logged 9 times."),
        "{}",
        warnings[0].3
    );
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].1, warnings[0].1, "the same code, now permanent");
    assert!(errors[0]
        .2
        .contains("the connection to the email server failed"));
    assert_eq!(org.col::<i64>(&m, "transientfailurecount"), 9);
    assert_eq!(org.col::<i64>(&m, "incomingemailstatus"), 2);
    // Incoming is disabled: it is not tried any more. Outgoing goes on, and its
    // successful cycle ends the error streak.
    org.clock.advance(3600);
    let o = org.run();
    assert_eq!(o.len(), 1);
    assert!(!o[0].failed);
    assert!(!org.col::<bool>(&m, "enabledforincomingemail"));
    assert_eq!(org.col::<i64>(&m, "lastsyncerrorcount"), 0);
    assert_eq!(org.alerts(&p), alerts, "no new alert");
}

#[test]
fn ssl_on_a_usual_port_is_starttls_and_an_untrusted_certificate_a_secure_connection_error() {
    let org = Org::new("tls");
    let (user, pw) = org.test_user("alice");
    let selfsigned = org.mail.var("MAIL_SELFSIGNED_HOST");
    // (server type, port): IMAP and POP3 with Use SSL on ports that are not their
    // implicit-TLS ones, so they secure the session with STARTTLS / STLS.
    for (server_type, port, selfsigned_port) in [
        (4, "MAIL_IMAP_PORT", "MAIL_IMAP_SELFSIGNED_PORT"),
        (1, "MAIL_POP3_PORT", "MAIL_POP3_SELFSIGNED_PORT"),
    ] {
        let good = org.profile(
            &format!("STARTTLS {server_type}"),
            &[
                ("servertype", Integer(server_type)),
                ("incomingportnumber", Integer(org.mail.port(port))),
            ],
        );
        let m = org.mailbox("Alice STARTTLS", &good, &user, &pw);
        org.schedule_test(&m);
        org.run();
        assert!(org.col::<bool>(&m, "enabledforincomingemail"), "{port}");
        assert_eq!(org.col::<i64>(&m, "incomingemailstatus"), 1);
        // The same server's STARTTLS listener that presents a self-signed certificate:
        // the upgrade happens and the certificate is refused.
        let bad = org.profile(
            &format!("Self-signed {server_type}"),
            &[
                ("servertype", Integer(server_type)),
                ("incomingserverlocation", Text(selfsigned.clone())),
                (
                    "incomingportnumber",
                    Integer(org.mail.port(selfsigned_port)),
                ),
            ],
        );
        let m = org.mailbox("Alice Self-signed", &bad, &user, &pw);
        org.schedule_test(&m);
        org.run();
        assert!(!org.col::<bool>(&m, "enabledforincomingemail"));
        let alerts = org.alerts(&bad);
        assert_eq!(alerts.len(), 1, "a profile-level Error: {alerts:?}");
        assert_eq!(alerts[0].0, 3);
        assert!(alerts[0]
            .2
            .contains("error occurred while establishing a secure connection"));
        assert!(alerts[0].3.contains("tls"), "{}", alerts[0].3);
    }
}

#[test]
fn an_unknown_host_is_a_network_error_retried_and_autodiscover_finding_nothing_the_location() {
    // Seed 002: network issues are transient. A name that does not resolve is one: the
    // direction stays enabled and is tried again after the retry interval.
    let org = Org::new("dns");
    let p = org.profile(
        "Unknown host",
        &[(
            "incomingserverlocation",
            Text("imap.mailsync.invalid".into()),
        )],
    );
    let (user, pw) = org.test_user("alice");
    let m = org.mailbox("Alice DNS", &p, &user, &pw);
    org.enable(&m);
    for attempt in 1..=2 {
        let o = org.run();
        assert_eq!(o.len(), 1, "attempt {attempt} runs");
        assert!(o[0].failed);
        assert_eq!(org.col::<i64>(&m, "lastsyncerrorcount"), attempt);
        assert!(
            org.col::<bool>(&m, "enabledforincomingemail"),
            "still enabled"
        );
        org.clock.advance(300);
    }
    let alerts = org.alerts(&p);
    assert!(
        alerts.iter().any(|a| a.0 == 2
            && a.2.contains("the connection to the email server failed")
            && a.2.contains("imap.mailsync.invalid")
            && a.2.contains("could not be found")),
        "{alerts:?}"
    );
    assert!(alerts.iter().all(|a| a.0 != 3), "no error: {alerts:?}");

    // Autodiscover that finds nothing (the mailbox's domain has no Autodiscover host)
    // is still "the mailbox location could not be determined", and permanent.
    let ex = org.profile(
        "Autodiscover nowhere",
        &[
            ("servertype", Integer(0)),
            ("useautodiscover", Integer(1)),
            ("incomingserverlocation", Null),
            ("outgoingserverlocation", Null),
        ],
    );
    let nowhere = org.mailbox("Nowhere", &ex, &user, &pw);
    org.sql(|c| {
        c.execute(
            "UPDATE mailbox SET emailaddress = 'nobody@mailsync.invalid' WHERE mailboxid = ?1",
            [&nowhere],
        )
    });
    org.schedule_test(&nowhere);
    org.run();
    let alerts = org.alerts(&ex);
    assert!(
        alerts
            .iter()
            .any(|a| a.0 == 3 && a.2.contains("The mailbox location could not be determined")),
        "{alerts:?}"
    );
    assert!(!org.col::<bool>(&nowhere, "enabledforincomingemail"));
}

#[test]
fn approval_is_required_before_anything_connects() {
    let org = Org::new("approval");
    org.set_org("requireapprovalforuseremail", true);
    let p = org.profile("Test IMAP/SMTP", &[]);
    let (user, pw) = org.test_user("alice");
    let m = org.mailbox("Alice Pending", &p, &user, &pw);
    org.sql(|c| {
        c.execute(
            "UPDATE mailbox SET emailrouteraccessapproval = 2 WHERE mailboxid = ?1",
            [&m],
        )
    });
    org.schedule_test(&m);
    org.run();
    assert!(!org.col::<bool>(&m, "enabledforincomingemail"));
    assert!(!org.col::<bool>(&m, "enabledforoutgoingemail"));
    let alerts = org.alerts(&m);
    assert_eq!(alerts.len(), 1, "one alert for both directions: {alerts:?}");
    assert!(alerts[0]
        .2
        .contains("is not approved and the mailbox has been disabled"));
    // Approved, the next test passes.
    org.sql(|c| {
        c.execute(
            "UPDATE mailbox SET emailrouteraccessapproval = 1 WHERE mailboxid = ?1",
            [&m],
        )
    });
    org.schedule_test(&m);
    org.run();
    assert!(org.col::<bool>(&m, "enabledforincomingemail"));
}

#[test]
fn each_alert_toggle_silences_its_level() {
    let org = Org::new("toggles");
    let (user, pw) = org.test_user("alice");
    org.set_org("generatealertsforinformation", false);
    org.set_org("generatealertsforwarnings", false);
    org.set_org("generatealertsforerrors", false);
    let good = org.profile("Good", &[]);
    let m = org.mailbox("Alice Quiet", &good, &user, &pw);
    org.schedule_test(&m);
    org.run();
    assert!(
        org.col::<bool>(&m, "enabledforincomingemail"),
        "the test passed"
    );
    assert!(org.alerts(&m).is_empty(), "no Information alert");
    let down = org.down_profile("Down", &[]);
    let d = org.mailbox("Alice Down Quiet", &down, &user, &pw);
    org.enable(&d);
    org.run();
    assert_eq!(
        org.col::<i64>(&d, "lastsyncerrorcount"),
        1,
        "the failure is recorded"
    );
    assert!(org.alerts(&down).is_empty(), "no Warning alert");
    let bad = org.mailbox("Alice Wrong Quiet", &good, &user, "wrong");
    org.schedule_test(&bad);
    org.run();
    assert!(!org.col::<bool>(&bad, "enabledforincomingemail"));
    assert!(org.alerts(&bad).is_empty(), "no Error alert");
    // Errors on again: the same failure is an alert.
    org.set_org("generatealertsforerrors", true);
    org.schedule_test(&bad);
    org.run();
    assert_eq!(org.alerts(&bad).iter().filter(|a| a.0 == 3).count(), 1);
}

#[test]
fn a_profile_error_reaches_the_affected_mailbox_owners_when_asked() {
    let org = Org::new("notify");
    org.set_org("notifymailboxownerofemailserverlevelalerts", true);
    let (user, pw) = org.test_user("alice");
    let p = org.profile(
        "Self-signed",
        &[
            (
                "incomingserverlocation",
                Text(org.mail.var("MAIL_SELFSIGNED_HOST")),
            ),
            (
                "incomingportnumber",
                Integer(org.mail.port("MAIL_IMAP_SELFSIGNED_PORT")),
            ),
        ],
    );
    let m = org.mailbox("Alice Notified", &p, &user, &pw);
    org.schedule_test(&m);
    org.run();
    let on_profile = org.alerts(&p);
    assert_eq!(on_profile.len(), 1);
    assert_eq!(on_profile[0].0, 3);
    let notice = mailsync_core::engine::failure::codes::PROFILE_ERROR_NOTICE;
    let on_mailbox: Vec<_> = org
        .alerts(&m)
        .into_iter()
        .filter(|a| a.1 == notice)
        .collect();
    assert_eq!(on_mailbox.len(), 1, "{on_mailbox:?}");
    assert_eq!(on_mailbox[0].0, 1, "Information for the mailbox owner");
    assert!(on_mailbox[0].2.contains("no action is required from you"));
    // The owner's wall is the alerts of their mailboxes: they see it.
    let owner: String = org.col(&m, "ownerid");
    let wall: i64 = org.sql(|c| {
        c.query_row(
            "SELECT count(*) FROM tracelog WHERE regardingobjectid IN \
             (SELECT mailboxid FROM mailbox WHERE ownerid = ?1) AND tracecode = ?2",
            params![owner, notice],
            |r| r.get(0),
        )
    });
    assert_eq!(wall, 1);
}

#[test]
fn a_refused_recipient_fails_that_email_alone() {
    let org = Org::new("rcpt");
    let p = org.profile("Test IMAP/SMTP", &[]);
    let (user, pw) = org.test_user("alice");
    let m = org.mailbox("Alice Sender", &p, &user, &pw);
    org.enable(&m);
    let domain = org.mail.var("MAIL_DOMAIN");
    let bad = new_guid().unwrap();
    let good = new_guid().unwrap();
    for (id, to) in [
        (&bad, org.mail.var("MAIL_REJECT_RCPT")),
        (&good, format!("bob@{domain}")),
    ] {
        insert(
            &org,
            "email",
            &[
                ("activityid", Text(id.clone())),
                ("subject", Text(format!("To {to}"))),
                ("torecipients", Text(to)),
                ("directioncode", Integer(1)),
                ("statuscode", Integer(6)),
                ("sendermailboxid", Text(m.clone())),
            ],
        );
    }
    org.run();
    let status = |id: &str| -> i64 {
        org.sql(|c| {
            c.query_row(
                "SELECT statuscode FROM email WHERE activityid = ?1",
                [id],
                |r| r.get(0),
            )
        })
    };
    assert_eq!(status(&bad), 8, "Failed");
    assert_eq!(status(&good), 3, "Sent");
    // An email-level alert, on the mailbox (an alert regards a mailbox or a profile),
    // naming the email; the email itself is Failed.
    assert!(org.alerts(&bad).is_empty());
    let alerts = org.alerts(&m);
    let refused: Vec<_> = alerts
        .iter()
        .filter(|a| a.2.contains("the email server refused the recipient"))
        .collect();
    assert_eq!(refused.len(), 1, "{alerts:?}");
    assert!(refused[0]
        .2
        .contains(&format!("To {}", org.mail.var("MAIL_REJECT_RCPT"))));
    assert!(
        org.col::<bool>(&m, "enabledforoutgoingemail"),
        "the mailbox goes on"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn never_more_passes_at_once_than_the_profile_allows() {
    let org = Org::new("limit");
    let p = org.profile(
        "Two connections",
        &[("maxconcurrentconnections", Integer(2))],
    );
    let (user, pw) = org.test_user("alice");
    for i in 0..5 {
        let m = org.mailbox(&format!("Alice {i}"), &p, &user, &pw);
        org.schedule_test(&m);
    }
    let first = org.engine.dispatch().await.unwrap();
    assert_eq!(first.len(), 2, "two of five start");
    for pass in first {
        pass.await.unwrap();
    }
    let mut rest = 0;
    while rest < 3 {
        let more = org.engine.dispatch().await.unwrap();
        assert!(more.len() <= 2);
        rest += more.len();
        for pass in more {
            pass.await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[test]
fn most_mailboxes_of_a_profile_failing_emails_its_owner() {
    let org = Org::new("notice");
    let (user, pw) = org.test_user("alice");
    let (carol, carol_pw) = org.test_user("carol");
    let domain = org.mail.var("MAIL_DOMAIN");
    // The organization sends through a profile that holds carol's account.
    let outgoing = org.profile(
        "Organization SMTP",
        &[
            ("incomingcredentialretrieval", Integer(1)),
            ("outgoingcredentialretrieval", Integer(1)),
            ("incomingusername", Text(carol.clone())),
            ("incomingpassword", Text(carol_pw.clone())),
        ],
    );
    org.sql(|c| {
        c.execute(
            "UPDATE organization SET defaultemailserverprofileid = ?1",
            [&outgoing],
        )
    });
    org.sql(|c| {
        c.execute(
            "UPDATE systemuser SET internalemailaddress = ?1 WHERE systemuserid = ?2",
            params![format!("{carol}@{domain}"), ADMIN_ID],
        )
    });
    let failing = org.down_profile("Failing", &[("sendemailalert", Integer(1))]);
    org.enabled_mailboxes("Alice Failing", &failing, 3, &user, &pw);
    org.run();
    let (status, to): (i64, String) = org.sql(|c| {
        c.query_row("SELECT statuscode, torecipients FROM email WHERE sendermailboxid IS NULL AND directioncode = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
    });
    assert_eq!(status, 3, "the notice was sent");
    assert_eq!(to, format!("{carol}@{domain}"));
    // Once an hour at most.
    org.clock.advance(300);
    org.run();
    let notices: i64 = org.sql(|c| {
        c.query_row(
            "SELECT count(*) FROM email WHERE sendermailboxid IS NULL",
            [],
            |r| r.get(0),
        )
    });
    assert_eq!(notices, 1);
}

#[test]
fn the_demo_organization_fails_as_it_really_would() {
    let mail = Mail::get();
    let dir = std::env::temp_dir().join(format!("mailsync-engine-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::open(&dir.join("org.sqlite")).unwrap();
    store
        .with_conn(|c| seed::initialize(c, SeedKind::Demo, Some("pw"), START).map(drop))
        .unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp(START.0 + 3600)));
    let args = EngineArgs {
        engine: Switch::On,
        retry_limit: 10,
        retry_interval: 300,
        trust_ca: vec![PathBuf::from(mail.var("MAIL_CA"))],
        mail_timeout: 5,
        autodiscover_hosts: Vec::new(),
        entra_authority: "https://login.microsoftonline.com".into(),
        google_authority: "https://accounts.google.com".into(),
        exchange_online_tenant: None,
        exchange_online_client_id: None,
        exchange_online_certificate: None,
        exchange_online_secret: None,
    };
    let engine = Engine::new(store.clone(), clock, &args).unwrap();
    let rt = runtime();
    // Each look takes what the profiles' connections allow; the failed ones wait.
    let mut outcomes = Vec::new();
    loop {
        let round = rt.block_on(engine.run_due()).unwrap();
        if round.is_empty() {
            break;
        }
        outcomes.extend(round);
    }
    assert!(outcomes.len() > 100, "{} passes", outcomes.len());
    // Whatever connects fails: no demo server exists (an outgoing direction with
    // nothing to send has nothing to connect for).
    assert!(outcomes.iter().all(|o| o.items == 0));
    assert!(outcomes.iter().filter(|o| o.failed).count() > 100);
    // Every error is one the knowledge base knows.
    let errors: Vec<String> = store
        .with_conn(|c| {
            let mut s = c.prepare(
                "SELECT DISTINCT lastsyncerror FROM mailbox WHERE lastsyncerroroccurredon >= ?1",
            )?;
            let v = s
                .query_map([Timestamp(START.0 + 3600).to_rfc3339()], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(v)
        })
        .unwrap();
    assert!(!errors.is_empty());
    for e in errors {
        let c = mailsync_core::classify::classify(&mailsync_core::classify::Evidence {
            error_type: None,
            text: &e,
            http_status: None,
            error_code: None,
        });
        assert!(!c.inferred, "unclassified: {e}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A server that accepts connections and never says a word (a hung mail server): a
/// pass against it holds its connection until the mail timeout.
fn stalled_server() -> i64 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    i64::from(port)
}

fn at(org: &Org, mailbox: &str, column: &str) -> Option<Timestamp> {
    org.col::<Option<String>>(mailbox, column)
        .and_then(|t| Timestamp::parse(&t))
        .map(|p| p.at)
}

#[tokio::test(flavor = "current_thread")]
async fn a_due_mailbox_with_nothing_to_do_is_not_read_again_until_it_is_due() {
    let org = Org::new("idle");
    let p = org.profile("Test IMAP/SMTP", &[]);
    let (user, pw) = org.test_user("alice");
    let now = org.clock_now();
    // As the scale seed leaves them: pending a test that is not due yet, never
    // processed.
    let pending = org.mailbox("Alice Pending Test", &p, &user, &pw);
    org.sql(|c| {
        c.execute(
            "UPDATE mailbox SET testemailconfigurationscheduled = 1, \
             postponetestemailconfigurationuntil = ?2, postponemailboxprocessinguntil = NULL \
             WHERE mailboxid = ?1",
            params![pending, Timestamp(now.0 + 300).to_rfc3339()],
        )
    });
    // Due, but the only direction due was disabled by an administrator and incoming
    // is backed off.
    let backed = org.mailbox("Alice Backed Off", &p, &user, &pw);
    org.enable(&backed);
    org.sql(|c| {
        c.execute(
            "UPDATE mailbox SET enabledforoutgoingemail = 0, receivingpostponeduntil = ?2 \
             WHERE mailboxid = ?1",
            params![backed, Timestamp(now.0 + 1200).to_rfc3339()],
        )
    });
    // Both are due candidates; neither takes a connection, and neither is read again
    // before it is due.
    assert!(org.engine.dispatch().await.unwrap().is_empty());
    assert!(org.engine.dispatch().await.unwrap().is_empty());
    assert_eq!(
        at(&org, &pending, "postponemailboxprocessinguntil"),
        Some(Timestamp(now.0 + 300))
    );
    assert_eq!(
        at(&org, &backed, "postponemailboxprocessinguntil"),
        Some(Timestamp(now.0 + 1200))
    );
    org.clock.advance(300);
    let o = org.engine.run_due().await.unwrap();
    assert_eq!(o.len(), 1);
    assert!(o[0].test, "the test runs when it is due");
    org.clock.advance(900);
    let o = org.engine.run_due().await.unwrap();
    assert!(
        o.iter().any(|o| !o.test),
        "the backed-off mailbox synchronizes"
    );
    assert_eq!(org.col::<i64>(&backed, "processedtimes"), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_profile_without_free_connections_does_not_hold_up_another() {
    let org = Org::with_args("fair", |a| a.mail_timeout = 2);
    let stalled = stalled_server();
    let busy = org.profile(
        "Busy",
        &[
            ("incomingportnumber", Integer(stalled)),
            ("incomingusessl", Integer(0)),
            ("maxconcurrentconnections", Integer(1)),
        ],
    );
    let (user, pw) = org.test_user("alice");
    let hour_ago = Timestamp(org.clock_now().0 - 3600).to_rfc3339();
    // More overdue mailboxes than a look used to read.
    for i in 0..60 {
        let m = org.mailbox(&format!("Alice Busy {i}"), &busy, &user, &pw);
        org.enable(&m);
        org.sql(|c| {
            c.execute(
                "UPDATE mailbox SET postponemailboxprocessinguntil = ?2 WHERE mailboxid = ?1",
                params![m, hour_ago],
            )
        });
    }
    let other = org.profile("Other", &[]);
    let b = org.mailbox("Bob Other", &other, &user, &pw);
    org.enable(&b);
    let first = org.engine.dispatch().await.unwrap();
    let second = org.engine.dispatch().await.unwrap();
    assert_eq!(
        first.len() + second.len(),
        2,
        "one of the busy profile's (its only connection) and the other profile's"
    );
    for pass in first.into_iter().chain(second) {
        pass.await.unwrap();
    }
    assert_eq!(org.col::<i64>(&b, "processedtimes"), 1);
}

/// An email from `mailbox` to `to`, Pending Send; returns its id.
fn pending_email(org: &Org, mailbox: &str, to: &str) -> String {
    let id = new_guid().unwrap();
    insert(
        org,
        "email",
        &[
            ("activityid", Text(id.clone())),
            ("subject", Text(format!("To {to}"))),
            ("torecipients", Text(to.into())),
            ("directioncode", Integer(1)),
            ("statuscode", Integer(6)),
            ("sendermailboxid", Text(mailbox.into())),
        ],
    );
    id
}

fn email_status(org: &Org, id: &str) -> (i64, i64) {
    org.sql(|c| {
        c.query_row(
            "SELECT statuscode, deliveryattempts FROM email WHERE activityid = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    })
}

#[test]
fn a_deferred_or_cut_off_email_stays_pending_and_is_retried() {
    let org = Org::new("defer");
    let p = org.profile("Test IMAP/SMTP", &[]);
    let (user, pw) = org.test_user("alice");
    let domain = org.mail.var("MAIL_DOMAIN");
    let m = org.mailbox("Alice Greylisted", &p, &user, &pw);
    org.enable(&m);
    let deferred = pending_email(&org, &m, &org.mail.var("MAIL_DEFER_RCPT"));
    let good = pending_email(&org, &m, &format!("bob@{domain}"));
    org.run();
    assert_eq!(email_status(&org, &deferred), (6, 1), "still Pending Send");
    assert_eq!(email_status(&org, &good).0, 3, "the other one is Sent");
    assert!(org.alerts(&deferred).is_empty(), "no email-level alert");
    let on_mailbox = org.alerts(&m);
    assert_eq!(on_mailbox.len(), 1, "{on_mailbox:?}");
    assert_eq!(on_mailbox[0].0, 2, "a Warning: it is retried");
    assert!(
        on_mailbox[0].2.contains("asked to try again later") && on_mailbox[0].3.contains("451"),
        "{on_mailbox:?}"
    );
    assert!(org.col::<bool>(&m, "enabledforoutgoingemail"));
    assert_eq!(org.col::<i64>(&m, "lastsyncerrorcount"), 1);
    // Sent again at the retry.
    org.clock.advance(300);
    org.run();
    assert_eq!(email_status(&org, &deferred), (6, 2));
    assert_eq!(org.col::<i64>(&m, "lastsyncerrorcount"), 2);

    // The server hanging up mid-transaction: a connection failure, retried.
    let h = org.mailbox("Alice Cut Off", &p, &user, &pw);
    org.enable(&h);
    let cut = pending_email(&org, &h, &org.mail.var("MAIL_HANGUP_RCPT"));
    org.run();
    assert_eq!(email_status(&org, &cut), (6, 1));
    assert!(org.alerts(&cut).is_empty());
    assert!(org.col::<bool>(&h, "enabledforoutgoingemail"));
    let on_profile = org.alerts(&p);
    assert!(
        on_profile
            .iter()
            .any(|a| a.0 == 2 && a.2.contains("closed the connection")),
        "{on_profile:?}"
    );
}

#[test]
fn outgoing_email_between_retries_does_not_save_a_down_incoming_server() {
    // Not Dataverse's 10 x 5 minutes: 3 attempts, 15 minutes apart.
    let org = Org::with_args("streak", |a| {
        a.retry_limit = 3;
        a.retry_interval = 900;
    });
    let p = org.down_profile("Incoming down", &[]);
    let (user, pw) = org.test_user("alice");
    let m = org.mailbox("Alice Streak", &p, &user, &pw);
    org.enable(&m);
    let start = org.clock_now().0;
    let mut attempts = Vec::new();
    let mut disabled_at = None;
    for _ in 0..12 {
        let before: i64 = org.col(&m, "lastsyncerrorcount");
        let o = org.run();
        let after: i64 = org.col(&m, "lastsyncerrorcount");
        if after > before {
            attempts.push(org.clock_now().0 - start);
        }
        if !o.is_empty() && disabled_at.is_none() {
            assert!(
                after >= before,
                "a cycle of outgoing alone ended the streak"
            );
        }
        if disabled_at.is_none() && !org.col::<bool>(&m, "enabledforincomingemail") {
            disabled_at = Some(org.clock_now().0 - start);
        }
        org.clock.advance(300);
    }
    assert_eq!(attempts, vec![0, 900, 1800], "retried at the interval");
    assert_eq!(disabled_at, Some(1800), "disabled at the third attempt");
    assert_eq!(org.col::<i64>(&m, "incomingemailstatus"), 2);
    assert!(org.col::<bool>(&m, "enabledforoutgoingemail"));
    let errors = org.alerts(&p).into_iter().filter(|a| a.0 == 3).count();
    assert_eq!(errors, 1, "the permanent error once");
    let cycles: i64 = org.col(&m, "processedtimes");
    assert!(
        cycles > 3,
        "outgoing ran between the retries: {cycles} cycles"
    );
}

#[test]
fn a_direction_disabled_by_a_sync_makes_the_mailbox_status_a_failure() {
    let org = Org::with_args("mbstatus", |a| a.retry_limit = 2);
    let p = org.down_profile("Down", &[]);
    let (user, pw) = org.test_user("alice");
    let m = org.mailbox("Alice Status", &p, &user, &pw);
    org.enable(&m);
    org.sql(|c| {
        c.execute(
            "UPDATE mailbox SET mailboxstatus = 1 WHERE mailboxid = ?1",
            [&m],
        )
    });
    org.run();
    assert!(org.col::<bool>(&m, "enabledforincomingemail"));
    org.clock.advance(300);
    org.run();
    assert!(!org.col::<bool>(&m, "enabledforincomingemail"));
    assert_eq!(org.col::<i64>(&m, "incomingemailstatus"), 2);
    assert_eq!(
        org.col::<i64>(&m, "mailboxstatus"),
        2,
        "all directions together follow"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_marks_the_mailbox_processed_and_keeps_an_administrators_change() {
    let org = Org::with_args("overwrite", |a| a.mail_timeout = 2);
    let stalled = stalled_server();
    let p = org.profile(
        "Hung",
        &[
            ("incomingportnumber", Integer(stalled)),
            ("incomingusessl", Integer(0)),
        ],
    );
    let (user, pw) = org.test_user("alice");
    let m = org.mailbox("Alice Hung", &p, &user, &pw);
    org.enable(&m);
    let passes = org.engine.dispatch().await.unwrap();
    assert_eq!(passes.len(), 1);
    // While the server keeps the pass waiting, the mailbox shows it is processed, by
    // whom and since when.
    let mut seen = false;
    for _ in 0..100 {
        if org.col::<i64>(&m, "processingstatecode") == 1 {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(seen, "processingstatecode is 1 during the pass");
    assert_eq!(
        org.col::<Option<String>>(&m, "hostid").as_deref(),
        Some(org.engine.config.host_id.as_str())
    );
    assert_eq!(
        at(&org, &m, "processinglastattemptedon"),
        Some(org.clock_now())
    );
    // An administrator turns outgoing email off meanwhile.
    org.sql(|c| {
        c.execute(
            "UPDATE mailbox SET enabledforoutgoingemail = 0 WHERE mailboxid = ?1",
            [&m],
        )
    });
    for pass in passes {
        pass.await.unwrap();
    }
    assert!(
        !org.col::<bool>(&m, "enabledforoutgoingemail"),
        "the administrator's change survives the pass"
    );
    assert_eq!(
        org.col::<i64>(&m, "lastsyncerrorcount"),
        1,
        "the pass's own"
    );
    assert_eq!(org.col::<i64>(&m, "processingstatecode"), 0);
    assert_eq!(org.col::<Option<String>>(&m, "hostid"), None);
}

#[test]
fn with_the_email_router_the_engine_leaves_email_alone_and_syncs_act() {
    let org = Org::new("router");
    org.sql(|c| c.execute("UPDATE organization SET emailconnectionchannel = 1", []));
    let (user, pw) = org.test_user("alice");
    let domain = org.mail.var("MAIL_DOMAIN");
    // IMAP/SMTP: incoming and outgoing only, both "Server-Side Synchronization or
    // Email Router": the router's.
    let imap = org.profile("Test IMAP/SMTP", &[]);
    let m = org.mailbox("Alice Router", &imap, &user, &pw);
    org.enable(&m);
    let email = pending_email(&org, &m, &format!("bob@{domain}"));
    let tested = org.mailbox("Alice Router Test", &imap, &user, &pw);
    org.schedule_test(&tested);
    // Exchange: appointments, contacts and tasks through server-side synchronization
    // (an Exchange mailbox of this test's own: the fake EWS remembers which
    // organization each mailbox synchronizes with).
    let (x, _, _) = act_mailbox(&org, "router");
    let ews: String = org.col(&x, "emailserverprofile");
    org.enable(&x);
    org.sql(|c| {
        c.execute(
            "UPDATE mailbox SET actdeliverymethod = 1, enabledforact = 1 WHERE mailboxid = ?1",
            [&x],
        )
    });
    let o = org.run();
    assert_eq!(o.len(), 1, "only the Exchange mailbox's ACT: {o:?}");
    assert!(!o[0].failed, "{:?}", org.alerts(&ews));
    assert!(at(&org, &x, "receivingpostponeduntilforact").is_some());
    assert_eq!(
        at(&org, &x, "receivingpostponeduntil"),
        None,
        "incoming not run"
    );
    assert_eq!(email_status(&org, &email), (6, 0), "not sent, not tried");
    assert_eq!(org.col::<i64>(&m, "processedtimes"), 0);
    assert!(org.col::<bool>(&tested, "testemailconfigurationscheduled"));
    assert!(org.alerts(&tested).is_empty());
    // Back to server-side synchronization: the engine takes email over.
    org.sql(|c| c.execute("UPDATE organization SET emailconnectionchannel = 0", []));
    org.clock.advance(600);
    org.run();
    assert_eq!(email_status(&org, &email).0, 3, "sent");
    assert!(!org.col::<bool>(&tested, "testemailconfigurationscheduled"));
    assert!(at(&org, &x, "receivingpostponeduntil").is_some());
}

/// The organization sends notices through a profile holding carol's account, to the
/// administrator (who owns the test profiles) at carol's address.
/// The organization's default profile holds carol's account (`tune`: its server
/// type and places, IMAP/SMTP unless told).
fn notices_through_carol(org: &Org, tune: &[(&str, rusqlite::types::Value)]) {
    let (carol, carol_pw) = org.test_user("carol");
    let domain = org.mail.var("MAIL_DOMAIN");
    let mut cols = vec![
        ("incomingcredentialretrieval", Integer(1)),
        ("outgoingcredentialretrieval", Integer(1)),
        ("incomingusername", Text(carol.clone())),
        ("incomingpassword", Text(carol_pw)),
    ];
    cols.extend(tune.iter().cloned());
    let outgoing = org.profile("Organization default", &cols);
    org.sql(|c| {
        c.execute(
            "UPDATE organization SET defaultemailserverprofileid = ?1",
            [&outgoing],
        )
    });
    org.sql(|c| {
        c.execute(
            "UPDATE systemuser SET internalemailaddress = ?1 WHERE systemuserid = ?2",
            params![format!("{carol}@{domain}"), ADMIN_ID],
        )
    });
}

fn notices(org: &Org) -> i64 {
    org.sql(|c| {
        c.query_row(
            "SELECT count(*) FROM email WHERE sendermailboxid IS NULL AND directioncode = 1",
            [],
            |r| r.get(0),
        )
    })
}

#[test]
fn the_owner_is_not_emailed_when_half_or_fewer_fail_or_the_profile_does_not_ask() {
    let org = Org::new("nonotice");
    notices_through_carol(&org, &[]);
    let (user, pw) = org.test_user("alice");
    // Half of a profile's mailboxes failing (a wrong password each) is not "more than
    // half".
    let p = org.profile("Half failing", &[("sendemailalert", Integer(1))]);
    for i in 0..2 {
        let good = org.mailbox(&format!("Alice Good {i}"), &p, &user, &pw);
        org.enable(&good);
        let bad = org.mailbox(&format!("Alice Bad {i}"), &p, &user, "wrong");
        org.enable(&bad);
    }
    let o = org.run();
    assert_eq!(o.iter().filter(|o| o.failed).count(), 2, "{o:?}");
    assert_eq!(notices(&org), 0, "2 of 4 failed: no notice");
    // Every mailbox of a profile failing, but the profile does not ask for notices.
    let quiet = org.down_profile("Down, no notices", &[("sendemailalert", Integer(0))]);
    org.enabled_mailboxes("Alice Quiet", &quiet, 3, &user, &pw);
    let o = org.run();
    assert_eq!(o.iter().filter(|o| o.failed).count(), 3, "{o:?}");
    assert_eq!(notices(&org), 0, "sendemailalert is off");
    // One more failing mailbox tips the first profile over half: now the owner hears.
    let bad = org.mailbox("Alice Bad 2", &p, &user, "wrong");
    org.enable(&bad);
    org.run();
    assert_eq!(notices(&org), 1, "3 of 5 failed");
}

/// Puts a message into `user`'s Maildir as delivered at `at` (its file time, IMAP's
/// INTERNALDATE) and dated `at` (its Date header); returns its subject.
fn deliver(org: &Org, user: &str, at: std::time::SystemTime) -> String {
    use std::os::unix::fs::MetadataExt;
    let dir = Path::new(&org.mail.var("MAIL_MAILDIR_ROOT")).join(format!("{user}/Maildir"));
    let owner = std::fs::metadata(&dir).unwrap();
    let secs = at.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let subject = format!("Dated {}", new_guid().unwrap());
    let (y, mo, d, h, mi, s) = Timestamp(secs).civil();
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let text = format!(
        "From: sender@example.test\r\nTo: {user}@example.test\r\nSubject: {subject}\r\n\
         Date: {d} {} {y} {h:02}:{mi:02}:{s:02} +0000\r\nMessage-ID: <{}@example.test>\r\n\r\nHello\r\n",
        MONTHS[mo as usize - 1],
        new_guid().unwrap()
    );
    let path = dir.join(format!("new/{secs}.{}.mailsync", new_guid().unwrap()));
    std::fs::write(&path, text).unwrap();
    std::os::unix::fs::chown(&path, Some(owner.uid()), Some(owner.gid())).unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(at).unwrap();
    subject
}

fn received_subject(org: &Org, mailbox: &str, subject: &str) -> bool {
    org.sql(|c| {
        c.query_row(
            "SELECT count(*) FROM email WHERE receivingmailboxid = ?1 AND subject = ?2",
            params![mailbox, subject],
            |r| r.get::<_, i64>(0),
        )
    }) > 0
}

#[test]
fn mail_received_before_process_email_received_after_is_not_taken() {
    use std::time::{Duration as D, SystemTime};
    let org = Org::new("after");
    // Alice's inbox stays small (the other tests send to bob and carol): the new
    // message is within a cycle's reach.
    let (user, pw) = org.test_user("alice");
    let now = SystemTime::now();
    let old = deliver(&org, &user, now - D::from_secs(3 * 86_400));
    let after = Timestamp(
        (now - D::from_secs(86_400))
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    );
    let imap = org.profile("Test IMAP/SMTP", &[]);
    // The POP3 mailbox has no date of its own: its profile's holds.
    let pop3 = org.profile(
        "Test POP3/SMTP",
        &[
            ("servertype", Integer(1)),
            (
                "incomingportnumber",
                Integer(org.mail.port("MAIL_POP3_PORT")),
            ),
            ("processemailsreceivedafter", Text(after.to_rfc3339())),
        ],
    );
    let mailboxes = [
        org.mailbox("Alice IMAP", &imap, &user, &pw),
        org.mailbox("Alice POP3", &pop3, &user, &pw),
    ];
    for m in &mailboxes {
        org.enable(m);
    }
    org.sql(|c| {
        c.execute(
            "UPDATE mailbox SET processemailreceivedafter = ?2 WHERE mailboxid = ?1",
            params![mailboxes[0], after.to_rfc3339()],
        )
    });
    org.run();
    let new = deliver(&org, &user, now);
    org.clock.advance(3600);
    org.run();
    for m in &mailboxes {
        assert!(!received_subject(&org, m, &old), "older than the date");
        assert!(received_subject(&org, m, &new), "received after the date");
    }
}

/// An Exchange profile whose EWS URL is the fake EWS (no autodiscover).
fn exchange_profile(org: &Org) -> String {
    let url = org.mail.var("MAIL_EWS_URL");
    org.profile(
        "Test Exchange",
        &[
            ("servertype", Integer(0)),
            ("incomingserverlocation", Text(url.clone())),
            ("outgoingserverlocation", Text(url)),
        ],
    )
}

#[test]
fn the_owners_notice_goes_out_through_an_exchange_default_profile() {
    let org = Org::new("ews-notice");
    let url = org.mail.var("MAIL_EWS_URL");
    notices_through_carol(
        &org,
        &[
            ("servertype", Integer(0)),
            ("incomingserverlocation", Text(url.clone())),
            ("outgoingserverlocation", Text(url)),
        ],
    );
    let (user, pw) = org.test_user("alice");
    let down = org.down_profile("Down, notices", &[("sendemailalert", Integer(1))]);
    org.enabled_mailboxes("Alice Down", &down, 3, &user, &pw);
    org.run();
    let (status, subject): (i64, String) = org.sql(|c| {
        c.query_row(
            "SELECT statuscode, subject FROM email WHERE sendermailboxid IS NULL \
             AND directioncode = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    });
    assert_eq!(status, 3, "sent over EWS");
    assert!(
        outbox_with(&org, &subject).is_some(),
        "the fake EWS took it into the outbox"
    );
}

/// A mailbox on `profile` enabled for outgoing email only.
fn exchange_sender(org: &Org, profile: &str, name: &str, user: &str, pw: &str) -> String {
    let m = org.mailbox(name, profile, user, pw);
    org.enable(&m);
    org.sql(|c| {
        c.execute(
            "UPDATE mailbox SET enabledforincomingemail = 0 WHERE mailboxid = ?1",
            [&m],
        )
    });
    m
}

fn outbox_with(org: &Org, needle: &str) -> Option<String> {
    std::fs::read_dir(org.mail.var("MAIL_OUTBOX"))
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .find(|m| m.contains(needle))
}

#[test]
fn exchange_outgoing_sends_pending_email_and_a_refused_recipient_fails_alone() {
    let org = Org::new("ews-send");
    let p = exchange_profile(&org);
    let (user, pw) = org.test_user("alice");
    // Outgoing only: what the cycle counts is what it sent.
    let m = exchange_sender(&org, &p, "Alice Exchange", &user, &pw);
    let domain = org.mail.var("MAIL_DOMAIN");
    let good = pending_email(&org, &m, &format!("bob@{domain}"));
    let bad = pending_email(&org, &m, &org.mail.var("MAIL_REJECT_RCPT"));
    let also = pending_email(&org, &m, &format!("carol@{domain}; bob@{domain}"));
    let o = org.run();
    assert_eq!(o.len(), 1, "{o:?}");
    assert!(!o[0].failed, "{:?}", org.alerts(&m));
    assert_eq!(email_status(&org, &good), (3, 1), "Sent");
    assert_eq!(email_status(&org, &also), (3, 1), "Sent");
    assert_eq!(email_status(&org, &bad), (8, 1), "Failed");
    assert_eq!(org.col::<i64>(&m, "itemsprocessedforlastsync"), 2);
    assert_eq!(org.col::<i64>(&m, "itemsfailedforlastsync"), 1);
    // The fake EWS took them through CreateItem, as alice, into the outbox.
    for id in [&good, &also] {
        let eml = outbox_with(&org, &format!("<{id}@mailsync.local>"))
            .unwrap_or_else(|| panic!("{id} not in the outbox"));
        assert!(eml.contains("X-Mailsync-Via: EWS CreateItem"), "{eml}");
        assert!(eml.contains(&format!("X-Mailsync-Auth: {user}")), "{eml}");
    }
    assert!(outbox_with(&org, &format!("<{bad}@mailsync.local>")).is_none());
    // The refused email alone has an alert (on the mailbox: an alert regards a mailbox
    // or a profile, and it names the email); the mailbox goes on.
    assert!(org.alerts(&bad).is_empty());
    let alerts: Vec<_> = org
        .alerts(&m)
        .into_iter()
        .filter(|a| a.2.contains("the email server refused the recipient"))
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].2.contains("ErrorInvalidRecipients"), "{alerts:?}");
    assert!(org.col::<bool>(&m, "enabledforoutgoingemail"));
    assert_eq!(org.col::<i64>(&m, "outgoingemailstatus"), 1);
    // Nothing is sent twice: the next cycle finds nothing Pending Send.
    org.clock.advance(600);
    org.run();
    assert_eq!(email_status(&org, &good), (3, 1));
    assert_eq!(org.col::<i64>(&m, "itemsprocessedforlastsync"), 0);
}

#[test]
fn exchange_outgoing_with_a_wrong_password_leaves_email_pending() {
    let org = Org::new("ews-send-badpw");
    let p = exchange_profile(&org);
    let (user, _) = org.test_user("alice");
    let m = org.mailbox("Alice Exchange", &p, &user, "wrong");
    org.enable(&m);
    let domain = org.mail.var("MAIL_DOMAIN");
    let email = pending_email(&org, &m, &format!("bob@{domain}"));
    let o = org.run();
    assert!(o[0].failed, "{o:?}");
    assert_eq!(email_status(&org, &email), (6, 1), "still Pending Send");
    assert!(
        !org.col::<bool>(&m, "enabledforoutgoingemail"),
        "credentials: permanent"
    );
    assert!(org.alerts(&email).is_empty(), "a mailbox-level failure");
    assert!(!org.alerts(&m).is_empty());
}

/// The received emails of `mailbox`: (message id, subject).
fn received_emails(org: &Org, mailbox: &str) -> Vec<(Option<String>, Option<String>)> {
    org.sql(|c| {
        let mut s = c.prepare(
            "SELECT messageid, subject FROM email WHERE receivingmailboxid = ?1 AND statuscode = 4",
        )?;
        let rows = s
            .query_map([mailbox], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>();
        rows
    })
}

#[test]
fn exchange_incoming_records_the_inbox_once_then_only_what_is_new() {
    let org = Org::new("ews-find");
    let p = exchange_profile(&org);
    let (user, pw) = org.test_user("alice");
    let m = org.mailbox("Alice Exchange", &p, &user, &pw);
    org.enable(&m);
    let first = deliver(&org, &user, std::time::SystemTime::now());
    let o = org.run();
    assert!(!o[0].failed, "{:?}", org.alerts(&m));
    let got = received_emails(&org, &m);
    assert!(got.len() >= 4, "the seeded messages and ours: {got:?}");
    assert!(got
        .iter()
        .any(|(_, s)| s.as_deref() == Some("Welcome to the test mailbox")));
    assert!(received_subject(&org, &m, &first));
    assert_eq!(
        org.col::<i64>(&m, "itemsprocessedforlastsync"),
        got.len() as i64
    );
    let (owner, from): (Option<String>, Option<String>) = org.sql(|c| {
        c.query_row(
            "SELECT ownerid, sender FROM email WHERE receivingmailboxid = ?1 AND subject = ?2",
            params![m, first],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    });
    assert!(owner.is_some());
    assert_eq!(from.as_deref(), Some("sender@example.test"));

    // The next cycle takes only the message delivered since.
    let second = deliver(&org, &user, std::time::SystemTime::now());
    org.clock.advance(3600);
    let o = org.run();
    assert!(!o.is_empty() && !o[0].failed, "{o:?}");
    let again = received_emails(&org, &m);
    assert!(received_subject(&org, &m, &second));
    let once = |s: &str| {
        again
            .iter()
            .filter(|(_, x)| x.as_deref() == Some(s))
            .count()
    };
    assert_eq!((once(&first), once(&second)), (1, 1), "{again:?}");
    let mut ids: Vec<_> = again.iter().filter_map(|(id, _)| id.clone()).collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "no message recorded twice");
    assert_eq!(
        org.col::<i64>(&m, "itemsprocessedforlastsync"),
        (again.len() - got.len()) as i64
    );
    // Nothing new: nothing taken.
    org.clock.advance(3600);
    org.run();
    assert_eq!(received_emails(&org, &m).len(), again.len());
}

#[test]
fn exchange_busy_leaves_that_email_pending_and_is_retried() {
    let org = Org::new("ews-busy");
    let p = exchange_profile(&org);
    let (user, pw) = org.test_user("alice");
    let m = exchange_sender(&org, &p, "Alice Exchange Busy", &user, &pw);
    let domain = org.mail.var("MAIL_DOMAIN");
    let busy = pending_email(&org, &m, &org.mail.var("MAIL_DEFER_RCPT"));
    let good = pending_email(&org, &m, &format!("bob@{domain}"));
    org.run();
    assert_eq!(email_status(&org, &busy), (6, 1), "still Pending Send");
    assert_eq!(email_status(&org, &good).0, 3, "the other one is Sent");
    assert!(org.alerts(&busy).is_empty(), "no email-level alert");
    let on_mailbox = org.alerts(&m);
    assert_eq!(on_mailbox.len(), 1, "{on_mailbox:?}");
    assert_eq!(on_mailbox[0].0, 2, "a Warning: it is retried");
    assert!(
        on_mailbox[0].2.contains("asked to try again later")
            && on_mailbox[0].3.contains("ErrorServerBusy"),
        "{on_mailbox:?}"
    );
    assert!(org.col::<bool>(&m, "enabledforoutgoingemail"));
    org.clock.advance(300);
    org.run();
    assert_eq!(email_status(&org, &busy), (6, 2), "tried again");
    assert_eq!(email_status(&org, &good), (3, 1), "not sent twice");
}

/// Issue 10.1: with "Use impersonation", every EWS call names the mailbox it acts for,
/// so two mailboxes on one service account's profile receive their own items only,
/// never the service account's inbox; an account without the right is refused.
#[test]
fn impersonation_gives_each_mailbox_its_own_items() {
    let org = Org::new("ews-impersonate");
    let url = org.mail.var("MAIL_EWS_URL");
    let (svc, svc_pw) = org.test_user(&org.mail.var("MAIL_IMPERSONATOR"));
    let p = org.profile(
        "Exchange, impersonation",
        &[
            ("servertype", Integer(0)),
            ("incomingserverlocation", Text(url.clone())),
            ("outgoingserverlocation", Text(url)),
            ("incomingcredentialretrieval", Integer(1)),
            ("outgoingcredentialretrieval", Integer(1)),
            ("incomingusername", Text(svc.clone())),
            ("incomingpassword", Text(svc_pw)),
            ("incominguseimpersonation", Integer(1)),
        ],
    );
    let (alice, _) = org.test_user("alice");
    let (bob, _) = org.test_user("bob");
    // Each mailbox's own user name and password are not used: the profile's account is.
    let a = org.mailbox("Alice Impersonated", &p, &alice, "unused");
    let b = org.mailbox("Bob Impersonated", &p, &bob, "unused");
    org.enable(&a);
    org.enable(&b);
    let to_alice = deliver(&org, &alice, std::time::SystemTime::now());
    let to_bob = deliver(&org, &bob, std::time::SystemTime::now());
    let to_svc = deliver(&org, &svc, std::time::SystemTime::now());
    let outcomes = org.run();
    assert_eq!(outcomes.len(), 2);
    assert!(
        outcomes.iter().all(|o| !o.failed),
        "{:?} {:?}",
        org.alerts(&a),
        org.alerts(&b)
    );
    assert!(received_subject(&org, &a, &to_alice) && !received_subject(&org, &a, &to_bob));
    assert!(received_subject(&org, &b, &to_bob) && !received_subject(&org, &b, &to_alice));
    for m in [&a, &b] {
        assert!(
            !received_subject(&org, m, &to_svc),
            "the service account's own mail leaked"
        );
    }

    // An account that may not impersonate: Exchange refuses, and the engine says why.
    let (carol, carol_pw) = org.test_user("carol");
    let denied = org.profile(
        "Exchange, impersonation denied",
        &[
            ("servertype", Integer(0)),
            ("incomingserverlocation", Text(org.mail.var("MAIL_EWS_URL"))),
            ("outgoingserverlocation", Text(org.mail.var("MAIL_EWS_URL"))),
            ("incomingcredentialretrieval", Integer(1)),
            ("outgoingcredentialretrieval", Integer(1)),
            ("incomingusername", Text(carol)),
            ("incomingpassword", Text(carol_pw)),
            ("incominguseimpersonation", Integer(1)),
        ],
    );
    let d = org.mailbox("Alice Denied", &denied, &alice, "unused");
    org.enable(&d);
    let before = received_emails(&org, &d).len();
    org.clock.advance(3600);
    org.run();
    assert_eq!(received_emails(&org, &d).len(), before, "nothing taken");
    let error: String = org.col(&d, "lastsyncerror");
    assert!(
        error.contains("credentials specified in the associated email server profile"),
        "{error}"
    );
    // A profile-level error (the profile's account lacks the right): the profile's
    // alert, with Exchange's own words in its details.
    let alerts = org.alerts(&denied);
    assert!(
        alerts
            .iter()
            .any(|(_, _, text, details)| (text.clone() + details).contains("impersonate")),
        "{alerts:?}"
    );
}

/// An Exchange mailbox of its own for an ACT test (the fake EWS provisions every
/// `act-*` address, reached by impersonation only), and the organization's mailbox on
/// it: an Exchange profile whose service account impersonates, appointments, contacts
/// and tasks by server-side synchronization.
fn act_mailbox(org: &Org, tag: &str) -> (String, String, String) {
    let url = org.mail.var("MAIL_EWS_URL");
    let (svc, svc_pw) = org.test_user(&org.mail.var("MAIL_IMPERSONATOR"));
    let p = org.profile(
        &format!("Exchange ACT {tag}"),
        &[
            ("servertype", Integer(0)),
            ("incomingserverlocation", Text(url.clone())),
            ("outgoingserverlocation", Text(url)),
            ("incomingcredentialretrieval", Integer(1)),
            ("outgoingcredentialretrieval", Integer(1)),
            ("incomingusername", Text(svc)),
            ("incomingpassword", Text(svc_pw)),
            ("incominguseimpersonation", Integer(1)),
        ],
    );
    let local = format!(
        "act-{tag}-{}-{}",
        std::process::id(),
        &new_guid().unwrap()[..8]
    );
    let m = org.mailbox(&format!("ACT {tag}"), &p, &local, "unused");
    org.sql(|c| {
        c.execute(
            "UPDATE mailbox SET actdeliverymethod = 1 WHERE mailboxid = ?1",
            [&m],
        )
    });
    let address: String = org.col(&m, "emailaddress");
    let user: String = org.col(&m, "regardingobjectid");
    (m, address, user)
}

/// The Exchange mailbox as its Outlook user sees it, through EWS (the service account
/// impersonating it).
struct Outlook {
    url: String,
    svc: (String, String),
    address: String,
    tls: crate::mail::Tls,
    timeouts: crate::mail::Timeouts,
}

impl Outlook {
    fn new(org: &Org, address: &str) -> Outlook {
        Outlook {
            url: org.mail.var("MAIL_EWS_URL"),
            svc: org.test_user(&org.mail.var("MAIL_IMPERSONATOR")),
            address: address.to_string(),
            tls: crate::mail::Tls::new(&[PathBuf::from(org.mail.var("MAIL_CA"))]).unwrap(),
            timeouts: crate::mail::Timeouts::default(),
        }
    }

    fn session(&self) -> crate::mail::ews_act::Session<'_> {
        crate::mail::ews_act::Session::new(
            &self.url,
            crate::mail::Credentials::new(&self.svc.0, &self.svc.1),
            Some(&self.address),
            &self.tls,
            &self.timeouts,
        )
        .unwrap()
    }

    /// Every item of the folder (a sync from nothing lists them all).
    fn items(
        &self,
        kind: mailsync_core::engine::act::Kind,
    ) -> Vec<mailsync_core::engine::act::Item> {
        use mailsync_core::engine::act::Change;
        let page = runtime()
            .block_on(self.session().sync(kind, None))
            .unwrap()
            .unwrap();
        assert!(page.last);
        // Every property, as Outlook shows them (SyncFolderItems leaves some out).
        let ids: Vec<String> = page
            .changes
            .into_iter()
            .filter_map(|c| match c {
                Change::Upsert(i) => Some(i.id),
                Change::Delete(_) => None,
            })
            .collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        runtime()
            .block_on(self.session().get_many(kind, &refs))
            .unwrap()
            .into_iter()
            .flatten()
            .collect()
    }

    fn create(
        &self,
        kind: mailsync_core::engine::act::Kind,
        props: &[(&str, &str)],
        tracked: bool,
    ) -> String {
        let props = props
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let categories: &[&str] = if tracked {
            &["Tracked to Dynamics 365"]
        } else {
            &[]
        };
        runtime()
            .block_on(self.session().create(kind, &props, categories, None))
            .unwrap()
            .unwrap()
            .0
    }

    fn update(
        &self,
        kind: mailsync_core::engine::act::Kind,
        item: &mailsync_core::engine::act::Item,
        props: &[(&str, &str)],
    ) {
        let mut all = item.props.clone();
        for (k, v) in props {
            all.insert(k.to_string(), v.to_string());
        }
        runtime()
            .block_on(self.session().update(
                kind,
                &item.id,
                &item.change_key,
                Some(&all),
                None,
                true,
            ))
            .unwrap()
            .unwrap();
    }

    fn delete(&self, kind: mailsync_core::engine::act::Kind, id: &str) {
        runtime()
            .block_on(self.session().delete(kind, id))
            .unwrap()
            .unwrap();
    }

    fn organization(&self) -> Option<String> {
        runtime().block_on(self.session().organization()).unwrap()
    }
}

fn org_id(org: &Org) -> String {
    org.sql(|c| c.query_row("SELECT organizationid FROM organization", [], |r| r.get(0)))
}

/// Test & Enable, then as many cycles as `cycles`, an hour apart.
fn act_cycle(org: &Org, mailbox: &str) {
    org.clock.advance(3600);
    let outcomes = org.run();
    assert!(
        outcomes.iter().all(|o| !o.failed),
        "{outcomes:?} {:?}",
        org.alerts(mailbox)
    );
    let error: Option<String> = org.col(mailbox, "lastsyncerror");
    assert!(error.is_none(), "{error:?}");
}

/// An appointment's party (`activityparty`): a user, or an address nobody here has.
fn party(org: &Org, activity: &str, user: Option<&str>, address: Option<&str>, mask: i64) {
    insert(
        org,
        "activityparty",
        &[
            ("activitypartyid", Text(new_guid().unwrap())),
            ("activityid", Text(activity.into())),
            ("partyid", user.map_or(Null, |u| Text(u.into()))),
            (
                "partyobjecttypecode",
                user.map_or(Null, |_| Text("systemuser".into())),
            ),
            ("participationtypemask", Integer(mask)),
            ("addressused", address.map_or(Null, |a| Text(a.into()))),
        ],
    );
}

fn appointment(org: &Org, subject: &str, start: &str, end: &str, owner: &str) -> String {
    let id = new_guid().unwrap();
    insert(
        org,
        "appointment",
        &[
            ("activityid", Text(id.clone())),
            ("subject", Text(subject.into())),
            ("scheduledstart", Text(start.into())),
            ("scheduledend", Text(end.into())),
            ("ownerid", Text(owner.into())),
        ],
    );
    id
}

fn item_named(
    outlook: &Outlook,
    kind: mailsync_core::engine::act::Kind,
    subject: &str,
) -> Option<mailsync_core::engine::act::Item> {
    outlook
        .items(kind)
        .into_iter()
        .find(|i| i.props.get("Subject").map(String::as_str) == Some(subject))
}

/// Issue 11 §1, §2: appointments follow participation. The organizer's mailbox sends
/// the meeting to Exchange (Exchange invites the attendees); an attendee's copy is
/// linked to the same appointment by its UID; tracked meetings come in with their
/// parties and their organizer as owner; changes and deletes go from the organizer
/// only, in the future; a tracked meeting that overlaps an attendee's appointment asks
/// the user ("scheduling conflict"), and Save Anyway saves it.
/// A recurring series tracked in Outlook is not taken as one appointment (it would be
/// its first occurrence only): the mailbox's wall says so, once, and nothing else moves.
#[test]
fn a_tracked_recurring_series_is_not_synchronized_and_the_user_is_told() {
    use mailsync_core::engine::act::{Kind, RECURRING_TRACECODE};
    let org = Org::new("act-recurring");
    let (m, addr, _user) = act_mailbox(&org, "series");
    let outlook = Outlook::new(&org, &addr);
    org.schedule_test(&m);
    assert!(org.run().iter().all(|o| o.test && !o.failed));
    let answer = runtime()
        .block_on(outlook.session().raw(
            "<m:CreateItem SendMeetingInvitations=\"SendToNone\"><m:SavedItemFolderId>\
             <t:DistinguishedFolderId Id=\"calendar\"/></m:SavedItemFolderId><m:Items><t:CalendarItem>\
             <t:Subject>Weekly sync</t:Subject><t:Categories><t:String>Tracked to Dynamics 365</t:String>\
             </t:Categories><t:Start>2031-06-02T09:00:00Z</t:Start><t:End>2031-06-02T09:30:00Z</t:End>\
             <t:Recurrence><t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Monday</t:DaysOfWeek>\
             </t:WeeklyRecurrence><t:NoEndRecurrence><t:StartDate>2031-06-02</t:StartDate></t:NoEndRecurrence>\
             </t:Recurrence></t:CalendarItem></m:Items></m:CreateItem>"
                .into(),
        ))
        .unwrap();
    assert!(answer.contains("NoError"), "{answer}");
    outlook.create(
        Kind::Appointment,
        &[
            ("Subject", "One meeting"),
            ("Start", "2031-06-03T09:00:00Z"),
            ("End", "2031-06-03T10:00:00Z"),
        ],
        true,
    );
    for _ in 0..2 {
        act_cycle(&org, &m);
    }
    let subjects: Vec<String> = org.sql(|c| {
        let mut s = c.prepare("SELECT subject FROM appointment ORDER BY subject")?;
        let rows = s
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>();
        rows
    });
    assert_eq!(subjects, ["One meeting"], "the single meeting only");
    let told: Vec<_> = org
        .alerts(&m)
        .into_iter()
        .filter(|a| a.1 == RECURRING_TRACECODE)
        .collect();
    assert_eq!(told.len(), 1, "once: {told:?}");
    assert_eq!(told[0].0, 2, "a warning");
    assert!(
        told[0].2.contains("\"Weekly sync\"") && told[0].2.contains("single appointments only"),
        "{told:?}"
    );
}

#[test]
fn appointments_follow_participation_both_ways_and_conflicts_ask() {
    use mailsync_core::engine::act::Kind;
    use mailsync_core::engine::prompt::Decision;
    let org = Org::new("act-appointments");
    let (ma, addr_a, user_a) = act_mailbox(&org, "organizer");
    let (mb, addr_b, user_b) = act_mailbox(&org, "attendee");
    let (outlook_a, outlook_b) = (Outlook::new(&org, &addr_a), Outlook::new(&org, &addr_b));
    org.schedule_test(&ma);
    org.schedule_test(&mb);
    let outcomes = org.run();
    assert!(outcomes.iter().all(|o| o.test && !o.failed), "{outcomes:?}");

    // A organizes a review with B and an outside guest; A owns another appointment
    // organized by someone else, which A's filter does not select.
    let review = appointment(
        &org,
        "Quarterly review",
        "2031-03-01T09:00:00Z",
        "2031-03-01T10:00:00Z",
        &user_a,
    );
    party(&org, &review, Some(&user_a), None, 7);
    party(&org, &review, Some(&user_b), None, 5);
    party(&org, &review, None, Some("guest@fabrikam.test"), 5);
    let owned = appointment(
        &org,
        "Owner only",
        "2031-03-03T09:00:00Z",
        "2031-03-03T10:00:00Z",
        &user_a,
    );
    party(&org, &owned, Some(ADMIN_ID), None, 7);
    for _ in 0..2 {
        act_cycle(&org, &ma);
    }
    let in_a = item_named(&outlook_a, Kind::Appointment, "Quarterly review")
        .unwrap_or_else(|| panic!("{:?}", outlook_a.items(Kind::Appointment)));
    let attendees = in_a
        .props
        .get("RequiredAttendees")
        .cloned()
        .unwrap_or_default();
    assert!(
        attendees.contains(&addr_b.to_ascii_lowercase())
            && attendees.contains("guest@fabrikam.test"),
        "{attendees}"
    );
    assert!(in_a
        .props
        .get("Start")
        .is_some_and(|s| s.starts_with("2031-03-01T09:00:00")));
    assert!(item_named(&outlook_a, Kind::Appointment, "Owner only").is_none());
    let uid: String = org.sql(|c| {
        c.query_row(
            "SELECT globalobjectid FROM appointment WHERE activityid = ?1",
            [&review],
            |r| r.get(0),
        )
    });
    assert_eq!(in_a.props.get("UID"), Some(&uid));
    // B's copy (Exchange's invitation) is linked to the same appointment in B's mailbox.
    assert!(item_named(&outlook_b, Kind::Appointment, "Quarterly review").is_some());
    let links = |mailbox: &str, record: &str| -> i64 {
        org.sql(|c| {
            c.query_row(
                "SELECT count(*) FROM exchangesyncidmapping WHERE mailboxid = ?1 AND objectid = ?2 \
                 AND objecttypecode = 4201",
                [mailbox, record],
                |r| r.get(0),
            )
        })
    };
    assert_eq!((links(&ma, &review), links(&mb, &review)), (1, 1));
    let asking = |mailbox: &str| -> Vec<String> {
        org.alerts(mailbox)
            .into_iter()
            .filter(|(level, _, _, _)| *level == 2)
            .map(|(_, _, text, _)| text)
            .collect()
    };
    assert!(asking(&mb).is_empty(), "{:?}", asking(&mb));

    // The organizer's change goes to Exchange and, as a meeting update, to B's copy;
    // B's mailbox does not write it back.
    org.sql(|c| {
        c.execute(
            "UPDATE appointment SET subject = 'Quarterly review (moved)', \
             scheduledstart = '2031-03-01T13:00:00Z', scheduledend = '2031-03-01T14:00:00Z' \
             WHERE activityid = ?1",
            [&review],
        )
    });
    act_cycle(&org, &ma);
    act_cycle(&org, &ma);
    let moved = item_named(&outlook_b, Kind::Appointment, "Quarterly review (moved)")
        .unwrap_or_else(|| panic!("{:?}", outlook_b.items(Kind::Appointment)));
    assert!(moved
        .props
        .get("Start")
        .is_some_and(|s| s.starts_with("2031-03-01T13:00:00")));
    let version = |id: &str| -> i64 {
        org.sql(|c| {
            c.query_row(
                "SELECT versionnumber FROM appointment WHERE activityid = ?1",
                [id],
                |r| r.get(0),
            )
        })
    };
    let before = version(&review);
    act_cycle(&org, &ma);
    assert_eq!(
        version(&review),
        before,
        "no echo between the two mailboxes"
    );

    // From Exchange: A tracks a meeting with B; it comes in once, organized and owned
    // by A, with B as a required attendee, and B's copy links to it.
    outlook_a.create(
        Kind::Appointment,
        &[
            ("Subject", "Customer call"),
            ("Start", "2031-03-02T09:00:00Z"),
            ("End", "2031-03-02T09:30:00Z"),
            ("RequiredAttendees", &addr_b),
        ],
        true,
    );
    for _ in 0..2 {
        act_cycle(&org, &ma);
    }
    let call: Vec<(String, String)> = org.sql(|c| {
        c.prepare("SELECT activityid, ownerid FROM appointment WHERE subject = 'Customer call'")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
    });
    assert_eq!(call.len(), 1, "{call:?}");
    assert_eq!(call[0].1, user_a);
    let parties: Vec<(Option<String>, i64)> = org.sql(|c| {
        c.prepare("SELECT partyid, participationtypemask FROM activityparty WHERE activityid = ?1 ORDER BY participationtypemask")?
            .query_map([&call[0].0], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
    });
    assert_eq!(
        parties,
        vec![(Some(user_b.clone()), 5), (Some(user_a.clone()), 7)]
    );
    assert_eq!((links(&ma, &call[0].0), links(&mb, &call[0].0)), (1, 1));

    // B tracks a meeting that overlaps the review: B is unavailable, so B is asked.
    outlook_b.create(
        Kind::Appointment,
        &[
            ("Subject", "Overlapping"),
            ("Start", "2031-03-01T13:30:00Z"),
            ("End", "2031-03-01T14:30:00Z"),
        ],
        true,
    );
    act_cycle(&org, &mb);
    let overlapping = || -> i64 {
        org.sql(|c| {
            c.query_row(
                "SELECT count(*) FROM appointment WHERE subject = 'Overlapping'",
                [],
                |r| r.get(0),
            )
        })
    };
    assert_eq!(overlapping(), 0, "nothing saved before a decision");
    let asked = asking(&mb);
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(
        asked[0].starts_with("A scheduling conflict was found when saving appointment Overlapping from Exchange to Microsoft Dynamics 365 because ACT attendee is unavailable"),
        "{}",
        asked[0]
    );
    assert!(org.col::<bool>(&mb, "enabledforact"));
    org.sql(|c| {
        c.execute(
            "UPDATE actprompt SET decision = ?2, decidedby = ?3 WHERE mailboxid = ?1",
            params![mb, Decision::SaveAnyway.code(), user_b],
        )
    });
    act_cycle(&org, &mb);
    assert_eq!(overlapping(), 1, "saved anyway");
    assert!(asking(&mb).is_empty());

    // Deleted in Dynamics 365: the organizer's meeting is deleted in Exchange (in the
    // future), which cancels B's copy; B's link goes.
    org.sql(|c| c.execute("DELETE FROM appointment WHERE activityid = ?1", [&review]));
    for _ in 0..2 {
        act_cycle(&org, &ma);
    }
    assert!(item_named(&outlook_a, Kind::Appointment, "Quarterly review (moved)").is_none());
    assert!(item_named(&outlook_b, Kind::Appointment, "Quarterly review (moved)").is_none());
    assert_eq!((links(&ma, &review), links(&mb, &review)), (0, 0));
    // Deleted in Exchange by an attendee: not deleted here (B is not the organizer).
    let copy = item_named(&outlook_b, Kind::Appointment, "Customer call").unwrap();
    outlook_b.delete(Kind::Appointment, &copy.id);
    act_cycle(&org, &mb);
    assert_eq!(links(&mb, &call[0].0), 0);
    let kept: i64 = org.sql(|c| {
        c.query_row(
            "SELECT count(*) FROM appointment WHERE activityid = ?1",
            [&call[0].0],
            |r| r.get(0),
        )
    });
    assert_eq!(kept, 1);
}

/// Issue 11 §1: contacts and tasks go both ways between the organization and Exchange,
/// with Microsoft's rules: the user's records go to Exchange and follow their changes;
/// from Exchange only tracked or linked items come in; deletes follow the per-type
/// rules (a contact the user owns, deleted in Dynamics 365, stays in Exchange; a task
/// deleted in Exchange goes in Dynamics 365 too).
#[test]
fn contacts_and_tasks_synchronize_both_ways_with_microsofts_rules() {
    use mailsync_core::engine::act::Kind;
    let org = Org::new("act-both-ways");
    let (m, address, user) = act_mailbox(&org, "both");
    let outlook = Outlook::new(&org, &address);
    org.schedule_test(&m);
    let outcomes = org.run();
    assert!(
        outcomes.iter().all(|o| o.test && !o.failed),
        "{outcomes:?} {:?}",
        org.alerts(&m)
    );
    assert!(org.col::<bool>(&m, "enabledforact"));
    // Test & Enable recorded this organization in the Exchange mailbox.
    assert_eq!(outlook.organization(), Some(org_id(&org)));

    // The user's records, and someone else's contact that must not go.
    let contact = new_guid().unwrap();
    insert(
        &org,
        "contact",
        &[
            ("contactid", Text(contact.clone())),
            ("firstname", Text("Nancy".into())),
            ("lastname", Text("Davolio".into())),
            ("fullname", Text("Nancy Davolio".into())),
            ("emailaddress1", Text("nancy@contoso.test".into())),
            ("ownerid", Text(user.clone())),
        ],
    );
    insert(
        &org,
        "contact",
        &[
            ("contactid", Text(new_guid().unwrap())),
            ("lastname", Text("Not Mine".into())),
            ("ownerid", Text(ADMIN_ID.into())),
        ],
    );
    let task = new_guid().unwrap();
    insert(
        &org,
        "task",
        &[
            ("activityid", Text(task.clone())),
            ("subject", Text("Call Nancy".into())),
            ("scheduledend", Text("2030-01-15T17:00:00Z".into())),
            ("statuscode", Integer(3)),
            ("ownerid", Text(user.clone())),
        ],
    );
    // In Outlook: a tracked task, an untracked (private) one, a tracked contact.
    outlook.create(
        Kind::Task,
        &[("Subject", "Tracked in Outlook"), ("Status", "NotStarted")],
        true,
    );
    outlook.create(Kind::Task, &[("Subject", "Private errand")], false);
    outlook.create(
        Kind::Contact,
        &[
            ("GivenName", "Andrew"),
            ("Surname", "Fuller"),
            ("EmailAddress1", "andrew@contoso.test"),
        ],
        true,
    );
    act_cycle(&org, &m);

    let contacts = outlook.items(Kind::Contact);
    let nancy = contacts
        .iter()
        .find(|i| i.props.get("Surname").map(String::as_str) == Some("Davolio"));
    let nancy = nancy.unwrap_or_else(|| panic!("{contacts:?}")).clone();
    assert_eq!(
        nancy.props.get("EmailAddress1").map(String::as_str),
        Some("nancy@contoso.test")
    );
    assert_eq!(
        nancy.props.get("FileAs").map(String::as_str),
        Some("Nancy Davolio")
    );
    assert!(!contacts
        .iter()
        .any(|i| i.props.get("Surname").map(String::as_str) == Some("Not Mine")));
    let tasks = outlook.items(Kind::Task);
    let call = tasks
        .iter()
        .find(|i| i.props.get("Subject").map(String::as_str) == Some("Call Nancy"))
        .unwrap()
        .clone();
    assert_eq!(
        call.props.get("Status").map(String::as_str),
        Some("InProgress")
    );
    assert!(call
        .props
        .get("DueDate")
        .is_some_and(|d| d.starts_with("2030-01-15T17:00:00")));
    // From Exchange: the tracked task and contact came in, owned by the user; the
    // private task did not.
    let subjects: Vec<(String, Option<String>)> = org.sql(|c| {
        c.prepare("SELECT subject, ownerid FROM task ORDER BY subject")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
    });
    assert_eq!(
        subjects,
        vec![
            ("Call Nancy".to_string(), Some(user.clone())),
            ("Tracked in Outlook".to_string(), Some(user.clone())),
        ]
    );
    let andrew: (String, String) = org.sql(|c| {
        c.query_row(
            "SELECT fullname, ownerid FROM contact WHERE emailaddress1 = 'andrew@contoso.test'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    });
    assert_eq!(andrew, ("Andrew Fuller".to_string(), user.clone()));

    // A change on each side reaches the other; nothing echoes back.
    outlook.update(
        Kind::Contact,
        &nancy,
        &[("JobTitle", "Sales Representative")],
    );
    org.sql(|c| c.execute("UPDATE task SET subject = 'Call Nancy back', statecode = 1, statuscode = 5 WHERE activityid = ?1", [&task]));
    act_cycle(&org, &m);
    let title: Option<String> = org.sql(|c| {
        c.query_row(
            "SELECT jobtitle FROM contact WHERE contactid = ?1",
            [&contact],
            |r| r.get(0),
        )
    });
    assert_eq!(title.as_deref(), Some("Sales Representative"));
    let call = outlook
        .items(Kind::Task)
        .into_iter()
        .find(|i| i.id == call.id)
        .unwrap();
    assert_eq!(
        call.props.get("Subject").map(String::as_str),
        Some("Call Nancy back")
    );
    assert_eq!(
        call.props.get("Status").map(String::as_str),
        Some("Completed")
    );
    let versions: i64 = org.sql(|c| {
        c.query_row(
            "SELECT versionnumber FROM contact WHERE contactid = ?1",
            [&contact],
            |r| r.get(0),
        )
    });
    act_cycle(&org, &m);
    let again: i64 = org.sql(|c| {
        c.query_row(
            "SELECT versionnumber FROM contact WHERE contactid = ?1",
            [&contact],
            |r| r.get(0),
        )
    });
    assert_eq!(
        versions, again,
        "the engine's own write came back as a change"
    );

    // Deletes: the tracked task deleted in Outlook goes in Dynamics 365; Nancy, the
    // user's own contact, deleted in Dynamics 365 stays in Outlook, unlinked.
    let tracked = outlook
        .items(Kind::Task)
        .into_iter()
        .find(|i| i.props.get("Subject").map(String::as_str) == Some("Tracked in Outlook"))
        .unwrap();
    outlook.delete(Kind::Task, &tracked.id);
    org.sql(|c| c.execute("DELETE FROM contact WHERE contactid = ?1", [&contact]));
    act_cycle(&org, &m);
    let left: i64 = org.sql(|c| {
        c.query_row(
            "SELECT count(*) FROM task WHERE subject = 'Tracked in Outlook'",
            [],
            |r| r.get(0),
        )
    });
    assert_eq!(left, 0);
    assert!(
        outlook
            .items(Kind::Contact)
            .iter()
            .any(|i| i.id == nancy.id),
        "the owner's deleted contact stays in Exchange"
    );
    let links: i64 = org.sql(|c| {
        c.query_row(
            "SELECT count(*) FROM exchangesyncidmapping WHERE objectid = ?1",
            [&contact],
            |r| r.get(0),
        )
    });
    assert_eq!(links, 0);
    // Reassigned to someone else (Microsoft's Paul and Laura): a contact the filter
    // brought leaves the user's Exchange mailbox; one the user tracked stays linked.
    insert(
        &org,
        "contact",
        &[
            ("contactid", Text(new_guid().unwrap())),
            ("lastname", Text("Peacock".into())),
            ("fullname", Text("Margaret Peacock".into())),
            ("ownerid", Text(user.clone())),
        ],
    );
    act_cycle(&org, &m);
    let surnames = |outlook: &Outlook| -> Vec<String> {
        outlook
            .items(Kind::Contact)
            .into_iter()
            .filter_map(|i| i.props.get("Surname").cloned())
            .collect()
    };
    assert!(surnames(&outlook).contains(&"Peacock".to_string()));
    org.sql(|c| {
        c.execute(
            "UPDATE contact SET ownerid = ?1 WHERE lastname IN ('Peacock', 'Fuller')",
            [ADMIN_ID],
        )
    });
    act_cycle(&org, &m);
    let left = surnames(&outlook);
    assert!(!left.contains(&"Peacock".to_string()), "{left:?}");
    assert!(left.contains(&"Fuller".to_string()), "{left:?}");
}

/// Issue 11 §1: an Exchange mailbox synchronizes appointments, contacts and tasks with
/// one organization. Another organization's Test & Enable finds it taken and gets the
/// documented alert, unless "this organization only" overwrites it; then the first
/// organization is the one refused.
#[test]
fn one_organization_at_a_time_synchronizes_a_mailboxs_contacts_and_tasks() {
    let first = Org::new("act-primary-1");
    let (m1, address, _) = act_mailbox(&first, "primary");
    first.schedule_test(&m1);
    assert!(first.run().iter().all(|o| !o.failed));
    let outlook = Outlook::new(&first, &address);
    assert_eq!(outlook.organization(), Some(org_id(&first)));

    // A second organization with a mailbox on the same Exchange mailbox.
    let second = Org::new("act-primary-2");
    let (_, _, _) = act_mailbox(&second, "unused");
    let p: String = second.col(
        &second.sql(|c| {
            c.query_row(
                "SELECT mailboxid FROM mailbox WHERE name = 'ACT unused'",
                [],
                |r| r.get::<_, String>(0),
            )
        }),
        "emailserverprofile",
    );
    let local = address.split('@').next().unwrap().to_string();
    let m2 = second.mailbox("ACT second", &p, &local, "unused");
    second.sql(|c| {
        c.execute(
            "UPDATE mailbox SET actdeliverymethod = 1 WHERE mailboxid = ?1",
            [&m2],
        )
    });
    second.schedule_test(&m2);
    second.run();
    let error: String = second.col(&m2, "lastsyncerror");
    assert!(
        error.contains("is configured with another organization"),
        "{error}"
    );
    assert!(!second.col::<bool>(&m2, "enabledforact"));
    assert_eq!(
        outlook.organization(),
        Some(org_id(&first)),
        "not overwritten"
    );
    assert!(second
        .alerts(&m2)
        .iter()
        .any(|(_, _, text, _)| text.contains("configured with another organization")));

    // "Synchronize items with Exchange from this organization only": the second
    // organization's Test & Enable takes the mailbox over.
    second.sql(|c| {
        c.execute(
            "UPDATE mailbox SET orgmarkedasprimaryforexchangesync = 1 WHERE mailboxid = ?1",
            [&m2],
        )
    });
    second.clock.advance(3600);
    second.schedule_test(&m2);
    second.run();
    assert!(
        second.col::<bool>(&m2, "enabledforact"),
        "{:?}",
        second.alerts(&m2)
    );
    assert_eq!(outlook.organization(), Some(org_id(&second)));
    // The first organization's next cycle is refused, with the documented alert.
    first.clock.advance(3600);
    first.run();
    let error: String = first.col(&m1, "lastsyncerror");
    assert!(
        error.contains("is configured with another organization"),
        "{error}"
    );
}

/// Issue 11 §2: a contact tracked in Outlook whose address an existing contact has is
/// not saved: the mailbox gets an alert that asks (Microsoft's text and error name),
/// nothing is disabled, and the decision given on it (here written as the Web API's
/// `mailsync_*` actions write it) is carried out in the next cycle: the alert is
/// replaced by an Information alert saying what was done.
#[test]
fn duplicates_found_ask_the_user_and_the_decision_is_carried_out() {
    use mailsync_core::engine::act::Kind;
    use mailsync_core::engine::prompt::Decision;
    let org = Org::new("act-duplicates");
    let (m, address, user) = act_mailbox(&org, "dup");
    let outlook = Outlook::new(&org, &address);
    org.schedule_test(&m);
    assert!(org.run().iter().all(|o| !o.failed));
    let existing = new_guid().unwrap();
    insert(
        &org,
        "contact",
        &[
            ("contactid", Text(existing.clone())),
            ("lastname", Text("Leverling".into())),
            ("fullname", Text("Janet Leverling".into())),
            ("emailaddress1", Text("janet@contoso.test".into())),
            ("ownerid", Text(ADMIN_ID.into())),
        ],
    );
    for surname in ["Leverling", "Leverling-Smith", "Leverling-Jones"] {
        outlook.create(
            Kind::Contact,
            &[
                ("GivenName", "Janet"),
                ("Surname", surname),
                ("EmailAddress1", "JANET@contoso.test"),
            ],
            true,
        );
    }
    act_cycle(&org, &m);
    let contacts = |org: &Org| -> i64 {
        org.sql(|c| {
            c.query_row(
                "SELECT count(*) FROM contact WHERE emailaddress1 = 'janet@contoso.test' COLLATE NOCASE",
                [],
                |r| r.get(0),
            )
        })
    };
    assert_eq!(contacts(&org), 1, "nothing saved before a decision");
    let prompts: Vec<(String, String)> = org.sql(|c| {
        c.prepare(
            "SELECT tracelogid, COALESCE(errordetails, '') FROM tracelog WHERE regardingobjectid = ?1 \
             AND errortypedisplay = 'ExchangeSyncDuplicateRecordsError' AND level = 2",
        )?
        .query_map([&m], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
    });
    assert_eq!(prompts.len(), 3, "one alert per item: {:?}", org.alerts(&m));
    assert!(prompts
        .iter()
        .all(|(_, d)| d.contains(&format!("Duplicate: contacts({existing})"))));
    let text: String = org.sql(|c| {
        c.query_row(
            "SELECT text FROM tracelog WHERE tracelogid = ?1",
            [&prompts[0].0],
            |r| r.get(0),
        )
    });
    assert!(
        text.starts_with("One or more duplicate records were found in Microsoft Dynamics 365 when saving item \"Janet Leverling"),
        "{text}"
    );
    // A prompt, not an error: nothing disabled, no error on the mailbox.
    assert!(org.col::<bool>(&m, "enabledforact"));
    assert!(org.col::<Option<String>>(&m, "lastsyncerror").is_none());
    // Another cycle does not ask again.
    act_cycle(&org, &m);
    let asked: i64 = org.sql(|c| {
        c.query_row(
            "SELECT count(*) FROM tracelog WHERE regardingobjectid = ?1 AND level = 2",
            [&m],
            |r| r.get(0),
        )
    });
    assert_eq!(asked, 3);

    // The three decisions, as the Web API's actions record them.
    let decide = |tracelog: &str, d: Decision, record: Option<&str>| {
        org.sql(|c| {
            c.execute(
                "UPDATE actprompt SET decision = ?2, decisionrecordid = ?3, decidedby = ?4 WHERE tracelogid = ?1",
                params![tracelog, d.code(), record, user],
            )
        });
    };
    let name_of = |tracelog: &str| -> String {
        org.sql(|c| {
            c.query_row(
                "SELECT itemname FROM actprompt WHERE tracelogid = ?1",
                [tracelog],
                |r| r.get(0),
            )
        })
    };
    let mut by_name: Vec<(String, String)> = prompts
        .iter()
        .map(|(t, _)| (name_of(t), t.clone()))
        .collect();
    by_name.sort();
    // "Janet Leverling", "Janet Leverling-Jones", "Janet Leverling-Smith"
    decide(&by_name[0].1, Decision::LinkToRecord, Some(&existing));
    decide(&by_name[1].1, Decision::CreateAnyway, None);
    decide(&by_name[2].1, Decision::Skip, None);
    act_cycle(&org, &m);
    assert_eq!(
        contacts(&org),
        2,
        "one created anyway; one linked; one skipped"
    );
    let created: Option<String> = org.sql(|c| {
        c.query_row(
            "SELECT ownerid FROM contact WHERE lastname = 'Leverling-Jones'",
            [],
            |r| r.get(0),
        )
    });
    assert_eq!(created.as_deref(), Some(user.as_str()));
    let linked: i64 = org.sql(|c| {
        c.query_row(
            "SELECT count(*) FROM exchangesyncidmapping WHERE objectid = ?1",
            [&existing],
            |r| r.get(0),
        )
    });
    assert_eq!(linked, 1);
    let alerts = org.alerts(&m);
    assert!(
        !alerts.iter().any(|(level, _, _, _)| *level == 2),
        "every asking alert is gone: {alerts:?}"
    );
    let infos: Vec<&String> = alerts
        .iter()
        .filter(|(level, code, _, _)| *level == 1 && *code == 70)
        .map(|(_, _, text, _)| text)
        .collect();
    assert_eq!(infos.len(), 3, "{alerts:?}");
    assert!(infos.iter().any(
        |t| t.contains("saved in Microsoft Dynamics 365 as a new record although duplicates exist")
    ));
    assert!(infos
        .iter()
        .any(|t| t.contains("was linked to the existing record")));
    assert!(infos
        .iter()
        .any(|t| t.contains("was not saved in Microsoft Dynamics 365")));
    // The linked record's values went to Exchange: the item is now Janet Leverling's
    // record (the organization's version), under its link.
    act_cycle(&org, &m);
    let janet = outlook
        .items(Kind::Contact)
        .into_iter()
        .filter(|i| {
            i.props
                .get("EmailAddress1")
                .is_some_and(|e| e.eq_ignore_ascii_case("janet@contoso.test"))
        })
        .count();
    assert_eq!(janet, 3, "the items stay in Exchange");
}

/// Issue 11 §2: a mailbox made again on the same Exchange mailbox finds the items the
/// first one linked: it asks ("previously linked items") instead of making second
/// records; Relink links the item to its record again, Ignore leaves it unlinked.
#[test]
fn previously_linked_items_ask_and_relink_or_stay_unlinked() {
    use mailsync_core::engine::act::Kind;
    use mailsync_core::engine::prompt::Decision;
    let org = Org::new("act-relink");
    let (m, address, user) = act_mailbox(&org, "relink");
    let outlook = Outlook::new(&org, &address);
    org.schedule_test(&m);
    assert!(org.run().iter().all(|o| !o.failed));
    outlook.create(
        Kind::Contact,
        &[("GivenName", "Robert"), ("Surname", "King")],
        true,
    );
    outlook.create(
        Kind::Contact,
        &[("GivenName", "Laura"), ("Surname", "Callahan")],
        true,
    );
    act_cycle(&org, &m);
    let record = |last: &str| -> String {
        org.sql(|c| {
            c.query_row(
                "SELECT contactid FROM contact WHERE lastname = ?1",
                [last],
                |r| r.get(0),
            )
        })
    };
    let (king, callahan) = (record("King"), record("Callahan"));
    let laura_item = outlook
        .items(Kind::Contact)
        .into_iter()
        .find(|i| i.props.get("Surname").map(String::as_str) == Some("Callahan"))
        .unwrap()
        .id;

    // The mailbox record is deleted and made again for the same user and address.
    let profile: String = org.col(&m, "emailserverprofile");
    org.sql(|c| c.execute("DELETE FROM mailbox WHERE mailboxid = ?1", [&m]));
    let again = new_guid().unwrap();
    insert(
        &org,
        "mailbox",
        &[
            ("mailboxid", Text(again.clone())),
            ("name", Text("ACT relink again".into())),
            ("emailaddress", Text(address.clone())),
            ("regardingobjectid", Text(user.clone())),
            ("regardingobjecttypecode", Text("systemuser".into())),
            ("ownerid", Text(user.clone())),
            ("emailserverprofile", Text(profile)),
            ("emailrouteraccessapproval", Integer(1)),
            ("incomingemaildeliverymethod", Integer(2)),
            ("outgoingemaildeliverymethod", Integer(2)),
            ("actdeliverymethod", Integer(1)),
        ],
    );
    org.schedule_test(&again);
    assert!(org.run().iter().all(|o| !o.failed));
    act_cycle(&org, &again);
    let contacts: i64 = org.sql(|c| c.query_row("SELECT count(*) FROM contact", [], |r| r.get(0)));
    assert_eq!(contacts, 2, "no second records");
    let asks: Vec<(String, String, String)> = org.sql(|c| {
        c.prepare(
            "SELECT tracelogid, text, COALESCE(errordetails, '') FROM tracelog WHERE regardingobjectid = ?1 \
             AND errortypedisplay = 'ExchangeSyncPreviouslyLinkedItemsError' ORDER BY text",
        )?
        .query_map([&again], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect()
    });
    assert_eq!(asks.len(), 2, "{:?}", org.alerts(&again));
    // Ordered by text: Laura Callahan, then Robert King.
    assert!(asks[0].1.contains("\"Laura Callahan\""), "{}", asks[0].1);
    assert!(
        asks[0]
            .2
            .contains(&format!("Linked before to: contacts({callahan})")),
        "{}",
        asks[0].2
    );
    assert!(
        asks[1]
            .2
            .contains(&format!("Linked before to: contacts({king})")),
        "{}",
        asks[1].2
    );
    assert!(org.col::<Option<String>>(&again, "lastsyncerror").is_none());
    for (tracelog, d) in [
        (&asks[0].0, Decision::Ignore),
        (&asks[1].0, Decision::Relink),
    ] {
        org.sql(|c| {
            c.execute(
                "UPDATE actprompt SET decision = ?2, decidedby = ?3 WHERE tracelogid = ?1",
                params![tracelog, d.code(), user],
            )
        });
    }
    act_cycle(&org, &again);
    let linked = |record: &str| -> i64 {
        org.sql(|c| {
            c.query_row(
                "SELECT count(*) FROM exchangesyncidmapping WHERE mailboxid = ?1 AND objectid = ?2",
                params![again, record],
                |r| r.get(0),
            )
        })
    };
    assert_eq!(linked(&king), 1);
    let laura_linked: i64 = org.sql(|c| {
        c.query_row(
            "SELECT count(*) FROM exchangesyncidmapping WHERE exchangeentryid = ?1",
            [&laura_item],
            |r| r.get(0),
        )
    });
    assert_eq!(laura_linked, 0, "the ignored item stays unlinked");
    let _ = callahan;
    let contacts: i64 = org.sql(|c| c.query_row("SELECT count(*) FROM contact", [], |r| r.get(0)));
    assert_eq!(contacts, 2);
    let infos: Vec<String> = org
        .alerts(&again)
        .into_iter()
        .filter(|(level, code, _, _)| *level == 1 && *code == 70)
        .map(|(_, _, t, _)| t)
        .collect();
    assert_eq!(infos.len(), 2, "{infos:?}");
    // Relinked for real: a change in the organization reaches the item.
    org.sql(|c| {
        c.execute(
            "UPDATE contact SET jobtitle = 'Sales Manager' WHERE contactid = ?1",
            [&king],
        )
    });
    act_cycle(&org, &again);
    let kings: Vec<_> = outlook
        .items(Kind::Contact)
        .into_iter()
        .filter(|i| i.props.get("Surname").map(String::as_str) == Some("King"))
        .collect();
    assert_eq!(kings.len(), 1, "no second item for the relinked record");
    let robert = &kings[0];
    assert_eq!(
        robert.props.get("JobTitle").map(String::as_str),
        Some("Sales Manager")
    );
}

/// The stand-in for Microsoft Entra ID (scripts/oauth_mock.mjs): token requests served
/// (`GET /stats`, plain HTTP on loopback).
fn token_requests(org: &Org) -> u64 {
    use std::io::{Read, Write};
    let authority = org.mail.var("MAIL_OAUTH_AUTHORITY");
    let host = authority
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(s, "GET /stats HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    v["token_requests"].as_u64().unwrap_or(0)
}

/// An Exchange Online profile with server-to-server authentication on the fake EWS;
/// `tune` adds columns (the cross-tenant app).
fn s2s_profile(org: &Org, name: &str, tune: &[(&str, rusqlite::types::Value)]) -> String {
    let url = org.mail.var("MAIL_EWS_URL");
    let mut cols = vec![
        ("servertype", Integer(0)),
        ("incomingserverlocation", Text(url.clone())),
        ("outgoingserverlocation", Text(url)),
        ("incomingcredentialretrieval", Integer(2)),
        ("outgoingcredentialretrieval", Integer(2)),
    ];
    cols.extend(tune.iter().cloned());
    org.profile(name, &cols)
}

/// Approved by a Microsoft 365 administrator too, as Exchange Online needs.
fn o365_approved(org: &Org, mailbox: &str) {
    org.sql(|c| {
        c.execute(
            "UPDATE mailbox SET isemailaddressapprovedbyo365admin = 1 WHERE mailboxid = ?1",
            [mailbox],
        )
    });
}

/// Issue 11 §4: Exchange Online with server-to-server authentication calls EWS with the
/// organization's app token (OAuth 2.0 client credentials against Entra ID's stand-in,
/// scope https://outlook.office365.com/.default), impersonating each mailbox; the token
/// is reused until it expires; an "OAuth (Cross Tenant)" profile uses its own app in
/// its own tenant; Entra ID's refusal is a credentials error in Entra's words.
#[test]
fn exchange_online_server_to_server_calls_ews_with_app_tokens() {
    let mail = Mail::get();
    let org = Org::with_args("s2s", |a| {
        a.exchange_online_tenant = Some(mail.var("MAIL_OAUTH_TENANT"));
        a.exchange_online_client_id = Some(mail.var("MAIL_OAUTH_CLIENT_ID"));
        a.exchange_online_secret = Some(mail.var("MAIL_OAUTH_CLIENT_SECRET"));
    });
    let p = s2s_profile(&org, "Microsoft Exchange Online", &[]);
    let (alice, _) = org.test_user("alice");
    // No password anywhere: the app's token is all EWS gets.
    let a = org.mailbox("Alice Online", &p, &alice, "unused");
    o365_approved(&org, &a);
    let (x, address, _) = act_mailbox(&org, "s2s");
    org.sql(|c| {
        c.execute(
            "UPDATE mailbox SET emailserverprofile = ?2 WHERE mailboxid = ?1",
            params![x, p],
        )
    });
    o365_approved(&org, &x);
    let before = token_requests(&org);
    org.schedule_test(&a);
    org.schedule_test(&x);
    let outcomes = org.run();
    assert!(
        outcomes.iter().all(|o| o.test && !o.failed),
        "{outcomes:?} {:?} {:?}",
        org.alerts(&a),
        org.alerts(&p)
    );
    let sent = deliver(&org, &alice, std::time::SystemTime::now());
    org.clock.advance(3600);
    org.run();
    assert!(received_subject(&org, &a, &sent), "{:?}", org.alerts(&a));
    assert!(Outlook::new(&org, &address).organization().is_some());
    // One token for every call of both mailboxes: cached until it expires.
    assert_eq!(
        org.engine
            .io
            .apps
            .fetched
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert_eq!(token_requests(&org) - before, 1);

    // "OAuth (Cross Tenant)": the profile's own app in the other tenant.
    let cross = s2s_profile(
        &org,
        "Exchange Online, another tenant",
        &[
            (
                "exchangeonlinetenantid",
                Text(mail.var("MAIL_OAUTH_OTHER_TENANT")),
            ),
            (
                "oauthclientid",
                Text(mail.var("MAIL_OAUTH_OTHER_CLIENT_ID")),
            ),
            (
                "oauthclientsecret",
                Text(mail.var("MAIL_OAUTH_OTHER_CLIENT_SECRET")),
            ),
        ],
    );
    let b = org.mailbox("Alice Cross Tenant", &cross, &alice, "unused");
    o365_approved(&org, &b);
    org.schedule_test(&b);
    let outcomes = org.run();
    assert!(
        outcomes.iter().all(|o| !o.failed),
        "{:?}",
        org.alerts(&cross)
    );
    assert_eq!(
        org.engine
            .io
            .apps
            .fetched
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );

    // A wrong secret: Entra ID refuses; the profile's credentials error, Entra's words.
    let wrong = s2s_profile(
        &org,
        "Exchange Online, wrong secret",
        &[
            (
                "exchangeonlinetenantid",
                Text(mail.var("MAIL_OAUTH_OTHER_TENANT")),
            ),
            (
                "oauthclientid",
                Text(mail.var("MAIL_OAUTH_OTHER_CLIENT_ID")),
            ),
            ("oauthclientsecret", Text("not the secret".into())),
        ],
    );
    let w = org.mailbox("Alice Wrong Secret", &wrong, &alice, "unused");
    o365_approved(&org, &w);
    org.schedule_test(&w);
    org.run();
    let error: String = org.col(&w, "lastsyncerror");
    assert!(
        error.contains("credentials specified in the associated email server profile"),
        "{error}"
    );
    let details: Vec<String> = org
        .alerts(&wrong)
        .into_iter()
        .chain(org.alerts(&w))
        .map(|(_, _, _, d)| d)
        .collect();
    assert!(
        details.iter().any(|d| d.contains("AADSTS7000215")),
        "{details:?}"
    );
    assert!(
        !details.iter().any(|d| d.contains("not the secret")),
        "the secret leaked: {details:?}"
    );
}

/// Issue 11 §4: the organization's app may prove itself with a certificate instead of
/// a secret: a client assertion signed with the certificate's key, which Entra ID's
/// stand-in checks against the certificate registered on the app; one signed by a
/// certificate the app does not have is refused in Entra's words.
#[test]
fn exchange_online_app_with_a_certificate_signs_client_assertions() {
    let mail = Mail::get();
    let credential = PathBuf::from(mail.var("MAIL_OAUTH_CERT_CREDENTIAL"));
    let org = Org::with_args("s2s-cert", |a| {
        a.exchange_online_tenant = Some(mail.var("MAIL_OAUTH_TENANT"));
        a.exchange_online_client_id = Some(mail.var("MAIL_OAUTH_CERT_CLIENT_ID"));
        a.exchange_online_certificate = Some(credential.clone());
    });
    let p = s2s_profile(&org, "Microsoft Exchange Online (certificate)", &[]);
    let (x, address, _) = act_mailbox(&org, "s2s-cert");
    org.sql(|c| {
        c.execute(
            "UPDATE mailbox SET emailserverprofile = ?2 WHERE mailboxid = ?1",
            params![x, p],
        )
    });
    o365_approved(&org, &x);
    org.schedule_test(&x);
    let outcomes = org.run();
    assert!(
        outcomes.iter().all(|o| o.test && !o.failed),
        "{outcomes:?} {:?} {:?}",
        org.alerts(&x),
        org.alerts(&p)
    );
    assert!(Outlook::new(&org, &address).organization().is_some());

    // The same app with a certificate Entra ID does not hold for it.
    let dir = std::env::temp_dir().join(format!("mailsync-other-cert-{}", std::process::id()));
    let (other, _) = crate::mail::oauth::test_credential(&dir, "not registered");
    let wrong = Org::with_args("s2s-cert-wrong", |a| {
        a.exchange_online_tenant = Some(mail.var("MAIL_OAUTH_TENANT"));
        a.exchange_online_client_id = Some(mail.var("MAIL_OAUTH_CERT_CLIENT_ID"));
        a.exchange_online_certificate = Some(other.clone());
    });
    let p = s2s_profile(&wrong, "Microsoft Exchange Online (wrong certificate)", &[]);
    let (y, _, _) = act_mailbox(&wrong, "s2s-cert-wrong");
    wrong.sql(|c| {
        c.execute(
            "UPDATE mailbox SET emailserverprofile = ?2 WHERE mailboxid = ?1",
            params![y, p],
        )
    });
    o365_approved(&wrong, &y);
    wrong.schedule_test(&y);
    wrong.run();
    let details: Vec<String> = wrong
        .alerts(&p)
        .into_iter()
        .chain(wrong.alerts(&y))
        .map(|(_, _, _, d)| d)
        .collect();
    assert!(
        details.iter().any(|d| d.contains("AADSTS700027")),
        "{details:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Without the organization's app, a server-to-server profile cannot get a token and
/// says what is missing (no password is tried).
#[test]
fn server_to_server_without_the_organizations_app_says_what_is_missing() {
    let org = Org::new("s2s-none");
    let p = s2s_profile(&org, "Microsoft Exchange Online", &[]);
    let (alice, _) = org.test_user("alice");
    let a = org.mailbox("Alice Online", &p, &alice, "unused");
    o365_approved(&org, &a);
    org.schedule_test(&a);
    org.run();
    let error: String = org.col(&a, "lastsyncerror");
    assert!(
        error.contains("credentials specified in the associated email server profile"),
        "{error}"
    );
    let details: Vec<String> = org
        .alerts(&p)
        .into_iter()
        .chain(org.alerts(&a))
        .map(|(_, _, _, d)| d)
        .collect();
    assert!(
        details
            .iter()
            .any(|d| d.contains("--exchange-online-tenant")),
        "{details:?}"
    );
}
