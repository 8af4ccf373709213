//! One pass over one mailbox: read it, ask core what is due, connect for each
//! direction (in turn: one mailbox holds one of its profile's connections), let core
//! judge the results, and write the mailbox, its alerts, its email and the statistics
//! back in one transaction.

use mailsync_core::engine::alerts::{self, Alert};
use mailsync_core::engine::cycle::{self, Event, Finished};
use mailsync_core::engine::failure::recipient_refused;
use mailsync_core::engine::protocol::{self, Plan, Protocol};
use mailsync_core::engine::schedule::{self, Work};
use mailsync_core::engine::{
    ConnectionFailure, DirectionResult, FailureKind, Mailbox, OrgSettings, Profile,
};
use mailsync_core::report::Direction;

use super::db::{self, Loaded, Pending, Received};
use super::io::Io;
use super::{notice, Engine};
use crate::mail;
use crate::store::{write_tx, StoreError};
use mailsync_core::Timestamp;

/// New messages taken from a mailbox in one cycle; the rest wait for the next.
const TAKE_PER_CYCLE: usize = 200;
/// Pending Send emails sent from a mailbox in one cycle.
const SEND_PER_CYCLE: usize = 50;

/// What a pass wrote, for tests and the benchmark.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub test: bool,
    pub failed: bool,
    pub items: i64,
    pub alerts: usize,
}

/// An email the outgoing server refused, with its error (email level).
struct EmailFailure {
    email: String,
    event: Event,
}

/// The result of one direction of a sync cycle, and what it wants recorded.
#[derive(Default)]
struct Taken {
    received: Vec<Received>,
    position: Option<(u32, u32)>,
    pop3_uidls: Vec<String>,
    /// EWS ItemIds taken from the inbox.
    ews_items: Vec<String>,
    sent: Vec<(Pending, bool)>,
    attempted: Vec<Pending>,
    email_failures: Vec<EmailFailure>,
}

fn no_profile() -> ConnectionFailure {
    ConnectionFailure {
        kind: FailureKind::LocationUnknown,
        server: String::new(),
        message: "The mailbox has no email server profile.".into(),
    }
}

/// Splits due candidates: those core finds nothing to do for are moved to when they
/// are due (core's `next_due`), all in one transaction and without taking one of their
/// profile's connections; the others are returned, with how many were moved.
pub async fn sift(
    engine: &Engine,
    candidates: Vec<db::Candidate>,
    now: Timestamp,
) -> Result<(Vec<db::Candidate>, usize), StoreError> {
    if candidates.is_empty() {
        return Ok((candidates, 0));
    }
    engine
        .store
        .call(move |c| {
            write_tx(c, |tx| {
                let (org, _) = db::org(tx)?;
                let (mut keep, mut moved) = (Vec::new(), 0);
                for candidate in candidates {
                    let Some(l) = db::load(tx, &candidate.mailbox)? else {
                        continue;
                    };
                    let m = &l.mailbox;
                    if schedule::work(m, &org, now) != Work::Nothing {
                        keep.push(candidate);
                    } else if m.state_code == 0 && m.processing_state == 0 {
                        let p = l.profile.unwrap_or_default();
                        let to = schedule::next_due(m, &org, &p, now);
                        let read = m.postpone_processing_until;
                        if db::postpone_processing(tx, &m.id, read, to)? {
                            moved += 1;
                        }
                    }
                }
                Ok((keep, moved))
            })
        })
        .await
}

