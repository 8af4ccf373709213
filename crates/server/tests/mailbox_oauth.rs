//! Per-mailbox OAuth in the real `mailsync serve`, against the test mail servers
//! (`bash scripts/mailservers.sh start`): scripts/oauth_mock.mjs stands in for Google
//! and Microsoft Entra ID (authorization code with PKCE, refresh tokens, revocation),
//! dovecot takes IMAP's and POP3's XOAUTH2 by introspecting the token there, and the
//! test SMTP server takes SMTP's.
//!
//! A mailbox on a "Gmail OAuth" (or "Azure AD OAuth") profile is signed in the way its
//! user's browser would: the bound action gives the address, the server sends the
//! browser on to the provider, the provider back with a code. Then Test & Enable, a
//! sync cycle taking mail over IMAP and sending over SMTP, all with XOAUTH2; the wrong
//! account and a revoked sign-in are refused in words saying what to do.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{mail_env, request, Admin, Resp, Server, TempDir};
use serde_json::{json, Value};

const PASSWORD: &str = "oauth test password";
const API: &str = "/api/data/v9.2";

fn read(admin: &Admin, id: &str) -> Value {
    admin.json("GET", &format!("mailboxes({id})"), json!(null))
}

/// `http://127.0.0.1:PORT/path?query` → (port, "/path?query").
fn split(url: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://127.0.0.1:").expect(url);
    let slash = rest.find('/').unwrap();
    (rest[..slash].parse().unwrap(), rest[slash..].to_string())
}

fn get(url: &str) -> Resp {
    let (port, path) = split(url);
    request(port, "GET", &path, &[], "")
}

/// Follows a sign-in from the action's answer through the provider and back, as a
/// browser would; `edit` may change the provider's address first (another account).
/// Returns where the server sends the browser at the end.
fn sign_in(admin: &Admin, mailbox: &str, edit: impl Fn(String) -> String) -> String {
    let begun = admin.json(
        "POST",
        &format!("mailboxes({mailbox})/Microsoft.Dynamics.CRM.mailsync_BeginOAuthSignIn"),
        json!({}),
    );
    let start = begun["AuthorizationUrl"].as_str().unwrap();
    assert!(
        start.starts_with(&format!(
            "http://127.0.0.1:{}/_grid/cmds/dlg_gmailoauth.aspx?",
            admin.port
        )),
        "{begun}"
    );
    assert_eq!(
        begun["RedirectUri"],
        format!(
            "http://127.0.0.1:{}/_grid/cmds/dlg_gmailoauth.aspx",
            admin.port
        )
    );
    let to_provider = get(start);
    assert_eq!(to_provider.status, 303, "{}", to_provider.body);
    let provider_url = edit(to_provider.header("location").unwrap().to_string());
    assert!(
        provider_url.contains("code_challenge_method=S256"),
        "{provider_url}"
    );
    let back = get(&provider_url);
    assert_eq!(back.status, 302, "the provider: {}", back.body);
    let callback = back.header("location").unwrap().to_string();
    assert!(
        callback.starts_with(begun["RedirectUri"].as_str().unwrap()),
        "{callback}"
    );
    let done = get(&callback);
    assert_eq!(done.status, 303, "{}", done.body);
    done.header("location").unwrap().to_string()
}

fn start_server(mail: &HashMap<String, String>, dir: &TempDir) -> (Server, Admin, String) {
    let server = Server::start_with(
        dir.path(),
        None,
        Some(PASSWORD),
        &[
            "--engine",
            "on",
            "--trust-ca",
            &mail["MAIL_CA"],
            "--mail-timeout",
            "5",
            "--google-authority",
            &mail["MAIL_GOOGLE_AUTHORITY"],
            "--entra-authority",
            &mail["MAIL_OAUTH_AUTHORITY"],
        ],
    );
    let admin = Admin::sign_in(server.port, "admin", PASSWORD);
    let me = admin.call("GET", "WhoAmI", "").json()["UserId"]
        .as_str()
        .unwrap()
        .to_string();
    (server, admin, me)
}

