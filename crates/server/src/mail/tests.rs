//! Against the real servers of `scripts/mailservers.sh start` (dovecot, aiosmtpd, the
//! fake EWS), described by `target/mailservers/env`; and against hostile fake servers on
//! loopback ports of their own.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use super::smtp::Outgoing;
use super::*;

struct Env {
    vars: HashMap<String, String>,
    tls: Tls,
}

impl Env {
    fn get(&self, key: &str) -> String {
        self.vars.get(key).cloned().unwrap_or_else(|| {
            panic!("{key} is missing from target/mailservers/env: run bash scripts/mailservers.sh start")
        })
    }

    fn port(&self, key: &str) -> u16 {
        self.get(key).parse().expect("a port number")
    }

    fn ep(&self, port_key: &str, security: Security) -> Endpoint {
        Endpoint::new(self.get("MAIL_HOST"), self.port(port_key), security)
    }

    fn creds(&self, user: &str) -> Credentials {
        let u = user.to_ascii_uppercase();
        Credentials::new(
            self.get(&format!("MAIL_USER_{u}")),
            self.get(&format!("MAIL_PASSWORD_{u}")),
        )
    }

    fn address(&self, user: &str) -> String {
        format!("{user}@{}", self.get("MAIL_DOMAIN"))
    }
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/mailservers/env");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}. The mail tests need the test mail servers: run bash scripts/mailservers.sh start",
                path.display()
            )
        });
        let vars: HashMap<String, String> = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
            .collect();
        let ca = vars
            .get("MAIL_CA")
            .expect("MAIL_CA in target/mailservers/env: run bash scripts/mailservers.sh start");
        let tls = Tls::new(&[ca]).unwrap_or_else(|e| panic!("the test CA: {e}"));
        Env { vars, tls }
    })
}

fn timeouts() -> Timeouts {
    // dovecot delays a failed login by 2 s.
    Timeouts {
        connect: Duration::from_secs(5),
        io: Duration::from_secs(10),
    }
}

fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{tag}-{nanos}-{}", std::process::id())
}

/// A loopback port nobody listens on.
async fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

fn message_ids(new: &[imap::Message]) -> Vec<String> {
    new.iter()
        .filter_map(|m| m.headers.message_id.clone())
        .collect()
}

// ---- IMAP --------------------------------------------------------------------------

#[tokio::test]
async fn imap_starttls_lists_the_seeded_messages() {
    let e = env();
    let started = Instant::now();
    let mb = imap::poll(
        &e.ep("MAIL_IMAP_PORT", Security::StartTls),
        &e.creds("alice"),
        &e.tls,
        &timeouts(),
        None,
        100,
    )
    .await
    .unwrap();
    eprintln!(
        "IMAP STARTTLS poll of {} messages: {:?}",
        mb.new.len(),
        started.elapsed()
    );
    assert!(mb.exists >= 3, "{mb:?}");
    assert!(mb.uidvalidity > 0 && mb.uidnext > mb.new.last().unwrap().uid);
    let ids = message_ids(&mb.new);
    for i in 1..=3 {
        assert!(
            ids.contains(&format!("<seed-{i}@mailsync.test>")),
            "{ids:?}"
        );
    }
    let second = mb
        .new
        .iter()
        .find(|m| m.headers.message_id.as_deref() == Some("<seed-2@mailsync.test>"))
        .unwrap();
    assert_eq!(
        second.headers.subject.as_deref(),
        Some("Grüße aus der Testumgebung")
    );
    assert_eq!(
        second.headers.from.as_deref(),
        Some("Sender 2 <sender2@mailsync.test>")
    );
    assert!(second.headers.date.is_some() && second.headers.to.is_some());
    assert!(second.size > 100);
    assert!(mb.new.windows(2).all(|w| w[0].uid < w[1].uid));
}

#[tokio::test]
async fn imap_implicit_tls_honours_after_uid_and_limit() {
    let e = env();
    let ep = e.ep("MAIL_IMAPS_PORT", Security::Tls);
    let creds = e.creds("alice");
    let all = imap::poll(&ep, &creds, &e.tls, &timeouts(), None, 1000)
        .await
        .unwrap();
    // Without a position, only what the server received since a day: none since a
    // day to come, all of it since one long past.
    let day = |year| crate::mail::Day {
        year,
        month: 1,
        day: 1,
    };
    let future = imap::poll_since(
        &ep,
        &creds,
        &e.tls,
        &timeouts(),
        None,
        Some(day(2999)),
        1000,
    )
    .await
    .unwrap();
    assert!(future.new.is_empty());
    let past = imap::poll_since(
        &ep,
        &creds,
        &e.tls,
        &timeouts(),
        None,
        Some(day(2000)),
        1000,
    )
    .await
    .unwrap();
    assert!(past.new.len() >= all.new.len() && !all.new.is_empty());
    assert!(all.new.len() >= 3);
    let first = all.new[0].uid;
    let after_first = imap::poll(
        &ep,
        &creds,
        &e.tls,
        &timeouts(),
        Some((all.uidvalidity, first)),
        1000,
    )
    .await
    .unwrap();
    assert_eq!(after_first.new, all.new[1..].to_vec());

    let one = imap::poll(
        &ep,
        &creds,
        &e.tls,
        &timeouts(),
        Some((all.uidvalidity, first)),
        1,
    )
    .await
    .unwrap();
    assert_eq!(one.new, all.new[1..2].to_vec());

    let last = all.new.last().unwrap().uid;
    let none = imap::poll(
        &ep,
        &creds,
        &e.tls,
        &timeouts(),
        Some((all.uidvalidity, last)),
        10,
    )
    .await
    .unwrap();
    assert!(none.new.is_empty(), "{none:?}");
    assert_eq!(none.uidnext, all.uidnext);

    // Another UIDVALIDITY: the mailbox was rebuilt, everything is new again.
    let rebuilt = imap::poll(
        &ep,
        &creds,
        &e.tls,
        &timeouts(),
        Some((all.uidvalidity.wrapping_add(1), last)),
        2,
    )
    .await
    .unwrap();
    assert_eq!(rebuilt.new, all.new[..2].to_vec());
}

