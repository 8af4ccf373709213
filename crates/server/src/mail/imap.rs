//! IMAP4rev1 (RFC 3501) poll: greeting, STARTTLS, LOGIN, EXAMINE INBOX, the messages
//! after a known UID (UID SEARCH, UID FETCH of a few header fields and the size), LOGOUT.

use std::collections::BTreeMap;

use super::net::{printable, Conn};
use super::Headers;
use super::{Credentials, Day, Endpoint, Failure, FailureKind, Security, Timeouts, Tls};

/// Lines, literals and whole responses longer than these are refused, never buffered.
/// A `* SEARCH` line of 1 MiB holds about 140,000 UIDs.
const MAX_LINE: usize = 1024 * 1024;
const MAX_LITERAL: usize = 1024 * 1024;
const MAX_RESPONSE: usize = 4 * 1024 * 1024;
/// All untagged data of one command.
const MAX_COMMAND: usize = 64 * 1024 * 1024;
/// UIDs per UID FETCH command (keeps command lines short with sparse UIDs).
const FETCH_BATCH: usize = 500;
const MAX_DEPTH: usize = 16;

const HEADER_FIELDS: &str = "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID SUBJECT FROM TO DATE)]";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mailbox {
    pub uidvalidity: u32,
    /// The server's UIDNEXT; when it does not send one, the highest UID listed plus 1.
    pub uidnext: u32,
    pub exists: u32,
    /// Messages with a UID above the one asked for (all when the UIDVALIDITY changed or
    /// none was given), lowest UID first, at most `limit`.
    pub new: Vec<Message>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub uid: u32,
    /// RFC822.SIZE in octets.
    pub size: u64,
    pub headers: Headers,
}

/// Polls the INBOX. `after_uid` is the `(uidvalidity, uid)` of the last message already
/// seen; under another UIDVALIDITY every message is new again. The mailbox is opened
/// read-only (EXAMINE) and headers are fetched with BODY.PEEK: a poll changes no flag.
#[cfg(test)]
pub async fn poll(
    ep: &Endpoint,
    creds: &Credentials,
    tls: &Tls,
    timeouts: &Timeouts,
    after_uid: Option<(u32, u32)>,
    limit: usize,
) -> Result<Mailbox, Failure> {
    poll_since(ep, creds, tls, timeouts, after_uid, None, limit).await
}

/// `poll`, only taking the messages the server received since the day `since`
/// (`UID SEARCH SINCE`, with the UIDs above the position when there is one).
pub async fn poll_since(
    ep: &Endpoint,
    creds: &Credentials,
    tls: &Tls,
    timeouts: &Timeouts,
    after_uid: Option<(u32, u32)>,
    since: Option<Day>,
    limit: usize,
) -> Result<Mailbox, Failure> {
    let mut s = Session {
        conn: Conn::open(ep, tls, timeouts).await?,
        tag: 0,
    };
    let mut greeting = s.greeting().await?;
    if ep.security == Security::StartTls {
        if greeting.preauth {
            return Err(s.conn.fail(
                FailureKind::Tls,
                "the server greeted PREAUTH, so STARTTLS is not possible",
            ));
        }
        s.starttls().await?;
        s = Session {
            conn: s.conn.start_tls(tls, &ep.host).await?,
            tag: s.tag,
        };
        greeting.login_disabled = false;
    }
    if !greeting.preauth {
        s.login(creds, greeting.login_disabled).await?;
    }
    let mut mailbox = s.examine().await?;
    if limit > 0 && mailbox.exists > 0 {
        mailbox.new = s.list_new(&mailbox, after_uid, since, limit).await?;
    }
    if mailbox.uidnext == 0 {
        mailbox.uidnext = mailbox.new.last().map_or(1, |m| m.uid.saturating_add(1));
    }
    s.logout().await;
    Ok(mailbox)
}

struct Session {
    conn: Conn,
    tag: u32,
}

