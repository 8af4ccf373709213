//! POP3 (RFC 1939) poll: greeting, STLS (RFC 2595), USER/PASS, STAT, UIDL, LIST, then
//! TOP n 0 for the messages not seen yet, QUIT. Nothing is deleted.

use std::collections::{HashMap, HashSet};

use tokio::io::{AsyncRead, AsyncWrite};

use super::net::{printable, Conn};
use super::Headers;
use super::{Credentials, Endpoint, Failure, FailureKind, Security, Timeouts, Tls};

const MAX_LINE: usize = 64 * 1024;
/// Header bytes kept per message; the rest of a huge header is read and dropped.
const MAX_HEADER: usize = 256 * 1024;
/// Everything read for one multi-line answer (a UIDL of a million messages fits).
const MAX_MULTILINE: usize = 64 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Maildrop {
    /// STAT: messages and octets in the maildrop.
    pub count: u32,
    pub octets: u64,
    /// Messages whose UIDL is not in `seen`, in maildrop order, at most `limit`.
    pub new: Vec<Message>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The message number in this session (changes between sessions; `uidl` does not).
    pub number: u32,
    pub uidl: String,
    /// From LIST, in octets.
    pub size: u64,
    pub headers: Headers,
}

pub async fn poll(
    ep: &Endpoint,
    creds: &Credentials,
    tls: &Tls,
    timeouts: &Timeouts,
    seen: &HashSet<String>,
    limit: usize,
) -> Result<Maildrop, Failure> {
    let mut conn = Conn::open(ep, tls, timeouts).await?;
    conn.stage = "greeting";
    let line = conn.read_line(MAX_LINE).await?;
    expect_ok(&conn, &line, FailureKind::Protocol)?;
    if ep.security == Security::StartTls {
        conn.stage = "starttls";
        let line = ask(&mut conn, b"STLS").await?;
        if let Reply::Err(text) = reply(&conn, &line)? {
            return Err(conn.fail(FailureKind::Tls, format!("STLS refused: {text}")));
        }
        conn = conn.start_tls(tls, &ep.host).await?;
    }
    login(&mut conn, creds).await?;

    conn.stage = "stat";
    let line = ask(&mut conn, b"STAT").await?;
    let text = expect_ok(&conn, &line, FailureKind::Protocol)?;
    let mut words = text.split_whitespace();
    let (Some(count), Some(octets)) = (
        words.next().and_then(|w| w.parse::<u32>().ok()),
        words.next().and_then(|w| w.parse::<u64>().ok()),
    ) else {
        return Err(conn.fail(FailureKind::Protocol, format!("bad STAT answer: {text}")));
    };
    let mut drop = Maildrop {
        count,
        octets,
        new: Vec::new(),
    };
    if count > 0 && limit > 0 {
        drop.new = list_new(&mut conn, seen, limit).await?;
    }
    conn.stage = "quit";
    // The answer is in hand; a QUIT that fails changes nothing (no message is deleted).
    let _ = ask(&mut conn, b"QUIT").await;
    conn.close().await;
    Ok(drop)
}

async fn login<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    creds: &Credentials,
) -> Result<(), Failure> {
    conn.stage = "login";
    if creds.bearer {
        return xoauth2(conn, creds).await;
    }
    for (verb, value) in [("USER", &creds.username), ("PASS", &creds.password)] {
        if value.contains(['\r', '\n']) {
            return Err(conn.fail(
                FailureKind::Auth,
                format!("the {} contains a line break", verb.to_lowercase()),
            ));
        }
        let line = ask(conn, format!("{verb} {value}").as_bytes()).await?;
        if let Reply::Err(text) = reply(conn, &line)? {
            // RFC 3206: [SYS/...] and [IN-USE] are the server's trouble, not the password's.
            let kind = if text.starts_with("[SYS/") || text.starts_with("[IN-USE]") {
                FailureKind::Protocol
            } else {
                FailureKind::Auth
            };
            return Err(conn.fail(kind, text));
        }
    }
    Ok(())
}

