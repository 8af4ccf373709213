//! The few RFC 5322 header fields a poll reports, unfolded and RFC 2047-decoded.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

/// What a message listing says about each message; `None` when the header is absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    pub message_id: Option<String>,
    pub subject: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub date: Option<String>,
}

/// Longer values are cut (a hostile header must not become a huge string per message).
const MAX_VALUE: usize = 8 * 1024;

impl Headers {
    /// Reads a header block (up to the first empty line; the rest is ignored). The first
    /// occurrence of a field wins. Never fails: unreadable lines are skipped.
    pub(crate) fn parse(block: &[u8]) -> Headers {
        let mut h = Headers::default();
        let mut current: Option<(Vec<u8>, Vec<u8>)> = None;
        for raw in block.split(|&b| b == b'\n') {
            let line = raw.strip_suffix(b"\r").unwrap_or(raw);
            if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
                if let Some((_, value)) = current.as_mut() {
                    if value.len() < MAX_VALUE * 4 {
                        value.extend_from_slice(line);
                    }
                }
                continue;
            }
            if let Some((name, value)) = current.take() {
                h.set(&name, &value);
            }
            if line.is_empty() {
                break;
            }
            if let Some(colon) = line.iter().position(|&b| b == b':') {
                let name = &line[..colon];
                if !name.is_empty() && name.iter().all(|&b| b.is_ascii_graphic()) {
                    current = Some((name.to_vec(), line[colon + 1..].to_vec()));
                }
            }
        }
        if let Some((name, value)) = current {
            h.set(&name, &value);
        }
        h
    }

    fn set(&mut self, name: &[u8], value: &[u8]) {
        let slot = match name.to_ascii_lowercase().as_slice() {
            b"message-id" => &mut self.message_id,
            b"subject" => &mut self.subject,
            b"from" => &mut self.from,
            b"to" => &mut self.to,
            b"date" => &mut self.date,
            _ => return,
        };
        if slot.is_none() {
            *slot = Some(clip(decode_words(bytes_to_text(value).trim())));
        }
    }
}

/// UTF-8 when it is, else Latin-1 (every byte a char): 8-bit headers are common.
fn bytes_to_text(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => b.iter().map(|&c| c as char).collect(),
    }
}

