//! Exchange Web Services: GetFolder of the inbox (SOAP, Basic auth) and POX Autodiscover.

use std::collections::VecDeque;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::http::{self, Url};
use super::net::printable;
use super::{Credentials, Failure, FailureKind, Timeouts, Tls};

/// Redirects (HTTP, `redirectUrl`, `redirectAddr`) one Autodiscover follows at most.
const MAX_HOPS: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EwsInbox {
    pub total: u64,
    pub unread: u64,
}

const GET_INBOX: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
  xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"
  xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">
  <soap:Header><t:RequestServerVersion Version="Exchange2010_SP2"/></soap:Header>
  <soap:Body>
    <m:GetFolder>
      <m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>
      <m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds>
    </m:GetFolder>
  </soap:Body>
</soap:Envelope>
"#;

/// The inbox's TotalCount and UnreadCount. HTTP 401 is `Auth`; any other status that is
/// not 200 is `Http(status)` with the SOAP fault's text when there is one; an EWS error
/// inside a 200 (`ResponseClass="Error"`) is `Protocol` with its ResponseCode and text.
pub async fn get_inbox(
    url: &str,
    creds: &Credentials,
    tls: &Tls,
    timeouts: &Timeouts,
) -> Result<EwsInbox, Failure> {
    let url = Url::parse(url).map_err(|m| Failure::new(FailureKind::Protocol, "http", m))?;
    let resp = http::post(
        &url,
        &request_headers(creds),
        GET_INBOX.to_string(),
        tls,
        timeouts,
    )
    .await?;
    let body = String::from_utf8_lossy(&resp.body);
    if resp.status != 200 {
        return Err(status_failure(&resp, &body, "http"));
    }
    if let Some(error) = ews_error(&body) {
        return Err(Failure::new(FailureKind::Protocol, "http", error));
    }
    let count = |name| element_text(&body, name).and_then(|t| t.trim().parse::<u64>().ok());
    match (count("TotalCount"), count("UnreadCount")) {
        (Some(total), Some(unread)) => Ok(EwsInbox { total, unread }),
        _ => Err(Failure::new(
            FailureKind::Protocol,
            "http",
            format!(
                "no TotalCount/UnreadCount in the answer: {}",
                printable(body.as_bytes(), 200)
            ),
        )),
    }
}

/// The EWS URL for a mailbox, from POX Autodiscover at
/// `https://autodiscover.<domain>/autodiscover/autodiscover.xml`, then
/// `https://<domain>/autodiscover/autodiscover.xml`; HTTPS redirects, `redirectUrl` and
/// `redirectAddr` are followed. A 401 or an Autodiscover `<Error>` answer ends the
/// search; when every place fails, the failure that got furthest is returned with all
/// of them in its message.
pub async fn autodiscover(
    email: &str,
    creds: &Credentials,
    tls: &Tls,
    timeouts: &Timeouts,
) -> Result<String, Failure> {
    discover(email, &candidates, creds, tls, timeouts).await
}

fn candidates(email: &str) -> Result<Vec<String>, Failure> {
    let domain = email
        .rsplit_once('@')
        .map(|(_, d)| d.trim())
        .filter(|d| !d.is_empty() && !d.contains(['/', '?', '#', '@', ':', ' ']))
        .ok_or_else(|| {
            Failure::new(
                FailureKind::Protocol,
                "autodiscover",
                format!("not an email address: {email:?}"),
            )
        })?;
    Ok(vec![
        format!("https://autodiscover.{domain}/autodiscover/autodiscover.xml"),
        format!("https://{domain}/autodiscover/autodiscover.xml"),
    ])
}

/// `autodiscover` with the places to ask made by `places(email)` (tests ask loopback).
pub(crate) async fn discover(
    email: &str,
    places: &(dyn Fn(&str) -> Result<Vec<String>, Failure> + Sync),
    creds: &Credentials,
    tls: &Tls,
    timeouts: &Timeouts,
) -> Result<String, Failure> {
    let mut email = email.trim().to_string();
    let mut queue: VecDeque<String> = places(&email)?.into();
    let mut failures: Vec<(String, Failure)> = Vec::new();
    let mut hops = 0;
    while let Some(url) = queue.pop_front() {
        let answer = match pox(&url, &email, creds, tls, timeouts).await {
            Ok(answer) => answer,
            Err(f) if matches!(f.kind, FailureKind::Auth) => return Err(f),
            Err(f) => {
                failures.push((url, f));
                continue;
            }
        };
        if !matches!(answer, Pox::Ews(_)) {
            hops += 1;
            if hops > MAX_HOPS {
                return Err(Failure::new(
                    FailureKind::Protocol,
                    "autodiscover",
                    format!("more than {MAX_HOPS} Autodiscover redirects"),
                ));
            }
        }
        match answer {
            Pox::Ews(ews) => return Ok(ews),
            Pox::Error(message) => {
                return Err(Failure::new(
                    FailureKind::Protocol,
                    "autodiscover",
                    format!("{url}: {message}"),
                ))
            }
            Pox::Redirect(to) => {
                if Url::parse(&to).is_ok_and(|u| u.https) {
                    queue.push_front(to);
                } else {
                    failures.push((
                        url,
                        Failure::new(
                            FailureKind::Protocol,
                            "autodiscover",
                            format!("refused a redirect to a non-HTTPS URL: {to:?}"),
                        ),
                    ));
                }
            }
            Pox::RedirectAddr(addr) => {
                email = addr;
                queue = places(&email)?.into();
            }
        }
    }
    Err(furthest(failures))
}