#[tokio::test]
async fn imap_wrong_password_is_auth() {
    let e = env();
    let f = imap::poll(
        &e.ep("MAIL_IMAPS_PORT", Security::Tls),
        &Credentials::new("alice", "wrong"),
        &e.tls,
        &timeouts(),
        None,
        10,
    )
    .await
    .unwrap_err();
    assert_eq!((f.kind, f.stage), (FailureKind::Auth, "login"), "{f}");
    assert!(f.message.contains("AUTHENTICATIONFAILED"), "{f}");
}

#[tokio::test]
async fn imap_password_with_quotes_and_non_ascii_is_sent_intact() {
    // Quoting or a literal must carry it; the server then just says the password is wrong.
    let e = env();
    for password in ["a\"b\\c", "pässwörd"] {
        let f = imap::poll(
            &e.ep("MAIL_IMAP_PORT", Security::StartTls),
            &Credentials::new("alice", password),
            &e.tls,
            &timeouts(),
            None,
            10,
        )
        .await
        .unwrap_err();
        assert_eq!(f.kind, FailureKind::Auth, "{f}");
    }
}

#[tokio::test]
async fn nothing_listening_is_refused() {
    let e = env();
    let port = closed_port().await;
    let ep = Endpoint::new("127.0.0.1", port, Security::Tls);
    let t = timeouts();
    let f = imap::poll(&ep, &e.creds("alice"), &e.tls, &t, None, 1)
        .await
        .unwrap_err();
    assert_eq!((f.kind, f.stage), (FailureKind::Refused, "connect"), "{f}");
    assert!(f.message.contains("refused"), "{f}");
    let seen = HashSet::new();
    let f = pop3::poll(&ep, &e.creds("alice"), &e.tls, &t, &seen, 1)
        .await
        .unwrap_err();
    assert_eq!(f.kind, FailureKind::Refused, "{f}");
    let f = smtp::check(&ep, None, &e.tls, &t).await.unwrap_err();
    assert_eq!(f.kind, FailureKind::Refused, "{f}");
    let f = ews::get_inbox(
        &format!("https://127.0.0.1:{port}/EWS/Exchange.asmx"),
        &e.creds("alice"),
        None,
        &e.tls,
        &t,
    )
    .await
    .unwrap_err();
    assert_eq!(f.kind, FailureKind::Refused, "{f}");
}

#[tokio::test]
async fn tls_against_a_plain_port_is_tls() {
    let e = env();
    let f = imap::poll(
        &e.ep("MAIL_IMAP_PORT", Security::Tls),
        &e.creds("alice"),
        &e.tls,
        &timeouts(),
        None,
        1,
    )
    .await
    .unwrap_err();
    assert_eq!((f.kind, f.stage), (FailureKind::Tls, "tls"), "{f}");
    assert!(!f.message.is_empty());
    let f = pop3::poll(
        &e.ep("MAIL_POP3_PORT", Security::Tls),
        &e.creds("alice"),
        &e.tls,
        &timeouts(),
        &HashSet::new(),
        1,
    )
    .await
    .unwrap_err();
    assert_eq!(f.kind, FailureKind::Tls, "{f}");
}

#[tokio::test]
async fn a_self_signed_certificate_is_tls() {
    let e = env();
    let ep = Endpoint::new(
        e.get("MAIL_SELFSIGNED_HOST"),
        e.port("MAIL_IMAPS_SELFSIGNED_PORT"),
        Security::Tls,
    );
    let f = imap::poll(&ep, &e.creds("alice"), &e.tls, &timeouts(), None, 1)
        .await
        .unwrap_err();
    assert_eq!((f.kind, f.stage), (FailureKind::Tls, "tls"), "{f}");
    assert_eq!(f.message, "invalid peer certificate: UnknownIssuer");
}

#[tokio::test]
async fn an_untrusted_ca_is_tls() {
    let e = env();
    let f = imap::poll(
        &e.ep("MAIL_IMAPS_PORT", Security::Tls),
        &e.creds("alice"),
        &Tls::webpki_only(),
        &timeouts(),
        None,
        1,
    )
    .await
    .unwrap_err();
    assert_eq!(f.kind, FailureKind::Tls, "{f}");
    assert!(f.message.contains("UnknownIssuer"), "{f}");
    // The certificate names localhost and 127.0.0.1, not 127.0.0.2... but 127.0.0.2
    // serves the self-signed one, so check the name with "localhost" instead.
    let ok = imap::poll(
        &Endpoint::new("localhost", e.port("MAIL_IMAPS_PORT"), Security::Tls),
        &e.creds("alice"),
        &e.tls,
        &timeouts(),
        None,
        1,
    )
    .await;
    assert!(ok.is_ok(), "{ok:?}");
}