pub async fn run(engine: &Engine, id: &str) -> Result<Option<Outcome>, StoreError> {
    let now = engine.clock.now();
    let key = id.to_string();
    let loaded = engine
        .store
        .call(move |c| {
            let org = db::org(c)?;
            Ok(db::load(c, &key)?.map(|l| (l, org)))
        })
        .await?;
    let Some((
        Loaded {
            mailbox,
            profile,
            owner,
        },
        (org, default_profile),
    )) = loaded
    else {
        return Ok(None);
    };
    let work = schedule::work(&mailbox, &org, now);
    if work == Work::Nothing {
        // The due query only narrows the search: a candidate core finds nothing to do
        // for would be read again at once (every pass's end wakes the scheduler), so
        // it waits until it really is due.
        if mailbox.state_code == 0 && mailbox.processing_state == 0 {
            let p = profile.unwrap_or_default();
            let to = schedule::next_due(&mailbox, &org, &p, now);
            let (key, read) = (mailbox.id.clone(), mailbox.postpone_processing_until);
            engine
                .store
                .call(move |c| write_tx(c, |tx| db::postpone_processing(tx, &key, read, to)))
                .await?;
        }
        return Ok(None);
    }
    let begun = cycle::begin(&mailbox, now, &engine.config);
    let b = begun.clone();
    engine
        .store
        .call(move |c| db::save_processing(c, &b))
        .await?;

    let profile = profile.unwrap_or_else(|| Profile {
        name: "(no email server profile)".into(),
        ..Default::default()
    });
    let io = engine.io.with_timeout(profile.connection_timeout_ms);
    let approval = cycle::approval_failure(&mailbox, &profile, &org);
    let mut taken = Taken::default();
    let test = work == Work::Test;
    // What a test learnt about the profile's servers: its status, start and duration.
    let mut profile_test = None;
    let finished = match work {
        Work::Test => {
            let checks_started = std::time::Instant::now();
            let mut results = Vec::new();
            for dir in schedule::engine_directions(&mailbox, &org) {
                let r = match (&approval, profile.id.is_empty()) {
                    (Some(f), _) => Some(DirectionResult::Failed(f.clone())),
                    (None, true) => Some(DirectionResult::Failed(no_profile())),
                    (None, false) => match protocol::plan(&mailbox, &profile, dir) {
                        Ok(None) => None,
                        Err(f) => Some(DirectionResult::Failed(f)),
                        Ok(Some(plan)) => Some(match io.check(&plan).await {
                            // Test & Enable records this organization in the Exchange
                            // mailbox for appointments, contacts and tasks.
                            Ok(()) if dir == Direction::Act && plan.protocol == Protocol::Ews => {
                                super::act::run(engine, &io, &mailbox, &plan, true).await?
                            }
                            Ok(()) => DirectionResult::Done {
                                items: 0,
                                failed: 0,
                            },
                            Err(f) => DirectionResult::Failed(f),
                        }),
                    },
                };
                results.push((dir, r));
            }
            if approval.is_none() && !profile.id.is_empty() {
                profile_test = cycle::profile_test_status(&results).map(|status| {
                    let ms = checks_started.elapsed().as_millis();
                    (status, now, i64::try_from(ms).unwrap_or(i64::MAX))
                });
            }
            cycle::finish_test(
                &begun,
                &profile,
                &results,
                now,
                engine.clock.now(),
                &engine.config,
            )
        }
        Work::Sync(dirs) => {
            let mut results = Vec::new();
            for dir in dirs {
                let r = match (&approval, profile.id.is_empty()) {
                    (Some(f), _) => DirectionResult::Failed(f.clone()),
                    (None, true) => DirectionResult::Failed(no_profile()),
                    (None, false) => match protocol::plan(&mailbox, &profile, dir) {
                        Ok(None) => continue,
                        Err(f) => DirectionResult::Failed(f),
                        Ok(Some(plan)) => {
                            sync_direction(engine, &io, &mailbox, &profile, &plan, &mut taken)
                                .await?
                        }
                    },
                };
                results.push((dir, r));
            }
            cycle::finish_sync(
                &begun,
                &profile,
                &org,
                &results,
                now,
                engine.clock.now(),
                &engine.config,
            )
        }
        Work::Nothing => return Ok(None),
    };
    let outcome = commit(engine, &begun, &profile, &org, owner, finished, taken, test).await?;
    if let Some((status, started, ms)) = profile_test {
        let key = profile.id.clone();
        engine
            .store
            .call(move |c| db::record_profile_test(c, &key, status, started, ms))
            .await?;
    }
    if outcome.failed && !profile.id.is_empty() {
        notice::maybe_notify(engine, &profile, default_profile.as_deref()).await?;
    }
    Ok(Some(outcome))
}