fn furthest(failures: Vec<(String, Failure)>) -> Failure {
    // How far a try got: a name that does not resolve says the least.
    let rank = |k: &FailureKind| match k {
        FailureKind::Dns => 0,
        FailureKind::Refused => 1,
        FailureKind::Timeout | FailureKind::Closed => 2,
        FailureKind::Tls => 3,
        FailureKind::Http(_) => 4,
        FailureKind::Protocol | FailureKind::Rejected | FailureKind::Deferred => 5,
        FailureKind::Auth => 6,
    };
    let message = failures
        .iter()
        .map(|(url, f)| format!("{url}: {f}"))
        .collect::<Vec<_>>()
        .join("; ");
    let best = failures
        .into_iter()
        .map(|(_, f)| f)
        .enumerate()
        .max_by_key(|(i, f)| (rank(&f.kind), std::cmp::Reverse(*i)))
        .map(|(_, f)| f);
    match best {
        Some(f) => Failure { message, ..f },
        None => Failure::new(FailureKind::Protocol, "autodiscover", "nowhere to ask"),
    }
}

enum Pox {
    Ews(String),
    Redirect(String),
    RedirectAddr(String),
    Error(String),
}

async fn pox(
    url: &str,
    email: &str,
    creds: &Credentials,
    tls: &Tls,
    timeouts: &Timeouts,
) -> Result<Pox, Failure> {
    let parsed =
        Url::parse(url).map_err(|m| Failure::new(FailureKind::Protocol, "autodiscover", m))?;
    let request = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>{}</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>
"#,
        xml_escape(email)
    );
    let resp = http::post(&parsed, &request_headers(creds), request, tls, timeouts).await?;
    let body = String::from_utf8_lossy(&resp.body);
    if matches!(resp.status, 301 | 302 | 303 | 307 | 308) {
        if let Some(location) = &resp.location {
            return Ok(Pox::Redirect(location.clone()));
        }
    }
    if resp.status != 200 {
        return Err(status_failure(&resp, &body, "autodiscover"));
    }
    if let Some(error) = elements(&body, "Error").into_iter().next() {
        let code = element_text(error, "ErrorCode").unwrap_or_default();
        let message = element_text(error, "Message").unwrap_or_default();
        return Ok(Pox::Error(format!("{code} {message}").trim().to_string()));
    }
    match element_text(&body, "Action").as_deref().map(str::trim) {
        Some("redirectUrl") => {
            if let Some(to) = element_text(&body, "RedirectUrl") {
                return Ok(Pox::Redirect(to.trim().to_string()));
            }
        }
        Some("redirectAddr") => {
            if let Some(to) = element_text(&body, "RedirectAddr") {
                return Ok(Pox::RedirectAddr(to.trim().to_string()));
            }
        }
        _ => {}
    }
    // EXCH is the internal endpoint, EXPR the external one; either serves EWS.
    let protocols = elements(&body, "Protocol");
    for wanted in ["EXCH", "EXPR", ""] {
        for p in &protocols {
            let kind = element_text(p, "Type").unwrap_or_default();
            if wanted.is_empty() || kind.trim() == wanted {
                if let Some(ews) = element_text(p, "EwsUrl").filter(|u| !u.trim().is_empty()) {
                    return Ok(Pox::Ews(ews.trim().to_string()));
                }
            }
        }
    }
    Err(Failure::new(
        FailureKind::Protocol,
        "autodiscover",
        format!(
            "{url}: no EwsUrl in the answer: {}",
            printable(body.as_bytes(), 200)
        ),
    ))
}

fn request_headers(creds: &Credentials) -> Vec<(&'static str, String)> {
    let basic = B64.encode(format!("{}:{}", creds.username, creds.password));
    vec![
        ("content-type", "text/xml; charset=utf-8".to_string()),
        ("accept", "text/xml".to_string()),
        ("authorization", format!("Basic {basic}")),
    ]
}