struct Greeting {
    preauth: bool,
    login_disabled: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum Status {
    Ok,
    No,
    Bad,
}

/// A tagged completion: its status and text (with any response code).
struct Done {
    status: Status,
    text: String,
}

/// One piece of a command: text as is, or a string sent as a synchronizing literal.
enum Part<'a> {
    Text(&'a [u8]),
    Literal(&'a [u8]),
}

impl Session {
    async fn greeting(&mut self) -> Result<Greeting, Failure> {
        self.conn.stage = "greeting";
        let line = self.conn.read_line(MAX_LINE).await?;
        let rest = line.strip_prefix(b"* ").unwrap_or(b"");
        let (word, text) = split_word(rest);
        match word.to_ascii_uppercase().as_slice() {
            b"OK" | b"PREAUTH" => Ok(Greeting {
                preauth: word.eq_ignore_ascii_case(b"PREAUTH"),
                login_disabled: capability(text, b"LOGINDISABLED"),
            }),
            b"BYE" => Err(self.conn.fail(FailureKind::Protocol, printable(text, 300))),
            _ => Err(self.conn.fail(
                FailureKind::Protocol,
                format!("not an IMAP greeting: {}", printable(&line, 200)),
            )),
        }
    }

    async fn starttls(&mut self) -> Result<(), Failure> {
        self.conn.stage = "starttls";
        let done = self
            .command(&[Part::Text(b"STARTTLS")], &mut ignore)
            .await?;
        if done.status != Status::Ok {
            return Err(self
                .conn
                .fail(FailureKind::Tls, format!("STARTTLS refused: {}", done.text)));
        }
        Ok(())
    }

    async fn login(&mut self, creds: &Credentials, login_disabled: bool) -> Result<(), Failure> {
        self.conn.stage = "login";
        if creds.bearer {
            return self.authenticate_xoauth2(creds).await;
        }
        if login_disabled {
            return Err(self.conn.fail(
                FailureKind::Auth,
                "the server disables LOGIN on this connection (LOGINDISABLED); use STARTTLS or TLS",
            ));
        }
        let user = astring(creds.username.as_bytes());
        let pass = astring(creds.password.as_bytes());
        let mut parts = vec![Part::Text(b"LOGIN ")];
        parts.push(user.part());
        parts.push(Part::Text(b" "));
        parts.push(pass.part());
        let done = self.command(&parts, &mut ignore).await?;
        match done.status {
            Status::Ok => Ok(()),
            // A server outage is not a credentials problem (RFC 5530 response codes).
            _ if has_code(&done.text, &["UNAVAILABLE", "SERVERBUG", "INUSE", "LIMIT"]) => {
                Err(self.conn.fail(FailureKind::Protocol, done.text))
            }
            _ => Err(self.conn.fail(FailureKind::Auth, done.text)),
        }
    }

    /// `AUTHENTICATE XOAUTH2` with the initial response (SASL-IR, which Gmail,
    /// Exchange Online and Dovecot take). A refused token comes back as a continuation
    /// carrying the error, answered with an empty line, then the tagged NO.
    async fn authenticate_xoauth2(&mut self, creds: &Credentials) -> Result<(), Failure> {
        self.tag += 1;
        let tag = format!("a{}", self.tag);
        let line = format!("{tag} AUTHENTICATE XOAUTH2 {}\r\n", creds.xoauth2());
        self.conn.write_all(line.as_bytes()).await?;
        let mut budget = MAX_COMMAND;
        let mut refused = None;
        let done = loop {
            let resp = self.read_response(&mut budget).await?;
            if let Some(done) = self.tagged(&tag, &resp)? {
                break done;
            }
            if let Some(challenge) = resp.strip_prefix(b"+") {
                if refused.is_some() {
                    return Err(self.conn.fail(
                        FailureKind::Protocol,
                        "a second XOAUTH2 challenge after the empty answer",
                    ));
                }
                refused = Some(super::xoauth2_error(challenge));
                self.conn.write_all(b"\r\n").await?;
                continue;
            }
            self.untagged(&resp, &mut ignore)?;
        };
        match done.status {
            Status::Ok => Ok(()),
            _ if has_code(&done.text, &["UNAVAILABLE", "SERVERBUG", "INUSE", "LIMIT"]) => {
                Err(self.conn.fail(FailureKind::Protocol, done.text))
            }
            _ => Err(self.conn.fail(
                FailureKind::Auth,
                match refused {
                    Some(why) => format!("{}; {why}", done.text),
                    None => done.text,
                },
            )),
        }
    }

    async fn examine(&mut self) -> Result<Mailbox, Failure> {
        self.conn.stage = "select";
        let mut exists = None;
        let mut uidvalidity = None;
        let mut uidnext = None;
        let done = self
            .command(&[Part::Text(b"EXAMINE INBOX")], &mut |data: &[u8]| {
                let (first, rest) = split_word(data);
                if rest.eq_ignore_ascii_case(b"EXISTS") {
                    exists = Some(number(first).ok_or("bad EXISTS count")?);
                } else if first.eq_ignore_ascii_case(b"OK") {
                    match response_code(rest) {
                        Some((b"UIDVALIDITY", arg)) => {
                            uidvalidity = Some(number(arg).ok_or("bad UIDVALIDITY")?)
                        }
                        Some((b"UIDNEXT", arg)) => {
                            uidnext = Some(number(arg).ok_or("bad UIDNEXT")?)
                        }
                        _ => {}
                    }
                }
                Ok(())
            })
            .await?;
        if done.status != Status::Ok {
            return Err(self.conn.fail(FailureKind::Protocol, done.text));
        }
        let Some(uidvalidity) = uidvalidity else {
            return Err(self
                .conn
                .fail(FailureKind::Protocol, "the server sent no UIDVALIDITY"));
        };
        Ok(Mailbox {
            uidvalidity,
            uidnext: uidnext.unwrap_or(0),
            exists: exists.unwrap_or(0),
            new: Vec::new(),
        })
    }

    async fn list_new(
        &mut self,
        mailbox: &Mailbox,
        after_uid: Option<(u32, u32)>,
        since: Option<Day>,
        limit: usize,
    ) -> Result<Vec<Message>, Failure> {
        let since = since.map_or(String::new(), |d| format!(" SINCE {}", d.imap()));
        let (after, search) = match after_uid {
            Some((validity, uid)) if validity == mailbox.uidvalidity => (
                uid,
                format!("UID SEARCH UID {}:*{since}", u64::from(uid) + 1),
            ),
            _ if !since.is_empty() => (0, format!("UID SEARCH{since}")),
            _ => {
                // Everything is new: sequence numbers 1..k are the k lowest UIDs, so
                // no SEARCH is needed.
                let k = (mailbox.exists as usize).min(limit);
                let cmd = format!("FETCH 1:{k} (UID RFC822.SIZE {HEADER_FIELDS})");
                return self.fetch(cmd.as_bytes(), None, limit).await;
            }
        };
        if mailbox.uidnext != 0 && u64::from(after) + 1 >= u64::from(mailbox.uidnext) {
            return Ok(Vec::new());
        }
        self.conn.stage = "search";
        let mut uids = Vec::new();
        let cmd = search;
        let done = self
            .command(&[Part::Text(cmd.as_bytes())], &mut |data: &[u8]| {
                let (word, rest) = split_word(data);
                if word.eq_ignore_ascii_case(b"SEARCH") {
                    for n in rest.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
                        uids.push(number(n).ok_or("bad UID in SEARCH")?);
                    }
                }
                Ok(())
            })
            .await?;
        if done.status != Status::Ok {
            return Err(self.conn.fail(FailureKind::Protocol, done.text));
        }
        // `n:*` also matches the highest UID when it is below n.
        uids.retain(|&u| u > after);
        uids.sort_unstable();
        uids.dedup();
        uids.truncate(limit);
        let mut out = Vec::with_capacity(uids.len());
        for chunk in uids.chunks(FETCH_BATCH) {
            let cmd = format!(
                "UID FETCH {} (UID RFC822.SIZE {HEADER_FIELDS})",
                uid_set(chunk)
            );
            out.extend(self.fetch(cmd.as_bytes(), Some(chunk), limit).await?);
        }
        Ok(out)
    }

    async fn fetch(
        &mut self,
        cmd: &[u8],
        wanted: Option<&[u32]>,
        limit: usize,
    ) -> Result<Vec<Message>, Failure> {
        self.conn.stage = "fetch";
        let mut found: BTreeMap<u32, Message> = BTreeMap::new();
        let done = self
            .command(&[Part::Text(cmd)], &mut |data: &[u8]| {
                let Some(item) = parse_fetch(data)? else {
                    return Ok(());
                };
                let Some(header) = item.header else {
                    // Unsolicited FETCH (a flag change) or an item we did not ask for.
                    return Ok(());
                };
                let Some(uid) = item.uid else {
                    return Err("FETCH without UID".into());
                };
                if wanted.is_none_or(|w| w.binary_search(&uid).is_ok()) {
                    found.insert(
                        uid,
                        Message {
                            uid,
                            size: item.size.unwrap_or(0),
                            headers: Headers::parse(&header),
                        },
                    );
                }
                Ok(())
            })
            .await?;
        if done.status != Status::Ok {
            return Err(self.conn.fail(FailureKind::Protocol, done.text));
        }
        Ok(found.into_values().take(limit).collect())
    }

    async fn logout(mut self) {
        self.conn.stage = "logout";
        // The poll's result is in hand; a server that hangs up early changes nothing.
        let _ = self.command(&[Part::Text(b"LOGOUT")], &mut ignore).await;
        self.conn.close().await;
    }

    /// Sends one command and reads up to its tagged completion, handing each untagged
    /// response (without `* `) to `on_untagged`; an error from it ends the poll.
    async fn command(
        &mut self,
        parts: &[Part<'_>],
        on_untagged: &mut (dyn FnMut(&[u8]) -> Result<(), String> + Send),
    ) -> Result<Done, Failure> {
        self.tag += 1;
        let tag = format!("a{}", self.tag);
        let mut out = format!("{tag} ").into_bytes();
        let mut budget = MAX_COMMAND;
        for part in parts {
            match part {
                Part::Text(t) => out.extend_from_slice(t),
                Part::Literal(l) => {
                    out.extend_from_slice(format!("{{{}}}\r\n", l.len()).as_bytes());
                    self.conn.write_all(&out).await?;
                    out.clear();
                    loop {
                        let resp = self.read_response(&mut budget).await?;
                        if resp.starts_with(b"+") {
                            break;
                        }
                        if let Some(done) = self.tagged(&tag, &resp)? {
                            return Ok(done);
                        }
                        self.untagged(&resp, on_untagged)?;
                    }
                    out.extend_from_slice(l);
                }
            }
        }
        out.extend_from_slice(b"\r\n");
        self.conn.write_all(&out).await?;
        loop {
            let resp = self.read_response(&mut budget).await?;
            if let Some(done) = self.tagged(&tag, &resp)? {
                return Ok(done);
            }
            if resp.starts_with(b"+") {
                return Err(self.conn.fail(
                    FailureKind::Protocol,
                    format!("unexpected continuation: {}", printable(&resp, 200)),
                ));
            }
            self.untagged(&resp, on_untagged)?;
        }
    }

    fn tagged(&self, tag: &str, resp: &[u8]) -> Result<Option<Done>, Failure> {
        let Some(rest) = resp
            .strip_prefix(tag.as_bytes())
            .and_then(|r| r.strip_prefix(b" "))
        else {
            return Ok(None);
        };
        let (word, text) = split_word(rest);
        let status = match word.to_ascii_uppercase().as_slice() {
            b"OK" => Status::Ok,
            b"NO" => Status::No,
            b"BAD" => Status::Bad,
            _ => {
                return Err(self.conn.fail(
                    FailureKind::Protocol,
                    format!("bad completion: {}", printable(resp, 200)),
                ))
            }
        };
        Ok(Some(Done {
            status,
            text: printable(text, 500),
        }))
    }

    fn untagged(
        &self,
        resp: &[u8],
        on_untagged: &mut (dyn FnMut(&[u8]) -> Result<(), String> + Send),
    ) -> Result<(), Failure> {
        let Some(data) = resp.strip_prefix(b"* ") else {
            return Err(self.conn.fail(
                FailureKind::Protocol,
                format!("unexpected line: {}", printable(resp, 200)),
            ));
        };
        let (word, text) = split_word(data);
        if word.eq_ignore_ascii_case(b"BYE") {
            return Err(self.conn.fail(FailureKind::Protocol, printable(text, 500)));
        }
        on_untagged(data).map_err(|e| {
            self.conn.fail(
                FailureKind::Protocol,
                format!("{e}: {}", printable(resp, 200)),
            )
        })
    }

    async fn read_response(&mut self, budget: &mut usize) -> Result<Vec<u8>, Failure> {
        let resp = read_response(&mut self.conn).await?;
        *budget = budget.checked_sub(resp.len() + 2).ok_or_else(|| {
            self.conn.fail(
                FailureKind::Protocol,
                format!("the server sent more than {MAX_COMMAND} bytes for one command"),
            )
        })?;
        Ok(resp)
    }
}

fn ignore(_: &[u8]) -> Result<(), String> {
    Ok(())
}

/// One response: its lines joined by CRLF, each literal kept inline as `{n}\r\n<n bytes>`
/// so the parser sees exactly what came over the wire (less the final CRLF).
pub(crate) async fn read_response<S: tokio::io::AsyncRead + Unpin>(
    conn: &mut Conn<S>,
) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::new();
    loop {
        let line = conn.read_line(MAX_LINE).await?;
        out.extend_from_slice(&line);
        if out.len() > MAX_RESPONSE {
            return Err(conn.fail(
                FailureKind::Protocol,
                format!("a response longer than {MAX_RESPONSE} bytes"),
            ));
        }
        let Some(n) = literal_len(&line) else {
            return Ok(out);
        };
        if n > MAX_LITERAL || out.len() + n > MAX_RESPONSE {
            return Err(conn.fail(
                FailureKind::Protocol,
                format!("a literal of {n} bytes (at most {MAX_LITERAL} accepted)"),
            ));
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&conn.read_exact(n).await?);
    }
}

/// `{123}` (or `{123+}`) at the end of a line.
fn literal_len(line: &[u8]) -> Option<usize> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The first space-separated word and the rest.
fn split_word(b: &[u8]) -> (&[u8], &[u8]) {
    match b.iter().position(|&c| c == b' ') {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &[]),
    }
}