#[tokio::test]
async fn an_unknown_host_is_dns_and_quick() {
    let e = env();
    let started = Instant::now();
    let f = imap::poll(
        &Endpoint::new("mail.invalid", 993, Security::Tls),
        &e.creds("alice"),
        &e.tls,
        &timeouts(),
        None,
        1,
    )
    .await
    .unwrap_err();
    let took = started.elapsed();
    assert_eq!((f.kind, f.stage), (FailureKind::Dns, "dns"), "{f}");
    assert!(f.message.starts_with("mail.invalid: "), "{f}");
    assert!(took < Duration::from_secs(3), "DNS failure took {took:?}");
}

#[tokio::test]
async fn a_silent_server_is_a_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(sock);
    });
    let t = Timeouts {
        connect: Duration::from_secs(2),
        io: Duration::from_millis(300),
    };
    let started = Instant::now();
    let f = imap::poll(
        &Endpoint::new("127.0.0.1", port, Security::Plain),
        &Credentials::new("a", "b"),
        &Tls::webpki_only(),
        &t,
        None,
        1,
    )
    .await
    .unwrap_err();
    assert_eq!((f.kind, f.stage), (FailureKind::Timeout, "greeting"), "{f}");
    assert!(started.elapsed() < Duration::from_secs(2));
    server.abort();
}

// ---- POP3 --------------------------------------------------------------------------

#[tokio::test]
async fn pop3_stls_and_pop3s_list_new_messages() {
    let e = env();
    let creds = e.creds("alice");
    let started = Instant::now();
    let drop = pop3::poll(
        &e.ep("MAIL_POP3_PORT", Security::StartTls),
        &creds,
        &e.tls,
        &timeouts(),
        &HashSet::new(),
        100,
    )
    .await
    .unwrap();
    eprintln!(
        "POP3 STLS poll of {} messages: {:?}",
        drop.new.len(),
        started.elapsed()
    );
    assert!(drop.count >= 3 && drop.octets > 0, "{drop:?}");
    assert_eq!(drop.new.len(), drop.count as usize);
    let ids: Vec<_> = drop
        .new
        .iter()
        .filter_map(|m| m.headers.message_id.clone())
        .collect();
    assert!(
        ids.contains(&"<seed-1@mailsync.test>".to_string()),
        "{ids:?}"
    );
    assert!(drop.new.iter().all(|m| m.size > 0 && !m.uidl.is_empty()));
    assert_eq!(
        drop.new
            .iter()
            .find(|m| m.headers.message_id.as_deref() == Some("<seed-2@mailsync.test>"))
            .and_then(|m| m.headers.subject.as_deref()),
        Some("Grüße aus der Testumgebung")
    );

    // The UIDLs seen: only what came after them is new; `limit` takes the first ones.
    let mut seen: HashSet<String> = drop.new.iter().map(|m| m.uidl.clone()).collect();
    let again = pop3::poll(
        &e.ep("MAIL_POP3S_PORT", Security::Tls),
        &creds,
        &e.tls,
        &timeouts(),
        &seen,
        100,
    )
    .await
    .unwrap();
    assert!(
        again.new.iter().all(|m| !seen.contains(&m.uidl)),
        "{again:?}"
    );
    seen.remove(&drop.new[1].uidl);
    seen.remove(&drop.new[2].uidl);
    let limited = pop3::poll(
        &e.ep("MAIL_POP3S_PORT", Security::Tls),
        &creds,
        &e.tls,
        &timeouts(),
        &seen,
        1,
    )
    .await
    .unwrap();
    assert_eq!(limited.new, vec![drop.new[1].clone()]);
}

#[tokio::test]
async fn pop3_wrong_password_is_auth() {
    let e = env();
    let f = pop3::poll(
        &e.ep("MAIL_POP3S_PORT", Security::Tls),
        &Credentials::new("bob", "wrong"),
        &e.tls,
        &timeouts(),
        &HashSet::new(),
        1,
    )
    .await
    .unwrap_err();
    assert_eq!((f.kind, f.stage), (FailureKind::Auth, "login"), "{f}");
    assert!(f.message.contains("Authentication failed"), "{f}");
}

// ---- SMTP --------------------------------------------------------------------------

fn outgoing(e: &Env, to: &[&str], subject: &str, id: &str) -> Outgoing {
    Outgoing {
        from: e.address("alice"),
        to: to.iter().map(|s| s.to_string()).collect(),
        subject: subject.to_string(),
        body: "Hello Bob,\n.this line starts with a dot\n\nBye.\n".to_string(),
        message_id: format!("<{id}@mailsync.test>"),
    }
}

