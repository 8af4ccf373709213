//! Bulk actions (Approve Email, Reject Email, Test & Enable) over the selected
//! mailboxes: `$batch` requests of at most 1,000 PATCHes with
//! `Prefer: odata.continue-on-error`, progress, then one result per mailbox.
//! Throttling (429 + Retry-After) is honoured by `api::send_raw`. When the
//! organization has no `$batch` (404/405/501), each PATCH is sent on its own.

use gloo_net::http::Method;
use leptos::prelude::*;
use serde_json::json;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use mailsync_core::email_settings::DefaultMethods;

use crate::api::{self, batch, ApiError};

/// One bulk action: its name and the JSON body of each mailbox's PATCH.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkAction {
    pub label: &'static str,
    pub body: serde_json::Value,
}

impl BulkAction {
    pub fn approve() -> Self {
        BulkAction {
            label: "Approve Email",
            body: json!({ "emailrouteraccessapproval": 1 }),
        }
    }

    pub fn reject() -> Self {
        BulkAction {
            label: "Reject Email",
            body: json!({ "emailrouteraccessapproval": 3 }),
        }
    }

    /// What the action would not change on a mailbox whose approval is `approval`
    /// ("already approved"), said instead of a "Done" that did nothing.
    pub fn already(&self, approval: Option<i64>) -> Option<&'static str> {
        match (self.body["emailrouteraccessapproval"].as_i64(), approval) {
            (Some(1), Some(1)) => Some("This mailbox's email address is already approved."),
            (Some(3), Some(3)) => Some("This mailbox's email address is already rejected."),
            _ => None,
        }
    }

    /// Apply Default Email Settings: the organization's default delivery methods and
    /// email server profile (System Settings) onto the mailbox.
    pub fn apply_defaults(methods: DefaultMethods, profile: Option<&str>) -> Self {
        let mut body = serde_json::Map::new();
        for (prop, v) in [
            ("incomingemaildeliverymethod", methods.incoming),
            ("outgoingemaildeliverymethod", methods.outgoing),
            ("actdeliverymethod", methods.act),
        ] {
            if let Some(v) = v {
                body.insert(prop.into(), json!(v));
            }
        }
        if let Some(id) = profile {
            body.insert(
                "emailserverprofile@odata.bind".into(),
                json!(format!("/emailserverprofiles({id})")),
            );
        }
        BulkAction {
            label: "Apply Default Email Settings",
            body: serde_json::Value::Object(body),
        }
    }

    /// Test & Enable with the dialog's options (`after`: a `YYYY-MM-DD` date).
    pub fn test_and_enable(this_org_only: bool, after: Option<String>) -> Self {
        let mut body = json!({
            "testemailconfigurationscheduled": true,
            "orgmarkedasprimaryforexchangesync": this_org_only,
        });
        if let Some(date) = after.filter(|d| !d.is_empty()) {
            body["processemailreceivedafter"] = json!(format!("{date}T00:00:00Z"));
        }
        BulkAction {
            label: "Test & Enable",
            body,
        }
    }
}

/// Reads the organization's defaults and makes Apply Default Email Settings of them.
pub async fn default_settings() -> Result<BulkAction, ApiError> {
    #[derive(serde::Deserialize)]
    struct Org {
        #[serde(default)]
        defaultemailsettings: Option<String>,
        #[serde(default, rename = "_defaultemailserverprofileid_value")]
        profile: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct List {
        value: Vec<Org>,
    }
    let orgs: List = api::get_json(
        "/api/data/v9.2/organizations?$select=defaultemailsettings,_defaultemailserverprofileid_value&$top=1",
    )
    .await?;
    let org = orgs.value.into_iter().next().ok_or_else(|| ApiError {
        status: 404,
        code: None,
        message: "The organization record was not found.".into(),
    })?;
    let methods = DefaultMethods::read(org.defaultemailsettings.as_deref().unwrap_or(""));
    if methods == DefaultMethods::default() && org.profile.is_none() {
        return Err(ApiError {
            status: 0,
            code: None,
            message: "System Settings has no default email settings to apply.".into(),
        });
    }
    Ok(BulkAction::apply_defaults(methods, org.profile.as_deref()))
}

/// What happened to one mailbox.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    Done,
    /// The organization refused it; `retryable` when trying again may help (throttled,
    /// busy, no answer), not when it cannot (privileges, a rule, a missing record).
    Refused {
        reason: String,
        retryable: bool,
    },
    /// Accepted, but reading it back shows it did not take effect.
    NotApplied(String),
    /// Never sent: the run was cancelled first.
    NotSent,
}

