//! Exchange Web Services (SOAP, Basic auth): GetFolder of the inbox, CreateItem to send,
//! FindItem to list the inbox; and POX Autodiscover.
//!
//! With impersonation (`as_user`: a profile's "Use impersonation"), every call names the
//! mailbox it acts for, as Exchange requires: the SOAP header
//! `ExchangeImpersonation/ConnectingSID/PrimarySmtpAddress` and the `X-AnchorMailbox`
//! HTTP header. Without it, Exchange answers for the signed-in account's own mailbox,
//! so a service account would read its own inbox for every mailbox on the profile.
//!
//! Autodiscover sends the profile's credentials only to hosts inside the mailbox's
//! domain or on an allow-list (`AutodiscoverHosts`: Microsoft's own Autodiscover hosts
//! by default); a redirect anywhere else is refused, never followed.

use std::collections::VecDeque;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::http::{self, Url};
use super::net::printable;
use super::smtp::Outgoing;
use super::{Credentials, Failure, FailureKind, Timeouts, Tls};

/// How a request to Exchange authenticates: Basic with a user name and password, or
/// an OAuth 2.0 access token (Exchange Online with server-to-server authentication).
#[derive(Clone)]
pub enum EwsAuth {
    Basic(Credentials),
    Bearer(String),
}

impl From<&Credentials> for EwsAuth {
    fn from(c: &Credentials) -> Self {
        EwsAuth::Basic(c.clone())
    }
}

impl From<Credentials> for EwsAuth {
    fn from(c: Credentials) -> Self {
        EwsAuth::Basic(c)
    }
}

impl From<&EwsAuth> for EwsAuth {
    fn from(a: &EwsAuth) -> Self {
        a.clone()
    }
}

/// Redirects (HTTP, `redirectUrl`, `redirectAddr`) one Autodiscover follows at most.
const MAX_HOPS: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EwsInbox {
    pub total: u64,
    pub unread: u64,
}

/// The body of the GetFolder request, between `soap_head` and `SOAP_TAIL`.
const GET_INBOX: &str = r#"    <m:GetFolder>
      <m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>
      <m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds>
    </m:GetFolder>
"#;

