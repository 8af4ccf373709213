//! `POST /api/data/v9.2/$batch` and the service protection limits, against the real
//! binary: `mailsync serve --db <temp> --seed demo` (and `--seed scale:10200` for 1,000
//! approvals in one change set), signed in as the demo users (admin: System + Global
//! Administrator; megan: System Administrator only, so her approval of an Exchange
//! Online mailbox is accepted but not as a Microsoft 365 administrator's).

mod common;

use std::time::{Duration, Instant};

use common::{request, Resp, Server, TempDir};
use serde_json::{json, Value};

const PASSWORD: &str = "batch test password";
const API: &str = "/api/data/v9.2";

struct Org {
    server: Server,
    _dir: TempDir,
}

impl Org {
    fn start(tag: &str, seed: &str, extra: &[&str]) -> Org {
        let dir = TempDir::dist(tag);
        let server = Server::start_with(dir.path(), Some(seed), Some(PASSWORD), extra);
        Org { server, _dir: dir }
    }

    fn login(&self, user: &str) -> User {
        let body = json!({"username": user, "password": PASSWORD}).to_string();
        let r = request(
            self.server.port,
            "POST",
            "/api/auth/login",
            &[("Content-Type", "application/json")],
            &body,
        );
        assert_eq!(r.status, 200, "{user}: {}", r.body);
        User {
            port: self.server.port,
            bearer: format!("Bearer {}", r.json()["access_token"].as_str().unwrap()),
        }
    }
}

struct User {
    port: u16,
    bearer: String,
}

impl User {
    fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
        let mut h = vec![("Authorization", self.bearer.as_str())];
        h.extend_from_slice(headers);
        let path = format!("{API}/{path}")
            .replace(' ', "%20")
            .replace('\'', "%27");
        request(self.port, method, &path, &h, body)
    }

    fn get(&self, path: &str) -> Value {
        let r = self.call("GET", path, &[], "");
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        r.json()
    }

    fn batch(&self, body: &str, prefer: Option<&str>) -> Resp {
        let mut h = vec![("Content-Type", "multipart/mixed; boundary=batch_test")];
        if let Some(p) = prefer {
            h.push(("Prefer", p));
        }
        self.call("POST", "$batch", &h, body)
    }
}

/// One operation of a request batch.
struct Op {
    method: &'static str,
    url: String,
    body: Option<Value>,
}

fn get(url: impl Into<String>) -> Op {
    Op {
        method: "GET",
        url: url.into(),
        body: None,
    }
}

fn patch(url: impl Into<String>, body: Value) -> Op {
    Op {
        method: "PATCH",
        url: url.into(),
        body: Some(body),
    }
}

enum Part {
    Op(Op),
    ChangeSet(Vec<Op>),
}

fn write_op(out: &mut String, op: &Op, content_id: Option<usize>) {
    out.push_str("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n");
    if let Some(id) = content_id {
        out.push_str(&format!("Content-ID: {id}\r\n"));
    }
    out.push_str(&format!("\r\n{} {} HTTP/1.1\r\n", op.method, op.url));
    match &op.body {
        Some(b) => out.push_str(&format!(
            "Content-Type: application/json\r\nIf-Match: *\r\n\r\n{b}\r\n"
        )),
        None => out.push_str("Accept: application/json\r\n\r\n"),
    }
}

/// A request body with boundary `batch_test` (change sets `changeset_<n>`).
fn batch_body(parts: &[Part]) -> String {
    let mut out = String::new();
    for (n, p) in parts.iter().enumerate() {
        out.push_str("--batch_test\r\n");
        match p {
            Part::Op(op) => write_op(&mut out, op, None),
            Part::ChangeSet(ops) => {
                out.push_str(&format!(
                    "Content-Type: multipart/mixed; boundary=changeset_{n}\r\n\r\n"
                ));
                for (i, op) in ops.iter().enumerate() {
                    out.push_str(&format!("--changeset_{n}\r\n"));
                    write_op(&mut out, op, Some(i + 1));
                }
                out.push_str(&format!("--changeset_{n}--\r\n"));
            }
        }
    }
    out.push_str("--batch_test--\r\n");
    out
}

