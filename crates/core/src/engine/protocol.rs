//! How a direction of a mailbox connects: the protocol of the profile's server type,
//! the server (or EWS URL, or autodiscover), TLS, and whose credentials.

use super::{Connection, ConnectionFailure, FailureKind, Mailbox, Profile};
use crate::oauth::{self, Provider};
use crate::report::Direction;
use crate::rules::default_port;
use crate::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Imap,
    Pop3,
    Smtp,
    /// Exchange Web Services over HTTPS.
    Ews,
}

/// How the connection is secured: with SSL, TLS from the first byte on the port each
/// protocol reserves for it (IMAP 993, POP3 995, SMTP 465), STARTTLS (STLS) on any other
/// port (143, 110, 587, 25, a custom one); without SSL, clear text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Plain,
    StartTls,
    Tls,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Server {
        host: String,
        port: u16,
        security: Security,
    },
    /// An EWS endpoint.
    Url(String),
    /// Find the EWS endpoint of this address by Exchange autodiscover.
    Autodiscover { email: String },
}

/// One direction's connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub direction: Direction,
    pub protocol: Protocol,
    pub target: Target,
    pub credentials: Option<Credentials>,
    /// Exchange with "Use impersonation": the mailbox's address, which every EWS call
    /// names (`ExchangeImpersonation`, `X-AnchorMailbox`) so that the profile's service
    /// account acts as that mailbox and reads that mailbox, never its own.
    pub impersonate: Option<String>,
    /// Exchange Online with server-to-server authentication: EWS with an OAuth 2.0
    /// access token the app gets by the client credentials flow, never a password.
    pub app: Option<App>,
    /// "Gmail OAuth" and "Azure AD OAuth": IMAP, POP3 and SMTP with SASL XOAUTH2 and
    /// the access token the mailbox's refresh token gets.
    pub oauth: Option<MailboxOAuth>,
}

/// The app a mailbox signs in to its mail provider with, and as whom ("Gmail OAuth",
/// "Azure AD OAuth"): [`mailbox_app`].
#[derive(Clone, PartialEq, Eq)]
pub struct MailboxApp {
    pub provider: Provider,
    pub client_id: String,
    pub client_secret: String,
    /// The scopes asked at sign-in, asked again at each renewal ([`oauth::scopes`]).
    pub scope: String,
    /// XOAUTH2's `user=`: the mailbox's address, which signs in.
    pub user: String,
}

// Never print a secret.
impl std::fmt::Debug for MailboxApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailboxApp")
            .field("provider", &self.provider)
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// A mailbox signed in to its mail provider: how its access token is got and renewed.
#[derive(Clone, PartialEq, Eq)]
pub struct MailboxOAuth {
    pub app: MailboxApp,
    pub mailbox_id: String,
    pub refresh_token: String,
    /// The access token kept from the last renewal and until when it is good.
    pub access_token: Option<(String, Timestamp)>,
}

// Never print a token.
impl std::fmt::Debug for MailboxOAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailboxOAuth")
            .field("app", &self.app)
            .field("mailbox_id", &self.mailbox_id)
            .finish_non_exhaustive()
    }
}

/// The app whose token Exchange Online is called with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum App {
    /// The organization's own trust with Exchange Online in its tenant (Dataverse's;
    /// the local organization's server options).
    Organization,
    /// "OAuth (Cross Tenant)": the profile's app in the Exchange Online tenant.
    Profile {
        tenant: String,
        client_id: String,
        secret: String,
    },
}