/// The outcome for one mailbox, at its place in the selection.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub index: usize,
    pub id: String,
    pub name: String,
    pub state: State,
    /// Whether the organization's record was read back after the change.
    pub checked: bool,
}

impl Outcome {
    pub fn done(&self) -> bool {
        self.state == State::Done
    }
}

/// One mailbox's Test & Enable, as read back while it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct TestResult {
    pub completed: bool,
    /// Incoming, outgoing, ACT: 0 Not Run, 1 Success, 2 Failure.
    pub statuses: [Option<i64>; 3],
}

impl TestResult {
    pub fn failed(&self) -> bool {
        self.statuses.contains(&Some(2))
    }
}

/// A bulk run as the page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub action: BulkAction,
    pub total: usize,
    pub outcomes: Vec<Outcome>,
    pub finished: bool,
    /// Set when the batch endpoint was missing and PATCHes went one by one.
    pub one_by_one: bool,
    /// `Date.now()` when it started, for the estimate of the time left.
    pub started_ms: f64,
    pub cancelled: bool,
    /// Requests sent (batches count as one each), for the record.
    pub requests: u32,
    /// Test & Enable: the results read back so far, by mailbox id.
    pub tests: Option<std::collections::HashMap<String, TestResult>>,
}

impl Run {
    fn new(action: BulkAction, total: usize) -> Run {
        Run {
            action,
            total,
            outcomes: Vec::new(),
            finished: false,
            one_by_one: false,
            started_ms: js_sys::Date::now(),
            cancelled: false,
            requests: 0,
            tests: None,
        }
    }

    /// Milliseconds left, estimated from the pace so far; `None` until something is done.
    pub fn eta_ms(&self, now_ms: f64) -> Option<f64> {
        eta(self.outcomes.len(), self.total, now_ms - self.started_ms)
    }
}

/// The time left of `total` at the pace of `done` in `elapsed_ms`.
pub fn eta(done: usize, total: usize, elapsed_ms: f64) -> Option<f64> {
    (done > 0 && done < total).then(|| elapsed_ms / done as f64 * (total - done) as f64)
}

/// "about 12 s left", "about 3 min left".
pub fn describe_eta(ms: f64) -> String {
    let secs = (ms / 1000.0).ceil().max(1.0) as u64;
    if secs < 90 {
        format!("about {secs} s left")
    } else {
        format!("about {} min left", secs.div_ceil(60))
    }
}

/// Batches sent at once: Dataverse runs a batch's operations one after another, so a
/// few at a time use its 52 concurrent requests and the execution-time limit better
/// than one, without crowding out the user's other work.
pub const CONCURRENT_BATCHES: usize = 4;

/// The profiles on which an approval also needs a Microsoft 365 administrator
/// (core's `rules::needs_o365_admin_approval`), by id.
async fn exchange_online_profiles() -> std::collections::HashSet<String> {
    #[derive(serde::Deserialize)]
    struct P {
        emailserverprofileid: String,
        servertype: Option<i32>,
        incomingcredentialretrieval: Option<i32>,
        outgoingcredentialretrieval: Option<i32>,
    }
    api::fetch_all::<P>(
        "/api/data/v9.2/emailserverprofiles?$select=emailserverprofileid,servertype,\
         incomingcredentialretrieval,outgoingcredentialretrieval"
            .to_string(),
    )
    .await
    .unwrap_or_default()
    .into_iter()
    .filter(|p| {
        mailsync_core::rules::needs_o365_admin_approval(
            p.servertype,
            p.incomingcredentialretrieval,
            p.outgoingcredentialretrieval,
        )
    })
    .map(|p| p.emailserverprofileid)
    .collect()
}

