//! A mailbox before and after one pass: processing starts (`begin`), the approval
//! check the organization asks for, and what a sync cycle's or a Test & Enable's
//! results make of the mailbox (`finish_sync`, `finish_test`).
//!
//! Errors: a permanent error disables its direction at once; a transient one is
//! retried `retry_interval_secs` later, and once the same error has happened
//! `retry_limit` times in a row it is logged again, with the same code, as a permanent
//! error and the direction is disabled. `lastsyncerrorcount` counts that streak, which
//! is what the Mailbox Details log shows against the limit.

use super::failure::{describe, SyncError};
use super::schedule::{
    act_interval_secs, incoming_interval_secs, next_processing, DIRECTIONS, OUTGOING_INTERVAL_SECS,
};
use super::{
    status, Config, ConnectionFailure, DirectionResult, FailureKind, Mailbox, OrgSettings, Profile,
    Regarding,
};
use crate::report::{Direction, Nature};
use crate::rules::needs_o365_admin_approval;
use crate::time::Timestamp;

/// What a pass tells the world besides the mailbox's new state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An error of a direction. `permanent`: the direction was disabled (at once, or
    /// because the retries ran out); otherwise it is retried.
    Error { error: SyncError, permanent: bool },
    /// A Test & Enable finished: the directions that passed and those that failed.
    Tested {
        passed: Vec<Direction>,
        failed: Vec<Direction>,
    },
}

/// The result of a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub mailbox: Mailbox,
    pub events: Vec<Event>,
}

/// The mailbox while it is being processed.
pub fn begin(m: &Mailbox, now: Timestamp, cfg: &Config) -> Mailbox {
    let mut m = m.clone();
    m.processing_state = 1;
    m.host_id = Some(cfg.host_id.clone());
    m.processing_last_attempted_on = Some(now);
    m.last_sync_started = Some(now);
    m
}

/// Why the mailbox may not be processed at all: the organization processes email only
/// for approved users (queues) and this one is not approved, or its Exchange Online
/// address lacks a Microsoft 365 administrator's approval (needed whatever the
/// settings say; not on an Exchange Online (Hybrid) profile, see
/// `rules::needs_o365_admin_approval`).
pub fn approval_failure(m: &Mailbox, p: &Profile, org: &OrgSettings) -> Option<ConnectionFailure> {
    let approved = m.approval == 1;
    let exo = needs_o365_admin_approval(
        p.server_type,
        p.incoming.credential_retrieval,
        p.outgoing.credential_retrieval,
    );
    if exo && !(approved && m.approved_by_o365_admin) {
        return Some(ConnectionFailure {
            kind: FailureKind::NotApprovedByO365Admin,
            server: String::new(),
            message:
                "The email address has not been approved by a Global or Exchange administrator."
                    .into(),
        });
    }
    let required = match m.regarding {
        Some(Regarding::Queue) => org.require_approval_for_queues,
        _ => org.require_approval_for_users,
    };
    (required && !approved).then(|| ConnectionFailure {
        kind: FailureKind::NotApproved,
        server: String::new(),
        message: "The organization processes email only for approved users and queues.".into(),
    })
}

/// Records `e` as the mailbox's last error and returns its streak (same error in a row).
fn record_error(m: &mut Mailbox, e: &SyncError, at: Timestamp) -> i64 {
    let streak = if m.last_error_code == Some(e.code) && m.last_error_count > 0 {
        m.last_error_count + 1
    } else {
        1
    };
    m.last_error = Some(e.text.clone());
    m.last_error_code = Some(e.code);
    m.last_error_count = streak;
    m.last_error_on = Some(at);
    streak
}