fn status_failure(resp: &http::Response, body: &str, stage: &'static str) -> Failure {
    let mut message = format!("HTTP {} {}", resp.status, resp.reason)
        .trim()
        .to_string();
    if let Some(fault) = element_text(body, "faultstring").or_else(|| element_text(body, "Message"))
    {
        message.push_str(": ");
        message.push_str(&printable(fault.as_bytes(), 300));
    } else if resp.status == 401 {
        if let Some(challenge) = &resp.www_authenticate {
            message.push_str(&format!(
                " (WWW-Authenticate: {})",
                printable(challenge.as_bytes(), 100)
            ));
        }
    }
    let kind = if resp.status == 401 {
        FailureKind::Auth
    } else {
        FailureKind::Http(resp.status)
    };
    Failure::new(kind, stage, message)
}

/// `ResponseCode: MessageText` of the first `ResponseClass="Error"` message.
fn ews_error(body: &str) -> Option<String> {
    let at = body.find("ResponseClass=\"Error\"")?;
    let rest = &body[at..];
    let code = element_text(rest, "ResponseCode").unwrap_or_default();
    let text = element_text(rest, "MessageText").unwrap_or_default();
    Some(
        format!("{code}: {text}")
            .trim_matches([' ', ':'])
            .to_string(),
    )
}

/// The inner XML of every element with this local name (any namespace prefix), in
/// document order. Nested elements of the same name are not expected here.
fn elements<'a>(xml: &'a str, local: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(open) = xml[at..].find('<').map(|i| at + i) {
        let tag_end = match xml[open..].find('>') {
            Some(i) => open + i,
            None => break,
        };
        let tag = &xml[open + 1..tag_end];
        at = tag_end + 1;
        if tag.starts_with(['/', '?', '!']) {
            continue;
        }
        let name = tag
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or("");
        if name.rsplit(':').next() != Some(local) {
            continue;
        }
        if tag.ends_with('/') {
            out.push("");
            continue;
        }
        let close = format!("</{name}>");
        match xml[at..].find(&close) {
            Some(i) => {
                out.push(&xml[at..at + i]);
                at += i + close.len();
            }
            None => break,
        }
    }
    out
}

fn element_text(xml: &str, local: &str) -> Option<String> {
    elements(xml, local).into_iter().next().map(xml_unescape)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn xml_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let c = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .map(|h| u32::from_str_radix(h, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse::<u32>))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_scanning() {
        let xml = r#"<?xml version="1.0"?><s:Envelope><t:Folder><t:TotalCount>12</t:TotalCount><t:UnreadCount>3</t:UnreadCount><t:Empty/></t:Folder></s:Envelope>"#;
        assert_eq!(element_text(xml, "TotalCount").as_deref(), Some("12"));
        assert_eq!(element_text(xml, "UnreadCount").as_deref(), Some("3"));
        assert_eq!(element_text(xml, "Empty").as_deref(), Some(""));
        assert_eq!(element_text(xml, "Missing"), None);
        assert_eq!(
            xml_unescape("a &amp; b &lt;&#233;&#xe9;&bogus; &"),
            "a & b <éé&bogus; &"
        );
        let fault = r#"<s:Fault><faultstring xml:lang="en-US">The request failed schema validation.</faultstring></s:Fault>"#;
        assert_eq!(
            element_text(fault, "faultstring").as_deref(),
            Some("The request failed schema validation.")
        );
        let err = r#"<m:GetFolderResponseMessage ResponseClass="Error"><m:MessageText>No mailbox.</m:MessageText><m:ResponseCode>ErrorNonExistentMailbox</m:ResponseCode>"#;
        assert_eq!(
            ews_error(err).as_deref(),
            Some("ErrorNonExistentMailbox: No mailbox.")
        );
        for junk in [
            "<",
            "<<<>>>",
            "<a",
            "<a>",
            "</a>",
            "<a/>&#xFFFFFFFF;",
            "&#99999999;",
        ] {
            let _ = elements(junk, "a");
            let _ = element_text(junk, "a");
            let _ = xml_unescape(junk);
        }
    }

    #[test]
    fn autodiscover_places() {
        assert_eq!(
            candidates("alice@contoso.com").unwrap(),
            vec![
                "https://autodiscover.contoso.com/autodiscover/autodiscover.xml",
                "https://contoso.com/autodiscover/autodiscover.xml"
            ]
        );
        for bad in ["alice", "alice@", "a@b/c", "a@host:443"] {
            assert!(candidates(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn furthest_failure_wins() {
        let f = furthest(vec![
            (
                "u1".into(),
                Failure::new(FailureKind::Dns, "dns", "no such host"),
            ),
            (
                "u2".into(),
                Failure::new(FailureKind::Http(503), "autodiscover", "HTTP 503"),
            ),
        ]);
        assert_eq!(f.kind, FailureKind::Http(503));
        assert!(
            f.message.contains("u1: Dns") && f.message.contains("u2: Http(503)"),
            "{f}"
        );
    }
}