/// The app of a server-to-server profile: its own when it names tenant, client and
/// secret, else the organization's.
fn app_of(profile: &Profile) -> App {
    let v = |o: &Option<String>| {
        o.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    match (
        v(&profile.exchange_online_tenant),
        v(&profile.oauth_client_id),
        v(&profile.oauth_client_secret),
    ) {
        (Some(tenant), Some(client_id), Some(secret)) => App::Profile {
            tenant,
            client_id,
            secret,
        },
        _ => App::Organization,
    }
}

/// The protocol of a direction on a server type; `None` when that server type does
/// not carry the direction (POP3 and IMAP profiles have no appointments, contacts and
/// tasks).
pub fn protocol_of(server_type: Option<i32>, dir: Direction) -> Option<Protocol> {
    match (server_type, dir) {
        (Some(1), Direction::Incoming) => Some(Protocol::Pop3),
        (Some(4), Direction::Incoming) => Some(Protocol::Imap),
        (Some(1) | Some(4), Direction::Outgoing) => Some(Protocol::Smtp),
        (Some(1) | Some(4), Direction::Act) => None,
        _ => Some(Protocol::Ews),
    }
}

pub fn security_of(protocol: Protocol, use_ssl: bool, port: u16) -> Security {
    let implicit = match protocol {
        Protocol::Imap => 993,
        Protocol::Pop3 => 995,
        Protocol::Smtp => 465,
        Protocol::Ews => 443,
    };
    match use_ssl {
        false => Security::Plain,
        true if port == implicit => Security::Tls,
        true => Security::StartTls,
    }
}

fn fail(kind: FailureKind, message: impl Into<String>) -> ConnectionFailure {
    ConnectionFailure {
        kind,
        server: String::new(),
        message: message.into(),
    }
}

/// How `dir` authenticates (appointments, contacts and tasks go with incoming;
/// outgoing with incoming when the profile uses the same settings).
pub(crate) fn authentication(profile: &Profile, dir: Direction) -> &Connection {
    match dir {
        Direction::Outgoing if !profile.use_same_settings_for_outgoing => &profile.outgoing,
        _ => &profile.incoming,
    }
}

/// The server `dir` connects to: its location, port and SSL (never shared: outgoing
/// has its own server; appointments, contacts and tasks use incoming's).
fn server(profile: &Profile, dir: Direction) -> &Connection {
    match dir {
        Direction::Outgoing => &profile.outgoing,
        _ => &profile.incoming,
    }
}

/// The server location of `dir`; none set is a failure found before connecting.
fn location(profile: &Profile, dir: Direction) -> Result<&str, ConnectionFailure> {
    server(profile, dir)
        .location
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| {
            fail(
                FailureKind::LocationUnknown,
                "No server location is set in the email server profile.",
            )
        })
}

fn credentials(
    mailbox: &Mailbox,
    profile: &Profile,
    dir: Direction,
) -> Result<Option<Credentials>, ConnectionFailure> {
    let c = authentication(profile, dir);
    let pair = |u: &Option<String>, p: &Option<String>| match (u, p) {
        (Some(u), Some(p)) if !u.is_empty() => Some(Credentials {
            username: u.clone(),
            password: p.clone(),
        }),
        _ => None,
    };
    match c.credential_retrieval.unwrap_or(0) {
        0 => {
            if !mailbox.allow_credentials {
                return Err(fail(
                    FailureKind::NoCredentials,
                    "The mailbox does not allow its credentials to be used for email processing (Allow to Use Credentials for Email Processing is off).",
                ));
            }
            pair(&mailbox.username, &mailbox.password)
                .map(Some)
                .ok_or_else(|| {
                    fail(
                        FailureKind::NoCredentials,
                        "No user name and password are specified in the mailbox.",
                    )
                })
        }
        1 => pair(&c.username, &c.password).map(Some).ok_or_else(|| {
            fail(
                FailureKind::NoCredentials,
                "No user name and password are specified in the email server profile.",
            )
        }),
        3 => Err(fail(
            FailureKind::NoCredentials,
            "Windows Integrated Authentication is not available to the local organization's server.",
        )),
        6 => Err(fail(
            FailureKind::NoCredentials,
            "Exchange Hybrid Modern Auth is not available to the local organization's server.",
        )),
        // Anonymous; server-to-server and OAuth use tokens, not a password.
        _ => Ok(None),
    }
}

