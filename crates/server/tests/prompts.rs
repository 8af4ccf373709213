//! The answers to the alerts that ask for action (issue 11 §2), over real HTTP against
//! `mailsync serve`: the product's bound actions on an alert are advertised in
//! `$metadata`, refuse what does not answer the alert, and record a decision once,
//! from the mailbox's user or an administrator only. The alert itself is written into
//! the organization's SQLite file as the engine writes it (the engine's own tests and
//! the browser test raise it for real against the fake EWS).

mod common;

use common::{request, Resp, Server, TempDir};
use rusqlite::{params, Connection};
use serde_json::{json, Value};

const PASSWORD: &str = "prompt test password";
const API: &str = "/api/data/v9.2";

struct Client {
    port: u16,
    bearer: String,
    id: String,
}

impl Client {
    fn login(port: u16, user: &str) -> Client {
        let r = request(
            port,
            "POST",
            "/api/auth/login",
            &[("Content-Type", "application/json")],
            &json!({"username": user, "password": PASSWORD}).to_string(),
        );
        assert_eq!(r.status, 200, "{user}: {}", r.body);
        let bearer = format!("Bearer {}", r.json()["access_token"].as_str().unwrap());
        let who = request(
            port,
            "GET",
            &format!("{API}/WhoAmI"),
            &[("Authorization", &bearer)],
            "",
        );
        Client {
            port,
            bearer,
            id: who.json()["UserId"].as_str().unwrap().to_string(),
        }
    }

    fn send(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        request(
            self.port,
            method,
            &format!("{API}/{}", path.replace(' ', "%20")),
            &[
                ("Authorization", &self.bearer),
                ("Content-Type", "application/json"),
            ],
            &body,
        )
    }
}

/// A duplicates alert on `mailbox` naming `candidate`, as the engine writes it.
fn duplicates_alert(db: &Connection, mailbox: &str, candidate: &str) -> String {
    let alert = uuid();
    db.execute(
        "INSERT INTO tracelog (tracelogid, level, tracecode, text, errortypedisplay, errordetails, \
         regardingobjectid, regardingobjecttypecode) VALUES (?1, 2, 67, ?2, \
         'ExchangeSyncDuplicateRecordsError', ?3, ?4, 'mailbox')",
        params![
            alert,
            "One or more duplicate records were found in Microsoft Dynamics 365 when saving item \"Janet Leverling\" from Exchange to Microsoft Dynamics 365. Do you want to continue and create a duplicate record anyway?",
            format!("Exchange item: AAA1\nDuplicate: contacts({candidate}) Janet Leverling"),
            mailbox
        ],
    )
    .unwrap();
    db.execute(
        "INSERT INTO actprompt (actpromptid, mailboxid, objecttypecode, exchangeentryid, prompt, \
         itemname, candidates, tracelogid) VALUES (?1, ?2, 2, ?3, 1, 'Janet Leverling', ?4, ?5)",
        params![uuid(), mailbox, format!("AAA{alert}"), candidate, alert],
    )
    .unwrap();
    alert
}

