//! SMTP submission (RFC 5321, 3207, 4954): EHLO, STARTTLS, EHLO again, AUTH PLAIN or
//! LOGIN, then QUIT (`check`) or MAIL/RCPT/DATA per message (`send`).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use tokio::io::{AsyncRead, AsyncWrite};

use super::net::{printable, Conn};
use super::{Credentials, Endpoint, Failure, FailureKind, Security, Timeouts, Tls};

const MAX_LINE: usize = 8 * 1024;
const MAX_REPLY_LINES: usize = 200;

/// One message to send. `from` and `to` are bare addresses (`a@example.com`); they are
/// both the envelope and the From/To header fields. `body` is plain text (UTF-8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    /// With or without the angle brackets.
    pub message_id: String,
}

/// Connects, secures and authenticates (when `creds` are given), then QUITs.
pub async fn check(
    ep: &Endpoint,
    creds: Option<&Credentials>,
    tls: &Tls,
    timeouts: &Timeouts,
) -> Result<(), Failure> {
    let (mut conn, _) = open(ep, creds, tls, timeouts).await?;
    quit(&mut conn).await;
    conn.close().await;
    Ok(())
}

/// Sends each message in one session. `Err` when the session cannot start (connect, TLS,
/// AUTH); otherwise one result per message, in order: a refused sender, recipient or
/// content fails that message only (the transaction is reset and the next one goes on).
/// When the connection itself breaks, that message and the ones after it fail with the
/// same failure.
pub async fn send(
    ep: &Endpoint,
    creds: Option<&Credentials>,
    tls: &Tls,
    timeouts: &Timeouts,
    msgs: &[Outgoing],
) -> Result<Vec<Result<(), Failure>>, Failure> {
    let (mut conn, ext) = open(ep, creds, tls, timeouts).await?;
    let mut results = Vec::with_capacity(msgs.len());
    let mut broken: Option<Failure> = None;
    for msg in msgs {
        if let Some(f) = &broken {
            results.push(Err(f.clone()));
            continue;
        }
        match transaction(&mut conn, &ext, msg).await {
            Ok(Ok(())) => results.push(Ok(())),
            Ok(Err(refused)) => {
                results.push(Err(refused));
                conn.stage = "rset";
                if let Err(f) = command(&mut conn, b"RSET", &[250]).await.and_then(|r| r) {
                    broken = Some(f);
                }
            }
            Err(f) => {
                results.push(Err(f.clone()));
                broken = Some(f);
            }
        }
    }
    if broken.is_none() {
        quit(&mut conn).await;
    }
    conn.close().await;
    Ok(results)
}

/// What the server's EHLO answer offers.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Extensions {
    starttls: bool,
    eight_bit: bool,
    auth: Vec<String>,
    size: Option<u64>,
}

impl Extensions {
    pub(crate) fn parse(reply: &Reply) -> Extensions {
        let mut ext = Extensions::default();
        // The first line is the server's greeting name, not an extension.
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_whitespace();
            let keyword = words.next().unwrap_or("").to_ascii_uppercase();
            match keyword.as_str() {
                "STARTTLS" => ext.starttls = true,
                "8BITMIME" => ext.eight_bit = true,
                "SIZE" => ext.size = words.next().and_then(|w| w.parse().ok()).filter(|&n| n > 0),
                "AUTH" => ext.auth.extend(words.map(|w| w.to_ascii_uppercase())),
                // Old servers: `AUTH=LOGIN PLAIN`.
                k if k.starts_with("AUTH=") => {
                    ext.auth.push(k["AUTH=".len()..].to_string());
                    ext.auth.extend(words.map(|w| w.to_ascii_uppercase()));
                }
                _ => {}
            }
        }
        ext
    }
}

async fn open(
    ep: &Endpoint,
    creds: Option<&Credentials>,
    tls: &Tls,
    timeouts: &Timeouts,
) -> Result<(Conn, Extensions), Failure> {
    let mut conn = Conn::open(ep, tls, timeouts).await?;
    conn.stage = "greeting";
    let greeting = read_reply(&mut conn).await?;
    if greeting.code != 220 {
        return Err(conn.fail(FailureKind::Protocol, greeting.text()));
    }
    let name = ehlo_name(&conn);
    let mut ext = ehlo(&mut conn, &name).await?;
    if ep.security == Security::StartTls {
        conn.stage = "starttls";
        if !ext.starttls {
            return Err(conn.fail(FailureKind::Tls, "the server does not offer STARTTLS"));
        }
        let reply = command(&mut conn, b"STARTTLS", &[220]).await?;
        if let Err(f) = reply {
            return Err(Failure {
                kind: FailureKind::Tls,
                ..f
            });
        }
        conn = conn.start_tls(tls, &ep.host).await?;
        ext = ehlo(&mut conn, &name).await?;
    }
    if let Some(creds) = creds {
        auth(&mut conn, &ext, creds).await?;
    }
    Ok((conn, ext))
}