/// An incoming direction that took what it found: as many items as it received.
fn received_all(taken: &Taken) -> DirectionResult {
    DirectionResult::Done {
        items: taken.received.len() as i64,
        failed: 0,
    }
}

/// One direction of a sync cycle, for real.
async fn sync_direction(
    engine: &Engine,
    io: &Io,
    mailbox: &Mailbox,
    profile: &Profile,
    plan: &Plan,
    taken: &mut Taken,
) -> Result<DirectionResult, StoreError> {
    let id = mailbox.id.clone();
    Ok(match plan.protocol {
        Protocol::Imap => {
            let key = id.clone();
            let after = engine
                .store
                .call(move |c| db::imap_position(c, &key))
                .await?;
            let since = schedule::receive_since(mailbox, profile);
            match io.imap_poll(plan, after, since, TAKE_PER_CYCLE).await {
                Err(f) => DirectionResult::Failed(f),
                Ok(inbox) => {
                    let last = inbox.new.iter().map(|m| m.uid).max();
                    taken.position = Some(match (last, after) {
                        (Some(uid), _) => (inbox.uidvalidity, uid),
                        (None, Some((v, u))) if v == inbox.uidvalidity => (v, u),
                        (None, _) => (inbox.uidvalidity, inbox.uidnext.saturating_sub(1)),
                    });
                    taken.received = inbox.new.iter().map(|m| received(&m.headers)).collect();
                    received_all(taken)
                }
            }
        }
        Protocol::Pop3 => {
            let key = id.clone();
            let seen = engine.store.call(move |c| db::pop3_seen(c, &key)).await?;
            match io.pop3_poll(plan, &seen, TAKE_PER_CYCLE).await {
                Err(f) => DirectionResult::Failed(f),
                Ok(drop) => {
                    // Every new message is marked taken, the ones dated before
                    // "Process email received after" without being recorded.
                    let since = schedule::receive_since(mailbox, profile);
                    taken.pop3_uidls = drop.new.iter().map(|m| m.uidl.clone()).collect();
                    taken.received = drop
                        .new
                        .iter()
                        .filter(|m| schedule::dated_after(since, m.headers.date.as_deref()))
                        .map(|m| received(&m.headers))
                        .collect();
                    received_all(taken)
                }
            }
        }
        Protocol::Smtp => send_pending(engine, io, mailbox, plan, taken).await?,
        Protocol::Ews => match plan.direction {
            Direction::Outgoing => send_pending(engine, io, mailbox, plan, taken).await?,
            Direction::Incoming => {
                let key = id.clone();
                let seen = engine.store.call(move |c| db::ews_seen(c, &key)).await?;
                match io.ews_find(plan, &seen, TAKE_PER_CYCLE).await {
                    Err(f) => DirectionResult::Failed(f),
                    Ok(found) => {
                        // Like POP3: every new item is marked taken, the ones received
                        // before "Process email received after" without being recorded.
                        let since = schedule::receive_since(mailbox, profile);
                        taken.ews_items = found.new.iter().map(|i| i.id.clone()).collect();
                        taken.received = found
                            .new
                            .iter()
                            .filter(|i| schedule::received_after(since, i.received.as_deref()))
                            .map(|i| Received {
                                message_id: i.message_id.clone(),
                                subject: i.subject.clone(),
                                from: i.from.clone(),
                                to: i.to.clone(),
                            })
                            .collect();
                        received_all(taken)
                    }
                }
            }
            Direction::Act => super::act::run(engine, io, mailbox, plan, false).await?,
        },
    })
}

