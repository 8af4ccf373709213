//! OAuth 2.0 in mailsync.
//!
//! [`client`] is the authorization code flow with PKCE as pure functions: the console
//! signs in to Dataverse environments with it, and the server signs mailboxes in to
//! their mail provider with the same code.
//!
//! This module holds the rules of per-mailbox OAuth for IMAP, POP3 and SMTP, the email
//! server profiles whose credential retrieval is "Gmail OAuth" (5) or "Azure AD OAuth"
//! (7, "OAuth with Microsoft Entra ID"):
//! - the profile holds the app (`oauthclientid`, `oauthclientsecret`; for Entra ID the
//!   tenant `exchangeonlinetenantid` and the resource `aadresourceid`);
//! - the mailbox's user signs in once ("Sign in to Gmail", Microsoft's
//!   "Connect Gmail accounts by using OAuth 2.0"), with the redirect URI
//!   [`REDIRECT_PATH`] on the environment;
//! - the refresh token is kept on the mailbox (`oauthrefreshtoken`, sealed), the access
//!   token too, with `oauthtokenexpireson`;
//! - IMAP, POP3 and SMTP sign in with SASL XOAUTH2 ([`xoauth2`]), as Gmail and Exchange
//!   Online take it ("Authenticate an IMAP, POP or SMTP connection using OAuth").

pub mod client;

/// `incomingcredentialretrieval` / `outgoingcredentialretrieval`: "Gmail OAuth".
pub const GMAIL_OAUTH: i32 = 5;
/// `incomingcredentialretrieval` / `outgoingcredentialretrieval`: "Azure AD OAuth".
pub const ENTRA_OAUTH: i32 = 7;

/// Where the provider sends the browser back after a mailbox's sign-in, on the
/// environment's own address: the path Microsoft documents for Gmail OAuth's
/// "Authorized redirect URIs". Entra ID's apps register the same one.
pub const REDIRECT_PATH: &str = "/_grid/cmds/dlg_gmailoauth.aspx";

/// Exchange Online's resource for its IMAP, POP and SMTP permissions when the profile
/// names none in `aadresourceid`.
pub const OUTLOOK_RESOURCE: &str = "https://outlook.office.com";

/// Gmail's scope for IMAP, POP and SMTP (Google's "OAuth 2.0 Scopes for Google APIs").
pub const GMAIL_SCOPE: &str = "https://mail.google.com/";

/// Who a profile's mailboxes sign in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    Google,
    /// Microsoft Entra ID in this tenant (a tenant id or domain; `organizations` when
    /// the profile and the organization name none).
    Entra {
        tenant: String,
    },
}

impl Provider {
    /// The provider of a credential retrieval value; `tenant` is the profile's (or the
    /// organization's) Entra ID tenant.
    pub fn of(credential_retrieval: Option<i32>, tenant: Option<&str>) -> Option<Provider> {
        match credential_retrieval {
            Some(GMAIL_OAUTH) => Some(Provider::Google),
            Some(ENTRA_OAUTH) => Some(Provider::Entra {
                tenant: tenant
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .unwrap_or("organizations")
                    .to_string(),
            }),
            _ => None,
        }
    }

    /// The words of the mailbox form's button and of the alerts: "Sign in to Gmail".
    pub fn name(&self) -> &'static str {
        match self {
            Provider::Google => "Gmail",
            Provider::Entra { .. } => "Microsoft Entra ID",
        }
    }
}

/// The provider a profile signs its mailboxes in with: incoming's, else (when outgoing
/// has settings of its own) outgoing's. One sign-in serves both directions, so a profile
/// whose two directions name different per-mailbox providers is refused.
pub fn profile_provider(
    incoming: Option<i32>,
    outgoing: Option<i32>,
    same_settings: bool,
    tenant: Option<&str>,
) -> Result<Option<Provider>, String> {
    let outgoing = if same_settings { None } else { outgoing };
    match (is_per_mailbox(incoming), is_per_mailbox(outgoing)) {
        (true, true) if incoming != outgoing => Err(
            "The email server profile signs incoming and outgoing email in with different \
             OAuth providers; one sign-in per mailbox serves both: use the same \
             authentication for both directions."
                .to_string(),
        ),
        (true, _) => Ok(Provider::of(incoming, tenant)),
        (false, true) => Ok(Provider::of(outgoing, tenant)),
        (false, false) => Ok(None),
    }
}

/// Whether a credential retrieval value signs each mailbox in with OAuth.
pub fn is_per_mailbox(credential_retrieval: Option<i32>) -> bool {
    matches!(credential_retrieval, Some(GMAIL_OAUTH | ENTRA_OAUTH))
}

/// The scopes a mailbox signs in with and renews its tokens for: what its profile's
/// protocols need (POP3 for a POP3/SMTP profile, server type 1, else IMAP; SMTP for
/// sending), a refresh token (`offline_access`; Google gives one for
/// `access_type=offline` instead), and the account's address (`openid email`), which
/// must be the mailbox's.
pub fn scopes(provider: &Provider, server_type: Option<i32>, resource: Option<&str>) -> String {
    match provider {
        Provider::Google => format!("{GMAIL_SCOPE} openid email"),
        Provider::Entra { .. } => {
            let r = resource
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .unwrap_or(OUTLOOK_RESOURCE)
                .trim_end_matches('/');
            let incoming = if server_type == Some(1) {
                "POP.AccessAsUser.All"
            } else {
                "IMAP.AccessAsUser.All"
            };
            // `profile` for `preferred_username`: the ID token names the account even
            // when the user has no mail attribute (`email` absent).
            format!("{r}/{incoming} {r}/SMTP.Send offline_access openid email profile")
        }
    }
}