/// An IMAP/SMTP profile (STARTTLS on both) signing mailboxes in with `retrieval`.
fn profile(admin: &Admin, mail: &HashMap<String, String>, retrieval: i64, extra: Value) -> String {
    let mut body = json!({
        "name": format!("OAuth {retrieval}"), "servertype": 4, "useautodiscover": false,
        "incomingserverlocation": mail["MAIL_HOST"], "outgoingserverlocation": mail["MAIL_HOST"],
        "incomingcredentialretrieval": retrieval, "outgoingcredentialretrieval": retrieval,
        "incomingauthenticationprotocol": 4, "outgoingauthenticationprotocol": 4,
        "incomingusessl": true, "outgoingusessl": true,
        "incomingportnumber": mail["MAIL_IMAP_PORT"].parse::<i64>().unwrap(),
        "outgoingportnumber": mail["MAIL_SMTP_PORT"].parse::<i64>().unwrap(),
    });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let p = admin.json("POST", "emailserverprofiles", body);
    assert_eq!(p["isoauthclientsecretset"], true, "{p}");
    assert!(p.get("oauthclientsecret").is_none(), "write-only");
    p["emailserverprofileid"].as_str().unwrap().to_string()
}

fn mailbox(admin: &Admin, me: &str, profile: &str, address: &str) -> String {
    let m = admin.json("POST", "mailboxes", json!({
        "name": format!("{address} (OAuth test)"), "emailaddress": address,
        "regardingobjectid_systemuser@odata.bind": format!("/systemusers({me})"),
        "emailserverprofile@odata.bind": format!("/emailserverprofiles({profile})"),
        "incomingemaildeliverymethod": 2, "outgoingemaildeliverymethod": 2, "actdeliverymethod": 2,
        "emailrouteraccessapproval": 1,
    }));
    m["mailboxid"].as_str().unwrap().to_string()
}