fn clip(mut s: String) -> String {
    // Control characters would let a header forge lines in logs and the console.
    s.retain(|c| !c.is_control() || c == '\t');
    if s.len() > MAX_VALUE {
        let mut end = MAX_VALUE;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// RFC 2047 encoded words (`=?UTF-8?B?...?=`, `=?ISO-8859-1?Q?...?=`). Adjacent words
/// of one charset are joined before decoding, since a UTF-8 character may be split
/// across them; the whitespace between adjacent words is dropped. Words in a charset
/// not known here stay as they are.
pub(crate) fn decode_words(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending: Option<(String, Vec<u8>)> = None;
    let mut rest = s;
    loop {
        let Some(i) = rest.find("=?") else {
            flush(&mut out, &mut pending);
            out.push_str(rest);
            return out;
        };
        let (before, from) = rest.split_at(i);
        match encoded_word(from) {
            Some((charset, bytes, len)) => {
                let adjacent = pending.is_some() && before.chars().all(|c| c == ' ' || c == '\t');
                match pending.as_mut() {
                    Some((cs, buf)) if adjacent && *cs == charset => buf.extend_from_slice(&bytes),
                    _ => {
                        flush(&mut out, &mut pending);
                        if !adjacent {
                            out.push_str(before);
                        }
                        pending = Some((charset, bytes));
                    }
                }
                rest = &from[len..];
            }
            None => {
                flush(&mut out, &mut pending);
                out.push_str(before);
                out.push_str("=?");
                rest = &from[2..];
            }
        }
    }
}

fn flush(out: &mut String, pending: &mut Option<(String, Vec<u8>)>) {
    if let Some((charset, bytes)) = pending.take() {
        match charset.as_str() {
            "utf-8" | "utf8" | "us-ascii" => out.push_str(&String::from_utf8_lossy(&bytes)),
            // windows-1252 differs from Latin-1 only in 0x80..0x9f; close enough for a listing.
            _ => out.extend(bytes.iter().map(|&b| b as char)),
        }
    }
}

/// `=?charset?B|Q?text?=` at the start of `s`: (lowercased charset, bytes, length).
fn encoded_word(s: &str) -> Option<(String, Vec<u8>, usize)> {
    let body = s.strip_prefix("=?")?;
    let q1 = body.find('?')?;
    let charset = body[..q1].split('*').next()?.to_ascii_lowercase();
    if !matches!(
        charset.as_str(),
        "utf-8" | "utf8" | "us-ascii" | "iso-8859-1" | "latin1" | "windows-1252"
    ) {
        return None;
    }
    let after = &body[q1 + 1..];
    let enc = match after.as_bytes() {
        [e, b'?', ..] => e.to_ascii_uppercase(),
        _ => return None,
    };
    let text_start = &after[2..];
    let end = text_start.find("?=")?;
    let text = &text_start[..end];
    if text.contains([' ', '\t']) {
        return None;
    }
    let bytes = match enc {
        b'B' => B64.decode(text).ok()?,
        b'Q' => decode_q(text)?,
        _ => return None,
    };
    Some((charset, bytes, 2 + q1 + 1 + 2 + end + 2))
}

fn decode_q(text: &str) -> Option<Vec<u8>> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = b.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_unfolds_and_decodes() {
        let block = b"Message-ID: <a@b>\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n =?UTF-8?B?IGF1cyBkZXIgVGVzdHVtZ2VidW5n?=\r\nFROM: A <a@x>\r\nTo: b@x,\r\n\tc@x\r\nDate: Mon, 1 Dec 2025 10:00:00 +0000\r\nSubject: second\r\n\r\nX-After: body\r\n";
        let h = Headers::parse(block);
        assert_eq!(h.message_id.as_deref(), Some("<a@b>"));
        assert_eq!(h.subject.as_deref(), Some("Grüße aus der Testumgebung"));
        assert_eq!(h.from.as_deref(), Some("A <a@x>"));
        assert_eq!(h.to.as_deref(), Some("b@x,\tc@x"));
        assert_eq!(h.date.as_deref(), Some("Mon, 1 Dec 2025 10:00:00 +0000"));
    }

    #[test]
    fn encoded_words() {
        assert_eq!(decode_words("=?utf-8?b?w6k=?= =?utf-8?b?w6k?="), "éé");
        // One UTF-8 character split over two words.
        assert_eq!(decode_words("=?UTF-8?Q?=C3?= =?UTF-8?Q?=A9?="), "é");
        assert_eq!(decode_words("a =?ISO-8859-1?Q?caf=E9?= b"), "a café b");
        assert_eq!(decode_words("=?koi8-r?B?0MXS?="), "=?koi8-r?B?0MXS?=");
        assert_eq!(decode_words("=?utf-8?Q?bad=Z?="), "=?utf-8?Q?bad=Z?=");
        assert_eq!(decode_words("=?=?=??=?utf-8?"), "=?=?=??=?utf-8?");
        assert_eq!(decode_words("plain =? text"), "plain =? text");
    }

    #[test]
    fn hostile_headers_never_panic() {
        let huge = vec![b'x'; 100_000];
        let mut block = b"Subject: ".to_vec();
        block.extend_from_slice(&huge);
        let h = Headers::parse(&block);
        assert_eq!(h.subject.unwrap().len(), MAX_VALUE);
        for junk in [
            &b"\xff\xfe\x00:\r\n\r\n"[..],
            b":::\n \n\t\n",
            b"Subject: =?utf-8?B?####?=",
            b"Subject: \x1b[31mred\r\n",
            b"\n\n\n",
            b"",
        ] {
            let _ = Headers::parse(junk);
        }
        assert_eq!(
            Headers::parse(b"Subject: \x1b[31mred\x07\r\n")
                .subject
                .as_deref(),
            Some("[31mred")
        );
        assert_eq!(
            Headers::parse(b"Subject: caf\xe9\r\n").subject.as_deref(),
            Some("café")
        );
    }
}