/// Runs `action` over `targets` (id, name, in the selection's order), a few batches at
/// a time, updating `run` as each completes; stops taking new batches when `cancel` is
/// set (what is under way finishes; the rest is reported as not sent). Approvals and
/// rejections are read back: one Dataverse accepted but did not apply is reported with
/// its reason, not counted as done.
pub async fn execute(
    action: BulkAction,
    targets: Vec<(String, String)>,
    run: RwSignal<Option<Run>>,
    cancel: RwSignal<bool>,
) {
    cancel.set(false);
    run.set(Some(Run::new(action.clone(), targets.len())));
    let approval = action.body["emailrouteraccessapproval"].as_i64();
    let exchange_online = match approval {
        Some(1) => exchange_online_profiles().await,
        _ => Default::default(),
    };
    let indexed: Vec<(usize, String, String)> = targets
        .into_iter()
        .enumerate()
        .map(|(i, (id, name))| (i, id, name))
        .collect();
    // The batches not yet taken, shared by the workers (one thread: `Rc<RefCell>`).
    let queue: Rc<RefCell<VecDeque<Vec<Target>>>> = Rc::new(RefCell::new(
        indexed.chunks(batch::MAX_OPS).map(<[_]>::to_vec).collect(),
    ));
    let body = action.body.to_string();
    let batches_work = Rc::new(Cell::new(true));
    let workers = (0..CONCURRENT_BATCHES).map(|_| {
        let queue = queue.clone();
        let body = body.clone();
        let batches_work = batches_work.clone();
        let exchange_online = exchange_online.clone();
        async move {
            loop {
                if cancel.get_untracked() {
                    break;
                }
                let Some(chunk) = queue.borrow_mut().pop_front() else {
                    break;
                };
                let mut outcomes = if batches_work.get() {
                    match send_batch(&chunk, &body, approval.is_some()).await {
                        Ok(answers) => {
                            // An accepted change whose record came back is checked now.
                            answers
                                .into_iter()
                                .map(|(mut o, record)| {
                                    if let (Some(value), Some(record), true) =
                                        (approval, record, o.done())
                                    {
                                        o.state = applied(&record, value, &exchange_online);
                                        o.checked = true;
                                    }
                                    o
                                })
                                .collect()
                        }
                        Err(None) => {
                            batches_work.set(false);
                            run.update(|r| {
                                if let Some(r) = r {
                                    r.one_by_one = true;
                                }
                            });
                            send_each(&chunk, &body, run, cancel).await
                        }
                        Err(Some(e)) => failed_all(&chunk, &e),
                    }
                } else {
                    send_each(&chunk, &body, run, cancel).await
                };
                count_request(run);
                if let Some(value) = approval {
                    // The rest (sent one by one, or answered without the record) is
                    // read back in a batch of its own.
                    if read_back(&mut outcomes, value, &exchange_online).await {
                        count_request(run);
                    }
                }
                run.update(|r| {
                    if let Some(r) = r {
                        r.outcomes.extend(outcomes);
                    }
                });
            }
        }
    });
    futures::future::join_all(workers).await;
    // Cancelled: what was never sent is said so.
    let left: Vec<Outcome> = queue
        .borrow_mut()
        .drain(..)
        .flatten()
        .map(|(index, id, name)| Outcome {
            index,
            id,
            name,
            state: State::NotSent,
            checked: false,
        })
        .collect();
    run.update(|r| {
        if let Some(r) = r {
            r.cancelled = !left.is_empty();
            r.outcomes.extend(left);
            r.finished = true;
        }
    });
}

fn count_request(run: RwSignal<Option<Run>>) {
    run.update(|r| {
        if let Some(r) = r {
            r.requests += 1;
        }
    });
}

fn refused(e: &ApiError) -> State {
    State::Refused {
        reason: e.message.clone(),
        retryable: e.passing(),
    }
}

fn failed_all(chunk: &[(usize, String, String)], e: &ApiError) -> Vec<Outcome> {
    chunk
        .iter()
        .map(|(index, id, name)| Outcome {
            index: *index,
            id: id.clone(),
            name: name.clone(),
            state: refused(e),
            checked: false,
        })
        .collect()
}

/// A mailbox of the run: its place in the selection, its id and its name.
type Target = (usize, String, String);

fn entity_url(id: &str) -> String {
    format!("/api/data/v9.2/mailboxes({id})")
}

/// What an approval's read-back needs of the mailbox.
const READ_BACK: &str =
    "emailrouteraccessapproval,isemailaddressapprovedbyo365admin,_emailserverprofile_value";

/// One `$batch`. `Err(None)`: the organization has no `$batch`. With `read_back`, each
/// update asks for the record as saved (`Prefer: return=representation`, Dataverse's
/// "update with data returned"): the read-back travels in the same request, so 10,000
/// approvals and their read-back take ten batches. The record comes with its outcome
/// (`None` where the organization answered without it).
async fn send_batch(
    chunk: &[(usize, String, String)],
    body: &str,
    read_back: bool,
) -> Result<Vec<(Outcome, Option<serde_json::Value>)>, Option<ApiError>> {
    let ops: Vec<batch::Op> = chunk
        .iter()
        .map(|(_, id, _)| match read_back {
            true => batch::Op {
                prefer: Some("return=representation"),
                ..batch::Op::patch(
                    format!("{}?$select={READ_BACK}", entity_url(id)),
                    body.to_string(),
                )
            },
            false => batch::Op::patch(entity_url(id), body.to_string()),
        })
        .collect();
    let results = api::send_batch_answers(&ops).await?;
    Ok(chunk
        .iter()
        .zip(results)
        .map(|((index, id, name), result)| {
            let (state, record) = match result {
                Ok(text) => (State::Done, serde_json::from_str(&text).ok()),
                Err(e) => (refused(&e), None),
            };
            let outcome = Outcome {
                index: *index,
                id: id.clone(),
                name: name.clone(),
                state,
                checked: false,
            };
            (outcome, record.filter(serde_json::Value::is_object))
        })
        .collect())
}

