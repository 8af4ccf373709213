//! Facts inside a trace's `errordetails` text: `T:` value, ActivityId, the `>Error :` /
//! `>Exception :` text, .NET exception types and messages, HTTP status and numeric codes.

use crate::report::ExceptionInfo;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceFacts {
    pub t: Option<i64>,
    pub activity_id: Option<String>,
    pub message: Option<String>,
    pub exceptions: Vec<ExceptionInfo>,
    pub http_status: Option<u16>,
    pub error_code: Option<i64>,
}

pub fn extract(details: &str) -> TraceFacts {
    let mut facts = TraceFacts {
        t: t_value(details),
        activity_id: after_ci(details, "ActivityId:")
            .and_then(first_token)
            .map(str::to_string),
        exceptions: exceptions(details),
        http_status: http_status(details),
        error_code: error_code(details),
        message: None,
    };
    facts.message = message(details, &facts.exceptions);
    facts
}

/// Case-insensitive find of an ASCII needle. Candidates are found with memchr on the
/// needle's rarest byte rather than its first: "Exception type:" anchors on `x`, not `e`.
pub fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    let anchor = (0..n.len()).max_by_key(|&i| rarity(n[i])).unwrap_or(0);
    let (lo, up) = (
        n[anchor].to_ascii_lowercase(),
        n[anchor].to_ascii_uppercase(),
    );
    let window = &h[anchor..h.len() - n.len() + anchor + 1];
    memchr::memchr2_iter(lo, up, window).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// How rare a byte is in English log text; higher is rarer.
fn rarity(b: u8) -> u8 {
    RARITY[usize::from(b)]
}

static RARITY: [u8; 256] = {
    const BY_FREQUENCY: &[u8] = b" etaoinsrhldcumfpgwybvkxjqz";
    let mut t = [30u8; 256];
    let mut d = b'0';
    while d <= b'9' {
        t[d as usize] = 20;
        d += 1;
    }
    let mut i = 0;
    while i < BY_FREQUENCY.len() {
        let c = BY_FREQUENCY[i];
        t[c as usize] = i as u8;
        t[c.to_ascii_uppercase() as usize] = i as u8;
        i += 1;
    }
    t
};

fn after_ci<'a>(hay: &'a str, needle: &str) -> Option<&'a str> {
    find_ci(hay, needle).map(|i| &hay[i + needle.len()..])
}

fn first_token(s: &str) -> Option<&str> {
    s.split_whitespace().next()
}

fn t_value(details: &str) -> Option<i64> {
    details.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("T:")?;
        let digits: String = rest
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    })
}

/// Text after the first `>Error :` or `>Exception :` marker, whatever its spacing.
fn error_text(details: &str) -> Option<&str> {
    let mut best: Option<&str> = None;
    for marker in [">Error", ">Exception"] {
        let mut from = 0;
        while let Some(i) = find_ci(&details[from..], marker) {
            let rest = &details[from + i + marker.len()..];
            if let Some(r) = rest.trim_start_matches([' ', '\t']).strip_prefix(':') {
                let start = details.len() - r.len();
                if best.is_none_or(|b| details.len() - b.len() > start) {
                    best = Some(r);
                }
                break;
            }
            from += i + marker.len();
        }
    }
    best.map(str::trim_start)
}

/// Cuts a message before its stack trace or the next exception.
fn cut_message(s: &str) -> &str {
    let mut end = s.find('\n').unwrap_or(s.len());
    for stop in ["   at ", " -- End", "Exception type:"] {
        if let Some(i) = find_ci(&s[..end], stop) {
            end = end.min(i);
        }
    }
    s[..end].trim().trim_start_matches(['?', ' '])
}

fn exceptions(details: &str) -> Vec<ExceptionInfo> {
    let mut out = Vec::new();
    let mut rest = details;
    while let Some(after) = after_ci(rest, "Exception type:") {
        let ty = first_token(after).unwrap_or("").to_string();
        let next = find_ci(after, "Exception type:").unwrap_or(after.len());
        let message = after_ci(&after[..next], "Message:")
            .map(cut_message)
            .filter(|m| !m.is_empty())
            .map(str::to_string);
        if !ty.is_empty() {
            out.push(ExceptionInfo {
                exception_type: ty,
                message,
            });
        }
        rest = &after[next..];
    }
    if out.is_empty() {
        // "System.Net.WebException: The request failed ..." as the error text itself.
        if let Some(text) = error_text(details) {
            if let Some((ty, msg)) = text.split_once(": ") {
                if ty.ends_with("Exception") && !ty.contains(char::is_whitespace) {
                    out.push(ExceptionInfo {
                        exception_type: ty.to_string(),
                        message: Some(cut_message(msg).to_string()),
                    });
                }
            }
        }
    }
    out
}

fn message(details: &str, exceptions: &[ExceptionInfo]) -> Option<String> {
    let from_marker = error_text(details)
        .map(cut_message)
        .filter(|m| !m.is_empty());
    let generic =
        from_marker.is_none_or(|m| m.to_ascii_lowercase().starts_with("unhandled exception"));
    if generic {
        if let Some(m) = exceptions.iter().find_map(|e| e.message.clone()) {
            return Some(m);
        }
    }
    if let Some(m) = from_marker {
        return Some(m.to_string());
    }
    details
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("T:") && find_ci(l, "ActivityId:") != Some(0))
        .map(|l| cut_message(l).to_string())
        .filter(|m| !m.is_empty())
}