/// The inbox's TotalCount and UnreadCount. HTTP 401 is `Auth`; any other status that is
/// not 200 is `Http(status)` with the SOAP fault's text when there is one; an EWS error
/// inside a 200 (`ResponseClass="Error"`) is `Protocol` with its ResponseCode and text.
pub async fn get_inbox(
    url: &str,
    creds: impl Into<EwsAuth>,
    as_user: Option<&str>,
    tls: &Tls,
    timeouts: &Timeouts,
) -> Result<EwsInbox, Failure> {
    let auth: EwsAuth = creds.into();
    let creds = &auth;
    let url = Url::parse(url).map_err(|m| Failure::new(FailureKind::Protocol, "http", m))?;
    let resp = http::post(
        &url,
        &request_headers(creds, as_user),
        format!("{}{GET_INBOX}{SOAP_TAIL}", soap_head(as_user)),
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

/// EWS ResponseCodes that refuse one message for good: it fails alone, like an SMTP
/// 5xx. Any other error fails the direction (the message stays to be sent again).
const REFUSED: &[&str] = &[
    "ErrorInvalidRecipients",
    "ErrorInvalidSmtpAddress",
    "ErrorMessageSizeExceeded",
];
/// EWS ResponseCodes that ask to try again later, like an SMTP 4xx.
const DEFERRED: &[&str] = &[
    "ErrorServerBusy",
    "ErrorTimeoutExpired",
    "ErrorInternalServerTransientError",
    "ErrorMailboxStoreUnavailable",
];

/// Items one FindItem page asks for.
const FIND_PAGE: usize = 100;
/// Pages one `find_inbox` reads at most (a bound against a server that never says
/// it is done).
const MAX_FIND_PAGES: usize = 1000;

const SOAP_OPEN: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
  xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"
  xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">
  <soap:Header><t:RequestServerVersion Version="Exchange2010_SP2"/>"#;

/// The envelope up to `<soap:Body>`, impersonating `as_user` when given.
pub(super) fn soap_head(as_user: Option<&str>) -> String {
    let mut head = String::from(SOAP_OPEN);
    if let Some(user) = as_user {
        head.push_str(&format!(
            "<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>{}\
             </t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>",
            xml_escape(user)
        ));
    }
    head.push_str("</soap:Header>\n  <soap:Body>\n");
    head
}
pub(super) const SOAP_TAIL: &str = "  </soap:Body>\n</soap:Envelope>\n";

/// Sends each message with one SOAP `CreateItem` (`MessageDisposition="SendAndSaveCopy"`,
/// a copy in Sent Items), as the signed-in mailbox. `Err` when the request as a whole
/// fails: HTTP 401 is `Auth`, another status `Http(status)`, an answer that is not one
/// response message per message `Protocol`. Otherwise one result per message, in
/// order: an EWS error refusing the message for good (`ErrorInvalidRecipients`, ...) or
/// a message without a usable recipient is `Rejected` (that message alone); one asking
/// to try again later (`ErrorServerBusy`, ...) is `Deferred`; any other EWS error is
/// `Protocol`.
pub async fn send(
    url: &str,
    creds: impl Into<EwsAuth>,
    as_user: Option<&str>,
    tls: &Tls,
    timeouts: &Timeouts,
    msgs: &[Outgoing],
) -> Result<Vec<Result<(), Failure>>, Failure> {
    let auth: EwsAuth = creds.into();
    let creds = &auth;
    const STAGE: &str = "createitem";
    let url = Url::parse(url).map_err(|m| Failure::new(FailureKind::Protocol, STAGE, m))?;
    let mut results: Vec<Option<Result<(), Failure>>> = vec![None; msgs.len()];
    let mut batch = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let to: Vec<&str> =
            m.to.iter()
                .map(|a| a.trim())
                .filter(|a| !a.is_empty())
                .collect();
        let bad = to.iter().find(|a| !plausible_address(a));
        results[i] = match (to.is_empty(), bad) {
            (true, _) => Some(Err(Failure::new(
                FailureKind::Rejected,
                STAGE,
                "no recipient",
            ))),
            (false, Some(bad)) => Some(Err(Failure::new(
                FailureKind::Rejected,
                STAGE,
                format!("not an email address: {:?}", printable(bad.as_bytes(), 100)),
            ))),
            (false, None) => {
                batch.push(i);
                None
            }
        };
    }
    if !batch.is_empty() {
        let mut request = soap_head(as_user);
        request.push_str(
            "    <m:CreateItem MessageDisposition=\"SendAndSaveCopy\">\n      \
             <m:SavedItemFolderId><t:DistinguishedFolderId Id=\"sentitems\"/></m:SavedItemFolderId>\n      \
             <m:Items>\n",
        );
        for &i in &batch {
            request.push_str(&message_xml(&msgs[i]));
        }
        request.push_str("      </m:Items>\n    </m:CreateItem>\n");
        request.push_str(SOAP_TAIL);
        let resp = http::post(
            &url,
            &request_headers(creds, as_user),
            request,
            tls,
            timeouts,
        )
        .await?;
        let body = String::from_utf8_lossy(&resp.body);
        if resp.status != 200 {
            return Err(status_failure(&resp, &body, STAGE));
        }
        let answers = scan(&body, Some("CreateItemResponseMessage"));
        if answers.len() != batch.len() {
            let message = ews_error(&body).unwrap_or_else(|| {
                format!(
                    "{} response messages for {} messages: {}",
                    answers.len(),
                    batch.len(),
                    printable(body.as_bytes(), 200)
                )
            });
            return Err(Failure::new(FailureKind::Protocol, STAGE, message));
        }
        for (&i, (_, attrs, inner)) in batch.iter().zip(answers) {
            let class = attribute(attrs, "ResponseClass").unwrap_or_default();
            results[i] = Some(if class == "Error" {
                let code = element_text(inner, "ResponseCode").unwrap_or_default();
                let text = element_text(inner, "MessageText").unwrap_or_default();
                let kind = if REFUSED.contains(&code.trim()) {
                    FailureKind::Rejected
                } else if DEFERRED.contains(&code.trim()) {
                    FailureKind::Deferred
                } else {
                    FailureKind::Protocol
                };
                let message = format!("{}: {}", code.trim(), printable(text.as_bytes(), 300));
                Err(Failure::new(kind, STAGE, message.trim_matches([' ', ':'])))
            } else {
                // Success, or Warning: the message went.
                Ok(())
            });
        }
    }
    Ok(results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Failure::new(FailureKind::Protocol, STAGE, "no answer"))))
        .collect())
}