fn number(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 10 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// `[CODE arg] text` → (CODE uppercased, arg).
fn response_code(text: &[u8]) -> Option<(&'static [u8], &[u8])> {
    let inner = text.strip_prefix(b"[")?;
    let end = inner.iter().position(|&b| b == b']')?;
    let (code, arg) = split_word(&inner[..end]);
    let known: &[&'static [u8]] = &[b"UIDVALIDITY", b"UIDNEXT"];
    let code = known.iter().find(|k| code.eq_ignore_ascii_case(k))?;
    Some((code, arg))
}

fn capability(text: &[u8], cap: &[u8]) -> bool {
    let Some(inner) = text.strip_prefix(b"[") else {
        return false;
    };
    let end = inner.iter().position(|&b| b == b']').unwrap_or(inner.len());
    let mut words = inner[..end].split(|&b| b == b' ');
    words
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case(b"CAPABILITY"))
        && words.any(|w| w.eq_ignore_ascii_case(cap))
}

fn has_code(text: &str, codes: &[&str]) -> bool {
    let Some(inner) = text.strip_prefix('[') else {
        return false;
    };
    let code = inner.split([']', ' ']).next().unwrap_or("");
    codes.iter().any(|c| code.eq_ignore_ascii_case(c))
}

/// A string as an IMAP quoted string, or as a literal when quoting cannot carry it.
enum AString {
    Quoted(Vec<u8>),
    Literal(Vec<u8>),
}

impl AString {
    fn part(&self) -> Part<'_> {
        match self {
            AString::Quoted(q) => Part::Text(q),
            AString::Literal(l) => Part::Literal(l),
        }
    }
}

