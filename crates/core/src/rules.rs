//! Email server profile rules: the form rules and the supported configurations of
//! server-side synchronization. The analyzer flags them in logs; the console's profile
//! form and the local organization's API enforce them.

use crate::options::is_pop_or_imap;
use crate::report::{Finding, Severity, Text};

/// A profile's settings as Dataverse option values; `None` where unknown.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileSettings {
    pub server_type: Option<i32>,
    /// `exchangeversion`: 0 Exchange 2007 .. 5 Exchange 2013.
    pub exchange_version: Option<i32>,
    pub use_autodiscover: Option<bool>,
    pub max_concurrent_connections: Option<i64>,
    pub min_polling_interval_minutes: Option<i64>,
    pub incoming: ConnectionRule,
    pub outgoing: ConnectionRule,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectionRule {
    pub credential_retrieval: Option<i32>,
    pub authentication_protocol: Option<i32>,
    pub use_impersonation: Option<bool>,
    pub use_ssl: Option<bool>,
    pub port: Option<i64>,
}

pub const MAX_CONNECTIONS: std::ops::RangeInclusive<i64> = 1..=300;
pub const POLLING_MINUTES: std::ops::RangeInclusive<i64> = 0..=1440;
pub const PORTS: std::ops::RangeInclusive<i64> = 1..=65535;
/// The polling interval used when the profile says 0, and the floor for any value.
pub const MIN_POLLING_MINUTES: i64 = 5;

pub fn effective_polling_minutes(configured: i64) -> i64 {
    configured.max(MIN_POLLING_MINUTES)
}

/// Form rule: Server to Server Authentication (2) and Without Credentials (4) leave no
/// choice of authentication protocol; it is Auto Detect (0).
pub fn forces_auto_detect(credential_retrieval: Option<i32>) -> bool {
    matches!(credential_retrieval, Some(2) | Some(4))
}

/// Form rule: a profile holds a user name and password for a direction only when that
/// direction uses Credentials Specified in Email Server Profile (1).
pub fn takes_profile_credentials(credential_retrieval: Option<i32>) -> bool {
    credential_retrieval == Some(1)
}

/// The usual port of a direction for a server type with or without SSL: Exchange's EWS
/// 443 (80), POP3 995 (110), IMAP 993 (143), SMTP 465 (25) out.
pub fn default_port(server_type: Option<i32>, incoming: bool, use_ssl: bool) -> i64 {
    match (server_type, incoming, use_ssl) {
        (Some(1), true, true) => 995,
        (Some(1), true, false) => 110,
        (Some(4), true, true) => 993,
        (Some(4), true, false) => 143,
        (Some(1) | Some(4), false, true) => 465,
        (Some(1) | Some(4), false, false) => 25,
        (_, _, true) => 443,
        (_, _, false) => 80,
    }
}

/// Whether `port` is one of the usual ports (any server type, SSL or not): a form
/// replaces such a port when the server type or SSL changes, and keeps a custom one.
pub fn is_usual_port(port: i64) -> bool {
    [25, 80, 110, 143, 443, 465, 587, 993, 995].contains(&port)
}

/// Form rule: Auto Discover Server Location and impersonation exist only for Exchange
/// profiles, not for POP3/SMTP or IMAP/SMTP.
pub fn offers_exchange_settings(server_type: Option<i32>) -> bool {
    !server_type.is_some_and(is_pop_or_imap)
}

fn finding(
    severity: Severity,
    code: &'static str,
    message: String,
    resolution: &'static str,
) -> Finding {
    Finding {
        severity,
        code: Text::Borrowed(code),
        message,
        resolution: Some(Text::from(resolution)),
    }
}

/// What kind of profile it is, as Dynamics 365 names it: an Exchange profile (server
/// type 0) that signs in with Server to Server Authentication is Exchange Online (the
/// online organization's default profile); otherwise the server type's label.
pub fn profile_kind_label(
    server_type: Option<i32>,
    incoming_credential_retrieval: Option<i32>,
    outgoing_credential_retrieval: Option<i32>,
) -> &'static str {
    match server_type {
        Some(0)
            if is_exchange_online(
                server_type,
                incoming_credential_retrieval,
                outgoing_credential_retrieval,
            ) =>
        {
            "Exchange Online"
        }
        Some(t) => crate::options::server_type_label(t),
        None => "",
    }
}