/// `AUTH XOAUTH2` with the initial response (RFC 5034). A refused token comes back as
/// a `+ ` continuation carrying the error, answered with an empty line, then `-ERR`.
async fn xoauth2<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    creds: &Credentials,
) -> Result<(), Failure> {
    let mut line = ask(conn, format!("AUTH XOAUTH2 {}", creds.xoauth2()).as_bytes()).await?;
    let mut refused = None;
    if let Some(challenge) = line.strip_prefix(b"+ ").or(line.strip_prefix(b"+")) {
        if !line.starts_with(b"+OK") {
            refused = Some(super::xoauth2_error(challenge));
            line = ask(conn, b"").await?;
        }
    }
    match reply(conn, &line)? {
        Reply::Ok(_) => Ok(()),
        Reply::Err(text) => {
            let kind = if text.starts_with("[SYS/") || text.starts_with("[IN-USE]") {
                FailureKind::Protocol
            } else {
                FailureKind::Auth
            };
            let text = match refused {
                Some(why) => format!("{text}; {why}"),
                None => text,
            };
            Err(conn.fail(kind, text))
        }
    }
}

async fn list_new<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    seen: &HashSet<String>,
    limit: usize,
) -> Result<Vec<Message>, Failure> {
    conn.stage = "uidl";
    let mut fresh: Vec<(u32, String)> = Vec::new();
    multiline_command(conn, b"UIDL", &mut |line: &[u8]| {
        let (n, uid) = number_and_word(line).ok_or("bad UIDL line")?;
        let uid = String::from_utf8_lossy(uid).into_owned();
        if !seen.contains(&uid) {
            fresh.push((n, uid));
        }
        Ok(())
    })
    .await?;
    fresh.sort_unstable_by_key(|(n, _)| *n);
    fresh.dedup_by_key(|(n, _)| *n);
    fresh.truncate(limit);
    if fresh.is_empty() {
        return Ok(Vec::new());
    }

    conn.stage = "list";
    let mut sizes: HashMap<u32, u64> = HashMap::new();
    multiline_command(conn, b"LIST", &mut |line: &[u8]| {
        let (n, size) = number_and_word(line).ok_or("bad LIST line")?;
        let size = std::str::from_utf8(size)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or("bad LIST size")?;
        sizes.insert(n, size);
        Ok(())
    })
    .await?;

    conn.stage = "top";
    let mut out = Vec::with_capacity(fresh.len());
    for (number, uidl) in fresh {
        let mut header = Vec::new();
        multiline_command(
            conn,
            format!("TOP {number} 0").as_bytes(),
            &mut |line: &[u8]| {
                if header.len() + line.len() + 2 <= MAX_HEADER {
                    header.extend_from_slice(line);
                    header.extend_from_slice(b"\r\n");
                }
                Ok(())
            },
        )
        .await?;
        out.push(Message {
            number,
            uidl,
            size: sizes.get(&number).copied().unwrap_or(0),
            headers: Headers::parse(&header),
        });
    }
    Ok(out)
}

/// `n word` (UIDL and LIST lines).
fn number_and_word(line: &[u8]) -> Option<(u32, &[u8])> {
    let s = line.strip_prefix(b" ").unwrap_or(line);
    let sp = s.iter().position(|&b| b == b' ')?;
    let n = std::str::from_utf8(&s[..sp]).ok()?.parse().ok()?;
    let word = s[sp + 1..].split(|&b| b == b' ').next()?;
    (!word.is_empty()).then_some((n, word))
}

async fn ask<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    cmd: &[u8],
) -> Result<Vec<u8>, Failure> {
    let mut line = cmd.to_vec();
    line.extend_from_slice(b"\r\n");
    conn.write_all(&line).await?;
    conn.read_line(MAX_LINE).await
}

enum Reply {
    Ok(String),
    Err(String),
}

fn reply<S>(conn: &Conn<S>, line: &[u8]) -> Result<Reply, Failure> {
    let word_end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    let text = printable(line.get(word_end + 1..).unwrap_or(b""), 500);
    match &line[..word_end] {
        w if w.eq_ignore_ascii_case(b"+OK") => Ok(Reply::Ok(text)),
        w if w.eq_ignore_ascii_case(b"-ERR") => Ok(Reply::Err(text)),
        _ => Err(conn.fail(
            FailureKind::Protocol,
            format!("not a POP3 answer: {}", printable(line, 200)),
        )),
    }
}

fn expect_ok<S>(conn: &Conn<S>, line: &[u8], kind: FailureKind) -> Result<String, Failure> {
    match reply(conn, line)? {
        Reply::Ok(text) => Ok(text),
        Reply::Err(text) => Err(conn.fail(kind, text)),
    }
}