/// One answered operation of a response batch.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_id: Option<String>,
    headers: Vec<(String, String)>,
    body: String,
}

#[derive(Debug)]
enum Answered {
    One(Answer),
    ChangeSet(Vec<Answer>),
}

fn boundary_of(content_type: &str) -> String {
    content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .unwrap_or_else(|| panic!("no boundary in {content_type:?}"))
        .to_string()
}

fn split<'a>(body: &'a str, boundary: &str) -> Vec<&'a str> {
    let open = format!("--{boundary}\r\n");
    let close = format!("--{boundary}--");
    let end = body.find(&close).expect("closing delimiter");
    body[..end]
        .split(&open)
        .skip(1)
        .map(|p| p.strip_suffix("\r\n").unwrap_or(p))
        .collect()
}

fn head(part: &str) -> (Vec<(String, String)>, &str) {
    let (h, rest) = part.split_once("\r\n\r\n").unwrap_or((part, ""));
    let headers = h
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (headers, rest)
}

fn answer(part: &str) -> Answer {
    let (mime, http) = head(part);
    assert!(
        mime.iter()
            .any(|(k, v)| k == "content-type" && v == "application/http"),
        "{part}"
    );
    let (status_and_headers, body) = http.split_once("\r\n\r\n").unwrap();
    let mut lines = status_and_headers.lines();
    let status_line = lines.next().unwrap();
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
    let status = status_line[9..12].parse().unwrap();
    Answer {
        status,
        content_id: mime
            .iter()
            .find(|(k, _)| k == "content-id")
            .map(|(_, v)| v.clone()),
        headers: lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect(),
        body: body.trim_end().to_string(),
    }
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn parse_response(r: &Resp) -> Vec<Answered> {
    assert_eq!(r.status, 200, "{}", r.body);
    let ct = r.header("content-type").unwrap();
    assert!(ct.starts_with("multipart/mixed"), "{ct}");
    let b = boundary_of(ct);
    assert!(b.starts_with("batchresponse_"), "{b}");
    split(&r.body, &b)
        .into_iter()
        .map(|part| {
            let (mime, rest) = head(part);
            let ct = mime
                .iter()
                .find(|(k, _)| k == "content-type")
                .map(|(_, v)| v.as_str())
                .unwrap_or("");
            if ct.starts_with("multipart/mixed") {
                let cs = boundary_of(ct);
                assert!(cs.starts_with("changesetresponse_"), "{cs}");
                Answered::ChangeSet(split(rest, &cs).into_iter().map(answer).collect())
            } else {
                Answered::One(answer(part))
            }
        })
        .collect()
}

fn one(a: &Answered) -> &Answer {
    match a {
        Answered::One(a) => a,
        Answered::ChangeSet(_) => panic!("expected one answer, got a change set: {a:?}"),
    }
}

/// Mailbox ids and approvals of a query.
fn mailboxes(admin: &User, filter: &str, top: usize) -> Vec<(String, i64)> {
    let v = admin.get(&format!(
        "mailboxes?$select=mailboxid,emailrouteraccessapproval&$filter={filter}&$top={top}"
    ));
    v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["mailboxid"].as_str().unwrap().to_string(),
                m["emailrouteraccessapproval"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn approval(admin: &User, id: &str) -> i64 {
    admin.get(&format!("mailboxes({id})"))["emailrouteraccessapproval"]
        .as_i64()
        .unwrap()
}

#[test]
fn batches_against_the_demo_organization() {
    let org = Org::start("batch-demo", "demo", &[]);
    let admin = org.login("admin");
    let megan = org.login("megan");
    let exo = admin.get(
        "emailserverprofiles?$select=emailserverprofileid&$filter=servertype eq 0 and incomingcredentialretrieval eq 2&$top=1",
    )["value"][0]["emailserverprofileid"]
        .as_str()
        .unwrap()
        .to_string();

    // A batch of GETs: relative, rooted and absolute URLs; a 404 among them is reported
    // in its place (continue-on-error) and the next still answers.
    let some = mailboxes(&admin, "emailrouteraccessapproval ne 1", 3);
    let port = org.server.port;
    let body = batch_body(&[
        Part::Op(get("mailboxes?$select=name&$top=2&$count=true")),
        Part::Op(get(format!("{API}/mailboxes({})", some[0].0))),
        Part::Op(get(format!(
            "http://127.0.0.1:{port}{API}/mailboxes({})?$select=name",
            some[1].0
        ))),
        Part::Op(get("mailboxes(00000000-0000-4000-8000-000000000000)")),
        Part::Op(get("nosuchset")),
        Part::Op(get("WhoAmI")),
    ]);
    let r = admin.batch(&body, Some("odata.continue-on-error"));
    assert!(r.header("server-timing").is_some());
    let parts = parse_response(&r);
    assert_eq!(parts.len(), 6, "{}", r.body);
    let first = one(&parts[0]);
    assert_eq!(first.status, 200);
    assert_eq!(first.json()["value"].as_array().unwrap().len(), 2);
    assert!(first.json()["@odata.count"].as_i64().unwrap() > 2);
    let second = one(&parts[1]);
    assert_eq!(second.status, 200);
    assert_eq!(second.json()["mailboxid"], some[0].0.as_str());
    assert!(second.header("ETag").is_some_and(|e| e.starts_with("W/")));
    assert_eq!(one(&parts[2]).json()["mailboxid"], some[1].0.as_str());
    let missing = one(&parts[3]);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"]["code"], "0x80040217");
    assert_eq!(one(&parts[4]).status, 404);
    // A function answers inside a batch as it does alone.
    let who = one(&parts[5]);
    assert_eq!(who.status, 200, "{}", who.body);
    assert!(who.json()["UserId"].is_string(), "{}", who.body);

    // Without continue-on-error, the batch stops at the first failure.
    let body = batch_body(&[
        Part::Op(get("mailboxes?$top=1")),
        Part::Op(get("nosuchset")),
        Part::Op(get("mailboxes?$top=1")),
    ]);
    let parts = parse_response(&admin.batch(&body, None));
    assert_eq!(parts.len(), 2);
    assert_eq!(one(&parts[1]).status, 404);

    // A change set of PATCHes (megan, mailboxes not on Exchange Online): all applied.
    let others = mailboxes(
        &admin,
        &format!("_emailserverprofile_value ne {exo} and emailrouteraccessapproval ne 1"),
        3,
    );
    assert_eq!(others.len(), 3);
    let body = batch_body(&[Part::ChangeSet(
        others
            .iter()
            .map(|(id, _)| {
                patch(
                    format!("mailboxes({id})"),
                    json!({"emailrouteraccessapproval": 1}),
                )
            })
            .collect(),
    )]);
    let parts = parse_response(&megan.batch(&body, None));
    assert_eq!(parts.len(), 1);
    let Answered::ChangeSet(answers) = &parts[0] else {
        panic!("{parts:?}")
    };
    assert_eq!(answers.len(), 3);
    for (a, (id, _)) in answers.iter().zip(&others) {
        assert_eq!(a.status, 204, "{}", a.body);
        assert!(a
            .header("OData-EntityId")
            .unwrap()
            .ends_with(&format!("mailboxes({id})")));
    }
    assert_eq!(answers[2].content_id.as_deref(), Some("3"));
    for (id, _) in &others {
        assert_eq!(approval(&admin, id), 1);
    }

    // A change set where one operation is refused (a name past its MaxLength) among
    // others: the refusal is the change set's only answer and nothing in it is applied.
    let more = mailboxes(
        &admin,
        &format!("_emailserverprofile_value ne {exo} and emailrouteraccessapproval ne 1"),
        2,
    );
    let exo_box = mailboxes(
        &admin,
        &format!(
            "_emailserverprofile_value eq {exo} and emailrouteraccessapproval ne 1 and regardingobjecttypecode eq 'systemuser'"
        ),
        1,
    );
    let ops = vec![
        patch(
            format!("mailboxes({})", more[0].0),
            json!({"emailrouteraccessapproval": 1}),
        ),
        patch(
            format!("mailboxes({})", exo_box[0].0),
            json!({"emailrouteraccessapproval": 1, "name": "n".repeat(201)}),
        ),
        patch(
            format!("mailboxes({})", more[1].0),
            json!({"emailrouteraccessapproval": 1}),
        ),
    ];
    let parts = parse_response(&megan.batch(&batch_body(&[Part::ChangeSet(ops)]), None));
    assert_eq!(parts.len(), 1);
    let refused = one(&parts[0]);
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.content_id.as_deref(), Some("2"));
    assert!(refused.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("maximum allowed length"));
    assert_eq!(approval(&admin, &more[0].0), more[0].1, "rolled back");
    assert_eq!(approval(&admin, &more[1].0), more[1].1);
    assert_eq!(approval(&admin, &exo_box[0].0), exo_box[0].1);

    // The same operations independently, with continue-on-error: the refused one is
    // reported in its place, the others are applied.
    let parts = parse_response(&megan.batch(
        &batch_body(&[
            Part::Op(patch(
                format!("mailboxes({})", more[0].0),
                json!({"emailrouteraccessapproval": 1}),
            )),
            Part::Op(patch(
                format!("mailboxes({})", exo_box[0].0),
                json!({"emailrouteraccessapproval": 1, "name": "n".repeat(201)}),
            )),
            Part::Op(patch(
                format!("mailboxes({})", more[1].0),
                json!({"emailrouteraccessapproval": 1}),
            )),
        ]),
        Some("odata.continue-on-error"),
    ));
    let statuses: Vec<u16> = parts.iter().map(|p| one(p).status).collect();
    assert_eq!(statuses, [204, 400, 204]);
    assert_eq!(approval(&admin, &more[0].0), 1);
    assert_eq!(approval(&admin, &more[1].0), 1);
    assert_eq!(approval(&admin, &exo_box[0].0), exo_box[0].1);
    // megan's approval of the Exchange Online mailbox is accepted, as Dataverse does,
    // but not as a Microsoft 365 administrator's: it will not synchronize until one
    // approves it (the console reads approvals back and says so).
    let parts = parse_response(&megan.batch(
        &batch_body(&[Part::Op(patch(
            format!("mailboxes({})", exo_box[0].0),
            json!({"emailrouteraccessapproval": 1}),
        ))]),
        None,
    ));
    assert_eq!(one(&parts[0]).status, 204);
    let r = request(
        admin.port,
        "GET",
        &format!(
            "{API}/mailboxes({})?$select=emailrouteraccessapproval,isemailaddressapprovedbyo365admin",
            exo_box[0].0
        ),
        &[("Authorization", &admin.bearer)],
        "",
    );
    assert_eq!(r.json()["emailrouteraccessapproval"], 1);
    assert_eq!(r.json()["isemailaddressapprovedbyo365admin"], false);

    // Prefer: return=representation and a stale If-Match inside a batch.
    let body = format!(
        "--batch_test\r\nContent-Type: application/http\r\n\r\n\
         PATCH mailboxes({id}) HTTP/1.1\r\nContent-Type: application/json\r\n\
         Prefer: return=representation\r\n\r\n{{\"name\":\"Renamed in a batch\"}}\r\n\
         --batch_test\r\nContent-Type: application/http\r\n\r\n\
         PATCH mailboxes({id}) HTTP/1.1\r\nContent-Type: application/json\r\n\
         If-Match: W/\"1\"\r\n\r\n{{\"name\":\"Stale\"}}\r\n--batch_test--\r\n",
        id = more[0].0
    );
    let parts = parse_response(&admin.batch(&body, Some("odata.continue-on-error")));
    assert_eq!(one(&parts[0]).status, 200);
    assert_eq!(one(&parts[0]).json()["name"], "Renamed in a batch");
    assert_eq!(one(&parts[1]).status, 412);

    // 1,001 operations: 400 with the limit, nothing runs.
    let ops: Vec<Part> = (0..1001)
        .map(|_| Part::Op(get("mailboxes?$top=1")))
        .collect();
    let r = admin.batch(&batch_body(&ops), None);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("1000"));

    // Malformed bodies and headers: 400 with a message, never a 500.
    for (ct, body) in [
        ("multipart/mixed; boundary=batch_test", "not multipart at all"),
        ("multipart/mixed; boundary=batch_test", "--batch_test\r\nContent-Type: application/http\r\n\r\nGET mailboxes HTTP/1.1\r\n"),
        ("multipart/mixed; boundary=batch_test", "--batch_test--\r\n"),
        ("multipart/mixed", "--batch_test\r\n--batch_test--\r\n"),
        ("application/json", "{}"),
        ("multipart/mixed; boundary=batch_test", "--batch_test\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n--cs\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--cs--\r\n--batch_test--\r\n"),
    ] {
        let r = admin.call("POST", "$batch", &[("Content-Type", ct)], body);
        assert_eq!(r.status, 400, "{body:?}: {}", r.body);
        assert_eq!(r.error_code(), "0x80040203");
    }
    // In a change set, `$<Content-ID>` as a bind's value is the record created before:
    // a profile and a mailbox on it in one go.
    let post = |url: &str, body: Value| Op {
        method: "POST",
        url: url.to_string(),
        body: Some(body),
    };
    let body = batch_body(&[Part::ChangeSet(vec![
        post(
            "emailserverprofiles",
            json!({"name": "Batch-made profile", "servertype": 4,
            "useautodiscover": false, "incomingcredentialretrieval": 0, "outgoingcredentialretrieval": 0}),
        ),
        post(
            "mailboxes",
            json!({"name": "Batch-made mailbox", "emailaddress": "batch@contoso.com",
            "emailserverprofile@odata.bind": "$1"}),
        ),
    ])]);
    let parts = parse_response(&admin.batch(&body, None));
    let Answered::ChangeSet(answers) = &parts[0] else {
        panic!("{parts:?}")
    };
    // Creates in a change set answer as alone: 204 with OData-EntityId.
    assert!(answers.iter().all(|a| a.status == 204), "{answers:?}");
    let profile_url = answers[0].header("OData-EntityId").unwrap();
    let profile_id = &profile_url[profile_url.len() - 37..profile_url.len() - 1];
    let made = admin
        .get("mailboxes?$select=_emailserverprofile_value&$filter=name eq 'Batch-made mailbox'");
    assert_eq!(made["value"][0]["_emailserverprofile_value"], profile_id);
    // A reference to nothing refuses the change set.
    let body = batch_body(&[Part::ChangeSet(vec![post(
        "mailboxes",
        json!({"name": "Unbound", "emailserverprofile@odata.bind": "$7"}),
    )])]);
    let parts = parse_response(&admin.batch(&body, None));
    let a = one(&parts[0]);
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("'$7'"), "{}", a.body);
    // A part that is not a request is that operation's 400.
    let parts = parse_response(&admin.batch(
        "--batch_test\r\nContent-Type: application/http\r\n\r\nnonsense\r\n--batch_test--\r\n",
        None,
    ));
    assert_eq!(one(&parts[0]).status, 400);
    assert_eq!(admin.call("GET", "$batch", &[], "").status, 405);
    // Over the 16 MB body limit: a 413 in Dataverse's shape.
    let huge = "x".repeat(17 * 1024 * 1024);
    let r = admin.call(
        "POST",
        "$batch",
        &[("Content-Type", "multipart/mixed; boundary=batch_test")],
        &huge,
    );
    assert_eq!(r.status, 413);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("16 MB"),
        "{}",
        r.body
    );
    // Signed out: 401.
    let r = request(
        port,
        "POST",
        &format!("{API}/$batch"),
        &[("Content-Type", "multipart/mixed; boundary=b")],
        "--b--",
    );
    assert_eq!(r.status, 401);
}

