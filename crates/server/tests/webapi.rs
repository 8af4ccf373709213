//! The Web API's entity routes against the real binary: `mailsync serve --db <temp>
//! --seed demo`, signed in as the demo users (admin: System + Global Administrator;
//! megan: System Administrator only; alex: Exchange Administrator; nestor: no role).

mod common;

use common::{request, Resp, Server, TempDir};
use serde_json::{json, Value};

const PASSWORD: &str = "webapi test password";
const API: &str = "/api/data/v9.2";

struct Org {
    server: Server,
    dir: TempDir,
}

impl Org {
    fn start(tag: &str) -> Org {
        let dir = TempDir::dist(tag);
        let server = Server::start(dir.path(), Some("demo"), Some(PASSWORD));
        Org { server, dir }
    }

    fn port(&self) -> u16 {
        self.server.port
    }

    /// `secret` appears in none of the organization's files (database, WAL, key).
    fn assert_not_stored(&self, secret: &str) {
        let key = self.dir.path().join("org.sqlite.key");
        assert_eq!(
            std::fs::read(&key).map(|k| k.len()).ok(),
            Some(32),
            "{key:?}"
        );
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "{secret} stored in clear in {path:?}");
        }
    }

    fn login(&self, user: &str) -> User {
        let body = json!({"username": user, "password": PASSWORD}).to_string();
        let r = request(
            self.port(),
            "POST",
            "/api/auth/login",
            &[("Content-Type", "application/json")],
            &body,
        );
        assert_eq!(r.status, 200, "{user}: {}", r.body);
        let token = r.json()["access_token"].as_str().unwrap().to_string();
        let who = request(
            self.port(),
            "GET",
            &format!("{API}/WhoAmI"),
            &[("Authorization", &format!("Bearer {token}"))],
            "",
        );
        User {
            port: self.port(),
            bearer: format!("Bearer {token}"),
            id: who.json()["UserId"].as_str().unwrap().to_string(),
        }
    }
}

struct User {
    port: u16,
    bearer: String,
    id: String,
}

/// Spaces and quotes of a readable query, percent-encoded.
fn enc(path: &str) -> String {
    path.replace(' ', "%20").replace('\'', "%27")
}

impl User {
    fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
        let mut h = vec![
            ("Authorization", self.bearer.as_str()),
            ("Content-Type", "application/json"),
        ];
        h.extend_from_slice(headers);
        let path = if path.starts_with("/api") {
            path.to_string()
        } else {
            format!("{API}/{path}")
        };
        request(self.port, method, &enc(&path), &h, body)
    }

    fn get(&self, path: &str) -> Value {
        let r = self.call("GET", path, &[], "");
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        r.json()
    }

    fn patch(&self, path: &str, body: Value) -> Resp {
        self.call("PATCH", path, &[], &body.to_string())
    }

    /// Follows `@odata.nextLink` to the end; every record of every page.
    fn all_pages(&self, path: &str, page: u32) -> (Vec<Value>, usize) {
        let prefer = format!("odata.maxpagesize={page}");
        let mut out = Vec::new();
        let mut pages = 0;
        let mut next = Some(path.to_string());
        while let Some(p) = next.take() {
            let r = self.call("GET", &p, &[("Prefer", &prefer)], "");
            assert_eq!(r.status, 200, "{p}: {}", r.body);
            assert_eq!(r.header("preference-applied"), Some(prefer.as_str()));
            let v = r.json();
            let rows = v["value"].as_array().unwrap();
            assert!(rows.len() <= page as usize);
            out.extend(rows.iter().cloned());
            pages += 1;
            if let Some(link) = v["@odata.nextLink"].as_str() {
                assert!(link.starts_with("http://127.0.0.1:"), "{link}");
                assert!(link.contains("$skiptoken="), "{link}");
                let at = link.find("/api/").unwrap();
                next = Some(link[at..].to_string());
            }
        }
        (out, pages)
    }
}

fn ids(rows: &[Value], key: &str) -> Vec<String> {
    rows.iter()
        .map(|r| r[key].as_str().unwrap().to_string())
        .collect()
}