fn http_status(text: &str) -> Option<u16> {
    let b = text.as_bytes();
    for prefix in [
        "HTTP status ",
        "status code ",
        "StatusCode: ",
        "HTTP/1.1 ",
        "HTTP ",
    ] {
        let mut from = 0;
        while let Some(i) = find_ci(&text[from..], prefix) {
            let at = from + i + prefix.len();
            if let Some(code) = three_digits(b, at) {
                return Some(code);
            }
            from = at;
        }
    }
    // "(503) Server Unavailable"
    b.windows(5).find_map(|w| {
        if w[0] == b'(' && w[4] == b')' {
            three_digits(w, 1)
        } else {
            None
        }
    })
}

fn three_digits(b: &[u8], at: usize) -> Option<u16> {
    let d = b.get(at..at + 3)?;
    if !d.iter().all(u8::is_ascii_digit) || b.get(at + 3).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let n = d.iter().fold(0u16, |a, c| a * 10 + u16::from(c - b'0'));
    (100..600).contains(&n).then_some(n)
}

/// A negative 32-bit error code written in decimal (`-2147220956`) or as `0x8004xxxx`.
pub fn error_code(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    // Candidates only where "-2" or "0x"/"0X" stand: a full byte scan showed in the profile.
    let dec = memchr::memmem::find_iter(b, b"-2").map(|i| (i, false));
    let hex = memchr::memmem::find_iter(b, b"0x")
        .chain(memchr::memmem::find_iter(b, b"0X"))
        .map(|i| (i, true));
    let mut best: Option<(usize, i64)> = None;
    for (i, is_hex) in dec.chain(hex) {
        if best.is_some_and(|(at, _)| at < i) || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
            continue;
        }
        let value = if is_hex {
            hex_code(b, i)
        } else {
            decimal_code(text, i)
        };
        if let Some(v) = value {
            best = Some((i, v));
        }
    }
    best.map(|(_, v)| v)
}

/// `-2147220956`: exactly ten digits that fit a negative 32-bit integer.
fn decimal_code(text: &str, i: usize) -> Option<i64> {
    let b = text.as_bytes();
    let n = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
    if n != 10 {
        return None;
    }
    text[i..i + 11]
        .parse::<i64>()
        .ok()
        .filter(|v| *v >= i64::from(i32::MIN))
}

/// `0x80040216`: eight hex digits with the high bit set, as the signed HRESULT.
fn hex_code(b: &[u8], i: usize) -> Option<i64> {
    let digits = &b[i + 2..];
    let n = digits.iter().take_while(|c| c.is_ascii_hexdigit()).count();
    if n != 8 {
        return None;
    }
    let v = u32::from_str_radix(std::str::from_utf8(&digits[..8]).ok()?, 16).ok()?;
    (v >= 0x8000_0000).then_some(i64::from(v as i32))
}
#[cfg(test)]
mod tests {
    use super::*;

    const T126: &str = "T:391\nActivityId: a2559263-94de-4886-bc28-5fc7511d4f5f\n>Exception : Unhandled exception:\nException type: System.Net.WebException\nMessage: The remote server returned an error: (503) Server Unavailable.   at System.Net.HttpWebRequest.EndGetResponse(IAsyncResult asyncResult) -- End stack trace -- Exception type: Microsoft.Exchange.WebServices.Data.ServiceRequestException\nMessage: The request failed. The remote server returned an error: (503) Server Unavailable.   at Microsoft.Exchange";

    #[test]
    fn seed_trace_126() {
        let f = extract(T126);
        assert_eq!(f.t, Some(391));
        assert_eq!(
            f.activity_id.as_deref(),
            Some("a2559263-94de-4886-bc28-5fc7511d4f5f")
        );
        assert_eq!(f.http_status, Some(503));
        assert_eq!(f.exceptions.len(), 2);
        assert_eq!(f.exceptions[0].exception_type, "System.Net.WebException");
        assert_eq!(
            f.exceptions[1].exception_type,
            "Microsoft.Exchange.WebServices.Data.ServiceRequestException"
        );
        assert_eq!(
            f.message.as_deref(),
            Some("The remote server returned an error: (503) Server Unavailable.")
        );
    }

    #[test]
    fn error_marker_with_exception_prefix() {
        let f = extract("ActivityId: b66\n>Error : System.Net.WebException: The request failed with HTTP status 503: Service Unavailable.\nat System.Web.Foo()");
        assert_eq!(f.http_status, Some(503));
        assert_eq!(f.exceptions[0].exception_type, "System.Net.WebException");
        assert_eq!(f.message.as_deref(), Some("System.Net.WebException: The request failed with HTTP status 503: Service Unavailable."));
    }

    #[test]
    fn find_ci_anchors_anywhere() {
        assert_eq!(find_ci("xx Exception TYPE: y", "exception type:"), Some(3));
        assert_eq!(find_ci("ab", "abc"), None);
        assert_eq!(find_ci("zzzq", "q"), Some(3));
        assert_eq!(find_ci("Qq", "qq"), Some(0));
        assert_eq!(find_ci("a>Error :", ">error"), Some(1));
        assert_eq!(find_ci("xyz", "yz"), Some(1));
    }

    #[test]
    fn mailbox_move_message_and_codes() {
        let f = extract("ActivityId: 08657d6f\n>Error : ?Mailbox move in progress. Try again later., Cannot open mailbox.ErrorMailboxMoveInProgress0");
        assert_eq!(f.message.as_deref(), Some("Mailbox move in progress. Try again later., Cannot open mailbox.ErrorMailboxMoveInProgress0"));
        assert_eq!(f.http_status, None);
        assert_eq!(
            error_code("returned UnknownIncomingEmailIntegrationError -2147220956 exception"),
            Some(-2147220956)
        );
        assert_eq!(error_code("hr=0x80040216"), Some(-2147220970));
        assert_eq!(error_code("-21472209561"), None);
        assert_eq!(error_code("(401) Unauthorized"), None);
    }
}