/// A command with a multi-line answer: `+OK`, then lines (dot-unstuffed) handed to
/// `on_line`, up to the lone `.`. `-ERR` is a Protocol failure with the server's text.
async fn multiline_command<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    cmd: &[u8],
    on_line: &mut (dyn FnMut(&[u8]) -> Result<(), String> + Send),
) -> Result<(), Failure> {
    let line = ask(conn, cmd).await?;
    let verb = String::from_utf8_lossy(cmd.split(|&b| b == b' ').next().unwrap_or(b""));
    if let Reply::Err(text) = reply(conn, &line)? {
        return Err(conn.fail(FailureKind::Protocol, format!("{verb} refused: {text}")));
    }
    read_multiline(conn, on_line).await
}

pub(crate) async fn read_multiline<S: AsyncRead + Unpin>(
    conn: &mut Conn<S>,
    on_line: &mut (dyn FnMut(&[u8]) -> Result<(), String> + Send),
) -> Result<(), Failure> {
    let mut budget = MAX_MULTILINE;
    loop {
        let line = conn.read_line(MAX_LINE).await?;
        if line == b"." {
            return Ok(());
        }
        budget = budget.checked_sub(line.len() + 2).ok_or_else(|| {
            conn.fail(
                FailureKind::Protocol,
                format!("a multi-line answer longer than {MAX_MULTILINE} bytes"),
            )
        })?;
        let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
        on_line(unstuffed).map_err(|e| {
            conn.fail(
                FailureKind::Protocol,
                format!("{e}: {}", printable(&line, 200)),
            )
        })?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn lines(wire: &[u8]) -> Result<Vec<Vec<u8>>, Failure> {
        let mut conn = Conn::new(wire, Duration::from_secs(1));
        let mut out = Vec::new();
        read_multiline(&mut conn, &mut |l: &[u8]| {
            out.push(l.to_vec());
            Ok(())
        })
        .await?;
        Ok(out)
    }

    #[tokio::test]
    async fn dot_unstuffing() {
        let got = lines(b"Subject: x\r\n..leading dot\r\n.\r\nafter\r\n")
            .await
            .unwrap();
        assert_eq!(got, vec![b"Subject: x".to_vec(), b".leading dot".to_vec()]);
        let got = lines(b"...\r\n. \r\n\r\n.\r\n").await.unwrap();
        assert_eq!(got, vec![b"..".to_vec(), b" ".to_vec(), b"".to_vec()]);
        // Bare LF line ends are accepted too.
        assert_eq!(lines(b"a\n.\n").await.unwrap(), vec![b"a".to_vec()]);
    }

    #[tokio::test]
    async fn hostile_multiline_never_panics() {
        let err = lines(b"no terminator\r\n").await.unwrap_err();
        assert!(err.message.contains("closed"), "{err}");
        let huge = vec![b'x'; MAX_LINE + 1];
        let err = lines(&huge).await.unwrap_err();
        assert!(err.message.contains("longer than"), "{err}");
        let mut garbage: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
        garbage.extend_from_slice(b"\r\n.\r\n");
        let _ = lines(&garbage).await;
    }

    #[test]
    fn uidl_and_list_lines() {
        assert_eq!(
            number_and_word(b"1 000000017b5c"),
            Some((1, &b"000000017b5c"[..]))
        );
        assert_eq!(number_and_word(b"2 512"), Some((2, &b"512"[..])));
        assert_eq!(number_and_word(b"x 1"), None);
        assert_eq!(number_and_word(b"3"), None);
        assert_eq!(number_and_word(b"3 "), None);
        assert_eq!(number_and_word(b"99999999999 a"), None);
        assert_eq!(number_and_word(b""), None);
    }

    #[test]
    fn replies() {
        let conn = Conn::new(&b""[..], Duration::from_secs(1));
        assert!(matches!(reply(&conn, b"+OK 2 320"), Ok(Reply::Ok(t)) if t == "2 320"));
        assert!(matches!(reply(&conn, b"+ok"), Ok(Reply::Ok(t)) if t.is_empty()));
        assert!(
            matches!(reply(&conn, b"-ERR [AUTH] Authentication failed."), Ok(Reply::Err(t)) if t == "[AUTH] Authentication failed.")
        );
        assert!(reply(&conn, b"* OK imap").is_err());
        assert!(reply(&conn, b"").is_err());
    }
}
