//! The authorization matrix (issue 10): every entity set of core's model (so that a
//! table added later must get its row here) × every verb × every role and the role
//! pairs the approval rules use, each sent alone, inside a `$batch` and (writes) inside
//! a change set, against the real binary and a demo organization. The expected answer
//! of every cell is written in `EXPECTED` below.

mod common;

use std::collections::HashSet;

use common::{request, Resp, Server, TempDir};
use serde_json::{json, Value};

const PASSWORD: &str = "matrix test password";
const API: &str = "/api/data/v9.2";

/// The columns of the matrix: who asks.
const ROLES: [(&str, &str); 8] = [
    ("System Administrator", "megan"),
    ("Global Administrator", "patti"),
    ("Exchange Administrator", "alex"),
    ("Delegated Mailbox Approver", "diego"),
    ("System Administrator + Exchange Administrator", "lidia"),
    (
        "System Administrator + Delegated Mailbox Approver",
        "isaiah",
    ),
    ("owner without a role", "nestor"),
    ("another user without a role", "joni"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    GetAll,
    GetKey,
    Post,
    Patch,
    Delete,
}
use Verb::*;

/// The expected answer of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// 200 with every record of the table.
    All,
    /// 200 with the caller's own records only (fewer than all).
    Own,
    /// 200 (a read) or 204 (a change).
    Ok,
    /// A create: 204 with OData-EntityId, as Dataverse answers a basic create.
    Created,
    /// 403: not this role's privilege.
    Denied,
    /// 404: outside the caller's view.
    Hidden,
    /// 405: no one does this to this table.
    Never,
}
use Expect::*;