fn outbox_file_with(e: &Env, needle: &str) -> Option<String> {
    std::fs::read_dir(e.get("MAIL_OUTBOX"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|d| d.file_name().to_string_lossy().ends_with(".eml"))
        .filter_map(|d| std::fs::read_to_string(d.path()).ok())
        .find(|text| text.contains(needle))
}

#[tokio::test]
async fn smtp_starttls_auth_send_then_read_back_over_imap() {
    let e = env();
    let imap_ep = e.ep("MAIL_IMAPS_PORT", Security::Tls);
    let bob = e.creds("bob");
    let before = imap::poll(&imap_ep, &bob, &e.tls, &timeouts(), None, 0)
        .await
        .unwrap();

    let id = unique("send");
    let subject = format!("Grüße {id}");
    let started = Instant::now();
    let results = smtp::send(
        &e.ep("MAIL_SMTP_PORT", Security::StartTls),
        Some(&e.creds("alice")),
        &e.tls,
        &timeouts(),
        &[outgoing(e, &[&e.address("bob")], &subject, &id)],
    )
    .await
    .unwrap();
    eprintln!(
        "SMTP STARTTLS+AUTH send of 1 message: {:?}",
        started.elapsed()
    );
    assert_eq!(results, vec![Ok(())]);

    let eml = outbox_file_with(e, &id).expect("the message in the outbox");
    assert!(eml.contains("X-Mailsync-Auth: alice"), "{eml}");
    assert!(
        eml.contains("\r\n.this line starts with a dot\r\n"),
        "dot-unstuffed: {eml}"
    );

    let after = imap::poll(
        &imap_ep,
        &bob,
        &e.tls,
        &timeouts(),
        Some((before.uidvalidity, before.uidnext.saturating_sub(1))),
        1000,
    )
    .await
    .unwrap();
    let got = after
        .new
        .iter()
        .find(|m| m.headers.message_id.as_deref() == Some(format!("<{id}@mailsync.test>").as_str()))
        .unwrap_or_else(|| panic!("{id} not in bob's INBOX: {:?}", after.new));
    assert_eq!(got.headers.subject.as_deref(), Some(subject.as_str()));
    assert_eq!(
        got.headers.from.as_deref(),
        Some(e.address("alice").as_str())
    );
    assert!(got.uid >= before.uidnext);
}

#[tokio::test]
async fn smtp_wrong_password_is_auth() {
    let e = env();
    let f = smtp::check(
        &e.ep("MAIL_SMTP_PORT", Security::StartTls),
        Some(&Credentials::new("alice", "wrong")),
        &e.tls,
        &timeouts(),
    )
    .await
    .unwrap_err();
    assert_eq!((f.kind, f.stage), (FailureKind::Auth, "auth"), "{f}");
    assert!(f.message.starts_with("535 "), "{f}");
}

#[tokio::test]
async fn smtp_check_good_and_no_auth_without_tls() {
    let e = env();
    let alice = e.creds("alice");
    smtp::check(
        &e.ep("MAIL_SMTP_PORT", Security::StartTls),
        Some(&alice),
        &e.tls,
        &timeouts(),
    )
    .await
    .unwrap();
    smtp::check(
        &e.ep("MAIL_SMTPS_PORT", Security::Tls),
        Some(&alice),
        &e.tls,
        &timeouts(),
    )
    .await
    .unwrap();
    // The submission port offers AUTH only after STARTTLS.
    let f = smtp::check(
        &e.ep("MAIL_SMTP_PORT", Security::Plain),
        Some(&alice),
        &e.tls,
        &timeouts(),
    )
    .await
    .unwrap_err();
    assert_eq!((f.kind, f.stage), (FailureKind::Protocol, "auth"), "{f}");
    // Clear text to an implicit-TLS port: the server waits for a ClientHello, we for a
    // greeting.
    let short = Timeouts {
        io: Duration::from_millis(500),
        ..timeouts()
    };
    let f = smtp::check(
        &e.ep("MAIL_SMTPS_PORT", Security::StartTls),
        None,
        &e.tls,
        &short,
    )
    .await
    .unwrap_err();
    assert_eq!((f.kind, f.stage), (FailureKind::Timeout, "greeting"), "{f}");
}

#[tokio::test]
async fn smtp_starttls_not_offered_is_tls() {
    let port = scripted(
        b"220 old.example ESMTP\r\n".to_vec(),
        vec![b"250-old.example\r\n250 SIZE 1000\r\n".to_vec()],
    )
    .await;
    let f = smtp::check(
        &Endpoint::new("127.0.0.1", port, Security::StartTls),
        None,
        &Tls::webpki_only(),
        &timeouts(),
    )
    .await
    .unwrap_err();
    assert_eq!((f.kind, f.stage), (FailureKind::Tls, "starttls"), "{f}");
}

#[tokio::test]
async fn smtp_a_refused_recipient_fails_only_its_message() {
    let e = env();
    let ids = [unique("batch-a"), unique("batch-b"), unique("batch-c")];
    let bob = e.address("bob");
    let reject = e.get("MAIL_REJECT_RCPT");
    let msgs = [
        outgoing(e, &[&bob], "first", &ids[0]),
        outgoing(e, &[&bob, &reject], "second", &ids[1]),
        outgoing(e, &[&e.address("carol")], "third", &ids[2]),
    ];
    let results = smtp::send(
        &e.ep("MAIL_SMTPS_PORT", Security::Tls),
        Some(&e.creds("alice")),
        &e.tls,
        &timeouts(),
        &msgs,
    )
    .await
    .unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0], Ok(()));
    let f = results[1].clone().unwrap_err();
    assert_eq!((f.kind, f.stage), (FailureKind::Rejected, "rcpt"), "{f}");
    assert!(
        f.message.starts_with("550 ") && f.message.contains(&reject),
        "{f}"
    );
    assert_eq!(results[2], Ok(()));
    assert!(outbox_file_with(e, &ids[0]).is_some());
    assert!(outbox_file_with(e, &ids[1]).is_none());
    assert!(outbox_file_with(e, &ids[2]).is_some());
}