fn astring(s: &[u8]) -> AString {
    if s.iter()
        .any(|&b| b == b'\r' || b == b'\n' || b == 0 || b >= 0x80)
    {
        return AString::Literal(s.to_vec());
    }
    let mut q = Vec::with_capacity(s.len() + 2);
    q.push(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            q.push(b'\\');
        }
        q.push(b);
    }
    q.push(b'"');
    AString::Quoted(q)
}

/// Sorted UIDs as a compact set: `1:4,7,9:10`.
fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// What a FETCH response says about one message.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct FetchItem {
    pub(crate) seq: u32,
    pub(crate) uid: Option<u32>,
    pub(crate) size: Option<u64>,
    pub(crate) header: Option<Vec<u8>>,
}

/// `<seq> FETCH (<items>)`; `Ok(None)` for other untagged data.
pub(crate) fn parse_fetch(data: &[u8]) -> Result<Option<FetchItem>, String> {
    let (seq, rest) = split_word(data);
    let (word, rest) = split_word(rest);
    if !word.eq_ignore_ascii_case(b"FETCH") {
        return Ok(None);
    }
    let seq = number(seq).ok_or("bad FETCH sequence number")?;
    let mut p = Parser { b: rest, i: 0 };
    let Value::List(items) = p.value(0)? else {
        return Err("FETCH data is not a list".into());
    };
    let mut item = FetchItem {
        seq,
        ..FetchItem::default()
    };
    let mut it = items.into_iter();
    while let Some(key) = it.next() {
        let Value::Atom(key) = key else {
            return Err("FETCH item name is not an atom".into());
        };
        let value = it.next().ok_or("FETCH item without a value")?;
        let key = key.to_ascii_uppercase();
        if key == b"UID" {
            item.uid = Some(atom_number(&value).ok_or("bad UID")?);
        } else if key == b"RFC822.SIZE" {
            item.size = Some(u64::from(atom_number(&value).ok_or("bad RFC822.SIZE")?));
        } else if key.starts_with(b"BODY[") {
            item.header = match value {
                Value::Str(s) => Some(s),
                Value::Nil => Some(Vec::new()),
                _ => return Err("BODY[...] is not a string".into()),
            };
        }
    }
    Ok(Some(item))
}