/// An address literal of our own address: always valid, and true.
fn ehlo_name(conn: &Conn) -> String {
    match conn.local_addr().map(|a| a.ip()) {
        Some(std::net::IpAddr::V4(ip)) => format!("[{ip}]"),
        Some(std::net::IpAddr::V6(ip)) => format!("[IPv6:{ip}]"),
        None => "mailsync".to_string(),
    }
}

async fn ehlo<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    name: &str,
) -> Result<Extensions, Failure> {
    conn.stage = "ehlo";
    let reply = command(conn, format!("EHLO {name}").as_bytes(), &[250]).await?;
    match reply {
        Ok(reply) => Ok(Extensions::parse(&reply)),
        // A server from before ESMTP: no extensions (so no STARTTLS and no AUTH).
        Err(_) => match command(conn, format!("HELO {name}").as_bytes(), &[250]).await? {
            Ok(_) => Ok(Extensions::default()),
            Err(f) => Err(f),
        },
    }
}

async fn auth<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    ext: &Extensions,
    creds: &Credentials,
) -> Result<(), Failure> {
    conn.stage = "auth";
    let offers = |m: &str| ext.auth.iter().any(|a| a == m);
    let reply = if creds.bearer {
        // The token goes only where XOAUTH2 is offered.
        if !offers("XOAUTH2") {
            return Err(conn.fail(
                FailureKind::Protocol,
                format!(
                    "the server does not offer AUTH XOAUTH2 here (it offers: {})",
                    if ext.auth.is_empty() {
                        "none".to_string()
                    } else {
                        ext.auth.join(" ")
                    }
                ),
            ));
        }
        // A refused token: 334 with the error (base64 JSON), answered with an empty
        // line, then 535 (Gmail's and Exchange Online's way).
        match command(
            conn,
            format!("AUTH XOAUTH2 {}", creds.xoauth2()).as_bytes(),
            &[235, 334],
        )
        .await?
        {
            Ok(r) if r.code == 334 => {
                let why = super::xoauth2_error(r.lines.join("").as_bytes());
                match command(conn, b"", &[235]).await? {
                    Ok(r) => Ok(r),
                    Err(f) => Err(Failure {
                        message: format!("{}; {why}", f.message),
                        ..f
                    }),
                }
            }
            other => other,
        }
    } else if offers("PLAIN") {
        let token = B64.encode(format!("\0{}\0{}", creds.username, creds.password));
        command(conn, format!("AUTH PLAIN {token}").as_bytes(), &[235]).await?
    } else if offers("LOGIN") {
        match command(conn, b"AUTH LOGIN", &[334]).await? {
            Err(f) => Err(f),
            Ok(_) => match command(conn, B64.encode(&creds.username).as_bytes(), &[334]).await? {
                Err(f) => Err(f),
                Ok(_) => command(conn, B64.encode(&creds.password).as_bytes(), &[235]).await?,
            },
        }
    } else if ext.auth.is_empty() {
        return Err(conn.fail(
            FailureKind::Protocol,
            "the server offers no AUTH here (on a submission port it may want STARTTLS first)",
        ));
    } else {
        return Err(conn.fail(
            FailureKind::Protocol,
            format!("the server offers only AUTH {}", ext.auth.join(" ")),
        ));
    };
    match reply {
        Ok(_) => Ok(()),
        Err(f) => {
            // 535 bad credentials, 534 mechanism too weak, 538 encryption needed,
            // 530 authentication required, 454 temporary failure.
            let auth = matches!(f.message.get(..3), Some("535" | "534" | "538" | "530"));
            Err(Failure {
                kind: if auth {
                    FailureKind::Auth
                } else {
                    FailureKind::Protocol
                },
                ..f
            })
        }
    }
}