/// How many mailboxes have this approval.
/// Mailboxes with this approval: an aggregate, since `$count` stops at 5,000.
fn count_approval(admin: &User, value: i64) -> i64 {
    admin.get(&format!(
        "mailboxes?$apply=filter(emailrouteraccessapproval eq {value})/aggregate($count as n)"
    ))["value"][0]["n"]
        .as_i64()
        .unwrap()
}

#[test]
fn approves_a_thousand_mailboxes_in_one_change_set() {
    // scale:N makes the mailboxes of user numbers ending in 7 pending: 10,200 mailboxes
    // give 1,020 pending, so 1,000 real approvals (no PATCH that changes nothing).
    let org = Org::start("batch-scale", "scale:10200", &[]);
    let admin = org.login("admin");
    let pending_before = count_approval(&admin, 2);
    let approved_before = count_approval(&admin, 1);
    assert_eq!(pending_before, 1020);
    let chosen: Vec<String> = mailboxes(&admin, "emailrouteraccessapproval eq 2", 1000)
        .into_iter()
        .map(|(id, a)| {
            assert_eq!(a, 2);
            id
        })
        .collect();
    assert_eq!(chosen.len(), 1000);
    let ops = chosen
        .iter()
        .map(|id| {
            patch(
                format!("mailboxes({id})"),
                json!({"emailrouteraccessapproval": 1}),
            )
        })
        .collect();
    let body = batch_body(&[Part::ChangeSet(ops)]);
    let started = Instant::now();
    let r = admin.batch(&body, None);
    let wall = started.elapsed();
    let parts = parse_response(&r);
    let Answered::ChangeSet(answers) = &parts[0] else {
        panic!("{parts:?}")
    };
    assert_eq!(answers.len(), 1000);
    assert!(answers.iter().all(|a| a.status == 204));
    let timing = r.header("server-timing").unwrap().to_string();
    let ms: f64 = timing
        .strip_prefix("batch;dur=")
        .and_then(|d| d.parse().ok())
        .unwrap();
    eprintln!("1,000 approvals in one change set: {ms:.1} ms server-side, {wall:?} wall");
    // Well under a second in release; debug builds (cargo test) are slower.
    assert!(ms < 5000.0, "{timing}");
    assert_eq!(count_approval(&admin, 1), approved_before + 1000);
    assert_eq!(count_approval(&admin, 2), pending_before - 1000);
    let still_pending: std::collections::HashSet<String> =
        mailboxes(&admin, "emailrouteraccessapproval eq 2", 5000)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
    assert_eq!(still_pending.len(), 20);
    assert!(chosen.iter().all(|id| !still_pending.contains(id)));
    for id in chosen.iter().step_by(97) {
        assert_eq!(approval(&admin, id), 1);
    }
}

#[test]
fn throttles_per_user_with_retry_after() {
    let org = Org::start(
        "batch-throttle",
        "demo",
        &["--max-requests-per-5min", "5", "--throttle-window", "2"],
    );
    let admin = org.login("admin");
    let megan = org.login("megan");
    let batch = batch_body(&[
        Part::Op(get("mailboxes?$top=1")),
        Part::Op(get("queues?$top=1")),
    ]);
    // A $batch counts as one request, whatever it holds.
    for _ in 0..2 {
        assert_eq!(admin.batch(&batch, None).status, 200);
    }
    for _ in 0..3 {
        assert_eq!(admin.call("GET", "mailboxes?$top=1", &[], "").status, 200);
    }
    let r = admin.call("GET", "mailboxes?$top=1", &[], "");
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.error_code(), "0x80072322");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    // Another user has their own budget.
    assert_eq!(megan.call("GET", "mailboxes?$top=1", &[], "").status, 200);
    std::thread::sleep(Duration::from_secs(wait) + Duration::from_millis(100));
    assert_eq!(admin.call("GET", "mailboxes?$top=1", &[], "").status, 200);
}