/// What a pass writes back: its own changes (`ours` against `base`, the mailbox as the
/// pass began processing it) over the row as it is now (`current`). A column someone
/// else changed meanwhile (an administrator through the Web API: enabled directions,
/// Test & Enable) keeps their value, and what the pass did not change is not written
/// back from its stale copy.
pub fn merge(base: &Mailbox, current: &Mailbox, ours: &Mailbox) -> Mailbox {
    let mut out = current.clone();
    macro_rules! take {
        ($($f:ident),* $(,)?) => {$(
            if ours.$f != base.$f && current.$f == base.$f {
                out.$f = ours.$f.clone();
            }
        )*};
    }
    take!(
        enabled_incoming,
        enabled_outgoing,
        enabled_act,
        incoming_status,
        outgoing_status,
        act_status,
        mailbox_status,
        test_scheduled,
        test_retry_count,
        test_completed_on,
        postpone_test_until,
        processing_state,
        host_id,
        processing_last_attempted_on,
        no_email_count,
        no_act_count,
        postpone_processing_until,
        postpone_sending_until,
        receiving_postponed_until,
        receiving_postponed_until_act,
        last_success,
        last_sync_started,
        last_error_on,
        last_error,
        last_error_code,
        last_error_count,
        items_processed,
        items_failed,
        transient_failures,
        processed_times,
        average_duration_ms,
        last_duration_ms,
    );
    // A Test & Enable scheduled during the pass runs at once, not after the next
    // cycle this pass just planned.
    if current.test_scheduled && !base.test_scheduled {
        out.postpone_processing_until = match (
            out.postpone_processing_until,
            current.postpone_processing_until,
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    out
}

/// The directions the current error streak is about: a transient failure retries its
/// direction exactly `retry_interval_secs` after the error, so an enabled direction
/// postponed to that moment is one that failed then. Empty when there is no streak, or
/// when its direction has been disabled (the streak is over: it cannot recover).
fn streak_directions(m: &Mailbox, cfg: &Config) -> Vec<Direction> {
    let Some(at) = m.last_error_on.filter(|_| m.last_error_count > 0) else {
        return Vec::new();
    };
    let retry = Timestamp(at.0 + cfg.retry_interval_secs);
    DIRECTIONS
        .into_iter()
        .filter(|d| m.uses_sss(*d) && m.enabled(*d) && m.postponed(*d) == Some(retry))
        .collect()
}

/// `mailboxstatus`, "all directions together": a failure if any direction synchronized
/// through server-side synchronization failed, a success when none failed and one at
/// least succeeded (a direction the profile cannot carry is not run), not run
/// otherwise.
fn overall_status(m: &Mailbox) -> i64 {
    let statuses: Vec<i64> = DIRECTIONS
        .into_iter()
        .filter(|d| m.uses_sss(*d))
        .map(|d| match d {
            Direction::Incoming => m.incoming_status,
            Direction::Outgoing => m.outgoing_status,
            Direction::Act => m.act_status,
        })
        .collect();
    if statuses.contains(&status::FAILURE) {
        status::FAILURE
    } else if statuses.contains(&status::SUCCESS) {
        status::SUCCESS
    } else {
        status::NOT_RUN
    }
}

fn finish_processing(m: &mut Mailbox, started: Timestamp, ended: Timestamp) {
    m.processing_state = 0;
    m.host_id = None;
    let ms = (ended.0 - started.0).max(0) * 1000;
    m.last_duration_ms = ms;
    m.average_duration_ms =
        (m.average_duration_ms * m.processed_times + ms) / (m.processed_times + 1);
    m.processed_times += 1;
}

/// A sync cycle's results, one per direction that ran.
pub fn finish_sync(
    m: &Mailbox,
    p: &Profile,
    org: &OrgSettings,
    results: &[(Direction, DirectionResult)],
    started: Timestamp,
    ended: Timestamp,
    cfg: &Config,
) -> Finished {
    let mut out = m.clone();
    let mut events = Vec::new();
    let (mut items, mut failed_items) = (0, 0);
    let mut streak_counted = false;
    let mut any_failure = false;
    // Idle: a cycle whose email directions moved nothing (the count the log shows).
    let incoming_ok = results
        .iter()
        .any(|(d, r)| *d == Direction::Incoming && matches!(r, DirectionResult::Done { .. }));
    if incoming_ok {
        let moved: i64 = results
            .iter()
            .filter(|(d, _)| *d != Direction::Act)
            .map(|(_, r)| match r {
                DirectionResult::Done { items, .. } => *items,
                DirectionResult::Failed(_) => 0,
            })
            .sum();
        out.no_email_count = if moved == 0 {
            out.no_email_count + 1
        } else {
            0
        };
    }
    for (dir, result) in results {
        let dir = *dir;
        match result {
            DirectionResult::Done { items: n, failed } => {
                items += n;
                failed_items += failed;
                let wait = match dir {
                    Direction::Incoming => incoming_interval_secs(p, out.no_email_count),
                    Direction::Outgoing => OUTGOING_INTERVAL_SECS,
                    Direction::Act => {
                        out.no_act_count = if *n == 0 { out.no_act_count + 1 } else { 0 };
                        act_interval_secs(out.no_act_count)
                    }
                };
                out.set_postponed(dir, Timestamp(ended.0 + wait));
            }
            DirectionResult::Failed(f) => {
                any_failure = true;
                let e = describe(dir, f, m, p);
                // One cycle is one more occurrence, however many directions failed.
                let streak = if streak_counted {
                    out.last_error_count
                } else {
                    streak_counted = true;
                    record_error(&mut out, &e, ended)
                };
                let permanent = e.nature == Nature::Permanent || streak >= cfg.retry_limit;
                if permanent {
                    out.set_enabled(dir, false);
                    out.set_status(dir, status::FAILURE);
                } else {
                    out.transient_failures += 1;
                    out.set_postponed(dir, Timestamp(ended.0 + cfg.retry_interval_secs));
                }
                events.push(Event::Error {
                    error: e,
                    permanent,
                });
            }
        }
    }
    if !any_failure {
        out.last_success = Some(ended);
        // Another direction's success says nothing about the failing one: a down
        // incoming server must still reach the retry limit while outgoing email flows
        // between its retries. The streak ends when its own direction succeeds.
        let streak = streak_directions(m, cfg);
        if streak.is_empty() || results.iter().any(|(d, _)| streak.contains(d)) {
            out.last_error_count = 0;
            out.transient_failures = 0;
        }
    }
    out.items_processed = items;
    out.items_failed = failed_items;
    out.mailbox_status = overall_status(&out);
    finish_processing(&mut out, started, ended);
    out.postpone_processing_until = Some(next_processing(&out, org, p, ended, cfg));
    Finished {
        mailbox: out,
        events,
    }
}

/// A Test & Enable's results, one per direction configured for server-side
/// synchronization (the directions the profile cannot carry are `None`). A transient
/// failure schedules the test again, up to `retry_limit` attempts; when the test is
/// over, directions that passed are enabled, the others disabled with their error.
pub fn finish_test(
    m: &Mailbox,
    p: &Profile,
    results: &[(Direction, Option<DirectionResult>)],
    started: Timestamp,
    ended: Timestamp,
    cfg: &Config,
) -> Finished {
    let mut out = m.clone();
    let mut events = Vec::new();
    let mut retry = false;
    let mut passed = Vec::new();
    let mut failed = Vec::new();
    let mut first_error: Option<SyncError> = None;
    for (dir, result) in results {
        let dir = *dir;
        match result {
            None => {
                out.set_status(dir, status::NOT_RUN);
                out.set_enabled(dir, false);
            }
            Some(DirectionResult::Done { .. }) => {
                out.set_status(dir, status::SUCCESS);
                out.set_enabled(dir, true);
                out.set_postponed(dir, ended);
                passed.push(dir);
            }
            Some(DirectionResult::Failed(f)) => {
                let e = describe(dir, f, m, p);
                let attempts_left = out.test_retry_count + 1 < cfg.retry_limit;
                let permanent = e.nature == Nature::Permanent || !attempts_left;
                if permanent {
                    out.set_status(dir, status::FAILURE);
                    out.set_enabled(dir, false);
                    failed.push(dir);
                } else {
                    retry = true;
                }
                first_error.get_or_insert_with(|| e.clone());
                events.push(Event::Error {
                    error: e,
                    permanent,
                });
            }
        }
    }
    if let Some(e) = &first_error {
        record_error(&mut out, e, ended);
    }
    finish_processing(&mut out, started, ended);
    if retry {
        out.test_retry_count += 1;
        out.postpone_test_until = Some(Timestamp(ended.0 + cfg.retry_interval_secs));
        out.postpone_processing_until = out.postpone_test_until;
        return Finished {
            mailbox: out,
            events,
        };
    }
    out.test_scheduled = false;
    out.test_completed_on = Some(ended);
    // The log's example: the next test could run 5 minutes after this one.
    out.postpone_test_until = Some(Timestamp(ended.0 + 300));
    out.mailbox_status = if passed.is_empty() {
        status::FAILURE
    } else {
        overall_status(&out)
    };
    if first_error.is_none() {
        out.last_error_count = 0;
    }
    // What passed synchronizes right away.
    out.postpone_processing_until = Some(if passed.is_empty() {
        Timestamp(ended.0 + 300)
    } else {
        ended
    });
    events.push(Event::Tested { passed, failed });
    Finished {
        mailbox: out,
        events,
    }
}

/// The profile's `lasttestexecutionstatus` after a Test & Enable of one of its
/// mailboxes: 1 Success when every direction that connected passed, 0 Failure when
/// none did, 2 Warning when some did; `None` when no direction connected (nothing
/// was learnt about the profile's servers).
pub fn profile_test_status(results: &[(Direction, Option<DirectionResult>)]) -> Option<i64> {
    let ran: Vec<bool> = results
        .iter()
        .filter_map(|(_, r)| r.as_ref())
        .map(|r| matches!(r, DirectionResult::Done { .. }))
        .collect();
    match (ran.iter().any(|ok| *ok), ran.iter().any(|ok| !*ok)) {
        (false, false) => None,
        (true, false) => Some(1),
        (false, true) => Some(0),
        (true, true) => Some(2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Connection;

    fn profile() -> Profile {
        Profile {
            id: "p".into(),
            name: "IMAP/SMTP".into(),
            server_type: Some(4),
            incoming: Connection {
                credential_retrieval: Some(0),
                ..Default::default()
            },
            use_same_settings_for_outgoing: true,
            ..Default::default()
        }
    }

    fn mailbox() -> Mailbox {
        Mailbox {
            name: "Alice".into(),
            approval: 1,
            incoming_method: Some(2),
            outgoing_method: Some(2),
            act_method: Some(2),
            enabled_incoming: true,
            enabled_outgoing: true,
            ..Default::default()
        }
    }

    fn down() -> DirectionResult {
        DirectionResult::Failed(ConnectionFailure {
            kind: FailureKind::Refused,
            server: "127.0.0.1:1".into(),
            message: "Connection refused".into(),
        })
    }

    fn wrong_password() -> DirectionResult {
        DirectionResult::Failed(ConnectionFailure {
            kind: FailureKind::Auth,
            server: "127.0.0.1:143".into(),
            message: "NO [AUTHENTICATIONFAILED] Authentication failed.".into(),
        })
    }

    #[test]
    fn a_transient_error_is_retried_until_the_limit_then_disables() {
        let cfg = Config::default();
        let p = profile();
        let mut m = mailbox();
        let mut t = 0;
        for attempt in 1..=cfg.retry_limit {
            let r = finish_sync(
                &m,
                &p,
                &OrgSettings::default(),
                &[(Direction::Incoming, down())],
                Timestamp(t),
                Timestamp(t + 1),
                &cfg,
            );
            m = r.mailbox;
            let Event::Error { error, permanent } = &r.events[0] else {
                panic!()
            };
            assert_eq!(m.last_error_count, attempt);
            assert_eq!(error.rule.as_deref(), Some("email-server-unreachable"));
            if attempt < cfg.retry_limit {
                assert!(!permanent && m.enabled_incoming, "attempt {attempt}");
                assert_eq!(m.receiving_postponed_until, Some(Timestamp(t + 1 + 300)));
                assert_eq!(m.postpone_processing_until, Some(Timestamp(t + 1 + 300)));
            } else {
                assert!(*permanent && !m.enabled_incoming);
                assert_eq!(m.incoming_status, status::FAILURE);
                assert_eq!(m.mailbox_status, status::FAILURE, "all directions together");
                assert!(m.enabled_outgoing, "only the failing direction stops");
            }
            t += 300;
        }
        assert_eq!(m.transient_failures, cfg.retry_limit - 1);
        assert_eq!(m.processing_state, 0);
        assert_eq!(m.processed_times, cfg.retry_limit);
    }

    #[test]
    fn only_the_failing_direction_recovering_ends_the_streak() {
        let cfg = Config {
            retry_limit: 3,
            retry_interval_secs: 900,
            ..Config::default()
        };
        let ok = || DirectionResult::Done {
            items: 0,
            failed: 0,
        };
        let p = profile();
        let sync = |m: &Mailbox, results: &[(Direction, DirectionResult)], t: i64| {
            finish_sync(
                m,
                &p,
                &OrgSettings::default(),
                results,
                Timestamp(t),
                Timestamp(t),
                &cfg,
            )
            .mailbox
        };
        let mut m = mailbox();
        m = sync(
            &m,
            &[(Direction::Incoming, down()), (Direction::Outgoing, ok())],
            0,
        );
        assert_eq!(m.last_error_count, 1);
        // Outgoing alone, between incoming's retries: the streak goes on.
        m = sync(&m, &[(Direction::Outgoing, ok())], 300);
        assert_eq!((m.last_error_count, m.transient_failures), (1, 1));
        assert_eq!(m.last_success, Some(Timestamp(300)));
        m = sync(&m, &[(Direction::Incoming, down())], 900);
        m = sync(&m, &[(Direction::Outgoing, ok())], 1200);
        assert_eq!(m.last_error_count, 2);
        // Incoming recovering ends it.
        let recovered = sync(&m, &[(Direction::Incoming, ok())], 1800);
        assert_eq!(
            (recovered.last_error_count, recovered.transient_failures),
            (0, 0)
        );
        // Or it reaches the limit and the direction stops.
        m = sync(&m, &[(Direction::Incoming, down())], 1800);
        assert!(!m.enabled_incoming);
        assert_eq!(m.last_error_count, 3);
        // Then nothing can recover from it: the next success ends the streak.
        m = sync(&m, &[(Direction::Outgoing, ok())], 2100);
        assert_eq!(m.last_error_count, 0);
    }

    #[test]
    fn a_permanent_error_disables_at_once_and_a_success_resets_the_streak() {
        let cfg = Config::default();
        let r = finish_sync(
            &mailbox(),
            &profile(),
            &OrgSettings::default(),
            &[(Direction::Incoming, wrong_password())],
            Timestamp(0),
            Timestamp(2),
            &cfg,
        );
        assert!(!r.mailbox.enabled_incoming);
        assert!(matches!(
            &r.events[0],
            Event::Error {
                permanent: true,
                ..
            }
        ));
        assert_eq!(r.mailbox.last_error_count, 1);
        let mut m = mailbox();
        m.last_error_count = 3;
        m.last_error_code = Some(53);
        m.no_email_count = 3;
        let ok = [
            (
                Direction::Incoming,
                DirectionResult::Done {
                    items: 0,
                    failed: 0,
                },
            ),
            (
                Direction::Outgoing,
                DirectionResult::Done {
                    items: 0,
                    failed: 0,
                },
            ),
        ];
        let r = finish_sync(
            &m,
            &profile(),
            &OrgSettings::default(),
            &ok,
            Timestamp(100),
            Timestamp(101),
            &cfg,
        );
        assert_eq!(r.mailbox.last_error_count, 0);
        assert_eq!(r.mailbox.last_success, Some(Timestamp(101)));
        assert_eq!(r.mailbox.no_email_count, 4);
        // Idle back-off: the 4th idle cycle waits twice as long.
        assert_eq!(
            r.mailbox.receiving_postponed_until,
            Some(Timestamp(101 + 600))
        );
        assert_eq!(r.mailbox.postpone_sending_until, Some(Timestamp(101 + 300)));
        assert_eq!(
            r.mailbox.postpone_processing_until,
            Some(Timestamp(101 + 300))
        );
        let got = [(
            Direction::Incoming,
            DirectionResult::Done {
                items: 2,
                failed: 1,
            },
        )];
        let r = finish_sync(
            &m,
            &profile(),
            &OrgSettings::default(),
            &got,
            Timestamp(100),
            Timestamp(101),
            &cfg,
        );
        assert_eq!(
            (
                r.mailbox.no_email_count,
                r.mailbox.items_processed,
                r.mailbox.items_failed
            ),
            (0, 2, 1)
        );
    }

    #[test]
    fn test_and_enable_enables_what_passes_and_retries_transient_failures() {
        let cfg = Config::default();
        let mut m = mailbox();
        m.test_scheduled = true;
        m.enabled_incoming = false;
        m.enabled_outgoing = false;
        let results = [
            (
                Direction::Incoming,
                Some(DirectionResult::Done {
                    items: 0,
                    failed: 0,
                }),
            ),
            (Direction::Outgoing, Some(wrong_password())),
            (Direction::Act, None),
        ];
        let r = finish_test(&m, &profile(), &results, Timestamp(10), Timestamp(12), &cfg);
        let t = &r.mailbox;
        assert!(!t.test_scheduled && t.enabled_incoming && !t.enabled_outgoing);
        assert_eq!(
            (t.incoming_status, t.outgoing_status, t.act_status),
            (1, 2, 0)
        );
        assert_eq!(
            (t.mailbox_status, t.test_completed_on),
            (2, Some(Timestamp(12)))
        );
        assert_eq!(t.postpone_test_until, Some(Timestamp(312)));
        assert_eq!(t.postpone_processing_until, Some(Timestamp(12)));
        assert!(
            matches!(r.events.last(), Some(Event::Tested { passed, failed }) if passed == &[Direction::Incoming] && failed == &[Direction::Outgoing])
        );

        let results = [(Direction::Incoming, Some(down()))];
        let r = finish_test(&m, &profile(), &results, Timestamp(10), Timestamp(12), &cfg);
        assert!(r.mailbox.test_scheduled);
        assert_eq!(r.mailbox.test_retry_count, 1);
        assert_eq!(r.mailbox.postpone_test_until, Some(Timestamp(312)));
        m.test_retry_count = cfg.retry_limit - 1;
        let r = finish_test(&m, &profile(), &results, Timestamp(10), Timestamp(12), &cfg);
        assert!(!r.mailbox.test_scheduled && !r.mailbox.enabled_incoming);
    }

    #[test]
    fn a_pass_writes_only_what_it_changed_and_a_concurrent_change_wins() {
        let cfg = Config::default();
        let base = begin(&mailbox(), Timestamp(0), &cfg);
        let ours = finish_sync(
            &base,
            &profile(),
            &OrgSettings::default(),
            &[(Direction::Incoming, wrong_password())],
            Timestamp(0),
            Timestamp(1),
            &cfg,
        )
        .mailbox;
        assert!(!ours.enabled_incoming && ours.enabled_outgoing);
        // Meanwhile an administrator turned outgoing off and incoming's status over.
        let mut current = base.clone();
        current.enabled_outgoing = false;
        current.incoming_status = status::SUCCESS;
        let m = merge(&base, &current, &ours);
        assert!(!m.enabled_outgoing, "the administrator's change stays");
        assert_eq!(m.incoming_status, status::SUCCESS, "theirs wins a conflict");
        assert!(!m.enabled_incoming, "the pass's own change is written");
        assert_eq!((m.processing_state, m.host_id.as_deref()), (0, None));
        assert_eq!(m.last_error_count, 1);
        // A test scheduled meanwhile is not pushed back to the next cycle.
        current.test_scheduled = true;
        current.postpone_processing_until = Some(Timestamp(1));
        let m = merge(&base, &current, &ours);
        assert_eq!(m.postpone_processing_until, Some(Timestamp(1)));
    }

    #[test]
    fn approval_is_checked_as_the_organization_asks() {
        let mut org = OrgSettings::default();
        let mut m = mailbox();
        m.approval = 2;
        m.regarding = Some(Regarding::User);
        let p = profile();
        assert_eq!(approval_failure(&m, &p, &org), None);
        org.require_approval_for_users = true;
        assert_eq!(
            approval_failure(&m, &p, &org).unwrap().kind,
            FailureKind::NotApproved
        );
        m.regarding = Some(Regarding::Queue);
        assert_eq!(approval_failure(&m, &p, &org), None);
        let mut exo = p.clone();
        exo.server_type = Some(0);
        exo.incoming.credential_retrieval = Some(2);
        m.approval = 1;
        assert_eq!(
            approval_failure(&m, &exo, &org).unwrap().kind,
            FailureKind::NotApprovedByO365Admin
        );
        m.approved_by_o365_admin = true;
        assert_eq!(approval_failure(&m, &exo, &org), None);
    }

    #[test]
    fn a_profiles_last_test_status() {
        let done = || {
            Some(DirectionResult::Done {
                items: 0,
                failed: 0,
            })
        };
        let failed = || {
            Some(DirectionResult::Failed(ConnectionFailure {
                kind: crate::engine::FailureKind::Refused,
                server: String::new(),
                message: String::new(),
            }))
        };
        use Direction::*;
        assert_eq!(
            profile_test_status(&[(Incoming, done()), (Outgoing, done())]),
            Some(1)
        );
        assert_eq!(
            profile_test_status(&[(Incoming, failed()), (Act, None)]),
            Some(0)
        );
        assert_eq!(
            profile_test_status(&[(Incoming, done()), (Outgoing, failed())]),
            Some(2)
        );
        assert_eq!(profile_test_status(&[(Incoming, None)]), None);
    }
}