/// One MAIL/RCPT/DATA transaction. `Err` is a broken connection; `Ok(Err)` a refusal
/// after which the session can go on (`Rejected` for good, `Deferred` for now).
async fn transaction<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    ext: &Extensions,
    msg: &Outgoing,
) -> Result<Result<(), Failure>, Failure> {
    conn.stage = "mail";
    if msg.to.is_empty() {
        return Ok(Err(conn.fail(FailureKind::Rejected, "no recipient")));
    }
    if let Some(bad) = std::iter::once(&msg.from)
        .chain(&msg.to)
        .find(|a| !valid_address(a))
    {
        return Ok(Err(conn.fail(
            FailureKind::Rejected,
            format!("not an email address: {bad:?}"),
        )));
    }
    let data = compose(msg, ext.eight_bit, now());
    if let Some(max) = ext.size {
        if data.len() as u64 > max {
            return Ok(Err(conn.fail(
                FailureKind::Rejected,
                format!(
                    "the message is {} bytes; the server accepts {max}",
                    data.len()
                ),
            )));
        }
    }
    let body = if ext.eight_bit && !msg.body.is_ascii() {
        " BODY=8BITMIME"
    } else {
        ""
    };
    let mail = format!("MAIL FROM:<{}>{body}", msg.from);
    if let Err(f) = command(conn, mail.as_bytes(), &[250]).await? {
        return Ok(Err(refusal(f)));
    }
    conn.stage = "rcpt";
    for rcpt in &msg.to {
        let line = format!("RCPT TO:<{rcpt}>");
        if let Err(f) = command(conn, line.as_bytes(), &[250, 251]).await? {
            let f = refusal(f);
            let message = if f.message.contains(rcpt.as_str()) {
                f.message
            } else {
                format!("<{rcpt}>: {}", f.message)
            };
            return Ok(Err(Failure { message, ..f }));
        }
    }
    conn.stage = "data";
    if let Err(f) = command(conn, b"DATA", &[354]).await? {
        return Ok(Err(refusal(f)));
    }
    conn.write_all(&data).await?;
    let reply = read_reply(conn).await?;
    if reply.code != 250 {
        return Ok(Err(refusal(conn.fail(FailureKind::Protocol, reply.text()))));
    }
    Ok(Ok(()))
}

/// A reply refusing a message, by its class: 5xx is for good (this message fails),
/// 4xx is "not now" (it is sent again later). Anything else was not a refusal the
/// server is entitled to at that point.
fn refusal(f: Failure) -> Failure {
    let kind = match f.message.as_bytes().first() {
        Some(b'5') => FailureKind::Rejected,
        Some(b'4') => FailureKind::Deferred,
        _ => f.kind,
    };
    Failure { kind, ..f }
}

async fn quit<S: AsyncRead + AsyncWrite + Unpin>(conn: &mut Conn<S>) {
    conn.stage = "quit";
    // Everything that mattered is done; a server hanging up early changes nothing.
    let _ = command(conn, b"QUIT", &[221]).await;
}

fn valid_address(a: &str) -> bool {
    !a.is_empty()
        && a.len() <= 254
        && a.contains('@')
        && !a.starts_with('@')
        && !a.ends_with('@')
        && !a
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
}

/// An SMTP reply: its code and each line's text (after `250-` / `250 `).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) code: u16,
    pub(crate) lines: Vec<String>,
}

impl Reply {
    /// `535 5.7.8 Authentication credentials invalid`: the server's own words.
    pub(crate) fn text(&self) -> String {
        let joined = self.lines.join(" ");
        format!("{} {}", self.code, joined.trim())
            .trim()
            .to_string()
    }
}

/// Sends one command line; `Ok(Err)` when the reply's code is not one of `expect`.
async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    line: &[u8],
    expect: &[u16],
) -> Result<Result<Reply, Failure>, Failure> {
    let mut out = line.to_vec();
    out.extend_from_slice(b"\r\n");
    conn.write_all(&out).await?;
    let reply = read_reply(conn).await?;
    if expect.contains(&reply.code) {
        Ok(Ok(reply))
    } else {
        Ok(Err(conn.fail(FailureKind::Protocol, reply.text())))
    }
}