/// Whether a profile is Exchange Online: Exchange Online (Hybrid) (server type 3), or
/// Exchange (server type 0, Exchange Online on an online organization) with
/// Server to Server Authentication (credential retrieval 2) in either direction.
/// Who must approve its mailboxes: [`needs_o365_admin_approval`].
pub fn is_exchange_online(
    server_type: Option<i32>,
    incoming_credential_retrieval: Option<i32>,
    outgoing_credential_retrieval: Option<i32>,
) -> bool {
    server_type == Some(3)
        || server_type == Some(0)
            && (incoming_credential_retrieval == Some(2)
                || outgoing_credential_retrieval == Some(2))
}

/// Whether a mailbox on the profile synchronizes only once a Microsoft 365
/// administrator (Global or Exchange administrator, or a Delegated Mailbox Approver)
/// approved its address (`isemailaddressapprovedbyo365admin`): Exchange Online reached
/// from an online organization (server type 0 with Server to Server Authentication).
/// Not Exchange Online (Hybrid) (3), which on-premises organizations use: there, as
/// Microsoft documents it, the Dynamics 365 (System) administrator approves alone.
pub fn needs_o365_admin_approval(
    server_type: Option<i32>,
    incoming_credential_retrieval: Option<i32>,
    outgoing_credential_retrieval: Option<i32>,
) -> bool {
    is_exchange_online(
        server_type,
        incoming_credential_retrieval,
        outgoing_credential_retrieval,
    ) && server_type != Some(3)
}

/// The value of the OrgDBOrgSetting `name` in `organization.orgdborgsettings`
/// (`<OrgSettings><RequirePrivilegeToSelfApproveEmailAddress>true</...></OrgSettings>`),
/// trimmed; `None` when it is not set. Written by hand: the document is a flat list of
/// elements, and an XML parser for it would be the only one core carries.
pub fn org_db_setting<'a>(settings: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = settings.find(&open)? + open.len();
    let end = start + settings[start..].find(&close)?;
    Some(settings[start..end].trim())
}