// ---- EWS ---------------------------------------------------------------------------

#[tokio::test]
async fn ews_inbox_counts_and_failures() {
    let e = env();
    let url = e.get("MAIL_EWS_URL");
    let inbox = ews::get_inbox(&url, &e.creds("alice"), None, &e.tls, &timeouts())
        .await
        .unwrap();
    assert!(inbox.total >= 3 && inbox.unread <= inbox.total, "{inbox:?}");

    let f = ews::get_inbox(
        &url,
        &Credentials::new("alice", "wrong"),
        None,
        &e.tls,
        &timeouts(),
    )
    .await
    .unwrap_err();
    assert_eq!((f.kind, f.stage), (FailureKind::Auth, "http"), "{f}");
    assert!(f.message.starts_with("HTTP 401 Unauthorized"), "{f}");

    let status = format!(
        "https://{}:{}/status/503",
        e.get("MAIL_HOST"),
        e.get("MAIL_EWS_PORT")
    );
    let f = ews::get_inbox(&status, &e.creds("alice"), None, &e.tls, &timeouts())
        .await
        .unwrap_err();
    assert_eq!(f.kind, FailureKind::Http(503), "{f}");
    assert!(f.message.contains("Simulated HTTP 503"), "{f}");

    let f = ews::get_inbox(
        &url,
        &e.creds("alice"),
        None,
        &Tls::webpki_only(),
        &timeouts(),
    )
    .await
    .unwrap_err();
    assert_eq!(f.kind, FailureKind::Tls, "{f}");
    assert!(f.message.contains("UnknownIssuer"), "{f}");
}

