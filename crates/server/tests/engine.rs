//! The synchronization engine in the real `mailsync serve`, on the system clock,
//! against the test mail servers (`bash scripts/mailservers.sh start`): an
//! administrator creates an IMAP/SMTP profile and a mailbox through the Web API,
//! schedules Test & Enable, and the mailbox is tested, enabled and synchronized; its
//! Mailbox Details log analyzes to what the database holds.

mod common;

use std::time::{Duration, Instant};

use common::{mail_env, Admin, Server, TempDir};
use serde_json::json;

const PASSWORD: &str = "engine test password";

#[test]
fn test_and_enable_in_the_running_server_then_the_log_tells_the_same() {
    let mail = mail_env();
    let dir = TempDir::dist("engine");
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
        ],
    );
    let admin = Admin::sign_in(server.port, "admin", PASSWORD);
    let me = admin.call("GET", "WhoAmI", "").json()["UserId"]
        .as_str()
        .unwrap()
        .to_string();

    let profile = admin.json("POST", "emailserverprofiles", json!({
        "name": "Test IMAP/SMTP", "servertype": 4, "useautodiscover": false,
        "incomingserverlocation": mail["MAIL_HOST"], "outgoingserverlocation": mail["MAIL_HOST"],
        "incomingcredentialretrieval": 0, "outgoingcredentialretrieval": 0,
        "incomingauthenticationprotocol": 3, "outgoingauthenticationprotocol": 3,
        "incomingusessl": true, "outgoingusessl": true,
        "incomingportnumber": mail["MAIL_IMAP_PORT"].parse::<i64>().unwrap(),
        "outgoingportnumber": mail["MAIL_SMTP_PORT"].parse::<i64>().unwrap(),
    }));
    let pid = profile["emailserverprofileid"]
        .as_str()
        .unwrap()
        .to_string();
    let address = format!("{}@{}", mail["MAIL_USER_ALICE"], mail["MAIL_DOMAIN"]);
    let mailbox = admin.json("POST", "mailboxes", json!({
        "name": "Alice (engine test)", "emailaddress": address,
        "regardingobjectid_systemuser@odata.bind": format!("/systemusers({me})"),
        "emailserverprofile@odata.bind": format!("/emailserverprofiles({pid})"),
        "incomingemaildeliverymethod": 2, "outgoingemaildeliverymethod": 2, "actdeliverymethod": 2,
        "allowemailconnectortousecredentials": true,
        "username": mail["MAIL_USER_ALICE"], "password": mail["MAIL_PASSWORD_ALICE"],
    }));
    let id = mailbox["mailboxid"].as_str().unwrap().to_string();
    // The organization processes email for approved users only: a test before the
    // approval fails on that (the engine's own tests cover it).
    let path = format!("mailboxes({id})");
    admin.json("PATCH", &path, json!({"emailrouteraccessapproval": 1}));
    admin.json(
        "PATCH",
        &path,
        json!({"testemailconfigurationscheduled": true}),
    );

    // The engine looks every second: the test runs, then the first sync cycle.
    let started = Instant::now();
    let m = loop {
        let m = admin.json("GET", &format!("mailboxes({id})"), json!(null));
        if m["testemailconfigurationscheduled"] == false
            && m["lastsuccessfulsynccompletedon"].is_string()
        {
            break m;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not processed in 30 s: {m}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(m["enabledforincomingemail"], true);
    assert_eq!(m["enabledforoutgoingemail"], true);
    assert_eq!(m["incomingemailstatus"], 1);
    assert_eq!(m["outgoingemailstatus"], 1);
    assert_eq!(m["mailboxstatus"], 1);
    assert_eq!(m["processingstatecode"], 0);
    assert!(m["itemsprocessedforlastsync"].as_i64().unwrap() >= 1, "{m}");
    assert!(m.get("password").is_none(), "write-only");
    let received = admin.json(
        "GET",
        &format!("emails?$select=subject&$count=true&$filter=_receivingmailboxid_value eq {id}"),
        json!(null),
    );
    assert!(received["@odata.count"].as_i64().unwrap() >= 1);
    let alerts = admin.json(
        "GET",
        &format!("tracelogs?$select=level,text&$filter=_regardingobjectid_value eq {id}"),
        json!(null),
    );
    assert!(
        alerts["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["level"] == 1
                && a["text"]
                    .as_str()
                    .unwrap()
                    .contains("was tested and enabled")),
        "{alerts}"
    );
    let stats = admin.json(
        "GET",
        "mailsync_syncstatistics?$select=mailsync_cycles,mailsync_tests",
        json!(null),
    );
    assert!(!stats["value"].as_array().unwrap().is_empty());
    let r = admin.call("POST", "mailsync_syncstatistics", "{}");
    assert_eq!(r.status, 405, "the engine's statistics are read-only");

    // The Mailbox Details log says what the database holds.
    let log = admin.call(
        "GET",
        &format!("mailboxes({id})/Microsoft.Dynamics.CRM.DownloadMailboxDetails()"),
        "",
    );
    assert_eq!(log.status, 200);
    let now = mailsync_core::Timestamp::parse(m["lastsuccessfulsynccompletedon"].as_str().unwrap())
        .unwrap()
        .at;
    let report = mailsync_core::analyze("details.log", log.body.as_bytes(), Some(now));
    assert_eq!(report.mailbox_id.as_deref(), Some(id.as_str()));
    let at = |v: &str| mailsync_core::Timestamp::parse(v).map(|t| t.at);
    let next = m["postponemailboxprocessinguntil"].as_str().unwrap();
    assert_eq!(report.next_sync_at.as_deref().and_then(at), at(next));
    assert_eq!(report.directions.incoming.enabled, Some(true));
    assert_eq!(report.directions.outgoing.enabled, Some(true));
    assert_eq!(report.test_and_enable.scheduled, Some(false));
    assert_eq!(
        report.test_and_enable.completed_on.as_deref().and_then(at),
        at(m["testmailboxaccesscompletedon"].as_str().unwrap())
    );
    assert_eq!(
        report.last_sync.error_count,
        m["lastsyncerrorcount"].as_i64()
    );
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.severity != mailsync_core::Severity::Error),
        "a healthy mailbox: {:?}",
        report.findings
    );
}