/// Fallback: one PATCH per mailbox.
async fn send_each(
    chunk: &[(usize, String, String)],
    body: &str,
    run: RwSignal<Option<Run>>,
    cancel: RwSignal<bool>,
) -> Vec<Outcome> {
    let mut out = Vec::new();
    for (index, id, name) in chunk {
        let state = if cancel.get_untracked() {
            State::NotSent
        } else {
            count_request(run);
            match api::send_raw(
                Method::PATCH,
                &entity_url(id),
                &[("Content-Type", "application/json")],
                Some(body),
            )
            .await
            {
                Ok(raw) if raw.ok() => State::Done,
                Ok(raw) => refused(&raw.error()),
                Err(e) => refused(&e),
            }
        };
        out.push(Outcome {
            index: *index,
            id: id.clone(),
            name: name.clone(),
            state,
            checked: false,
        });
    }
    out
}

/// Reads back the approvals (or rejections) Dataverse accepted and nothing checked
/// yet, in one batch: an approval whose value did not change, or one on an Exchange
/// Online profile that no Microsoft 365 administrator made, is not done. Whether a
/// request was sent.
async fn read_back(
    outcomes: &mut [Outcome],
    value: i64,
    exchange_online: &std::collections::HashSet<String>,
) -> bool {
    let accepted: Vec<usize> = (0..outcomes.len())
        .filter(|&i| outcomes[i].done() && !outcomes[i].checked)
        .collect();
    if accepted.is_empty() {
        return false;
    }
    let ops: Vec<batch::Op> = accepted
        .iter()
        .map(|&i| {
            batch::Op::get(format!(
                "{}?$select={READ_BACK}",
                entity_url(&outcomes[i].id)
            ))
        })
        .collect();
    let answers = match api::send_batch_answers(&ops).await {
        Ok(a) => a,
        Err(e) => {
            let why = e.map_or("the organization has no $batch".to_string(), |e| e.message);
            for &i in &accepted {
                outcomes[i].state = State::NotApplied(format!(
                    "Accepted, but it could not be read back to check it took effect: {why}"
                ));
            }
            return true;
        }
    };
    for (&i, answer) in accepted.iter().zip(answers) {
        let state = match answer {
            Err(e) => State::NotApplied(format!(
                "Accepted, but it could not be read back to check it took effect: {}",
                e.message
            )),
            Ok(body) => {
                let record: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                applied(&record, value, exchange_online)
            }
        };
        outcomes[i].state = state;
        outcomes[i].checked = true;
    }
    true
}

/// Whether a mailbox read back shows the approval (`value` 1) or rejection (3).
pub fn applied(
    record: &serde_json::Value,
    value: i64,
    exchange_online: &std::collections::HashSet<String>,
) -> State {
    let now = record["emailrouteraccessapproval"].as_i64();
    if now != Some(value) {
        let label = now
            .and_then(|v| i32::try_from(v).ok())
            .map_or("unknown", |v| {
                mailsync_core::options::label(mailsync_core::options::APPROVALS, v)
            });
        return State::NotApplied(format!(
            "The organization accepted the change, but the mailbox's email address is still \
             {label}."
        ));
    }
    let profile = record["_emailserverprofile_value"].as_str().unwrap_or("");
    if value == 1
        && exchange_online.contains(profile)
        && record["isemailaddressapprovedbyo365admin"] != serde_json::Value::Bool(true)
    {
        return State::NotApplied(
            "Approved, but not by a Microsoft 365 administrator: the mailbox is on an \
             Exchange Online profile, where a Global or Exchange administrator (or a \
             Delegated Mailbox Approver) must approve it. It will not synchronize until then."
                .to_string(),
        );
    }
    State::Done
}