/// How `dir` of `mailbox` connects through `profile`. `Ok(None)`: the profile's server
/// type does not carry this direction. An `Err` is a failure found before connecting
/// (no server location, no credentials), reported like one found by connecting.
pub fn plan(
    mailbox: &Mailbox,
    profile: &Profile,
    dir: Direction,
) -> Result<Option<Plan>, ConnectionFailure> {
    let Some(protocol) = protocol_of(profile.server_type, dir) else {
        return Ok(None);
    };
    let c = server(profile, dir);
    let target = if protocol == Protocol::Ews {
        if profile.use_autodiscover {
            let email = mailbox.email_address.clone().unwrap_or_default();
            if !email.contains('@') {
                return Err(fail(
                    FailureKind::LocationUnknown,
                    "The mailbox has no email address to autodiscover.",
                ));
            }
            Target::Autodiscover { email }
        } else {
            let loc = location(profile, dir)?;
            Target::Url(if loc.contains("://") {
                loc.to_string()
            } else {
                format!("https://{loc}/EWS/Exchange.asmx")
            })
        }
    } else {
        let loc = location(profile, dir)?;
        let port = c
            .port
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0)
            .unwrap_or_else(|| {
                default_port(profile.server_type, dir != Direction::Outgoing, c.use_ssl) as u16
            });
        Target::Server {
            host: loc.to_string(),
            port,
            security: security_of(protocol, c.use_ssl, port),
        }
    };
    let app = (protocol == Protocol::Ews
        && authentication(profile, dir).credential_retrieval == Some(2))
    .then(|| app_of(profile));
    // An app-only token reaches a mailbox only by impersonating it.
    let impersonate = if protocol == Protocol::Ews
        && (authentication(profile, dir).use_impersonation || app.is_some())
    {
        let email = mailbox
            .email_address
            .as_deref()
            .map(str::trim)
            .filter(|e| e.contains('@'))
            .ok_or_else(|| {
                fail(
                    FailureKind::NoCredentials,
                    "The email server profile uses impersonation, and the mailbox has no \
                     email address to impersonate.",
                )
            })?;
        Some(email.to_string())
    } else {
        None
    };
    Ok(Some(Plan {
        direction: dir,
        protocol,
        target,
        credentials: credentials(mailbox, profile, dir)?,
        impersonate,
        app,
        oauth: mailbox_oauth(mailbox, profile, dir)?,
    }))
}

/// The app `mailbox` signs in to its mail provider with, when its profile signs each
/// mailbox in ("Gmail OAuth", "Azure AD OAuth"; `Ok(None)` otherwise), and as whom. The
/// engine's plans and the mailbox's sign-in (the server's `webapi/signin.rs`) both take
/// it from here. Missing pieces are failures, in words saying who supplies them.
pub fn mailbox_app(
    mailbox: &Mailbox,
    profile: &Profile,
) -> Result<Option<MailboxApp>, ConnectionFailure> {
    let provider = oauth::profile_provider(
        profile.incoming.credential_retrieval,
        profile.outgoing.credential_retrieval,
        profile.use_same_settings_for_outgoing,
        profile.exchange_online_tenant.as_deref(),
    )
    .map_err(|m| fail(FailureKind::NoCredentials, m))?;
    let Some(provider) = provider else {
        return Ok(None);
    };
    let name = provider.name();
    if protocol_of(profile.server_type, Direction::Incoming) == Some(Protocol::Ews) {
        return Err(fail(
            FailureKind::NoCredentials,
            format!(
                "{name} OAuth signs in IMAP, POP3 and SMTP mailboxes; an Exchange profile uses \
                 server-to-server authentication or credentials."
            ),
        ));
    }
    let (Some(client_id), Some(client_secret)) = (
        text(&profile.oauth_client_id),
        text(&profile.oauth_client_secret),
    ) else {
        return Err(fail(
            FailureKind::NoCredentials,
            format!(
                "The email server profile has no OAuth client ID and client secret for {name} \
                 (the app registered with {name} for this environment)."
            ),
        ));
    };
    let user = text(&mailbox.email_address)
        .filter(|e| e.contains('@'))
        .ok_or_else(|| {
            fail(
                FailureKind::NoCredentials,
                "The mailbox has no email address to sign in with.",
            )
        })?;
    Ok(Some(MailboxApp {
        scope: oauth::scopes(
            &provider,
            profile.server_type,
            profile.aad_resource_id.as_deref(),
        ),
        provider,
        client_id,
        client_secret,
        user,
    }))
}