/// The matrix. Key operations use records made for the owner (`nestor`): his user
/// record, his mailbox on a profile of his own, an alert and an email of that mailbox.
/// Columns: as `ROLES`.
#[rustfmt::skip]
const EXPECTED: &[(&str, Verb, [Expect; 8])] = &[
    //                                SysAdm   Global   ExAdm    DMA      Sys+Ex   Sys+DMA  Owner    Other
    ("systemusers",            GetAll, [All,     All,     All,     All,     All,     All,     Own,     Own]),
    ("systemusers",            GetKey, [Ok,      Ok,      Ok,      Ok,      Ok,      Ok,      Ok,      Hidden]),
    ("systemusers",            Post,   [Created, Created, Denied,  Denied,  Created, Created, Denied,  Denied]),
    ("systemusers",            Patch,  [Ok,      Ok,      Denied,  Denied,  Ok,      Ok,      Denied,  Denied]),
    ("systemusers",            Delete, [Ok,      Ok,      Denied,  Denied,  Ok,      Ok,      Denied,  Denied]),
    ("queues",                 GetAll, [All,     All,     All,     All,     All,     All,     Own,     Own]),
    ("queues",                 GetKey, [Ok,      Ok,      Ok,      Ok,      Ok,      Ok,      Hidden,  Hidden]),
    ("queues",                 Post,   [Created, Created, Denied,  Denied,  Created, Created, Denied,  Denied]),
    ("queues",                 Patch,  [Ok,      Ok,      Denied,  Denied,  Ok,      Ok,      Denied,  Denied]),
    ("queues",                 Delete, [Ok,      Ok,      Denied,  Denied,  Ok,      Ok,      Denied,  Denied]),
    ("emailserverprofiles",    GetAll, [All,     All,     All,     All,     All,     All,     Own,     Own]),
    ("emailserverprofiles",    GetKey, [Ok,      Ok,      Ok,      Ok,      Ok,      Ok,      Ok,      Hidden]),
    ("emailserverprofiles",    Post,   [Created, Created, Denied,  Denied,  Created, Created, Denied,  Denied]),
    ("emailserverprofiles",    Patch,  [Ok,      Ok,      Denied,  Denied,  Ok,      Ok,      Denied,  Denied]),
    ("emailserverprofiles",    Delete, [Ok,      Ok,      Denied,  Denied,  Ok,      Ok,      Denied,  Denied]),
    ("mailboxes",              GetAll, [All,     All,     All,     All,     All,     All,     Own,     Own]),
    ("mailboxes",              GetKey, [Ok,      Ok,      Ok,      Ok,      Ok,      Ok,      Ok,      Hidden]),
    ("mailboxes",              Post,   [Created, Created, Denied,  Denied,  Created, Created, Denied,  Denied]),
    ("mailboxes",              Patch,  [Ok,      Ok,      Ok,      Ok,      Ok,      Ok,      Ok,      Hidden]),
    ("mailboxes",              Delete, [Ok,      Ok,      Denied,  Denied,  Ok,      Ok,      Denied,  Denied]),
    ("tracelogs",              GetAll, [All,     All,     All,     All,     All,     All,     Own,     Own]),
    ("tracelogs",              GetKey, [Ok,      Ok,      Ok,      Ok,      Ok,      Ok,      Ok,      Hidden]),
    ("tracelogs",              Post,   [Created, Created, Denied,  Denied,  Created, Created, Denied,  Denied]),
    ("tracelogs",              Patch,  [Never,   Never,   Never,   Never,   Never,   Never,   Never,   Never]),
    ("tracelogs",              Delete, [Ok,      Ok,      Ok,      Ok,      Ok,      Ok,      Ok,      Hidden]),
    ("organizations",          GetAll, [All,     All,     All,     All,     All,     All,     Denied,  Denied]),
    ("organizations",          GetKey, [Ok,      Ok,      Ok,      Ok,      Ok,      Ok,      Denied,  Denied]),
    ("organizations",          Post,   [Never,   Never,   Never,   Never,   Never,   Never,   Never,   Never]),
    ("organizations",          Patch,  [Ok,      Ok,      Denied,  Denied,  Ok,      Ok,      Denied,  Denied]),
    ("organizations",          Delete, [Never,   Never,   Never,   Never,   Never,   Never,   Never,   Never]),
    ("emails",                 GetAll, [All,     All,     All,     All,     All,     All,     Own,     Own]),
    ("emails",                 GetKey, [Ok,      Ok,      Ok,      Ok,      Ok,      Ok,      Ok,      Hidden]),
    ("emails",                 Post,   [Created, Created, Denied,  Denied,  Created, Created, Denied,  Denied]),
    ("emails",                 Patch,  [Ok,      Ok,      Denied,  Denied,  Ok,      Ok,      Denied,  Denied]),
    ("emails",                 Delete, [Ok,      Ok,      Denied,  Denied,  Ok,      Ok,      Denied,  Denied]),
    ("mailsync_syncstatistics", GetAll, [All,    All,     All,     All,     All,     All,     Denied,  Denied]),
    ("mailsync_syncstatistics", GetKey, [Hidden, Hidden,  Hidden,  Hidden,  Hidden,  Hidden,  Denied,  Denied]),
    ("mailsync_syncstatistics", Post,   [Never,  Never,   Never,   Never,   Never,   Never,   Never,   Never]),
    ("mailsync_syncstatistics", Patch,  [Never,  Never,   Never,   Never,   Never,   Never,   Never,   Never]),
    ("mailsync_syncstatistics", Delete, [Never,  Never,   Never,   Never,   Never,   Never,   Never,   Never]),
    // The owner is a member of the fixture's team; the other user of none.
    ("teams",                  GetAll, [All,     All,     All,     All,     All,     All,     Own,     Own]),
    ("teams",                  GetKey, [Ok,      Ok,      Ok,      Ok,      Ok,      Ok,      Ok,      Hidden]),
    ("teams",                  Post,   [Created, Created, Denied,  Denied,  Created, Created, Denied,  Denied]),
    ("teams",                  Patch,  [Ok,      Ok,      Denied,  Denied,  Ok,      Ok,      Denied,  Denied]),
    ("teams",                  Delete, [Ok,      Ok,      Denied,  Denied,  Ok,      Ok,      Denied,  Denied]),
    // Appointments, contacts and tasks: everyone's own (approvers included: they read
    // the mail configuration, not others' contacts); creating one for someone else is an
    // Assign, administrators only (the bodies name the owner).
    ("appointments",           GetAll, [All,     All,     Own,     Own,     All,     All,     Own,     Own]),
    ("appointments",           GetKey, [Ok,      Ok,      Hidden,  Hidden,  Ok,      Ok,      Ok,      Hidden]),
    ("appointments",           Post,   [Created, Created, Denied,  Denied,  Created, Created, Created, Denied]),
    ("appointments",           Patch,  [Ok,      Ok,      Hidden,  Hidden,  Ok,      Ok,      Ok,      Hidden]),
    ("appointments",           Delete, [Ok,      Ok,      Hidden,  Hidden,  Ok,      Ok,      Ok,      Hidden]),
    ("contacts",               GetAll, [All,     All,     Own,     Own,     All,     All,     Own,     Own]),
    ("contacts",               GetKey, [Ok,      Ok,      Hidden,  Hidden,  Ok,      Ok,      Ok,      Hidden]),
    ("contacts",               Post,   [Created, Created, Denied,  Denied,  Created, Created, Created, Denied]),
    ("contacts",               Patch,  [Ok,      Ok,      Hidden,  Hidden,  Ok,      Ok,      Ok,      Hidden]),
    ("contacts",               Delete, [Ok,      Ok,      Hidden,  Hidden,  Ok,      Ok,      Ok,      Hidden]),
    // An appointment's parties: read with the appointment, written only through it.
    ("activityparties",        GetAll, [All,     All,     Own,     Own,     All,     All,     Own,     Own]),
    ("activityparties",        GetKey, [Ok,      Ok,      Hidden,  Hidden,  Ok,      Ok,      Ok,      Hidden]),
    ("activityparties",        Post,   [Never,   Never,   Never,   Never,   Never,   Never,   Never,   Never]),
    ("activityparties",        Patch,  [Never,   Never,   Never,   Never,   Never,   Never,   Never,   Never]),
    ("activityparties",        Delete, [Never,   Never,   Never,   Never,   Never,   Never,   Never,   Never]),
    ("tasks",                  GetAll, [All,     All,     Own,     Own,     All,     All,     Own,     Own]),
    ("tasks",                  GetKey, [Ok,      Ok,      Hidden,  Hidden,  Ok,      Ok,      Ok,      Hidden]),
    ("tasks",                  Post,   [Created, Created, Denied,  Denied,  Created, Created, Created, Denied]),
    ("tasks",                  Patch,  [Ok,      Ok,      Hidden,  Hidden,  Ok,      Ok,      Ok,      Hidden]),
    ("tasks",                  Delete, [Ok,      Ok,      Hidden,  Hidden,  Ok,      Ok,      Ok,      Hidden]),
];