fn plausible_address(a: &str) -> bool {
    a.rsplit_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && !domain.is_empty()
            && !a.contains(|c: char| c.is_whitespace() || c.is_control() || "<>\"".contains(c))
    })
}

fn message_xml(m: &Outgoing) -> String {
    let mailbox = |a: &str| {
        format!(
            "<t:Mailbox><t:EmailAddress>{}</t:EmailAddress></t:Mailbox>",
            xml_escape(a.trim())
        )
    };
    let to: String =
        m.to.iter()
            .filter(|a| !a.trim().is_empty())
            .map(|a| mailbox(a))
            .collect();
    let id = m.message_id.trim().trim_matches(['<', '>']);
    let mut xml = format!(
        "        <t:Message>\n          <t:Subject>{}</t:Subject>\n          \
         <t:Body BodyType=\"Text\">{}</t:Body>\n          \
         <t:ToRecipients>{to}</t:ToRecipients>\n",
        xml_escape(&m.subject),
        xml_escape(&m.body),
    );
    if !m.from.trim().is_empty() {
        xml.push_str(&format!(
            "          <t:From>{}</t:From>\n",
            mailbox(&m.from)
        ));
    }
    if !id.is_empty() {
        xml.push_str(&format!(
            "          <t:InternetMessageId>{}</t:InternetMessageId>\n",
            xml_escape(&format!("<{id}>"))
        ));
    }
    xml.push_str("        </t:Message>\n");
    xml
}

/// An item of the inbox, as FindItem lists it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EwsItem {
    /// The EWS ItemId: stable for the item's life in the folder.
    pub id: String,
    pub subject: Option<String>,
    /// The sender's address (its name when the server gives no address).
    pub from: Option<String>,
    /// DisplayTo: the To recipients' names.
    pub to: Option<String>,
    /// DateTimeReceived, ISO 8601 as the server wrote it.
    pub received: Option<String>,
    pub message_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EwsFound {
    /// TotalItemsInView: the inbox's items.
    pub total: u64,
    /// Items whose id is not in `seen`, oldest received first, at most `limit`.
    pub new: Vec<EwsItem>,
}