/// SASL XOAUTH2's client response before base64: `user=<address>^Aauth=Bearer
/// <token>^A^A` (Google's "XOAUTH2 mechanism", Microsoft's "SASL XOAUTH2").
pub fn xoauth2(user: &str, access_token: &str) -> String {
    format!("user={user}\x01auth=Bearer {access_token}\x01\x01")
}

/// The address an ID token signed in: `email`, else Entra ID's `preferred_username`
/// or `upn`. `None` when the token names none.
pub fn signed_in_address(id_token: &str) -> Option<String> {
    ["email", "preferred_username", "upn"]
        .iter()
        .find_map(|c| client::id_token_claim(id_token, c))
        .map(|a| a.trim().to_string())
        .filter(|a| a.contains('@'))
}

/// The account a sign-in's ID token names, checked as this sign-in's: issued to the
/// app (`aud`), with the nonce sent, naming an address, which Google says it verified
/// (`email_verified`). Any of these missing is a refusal: the tokens are not kept.
pub fn signed_in_account(
    id_token: Option<&str>,
    nonce: &str,
    client_id: &str,
) -> Result<String, String> {
    let id_token = id_token.ok_or(
        "The provider gave no ID token, so the account that signed in is unknown; the \
         app must be allowed to sign users in (openid).",
    )?;
    client::check_id_token(id_token, nonce, client_id).map_err(|e| e.message)?;
    if client::id_token_claim(id_token, "email_verified").as_deref() == Some("false") {
        return Err("The provider has not verified the account's address.".into());
    }
    signed_in_address(id_token).ok_or_else(|| {
        "The ID token names no address, so the account that signed in is unknown.".into()
    })
}

/// Whether the account signed in may hold the mailbox: the same address, without
/// regard to case. The provider lets that account, and no other, read the mailbox
/// over IMAP; holding another account's tokens would read another mailbox.
pub fn same_account(mailbox_address: &str, signed_in: &str) -> bool {
    mailbox_address
        .trim()
        .eq_ignore_ascii_case(signed_in.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_and_their_scopes() {
        assert_eq!(Provider::of(Some(5), Some("t")), Some(Provider::Google));
        assert_eq!(
            Provider::of(Some(7), None),
            Some(Provider::Entra {
                tenant: "organizations".into()
            })
        );
        assert_eq!(Provider::of(Some(2), None), None);
        assert!(is_per_mailbox(Some(7)) && !is_per_mailbox(Some(0)));
        assert_eq!(
            scopes(&Provider::Google, Some(4), None),
            "https://mail.google.com/ openid email"
        );
        let entra = Provider::Entra {
            tenant: "contoso.com".into(),
        };
        assert_eq!(
            scopes(&entra, Some(4), None),
            "https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send offline_access openid email profile"
        );
        assert_eq!(
            scopes(&entra, Some(1), Some("https://outlook.office365.com/")),
            "https://outlook.office365.com/POP.AccessAsUser.All https://outlook.office365.com/SMTP.Send offline_access openid email profile"
        );
    }

    #[test]
    fn one_provider_per_profile() {
        assert_eq!(
            profile_provider(Some(5), Some(7), true, None),
            Ok(Some(Provider::Google))
        );
        assert!(profile_provider(Some(5), Some(7), false, None).is_err());
        assert_eq!(
            profile_provider(Some(0), Some(7), false, Some("t")),
            Ok(Some(Provider::Entra { tenant: "t".into() }))
        );
        assert_eq!(profile_provider(Some(1), Some(2), false, None), Ok(None));
    }

    #[test]
    fn xoauth2_is_microsofts_example() {
        use base64::Engine as _;
        // "Authenticate an IMAP, POP or SMTP connection using OAuth": the example's
        // user and token give its base64.
        let s = xoauth2(
            "test@contoso.onmicrosoft.com",
            "EwBAAl3BAAUFFpUAo7J3Ve0bjLBWZWCclRC3EoAA",
        );
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(s),
            "dXNlcj10ZXN0QGNvbnRvc28ub25taWNyb3NvZnQuY29tAWF1dGg9QmVhcmVyIEV3QkFBbDNCQUFVRkZwVUFvN0ozVmUwYmpMQldaV0NjbFJDM0VvQUEBAQ=="
        );
    }

    #[test]
    fn the_signed_in_address_comes_from_the_id_token() {
        use base64::Engine as _;
        let enc = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let token = |claims: &str| format!("{}.{}.sig", enc(r#"{"alg":"RS256"}"#), enc(claims));
        assert_eq!(
            signed_in_address(&token(r#"{"email":"Alice@Contoso.com"}"#)).as_deref(),
            Some("Alice@Contoso.com")
        );
        assert_eq!(
            signed_in_address(&token(r#"{"preferred_username":"bob@contoso.com"}"#)).as_deref(),
            Some("bob@contoso.com")
        );
        assert_eq!(signed_in_address(&token(r#"{"sub":"123"}"#)), None);
        assert!(same_account("alice@contoso.com", "ALICE@contoso.com "));
        assert!(!same_account("alice@contoso.com", "bob@contoso.com"));
    }
}