/// Whether users need the "Approve Email Addresses for Users or Queues" privilege to
/// approve their own mailbox (`RequirePrivilegeToSelfApproveEmailAddress`, off by
/// default, as in Dataverse).
pub fn self_approval_needs_privilege(orgdborgsettings: Option<&str>) -> bool {
    orgdborgsettings
        .and_then(|s| org_db_setting(s, "RequirePrivilegeToSelfApproveEmailAddress"))
        .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Exchange 2007 and 2007 SP1 (`exchangeversion` 0 and 1): server-side synchronization
/// supports neither (nor Exchange 2003, which has no value).
pub fn is_unsupported_exchange_version(exchange_version: Option<i32>) -> bool {
    matches!(exchange_version, Some(0 | 1))
}

/// Every rule the profile breaks, errors (invalid) before warnings (unsupported).
pub fn check_profile(p: &ProfileSettings) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(n) = p
        .max_concurrent_connections
        .filter(|n| !MAX_CONNECTIONS.contains(n))
    {
        out.push(finding(
            Severity::Error,
            "profile_connections_out_of_range",
            format!("Maximum concurrent connections is {n}; it must be between 1 and 300."),
            "Set Maximum Concurrent Connections between 1 and 300 (default 10).",
        ));
    }
    if let Some(n) = p
        .min_polling_interval_minutes
        .filter(|n| !POLLING_MINUTES.contains(n))
    {
        out.push(finding(
            Severity::Error,
            "profile_polling_out_of_range",
            format!(
                "Minimum polling interval is {}; it must be between 0 and 1440.",
                crate::words::count(n, "minute", "minutes")
            ),
            "Set the Minimum Polling Interval between 0 and 1440 minutes.",
        ));
    }
    for (dir, c) in [("incoming", &p.incoming), ("outgoing", &p.outgoing)] {
        if let Some(port) = c.port.filter(|n| !PORTS.contains(n)) {
            out.push(finding(
                Severity::Error,
                "profile_port_out_of_range",
                format!("The {dir} port {port} is not a valid port (1-65535)."),
                "Set a port between 1 and 65535.",
            ));
        }
        if forces_auto_detect(c.credential_retrieval)
            && c.authentication_protocol.is_some_and(|a| a != 0)
        {
            out.push(finding(Severity::Error, "profile_protocol_must_autodetect", format!("The {dir} connection uses {} with an authentication protocol other than Auto Detect.", crate::options::credential_retrieval_label(c.credential_retrieval.unwrap_or(0))), "Server to Server Authentication and Anonymous force the authentication protocol to Auto Detect."));
        }
        if c.use_ssl == Some(false) {
            out.push(finding(Severity::Warning, "profile_ssl_off", format!("The {dir} connection does not use SSL: credentials and mail travel unencrypted."), "Turn on Use SSL for the connection and use the server's SSL port."));
        }
        if let (Some(ssl), Some(port)) = (c.use_ssl, c.port) {
            let plain = [25, 80, 110, 143];
            let secure = [443, 465, 993, 995];
            if (ssl && plain.contains(&port)) || (!ssl && secure.contains(&port)) {
                out.push(finding(Severity::Warning, "profile_ssl_port_mismatch", format!("The {dir} connection has Use SSL = {ssl} on port {port}, which is usually {}.", if ssl { "a plain-text port" } else { "an SSL port" }), "Match Use SSL to the port: 995/993/465/443 with SSL, 110/143/25/80 without."));
            }
        }
    }
    if let Some(st) = p.server_type {
        if is_pop_or_imap(st) {
            if p.use_autodiscover == Some(true) {
                out.push(finding(Severity::Error, "profile_autodiscover_not_for_pop_imap", "A POP3/IMAP profile has Auto Discover Server Location on; only Exchange profiles can autodiscover.".to_string(), "Set Auto Discover Server Location to No and give the incoming and outgoing server locations."));
            }
            if p.incoming.use_impersonation == Some(true)
                || p.outgoing.use_impersonation == Some(true)
            {
                out.push(finding(
                    Severity::Error,
                    "profile_impersonation_not_for_pop_imap",
                    "A POP3/IMAP profile uses impersonation, which only Exchange supports."
                        .to_string(),
                    "Turn impersonation off.",
                ));
            }
        }
        let s2s = p.incoming.credential_retrieval == Some(2)
            || p.outgoing.credential_retrieval == Some(2);
        if st == 0 && s2s {
            let mut problems = Vec::new();
            if p.use_autodiscover == Some(false) {
                problems.push("Auto Discover Server Location is off");
            }
            if p.incoming.use_impersonation == Some(true)
                || p.outgoing.use_impersonation == Some(true)
            {
                problems.push("impersonation is used");
            }
            if [
                p.incoming.credential_retrieval,
                p.outgoing.credential_retrieval,
            ]
            .iter()
            .any(|c| matches!(c, Some(0) | Some(1)))
            {
                problems.push("one direction uses credentials by user/queue or by profile");
            }
            if !problems.is_empty() {
                out.push(finding(Severity::Warning, "kb.exchange-online-unsupported-settings", format!("Unsupported Exchange Online configuration: {}.", problems.join("; ")), "Use Server to Server Authentication in both directions, Auto Discover on and no impersonation."));
            }
        } else if st == 0
            && [
                p.incoming.credential_retrieval,
                p.outgoing.credential_retrieval,
            ]
            .iter()
            .any(|c| matches!(c, Some(0) | Some(1)))
        {
            out.push(finding(Severity::Info, "profile_exchange_credentials", "The Exchange profile uses credentials by user/queue or by profile: supported for Exchange Server on-premises, not for Exchange Online with an online organization.".to_string(), "For Exchange Online use Server to Server Authentication with Auto Discover on."));
        }
    }
    // Unsupported, like the other unsupported configurations: a warning, since the
    // record is valid and Dataverse stores it.
    if offers_exchange_settings(p.server_type)
        && is_unsupported_exchange_version(p.exchange_version)
    {
        out.push(finding(
            Severity::Warning,
            "profile_exchange_version_unsupported",
            format!(
                "The profile's Exchange version is {}: server-side synchronization does not \
                 support Exchange 2003 or 2007.",
                crate::options::label(
                    crate::options::EXCHANGE_VERSIONS,
                    p.exchange_version.unwrap_or(0)
                )
            ),
            "Connect to Exchange 2010 SP1 or later (or Exchange Online), and set the \
             Exchange version to match.",
        ));
    }
    if let (Some(i), Some(o)) = (
        p.incoming.credential_retrieval,
        p.outgoing.credential_retrieval,
    ) {
        if (i == 2) != (o == 2) {
            out.push(finding(Severity::Warning, "profile_mixed_authentication", "Incoming and outgoing connections authenticate differently (one uses Server to Server Authentication).".to_string(), "Mixed configurations such as Exchange/SMTP or POP3/Exchange are not supported; use one server type for both directions."));
        }
    }
    out.sort_by_key(|f| f.severity);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn profile_kinds_are_named_as_dynamics_names_them() {
        assert_eq!(
            profile_kind_label(Some(0), Some(2), Some(2)),
            "Exchange Online"
        );
        assert_eq!(
            profile_kind_label(Some(0), Some(1), Some(1)),
            "Exchange Server"
        );
        assert_eq!(
            profile_kind_label(Some(3), Some(2), None),
            "Exchange Online (Hybrid)"
        );
        assert_eq!(profile_kind_label(Some(4), None, None), "IMAP/SMTP");
        assert_eq!(profile_kind_label(None, None, None), "");
    }

    use super::*;

    #[test]
    fn only_exchange_online_from_an_online_organization_needs_a_microsoft_365_admin() {
        assert!(needs_o365_admin_approval(Some(0), Some(2), Some(2)));
        assert!(needs_o365_admin_approval(Some(0), Some(2), Some(1)));
        // Exchange Online (Hybrid): the System Administrator approves alone.
        assert!(is_exchange_online(Some(3), Some(1), Some(1)));
        assert!(!needs_o365_admin_approval(Some(3), Some(1), Some(1)));
        assert!(!needs_o365_admin_approval(Some(0), Some(1), Some(1)));
        assert!(!needs_o365_admin_approval(Some(4), Some(2), Some(2)));
    }

    #[test]
    fn self_approval_needs_a_privilege_only_when_the_organization_says_so() {
        assert!(!self_approval_needs_privilege(None));
        assert!(!self_approval_needs_privilege(Some("<OrgSettings/>")));
        let on = "<OrgSettings><IsFoo>false</IsFoo>\
                  <RequirePrivilegeToSelfApproveEmailAddress> true </RequirePrivilegeToSelfApproveEmailAddress>\
                  </OrgSettings>";
        assert!(self_approval_needs_privilege(Some(on)));
        assert!(!self_approval_needs_privilege(Some(
            "<OrgSettings><RequirePrivilegeToSelfApproveEmailAddress>false</RequirePrivilegeToSelfApproveEmailAddress></OrgSettings>"
        )));
        assert_eq!(org_db_setting(on, "IsFoo"), Some("false"));
        assert_eq!(org_db_setting("<A>x", "A"), None);
    }

    fn exo() -> ProfileSettings {
        let c = ConnectionRule {
            credential_retrieval: Some(2),
            authentication_protocol: Some(0),
            use_impersonation: Some(false),
            use_ssl: Some(true),
            port: Some(443),
        };
        ProfileSettings {
            server_type: Some(0),
            exchange_version: None,
            use_autodiscover: Some(true),
            max_concurrent_connections: Some(108),
            min_polling_interval_minutes: Some(0),
            incoming: c.clone(),
            outgoing: c,
        }
    }

    #[test]
    fn form_rules() {
        assert!(forces_auto_detect(Some(2)) && forces_auto_detect(Some(4)));
        assert!(!forces_auto_detect(Some(1)) && !forces_auto_detect(None));
        assert!(takes_profile_credentials(Some(1)));
        assert!(!takes_profile_credentials(Some(0)) && !takes_profile_credentials(Some(2)));
        assert!(offers_exchange_settings(Some(0)) && offers_exchange_settings(None));
        assert!(!offers_exchange_settings(Some(1)) && !offers_exchange_settings(Some(4)));
        assert_eq!(default_port(Some(1), true, true), 995);
        assert_eq!(default_port(Some(1), false, false), 25);
        assert_eq!(default_port(Some(4), true, false), 143);
        assert_eq!(default_port(Some(0), false, true), 443);
        assert!(is_usual_port(993) && !is_usual_port(10993));
    }

    #[test]
    fn exchange_online_predicate() {
        assert!(is_exchange_online(Some(0), Some(2), Some(2)));
        assert!(is_exchange_online(Some(0), Some(1), Some(2)));
        assert!(!is_exchange_online(Some(0), Some(1), Some(1)));
        assert!(!is_exchange_online(Some(4), Some(2), Some(2)));
        assert!(!is_exchange_online(None, Some(2), Some(2)));
        // Exchange Online (Hybrid) is Exchange Online whatever its credentials.
        assert!(is_exchange_online(Some(3), Some(0), Some(0)));
        assert!(is_exchange_online(Some(3), None, None));
        assert!(!is_exchange_online(Some(2), Some(2), Some(2)));
    }

    #[test]
    fn exchange_2007_is_unsupported() {
        let codes = |p: &ProfileSettings| -> Vec<(Severity, String)> {
            check_profile(p)
                .into_iter()
                .map(|f| (f.severity, f.code.into_owned()))
                .collect()
        };
        let flagged = (
            Severity::Warning,
            "profile_exchange_version_unsupported".to_string(),
        );
        for v in [0, 1] {
            let mut p = exo();
            p.exchange_version = Some(v);
            assert_eq!(codes(&p), vec![flagged.clone()], "exchangeversion {v}");
            let mut hybrid = p.clone();
            hybrid.server_type = Some(2);
            assert!(codes(&hybrid).contains(&flagged));
        }
        for v in [None, Some(2), Some(5)] {
            let mut p = exo();
            p.exchange_version = v;
            assert!(check_profile(&p).is_empty(), "{v:?}");
        }
        // A POP3 or IMAP profile has no Exchange version to speak of.
        let mut imap = exo();
        imap.server_type = Some(4);
        imap.exchange_version = Some(0);
        assert!(!codes(&imap).contains(&flagged));
    }

    #[test]
    fn supported_exchange_online_is_clean() {
        assert!(check_profile(&exo()).is_empty());
    }

    #[test]
    fn flags_each_broken_rule() {
        let mut p = exo();
        p.use_autodiscover = Some(false);
        p.incoming.authentication_protocol = Some(3);
        p.max_concurrent_connections = Some(500);
        let codes: Vec<String> = check_profile(&p)
            .into_iter()
            .map(|f| f.code.into_owned())
            .collect();
        assert!(codes.contains(&"kb.exchange-online-unsupported-settings".to_string()));
        assert!(codes.contains(&"profile_protocol_must_autodetect".to_string()));
        assert_eq!(codes[0], "profile_connections_out_of_range");
        let mut pop = exo();
        pop.server_type = Some(1);
        pop.incoming.use_ssl = Some(false);
        pop.incoming.port = Some(995);
        let codes: Vec<String> = check_profile(&pop)
            .into_iter()
            .map(|f| f.code.into_owned())
            .collect();
        assert!(codes.contains(&"profile_autodiscover_not_for_pop_imap".to_string()));
        assert!(codes.contains(&"profile_ssl_port_mismatch".to_string()));
    }
}