/// The inbox's items not in `seen` (ItemIds), oldest received first, at most `limit`:
/// SOAP `FindItem` (Shallow, IdOnly plus Subject, From, DisplayTo, DateTimeReceived,
/// InternetMessageId), a page of 100 at a time. Failures as `get_inbox`'s.
pub async fn find_inbox(
    url: &str,
    creds: impl Into<EwsAuth>,
    as_user: Option<&str>,
    tls: &Tls,
    timeouts: &Timeouts,
    seen: &std::collections::HashSet<String>,
    limit: usize,
) -> Result<EwsFound, Failure> {
    let auth: EwsAuth = creds.into();
    let creds = &auth;
    const STAGE: &str = "finditem";
    let url = Url::parse(url).map_err(|m| Failure::new(FailureKind::Protocol, STAGE, m))?;
    let mut found = EwsFound::default();
    let mut offset = 0usize;
    for _ in 0..MAX_FIND_PAGES {
        let request = format!(
            "{}    <m:FindItem Traversal=\"Shallow\">\n      <m:ItemShape>\n        \
             <t:BaseShape>IdOnly</t:BaseShape>\n        <t:AdditionalProperties>\n          \
             <t:FieldURI FieldURI=\"item:Subject\"/>\n          \
             <t:FieldURI FieldURI=\"message:From\"/>\n          \
             <t:FieldURI FieldURI=\"item:DisplayTo\"/>\n          \
             <t:FieldURI FieldURI=\"item:DateTimeReceived\"/>\n          \
             <t:FieldURI FieldURI=\"message:InternetMessageId\"/>\n        \
             </t:AdditionalProperties>\n      </m:ItemShape>\n      \
             <m:IndexedPageItemView MaxEntriesReturned=\"{FIND_PAGE}\" Offset=\"{offset}\" BasePoint=\"Beginning\"/>\n      \
             <m:SortOrder><t:FieldOrder Order=\"Ascending\"><t:FieldURI FieldURI=\"item:DateTimeReceived\"/></t:FieldOrder></m:SortOrder>\n      \
             <m:ParentFolderIds><t:DistinguishedFolderId Id=\"inbox\"/></m:ParentFolderIds>\n    \
             </m:FindItem>\n{SOAP_TAIL}",
            soap_head(as_user)
        );
        let resp = http::post(
            &url,
            &request_headers(creds, as_user),
            request,
            tls,
            timeouts,
        )
        .await?;
        let body = String::from_utf8_lossy(&resp.body);
        if resp.status != 200 {
            return Err(status_failure(&resp, &body, STAGE));
        }
        if let Some(error) = ews_error(&body) {
            return Err(Failure::new(FailureKind::Protocol, STAGE, error));
        }
        let Some((_, attrs, root)) = scan(&body, Some("RootFolder")).into_iter().next() else {
            return Err(Failure::new(
                FailureKind::Protocol,
                STAGE,
                format!(
                    "no RootFolder in the answer: {}",
                    printable(body.as_bytes(), 200)
                ),
            ));
        };
        found.total = attribute(attrs, "TotalItemsInView")
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0);
        let last = attribute(attrs, "IncludesLastItemInRange").is_none_or(|l| l.trim() != "false");
        let items = elements(root, "Items").into_iter().next().unwrap_or("");
        let items = scan(items, None);
        let page = items.len();
        for (_, _, inner) in items {
            let item = parse_item(inner);
            if item.id.is_empty() || seen.contains(&item.id) {
                continue;
            }
            if found.new.len() >= limit {
                return Ok(found);
            }
            found.new.push(item);
        }
        offset += page;
        if last || page == 0 {
            return Ok(found);
        }
    }
    Ok(found)
}

fn parse_item(xml: &str) -> EwsItem {
    let id = scan(xml, Some("ItemId"))
        .into_iter()
        .next()
        .and_then(|(_, attrs, _)| attribute(attrs, "Id"))
        .unwrap_or_default();
    let text = |name| {
        element_text(xml, name)
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
    };
    let from = elements(xml, "From").into_iter().next().and_then(|f| {
        element_text(f, "EmailAddress")
            .or_else(|| element_text(f, "Name"))
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
    });
    EwsItem {
        id,
        subject: text("Subject"),
        from,
        to: text("DisplayTo"),
        received: text("DateTimeReceived"),
        message_id: text("InternetMessageId"),
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
    hosts: &AutodiscoverHosts,
    creds: impl Into<EwsAuth>,
    tls: &Tls,
    timeouts: &Timeouts,
) -> Result<String, Failure> {
    let auth: EwsAuth = creds.into();
    let creds = &auth;
    discover(email, &candidates, hosts, creds, tls, timeouts).await
}

/// Where Autodiscover may send a profile's credentials: hosts inside the mailbox's
/// own domain, and these (Microsoft's Autodiscover hosts, where custom domains
/// legitimately redirect, plus `--autodiscover-host` names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutodiscoverHosts {
    pub allowed: Vec<String>,
}

/// Microsoft's own Autodiscover hosts.
pub const MICROSOFT_AUTODISCOVER: &[&str] =
    &["outlook.office365.com", "autodiscover-s.outlook.com"];

impl Default for AutodiscoverHosts {
    fn default() -> Self {
        AutodiscoverHosts {
            allowed: MICROSOFT_AUTODISCOVER
                .iter()
                .map(|h| h.to_string())
                .collect(),
        }
    }
}

