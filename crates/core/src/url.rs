//! Small URL pieces shared by the console's environments, the OAuth client
//! (`oauth::client`) and the server's mailbox sign-in: percent-encoding, query pairs and
//! splitting an absolute `scheme://host[:port]rest` address. Kept here (instead of a URL
//! crate) because only these few are needed, and all of them are pure.

/// Percent-encodes a query or form value (RFC 3986 unreserved characters stay, a space
/// is `%20`, which form decoders also accept).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-decodes a query value; `+` is a space (as in HTML forms and in Entra ID's
/// `error_description`). Invalid escapes are kept as they are; invalid UTF-8 is replaced.
pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The raw `name=value` pieces of a query (a leading `?` is skipped, empty pieces dropped).
pub fn raw_pairs(query: &str) -> impl Iterator<Item = &str> {
    query
        .strip_prefix('?')
        .unwrap_or(query)
        .split('&')
        .filter(|p| !p.is_empty())
}

/// The decoded name of a raw `name=value` piece.
pub fn pair_name(raw: &str) -> String {
    decode(raw.split_once('=').map_or(raw, |(n, _)| n))
}

/// The decoded `(name, value)` pairs of a query, in order (a name without `=` has an empty
/// value).
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    raw_pairs(query)
        .map(|p| match p.split_once('=') {
            Some((n, v)) => (decode(n), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// The first value of `name` in a query.
pub fn query_value(query: &str, name: &str) -> Option<String> {
    query_pairs(query)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

/// Joins `name=value` pairs into a query/form body, percent-encoding both.
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// An absolute address split into its parts; the host is lower-case and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Absolute<'a> {
    /// Lower-case, without `://`.
    pub scheme: String,
    /// Lower-case host name, IPv4 address or `[IPv6]` literal; a trailing dot is dropped.
    pub host: String,
    pub port: Option<u16>,
    /// Everything after the host and port: path, query and fragment, as given.
    pub rest: &'a str,
}

impl Absolute<'_> {
    /// `scheme://host[:port]`, leaving out the scheme's default port.
    pub fn origin(&self) -> String {
        match self.port {
            Some(p) if Some(p) != default_port(&self.scheme) => {
                format!("{}://{}:{p}", self.scheme, self.host)
            }
            _ => format!("{}://{}", self.scheme, self.host),
        }
    }

    /// The port, or the scheme's default one.
    pub fn effective_port(&self) -> Option<u16> {
        self.port.or_else(|| default_port(&self.scheme))
    }

    /// Loopback hosts: `localhost` (and its subdomains), `127.x.x.x`, `[::1]`.
    pub fn is_loopback(&self) -> bool {
        let h = self.host.as_str();
        h == "localhost"
            || h.ends_with(".localhost")
            || h == "[::1]"
            || (h.starts_with("127.") && is_ipv4(h))
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    }
}

pub fn is_ipv4(h: &str) -> bool {
    let parts: Vec<&str> = h.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Splits `scheme://host[:port]rest`. Errors are sentences for the person who typed it.
pub fn parse_absolute(input: &str) -> Result<Absolute<'_>, String> {
    let Some((scheme, after)) = input.split_once("://") else {
        return Err(format!("“{input}” is not a web address (https://…)."));
    };
    if scheme.is_empty()
        || !scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return Err(format!("“{input}” is not a web address (https://…)."));
    }
    let end = after.find(['/', '?', '#', '\\']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    if rest.starts_with('\\') {
        return Err("The address contains a backslash (\\); use “/”.".to_string());
    }
    if authority.contains('@') {
        return Err(
            "The address must not contain a user name or password (the part before “@”)."
                .to_string(),
        );
    }
    if authority.is_empty() {
        return Err(format!("“{input}” has no host name."));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let Some((addr, tail)) = v6.split_once(']') else {
            return Err(format!("“{authority}” is not a valid host."));
        };
        if addr.is_empty()
            || !addr
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return Err(format!("“{authority}” is not a valid host."));
        }
        let port = match tail {
            "" => None,
            t => match t.strip_prefix(':') {
                Some(p) => Some(parse_port(p)?),
                None => return Err(format!("“{authority}” is not a valid host.")),
            },
        };
        (format!("[{}]", addr.to_ascii_lowercase()), port)
    } else {
        let (h, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(parse_port(p)?)),
            None => (authority, None),
        };
        (check_host_name(h)?, port)
    };
    Ok(Absolute {
        scheme: scheme.to_ascii_lowercase(),
        host,
        port,
        rest,
    })
}

fn parse_port(p: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(format!("“{p}” is not a valid port number.")),
    }
}