struct Client {
    port: u16,
    bearer: String,
    id: String,
}

impl Client {
    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Resp {
        let mut headers = vec![("Authorization", self.bearer.as_str())];
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        request(self.port, method, &format!("{API}/{path}"), &headers, &body)
    }

    fn ok(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let r = self.send(method, path, body);
        assert!(r.status < 300, "{method} {path}: {} {}", r.status, r.body);
        if r.body.is_empty() {
            Value::Null
        } else {
            r.json()
        }
    }

    /// The id of the record a create made (204 with its OData-EntityId).
    fn create(&self, set: &str, body: Value) -> String {
        let r = self.send("POST", set, Some(&body));
        assert_eq!(r.status, 204, "POST {set}: {}", r.body);
        let url = r.header("odata-entityid").unwrap();
        url[url.rfind('(').unwrap() + 1..url.len() - 1].to_string()
    }

    /// Every id the caller sees in a set (through paging).
    fn ids(&self, set: &str) -> Resp {
        let key = mailsync_core::model::table(set).unwrap().key;
        let r = self.send("GET", &format!("{set}?$select={key}"), None);
        r
    }
}

fn login(port: u16, user: &str) -> Client {
    let body = json!({"username": user, "password": PASSWORD}).to_string();
    let r = request(
        port,
        "POST",
        "/api/auth/login",
        &[("Content-Type", "application/json")],
        &body,
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

/// The records the key operations use, made by the administrator for the owner.
struct Fixture {
    owner: String,
    profile: String,
    mailbox: String,
    alert: String,
    email: String,
    queue: String,
    organization: String,
    team: String,
    appointment: String,
    contact: String,
    task: String,
    /// The organizer party of the owner's appointment.
    party: String,
}

impl Fixture {
    fn make(admin: &Client, owner: &Client, n: &mut usize) -> Fixture {
        let profile = admin.create(
            "emailserverprofiles",
            json!({"name": "Nestor's own profile", "servertype": 4,
                   "incomingserverlocation": "imap.contoso.com",
                   "outgoingserverlocation": "smtp.contoso.com",
                   "incomingcredentialretrieval": 0, "outgoingcredentialretrieval": 0}),
        );
        let mailbox = fresh(admin, "mailboxes", owner, &profile, n);
        let alert = fresh(admin, "tracelogs", owner, &mailbox, n);
        let email = fresh(admin, "emails", owner, &mailbox, n);
        let queue = fresh(admin, "queues", owner, "", n);
        let team = fresh(admin, "teams", owner, "", n);
        admin.ok(
            "POST",
            &format!("teams({team})/teammembership_association/$ref"),
            Some(&json!({"@odata.id": format!("systemusers({})", owner.id)})),
        );
        // Someone else's email, so that "own" is a part of the emails.
        let theirs = fresh(admin, "mailboxes", admin, &profile, n);
        fresh(admin, "emails", admin, &theirs, n);
        let appointment = fresh(admin, "appointments", owner, "", n);
        let contact = fresh(admin, "contacts", owner, "", n);
        let task = fresh(admin, "tasks", owner, "", n);
        // And someone else's appointment, contact and task.
        for set in ["appointments", "contacts", "tasks"] {
            fresh(admin, set, admin, "", n);
        }
        let party = admin.ok(
            "GET",
            &format!("activityparties?$select=activitypartyid&$filter=_activityid_value%20eq%20{appointment}"),
            None,
        )["value"][0]["activitypartyid"]
            .as_str()
            .unwrap()
            .to_string();
        let organization = admin.ok("GET", "organizations?$select=organizationid", None)["value"]
            [0]["organizationid"]
            .as_str()
            .unwrap()
            .to_string();
        Fixture {
            owner: owner.id.clone(),
            profile,
            mailbox,
            alert,
            email,
            queue,
            organization,
            team,
            appointment,
            contact,
            task,
            party,
        }
    }

    /// The record a key operation on `set` uses.
    fn key(&self, set: &str) -> String {
        match set {
            "systemusers" => self.owner.clone(),
            "queues" => self.queue.clone(),
            "emailserverprofiles" => self.profile.clone(),
            "mailboxes" => self.mailbox.clone(),
            "tracelogs" => self.alert.clone(),
            "organizations" => self.organization.clone(),
            "emails" => self.email.clone(),
            "teams" => self.team.clone(),
            "appointments" => self.appointment.clone(),
            "contacts" => self.contact.clone(),
            "tasks" => self.task.clone(),
            "activityparties" => self.party.clone(),
            _ => "00000000-0000-4000-8000-00000000abcd".to_string(),
        }
    }
}

/// The body that creates a record of `set` (`n` keeps names unique), tied to the
/// owner and `parent` (a profile for a mailbox, a mailbox for an alert or an email).
fn create_body(set: &str, owner: &Client, parent: &str, n: usize) -> Value {
    match set {
        "systemusers" => {
            json!({"fullname": format!("Matrix {n}"), "domainname": format!("matrix-{n}"),
                                "internalemailaddress": format!("matrix-{n}@contoso.com")})
        }
        "queues" => json!({"name": format!("Matrix queue {n}")}),
        "teams" => json!({"name": format!("Matrix team {n}"), "teamtype": 0}),
        "emailserverprofiles" => json!({"name": format!("Matrix profile {n}"), "servertype": 4}),
        "mailboxes" => {
            let mut b = json!({"name": format!("Matrix mailbox {n}"),
                               "emailaddress": format!("matrix-{n}@contoso.com"),
                               "regardingobjectid@odata.bind": format!("/systemusers({})", owner.id),
                               "ownerid@odata.bind": format!("/systemusers({})", owner.id)});
            if !parent.is_empty() {
                b["emailserverprofile@odata.bind"] =
                    json!(format!("/emailserverprofiles({parent})"));
            }
            b
        }
        "appointments" => json!({"subject": format!("Matrix appointment {n}"),
                                 "scheduledstart": "2026-12-08T09:00:00Z", "scheduledend": "2026-12-08T10:00:00Z",
                                 "ownerid@odata.bind": format!("/systemusers({})", owner.id),
                                 "appointment_activity_parties": [{
                                     "partyid_systemuser@odata.bind": format!("/systemusers({})", owner.id),
                                     "participationtypemask": 7}]}),
        "activityparties" => {
            json!({"addressused": format!("matrix-{n}@fabrikam.com"), "participationtypemask": 5})
        }
        "contacts" => json!({"firstname": "Matrix", "lastname": format!("Contact {n}"),
                             "emailaddress1": format!("matrix-contact-{n}@fabrikam.com"),
                             "ownerid@odata.bind": format!("/systemusers({})", owner.id)}),
        "tasks" => json!({"subject": format!("Matrix task {n}"), "percentcomplete": 10,
                          "ownerid@odata.bind": format!("/systemusers({})", owner.id)}),
        "tracelogs" => json!({"text": format!("Matrix alert {n}"), "level": 2, "tracecode": 1,
                              "regardingobjectid_mailbox@odata.bind": format!("/mailboxes({parent})")}),
        "emails" => json!({"subject": format!("Matrix email {n}"), "directioncode": true,
                           "sendermailboxid@odata.bind": format!("/mailboxes({parent})"),
                           "ownerid@odata.bind": format!("/systemusers({})", owner.id)}),
        _ => json!({}),
    }
}

/// A new record of `set` for the owner, made by the administrator.
fn fresh(admin: &Client, set: &str, owner: &Client, parent: &str, n: &mut usize) -> String {
    *n += 1;
    admin.create(set, create_body(set, owner, parent, *n))
}

fn patch_body(set: &str, n: usize) -> Value {
    match set {
        "systemusers" => json!({"fullname": format!("Nestor Wilke {n}")}),
        "queues" => json!({"name": format!("Matrix queue renamed {n}")}),
        "teams" => json!({"description": format!("matrix {n}")}),
        "emailserverprofiles" => json!({"description": format!("matrix {n}")}),
        "mailboxes" => json!({"username": format!("matrix-user-{n}")}),
        "tracelogs" => json!({"text": "changed"}),
        "organizations" => json!({"name": format!("Contoso {n}")}),
        "emails" => json!({"subject": format!("Matrix email renamed {n}")}),
        "appointments" => json!({"location": format!("Room {n}")}),
        "contacts" => json!({"jobtitle": format!("Matrix {n}")}),
        "tasks" => json!({"percentcomplete": 50}),
        "activityparties" => json!({"addressused": format!("matrix-{n}@fabrikam.com")}),
        _ => json!({"mailsync_cycles": 1}),
    }
}

/// How a cell's request is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Alone,
    InBatch,
    InChangeSet,
}

/// `(status, body)` of one operation, sent as `mode` says.
fn send(who: &Client, mode: Mode, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
    if mode == Mode::Alone {
        let r = who.send(method, path, body);
        return (r.status, r.body);
    }
    let mut op =
        String::from("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n");
    if mode == Mode::InChangeSet {
        op.push_str("Content-ID: 1\r\n");
    }
    op.push_str(&format!("\r\n{method} {path} HTTP/1.1\r\n"));
    match body {
        Some(b) => op.push_str(&format!("Content-Type: application/json\r\n\r\n{b}\r\n")),
        None => op.push_str("Accept: application/json\r\n\r\n"),
    }
    let batch = match mode {
        Mode::InChangeSet => format!(
            "--batch_m\r\nContent-Type: multipart/mixed; boundary=changeset_m\r\n\r\n\
             --changeset_m\r\n{op}--changeset_m--\r\n--batch_m--\r\n"
        ),
        _ => format!("--batch_m\r\n{op}--batch_m--\r\n"),
    };
    let r = request(
        who.port,
        "POST",
        &format!("{API}/$batch"),
        &[
            ("Authorization", &who.bearer),
            ("Content-Type", "multipart/mixed; boundary=batch_m"),
        ],
        &batch,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // The operation's answer: the first `HTTP/1.1 <status>` line inside the response.
    let at = r.body.find("HTTP/1.1 ").expect("an answer part");
    let status = r.body[at + 9..at + 12].parse().unwrap();
    let rest = &r.body[at..];
    let json = rest
        .find("\r\n\r\n")
        .map(|i| rest[i + 4..].to_string())
        .unwrap_or_default();
    (status, json)
}

/// The ids a JSON collection answer holds.
fn ids_of(body: &str, set: &str) -> HashSet<String> {
    let key = mailsync_core::model::table(set).unwrap().key;
    let v: Value = serde_json::from_str(body.trim().split("\r\n--").next().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{set}: {e}: {body}"));
    v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[key].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_table_verb_and_role_answers_as_the_matrix_says() {
    // Every table of the model has its rows, and nothing else is listed.
    let sets: HashSet<&str> = mailsync_core::model::TABLES
        .iter()
        .map(|t| t.entity_set)
        .collect();
    let listed: HashSet<&str> = EXPECTED.iter().map(|(s, ..)| *s).collect();
    assert_eq!(
        sets, listed,
        "a table of the model is missing from the matrix"
    );
    for set in &sets {
        for verb in [GetAll, GetKey, Post, Patch, Delete] {
            let n = EXPECTED
                .iter()
                .filter(|(s, v, _)| s == set && *v == verb)
                .count();
            assert_eq!(n, 1, "{set} {verb:?}");
        }
    }

    let dir = TempDir::dist("authz");
    let server = Server::start(dir.path(), Some("demo"), Some(PASSWORD));
    let admin = login(server.port, "admin");
    let clients: Vec<Client> = ROLES.iter().map(|(_, u)| login(server.port, u)).collect();
    let owner = &clients[6];
    let mut n = 0;
    let fx = Fixture::make(&admin, owner, &mut n);
    // Everything the administrator sees, per set, to tell "all" from "own".
    let everything = |set: &str| ids_of(&admin.ids(set).body, set);

    let mut failures = Vec::new();
    for (set, verb, expected) in EXPECTED {
        for (col, ((role, user), who)) in ROLES.iter().zip(&clients).enumerate() {
            let want = expected[col];
            let modes: &[Mode] = match verb {
                GetAll | GetKey => &[Mode::Alone, Mode::InBatch],
                _ => &[Mode::Alone, Mode::InBatch, Mode::InChangeSet],
            };
            for &mode in modes {
                let (method, path, body) = match verb {
                    GetAll => {
                        let key = mailsync_core::model::table(set).unwrap().key;
                        ("GET", format!("{set}?$select={key}"), None)
                    }
                    GetKey => ("GET", format!("{set}({})", fx.key(set)), None),
                    Post => {
                        n += 1;
                        let parent = match *set {
                            "mailboxes" => fx.profile.clone(),
                            "tracelogs" | "emails" => fx.mailbox.clone(),
                            _ => String::new(),
                        };
                        (
                            "POST",
                            set.to_string(),
                            Some(create_body(set, owner, &parent, n)),
                        )
                    }
                    Patch => {
                        n += 1;
                        (
                            "PATCH",
                            format!("{set}({})", fx.key(set)),
                            Some(patch_body(set, n)),
                        )
                    }
                    Delete => {
                        // A success deletes: a fresh record then, the fixture's otherwise.
                        let id = if matches!(want, Ok) {
                            let parent = match *set {
                                "mailboxes" => fx.profile.clone(),
                                "tracelogs" | "emails" => fx.mailbox.clone(),
                                _ => String::new(),
                            };
                            fresh(&admin, set, owner, &parent, &mut n)
                        } else {
                            fx.key(set)
                        };
                        ("DELETE", format!("{set}({id})"), None)
                    }
                };
                let (status, answer) = send(who, mode, method, &path, body.as_ref());
                let got = match (status, verb) {
                    (200, GetAll) => {
                        let seen = ids_of(&answer, set);
                        let all = everything(set);
                        if seen == all {
                            All
                        } else if seen.is_subset(&all) && seen.len() < all.len() {
                            Own
                        } else {
                            failures.push(format!("{set} {verb:?} {role} {mode:?}: saw records the administrator does not"));
                            continue;
                        }
                    }
                    // A create answers 204 (201 only with return=representation).
                    (201, _) | (204, Post) => Created,
                    (200 | 204, _) => Ok,
                    (403, _) => Denied,
                    (404, _) => Hidden,
                    (405, _) => Never,
                    _ => {
                        failures.push(format!(
                            "{set} {verb:?} as {role} ({user}) {mode:?}: {status} {}",
                            &answer[..answer.len().min(200)]
                        ));
                        continue;
                    }
                };
                if got != want {
                    failures.push(format!(
                        "{set} {verb:?} as {role} ({user}) {mode:?}: expected {want:?}, got {got:?} ({status} {})",
                        &answer[..answer.len().min(200)]
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} cells differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// What "own" means, checked record by record for the users without a role.
#[test]
fn a_user_without_a_role_sees_only_what_is_theirs() {
    let dir = TempDir::dist("authz-own");
    let server = Server::start(dir.path(), Some("demo"), Some(PASSWORD));
    let admin = login(server.port, "admin");
    let nestor = login(server.port, "nestor");
    let joni = login(server.port, "joni");
    let mut n = 0;
    let fx = Fixture::make(&admin, &nestor, &mut n);
    // His user record only; never the roles of others.
    let users = nestor.ok("GET", "systemusers?$select=systemuserid,roles", None);
    assert_eq!(users["value"].as_array().unwrap().len(), 1);
    assert_eq!(users["value"][0]["systemuserid"], json!(nestor.id));
    // His profile's settings, never its accounts.
    admin.ok(
        "PATCH",
        &format!("emailserverprofiles({})", fx.profile),
        Some(&json!({"incomingcredentialretrieval": 1, "incomingusername": "svc-account@contoso.com"})),
    );
    let p = nestor.ok("GET", &format!("emailserverprofiles({})", fx.profile), None);
    assert_eq!(p["incomingserverlocation"], json!("imap.contoso.com"));
    assert_eq!(p["incomingusername"], Value::Null);
    let p = admin.ok("GET", &format!("emailserverprofiles({})", fx.profile), None);
    assert_eq!(p["incomingusername"], json!("svc-account@contoso.com"));
    // Filtering on a masked column finds nothing: no oracle.
    let r = nestor.ok(
        "GET",
        "emailserverprofiles?$filter=startswith(incomingusername,'svc')",
        None,
    );
    assert_eq!(r["value"].as_array().unwrap().len(), 0);
    // A profile's alert is its owner's (an administrator), not the mailbox owners':
    // they get their own mailbox alert from the engine.
    let profile_alert = admin.create(
        "tracelogs",
        json!({"text": "Profile alert naming someone-else@contoso.com", "level": 3, "tracecode": 1,
               "regardingobjectid_emailserverprofile@odata.bind": format!("/emailserverprofiles({})", fx.profile)}),
    );
    assert_eq!(
        nestor
            .send("GET", &format!("tracelogs({profile_alert})"), None)
            .status,
        404
    );
    // Alerts regarding his mailbox: his, and he deletes them; not joni.
    assert_eq!(
        joni.send("GET", &format!("tracelogs({})", fx.alert), None)
            .status,
        404
    );
    assert_eq!(
        joni.send("DELETE", &format!("tracelogs({})", fx.alert), None)
            .status,
        404
    );
    assert_eq!(
        nestor
            .send("DELETE", &format!("tracelogs({})", fx.alert), None)
            .status,
        204
    );
    // Approvers delete mailbox alerts, but only administrators a profile's.
    let alex = login(server.port, "alex");
    assert_eq!(
        alex.send("DELETE", &format!("tracelogs({profile_alert})"), None)
            .status,
        403
    );
    assert_eq!(
        admin
            .send("DELETE", &format!("tracelogs({profile_alert})"), None)
            .status,
        204
    );
    // The dashboard's figures are his: the mailboxes he counts are his.
    let mine = nestor.ok(
        "GET",
        "mailboxes?$select=_regardingobjectid_value,_ownerid_value&$count=true",
        None,
    );
    for m in mine["value"].as_array().unwrap() {
        assert!(
            m["_regardingobjectid_value"] == json!(nestor.id)
                || m["_ownerid_value"] == json!(nestor.id),
            "{m}"
        );
    }
}

/// Item 2 and 3 of the issue: the columns of a mailbox each role may change.
#[test]
fn mailbox_columns_follow_the_roles() {
    let dir = TempDir::dist("authz-columns");
    let server = Server::start(dir.path(), Some("demo"), Some(PASSWORD));
    let admin = login(server.port, "admin");
    let nestor = login(server.port, "nestor");
    let alex = login(server.port, "alex");
    let mut n = 0;
    let fx = Fixture::make(&admin, &nestor, &mut n);
    let other_profile = admin.create(
        "emailserverprofiles",
        json!({"name": "Shared account profile", "servertype": 4}),
    );
    let path = format!("mailboxes({})", fx.mailbox);
    admin.ok(
        "PATCH",
        &path,
        Some(&json!({"emailrouteraccessapproval": 1})),
    );
    let get = |c: &str| admin.ok("GET", &format!("{path}?$select={c}"), None)[c].clone();
    // The owner: credentials and Test & Enable with its options.
    for body in [
        json!({"username": "nestor@contoso.com", "password": "new secret"}),
        json!({"testemailconfigurationscheduled": true, "orgmarkedasprimaryforexchangesync": true,
               "processemailreceivedafter": "2026-01-01T00:00:00Z"}),
    ] {
        assert_eq!(
            nestor.send("PATCH", &path, Some(&body)).status,
            204,
            "{body}"
        );
    }
    // ... not its profile (keeping the approval), address, delivery, owner or regarding.
    for body in [
        json!({"emailserverprofile@odata.bind": format!("/emailserverprofiles({other_profile})")}),
        json!({"emailaddress": "someone@contoso.com"}),
        json!({"incomingemaildeliverymethod": 0}),
        json!({"ownerid@odata.bind": format!("/systemusers({})", alex.id)}),
        json!({"name": "Renamed by the owner"}),
    ] {
        let r = nestor.send("PATCH", &path, Some(&body));
        assert_eq!(r.status, 403, "{body}: {}", r.body);
    }
    let r = nestor.send(
        "PATCH",
        &path,
        Some(&json!({"regardingobjectid@odata.bind": format!("/systemusers({})", alex.id)})),
    );
    assert_eq!(r.status, 400, "read-only after creation: {}", r.body);
    assert_eq!(get("emailrouteraccessapproval"), json!(1));
    // Sending the values it already has (a form saving every field) is no change.
    let same = json!({"name": get("name"), "emailaddress": get("emailaddress"), "username": "n2"});
    assert_eq!(nestor.send("PATCH", &path, Some(&same)).status, 204);
    // An approver moving it to another profile: approval back to pending ...
    assert_eq!(
        alex.send(
            "PATCH",
            &path,
            Some(&json!({"emailserverprofile@odata.bind": format!("/emailserverprofiles({other_profile})")}))
        )
        .status,
        204
    );
    assert_eq!(get("emailrouteraccessapproval"), json!(2));
    // ... unless it approves in the same change; never the owner (Assign).
    admin.ok("PATCH", &path, Some(&json!({"emailserverprofile@odata.bind": format!("/emailserverprofiles({})", fx.profile)})));
    let r = alex.send(
        "PATCH",
        &path,
        Some(&json!({"emailserverprofile@odata.bind": format!("/emailserverprofiles({other_profile})"),
                     "emailrouteraccessapproval": 1})),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(get("emailrouteraccessapproval"), json!(1));
    let r = alex.send(
        "PATCH",
        &path,
        Some(&json!({"ownerid@odata.bind": format!("/systemusers({})", alex.id)})),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    // The owner may not approve himself: his address is not his sign-in name.
    admin.ok(
        "PATCH",
        &path,
        Some(&json!({"emailrouteraccessapproval": 2})),
    );
    assert_eq!(
        nestor
            .send(
                "PATCH",
                &path,
                Some(&json!({"emailrouteraccessapproval": 1}))
            )
            .status,
        403
    );

    // Microsoft's self-approval: his own user mailbox whose address is his UPN.
    let me = nestor.ok(
        "GET",
        &format!("systemusers({})?$select=domainname", nestor.id),
        None,
    );
    let upn = me["domainname"].as_str().unwrap().to_string();
    assert_eq!(upn, "nestor@contoso.com", "UPN-style sign-in names");
    admin.ok(
        "PATCH",
        &path,
        Some(&json!({"emailaddress": upn, "emailrouteraccessapproval": 2})),
    );
    let r = nestor.send(
        "PATCH",
        &path,
        Some(&json!({"emailrouteraccessapproval": 1})),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(get("emailrouteraccessapproval"), json!(1));
    // Not when the organization requires the privilege for it ...
    let org = admin.ok("GET", "organizations?$select=organizationid", None)["value"][0]
        ["organizationid"]
        .as_str()
        .unwrap()
        .to_string();
    let set_setting = |on: bool| {
        admin.ok(
            "PATCH",
            &format!("organizations({org})"),
            Some(&json!({"orgdborgsettings": format!(
                "<OrgSettings><RequirePrivilegeToSelfApproveEmailAddress>{on}</RequirePrivilegeToSelfApproveEmailAddress></OrgSettings>"
            )})),
        );
    };
    set_setting(true);
    admin.ok(
        "PATCH",
        &path,
        Some(&json!({"emailrouteraccessapproval": 2})),
    );
    let r = nestor.send(
        "PATCH",
        &path,
        Some(&json!({"emailrouteraccessapproval": 1})),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    // ... nor by Test & Enable then, which still schedules the test.
    let r = nestor.send(
        "PATCH",
        &path,
        Some(&json!({"testemailconfigurationscheduled": true})),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(get("emailrouteraccessapproval"), json!(2));
    // Off (the default): his Test & Enable approves it on the way.
    set_setting(false);
    let r = nestor.send(
        "PATCH",
        &path,
        Some(&json!({"testemailconfigurationscheduled": true})),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(get("emailrouteraccessapproval"), json!(1));
    assert_eq!(get("testemailconfigurationscheduled"), json!(true));
}