#[tokio::test]
async fn ews_send_then_find_the_items_in_the_recipients_inbox() {
    let e = env();
    let url = e.get("MAIL_EWS_URL");
    let bob = e.creds("bob");
    let before = ews::find_inbox(
        &url,
        &bob,
        None,
        &e.tls,
        &timeouts(),
        &HashSet::new(),
        100_000,
    )
    .await
    .unwrap();
    let seen: HashSet<String> = before.new.iter().map(|i| i.id.clone()).collect();
    assert!(before.new.iter().all(|i| !i.id.is_empty()));

    let ids = [
        unique("ews-a"),
        unique("ews-b"),
        unique("ews-c"),
        unique("ews-d"),
    ];
    let (to_bob, reject) = (e.address("bob"), e.get("MAIL_REJECT_RCPT"));
    let msgs = [
        outgoing(e, &[&to_bob], "EWS first", &ids[0]),
        outgoing(e, &[&to_bob, &reject], "EWS refused", &ids[1]),
        outgoing(e, &[&to_bob], &format!("Grüße {}", ids[2]), &ids[2]),
        outgoing(e, &[], "EWS to nobody", &ids[3]),
    ];
    let started = Instant::now();
    let results = ews::send(&url, &e.creds("alice"), None, &e.tls, &timeouts(), &msgs)
        .await
        .unwrap();
    eprintln!("EWS CreateItem of 4 messages: {:?}", started.elapsed());
    assert_eq!(results.len(), 4);
    assert_eq!(results[0], Ok(()));
    let f = results[1].clone().unwrap_err();
    assert_eq!(
        (f.kind, f.stage),
        (FailureKind::Rejected, "createitem"),
        "{f}"
    );
    assert!(
        f.message.starts_with("ErrorInvalidRecipients: ") && f.message.contains(&reject),
        "{f}"
    );
    assert_eq!(results[2], Ok(()));
    let f = results[3].clone().unwrap_err();
    assert_eq!(
        (f.kind, f.message.as_str()),
        (FailureKind::Rejected, "no recipient")
    );
    let eml = outbox_file_with(e, &ids[0]).expect("the message in the outbox");
    assert!(eml.contains("X-Mailsync-Auth: alice"), "{eml}");
    assert!(eml.contains("X-Mailsync-Via: EWS CreateItem"), "{eml}");
    assert!(outbox_file_with(e, &ids[1]).is_none());
    assert!(outbox_file_with(e, &ids[2]).is_some());
    assert!(outbox_file_with(e, &ids[3]).is_none());

    // Bob's inbox lists them, with what FindItem says of them.
    let after = ews::find_inbox(&url, &bob, None, &e.tls, &timeouts(), &seen, 100_000)
        .await
        .unwrap();
    assert!(after.total as usize >= seen.len() + 2, "{}", after.total);
    let item = |id: &str| {
        after
            .new
            .iter()
            .find(|i| i.message_id.as_deref() == Some(format!("<{id}@mailsync.test>").as_str()))
            .unwrap_or_else(|| panic!("{id} not in bob's inbox: {:?}", after.new))
    };
    let first = item(&ids[0]);
    assert_eq!(first.subject.as_deref(), Some("EWS first"));
    assert_eq!(first.from.as_deref(), Some(e.address("alice").as_str()));
    assert!(first.to.as_deref().is_some_and(|t| t.contains(&to_bob)));
    assert!(first.received.as_deref().is_some_and(|t| t.ends_with('Z')));
    let third = item(&ids[2]);
    assert_eq!(
        third.subject.as_deref(),
        Some(format!("Grüße {}", ids[2]).as_str())
    );
    // What is seen is not listed again; `limit` bounds a call.
    let all: HashSet<String> = seen
        .iter()
        .cloned()
        .chain(after.new.iter().map(|i| i.id.clone()))
        .collect();
    let again = ews::find_inbox(&url, &bob, None, &e.tls, &timeouts(), &all, 100_000)
        .await
        .unwrap();
    assert!(again.new.iter().all(|i| !all.contains(&i.id)));
    assert!(!again.new.iter().any(|i| i.id == first.id));
    let one = ews::find_inbox(&url, &bob, None, &e.tls, &timeouts(), &HashSet::new(), 1)
        .await
        .unwrap();
    assert_eq!(one.new.len(), 1);

    // A busy server defers the message (not refused); a wrong password and an HTTP
    // error fail the whole call.
    let defer = outgoing(
        e,
        &[&e.get("MAIL_DEFER_RCPT")],
        "EWS busy",
        &unique("ews-e"),
    );
    let results = ews::send(
        &url,
        &e.creds("alice"),
        None,
        &e.tls,
        &timeouts(),
        std::slice::from_ref(&defer),
    )
    .await
    .unwrap();
    let f = results[0].clone().unwrap_err();
    assert_eq!(f.kind, FailureKind::Deferred, "{f}");
    assert!(f.message.starts_with("ErrorServerBusy: "), "{f}");
    let f = ews::send(
        &url,
        &Credentials::new("alice", "wrong"),
        None,
        &e.tls,
        &timeouts(),
        &msgs[..1],
    )
    .await
    .unwrap_err();
    assert_eq!((f.kind, f.stage), (FailureKind::Auth, "createitem"), "{f}");
    let status = format!(
        "https://{}:{}/status/503",
        e.get("MAIL_HOST"),
        e.get("MAIL_EWS_PORT")
    );
    let f = ews::send(
        &status,
        &e.creds("alice"),
        None,
        &e.tls,
        &timeouts(),
        &msgs[..1],
    )
    .await
    .unwrap_err();
    assert_eq!(f.kind, FailureKind::Http(503), "{f}");
    let f = ews::find_inbox(
        &status,
        &bob,
        None,
        &e.tls,
        &timeouts(),
        &HashSet::new(),
        10,
    )
    .await
    .unwrap_err();
    assert_eq!(
        (f.kind, f.stage),
        (FailureKind::Http(503), "finditem"),
        "{f}"
    );
}

#[tokio::test]
async fn autodiscover_finds_the_ews_url() {
    let e = env();
    let here = e.get("MAIL_AUTODISCOVER_URL");
    let dead = format!(
        "https://127.0.0.1:{}/autodiscover/autodiscover.xml",
        closed_port().await
    );
    let places = move |_: &str| Ok(vec![dead.clone(), here.clone()]);
    let loopback = ews::AutodiscoverHosts::with(&["127.0.0.1".to_string()]);
    let url = ews::discover(
        &e.address("alice"),
        &places,
        &loopback,
        &e.creds("alice"),
        &e.tls,
        &timeouts(),
    )
    .await
    .unwrap();
    assert_eq!(url, e.get("MAIL_EWS_URL"));

    let f = ews::discover(
        &format!("nobody@{}", e.get("MAIL_DOMAIN")),
        &places,
        &loopback,
        &e.creds("alice"),
        &e.tls,
        &timeouts(),
    )
    .await
    .unwrap_err();
    assert_eq!(f.kind, FailureKind::Protocol, "{f}");
    assert!(f.message.contains("can't be found"), "{f}");

    let f = ews::discover(
        &e.address("alice"),
        &places,
        &loopback,
        &Credentials::new("alice", "x"),
        &e.tls,
        &timeouts(),
    )
    .await
    .unwrap_err();
    assert_eq!(f.kind, FailureKind::Auth, "{f}");
}