/// Test & Enable: reads the tested mailboxes back until every one has a result (the
/// engine's `testemailconfigurationscheduled` off again), waiting longer between looks
/// (3 s, doubling, at most 60 s) and for at most 30 minutes, or until the run is closed.
pub async fn watch_tests(ids: Vec<String>, run: RwSignal<Option<Run>>) {
    let mut wait_ms = 3_000;
    let started = js_sys::Date::now();
    loop {
        api::sleep_ms(wait_ms).await;
        if run.with_untracked(|r| r.as_ref().is_none_or(|r| r.tests.is_none())) {
            return;
        }
        let mut results = std::collections::HashMap::new();
        for chunk in ids.chunks(batch::MAX_OPS) {
            let ops: Vec<batch::Op> = chunk
                .iter()
                .map(|id| {
                    batch::Op::get(format!(
                        "{}?$select=testemailconfigurationscheduled,testmailboxaccesscompletedon,\
                         incomingemailstatus,outgoingemailstatus,actstatus",
                        entity_url(id)
                    ))
                })
                .collect();
            let Ok(answers) = api::send_batch_answers(&ops).await else {
                continue;
            };
            for (id, answer) in chunk.iter().zip(answers) {
                let Ok(body) = answer else { continue };
                let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                let status = |k: &str| v[k].as_i64();
                results.insert(
                    id.clone(),
                    TestResult {
                        // Done when the engine has cleared the schedule and stamped the
                        // test's completion.
                        completed: v["testemailconfigurationscheduled"]
                            == serde_json::Value::Bool(false)
                            && v["testmailboxaccesscompletedon"].is_string(),
                        statuses: [
                            status("incomingemailstatus"),
                            status("outgoingemailstatus"),
                            status("actstatus"),
                        ],
                    },
                );
            }
        }
        let all_done = !results.is_empty() && results.values().all(|t| t.completed);
        run.update(|r| {
            if let Some(r) = r {
                if r.tests.is_some() {
                    r.tests = Some(results);
                }
            }
        });
        if all_done || js_sys::Date::now() - started > 30.0 * 60_000.0 {
            return;
        }
        wait_ms = (wait_ms * 2).min(60_000);
    }
}

/// Runs `action` over `targets` ([`execute`]) and, for Test & Enable, then watches the
/// tests' results arrive ([`watch_tests`]). What the pages call.
pub async fn run_all(
    action: BulkAction,
    targets: Vec<(String, String)>,
    run: RwSignal<Option<Run>>,
    cancel: RwSignal<bool>,
) {
    let testing = action.body["testemailconfigurationscheduled"] == serde_json::Value::Bool(true);
    execute(action, targets, run, cancel).await;
    if testing {
        let ids: Vec<String> = run.with_untracked(|r| {
            r.iter()
                .flat_map(|r| &r.outcomes)
                .filter(|o| o.done())
                .map(|o| o.id.clone())
                .collect()
        });
        if !ids.is_empty() {
            run.update(|r| {
                if let Some(r) = r {
                    r.tests = Some(Default::default());
                }
            });
            leptos::task::spawn_local(watch_tests(ids, run));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_approval_is_done_only_when_read_back() {
        let eo: std::collections::HashSet<String> = ["p-eo".to_string()].into();
        let rec = |approval: i64, o365: bool, profile: &str| {
            serde_json::json!({"emailrouteraccessapproval": approval,
                "isemailaddressapprovedbyo365admin": o365, "_emailserverprofile_value": profile})
        };
        assert_eq!(applied(&rec(1, false, "p-imap"), 1, &eo), State::Done);
        assert_eq!(applied(&rec(1, true, "p-eo"), 1, &eo), State::Done);
        assert!(
            matches!(applied(&rec(1, false, "p-eo"), 1, &eo), State::NotApplied(m) if m.contains("Microsoft 365 administrator"))
        );
        assert!(
            matches!(applied(&rec(2, false, "p-imap"), 1, &eo), State::NotApplied(m) if m.contains("Pending Approval"))
        );
        // A rejection needs no administrator.
        assert_eq!(applied(&rec(3, false, "p-eo"), 3, &eo), State::Done);
    }

    #[test]
    fn approving_an_approved_mailbox_says_so() {
        assert!(BulkAction::approve().already(Some(1)).is_some());
        assert!(BulkAction::approve().already(Some(2)).is_none());
        assert!(BulkAction::reject().already(Some(3)).is_some());
        assert!(BulkAction::reject().already(Some(1)).is_none());
        assert!(BulkAction::test_and_enable(false, None)
            .already(Some(1))
            .is_none());
    }

    #[test]
    fn the_time_left_follows_the_pace() {
        assert_eq!(eta(0, 100, 1000.0), None);
        assert_eq!(eta(100, 100, 1000.0), None);
        assert_eq!(eta(25, 100, 1000.0), Some(3000.0));
        assert_eq!(describe_eta(3000.0), "about 3 s left");
        assert_eq!(describe_eta(200_000.0), "about 4 min left");
    }
}