/// A value that is there: trimmed, not empty.
fn text(o: &Option<String>) -> Option<String> {
    o.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// How `dir` signs in with the mailbox's own OAuth tokens, when its profile's credential
/// retrieval is "Gmail OAuth" or "Azure AD OAuth": its app ([`mailbox_app`]) and the
/// tokens of its sign-in, never over a connection without SSL.
fn mailbox_oauth(
    mailbox: &Mailbox,
    profile: &Profile,
    dir: Direction,
) -> Result<Option<MailboxOAuth>, ConnectionFailure> {
    if !oauth::is_per_mailbox(authentication(profile, dir).credential_retrieval) {
        return Ok(None);
    }
    let Some(app) = mailbox_app(mailbox, profile)? else {
        return Ok(None);
    };
    let name = app.provider.name();
    // An access token reads the whole mailbox: never over a connection in clear text.
    if !server(profile, dir).use_ssl {
        return Err(fail(
            FailureKind::Tls,
            format!(
                "{name} OAuth sends the mailbox's access token only over an encrypted \
                 connection: turn on Use SSL in the email server profile."
            ),
        ));
    }
    let refresh_token = text(&mailbox.oauth_refresh_token).ok_or_else(|| {
        fail(
            FailureKind::NoCredentials,
            format!(
                "No one has signed in to {name} for this mailbox: its user opens the mailbox, \
                 selects Sign in to {name}, then tests the mailbox."
            ),
        )
    })?;
    let access_token = match (
        text(&mailbox.oauth_access_token),
        mailbox.oauth_token_expires_on,
    ) {
        (Some(t), Some(until)) => Some((t, until)),
        _ => None,
    };
    Ok(Some(MailboxOAuth {
        app,
        mailbox_id: mailbox.id.clone(),
        refresh_token,
        access_token,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imap_profile() -> Profile {
        Profile {
            id: "p".into(),
            name: "IMAP".into(),
            server_type: Some(4),
            incoming: Connection {
                location: Some("imap.example.test".into()),
                credential_retrieval: Some(0),
                use_ssl: true,
                port: Some(993),
                ..Default::default()
            },
            outgoing: Connection {
                location: Some("smtp.example.test".into()),
                credential_retrieval: Some(0),
                use_ssl: true,
                port: Some(587),
                ..Default::default()
            },
            use_same_settings_for_outgoing: true,
            ..Default::default()
        }
    }

    fn mailbox() -> Mailbox {
        Mailbox {
            id: "m".into(),
            name: "Alice".into(),
            email_address: Some("alice@example.test".into()),
            username: Some("alice".into()),
            password: Some("pw".into()),
            allow_credentials: true,
            ..Default::default()
        }
    }

    #[test]
    fn oauth_profiles_sign_mailboxes_in_with_their_own_tokens() {
        let mut p = imap_profile();
        p.incoming.credential_retrieval = Some(5);
        let m = mailbox();
        // No app on the profile, then no sign-in on the mailbox: said before connecting.
        let e = plan(&m, &p, Direction::Incoming).unwrap_err();
        assert_eq!(e.kind, FailureKind::NoCredentials);
        assert!(e.message.contains("OAuth client ID"), "{}", e.message);
        p.oauth_client_id = Some("client".into());
        p.oauth_client_secret = Some("secret".into());
        let e = plan(&m, &p, Direction::Outgoing).unwrap_err();
        assert!(e.message.contains("Sign in to Gmail"), "{}", e.message);
        let mut m = mailbox();
        m.oauth_refresh_token = Some("refresh".into());
        m.oauth_access_token = Some("access".into());
        m.oauth_token_expires_on = Some(Timestamp(1_800_000_000));
        let plan = plan(&m, &p, Direction::Outgoing).unwrap().unwrap();
        let o = plan.oauth.unwrap();
        assert_eq!(o.app.provider, Provider::Google);
        assert_eq!(o.app.user, "alice@example.test");
        assert_eq!(o.app.scope, "https://mail.google.com/ openid email");
        assert_eq!(
            o.access_token,
            Some(("access".into(), Timestamp(1_800_000_000)))
        );
        assert_eq!(plan.credentials, None, "no password alongside the token");
        assert!(!format!("{o:?}").contains("refresh") && !format!("{o:?}").contains("secret"));
        // Entra ID: the profile's tenant; an Exchange profile is not signed in this way.
        p.incoming.credential_retrieval = Some(7);
        p.exchange_online_tenant = Some("contoso.com".into());
        let o = super::plan(&m, &p, Direction::Incoming)
            .unwrap()
            .unwrap()
            .oauth
            .unwrap();
        assert_eq!(
            o.app.provider,
            Provider::Entra {
                tenant: "contoso.com".into()
            }
        );
        // Never a token in clear text; nor two providers for one sign-in.
        p.incoming.use_ssl = false;
        let e = super::plan(&m, &p, Direction::Incoming).unwrap_err();
        assert_eq!(e.kind, FailureKind::Tls, "{}", e.message);
        p.incoming.use_ssl = true;
        p.use_same_settings_for_outgoing = false;
        p.outgoing.credential_retrieval = Some(5);
        assert!(super::plan(&m, &p, Direction::Incoming).is_err());
        p.server_type = Some(0);
        assert!(super::plan(&m, &p, Direction::Incoming).is_err());
    }

    #[test]
    fn server_to_server_exchange_uses_an_app_token_and_impersonates() {
        let mut p = imap_profile();
        p.server_type = Some(0);
        p.incoming.credential_retrieval = Some(2);
        p.incoming.location = Some("https://outlook.office365.com/EWS/Exchange.asmx".into());
        let plan = plan(&mailbox(), &p, Direction::Act).unwrap().unwrap();
        assert_eq!(plan.app, Some(App::Organization));
        assert_eq!(plan.credentials, None);
        assert_eq!(plan.impersonate.as_deref(), Some("alice@example.test"));
        p.exchange_online_tenant = Some("t2".into());
        p.oauth_client_id = Some("c2".into());
        p.oauth_client_secret = Some("s2".into());
        let plan = super::plan(&mailbox(), &p, Direction::Incoming)
            .unwrap()
            .unwrap();
        assert_eq!(
            plan.app,
            Some(App::Profile {
                tenant: "t2".into(),
                client_id: "c2".into(),
                secret: "s2".into()
            })
        );
        // Basic authentication profiles have no app.
        let basic = super::plan(&mailbox(), &imap_profile(), Direction::Incoming)
            .unwrap()
            .unwrap();
        assert_eq!(basic.app, None);
    }

    #[test]
    fn imap_smtp_with_mailbox_credentials() {
        let p = plan(&mailbox(), &imap_profile(), Direction::Incoming)
            .unwrap()
            .unwrap();
        assert_eq!(p.protocol, Protocol::Imap);
        assert_eq!(
            p.target,
            Target::Server {
                host: "imap.example.test".into(),
                port: 993,
                security: Security::Tls
            }
        );
        assert_eq!(p.credentials.unwrap().username, "alice");
        let o = plan(&mailbox(), &imap_profile(), Direction::Outgoing)
            .unwrap()
            .unwrap();
        assert_eq!(o.protocol, Protocol::Smtp);
        assert!(matches!(
            o.target,
            Target::Server {
                port: 587,
                security: Security::StartTls,
                ..
            }
        ));
        assert_eq!(
            plan(&mailbox(), &imap_profile(), Direction::Act).unwrap(),
            None
        );
    }

    #[test]
    fn missing_credentials_and_locations_fail_before_connecting() {
        let mut m = mailbox();
        m.allow_credentials = false;
        let e = plan(&m, &imap_profile(), Direction::Incoming).unwrap_err();
        assert_eq!(e.kind, FailureKind::NoCredentials);
        let mut p = imap_profile();
        p.incoming.location = None;
        assert_eq!(
            plan(&mailbox(), &p, Direction::Incoming).unwrap_err().kind,
            FailureKind::LocationUnknown
        );
        p = imap_profile();
        p.incoming.credential_retrieval = Some(1);
        let e = plan(&mailbox(), &p, Direction::Incoming).unwrap_err();
        assert!(e.message.contains("email server profile"));
    }

    #[test]
    fn exchange_autodiscovers_or_uses_the_ews_url() {
        let mut p = imap_profile();
        p.server_type = Some(0);
        p.use_autodiscover = true;
        p.incoming.credential_retrieval = Some(2);
        let a = plan(&mailbox(), &p, Direction::Act).unwrap().unwrap();
        assert_eq!(a.protocol, Protocol::Ews);
        assert_eq!(
            a.target,
            Target::Autodiscover {
                email: "alice@example.test".into()
            }
        );
        assert_eq!(a.credentials, None);
        p.use_autodiscover = false;
        p.incoming.location = Some("mail.example.test".into());
        let u = plan(&mailbox(), &p, Direction::Incoming).unwrap().unwrap();
        assert_eq!(
            u.target,
            Target::Url("https://mail.example.test/EWS/Exchange.asmx".into())
        );
    }

    #[test]
    fn impersonation_names_the_mailbox_on_every_exchange_direction() {
        let mut p = imap_profile();
        p.server_type = Some(0);
        p.incoming.location = Some("https://mail.example.test/EWS/Exchange.asmx".into());
        p.incoming.credential_retrieval = Some(1);
        p.incoming.username = Some("svc".into());
        p.incoming.password = Some("svc-pw".into());
        p.incoming.use_impersonation = true;
        for dir in [Direction::Incoming, Direction::Outgoing, Direction::Act] {
            let plan = plan(&mailbox(), &p, dir).unwrap().unwrap();
            assert_eq!(
                plan.impersonate.as_deref(),
                Some("alice@example.test"),
                "{dir:?}"
            );
            assert_eq!(plan.credentials.unwrap().username, "svc");
        }
        // Without an address there is nobody to impersonate: fails before connecting.
        let mut no_address = mailbox();
        no_address.email_address = None;
        let e = plan(&no_address, &p, Direction::Incoming).unwrap_err();
        assert_eq!(e.kind, FailureKind::NoCredentials);
        // Off: the account acts as itself; never on POP3/IMAP/SMTP.
        p.incoming.use_impersonation = false;
        assert_eq!(
            plan(&mailbox(), &p, Direction::Incoming)
                .unwrap()
                .unwrap()
                .impersonate,
            None
        );
        let mut imap = imap_profile();
        imap.incoming.use_impersonation = true;
        assert_eq!(
            plan(&mailbox(), &imap, Direction::Incoming)
                .unwrap()
                .unwrap()
                .impersonate,
            None
        );
    }

    #[test]
    fn security_follows_ssl_and_port() {
        for (protocol, implicit, others) in [
            (Protocol::Imap, 993, [143, 31143, 995]),
            (Protocol::Pop3, 995, [110, 31110, 993]),
            (Protocol::Smtp, 465, [587, 25, 993]),
        ] {
            assert_eq!(security_of(protocol, true, implicit), Security::Tls);
            assert_eq!(security_of(protocol, false, implicit), Security::Plain);
            for port in others {
                assert_eq!(
                    security_of(protocol, true, port),
                    Security::StartTls,
                    "{protocol:?} {port}"
                );
                assert_eq!(security_of(protocol, false, port), Security::Plain);
            }
        }
    }
}