/// Impersonation as Exchange does it: the service account reads the impersonated
/// mailbox, never its own; an account without the right is refused.
#[tokio::test]
async fn ews_impersonation_reads_the_impersonated_mailbox() {
    let e = env();
    let url = e.get("MAIL_EWS_URL");
    let svc = e.creds(&e.get("MAIL_IMPERSONATOR"));
    let all = HashSet::new();
    let find = |creds: Credentials, as_user: Option<String>| {
        let (url, tls) = (url.clone(), e.tls.clone());
        let all = all.clone();
        async move {
            ews::find_inbox(
                &url,
                &creds,
                as_user.as_deref(),
                &tls,
                &timeouts(),
                &all,
                100_000,
            )
            .await
        }
    };
    let alice_own = find(e.creds("alice"), None).await.unwrap();
    let as_alice = find(svc.clone(), Some(e.address("alice"))).await.unwrap();
    let svc_own = find(svc.clone(), None).await.unwrap();
    let ids = |f: &ews::EwsFound| f.new.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
    assert!(alice_own.total >= 3, "{alice_own:?}");
    assert_eq!(
        ids(&as_alice),
        ids(&alice_own),
        "the service account read alice's inbox"
    );
    assert_ne!(
        ids(&svc_own),
        ids(&alice_own),
        "without impersonation: its own inbox"
    );
    let inbox = ews::get_inbox(&url, &svc, Some(&e.address("alice")), &e.tls, &timeouts())
        .await
        .unwrap();
    assert_eq!(inbox.total, alice_own.total);

    // bob may not impersonate: Exchange's ErrorImpersonateUserDenied, which the
    // knowledge base knows.
    let f = find(e.creds("bob"), Some(e.address("alice")))
        .await
        .unwrap_err();
    assert_eq!(f.kind, FailureKind::Auth, "{f}");
    assert!(
        f.message
            .contains("does not have permission to impersonate"),
        "{f}"
    );
}

/// Autodiscover never sends a profile's credentials outside the mailbox's domain and
/// the allowed hosts, whatever a server redirects to.
#[tokio::test]
async fn autodiscover_refuses_a_redirect_outside_the_domain() {
    let e = env();
    let here = e.get("MAIL_AUTODISCOVER_URL");
    let places = move |_: &str| Ok(vec![here.clone()]);
    let loopback = ews::AutodiscoverHosts::with(&["127.0.0.1".to_string()]);
    let f = ews::discover(
        &format!("redirect-me@{}", e.get("MAIL_DOMAIN")),
        &places,
        &loopback,
        &e.creds("alice"),
        &e.tls,
        &timeouts(),
    )
    .await
    .unwrap_err();
    assert!(
        f.message
            .contains("refused to send the credentials to \"attacker.invalid\""),
        "{f}"
    );
    // Nor to the first place when it is outside: nothing is asked at all.
    let f = ews::discover(
        &e.address("alice"),
        &places,
        &ews::AutodiscoverHosts::default(),
        &e.creds("alice"),
        &e.tls,
        &timeouts(),
    )
    .await
    .unwrap_err();
    assert!(
        f.message
            .contains("refused to send the credentials to \"127.0.0.1\""),
        "{f}"
    );
    let hosts = ews::AutodiscoverHosts::default();
    assert!(hosts.permits("contoso.com", "autodiscover.contoso.com"));
    assert!(hosts.permits("contoso.com", "outlook.office365.com"));
    assert!(!hosts.permits("contoso.com", "contoso.com.evil.example"));
    assert!(!hosts.permits("contoso.com", "evilcontoso.com"));
}