/// Schedules Test & Enable and waits for its outcome.
fn test_and_enable(admin: &Admin, id: &str) -> Value {
    let before = read(admin, id)["testmailboxaccesscompletedon"].clone();
    admin.json(
        "PATCH",
        &format!("mailboxes({id})"),
        json!({"testemailconfigurationscheduled": true}),
    );
    let started = Instant::now();
    loop {
        let m = read(admin, id);
        if m["testemailconfigurationscheduled"] == false
            && m["testmailboxaccesscompletedon"].is_string()
            && m["testmailboxaccesscompletedon"] != before
        {
            return m;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not tested in 30 s: {m}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn mock(mail: &HashMap<String, String>, path: &str, body: Value) -> Value {
    let port: u16 = mail["MAIL_OAUTH_PORT"].parse().unwrap();
    let r = request(
        port,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        &body.to_string(),
    );
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.json()
}

#[test]
fn gmail_oauth_signs_the_mailbox_in_and_imap_and_smtp_use_xoauth2() {
    let mail = mail_env();
    let dir = TempDir::dist("oauth-gmail");
    let (_server, admin, me) = start_server(&mail, &dir);
    let pid = profile(
        &admin,
        &mail,
        5,
        json!({
            "oauthclientid": mail["MAIL_GOOGLE_CLIENT_ID"],
            "oauthclientsecret": mail["MAIL_GOOGLE_CLIENT_SECRET"],
        }),
    );
    let alice = format!("{}@{}", mail["MAIL_USER_ALICE"], mail["MAIL_DOMAIN"]);
    let id = mailbox(&admin, &me, &pid, &alice);

    // Before anyone signs in, Test & Enable says who must.
    let m = test_and_enable(&admin, &id);
    assert_eq!(m["isoauthrefreshtokenset"], false);
    assert_eq!(m["incomingemailstatus"], 2, "{m}");
    let error = m["lastsyncerror"].as_str().unwrap_or_default().to_string();
    let alerts = admin.json(
        "GET",
        &format!("tracelogs?$select=text,errordetails&$filter=_regardingobjectid_value eq {id}"),
        json!(null),
    );
    assert!(
        alerts.to_string().contains("Sign in to Gmail") || error.contains("Sign in to Gmail"),
        "{alerts} {error}"
    );

    // Another account's sign-in is refused, and nothing is kept.
    let bob = format!("{}@{}", mail["MAIL_USER_BOB"], mail["MAIL_DOMAIN"]);
    let back = sign_in(&admin, &id, |url| {
        url.replace(
            &format!("login_hint={}", alice.replace('@', "%40")),
            &format!("login_hint={}", bob.replace('@', "%40")),
        )
    });
    assert!(
        back.starts_with(&format!("/mailboxes/{id}?oauth_error=")),
        "{back}"
    );
    assert!(back.contains("bob%40mailsync.test"), "{back}");
    assert_eq!(read(&admin, &id)["isoauthrefreshtokenset"], false);

    // The mailbox's own account.
    let back = sign_in(&admin, &id, |url| url);
    assert_eq!(back, format!("/mailboxes/{id}?oauth=signed-in"));
    let m = read(&admin, &id);
    assert_eq!(m["isoauthrefreshtokenset"], true, "{m}");
    assert_eq!(m["isoauthaccesstokenset"], true, "{m}");
    assert!(m["oauthtokenexpireson"].is_string(), "{m}");
    assert!(m.get("oauthrefreshtoken").is_none() && m.get("oauthaccesstoken").is_none());
    // A state is used once.
    let again = sign_in_replay(&admin, &id);
    assert_eq!(again, 400);

    // Begun in a browser session (the console's cookie), only that session goes on.
    let login = request(
        admin.port,
        "POST",
        "/api/auth/login",
        &[("Content-Type", "application/json")],
        &json!({"username": "admin", "password": PASSWORD}).to_string(),
    );
    let cookie = login
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    let origin = format!("http://127.0.0.1:{}", admin.port);
    let begun = request(
        admin.port,
        "POST",
        &format!("{API}/mailboxes({id})/Microsoft.Dynamics.CRM.mailsync_BeginOAuthSignIn"),
        &[
            ("Cookie", &cookie),
            ("Origin", &origin),
            ("Content-Type", "application/json"),
        ],
        "{}",
    );
    assert_eq!(begun.status, 200, "{}", begun.body);
    let (port, path) = split(begun.json()["AuthorizationUrl"].as_str().unwrap());
    let elsewhere = request(port, "GET", &path, &[], "");
    assert_eq!(elsewhere.status, 400, "{}", elsewhere.body);
    assert!(
        elsewhere.body.contains("another browser session"),
        "{}",
        elsewhere.body
    );
    let here = request(port, "GET", &path, &[("Cookie", &cookie)], "");
    assert_eq!(here.status, 303, "{}", here.body);

    // Test & Enable, then a cycle: mail comes in over IMAP, an email goes out over SMTP.
    let subject = format!("OAuth outgoing {}", std::process::id());
    admin.json(
        "POST",
        "emails",
        json!({
            "subject": subject, "directioncode": true, "torecipients": bob,
            "description": "Sent with XOAUTH2.", "statuscode": 6,
            "sendermailboxid@odata.bind": format!("/mailboxes({id})"),
        }),
    );
    let m = test_and_enable(&admin, &id);
    assert_eq!(m["incomingemailstatus"], 1, "{m}");
    assert_eq!(m["outgoingemailstatus"], 1, "{m}");
    let started = Instant::now();
    loop {
        let received = admin.json(
            "GET",
            &format!(
                "emails?$select=subject&$count=true&$filter=_receivingmailboxid_value eq {id}"
            ),
            json!(null),
        );
        let sent = admin.json(
            "GET",
            &format!("emails?$select=statuscode&$filter=subject eq '{subject}'"),
            json!(null),
        );
        if received["@odata.count"].as_i64().unwrap() >= 1 && sent["value"][0]["statuscode"] == 3 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{received} {sent}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let outbox = std::fs::read_dir(&mail["MAIL_OUTBOX"]).unwrap();
    let eml = outbox
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .find(|t| t.contains(&subject))
        .expect("the message in the SMTP server's outbox");
    assert!(
        eml.contains(&format!("X-Mailsync-Auth: {alice}")),
        "signed in as alice with XOAUTH2: {eml}"
    );

    // Revoked at the provider: the next sign-in with the kept token fails, the renewal
    // says why and what to do.
    mock(&mail, "/mock/revoke", json!({"email": alice}));
    let m = test_and_enable(&admin, &id);
    assert_eq!(m["incomingemailstatus"], 2, "{m}");
    let alerts = admin
        .json(
            "GET",
            &format!(
                "tracelogs?$select=text,errordetails&$filter=_regardingobjectid_value eq {id}"
            ),
            json!(null),
        )
        .to_string();
    assert!(
        alerts.contains("signs in again with Sign in to Gmail")
            || m["lastsyncerror"].to_string().contains("signs in again"),
        "{alerts} {m}"
    );
}

/// The last callback's state again: single use.
fn sign_in_replay(admin: &Admin, mailbox: &str) -> u16 {
    let begun = admin.json(
        "POST",
        &format!("mailboxes({mailbox})/Microsoft.Dynamics.CRM.mailsync_BeginOAuthSignIn"),
        json!({}),
    );
    let start = begun["AuthorizationUrl"].as_str().unwrap();
    let provider = get(get(start).header("location").unwrap());
    let callback = provider.header("location").unwrap().to_string();
    assert_eq!(get(&callback).status, 303);
    get(&callback).status
}

#[test]
fn entra_oauth_mailboxes_renew_their_tokens_and_only_their_users_sign_them_in() {
    let mail = mail_env();
    let dir = TempDir::dist("oauth-entra");
    let (server, admin, me) = start_server(&mail, &dir);
    let pid = profile(
        &admin,
        &mail,
        7,
        json!({
            "oauthclientid": mail["MAIL_OAUTH_DELEGATED_CLIENT_ID"],
            "oauthclientsecret": mail["MAIL_OAUTH_DELEGATED_CLIENT_SECRET"],
            "exchangeonlinetenantid": mail["MAIL_OAUTH_TENANT"],
        }),
    );
    let carol = format!("{}@{}", mail["MAIL_USER_CAROL"], mail["MAIL_DOMAIN"]);
    let id = mailbox(&admin, &me, &pid, &carol);
    let begun = admin.json(
        "POST",
        &format!("mailboxes({id})/Microsoft.Dynamics.CRM.mailsync_BeginOAuthSignIn"),
        json!({}),
    );
    assert_eq!(begun["Provider"], "Microsoft Entra ID");
    assert_eq!(begun["Account"], carol);
    let to_provider = get(begun["AuthorizationUrl"].as_str().unwrap());
    let url = to_provider.header("location").unwrap();
    assert!(
        url.contains(&format!(
            "/{}/oauth2/v2.0/authorize?",
            mail["MAIL_OAUTH_TENANT"]
        )),
        "{url}"
    );
    assert!(
        url.contains("IMAP.AccessAsUser.All")
            && url.contains("SMTP.Send")
            && url.contains("offline_access"),
        "{url}"
    );

    assert_eq!(
        sign_in(&admin, &id, |u| u),
        format!("/mailboxes/{id}?oauth=signed-in")
    );
    let m = test_and_enable(&admin, &id);
    assert_eq!(
        (
            m["incomingemailstatus"].clone(),
            m["outgoingemailstatus"].clone()
        ),
        (json!(1), json!(1)),
        "{m}"
    );
    let first = m["oauthtokenexpireson"].as_str().unwrap().to_string();

    // The access token expires at the provider: the engine renews it (Entra ID gives a
    // new refresh token too, which replaces the old one) and goes on.
    mock(&mail, "/mock/expire", json!({"email": carol}));
    std::thread::sleep(Duration::from_millis(1100));
    let m = test_and_enable(&admin, &id);
    assert_eq!(m["incomingemailstatus"], 1, "{m}");
    assert_ne!(
        m["oauthtokenexpireson"].as_str().unwrap(),
        first,
        "renewed: {m}"
    );

    // Another address is another account: its sign-in is gone with the old address.
    let m = admin.json(
        "PATCH",
        &format!("mailboxes({id})"),
        json!({"emailaddress": format!("{}@{}", mail["MAIL_USER_BOB"], mail["MAIL_DOMAIN"])}),
    );
    assert_eq!(m["isoauthrefreshtokenset"], false, "{m}");
    assert_eq!(m["isoauthaccesstokenset"], false, "{m}");
    assert!(m["oauthtokenexpireson"].is_null(), "{m}");

    // A mailbox on a profile without per-mailbox OAuth has nothing to sign in to.
    let plain = profile(
        &admin,
        &mail,
        1,
        json!({"oauthclientid": "x", "oauthclientsecret": "y",
        "incomingusername": "svc", "incomingpassword": "svc-pw"}),
    );
    let other = mailbox(&admin, &me, &plain, &carol);
    let r = admin.call(
        "POST",
        &format!("mailboxes({other})/Microsoft.Dynamics.CRM.mailsync_BeginOAuthSignIn"),
        "{}",
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("nothing to sign in to"), "{}", r.body);
    let meta = request(
        server.port,
        "GET",
        &format!("{API}/$metadata"),
        &[("Authorization", &admin.bearer)],
        "",
    );
    assert!(meta
        .body
        .contains(r#"<Action Name="mailsync_BeginOAuthSignIn" IsBound="true">"#));

    // Guessing at sign-ins: an address that keeps naming unknown ones waits.
    let statuses: Vec<u16> = (0..22)
        .map(|i| {
            request(
                server.port,
                "GET",
                &format!("/_grid/cmds/dlg_gmailoauth.aspx?mailsync_signin=guess{i}"),
                &[],
                "",
            )
            .status
        })
        .collect();
    assert_eq!(statuses[0], 400);
    assert_eq!(*statuses.last().unwrap(), 429, "{statuses:?}");
}