fn uuid() -> String {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).unwrap();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[test]
fn the_answers_to_an_asking_alert_are_bound_actions_given_once_by_the_right_people() {
    let dir = TempDir::dist("prompts");
    let server = Server::start(dir.path(), Some("demo"), Some(PASSWORD));
    let admin = Client::login(server.port, "admin");
    let nestor = Client::login(server.port, "nestor");
    let joni = Client::login(server.port, "joni");

    // Advertised in $metadata, bound to the alert, with LinkToRecord's parameter.
    let meta = admin.send("GET", "$metadata", None);
    assert_eq!(meta.status, 200);
    for action in [
        "mailsync_CreateAnyway",
        "mailsync_LinkToRecord",
        "mailsync_Skip",
        "mailsync_SaveAnyway",
        "mailsync_Relink",
        "mailsync_Ignore",
    ] {
        assert!(
            meta.body
                .contains(&format!("<Action Name=\"{action}\" IsBound=\"true\">")),
            "{action} missing from $metadata"
        );
    }
    assert!(meta
        .body
        .contains("<Parameter Name=\"RecordId\" Type=\"Edm.Guid\""));

    // Nestor's own mailbox, and a contact that the item duplicates.
    let mailbox = nestor.send(
        "GET",
        &format!(
            "mailboxes?$select=mailboxid&$filter=_regardingobjectid_value eq {}",
            nestor.id
        ),
        None,
    );
    let mailbox = mailbox.json()["value"][0]["mailboxid"]
        .as_str()
        .unwrap()
        .to_string();
    let contact = admin.send("POST", "contacts", Some(json!({"lastname": "Leverling", "firstname": "Janet", "emailaddress1": "janet@contoso.test"})));
    assert_eq!(contact.status, 204, "{}", contact.body);
    let url = contact.header("odata-entityid").unwrap();
    let contact = url[url.rfind('(').unwrap() + 1..url.len() - 1].to_string();
    let db = Connection::open(dir.path().join("org.sqlite")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    let alert = duplicates_alert(&db, &mailbox, &contact);
    let act = |who: &Client, action: &str, body: Option<Value>| {
        who.send(
            "POST",
            &format!("tracelogs({alert})/Microsoft.Dynamics.CRM.{action}"),
            body,
        )
    };

    // What does not answer this alert is refused, saying what does.
    let r = act(&nestor, "mailsync_Relink", None);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body
            .contains("mailsync_CreateAnyway, mailsync_LinkToRecord, mailsync_Skip"),
        "{}",
        r.body
    );
    let r = act(&nestor, "mailsync_DoAnything", None);
    assert_eq!(r.status, 404, "{}", r.body);
    let r = act(&nestor, "mailsync_LinkToRecord", None);
    assert_eq!(r.status, 400, "{}", r.body);
    let r = act(
        &nestor,
        "mailsync_LinkToRecord",
        Some(json!({"RecordId": uuid()})),
    );
    assert_eq!(
        r.status, 400,
        "a record the alert does not name: {}",
        r.body
    );
    assert!(r.body.contains("not one of the duplicates"), "{}", r.body);
    // An alert that asks nothing has no answers.
    let plain = uuid();
    db.execute(
        "INSERT INTO tracelog (tracelogid, level, tracecode, text, regardingobjectid, regardingobjecttypecode) \
         VALUES (?1, 3, 53, 'Email cannot be received', ?2, 'mailbox')",
        params![plain, mailbox],
    )
    .unwrap();
    let r = nestor.send(
        "POST",
        &format!("tracelogs({plain})/Microsoft.Dynamics.CRM.mailsync_Skip"),
        None,
    );
    assert_eq!(r.status, 400, "{}", r.body);

    // Someone else's alert: another user without a role does not even see it.
    let r = act(&joni, "mailsync_CreateAnyway", None);
    assert_eq!(r.status, 404, "{}", r.body);
    let undecided: Option<i64> = db
        .query_row(
            "SELECT decision FROM actprompt WHERE tracelogid = ?1",
            [&alert],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(undecided, None);

    // The mailbox's user links the item to the duplicate: recorded, and the mailbox's
    // appointments, contacts and tasks are due now.
    db.execute(
        "UPDATE mailbox SET receivingpostponeduntilforact = '2099-01-01T00:00:00Z' WHERE mailboxid = ?1",
        [&mailbox],
    )
    .unwrap();
    let r = act(
        &nestor,
        "mailsync_LinkToRecord",
        Some(json!({"RecordId": contact.to_uppercase()})),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let (decision, record, by): (i64, String, String) = db
        .query_row(
            "SELECT decision, decisionrecordid, decidedby FROM actprompt WHERE tracelogid = ?1",
            [&alert],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        decision,
        mailsync_core::engine::prompt::Decision::LinkToRecord.code()
    );
    assert!(record.eq_ignore_ascii_case(&contact));
    assert_eq!(by, nestor.id);
    let due: String = db
        .query_row(
            "SELECT receivingpostponeduntilforact FROM mailbox WHERE mailboxid = ?1",
            [&mailbox],
            |r| r.get(0),
        )
        .unwrap();
    assert!(due.as_str() < "2099", "{due}");
    // Once only.
    let r = act(&admin, "mailsync_Skip", None);
    assert_eq!(r.status, 409, "{}", r.body);
}