fn atom_number(v: &Value) -> Option<u32> {
    match v {
        Value::Atom(a) => number(a),
        _ => None,
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Value {
    Atom(Vec<u8>),
    Str(Vec<u8>),
    List(Vec<Value>),
    Nil,
}

pub(crate) struct Parser<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) i: usize,
}

impl Parser<'_> {
    fn skip_spaces(&mut self) {
        while self.b.get(self.i) == Some(&b' ') {
            self.i += 1;
        }
    }

    pub(crate) fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err("lists nested too deep".into());
        }
        self.skip_spaces();
        match self.b.get(self.i) {
            None => Err("unexpected end of response".into()),
            Some(b'(') => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_spaces();
                    match self.b.get(self.i) {
                        Some(b')') => {
                            self.i += 1;
                            return Ok(Value::List(items));
                        }
                        None => return Err("unclosed list".into()),
                        _ => items.push(self.value(depth + 1)?),
                    }
                }
            }
            Some(b'"') => {
                self.i += 1;
                let mut s = Vec::new();
                loop {
                    match self.b.get(self.i) {
                        None | Some(b'\r') | Some(b'\n') => {
                            return Err("unterminated quoted string".into())
                        }
                        Some(b'"') => {
                            self.i += 1;
                            return Ok(Value::Str(s));
                        }
                        Some(b'\\') => {
                            let c = *self.b.get(self.i + 1).ok_or("dangling backslash")?;
                            s.push(c);
                            self.i += 2;
                        }
                        Some(&c) => {
                            s.push(c);
                            self.i += 1;
                        }
                    }
                }
            }
            Some(b'{') => {
                let rest = &self.b[self.i..];
                let close = rest
                    .iter()
                    .position(|&b| b == b'}')
                    .ok_or("unclosed literal size")?;
                let n = literal_len(&rest[..=close]).ok_or("bad literal size")?;
                let start = self.i + close + 1;
                if self.b.get(start..start + 2) != Some(b"\r\n") {
                    return Err("literal size not followed by CRLF".into());
                }
                let data = self
                    .b
                    .get(start + 2..start + 2 + n)
                    .ok_or("literal shorter than announced")?;
                self.i = start + 2 + n;
                Ok(Value::Str(data.to_vec()))
            }
            Some(_) => {
                let start = self.i;
                let mut brackets = 0usize;
                while let Some(&c) = self.b.get(self.i) {
                    match c {
                        b'[' => brackets += 1,
                        b']' if brackets > 0 => brackets -= 1,
                        b'\r' | b'\n' => break,
                        b' ' | b'(' | b')' | b'"' | b'{' if brackets == 0 => break,
                        _ => {}
                    }
                    self.i += 1;
                }
                let atom = &self.b[start..self.i];
                if atom.is_empty() {
                    return Err(format!("unexpected byte {:?}", self.b[start] as char));
                }
                if atom.eq_ignore_ascii_case(b"NIL") {
                    Ok(Value::Nil)
                } else {
                    Ok(Value::Atom(atom.to_vec()))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fetch_with_literal_and_quoted_strings() {
        let data = b"12 FETCH (UID 345 RFC822.SIZE 1200 BODY[HEADER.FIELDS (MESSAGE-ID SUBJECT)] {43}\r\nMessage-ID: <x@y>\r\nSubject: hi (there)\r\n\r\n FLAGS (\\Seen))";
        let item = parse_fetch(data).unwrap().unwrap();
        assert_eq!(item.seq, 12);
        assert_eq!(item.uid, Some(345));
        assert_eq!(item.size, Some(1200));
        let h = Headers::parse(&item.header.unwrap());
        assert_eq!(h.subject.as_deref(), Some("hi (there)"));
        let quoted = parse_fetch(b"1 FETCH (BODY[HEADER] \"Subject: a \\\"b\\\"\" UID 2)")
            .unwrap()
            .unwrap();
        assert_eq!(quoted.header.as_deref(), Some(&b"Subject: a \"b\""[..]));
        let nil = parse_fetch(b"1 FETCH (UID 9 BODY[HEADER] NIL)")
            .unwrap()
            .unwrap();
        assert_eq!(nil.header.as_deref(), Some(&b""[..]));
        assert_eq!(parse_fetch(b"3 EXISTS").unwrap(), None);
    }

    #[test]
    fn hostile_fetch_never_panics() {
        let deep = format!("1 FETCH {}", "(".repeat(10_000));
        let cases: Vec<&[u8]> = vec![
            b"1 FETCH",
            b"1 FETCH (",
            b"1 FETCH (UID)",
            b"1 FETCH (UID 99999999999)",
            b"1 FETCH (UID -1)",
            b"x FETCH (UID 1)",
            b"1 FETCH (BODY[ {5}\r\nab)",
            b"1 FETCH (BODY[] {999999999999}\r\n)",
            b"1 FETCH (BODY[] {3}x)",
            b"1 FETCH (BODY[] {3}\r\nabcdef)",
            b"1 FETCH (BODY[] \"unterminated",
            b"1 FETCH (BODY[] \"\\",
            b"1 FETCH ((((((UID 1))))))",
            b"1 FETCH (\"key\" 1)",
            b"1 FETCH )",
            b"\xff\xfe FETCH \x00",
            deep.as_bytes(),
        ];
        for case in cases {
            let _ = parse_fetch(case);
        }
        assert!(parse_fetch(deep.as_bytes()).is_err());
    }

    #[test]
    fn literal_sizes() {
        assert_eq!(literal_len(b"* 1 FETCH (BODY[] {12}"), Some(12));
        assert_eq!(literal_len(b"a {0+}"), Some(0));
        assert_eq!(literal_len(b"a {}"), None);
        assert_eq!(literal_len(b"a {99999999999}"), None);
        assert_eq!(literal_len(b"a {1x}"), None);
        assert_eq!(literal_len(b"}"), None);
    }

    #[tokio::test]
    async fn responses_join_literals_and_refuse_huge_ones() {
        let wire = b"* 1 FETCH (BODY[] {5}\r\nab\r\nc UID 7)\r\n* OK done\r\n".to_vec();
        let mut conn = Conn::new(&wire[..], Duration::from_secs(1));
        let first = read_response(&mut conn).await.unwrap();
        assert_eq!(first, b"* 1 FETCH (BODY[] {5}\r\nab\r\nc UID 7)");
        assert_eq!(read_response(&mut conn).await.unwrap(), b"* OK done");
        let err = read_response(&mut conn).await.unwrap_err();
        assert_eq!(err.kind, FailureKind::Closed);

        let huge = format!("* 1 FETCH (BODY[] {{{}}}\r\n", MAX_LITERAL + 1).into_bytes();
        let mut conn = Conn::new(&huge[..], Duration::from_secs(1));
        let err = read_response(&mut conn).await.unwrap_err();
        assert!(err.message.contains("literal"), "{err}");

        let long = vec![b'x'; MAX_LINE + 10];
        let mut conn = Conn::new(&long[..], Duration::from_secs(1));
        let err = read_response(&mut conn).await.unwrap_err();
        assert!(err.message.contains("longer than"), "{err}");

        let truncated = b"* 1 FETCH (BODY[] {50}\r\nshort".to_vec();
        let mut conn = Conn::new(&truncated[..], Duration::from_secs(1));
        let err = read_response(&mut conn).await.unwrap_err();
        assert!(err.message.contains("closed"), "{err}");
    }

    #[test]
    fn helpers() {
        assert_eq!(uid_set(&[1, 2, 3, 4, 7, 9, 10]), "1:4,7,9:10");
        assert_eq!(uid_set(&[5]), "5");
        assert_eq!(
            uid_set(&[u32::MAX - 1, u32::MAX]),
            format!("{}:{}", u32::MAX - 1, u32::MAX)
        );
        assert!(matches!(astring(b"a\"b\\c"), AString::Quoted(q) if q == b"\"a\\\"b\\\\c\""));
        assert!(matches!(
            astring("pässword".as_bytes()),
            AString::Literal(_)
        ));
        assert_eq!(
            response_code(b"[UIDVALIDITY 42] UIDs valid"),
            Some((&b"UIDVALIDITY"[..], &b"42"[..]))
        );
        assert_eq!(response_code(b"[UIDNEXT"), None);
        assert!(capability(
            b"[CAPABILITY IMAP4rev1 LOGINDISABLED] hi",
            b"LOGINDISABLED"
        ));
        assert!(!capability(
            b"[CAPABILITY IMAP4rev1] LOGINDISABLED",
            b"LOGINDISABLED"
        ));
        assert!(has_code("[UNAVAILABLE] try later", &["UNAVAILABLE"]));
        assert!(!has_code("[AUTHENTICATIONFAILED] no", &["UNAVAILABLE"]));
        assert_eq!(printable(b"a\x1b[1mb\r\n", 10), "a[1mb");
    }
}
