//! The local organization answering a Dataverse client as Dataverse does (issue 9):
//! the service document, `$metadata`, `WhoAmI()`, `EntityDefinitions`,
//! `RetrieveUserPrivileges`, `$count` stopping at 5,000 with its annotations, formatted
//! values, `$apply`, FetchXML, CORS for bearer requests, and OpenID Connect mode (bearer
//! JWTs of an issuer found through its discovery document, here a loopback issuer of
//! the test's own that signs with ES256).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::{SystemTime, UNIX_EPOCH};

use common::{request, Resp, Server, TempDir};
use serde_json::{json, Value};

const PASSWORD: &str = "dataverse test password";
const API: &str = "/api/data/v9.2";

fn login(port: u16, user: &str) -> String {
    let body = json!({"username": user, "password": PASSWORD}).to_string();
    let r = request(
        port,
        "POST",
        "/api/auth/login",
        &[("Content-Type", "application/json")],
        &body,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    format!("Bearer {}", r.json()["access_token"].as_str().unwrap())
}

fn get(port: u16, bearer: &str, path: &str, extra: &[(&str, &str)]) -> Resp {
    let mut h = vec![("Authorization", bearer)];
    h.extend_from_slice(extra);
    request(port, "GET", &format!("{API}/{path}"), &h, "")
}

#[test]
fn service_document_metadata_whoami_and_definitions() {
    let dir = TempDir::dist("dv-meta");
    let server = Server::start(dir.path(), Some("demo"), Some(PASSWORD));
    let port = server.port;
    let admin = login(port, "admin");
    // The service document lists every entity set.
    let r = request(
        port,
        "GET",
        &format!("{API}/"),
        &[("Authorization", &admin)],
        "",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let sets: Vec<String> = r.json()["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert!(sets.contains(&"mailboxes".to_string()) && sets.contains(&"tracelogs".to_string()));
    // $metadata is CSDL.
    let r = get(port, &admin, "$metadata", &[]);
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().contains("xml"));
    assert!(
        r.body.contains("<EntityType Name=\"mailbox\""),
        "{}",
        &r.body[..300]
    );
    assert!(r.body.contains("<EntitySet Name=\"mailboxes\""));
    // WhoAmI with and without its parentheses.
    for path in ["WhoAmI", "WhoAmI()"] {
        let r = get(port, &admin, path, &[]);
        assert_eq!(r.status, 200, "{path}");
        assert!(r.json()["UserId"].is_string() && r.json()["BusinessUnitId"].is_string());
    }
    // EntityDefinitions: the table, its attributes, a choice's options.
    let r = get(port, &admin, "EntityDefinitions(LogicalName='mailbox')?$select=LogicalName,EntitySetName,PrimaryNameAttribute", &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["EntitySetName"], "mailboxes");
    assert!(
        r.json().get("DisplayName").is_none(),
        "projected by $select"
    );
    let r = get(
        port,
        &admin,
        "EntityDefinitions(LogicalName='mailbox')/Attributes(LogicalName='emailrouteraccessapproval')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet",
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let options = r.json()["OptionSet"]["Options"].as_array().unwrap().clone();
    assert!(options
        .iter()
        .any(|o| o["Value"] == 1 && o["Label"]["UserLocalizedLabel"]["Label"] == "Approved"));
    let r = get(
        port,
        &admin,
        "EntityDefinitions(LogicalName='mailbox')/Attributes(LogicalName='name')",
        &[],
    );
    assert_eq!(r.json()["MaxLength"], 200);
    assert_eq!(
        get(
            port,
            &admin,
            "EntityDefinitions(LogicalName='account')",
            &[]
        )
        .status,
        404
    );

    // RetrieveUserPrivileges: what the roles allow.
    let me = who(port, &admin);
    let privileges = |bearer: &str, id: &str| privileges(port, bearer, id);
    let mine = privileges(&admin, &me);
    assert!(mine.contains(&("prvApproveRejectEmailAddress".into(), "Global".into())));
    assert!(mine.contains(&("prvWriteOrganization".into(), "Global".into())));
    let nestor = login(port, "nestor");
    let nestor_id = who(port, &nestor);
    let his = privileges(&nestor, &nestor_id);
    assert!(his.contains(&("prvWriteMailbox".into(), "Basic".into())));
    assert!(!his.iter().any(|(n, _)| n == "prvApproveRejectEmailAddress"));
    // He cannot ask about someone he cannot see.
    let r = get(
        port,
        &nestor,
        &format!("systemusers({me})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()"),
        &[],
    );
    assert_eq!(r.status, 404);
}

#[test]
fn counts_stop_at_5000_and_annotations_are_dataverse_s() {
    let dir = TempDir::dist("dv-count");
    let server = Server::start(dir.path(), Some("scale:6000"), Some(PASSWORD));
    let port = server.port;
    let admin = login(port, "admin");
    let all = r#"odata.include-annotations="*""#;
    let r = get(
        port,
        &admin,
        "mailboxes?$select=name&$count=true&$top=2",
        &[("Prefer", all)],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["@odata.count"], 5000);
    assert_eq!(v["@Microsoft.Dynamics.CRM.totalrecordcount"], 5000);
    assert_eq!(
        v["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"],
        true
    );
    let r = get(
        port,
        &admin,
        "mailboxes?$select=name&$count=true&$top=1&$filter=startswith(name,%27User%2000001%27)",
        &[("Prefer", all)],
    );
    let v = r.json();
    assert!(v["@odata.count"].as_i64().unwrap() < 5000);
    assert_eq!(
        v["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"],
        false
    );
    // Without $count the total is -1.
    let r = get(
        port,
        &admin,
        "mailboxes?$select=name&$top=1",
        &[("Prefer", all)],
    );
    assert_eq!(r.json()["@Microsoft.Dynamics.CRM.totalrecordcount"], -1);
    assert!(r.json().get("@odata.count").is_none());
    // Formatted values and lookup annotations.
    let r = get(
        port,
        &admin,
        "mailboxes?$select=emailrouteraccessapproval,enabledforincomingemail,_emailserverprofile_value&$top=1",
        &[("Prefer", all)],
    );
    let m = &r.json()["value"][0];
    assert!(
        m["emailrouteraccessapproval@OData.Community.Display.V1.FormattedValue"].is_string(),
        "{m}"
    );
    assert!(["Yes", "No"].contains(
        &m["enabledforincomingemail@OData.Community.Display.V1.FormattedValue"]
            .as_str()
            .unwrap()
    ));
    assert!(
        m["_emailserverprofile_value@OData.Community.Display.V1.FormattedValue"].is_string(),
        "{m}"
    );
    assert_eq!(
        m["_emailserverprofile_value@Microsoft.Dynamics.CRM.lookuplogicalname"],
        "emailserverprofile"
    );
    // Only what is asked for.
    let r = get(
        port,
        &admin,
        "mailboxes?$select=emailrouteraccessapproval&$top=1",
        &[(
            "Prefer",
            r#"odata.include-annotations="OData.Community.Display.V1.FormattedValue""#,
        )],
    );
    let m = &r.json()["value"][0];
    assert!(m["emailrouteraccessapproval@OData.Community.Display.V1.FormattedValue"].is_string());
    assert!(m
        .get("_emailserverprofile_value@Microsoft.Dynamics.CRM.lookuplogicalname")
        .is_none());

    // $apply: mailboxes grouped by approval, counted (every one of the 6,000).
    let r = get(
        port,
        &admin,
        "mailboxes?$apply=groupby((emailrouteraccessapproval),aggregate($count%20as%20count))",
        &[("Prefer", all)],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let groups = r.json()["value"].as_array().unwrap().clone();
    let total: i64 = groups.iter().map(|g| g["count"].as_i64().unwrap()).sum();
    assert_eq!(total, 6000, "{groups:?}");
    assert!(groups.iter().all(|g| g
        ["emailrouteraccessapproval@OData.Community.Display.V1.FormattedValue"]
        .is_string()));
    // Over 50,000 records (the alerts): Dataverse's error.
    let r = get(
        port,
        &admin,
        "tracelogs?$apply=aggregate($count%20as%20n)",
        &[],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("AggregateQueryRecordLimit exceeded"),
        "{}",
        r.body
    );
}

#[test]
fn fetchxml_queries_page_with_cookies() {
    let dir = TempDir::dist("dv-fetch");
    let server = Server::start(dir.path(), Some("demo"), Some(PASSWORD));
    let port = server.port;
    let admin = login(port, "admin");
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    let fetch = |page: u32, cookie: Option<&str>| {
        let cookie = cookie
            .map(|c| {
                format!(
                    " paging-cookie='{}'",
                    c.replace('&', "&amp;")
                        .replace('\'', "&apos;")
                        .replace('<', "&lt;")
                        .replace('>', "&gt;")
                        .replace('"', "&quot;")
                )
            })
            .unwrap_or_default();
        format!(
            "<fetch count='100' page='{page}'{cookie} returntotalrecordcount='true'><entity name='mailbox'>\
             <attribute name='name'/><attribute name='emailaddress'/><order attribute='name'/>\
             <filter type='and'><condition attribute='statecode' operator='eq' value='0'/></filter>\
             </entity></fetch>"
        )
    };
    let prefer = [("Prefer", r#"odata.include-annotations="*""#)];
    let mut names = Vec::new();
    let mut cookie: Option<String> = None;
    for page in 1..=10 {
        let r = get(
            port,
            &admin,
            &format!(
                "mailboxes?fetchXml={}",
                enc(&fetch(page, cookie.as_deref()))
            ),
            &prefer,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        names.extend(
            v["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["name"].as_str().unwrap().to_string()),
        );
        match v["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"].as_str() {
            None => {
                assert!(v.get("@Microsoft.Dynamics.CRM.morerecords").is_none());
                break;
            }
            Some(annotation) => {
                assert_eq!(v["@Microsoft.Dynamics.CRM.morerecords"], true);
                // The pagingcookie attribute, URL-decoded twice.
                let raw = annotation
                    .split("pagingcookie=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap();
                let once = percent(raw);
                cookie = Some(percent(&once));
            }
        }
    }
    // The pages joined are the OData query's rows, in its order.
    let odata = get(
        port,
        &admin,
        "mailboxes?$select=name&$filter=statecode%20eq%200&$orderby=name&$count=true",
        &[],
    );
    let expected: Vec<String> = odata.json()["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, expected);
    // A refused fetch is a 400 that says why.
    let r = get(
        port,
        &admin,
        &format!(
            "mailboxes?fetchXml={}",
            enc("<fetch><entity name='mailbox'><attribute name='nosuch'/></entity></fetch>")
        ),
        &[],
    );
    assert_eq!(r.status, 400);
}

fn percent(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 3 <= b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn cors_for_bearer_requests_and_none_for_sign_in() {
    let dir = TempDir::dist("dv-cors");
    let server = Server::start(dir.path(), Some("demo"), Some(PASSWORD));
    let port = server.port;
    let origin = "https://console.example.com";
    let preflight = request(
        port,
        "OPTIONS",
        &format!("{API}/mailboxes"),
        &[
            ("Origin", origin),
            ("Access-Control-Request-Method", "PATCH"),
            (
                "Access-Control-Request-Headers",
                "authorization,content-type,odata-version,if-match,prefer",
            ),
        ],
        "",
    );
    assert!(preflight.status < 300, "{}", preflight.status);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    let allowed = preflight
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    for h in [
        "authorization",
        "content-type",
        "odata-version",
        "if-match",
        "prefer",
    ] {
        assert!(allowed.contains(h), "{allowed}");
    }
    assert!(preflight.header("access-control-max-age").is_some());
    assert!(preflight
        .header("access-control-allow-credentials")
        .is_none());
    let admin = login(port, "admin");
    let r = get(port, &admin, "mailboxes?$top=1", &[("Origin", origin)]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let exposed = r
        .header("access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    for h in [
        "odata-entityid",
        "etag",
        "retry-after",
        "location",
        "preference-applied",
    ] {
        assert!(exposed.contains(h), "{exposed}");
    }
    // The local sign-in is not for other origins.
    let r = request(
        port,
        "OPTIONS",
        "/api/auth/login",
        &[
            ("Origin", origin),
            ("Access-Control-Request-Method", "POST"),
        ],
        "",
    );
    assert!(r.header("access-control-allow-origin").is_none());
}

/// A loopback OpenID Connect issuer: its discovery document and keys over HTTP.
struct Issuer {
    url: String,
    key: rcgen::KeyPair,
    kid: String,
}

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Issuer {
    fn start() -> Issuer {
        let key = rcgen::KeyPair::generate().unwrap(); // ECDSA P-256
        let raw = key.public_key_raw().to_vec(); // 0x04 || X || Y
        let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "test-key", "use": "sig", "alg": "ES256",
            "x": b64url(&raw[1..33]), "y": b64url(&raw[33..65])}]});
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let discovery = json!({"issuer": url, "jwks_uri": format!("{url}/keys"),
            "authorization_endpoint": format!("{url}/authorize"), "token_endpoint": format!("{url}/token")});
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                }
                let body = if line.contains("/.well-known/openid-configuration") {
                    discovery.to_string()
                } else if line.contains("/keys") {
                    jwks.to_string()
                } else {
                    "{}".to_string()
                };
                let mut s = stream;
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Issuer {
            url,
            key,
            kid: "test-key".into(),
        }
    }

    fn token(&self, claims: Value) -> String {
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": self.kid});
        let signing = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let pkcs8 = self.key.serialize_der();
        let rng = ring::rand::SystemRandom::new();
        let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &pkcs8,
            &rng,
        )
        .unwrap();
        let sig = pair.sign(&rng, signing.as_bytes()).unwrap();
        format!("{signing}.{}", b64url(sig.as_ref()))
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn openid_connect_bearer_tokens_sign_in_the_directory_user() {
    let issuer = Issuer::start();
    let audience = "https://org.example.crm.dynamics.com";
    let dir = TempDir::dist("dv-oidc");
    let server = Server::start_with(
        dir.path(),
        Some("demo"),
        Some(PASSWORD),
        &["--oidc-issuer", &issuer.url, "--oidc-audience", audience],
    );
    let port = server.port;
    let claims = |extra: Value| {
        let mut c = json!({"iss": issuer.url, "aud": audience, "exp": now() + 600, "nbf": now() - 10,
                           "iat": now(), "upn": "NESTOR@CONTOSO.COM"});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let who = |token: &str| {
        request(
            port,
            "GET",
            &format!("{API}/WhoAmI()"),
            &[("Authorization", &format!("Bearer {token}"))],
            "",
        )
    };
    // A valid token names nestor (by his sign-in name, case aside).
    let r = who(&issuer.token(claims(json!({}))));
    assert_eq!(r.status, 200, "{}", r.body);
    let nestor = r.json()["UserId"].as_str().unwrap().to_string();
    let password_nestor = login(port, "nestor");
    assert_eq!(
        get(port, &password_nestor, "WhoAmI", &[]).json()["UserId"],
        nestor.as_str(),
        "password sign-in works beside"
    );
    // By object id once the administrator recorded it (it wins over the name).
    let admin = login(port, "admin");
    let oid = "7f2d1a3c-1111-4222-8333-444455556666";
    let r = request(
        port,
        "PATCH",
        &format!("{API}/systemusers({nestor})"),
        &[
            ("Authorization", &admin),
            ("Content-Type", "application/json"),
        ],
        &json!({"azureactivedirectoryobjectid": oid}).to_string(),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let r = who(&issuer.token(claims(
        json!({"oid": oid, "upn": "someone-else@contoso.com"}),
    )));
    assert_eq!(r.json()["UserId"], nestor.as_str());
    // Refused: another audience, expired, not yet valid, another issuer, unknown user,
    // a signature by another key; each a 401 with Dataverse's challenge.
    let stranger = Issuer::start();
    for (what, token) in [
        (
            "audience",
            issuer.token(claims(json!({"aud": "https://other.crm.dynamics.com"}))),
        ),
        (
            "expired",
            issuer.token(claims(json!({"exp": now() - 3600}))),
        ),
        (
            "not yet valid",
            issuer.token(claims(json!({"nbf": now() + 3600}))),
        ),
        (
            "issuer",
            issuer.token(claims(json!({"iss": "https://evil.example"}))),
        ),
        (
            "unknown user",
            issuer.token(claims(json!({"upn": "nobody@contoso.com"}))),
        ),
        ("another key", stranger.token(claims(json!({})))),
    ] {
        let r = who(&token);
        assert_eq!(r.status, 401, "{what}: {}", r.body);
        let challenge = r.header("www-authenticate").unwrap();
        assert!(
            challenge.starts_with("Bearer authorization_uri=")
                && challenge.contains(&format!("resource_id={audience}")),
            "{challenge}"
        );
    }
    // Signed out: the same challenge.
    let r = request(port, "GET", &format!("{API}/mailboxes"), &[], "");
    assert_eq!(r.status, 401);
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains("authorization_uri="));
}

fn send(port: u16, bearer: &str, method: &str, path: &str, body: &Value) -> Resp {
    request(
        port,
        method,
        &format!("{API}/{path}"),
        &[
            ("Authorization", bearer),
            ("Content-Type", "application/json"),
        ],
        &body.to_string(),
    )
}

/// The user's privileges as `RetrieveUserPrivileges` lists them: (name, depth).
fn privileges(port: u16, bearer: &str, user: &str) -> Vec<(String, String)> {
    let r = get(
        port,
        bearer,
        &format!("systemusers({user})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()"),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["RolePrivileges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["PrivilegeName"].as_str().unwrap().to_string(),
                p["Depth"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn who(port: u16, bearer: &str) -> String {
    get(port, bearer, "WhoAmI()", &[]).json()["UserId"]
        .as_str()
        .unwrap()
        .to_string()
}

/// An owner may be a team: its members see what it owns as theirs, and hold its roles
/// (RetrieveUserPrivileges includes them; the direct role association does not).
#[test]
fn teams_own_records_and_give_their_members_their_roles() {
    let dir = TempDir::dist("dv-teams");
    let server = Server::start(dir.path(), Some("demo"), Some(PASSWORD));
    let port = server.port;
    let admin = login(port, "admin");
    let nestor = login(port, "nestor");
    let joni = login(port, "joni");
    let (nestor_id, joni_id) = (who(port, &nestor), who(port, &joni));

    // The demo's teams: Johanna holds the System Administrator role through one.
    let johanna = login(port, "johanna");
    let johanna_id = who(port, &johanna);
    assert!(privileges(port, &johanna, &johanna_id)
        .iter()
        .any(|(name, _)| name == "prvApproveRejectEmailAddress"));
    let direct = get(
        port,
        &johanna,
        &format!("systemusers({johanna_id})/systemuserroles_association"),
        &[],
    );
    assert_eq!(direct.json()["value"], json!([]), "{}", direct.body);
    let teams = get(
        port,
        &johanna,
        &format!("systemusers({johanna_id})/teammembership_association"),
        &[],
    );
    assert_eq!(
        teams.json()["value"][0]["name"],
        "Mailbox Administrators",
        "{}",
        teams.body
    );

    // A new team owns a mailbox: its member sees it, another user does not.
    let r = send(
        port,
        &admin,
        "POST",
        "teams",
        &json!({"name": "Night shift", "teamtype": 0}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let url = r.header("odata-entityid").unwrap().to_string();
    let team = url[url.rfind('(').unwrap() + 1..url.len() - 1].to_string();
    let mailbox = get(
        port,
        &admin,
        "mailboxes?$select=mailboxid&$filter=regardingobjecttypecode%20eq%20'queue'&$top=1",
        &[],
    )
    .json()["value"][0]["mailboxid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        get(port, &nestor, &format!("mailboxes({mailbox})"), &[]).status,
        404
    );
    // Only an administrator changes a team's members.
    let member = json!({"@odata.id": format!("systemusers({nestor_id})")});
    let r = send(
        port,
        &nestor,
        "POST",
        &format!("teams({team})/teammembership_association/$ref"),
        &member,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let r = send(
        port,
        &admin,
        "POST",
        &format!("teams({team})/teammembership_association/$ref"),
        &member,
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let r = send(
        port,
        &admin,
        "PATCH",
        &format!("mailboxes({mailbox})"),
        &json!({"ownerid@odata.bind": format!("/teams({team})")}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let owned = get(
        port,
        &nestor,
        &format!("mailboxes({mailbox})?$select=_ownerid_value"),
        &[("Prefer", "odata.include-annotations=\"*\"")],
    );
    assert_eq!(owned.status, 200, "{}", owned.body);
    let v = owned.json();
    assert_eq!(v["_ownerid_value"], team.as_str());
    assert_eq!(
        v["_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"],
        "team"
    );
    assert_eq!(
        v["_ownerid_value@OData.Community.Display.V1.FormattedValue"],
        "Night shift"
    );
    assert_eq!(
        get(port, &joni, &format!("mailboxes({mailbox})"), &[]).status,
        404
    );
    assert_eq!(get(port, &joni, &format!("teams({team})"), &[]).status, 404);
    let members = get(
        port,
        &admin,
        &format!("teams({team})/teammembership_association"),
        &[],
    );
    assert_eq!(
        members.json()["value"][0]["systemuserid"],
        nestor_id.as_str()
    );
    // An owner that is neither a user nor a team is refused.
    let r = send(
        port,
        &admin,
        "PATCH",
        &format!("mailboxes({mailbox})"),
        &json!({"ownerid@odata.bind": format!("/queues({joni_id})")}),
    );
    assert_eq!(r.status, 400, "{}", r.body);

    // Leaving the team: the mailbox is no longer his.
    let r = request(
        port,
        "DELETE",
        &format!("{API}/teams({team})/teammembership_association({nestor_id})/$ref"),
        &[("Authorization", &admin)],
        "",
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        get(port, &nestor, &format!("mailboxes({mailbox})"), &[]).status,
        404
    );
    // Deleting the team leaves the mailbox without an owner, not pointing nowhere.
    let r = request(
        port,
        "DELETE",
        &format!("{API}/teams({team})"),
        &[("Authorization", &admin)],
        "",
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let after = get(
        port,
        &admin,
        &format!("mailboxes({mailbox})?$select=_ownerid_value"),
        &[],
    );
    assert_eq!(after.json()["_ownerid_value"], Value::Null);
}

/// Appointments, contacts and tasks as Dataverse serves them: their own entity sets and
/// types, option values, a contact's computed full name, and each user's own records.
#[test]
fn appointments_contacts_and_tasks_are_served_as_dataverse_serves_them() {
    let dir = TempDir::dist("dv-act");
    let server = Server::start(dir.path(), Some("demo"), Some(PASSWORD));
    let port = server.port;
    let nestor = login(port, "nestor");
    let joni = login(port, "joni");

    let metadata = get(port, &nestor, "$metadata", &[]);
    for t in ["appointment", "contact", "task"] {
        assert!(
            metadata.body.contains(&format!("<EntityType Name=\"{t}\"")),
            "{t} in $metadata"
        );
    }

    let r = send(
        port,
        &nestor,
        "POST",
        "contacts",
        &json!({"firstname": "Ana", "lastname": "Bowman", "emailaddress1": "ana@fabrikam.com"}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let url = r.header("odata-entityid").unwrap().to_string();
    let contact = url[url.rfind('(').unwrap() + 1..url.len() - 1].to_string();
    let c = get(
        port,
        &nestor,
        &format!("contacts({contact})?$select=fullname,statecode,statuscode"),
        &[("Prefer", "odata.include-annotations=\"*\"")],
    )
    .json();
    assert_eq!(c["fullname"], "Ana Bowman");
    assert_eq!(c["statecode"], 0);
    assert_eq!(c["statuscode"], 1);
    assert_eq!(
        c["statuscode@OData.Community.Display.V1.FormattedValue"],
        "Active"
    );
    let r = send(
        port,
        &nestor,
        "PATCH",
        &format!("contacts({contact})"),
        &json!({"middlename": "K."}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        get(
            port,
            &nestor,
            &format!("contacts({contact})?$select=fullname"),
            &[]
        )
        .json()["fullname"],
        "Ana K. Bowman"
    );
    // A contact needs its last name.
    let r = send(
        port,
        &nestor,
        "POST",
        "contacts",
        &json!({"firstname": "Only"}),
    );
    assert_eq!(r.status, 400, "{}", r.body);

    // An appointment and a task, with Dataverse's option values.
    let r = send(
        port,
        &nestor,
        "POST",
        "appointments",
        &json!({"subject": "Quarterly review", "location": "Room 1",
                "scheduledstart": "2026-12-08T09:00:00Z", "scheduledend": "2026-12-08T10:00:00Z"}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let a = get(
        port,
        &nestor,
        "appointments?$select=subject,statecode,statuscode&$filter=subject%20eq%20'Quarterly%20review'",
        &[],
    )
    .json();
    assert_eq!(a["value"][0]["statecode"], 3, "Scheduled");
    assert_eq!(a["value"][0]["statuscode"], 5, "Busy");
    let r = send(
        port,
        &nestor,
        "POST",
        "tasks",
        &json!({"subject": "Call Ana", "statuscode": 9}),
    );
    assert_eq!(r.status, 400, "not a task status: {}", r.body);
    let r = send(
        port,
        &nestor,
        "POST",
        "tasks",
        &json!({"subject": "Call Ana", "statuscode": 3, "percentcomplete": 20}),
    );
    assert_eq!(r.status, 204, "{}", r.body);

    // Each user's own: Joni sees none of Nestor's, and may not give him one.
    let theirs = get(port, &joni, "contacts?$select=fullname", &[]).json();
    assert!(
        theirs["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["fullname"] != "Ana K. Bowman"),
        "{theirs}"
    );
    assert_eq!(
        get(port, &joni, &format!("contacts({contact})"), &[]).status,
        404
    );
    let r = send(
        port,
        &joni,
        "POST",
        "tasks",
        &json!({"subject": "For Nestor", "ownerid@odata.bind": format!("/systemusers({})", who(port, &nestor))}),
    );
    assert_eq!(r.status, 403, "{}", r.body);
}

/// An appointment's parties are written with it (`appointment_activity_parties`, deep
/// insert; an update naming them replaces them) and read as `activityparties`
/// (RetrieveMultiple only), through the appointment's privileges.
#[test]
fn appointment_parties_are_written_with_it_and_read_as_activityparties() {
    let dir = TempDir::dist("dv-parties");
    let server = Server::start(dir.path(), Some("demo"), Some(PASSWORD));
    let port = server.port;
    let nestor = login(port, "nestor");
    let joni = login(port, "joni");
    let (nestor_id, joni_id) = (who(port, &nestor), who(port, &joni));
    let r = send(
        port,
        &nestor,
        "POST",
        "appointments",
        &json!({
            "subject": "Roadmap review",
            "scheduledstart": "2031-05-01T09:00:00Z",
            "scheduledend": "2031-05-01T10:00:00Z",
            "appointment_activity_parties": [
                {"partyid_systemuser@odata.bind": format!("/systemusers({nestor_id})"), "participationtypemask": 7},
                {"partyid_systemuser@odata.bind": format!("/systemusers({joni_id})"), "participationtypemask": 5},
                {"addressused": "guest@fabrikam.test", "participationtypemask": 6}
            ]
        }),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let url = r.header("odata-entityid").unwrap().to_string();
    let id = url[url.rfind('(').unwrap() + 1..url.len() - 1].to_string();
    let parties = |bearer: &str| -> Vec<Value> {
        let r = get(
            port,
            bearer,
            &format!(
                "activityparties?$filter=_activityid_value%20eq%20{id}&$select=participationtypemask,addressused,_partyid_value&$orderby=participationtypemask%20desc"
            ),
            &[("Prefer", "odata.include-annotations=\"*\"")],
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["value"].as_array().unwrap().clone()
    };
    let seen = parties(&nestor);
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[0]["participationtypemask"], 7);
    assert_eq!(
        seen[0]["participationtypemask@OData.Community.Display.V1.FormattedValue"],
        "Organizer"
    );
    assert_eq!(seen[0]["_partyid_value"], nestor_id.as_str());
    assert_eq!(seen[1]["addressused"], "guest@fabrikam.test");
    assert!(seen[1]["_partyid_value"].is_null());
    assert_eq!(seen[2]["_partyid_value"], joni_id.as_str());
    // Joni, an attendee without a role, does not read Nestor's appointment, nor its parties.
    assert!(parties(&joni).is_empty());

    // The same parties through $expand ("Join tables using OData"), with the
    // expansion's own $select, $filter, $orderby and $top, the lookup back included.
    let r = get(
        port,
        &nestor,
        &format!(
            "appointments({id})?$select=subject&$expand=appointment_activity_parties($select=participationtypemask,addressused;$filter=participationtypemask%20ne%206;$orderby=participationtypemask%20desc;$top=5)"
        ),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let a = r.json();
    assert!(a["@odata.context"].as_str().unwrap().ends_with(
        "$metadata#appointments(subject,activityid,appointment_activity_parties(participationtypemask,addressused,activitypartyid,_activityid_value))/$entity"
    ), "{a}");
    let expanded = a["appointment_activity_parties"].as_array().unwrap();
    assert_eq!(expanded.len(), 2, "{a}");
    assert_eq!(expanded[0]["participationtypemask"], 7);
    assert_eq!(expanded[0]["_activityid_value"], id.as_str());
    assert!(expanded[0]["@odata.etag"].is_string());
    assert_eq!(expanded[1]["participationtypemask"], 5);
    // In a collection, per appointment, with $top per appointment; a lookup expands to
    // its record (no etag) or null.
    let r = get(
        port,
        &nestor,
        &format!(
            "appointments?$select=subject&$filter=activityid%20eq%20{id}&$expand=appointment_activity_parties($select=addressused;$top=1),ownerid($select=fullname)"
        ),
        &[],
    );
    assert_eq!(
        r.status, 400,
        "ownerid is a principal, not expandable here: {}",
        r.body
    );
    let r = get(
        port,
        &nestor,
        &format!(
            "appointments?$select=subject&$filter=activityid%20eq%20{id}&$expand=appointment_activity_parties($select=addressused;$top=1)"
        ),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["value"][0]["appointment_activity_parties"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = get(
        port,
        &nestor,
        "mailboxes?$select=name&$top=2&$expand=emailserverprofile($select=name),regardingobjectid($select=fullname)",
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let mailboxes = r.json()["value"].as_array().unwrap().clone();
    assert!(!mailboxes.is_empty(), "Nestor's own mailbox");
    for m in &mailboxes {
        assert!(
            m["emailserverprofile"].is_null() || m["emailserverprofile"]["name"].is_string(),
            "{m}"
        );
        assert!(m["emailserverprofile"].get("@odata.etag").is_none(), "{m}");
        assert_eq!(
            m["regardingobjectid"]["systemuserid"],
            nestor_id.as_str(),
            "{m}"
        );
        assert!(m["regardingobjectid"]["fullname"].is_string(), "{m}");
    }
    // Joni expands Nestor's appointment to nothing: she does not read it.
    let r = get(
        port,
        &joni,
        &format!("appointments({id})?$expand=appointment_activity_parties"),
        &[],
    );
    assert_eq!(r.status, 404, "{}", r.body);
    let r = get(
        port,
        &nestor,
        "mailboxes?$expand=emailserverprofile($expand=ownerid)",
        &[],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("Nested $expand"), "{}", r.body);

    // An update naming the parties replaces them.
    let r = send(
        port,
        &nestor,
        "PATCH",
        &format!("appointments({id})"),
        &json!({"appointment_activity_parties": [
            {"partyid_systemuser@odata.bind": format!("/systemusers({nestor_id})"), "participationtypemask": 7}
        ]}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(parties(&nestor).len(), 1);

    // Refused: two organizers, a user that does not exist, a party type an appointment
    // does not have, and writing activity parties on their own.
    for (body, status) in [
        (
            json!({"subject": "x", "appointment_activity_parties": [
                {"addressused": "a@fabrikam.test", "participationtypemask": 7},
                {"addressused": "b@fabrikam.test", "participationtypemask": 7}]}),
            400,
        ),
        (
            json!({"subject": "x", "appointment_activity_parties": [
                {"partyid_systemuser@odata.bind": "/systemusers(00000000-0000-4000-8000-0000000000ff)", "participationtypemask": 5}]}),
            404,
        ),
        (
            json!({"subject": "x", "appointment_activity_parties": [
                {"addressused": "a@fabrikam.test", "participationtypemask": 1}]}),
            400,
        ),
    ] {
        let r = send(port, &nestor, "POST", "appointments", &body);
        assert_eq!(r.status, status, "{body}: {}", r.body);
    }
    // Only an administrator makes another user the organizer (that user's mailbox would
    // send the meeting); anyone invites others as attendees.
    let r = send(
        port,
        &nestor,
        "POST",
        "appointments",
        &json!({"subject": "In Joni's name", "appointment_activity_parties": [
            {"partyid_systemuser@odata.bind": format!("/systemusers({joni_id})"), "participationtypemask": 7}]}),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let admin = login(port, "admin");
    let r = send(
        port,
        &admin,
        "POST",
        "appointments",
        &json!({"subject": "Joni's, made by an administrator",
                "ownerid@odata.bind": format!("/systemusers({joni_id})"),
                "appointment_activity_parties": [
            {"partyid_systemuser@odata.bind": format!("/systemusers({joni_id})"), "participationtypemask": 7}]}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let r = send(
        port,
        &nestor,
        "POST",
        "activityparties",
        &json!({"addressused": "a@fabrikam.test", "participationtypemask": 5}),
    );
    assert_eq!(r.status, 405, "{}", r.body);
    // Nothing of the refused creates was kept.
    let subjects = get(
        port,
        &nestor,
        "appointments?$filter=subject%20eq%20'x'",
        &[],
    )
    .json();
    assert_eq!(subjects["value"].as_array().unwrap().len(), 0);

    // The appointment's parties go with it.
    let r = request(
        port,
        "DELETE",
        &format!("{API}/appointments({id})"),
        &[("Authorization", &nestor)],
        "",
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(parties(&nestor).is_empty());
}