#[tokio::test]
async fn autodiscover_of_an_unknown_domain_is_dns() {
    let started = Instant::now();
    let f = ews::autodiscover(
        "alice@mail.invalid",
        &ews::AutodiscoverHosts::default(),
        &Credentials::new("alice", "x"),
        &Tls::webpki_only(),
        &timeouts(),
    )
    .await
    .unwrap_err();
    assert_eq!(f.kind, FailureKind::Dns, "{f}");
    assert!(f.message.contains("autodiscover.mail.invalid"), "{f}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

// ---- hostile servers ---------------------------------------------------------------

/// A one-connection server: sends `greeting`, then answers each line it reads with the
/// next chunk of `script` (`{tag}` becomes the client's tag), then hangs up.
async fn scripted(greeting: Vec<u8>, script: Vec<Vec<u8>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        let (r, mut w) = sock.into_split();
        let mut r = BufReader::new(r);
        let _ = w.write_all(&greeting).await;
        for chunk in script {
            let mut line = String::new();
            if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let tag = line.split(' ').next().unwrap_or("").to_string();
            let chunk = String::from_utf8_lossy(&chunk).replace("{tag}", &tag);
            if w.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
    });
    port
}

async fn imap_against(greeting: &[u8], script: &[&[u8]]) -> Failure {
    let port = scripted(
        greeting.to_vec(),
        script.iter().map(|c| c.to_vec()).collect(),
    )
    .await;
    let t = Timeouts {
        connect: Duration::from_secs(2),
        io: Duration::from_secs(2),
    };
    imap::poll(
        &Endpoint::new("127.0.0.1", port, Security::Plain),
        &Credentials::new("a", "b"),
        &Tls::webpki_only(),
        &t,
        None,
        10,
    )
    .await
    .unwrap_err()
}

#[tokio::test]
async fn hostile_imap_servers_are_protocol_failures() {
    // Greeting, the answers to each command in turn, the stage that must fail.
    type Case = (&'static [u8], Vec<&'static [u8]>, &'static str);
    let login_ok: &[u8] = b"{tag} OK logged in\r\n";
    let cases: Vec<Case> = vec![
        (b"HTTP/1.1 400 Bad Request\r\n", vec![], "greeting"),
        (b"* BYE too many connections\r\n", vec![], "greeting"),
        (b"* OK hi\r\n", vec![b"{tag} MAYBE\r\n"], "login"),
        (
            b"* OK hi\r\n",
            vec![login_ok, b"* 3 EXISTS\r\n{tag} OK done\r\n"],
            "select",
        ),
        (
            b"* OK hi\r\n",
            vec![
                login_ok,
                b"* OK [UIDVALIDITY 99999999999] x\r\n{tag} OK\r\n",
            ],
            "select",
        ),
        (
            b"* OK hi\r\n",
            vec![
                login_ok,
                b"* 2 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n{tag} OK\r\n",
                b"* 1 FETCH (UID 1 BODY[HEADER] {99999999}\r\n",
            ],
            "fetch",
        ),
        (
            b"* OK hi\r\n",
            vec![
                login_ok,
                b"* 2 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n{tag} OK\r\n",
                b"* 1 FETCH (BODY[HEADER] \"x\")\r\n{tag} OK\r\n",
            ],
            "fetch",
        ),
    ];
    for (greeting, script, stage) in cases {
        let f = imap_against(greeting, &script).await;
        assert_eq!((f.kind, f.stage), (FailureKind::Protocol, stage), "{f}");
    }
    // A literal cut short by the server hanging up: the connection is gone, not
    // misunderstood.
    let f = imap_against(
        b"* OK hi\r\n",
        &[
            login_ok,
            b"* 2 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n{tag} OK\r\n",
            b"* 1 FETCH (UID 1 BODY[HEADER] {10}\r\nshort",
        ],
    )
    .await;
    assert_eq!((f.kind, f.stage), (FailureKind::Closed, "fetch"), "{f}");
    let f = imap_against(b"", &[]).await;
    assert_eq!((f.kind, f.stage), (FailureKind::Closed, "greeting"), "{f}");
    // Untagged garbage, then nothing: the server hung up before answering.
    let f = imap_against(b"* OK hi\r\n", &[b"* garbage\r\n"]).await;
    assert_eq!((f.kind, f.stage), (FailureKind::Closed, "login"), "{f}");
    let huge = vec![b'x'; 2 * 1024 * 1024];
    let f = imap_against(&huge, &[]).await;
    assert_eq!(f.kind, FailureKind::Protocol, "{f}");
    assert!(f.message.contains("longer than"), "{f}");
}

#[tokio::test]
async fn a_scripted_imap_server_is_read_correctly() {
    // Literals, unsolicited FETCHes, UIDs outside the SEARCH and no UIDNEXT.
    let port = scripted(
        b"* OK [CAPABILITY IMAP4rev1] ready\r\n".to_vec(),
        vec![
            b"{tag} OK logged in\r\n".to_vec(),
            b"* 3 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n{tag} OK [READ-ONLY] done\r\n".to_vec(),
            b"* SEARCH 5 9 10\r\n{tag} OK\r\n".to_vec(),
            b"* 2 FETCH (FLAGS (\\Seen))\r\n* 2 FETCH (UID 9 RFC822.SIZE 42 BODY[HEADER.FIELDS (SUBJECT)] {13}\r\nSubject: hi\r\n)\r\n* 3 FETCH (UID 10 RFC822.SIZE 7 BODY[HEADER.FIELDS (SUBJECT)] NIL)\r\n{tag} OK\r\n".to_vec(),
            b"* BYE\r\n{tag} OK\r\n".to_vec(),
        ],
    )
    .await;
    let mb = imap::poll(
        &Endpoint::new("127.0.0.1", port, Security::Plain),
        &Credentials::new("a", "b"),
        &Tls::webpki_only(),
        &timeouts(),
        Some((7, 5)),
        10,
    )
    .await
    .unwrap();
    assert_eq!((mb.uidvalidity, mb.exists, mb.uidnext), (7, 3, 11));
    assert_eq!(mb.new.len(), 2);
    assert_eq!((mb.new[0].uid, mb.new[0].size), (9, 42));
    assert_eq!(mb.new[0].headers.subject.as_deref(), Some("hi"));
    assert_eq!(mb.new[1].headers, Headers::default());
}

/// The scheduler spawns these on tokio's pool: every call must be a `Send` future.
#[test]
fn every_call_is_a_send_future() {
    fn send<F: std::future::Future + Send>(_: F) {}
    let ep = Endpoint::new("127.0.0.1", 1, Security::Plain);
    let creds = Credentials::new("a", "b");
    let tls = Tls::webpki_only();
    let t = timeouts();
    let seen = HashSet::new();
    send(imap::poll(&ep, &creds, &tls, &t, None, 1));
    send(pop3::poll(&ep, &creds, &tls, &t, &seen, 1));
    send(smtp::check(&ep, Some(&creds), &tls, &t));
    send(smtp::send(&ep, Some(&creds), &tls, &t, &[]));
    send(ews::get_inbox("https://x/", &creds, None, &tls, &t));
    send(ews::autodiscover(
        "a@x",
        &ews::AutodiscoverHosts::default(),
        &creds,
        &tls,
        &t,
    ));
    send(ews::send("https://x/", &creds, None, &tls, &t, &[]));
    send(ews::find_inbox(
        "https://x/",
        &creds,
        None,
        &tls,
        &t,
        &seen,
        1,
    ));
}