impl AutodiscoverHosts {
    /// The defaults and `extra`.
    pub fn with(extra: &[String]) -> Self {
        let mut hosts = AutodiscoverHosts::default();
        hosts.allowed.extend(
            extra
                .iter()
                .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase()),
        );
        hosts
    }

    /// Whether credentials for a mailbox of `domain` may go to `host`.
    pub fn permits(&self, domain: &str, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        (!domain.is_empty() && (host == domain || host.ends_with(&format!(".{domain}"))))
            || self.allowed.contains(&host)
    }
}

fn domain_of(email: &str) -> &str {
    email.rsplit_once('@').map_or("", |(_, d)| d.trim())
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
    hosts: &AutodiscoverHosts,
    creds: impl Into<EwsAuth>,
    tls: &Tls,
    timeouts: &Timeouts,
) -> Result<String, Failure> {
    let auth: EwsAuth = creds.into();
    let creds = &auth;
    let mut email = email.trim().to_string();
    // The mailbox's own domain, whatever address a redirect names later.
    let domain = domain_of(&email).to_string();
    let mut queue: VecDeque<String> = places(&email)?.into();
    let mut failures: Vec<(String, Failure)> = Vec::new();
    let mut hops = 0;
    while let Some(url) = queue.pop_front() {
        let host = Url::parse(&url).map(|u| u.host).unwrap_or_default();
        if !hosts.permits(&domain, &host) {
            failures.push((
                url.clone(),
                Failure::new(
                    FailureKind::Protocol,
                    "autodiscover",
                    format!(
                        "refused to send the credentials to {host:?}: it is outside the \
                         mailbox's domain {domain:?} and the allowed Autodiscover hosts \
                         (mailsync serve --autodiscover-host adds one)"
                    ),
                ),
            ));
            continue;
        }
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
    creds: &EwsAuth,
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
    let resp = http::post(
        &parsed,
        &request_headers(creds, None),
        request,
        tls,
        timeouts,
    )
    .await?;
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

pub(super) fn request_headers(
    creds: &EwsAuth,
    as_user: Option<&str>,
) -> Vec<(&'static str, String)> {
    let authorization = match creds {
        EwsAuth::Basic(c) => format!(
            "Basic {}",
            B64.encode(format!("{}:{}", c.username, c.password))
        ),
        EwsAuth::Bearer(token) => format!("Bearer {token}"),
    };
    let mut headers = vec![
        ("content-type", "text/xml; charset=utf-8".to_string()),
        ("accept", "text/xml".to_string()),
        ("authorization", authorization),
    ];
    // Exchange routes an impersonated request to the mailbox's server by this header.
    if let Some(user) = as_user.filter(|u| u.bytes().all(|b| b.is_ascii_graphic())) {
        headers.push(("x-anchormailbox", user.to_string()));
    }
    headers
}

pub(super) fn status_failure(resp: &http::Response, body: &str, stage: &'static str) -> Failure {
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
    // An account that may not impersonate the mailbox is refused with a SOAP fault
    // (HTTP 500); it is the account's rights that are wrong, as with a 401.
    let denied = ["ErrorImpersonateUserDenied", "ErrorImpersonationDenied"]
        .iter()
        .any(|code| body.contains(code));
    let kind = if resp.status == 401 || denied {
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
    scan(xml, Some(local))
        .into_iter()
        .map(|(_, _, inner)| inner)
        .collect()
}

/// `(local name, attributes, inner XML)` of the elements named `local` (any prefix),
/// looking inside the others; with `None`, of the top-level elements only.
fn scan<'a>(xml: &'a str, local: Option<&str>) -> Vec<(&'a str, &'a str, &'a str)> {
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
        let name_local = name.rsplit(':').next().unwrap_or("");
        if local.is_some_and(|l| l != name_local) {
            continue;
        }
        let attrs = tag[name.len()..].trim_end_matches('/');
        if tag.ends_with('/') {
            out.push((name_local, attrs, ""));
            continue;
        }
        let close = format!("</{name}>");
        match xml[at..].find(&close) {
            Some(i) => {
                out.push((name_local, attrs, &xml[at..at + i]));
                at += i + close.len();
            }
            None => break,
        }
    }
    out
}

/// The value of attribute `name` in a tag's attributes (`Id="..."` or `Id='...'`).
fn attribute(attrs: &str, name: &str) -> Option<String> {
    let mut rest = attrs;
    while let Some(i) = rest.find(name) {
        let before_ok = rest[..i].ends_with(|c: char| c.is_whitespace()) || i == 0;
        let after = rest[i + name.len()..].trim_start();
        rest = &rest[i + name.len()..];
        let Some(after) = after.strip_prefix('=') else {
            continue;
        };
        if !before_ok {
            continue;
        }
        let after = after.trim_start();
        let quote = after.chars().next().filter(|q| *q == '"' || *q == '\'')?;
        let value = &after[1..];
        let end = value.find(quote)?;
        return Some(xml_unescape(&value[..end]));
    }
    None
}

fn element_text(xml: &str, local: &str) -> Option<String> {
    elements(xml, local).into_iter().next().map(xml_unescape)
}

/// Text for an XML element or attribute: markup escaped, and the characters XML 1.0
/// cannot carry at all (control characters but tab, LF, CR; U+FFFE, U+FFFF) dropped.
pub(super) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() && (c as u32) < 0x20 => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
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
    fn items_attributes_and_messages() {
        let xml = r#"<m:RootFolder TotalItemsInView="2" IncludesLastItemInRange='true'><t:Items>
<t:Message><t:ItemId Id="AAA=" ChangeKey="x"/><t:Subject>Hi &amp; bye</t:Subject>
<t:From><t:Mailbox><t:Name>Bob</t:Name><t:EmailAddress>bob@x.test</t:EmailAddress></t:Mailbox></t:From>
<t:DateTimeReceived>2026-12-03T09:00:00Z</t:DateTimeReceived><t:InternetMessageId>&lt;a@x&gt;</t:InternetMessageId></t:Message>
<t:MeetingRequest><t:ItemId Id="BBB="/><t:From><t:Mailbox><t:Name>Carol</t:Name></t:Mailbox></t:From></t:MeetingRequest>
</t:Items></m:RootFolder>"#;
        let (_, attrs, root) = scan(xml, Some("RootFolder"))[0];
        assert_eq!(attribute(attrs, "TotalItemsInView").as_deref(), Some("2"));
        assert_eq!(
            attribute(attrs, "IncludesLastItemInRange").as_deref(),
            Some("true")
        );
        assert_eq!(attribute(attrs, "InView"), None);
        let items = scan(elements(root, "Items")[0], None);
        assert_eq!(items.len(), 2);
        let a = parse_item(items[0].2);
        assert_eq!(a.id, "AAA=");
        assert_eq!(a.subject.as_deref(), Some("Hi & bye"));
        assert_eq!(a.from.as_deref(), Some("bob@x.test"));
        assert_eq!(a.message_id.as_deref(), Some("<a@x>"));
        assert_eq!(a.received.as_deref(), Some("2026-12-03T09:00:00Z"));
        let b = parse_item(items[1].2);
        assert_eq!((b.id.as_str(), b.from.as_deref()), ("BBB=", Some("Carol")));
        assert_eq!(b.subject, None);

        let m = message_xml(&Outgoing {
            from: "a@x.test".into(),
            to: vec!["b@x.test".into(), " ".into()],
            subject: "<R&D>\u{1}".into(),
            body: "line\n".into(),
            message_id: "id@x".into(),
        });
        assert!(m.contains("<t:Subject>&lt;R&amp;D&gt;</t:Subject>"), "{m}");
        assert!(m.contains("<t:InternetMessageId>&lt;id@x&gt;</t:InternetMessageId>"));
        assert_eq!(m.matches("<t:Mailbox>").count(), 2, "one To, the From");
        for bad in ["", "a", "@x", "a@", "a b@x", "<a@x>"] {
            assert!(!plausible_address(bad), "{bad:?}");
        }
        assert!(plausible_address("a.b+c@x.test"));
        for junk in ["<a x=\"", "<a x=>", "<a/><b>", "<x:Items><"] {
            let _ = scan(junk, None);
            let _ = attribute(junk, "x");
            let _ = parse_item(junk);
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