pub(crate) async fn read_reply<S: AsyncRead + Unpin>(conn: &mut Conn<S>) -> Result<Reply, Failure> {
    let mut lines = Vec::new();
    let mut code = None;
    loop {
        let line = conn.read_line(MAX_LINE).await?;
        let parsed = line
            .get(..3)
            .filter(|d| d.iter().all(u8::is_ascii_digit) && (b'2'..=b'5').contains(&d[0]))
            .and_then(|d| std::str::from_utf8(d).ok()?.parse::<u16>().ok());
        let (Some(c), sep) = (parsed, line.get(3)) else {
            return Err(conn.fail(
                FailureKind::Protocol,
                format!("not an SMTP reply: {}", printable(&line, 200)),
            ));
        };
        if code.is_some_and(|prev| prev != c) {
            return Err(conn.fail(
                FailureKind::Protocol,
                format!(
                    "reply lines with different codes: {}",
                    printable(&line, 200)
                ),
            ));
        }
        code = Some(c);
        lines.push(printable(line.get(4..).unwrap_or(b""), 500));
        match sep {
            None | Some(b' ') => return Ok(Reply { code: c, lines }),
            Some(b'-') if lines.len() < MAX_REPLY_LINES => {}
            Some(b'-') => {
                return Err(conn.fail(
                    FailureKind::Protocol,
                    format!("a reply of more than {MAX_REPLY_LINES} lines"),
                ))
            }
            Some(_) => {
                return Err(conn.fail(
                    FailureKind::Protocol,
                    format!("not an SMTP reply: {}", printable(&line, 200)),
                ))
            }
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The DATA payload: header, body (CRLF line ends, 7bit/8bit or base64), dot-stuffed,
/// ending with the lone dot.
pub(crate) fn compose(msg: &Outgoing, eight_bit: bool, now: i64) -> Vec<u8> {
    let mut m = String::new();
    m.push_str(&format!("Date: {}\r\n", rfc5322_date(now)));
    m.push_str(&format!("From: {}\r\n", one_line(&msg.from)));
    m.push_str(&format!("To: {}\r\n", one_line(&msg.to.join(", "))));
    m.push_str(&format!(
        "Subject: {}\r\n",
        encode_subject(&one_line(&msg.subject))
    ));
    m.push_str(&format!(
        "Message-ID: {}\r\n",
        message_id(&msg.message_id, now)
    ));
    m.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n");
    let body = msg.body.replace("\r\n", "\n").replace('\r', "\n");
    let long_lines = body.lines().any(|l| l.len() > 998);
    if body.is_ascii() && !long_lines {
        m.push_str("Content-Transfer-Encoding: 7bit\r\n\r\n");
        push_lines(&mut m, &body);
    } else if eight_bit && !long_lines {
        m.push_str("Content-Transfer-Encoding: 8bit\r\n\r\n");
        push_lines(&mut m, &body);
    } else {
        m.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
        let encoded = B64.encode(body.replace('\n', "\r\n"));
        for chunk in encoded.as_bytes().chunks(76) {
            m.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            m.push_str("\r\n");
        }
    }
    dot_stuff(m.as_bytes())
}

fn push_lines(m: &mut String, body: &str) {
    for line in body.split('\n') {
        m.push_str(line);
        m.push_str("\r\n");
    }
}

/// RFC 5321 4.5.2: a line starting with `.` gets one more; then `.` alone ends DATA.
pub(crate) fn dot_stuff(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16);
    let mut at_line_start = true;
    for &b in data {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// Header values on one line: a CR or LF in a value would inject header fields.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

/// Non-ASCII or very long subjects as RFC 2047 words (UTF-8, base64), folded.
fn encode_subject(s: &str) -> String {
    if s.is_ascii() && s.len() <= 900 {
        return s.to_string();
    }
    let mut words = Vec::new();
    let mut start = 0;
    while start < s.len() {
        // 45 bytes of UTF-8 make 60 base64 characters: a word stays under 75.
        let mut end = (start + 45).min(s.len());
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        words.push(format!("=?UTF-8?B?{}?=", B64.encode(&s[start..end])));
        start = end;
    }
    words.join("\r\n ")
}

fn message_id(given: &str, now: i64) -> String {
    let id = given.trim().trim_start_matches('<').trim_end_matches('>');
    let ok = !id.is_empty()
        && id.len() <= 900
        && id.contains('@')
        && !id
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>');
    if ok {
        return format!("<{id}>");
    }
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("<{now}.{}.{n}@mailsync>", std::process::id())
}

fn rfc5322_date(now: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d, h, mi, s) = mailsync_core::time::Timestamp(now).civil();
    // 1970-01-01 was a Thursday.
    let weekday = (now.div_euclid(86_400) + 4).rem_euclid(7) as usize;
    format!(
        "{}, {d:02} {} {y} {h:02}:{mi:02}:{s:02} +0000",
        DAYS[weekday],
        MONTHS[(mo as usize).clamp(1, 12) - 1]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn reply_of(wire: &[u8]) -> Result<Reply, Failure> {
        let mut conn = Conn::new(wire, Duration::from_secs(1));
        read_reply(&mut conn).await
    }

    #[tokio::test]
    async fn multi_line_replies() {
        let r = reply_of(b"250-mail.example.com\r\n250-SIZE 1000\r\n250-AUTH=LOGIN\r\n250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 STARTTLS\r\n")
            .await
            .unwrap();
        assert_eq!(r.code, 250);
        assert_eq!(r.lines.len(), 6);
        let ext = Extensions::parse(&r);
        assert!(ext.starttls && ext.eight_bit);
        assert_eq!(ext.size, Some(1000));
        assert_eq!(ext.auth, vec!["LOGIN", "PLAIN", "LOGIN"]);
        let r = reply_of(b"535 5.7.8 Authentication credentials invalid\r\n")
            .await
            .unwrap();
        assert_eq!(r.text(), "535 5.7.8 Authentication credentials invalid");
        assert_eq!(reply_of(b"220\r\n").await.unwrap().text(), "220");
    }

    #[tokio::test]
    async fn hostile_replies_never_panic() {
        for wire in [
            &b"250-a\r\n251 b\r\n"[..],
            b"2\r\n",
            b"abc def\r\n",
            b"999 nine\r\n",
            b"250xfoo\r\n",
            b"250-unterminated",
            b"\xff\xfe\xfd\r\n",
            b"",
        ] {
            assert!(reply_of(wire).await.is_err(), "{wire:?}");
        }
        let many = "250-x\r\n".repeat(MAX_REPLY_LINES + 5);
        assert!(reply_of(many.as_bytes()).await.is_err());
        let huge = vec![b'2'; MAX_LINE * 2];
        assert!(reply_of(&huge).await.is_err());
    }

    #[test]
    fn dot_stuffing_and_composition() {
        assert_eq!(dot_stuff(b"a\r\n.b\r\n..\r\n"), b"a\r\n..b\r\n...\r\n.\r\n");
        assert_eq!(dot_stuff(b".start"), b"..start\r\n.\r\n");
        let msg = Outgoing {
            from: "a@x.test".into(),
            to: vec!["b@x.test".into(), "c@x.test".into()],
            subject: "Grüße\r\nBcc: evil@x".into(),
            body: "line 1\n.dot line\r\nend".into(),
            message_id: "id-1@x.test".into(),
        };
        let data = String::from_utf8(compose(&msg, true, 1_764_693_666)).unwrap();
        assert!(
            data.starts_with("Date: Tue, 02 Dec 2025 16:41:06 +0000\r\n"),
            "{data}"
        );
        assert!(data.contains("To: b@x.test, c@x.test\r\n"));
        assert!(data.contains("Message-ID: <id-1@x.test>\r\n"));
        assert!(!data.contains("\r\nBcc:"), "{data}");
        assert!(data.contains("Subject: =?UTF-8?B?"));
        assert!(
            data.contains("\r\n\r\nline 1\r\n..dot line\r\nend\r\n.\r\n"),
            "{data}"
        );
        let mut seven = msg.clone();
        seven.body = "é".into();
        assert!(String::from_utf8(compose(&seven, false, 0))
            .unwrap()
            .contains("Content-Transfer-Encoding: base64\r\n\r\nw6k=\r\n.\r\n"));
        assert!(message_id("", 5).starts_with("<5."));
        assert!(message_id("bad id@x", 5).starts_with("<5."));
        assert_eq!(
            encode_subject(&"é".repeat(40))
                .matches("=?UTF-8?B?")
                .count(),
            2
        );
    }

    #[test]
    fn addresses() {
        assert!(valid_address("a@b"));
        for bad in [
            "",
            "a",
            "@b",
            "a@",
            "a b@c",
            "a@b>\r\nRCPT TO:<x@y",
            "<a@b>",
        ] {
            assert!(!valid_address(bad), "{bad:?}");
        }
    }
}