/// Outgoing email (SMTP, or EWS CreateItem): each Pending Send email of the mailbox is
/// sent; one the server refuses for good fails alone with an alert on the email; any
/// other failure leaves the emails it touched Pending Send and fails the direction.
async fn send_pending(
    engine: &Engine,
    io: &Io,
    mailbox: &Mailbox,
    plan: &Plan,
    taken: &mut Taken,
) -> Result<DirectionResult, StoreError> {
    let key = mailbox.id.clone();
    let pending = engine
        .store
        .call(move |c| db::pending_send(c, &key, SEND_PER_CYCLE))
        .await?;
    if pending.is_empty() {
        return Ok(DirectionResult::Done {
            items: 0,
            failed: 0,
        });
    }
    let from = mailbox.email_address.clone().unwrap_or_default();
    let msgs: Vec<mail::smtp::Outgoing> = pending.iter().map(|p| p.outgoing(&from)).collect();
    let results = io.send(plan, &msgs).await;
    Ok(match results {
        Err(f) => {
            taken.attempted = pending;
            DirectionResult::Failed(f)
        }
        Ok(results) => {
            let (mut sent, mut failed) = (0, 0);
            let mut transient = None;
            for (p, r) in pending.into_iter().zip(results) {
                match r {
                    Ok(()) => {
                        sent += 1;
                        taken.sent.push((p, true));
                    }
                    // The server refused this email for good (a recipient, the
                    // sender, the content): it fails alone.
                    Err(f) if f.kind == FailureKind::Rejected => {
                        failed += 1;
                        let error = recipient_refused(&p.subject, mailbox, &f.message);
                        taken.email_failures.push(EmailFailure {
                            email: p.id.clone(),
                            event: Event::Error {
                                error,
                                permanent: true,
                            },
                        });
                        taken.sent.push((p, false));
                    }
                    // Not now (a 4xx, the connection lost, another EWS error): it stays
                    // Pending Send and the direction is retried like any transient
                    // failure.
                    Err(f) => {
                        transient.get_or_insert(f);
                        taken.attempted.push(p);
                    }
                }
            }
            match transient {
                Some(f) => DirectionResult::Failed(f),
                None => DirectionResult::Done {
                    items: sent,
                    failed,
                },
            }
        }
    })
}

fn received(h: &mail::Headers) -> Received {
    Received {
        message_id: h.message_id.clone(),
        subject: h.subject.clone(),
        from: h.from.clone(),
        to: h.to.clone(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn commit(
    engine: &Engine,
    before: &Mailbox,
    profile: &Profile,
    org: &OrgSettings,
    owner: Option<String>,
    finished: Finished,
    taken: Taken,
    test: bool,
) -> Result<Outcome, StoreError> {
    let mut alerts: Vec<Alert> = alerts::plan(&finished.events, before, profile, org, None);
    for f in &taken.email_failures {
        let event = std::slice::from_ref(&f.event);
        alerts.extend(alerts::plan(event, before, profile, org, Some(&f.email)));
    }
    let failed = finished.events.iter().any(|e| match e {
        Event::Error { .. } => true,
        Event::Tested { failed, .. } => !failed.is_empty(),
    });
    let items = finished.mailbox.items_processed;
    let now = engine.clock.now();
    let mailbox = finished.mailbox;
    let base = before.clone();
    let profile_id = (!profile.id.is_empty()).then(|| profile.id.clone());
    let from = before.email_address.clone().unwrap_or_default();
    let written = engine
        .store
        .call(move |c| {
            write_tx(c, |tx| {
                if !taken.received.is_empty() {
                    db::record_received(tx, &mailbox.id, owner.as_deref(), &taken.received, now)?;
                }
                if let Some((v, u)) = taken.position {
                    db::set_imap_position(tx, &mailbox.id, v, u)?;
                }
                for uidl in &taken.pop3_uidls {
                    db::add_pop3_seen(tx, &mailbox.id, uidl)?;
                }
                for item in &taken.ews_items {
                    db::add_ews_seen(tx, &mailbox.id, item)?;
                }
                for (p, sent) in &taken.sent {
                    db::delivered(tx, p, *sent, &from, now)?;
                }
                for p in &taken.attempted {
                    db::attempted(tx, p, now)?;
                }
                db::save(tx, &base, &mailbox)?;
                let n = db::write_alerts(tx, &alerts, &mailbox.id, profile_id.as_deref(), now)?;
                db::count_pass(tx, profile_id.as_deref(), now, test, failed, items)?;
                Ok(n)
            })
        })
        .await?;
    Ok(Outcome {
        test,
        failed,
        items,
        alerts: written,
    })
}