/// The id of the demo's Exchange Online profile and of its IMAP/SMTP profile.
fn profiles(admin: &User) -> (String, String) {
    let v = admin.get("emailserverprofiles?$select=name,servertype,incomingcredentialretrieval");
    let find = |pred: &dyn Fn(&Value) -> bool| {
        v["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| pred(p))
            .map(|p| p["emailserverprofileid"].as_str().unwrap().to_string())
            .unwrap()
    };
    (
        find(&|p| p["servertype"] == 0 && p["incomingcredentialretrieval"] == 2),
        find(&|p| p["servertype"] == 4),
    )
}

#[test]
fn queries_paging_and_reading() {
    let org = Org::start("webapi-read");
    let admin = org.login("admin");

    // $count, and every record with its ETag and lookups as _x_value.
    let all = admin.get("mailboxes?$count=true");
    let total = all["@odata.count"].as_u64().unwrap() as usize;
    assert!(total >= 250, "{total}");
    let rows = all["value"].as_array().unwrap();
    assert_eq!(rows.len(), total);
    assert!(all["@odata.nextLink"].is_null());
    assert!(all["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("/api/data/v9.2/$metadata#mailboxes"));
    for r in rows {
        assert!(
            r["@odata.etag"].as_str().unwrap().starts_with("W/\""),
            "{r}"
        );
        assert!(r.get("_emailserverprofile_value").is_some(), "{r}");
        assert!(r.get("emailserverprofile").is_none());
        assert!(r.get("password").is_none(), "write-only returned: {r}");
    }

    // Filter + several order keys + paging: the pages joined are the one big query.
    let query = "mailboxes?$select=name,emailaddress,emailrouteraccessapproval&$filter=(emailrouteraccessapproval eq 1 or emailrouteraccessapproval eq 2) and not contains(name,'zzz')&$orderby=emailrouteraccessapproval desc,name&$count=true";
    let (paged, pages) = admin.all_pages(query, 17);
    let (one, one_pages) = admin.all_pages(query, 5000);
    assert_eq!(one_pages, 1);
    assert!(pages > 3, "{pages} pages");
    assert_eq!(ids(&paged, "mailboxid"), ids(&one, "mailboxid"));
    assert!(paged
        .iter()
        .all(|r| matches!(r["emailrouteraccessapproval"].as_i64(), Some(1 | 2))));
    let approvals: Vec<i64> = paged
        .iter()
        .map(|r| r["emailrouteraccessapproval"].as_i64().unwrap())
        .collect();
    assert!(approvals.windows(2).all(|w| w[0] >= w[1]));
    let first = admin.call("GET", query, &[("Prefer", "odata.maxpagesize=17")], "");
    let v = first.json();
    assert_eq!(v["@odata.count"].as_u64().unwrap() as usize, one.len());
    assert!(v["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("$metadata#mailboxes(name,emailaddress,emailrouteraccessapproval,mailboxid)"));
    // $select: only those, the key and the ETag.
    let keys: Vec<&String> = v["value"][0].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 5, "{keys:?}");

    // $top is one page, no nextLink.
    let top = admin.call(
        "GET",
        "mailboxes?$top=5",
        &[("Prefer", "odata.maxpagesize=2")],
        "",
    );
    assert_eq!(top.json()["value"].as_array().unwrap().len(), 5);
    assert!(top.json()["@odata.nextLink"].is_null());

    // Lookups filter as _x_value.
    let (exo, _imap) = profiles(&admin);
    let on_exo = admin.get(&format!(
        "mailboxes?$select=name,_emailserverprofile_value&$filter=_emailserverprofile_value eq {exo}&$count=true"
    ));
    assert!(on_exo["@odata.count"].as_u64().unwrap() > 50);
    assert!(on_exo["value"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["_emailserverprofile_value"] == exo.as_str()));

    // Write-only columns are never returned, selected or filtered.
    let profiles_body = admin.call("GET", "emailserverprofiles", &[], "").body;
    assert!(!profiles_body.contains("password"), "{profiles_body}");
    assert!(!profiles_body.contains("demo-only"), "{profiles_body}");
    assert!(!profiles_body.contains("\"oauthclientsecret\""));
    // Only whether there is one (`isoauthclientsecretset`, as Dataverse has it).
    assert!(profiles_body.contains("\"isoauthclientsecretset\""));
    let mailboxes_body = admin.call("GET", "mailboxes?$top=5", &[], "").body;
    for secret in [
        "\"password\"",
        "\"oauthrefreshtoken\"",
        "\"oauthaccesstoken\"",
    ] {
        assert!(
            !mailboxes_body.contains(secret),
            "{secret}: {mailboxes_body}"
        );
    }
    let with_password = admin
        .call(
            "GET",
            "mailboxes?$select=name,ispasswordset&$filter=ispasswordset eq true&$top=1",
            &[],
            "",
        )
        .json();
    assert_eq!(
        with_password["value"][0]["ispasswordset"], true,
        "{with_password}"
    );
    for bad in [
        "emailserverprofiles?$select=incomingpassword",
        "emailserverprofiles?$filter=incomingpassword eq 'x'",
        "mailboxes?$orderby=password",
    ] {
        let r = admin.call("GET", bad, &[], "");
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert_eq!(r.error_code(), "0x80060888");
    }

    // Bad options are 400s that say what is wrong.
    for (bad, says) in [
        ("mailboxes?$filter=foo eq 1", "'foo'"),
        ("mailboxes?$filter=name eq", "name eq"),
        ("mailboxes?$select=name,nosuch", "'nosuch'"),
        ("mailboxes?$orderby=name sideways", "sideways"),
        ("mailboxes?$top=0", "$top"),
        ("mailboxes?$count=maybe", "maybe"),
        ("mailboxes?$skiptoken=garbage", "$skiptoken"),
        ("mailboxes?$expand=x", "navigation property named 'x'"),
        (
            "mailboxes?$filter=emailrouteraccessapproval eq 'Approved'",
            "Edm.Int32",
        ),
    ] {
        let r = admin.call("GET", bad, &[], "");
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert_eq!(r.error_code(), "0x80060888", "{bad}");
        let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(msg.contains(says), "{bad}: {msg}");
    }
    let r = admin.call("GET", "mailboxes", &[("Prefer", "odata.maxpagesize=0")], "");
    assert_eq!(r.status, 400);

    // One record, $select, 404s.
    let id = rows[0]["mailboxid"].as_str().unwrap();
    let one = admin.call("GET", &format!("mailboxes({id})?$select=name"), &[], "");
    assert_eq!(one.status, 200);
    let v = one.json();
    assert_eq!(v["mailboxid"], id);
    assert!(v["name"].is_string());
    assert!(v.get("emailaddress").is_none());
    assert!(v["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("$metadata#mailboxes(name,mailboxid)/$entity"));
    assert_eq!(one.header("etag"), v["@odata.etag"].as_str());
    let missing = admin.call(
        "GET",
        "mailboxes(00000000-0000-4000-8000-000000000999)",
        &[],
        "",
    );
    assert_eq!(missing.status, 404);
    assert_eq!(missing.error_code(), "0x80040217");
    assert!(missing.body.contains("Does Not Exist"));
    for path in ["accounts", "mailboxes(nope)", "mailboxes(1)/x"] {
        let r = admin.call("GET", path, &[], "");
        assert!(r.status == 404 || r.status == 400, "{path}: {}", r.status);
        r.error_code();
    }

    // A plain user sees their own mailboxes and alerts only.
    let nestor = org.login("nestor");
    let mine = nestor.get("mailboxes?$count=true");
    let mine_rows = mine["value"].as_array().unwrap();
    assert!(!mine_rows.is_empty());
    assert!(mine_rows.len() < 5);
    for r in mine_rows {
        assert!(
            r["_regardingobjectid_value"] == nestor.id.as_str()
                || r["_ownerid_value"] == nestor.id.as_str(),
            "{r}"
        );
    }
    let theirs = admin.get(&format!(
        "mailboxes?$select=name&$filter=_regardingobjectid_value ne {} and _ownerid_value ne {}&$top=1",
        nestor.id, nestor.id
    ));
    let other = theirs["value"][0]["mailboxid"].as_str().unwrap();
    let r = nestor.call("GET", &format!("mailboxes({other})"), &[], "");
    assert_eq!(r.status, 404);
    // Nestor's wall is exactly: alerts on his mailboxes, on the profiles of his
    // mailboxes or that he owns, and on his mailboxes' emails; computed here from the
    // administrator's reads.
    let my_ids = ids(mine_rows, "mailboxid");
    let of_nestor = admin.get(&format!(
        "mailboxes?$select=_emailserverprofile_value&$filter=_regardingobjectid_value eq {0} or _ownerid_value eq {0}",
        nestor.id
    ));
    assert_eq!(
        ids(of_nestor["value"].as_array().unwrap(), "mailboxid"),
        my_ids
    );
    let mut regarding: std::collections::BTreeSet<String> = my_ids.iter().cloned().collect();
    let on_profile = of_nestor["value"][0]["_emailserverprofile_value"]
        .as_str()
        .unwrap()
        .to_string();
    // Not the profiles his mailboxes use: a profile's alerts name other people's
    // mailboxes; the engine tells him about his own on his mailbox.
    let owned = admin.get(&format!(
        "emailserverprofiles?$select=name&$filter=_ownerid_value eq {}",
        nestor.id
    ));
    regarding.extend(ids(
        owned["value"].as_array().unwrap(),
        "emailserverprofileid",
    ));
    for m in &my_ids {
        let emails = admin.get(&format!(
            "emails?$select=subject&$filter=_sendermailboxid_value eq {m} or _receivingmailboxid_value eq {m}"
        ));
        regarding.extend(ids(emails["value"].as_array().unwrap(), "activityid"));
    }
    // A profile-level alert on the profile of his mailbox (a profile he does not own):
    // not on his wall.
    let profile_owner = admin.get(&format!("emailserverprofiles({on_profile})"));
    assert_ne!(profile_owner["_ownerid_value"], nestor.id.as_str());
    let r = admin.call(
        "POST",
        "tracelogs",
        &[],
        &json!({"level": 3, "tracecode": 7, "text": "Profile-level alert",
                "regardingobjectid_emailserverprofile@odata.bind":
                    format!("/emailserverprofiles({on_profile})")})
        .to_string(),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let profile_alert = r.header("odata-entityid").unwrap().to_string();
    let (every, _) = admin.all_pages("tracelogs?$select=text,_regardingobjectid_value", 5000);
    let expected: std::collections::BTreeSet<String> = every
        .iter()
        .filter(|a| {
            a["_regardingobjectid_value"]
                .as_str()
                .is_some_and(|r| regarding.contains(r))
        })
        .map(|a| a["tracelogid"].as_str().unwrap().to_string())
        .collect();
    let (walls, _) = nestor.all_pages("tracelogs?$select=text", 5000);
    let wall: std::collections::BTreeSet<String> = ids(&walls, "tracelogid").into_iter().collect();
    assert_eq!(wall, expected);
    assert!(!wall.iter().any(|id| profile_alert.contains(id.as_str())));
    assert!(wall.len() < every.len());
    assert_eq!(
        nestor.get("tracelogs?$count=true&$top=1")["@odata.count"],
        wall.len()
    );

    // Download Mailbox Details: the analyzer reads back the stored facts.
    let failing = admin.get("mailboxes?$filter=lastsyncerrorcount gt 0 and postponemailboxprocessinguntil ne null&$top=1");
    let m = &failing["value"][0];
    let id = m["mailboxid"].as_str().unwrap();
    let r = admin.call(
        "GET",
        &format!("mailboxes({id})/Microsoft.Dynamics.CRM.DownloadMailboxDetails()"),
        &[],
        "",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    assert!(
        r.body.starts_with("Mailbox Async Processing State"),
        "{}",
        r.body
    );
    let report = mailsync_core::analyze("details.log", r.body.as_bytes(), None);
    assert_eq!(report.mailbox_id.as_deref(), Some(id));
    assert_eq!(
        report.next_sync_at.as_deref(),
        m["postponemailboxprocessinguntil"].as_str()
    );
    assert_eq!(
        report.directions.incoming.enabled,
        m["enabledforincomingemail"].as_bool()
    );
    assert_eq!(
        report.directions.outgoing.enabled,
        m["enabledforoutgoingemail"].as_bool()
    );
    assert_eq!(report.directions.act.enabled, m["enabledforact"].as_bool());
    assert_eq!(
        report.last_sync.error_count,
        m["lastsyncerrorcount"].as_i64()
    );
    assert_eq!(
        report.last_sync.error.as_deref(),
        m["lastsyncerror"].as_str()
    );
    assert_eq!(
        report.directions.act.method,
        m["actdeliverymethod"].as_i64().map(|v| v as i32)
    );
    assert!(!report.traces.is_empty());
    // Someone else's mailbox is not there for a plain user.
    let r = nestor.call(
        "GET",
        &format!("mailboxes({id})/Microsoft.Dynamics.CRM.DownloadMailboxDetails()"),
        &[],
        "",
    );
    assert_eq!(r.status, 404);
}

#[test]
fn writes_etags_and_rules() {
    let org = Org::start("webapi-write");
    let admin = org.login("admin");
    let (exo, imap) = profiles(&admin);

    // POST with @odata.bind; 201 and OData-EntityId; write-only never returned.
    let body = json!({
        "name": "Test mailbox",
        "emailaddress": "test.mailbox@contoso.com",
        "password": "very-secret-value",
        "incomingemaildeliverymethod": 2,
        "emailserverprofile@odata.bind": format!("/emailserverprofiles({imap})"),
        "ownerid@odata.bind": format!("/systemusers({})", admin.id),
    });
    let r = admin.call("POST", "mailboxes", &[], &body.to_string());
    assert_eq!(r.status, 204, "{}", r.body);
    let url = r.header("odata-entityid").unwrap().to_string();
    let id = url
        .rsplit_once('(')
        .unwrap()
        .1
        .trim_end_matches(')')
        .to_string();
    let m = admin.get(&format!("mailboxes({id})"));
    assert_eq!(m["name"], "Test mailbox");
    assert_eq!(m["_emailserverprofile_value"], imap.as_str());
    assert_eq!(m["_ownerid_value"], admin.id.as_str());
    let raw = admin.call("GET", &format!("mailboxes({id})"), &[], "").body;
    assert!(!raw.contains("very-secret-value") && !raw.contains("\"password\""));
    let found = admin.get("mailboxes?$filter=name eq 'Test mailbox'&$select=name");
    assert_eq!(found["value"].as_array().unwrap().len(), 1);
    // Nor is it in the database's files: it is sealed under the key beside them.
    org.assert_not_stored("very-secret-value");
    let r = admin.call(
        "PATCH",
        &format!("mailboxes({id})"),
        &[],
        &json!({"password": "another-secret-value"}).to_string(),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    org.assert_not_stored("another-secret-value");
    let m = admin.get(&format!("mailboxes({id})"));

    // Bad bodies: 400 saying what is wrong, nothing created.
    for (bad, says) in [
        (json!({"name": "x", "nosuch": 1}), "nosuch"),
        (json!({"name": 5}), "Edm.String"),
        (json!({"name": "x", "mailboxstatus": 1}), "read-only"),
        (
            json!({"name": "x", "_ownerid_value": admin.id}),
            "odata.bind",
        ),
        (
            json!({"name": "x", "emailserverprofile@odata.bind": "/queues(00000000-0000-4000-8000-000000000001)"}),
            "cannot refer",
        ),
        (json!({"emailaddress": "no name"}), "name"),
    ] {
        let r = admin.call("POST", "mailboxes", &[], &bad.to_string());
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert_eq!(r.error_code(), "0x80040203");
        assert!(r.body.contains(says), "{bad}: {}", r.body);
    }
    for malformed in ["{", "", "[1]", "{\"name\": }"] {
        let r = admin.call("POST", "mailboxes", &[], malformed);
        assert_eq!(r.status, 400, "{malformed:?}");
        r.error_code();
        let r = admin.call("PATCH", &format!("mailboxes({id})"), &[], malformed);
        assert_eq!(r.status, 400, "{malformed:?}");
    }
    // A bound record that does not exist is refused, lookups to several tables too.
    let r = admin.call(
        "POST",
        "mailboxes",
        &[],
        &json!({"name": "x", "emailserverprofile@odata.bind": "/emailserverprofiles(00000000-0000-4000-8000-000000000777)"}).to_string(),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("Does Not Exist"), "{}", r.body);
    let r = admin.call(
        "POST",
        "mailboxes",
        &[],
        &json!({"name": "x", "regardingobjectid_queue@odata.bind": "/queues(00000000-0000-4000-8000-000000000777)"}).to_string(),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("queue With Id"), "{}", r.body);

    // ETags: a stale If-Match is 412 and changes nothing; the current one and * work.
    let etag = m["@odata.etag"].as_str().unwrap().to_string();
    let r = admin.call(
        "PATCH",
        &format!("mailboxes({id})"),
        &[("If-Match", &etag)],
        &json!({"name": "Renamed"}).to_string(),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let after = admin.get(&format!("mailboxes({id})"));
    assert_eq!(after["name"], "Renamed");
    assert_ne!(after["@odata.etag"], etag.as_str());
    let r = admin.call(
        "PATCH",
        &format!("mailboxes({id})"),
        &[("If-Match", &etag)],
        &json!({"name": "Stale write"}).to_string(),
    );
    assert_eq!(r.status, 412, "{}", r.body);
    assert_eq!(r.error_code(), "0x80060882");
    let unchanged = admin.get(&format!("mailboxes({id})"));
    assert_eq!(unchanged["name"], "Renamed");
    assert_eq!(unchanged["@odata.etag"], after["@odata.etag"]);
    let r = admin.call(
        "PATCH",
        &format!("mailboxes({id})"),
        &[("If-Match", "*"), ("Prefer", "return=representation")],
        &json!({"name": "Star"}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["name"], "Star");
    assert!(r.header("odata-entityid").is_some());

    // Test & Enable: scheduled, options kept, never marked as run.
    let r = admin.patch(
        &format!("mailboxes({id})"),
        json!({"testemailconfigurationscheduled": true,
               "orgmarkedasprimaryforexchangesync": true,
               "processemailreceivedafter": "2026-01-01T00:00:00Z"}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let t = admin.get(&format!("mailboxes({id})"));
    assert_eq!(t["testemailconfigurationscheduled"], true);
    assert_eq!(t["orgmarkedasprimaryforexchangesync"], true);
    assert_eq!(t["processemailreceivedafter"], "2026-01-01T00:00:00Z");
    assert!(t["testmailboxaccesscompletedon"].is_null());
    assert_eq!(t["incomingemailstatus"], 0);

    // Approval on an Exchange Online mailbox: megan (System Administrator only) is
    // accepted, as Dataverse accepts it, but not as a Microsoft 365 administrator's;
    // alex's (Exchange Administrator) is.
    let megan = org.login("megan");
    let alex = org.login("alex");
    let nestor = org.login("nestor");
    let pending = admin.get(&format!(
        "mailboxes?$filter=_emailserverprofile_value eq {exo} and emailrouteraccessapproval ne 1 and regardingobjecttypecode eq 'systemuser'&$top=1"
    ));
    let target = pending["value"][0].clone();
    let tid = target["mailboxid"].as_str().unwrap().to_string();
    let r = megan.patch(
        &format!("mailboxes({tid})"),
        json!({"emailrouteraccessapproval": 1}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let by_megan = admin.get(&format!("mailboxes({tid})"));
    assert_eq!(by_megan["emailrouteraccessapproval"], 1);
    assert_eq!(by_megan["isemailaddressapprovedbyo365admin"], false);
    assert_ne!(by_megan["@odata.etag"], target["@odata.etag"]);
    let r = admin.patch(
        &format!("mailboxes({tid})"),
        json!({"emailrouteraccessapproval": 2}),
    );
    assert_eq!(r.status, 204);
    let r = alex.patch(
        &format!("mailboxes({tid})"),
        json!({"emailrouteraccessapproval": 1}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let approved = admin.get(&format!("mailboxes({tid})"));
    assert_eq!(approved["emailrouteraccessapproval"], 1);
    assert_eq!(approved["isemailaddressapprovedbyo365admin"], true);
    let owner = approved["_regardingobjectid_value"].as_str().unwrap();
    let user = admin.get(&format!("systemusers({owner})"));
    assert_eq!(user["emailrouteraccessapproval"], 1);
    // Reject is mirrored too.
    let r = alex.patch(
        &format!("mailboxes({tid})"),
        json!({"emailrouteraccessapproval": 3}),
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        admin.get(&format!("systemusers({owner})"))["emailrouteraccessapproval"],
        3
    );
    // megan may approve a mailbox that is not on Exchange Online; nestor may not at all.
    let r = megan.patch(
        &format!("mailboxes({id})"),
        json!({"emailrouteraccessapproval": 1}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        admin.get(&format!("mailboxes({id})"))["emailrouteraccessapproval"],
        1
    );
    let own = nestor.get("mailboxes?$top=1");
    let own_id = own["value"][0]["mailboxid"].as_str().unwrap().to_string();
    let own_approval = own["value"][0]["emailrouteraccessapproval"]
        .as_i64()
        .unwrap();
    let r = nestor.patch(
        &format!("mailboxes({own_id})"),
        json!({"emailrouteraccessapproval": if own_approval == 1 { 3 } else { 1 }}),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.error_code(), "0x80040220");
    // ... but may change their own mailbox's credentials, not its settings, and nobody
    // else's mailbox.
    let r = nestor.patch(
        &format!("mailboxes({own_id})"),
        json!({"username": "nestor@contoso.com"}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let r = nestor.patch(
        &format!("mailboxes({own_id})"),
        json!({"processanddeleteemails": true}),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let r = nestor.patch(&format!("mailboxes({tid})"), json!({"username": "x"}));
    assert_eq!(r.status, 404);

    // Changing the address sets approval back to pending.
    let r = admin.patch(
        &format!("mailboxes({id})"),
        json!({"emailaddress": "new.address@contoso.com"}),
    );
    assert_eq!(r.status, 204);
    let moved = admin.get(&format!("mailboxes({id})"));
    assert_eq!(moved["emailrouteraccessapproval"], 2);
    assert_eq!(moved["emailaddress"], "new.address@contoso.com");
    // A form saving every field (approval unchanged) with a new address: pending too.
    let r = megan.patch(
        &format!("mailboxes({id})"),
        json!({"emailrouteraccessapproval": 1}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let r = nestor.patch(
        &format!("mailboxes({own_id})"),
        json!({"emailrouteraccessapproval": own_approval}),
    );
    assert_eq!(
        r.status, 204,
        "unchanged approval is no approval: {}",
        r.body
    );
    let r = admin.patch(
        &format!("mailboxes({id})"),
        json!({"emailrouteraccessapproval": 1, "emailaddress": "third@contoso.com"}),
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        admin.get(&format!("mailboxes({id})"))["emailrouteraccessapproval"],
        2
    );
    let r = admin.patch(
        &format!("mailboxes({id})"),
        json!({"emailrouteraccessapproval": 7}),
    );
    assert_eq!(r.status, 400);

    // Alerts: created and deleted, never updated; canbedeleted is enforced.
    let alert = json!({
        "level": 3, "tracecode": 12, "text": "Test alert", "canbedeleted": false,
        "regardingobjectid_mailbox@odata.bind": format!("/mailboxes({id})"),
    });
    let r = admin.call("POST", "tracelogs", &[], &alert.to_string());
    assert_eq!(r.status, 204, "{}", r.body);
    let aurl = r.header("odata-entityid").unwrap().to_string();
    let aid = aurl
        .rsplit_once('(')
        .unwrap()
        .1
        .trim_end_matches(')')
        .to_string();
    let a = admin.get(&format!("tracelogs({aid})"));
    assert_eq!(a["regardingobjecttypecode"], "mailbox");
    assert_eq!(a["_regardingobjectid_value"], id.as_str());
    let r = admin.patch(&format!("tracelogs({aid})"), json!({"text": "changed"}));
    assert_eq!(r.status, 405, "{}", r.body);
    r.error_code();
    let r = admin.call("DELETE", &format!("tracelogs({aid})"), &[], "");
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        admin.get(&format!("tracelogs({aid})"))["text"],
        "Test alert"
    );
    let r = admin.call(
        "POST",
        "tracelogs",
        &[],
        &json!({"level": 9, "text": "x"}).to_string(),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let deletable = json!({"level": 1, "text": "Info", "regardingobjectid_mailbox@odata.bind": format!("/mailboxes({id})")});
    let r = admin.call("POST", "tracelogs", &[], &deletable.to_string());
    assert_eq!(r.status, 204);
    let durl = r.header("odata-entityid").unwrap().to_string();
    let did = durl
        .rsplit_once('(')
        .unwrap()
        .1
        .trim_end_matches(')')
        .to_string();
    let r = admin.call("DELETE", &format!("tracelogs({did})"), &[], "");
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        admin
            .call("GET", &format!("tracelogs({did})"), &[], "")
            .status,
        404
    );

    // Email server profiles: core's rules.
    let r = admin.call(
        "POST",
        "emailserverprofiles",
        &[],
        &json!({"name": "Too many", "servertype": 4, "useautodiscover": false,
                "maxconcurrentconnections": 500})
        .to_string(),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("300"), "{}", r.body);
    let r = admin.call(
        "POST",
        "emailserverprofiles",
        &[("Prefer", "return=representation")],
        &json!({"name": "S2S", "servertype": 0, "useautodiscover": true,
                "incomingcredentialretrieval": 2, "outgoingcredentialretrieval": 2})
        .to_string(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let p = r.json();
    assert_eq!(p["incomingauthenticationprotocol"], 0);
    let pid = p["emailserverprofileid"].as_str().unwrap().to_string();
    let r = admin.patch(
        &format!("emailserverprofiles({pid})"),
        json!({"incomingauthenticationprotocol": 3}),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("Auto Detect"), "{}", r.body);
    let r = admin.patch(
        &format!("emailserverprofiles({pid})"),
        json!({"incomingusername": "someone", "incomingpassword": "pw"}),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let r = admin.patch(
        &format!("emailserverprofiles({pid})"),
        json!({"incomingcredentialretrieval": 1, "incomingauthenticationprotocol": 3,
               "incomingusername": "someone", "incomingpassword": "pw"}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let r = nestor.call(
        "POST",
        "emailserverprofiles",
        &[],
        &json!({"name": "mine"}).to_string(),
    );
    assert_eq!(r.status, 403);

    // Approval on the user: the same rules, mirrored on the user's mailboxes.
    let exo_user = admin.get(&format!(
        "mailboxes?$select=_regardingobjectid_value,emailrouteraccessapproval&$filter=_emailserverprofile_value eq {exo} and regardingobjecttypecode eq 'systemuser' and emailrouteraccessapproval eq 1&$top=1"
    ));
    let uid = exo_user["value"][0]["_regardingobjectid_value"]
        .as_str()
        .unwrap()
        .to_string();
    // A System Administrator without a Microsoft 365 role may reject it (Dataverse
    // accepts the change; only an approval's Microsoft 365 flag stays false).
    let r = megan.patch(
        &format!("systemusers({uid})"),
        json!({"emailrouteraccessapproval": 3}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let r = admin.patch(
        &format!("systemusers({uid})"),
        json!({"emailrouteraccessapproval": 1}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let r = alex.patch(
        &format!("systemusers({uid})"),
        json!({"emailrouteraccessapproval": 3}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let theirs = admin.get(&format!(
        "mailboxes?$select=emailrouteraccessapproval&$filter=_regardingobjectid_value eq {uid}"
    ));
    assert!(theirs["value"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["emailrouteraccessapproval"] == 3));
    // Secrets are never readable on users either.
    assert!(!admin
        .call("GET", "systemusers", &[], "")
        .body
        .contains("passwordhash"));
    let r = admin.call("GET", "systemusers?$select=passwordhash", &[], "");
    assert_eq!(r.status, 400);

    // System Settings: organizations are updated, not created or deleted.
    let orgs = admin.get("organizations");
    let oid = orgs["value"][0]["organizationid"]
        .as_str()
        .unwrap()
        .to_string();
    let r = admin.patch(
        &format!("organizations({oid})"),
        json!({"generatealertsforinformation": false, "emailconnectionchannel": 0}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        admin.get(&format!("organizations({oid})"))["generatealertsforinformation"],
        false
    );
    let r = admin.call("DELETE", &format!("organizations({oid})"), &[], "");
    assert_eq!(r.status, 405);
    let r = nestor.patch(
        &format!("organizations({oid})"),
        json!({"generatealertsforinformation": true}),
    );
    assert_eq!(r.status, 403);

    // A plain user deletes their own alerts, and cannot see anyone else's.
    let mine = nestor.get("tracelogs?$filter=canbedeleted eq true");
    if let Some(a) = mine["value"].as_array().unwrap().first() {
        let own_alert = a["tracelogid"].as_str().unwrap();
        let r = nestor.call("DELETE", &format!("tracelogs({own_alert})"), &[], "");
        assert_eq!(r.status, 204, "{}", r.body);
    }
    // (the undeletable alert on the admin's test mailbox: not even there for nestor)
    let r = nestor.call("DELETE", &format!("tracelogs({aid})"), &[], "");
    assert_eq!(r.status, 404);

    // DELETE, then 404; a missing record is 404 for PATCH and DELETE too.
    let r = admin.call("DELETE", &format!("mailboxes({id})"), &[], "");
    assert_eq!(r.status, 204);
    assert_eq!(
        admin
            .call("GET", &format!("mailboxes({id})"), &[], "")
            .status,
        404
    );
    // Its alerts went with it.
    assert_eq!(
        admin
            .call("GET", &format!("tracelogs({aid})"), &[], "")
            .status,
        404
    );
    let r = admin.patch(&format!("mailboxes({id})"), json!({"name": "ghost"}));
    assert_eq!(r.status, 404);
    assert_eq!(r.error_code(), "0x80040217");
    let r = admin.call("DELETE", &format!("mailboxes({id})"), &[], "");
    assert_eq!(r.status, 404);
    let r = admin.call("PUT", &format!("mailboxes({id})"), &[], "{}");
    assert_eq!(r.status, 405);
    r.error_code();

    // Odd requests: answered in Dataverse's shape, never a crash or a 500.
    type Odd<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str);
    let odd: &[Odd] = &[
        ("GET", "mailboxes(%zz)", &[], ""),
        ("GET", "mailboxes%28x%29", &[], ""),
        ("GET", "mailboxes?$filter=%ff%fe", &[], ""),
        ("GET", "mailboxes?$filter=((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((name eq 'a'", &[], ""),
        ("GET", "mailboxes?$orderby=name,name", &[], ""),
        ("GET", "mailboxes", &[("Prefer", "odata.maxpagesize=abc")], ""),
        ("GET", "mailboxes", &[("Prefer", "odata.maxpagesize=99999999999")], ""),
        ("GET", "mailboxes(00000000-0000-4000-8000-000000000001)/Microsoft.Dynamics.CRM.Nope()", &[], ""),
        ("POST", "mailboxes", &[], "{\"name\": \"x\", \"emailserverprofile@odata.bind\": 5}"),
        ("POST", "mailboxes", &[], "{\"name\": \"x\", \"emailserverprofile@odata.bind\": \"junk\"}"),
        ("POST", "mailboxes", &[], "{\"name\": \"x\", \"incomingemaildeliverymethod\": 99999999999}"),
        ("POST", "mailboxes", &[], "{\"name\": \"x\", \"processemailreceivedafter\": \"yesterday\"}"),
        ("POST", "mailboxes", &[], "{\"mailboxid\": null, \"name\": \"x\"}"),
        ("POST", "tracelogs", &[], "{}"),
        ("PATCH", "mailboxes", &[], "{}"),
        ("DELETE", "mailboxes", &[], ""),
        ("POST", "mailboxes(00000000-0000-4000-8000-000000000001)", &[], "{}"),
    ];
    for (method, path, headers, body) in odd {
        let r = admin.call(method, path, headers, body);
        assert!(
            (400..500).contains(&r.status) || r.status == 200,
            "{method} {path}: {} {}",
            r.status,
            r.body
        );
        if r.status != 200 {
            r.error_code();
        }
    }
    assert_eq!(
        admin.get("mailboxes?$top=1")["value"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// The id in a write's `OData-EntityId`.
fn created_id(r: &Resp) -> String {
    let url = r.header("odata-entityid").unwrap();
    let id = url.rsplit_once('(').unwrap().1.trim_end_matches(')');
    id.to_string()
}

/// A 403 in Dataverse's shape that names the roles it needs.
fn assert_refused(r: &Resp, what: &str) {
    assert_eq!(r.status, 403, "{what}: {}", r.body);
    assert_eq!(r.error_code(), "0x80040220", "{what}");
    assert!(
        r.body
            .contains("System Administrator or Global Administrator"),
        "{what}: {}",
        r.body
    );
}

#[test]
fn roles_and_privileges() {
    let org = Org::start("webapi-roles");
    let admin = org.login("admin");
    let (exo, imap) = profiles(&admin);
    let oid = admin.get("organizations")["value"][0]["organizationid"]
        .as_str()
        .unwrap()
        .to_string();
    let qid = admin.get("queues?$top=1")["value"][0]["queueid"]
        .as_str()
        .unwrap()
        .to_string();
    let count = |who: &User, set: &str| {
        who.get(&format!("{set}?$count=true&$top=1"))["@odata.count"]
            .as_u64()
            .unwrap()
    };

    // Exchange Administrator and Delegated Mailbox Approver: everything in view, the
    // mailbox work allowed, the organization's configuration refused.
    for name in ["alex", "diego"] {
        let who = org.login(name);
        for set in [
            "mailboxes",
            "emailserverprofiles",
            "queues",
            "systemusers",
            "tracelogs",
        ] {
            assert_eq!(count(&who, set), count(&admin, set), "{name} sees {set}");
        }

        let before = admin.get(&format!("organizations({oid})"));
        let r = who.patch(
            &format!("organizations({oid})"),
            json!({"generatealertsforerrors": false}),
        );
        assert_refused(&r, &format!("{name} PATCH organization"));
        assert_eq!(
            admin.get(&format!("organizations({oid})"))["@odata.etag"],
            before["@odata.etag"]
        );

        let r = who.call(
            "POST",
            "systemusers",
            &[],
            &json!({"fullname": "Intruder", "domainname": "intruder"}).to_string(),
        );
        assert_refused(&r, &format!("{name} POST systemuser"));
        let r = who.patch(
            &format!("systemusers({})", admin.id),
            json!({"isdisabled": true}),
        );
        assert_refused(&r, &format!("{name} disables admin"));
        let r = who.patch(
            &format!("systemusers({})", admin.id),
            json!({"emailrouteraccessapproval": 1, "isdisabled": true}),
        );
        assert_eq!(r.status, 403, "{name}: {}", r.body);
        assert_eq!(
            admin.get(&format!("systemusers({})", admin.id))["isdisabled"],
            false
        );
        org.login("admin");
        let r = who.call("DELETE", &format!("systemusers({})", admin.id), &[], "");
        assert_refused(&r, &format!("{name} DELETE systemuser"));

        let r = who.call("POST", "queues", &[], &json!({"name": "q"}).to_string());
        assert_refused(&r, &format!("{name} POST queue"));
        let r = who.patch(&format!("queues({qid})"), json!({"name": "renamed"}));
        assert_refused(&r, &format!("{name} PATCH queue"));
        let r = who.call("DELETE", &format!("queues({qid})"), &[], "");
        assert_refused(&r, &format!("{name} DELETE queue"));

        let r = who.call(
            "POST",
            "emailserverprofiles",
            &[],
            &json!({"name": "p", "servertype": 4, "useautodiscover": false}).to_string(),
        );
        assert_refused(&r, &format!("{name} POST profile"));
        let r = who.patch(
            &format!("emailserverprofiles({imap})"),
            json!({"maxconcurrentconnections": 5}),
        );
        assert_refused(&r, &format!("{name} PATCH profile"));
        let r = who.call("DELETE", &format!("emailserverprofiles({imap})"), &[], "");
        assert_refused(&r, &format!("{name} DELETE profile"));

        let r = who.call(
            "POST",
            "mailboxes",
            &[],
            &json!({"name": "m", "emailaddress": "m@contoso.com"}).to_string(),
        );
        assert_refused(&r, &format!("{name} POST mailbox"));

        // A pending Exchange Online mailbox: approved, renamed, Test & Enable scheduled.
        let r = admin.call(
            "POST",
            "mailboxes",
            &[],
            &json!({"name": format!("For {name}"), "emailaddress": format!("{name}.box@contoso.com"),
                    "emailrouteraccessapproval": 2,
                    "emailserverprofile@odata.bind": format!("/emailserverprofiles({exo})")})
            .to_string(),
        );
        assert_eq!(r.status, 204, "{}", r.body);
        let mid = created_id(&r);
        let r = who.call("DELETE", &format!("mailboxes({mid})"), &[], "");
        assert_refused(&r, &format!("{name} DELETE mailbox"));
        let r = who.patch(
            &format!("mailboxes({mid})"),
            json!({"emailrouteraccessapproval": 1, "name": format!("Approved by {name}"),
                   "testemailconfigurationscheduled": true}),
        );
        assert_eq!(r.status, 204, "{name}: {}", r.body);
        let m = admin.get(&format!("mailboxes({mid})"));
        assert_eq!(m["emailrouteraccessapproval"], 1);
        assert_eq!(m["isemailaddressapprovedbyo365admin"], true);
        assert_eq!(m["name"], format!("Approved by {name}"));
        assert_eq!(m["testemailconfigurationscheduled"], true);

        // Alerts: creating is refused; a deletable one goes, an undeletable one stays.
        let r = who.call(
            "POST",
            "tracelogs",
            &[],
            &json!({"level": 1, "text": "x"}).to_string(),
        );
        assert_refused(&r, &format!("{name} POST alert"));
        let mut alert_ids = Vec::new();
        for deletable in [true, false] {
            let r = admin.call(
                "POST",
                "tracelogs",
                &[],
                &json!({"level": 2, "text": "Role test", "canbedeleted": deletable,
                        "regardingobjectid_mailbox@odata.bind": format!("/mailboxes({mid})")})
                .to_string(),
            );
            assert_eq!(r.status, 204, "{}", r.body);
            alert_ids.push(created_id(&r));
        }
        let r = who.call("DELETE", &format!("tracelogs({})", alert_ids[0]), &[], "");
        assert_eq!(r.status, 204, "{name}: {}", r.body);
        let r = who.call("DELETE", &format!("tracelogs({})", alert_ids[1]), &[], "");
        assert_eq!(r.status, 403, "{name}: {}", r.body);
        assert_eq!(
            admin
                .call("GET", &format!("tracelogs({})", alert_ids[1]), &[], "")
                .status,
            200
        );
    }

    // System Administrator and Global Administrator: full rights.
    for name in ["megan", "patti"] {
        let who = org.login(name);
        let r = who.patch(
            &format!("organizations({oid})"),
            json!({"generatealertsforinformation": name == "megan"}),
        );
        assert_eq!(r.status, 204, "{name}: {}", r.body);
        let r = who.call(
            "POST",
            "emailserverprofiles",
            &[],
            &json!({"name": format!("{name}'s"), "servertype": 4, "useautodiscover": false})
                .to_string(),
        );
        assert_eq!(r.status, 204, "{name}: {}", r.body);
        let pid = created_id(&r);
        let r = who.patch(
            &format!("emailserverprofiles({pid})"),
            json!({"maxconcurrentconnections": 5}),
        );
        assert_eq!(r.status, 204, "{name}: {}", r.body);
        let r = who.call(
            "POST",
            "mailboxes",
            &[],
            &json!({"name": "m", "emailserverprofile@odata.bind": format!("/emailserverprofiles({pid})")})
                .to_string(),
        );
        assert_eq!(r.status, 204, "{name}: {}", r.body);
        let r = who.call("DELETE", &format!("mailboxes({})", created_id(&r)), &[], "");
        assert_eq!(r.status, 204, "{name}: {}", r.body);
        let r = who.call("DELETE", &format!("emailserverprofiles({pid})"), &[], "");
        assert_eq!(r.status, 204, "{name}: {}", r.body);
        let r = who.patch(
            &format!("queues({qid})"),
            json!({"name": format!("{name}'s queue")}),
        );
        assert_eq!(r.status, 204, "{name}: {}", r.body);
    }
    let megan = org.login("megan");
    let nestor = org.login("nestor");
    let r = megan.patch(
        &format!("systemusers({})", nestor.id),
        json!({"isdisabled": true}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let r = request(
        org.port(),
        "POST",
        "/api/auth/login",
        &[("Content-Type", "application/json")],
        &json!({"username": "nestor", "password": PASSWORD}).to_string(),
    );
    assert_eq!(r.status, 401, "a disabled user signs in: {}", r.body);
    let r = megan.patch(
        &format!("systemusers({})", nestor.id),
        json!({"isdisabled": false}),
    );
    assert_eq!(r.status, 204, "{}", r.body);

    // A plain user: their own mailboxes only, no configuration.
    let nestor = org.login("nestor");
    assert!(count(&nestor, "mailboxes") < count(&admin, "mailboxes"));
    for (method, path, body) in [
        (
            "PATCH",
            format!("organizations({oid})"),
            json!({"generatealertsforerrors": false}),
        ),
        (
            "PATCH",
            format!("systemusers({})", nestor.id),
            json!({"isdisabled": false}),
        ),
        (
            "PATCH",
            format!("emailserverprofiles({imap})"),
            json!({"maxconcurrentconnections": 5}),
        ),
        ("POST", "mailboxes".to_string(), json!({"name": "m"})),
        ("DELETE", format!("queues({qid})"), json!({})),
    ] {
        let r = nestor.call(method, &path, &[], &body.to_string());
        assert_refused(&r, &format!("nestor {method} {path}"));
    }
}

#[test]
fn choices_take_only_their_options() {
    let org = Org::start("webapi-choices");
    let admin = org.login("admin");
    let (_, imap) = profiles(&admin);
    let mailbox = admin.get("mailboxes?$select=name&$top=1")["value"][0]["mailboxid"]
        .as_str()
        .unwrap()
        .to_string();
    let oid = admin.get("organizations")["value"][0]["organizationid"]
        .as_str()
        .unwrap()
        .to_string();
    let cases = [
        (
            format!("emailserverprofiles({imap})"),
            "servertype",
            42,
            "4 (IMAP/SMTP)",
        ),
        (
            format!("emailserverprofiles({imap})"),
            "incomingcredentialretrieval",
            9,
            "7 (Azure AD OAuth)",
        ),
        (
            format!("emailserverprofiles({imap})"),
            "exchangeversion",
            6,
            "5 (Exchange 2013)",
        ),
        (
            format!("mailboxes({mailbox})"),
            "incomingemaildeliverymethod",
            99,
            "3 (Forward Mailbox)",
        ),
        (
            format!("mailboxes({mailbox})"),
            "actdeliverymethod",
            7,
            "1 (Server-Side Synchronization), 2 (None)",
        ),
        (
            format!("mailboxes({mailbox})"),
            "statecode",
            5,
            "1 (Inactive)",
        ),
        (
            format!("mailboxes({mailbox})"),
            "emailrouteraccessapproval",
            -1,
            "3 (Rejected)",
        ),
        (
            format!("organizations({oid})"),
            "emailconnectionchannel",
            7,
            "1 (Email Router)",
        ),
    ];
    for (path, prop, value, says) in &cases {
        let before = admin.get(path);
        let r = admin.patch(path, json!({ *prop: value }));
        assert_eq!(r.status, 400, "{prop} = {value}: {}", r.body);
        assert_eq!(r.error_code(), "0x80040203");
        let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(msg.contains(&format!("'{prop}'")), "{msg}");
        assert!(msg.contains(says), "{msg}");
        assert_eq!(admin.get(path)["@odata.etag"], before["@odata.etag"]);
    }
    // On create too, and for alerts and emails.
    let r = admin.call(
        "POST",
        "emailserverprofiles",
        &[],
        &json!({"name": "Odd", "servertype": 42}).to_string(),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let r = admin.call(
        "POST",
        "tracelogs",
        &[],
        &json!({"level": 4, "text": "x"}).to_string(),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("3 (Error)"), "{}", r.body);
    let r = admin.call(
        "POST",
        "emails",
        &[],
        &json!({"subject": "x", "statuscode": 9}).to_string(),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("8 (Failed)"), "{}", r.body);
    // A valid value is taken; filters on choices stay lenient (nothing matches).
    let r = admin.patch(
        &format!("mailboxes({mailbox})"),
        json!({"actdeliverymethod": 2, "incomingemaildeliverymethod": 3}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let none = admin.get("emailserverprofiles?$filter=servertype eq 42");
    assert_eq!(none["value"].as_array().unwrap().len(), 0);

    // System Settings' default methods must be a document the console can read.
    for bad in [
        "not xml",
        "<EmailSettings><IncomingEmailDeliveryMethod>9</IncomingEmailDeliveryMethod></EmailSettings>",
        "<EmailSettings><ACTDeliveryMethod>Outlook</ACTDeliveryMethod></EmailSettings>",
    ] {
        let r = admin.patch(
            &format!("organizations({oid})"),
            json!({ "defaultemailsettings": bad }),
        );
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert!(r.body.contains("defaultemailsettings"), "{}", r.body);
    }
    let good = "<EmailSettings><IncomingEmailDeliveryMethod>0</IncomingEmailDeliveryMethod>\
                <OutgoingEmailDeliveryMethod>2</OutgoingEmailDeliveryMethod>\
                <ACTDeliveryMethod>2</ACTDeliveryMethod></EmailSettings>";
    let r = admin.patch(
        &format!("organizations({oid})"),
        json!({ "defaultemailsettings": good }),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        admin.get(&format!("organizations({oid})"))["defaultemailsettings"],
        good
    );
}

#[test]
fn exchange_online_hybrid_and_exchange_2007() {
    let org = Org::start("webapi-hybrid");
    let admin = org.login("admin");
    let megan = org.login("megan");
    let alex = org.login("alex");
    // Exchange Online (Hybrid): approving its mailboxes needs an Exchange approver.
    let r = admin.call(
        "POST",
        "emailserverprofiles",
        &[],
        &json!({"name": "Hybrid online", "servertype": 3, "useautodiscover": true,
                "incomingcredentialretrieval": 0, "outgoingcredentialretrieval": 0})
        .to_string(),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let pid = created_id(&r);
    let r = admin.call(
        "POST",
        "mailboxes",
        &[],
        &json!({"name": "Hybrid box", "emailaddress": "hybrid@contoso.com",
                "emailrouteraccessapproval": 2,
                "emailserverprofile@odata.bind": format!("/emailserverprofiles({pid})")})
        .to_string(),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let mid = created_id(&r);
    let r = megan.patch(
        &format!("mailboxes({mid})"),
        json!({"emailrouteraccessapproval": 1}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        admin.get(&format!("mailboxes({mid})"))["isemailaddressapprovedbyo365admin"],
        false
    );
    let r = admin.patch(
        &format!("mailboxes({mid})"),
        json!({"emailrouteraccessapproval": 2}),
    );
    assert_eq!(r.status, 204);
    let r = alex.patch(
        &format!("mailboxes({mid})"),
        json!({"emailrouteraccessapproval": 1}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        admin.get(&format!("mailboxes({mid})"))["isemailaddressapprovedbyo365admin"],
        true
    );
    // Exchange 2007 is unsupported: a warning of the form, not a refusal of the record.
    let r = admin.patch(
        &format!("emailserverprofiles({pid})"),
        json!({"servertype": 2, "exchangeversion": 0}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        admin.get(&format!("emailserverprofiles({pid})"))["exchangeversion"],
        0
    );
}