/// Lower-cases and checks a DNS host name (or IPv4 address); drops one trailing dot.
fn check_host_name(h: &str) -> Result<String, String> {
    if h.is_empty() {
        return Err("The address has no host name.".to_string());
    }
    if !h.is_ascii() {
        return Err(format!(
            "“{h}” contains non-ASCII characters; use the host name's xn-- (punycode) form."
        ));
    }
    let host = h.strip_suffix('.').unwrap_or(h).to_ascii_lowercase();
    let bad = || format!("“{h}” is not a valid host name.");
    if host.is_empty() || host.len() > 253 {
        return Err(bad());
    }
    for label in host.split('.') {
        if label.is_empty()
            || label.len() > 63
            || label.starts_with('-')
            || label.ends_with('-')
            || !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(bad());
        }
    }
    Ok(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_keeps_unreserved_only() {
        assert_eq!(encode("aZ09-_.~"), "aZ09-_.~");
        assert_eq!(
            encode("https://x.com/a b+c&d=e?"),
            "https%3A%2F%2Fx.com%2Fa%20b%2Bc%26d%3De%3F"
        );
        assert_eq!(encode("é"), "%C3%A9");
        assert_eq!(encode(""), "");
    }

    #[test]
    fn decode_handles_plus_escapes_and_junk() {
        assert_eq!(decode("a+b%20c"), "a b c");
        assert_eq!(decode("%C3%A9"), "é");
        assert_eq!(decode("%c3%a9"), "é");
        // Escapes at the very end are decoded too.
        assert_eq!(decode("a%2F"), "a/");
        // Invalid or truncated escapes stay as they are.
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz%2"), "%zz%2");
        assert_eq!(decode("%%41"), "%A");
        // Invalid UTF-8 does not panic.
        assert_eq!(decode("%FF"), "\u{FFFD}");
        // A multi-byte character after % does not panic.
        assert_eq!(decode("%é"), "%é");
        assert_eq!(decode("%aé"), "%aé");
        // Only hex digits count (no sign, as `from_str_radix` would allow).
        assert_eq!(decode("%+1"), "% 1");
        assert_eq!(decode(&encode("x y/é?&=")), "x y/é?&=");
    }

    #[test]
    fn query_pairs_and_values() {
        let q = "?a=1&&b=x%20y&c&a=2&d=";
        assert_eq!(
            query_pairs(q),
            vec![
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "x y".to_string()),
                ("c".to_string(), String::new()),
                ("a".to_string(), "2".to_string()),
                ("d".to_string(), String::new()),
            ]
        );
        assert_eq!(query_value(q, "a").as_deref(), Some("1"));
        assert_eq!(query_value(q, "z"), None);
        assert_eq!(query_value("", "a"), None);
        assert_eq!(query_value("?", "a"), None);
        assert_eq!(pair_name("st%61te=1"), "state");
    }

    #[test]
    fn form_encodes_names_and_values() {
        assert_eq!(form(&[("a b", "c&d"), ("e", "")]), "a%20b=c%26d&e=");
    }

    #[test]
    fn parse_absolute_parts() {
        let a = parse_absolute("HTTPS://Contoso.CRM.Dynamics.com./x?y#z").unwrap();
        assert_eq!(a.scheme, "https");
        assert_eq!(a.host, "contoso.crm.dynamics.com");
        assert_eq!(a.port, None);
        assert_eq!(a.rest, "/x?y#z");
        assert_eq!(a.origin(), "https://contoso.crm.dynamics.com");

        let a = parse_absolute("http://127.0.0.1:8080").unwrap();
        assert_eq!(a.port, Some(8080));
        assert_eq!(a.origin(), "http://127.0.0.1:8080");
        assert!(a.is_loopback());
        assert_eq!(
            parse_absolute("https://h.com:443/").unwrap().origin(),
            "https://h.com"
        );

        let a = parse_absolute("http://[::1]:9000/p").unwrap();
        assert_eq!(a.host, "[::1]");
        assert_eq!(a.port, Some(9000));
        assert!(a.is_loopback());

        assert!(parse_absolute("http://localhost/").unwrap().is_loopback());
        assert!(!parse_absolute("http://127.evil.com/")
            .unwrap()
            .is_loopback());
        assert!(!parse_absolute("https://x.com").unwrap().is_loopback());
    }

    #[test]
    fn parse_absolute_rejects() {
        for bad in [
            "contoso.crm.dynamics.com",
            "://x.com",
            "1http://x.com",
            "https://",
            "https:///path",
            "https://user:pw@x.com",
            "https://x.com@evil.com",
            "https://x.com\\@evil.com",
            "https://x..com",
            "https://-x.com",
            "https://x-.com",
            "https://x_y.com",
            "https://x y.com",
            "https://exämple.com",
            "https://x.com:0",
            "https://x.com:99999",
            "https://x.com:+1",
            "https://x.com:",
            "https://[::1",
            "https://[zz]",
            "https://[::1]x",
        ] {
            assert!(parse_absolute(bad).is_err(), "{bad} should be rejected");
        }
        assert!(parse_absolute("https://exämple.com")
            .unwrap_err()
            .contains("punycode"));
        assert!(parse_absolute("https://u@x.com")
            .unwrap_err()
            .contains("user name"));
    }
}
