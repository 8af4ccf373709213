//! When a mailbox is processed and which directions run: the Mailbox Details log's
//! backoff parameters, read and written the way the log explains them.
//!
//! A mailbox is processed at `postponemailboxprocessinguntil`. A direction runs in that
//! cycle when its own postpone value (`receivingpostponeduntil`, `postponesendinguntil`,
//! `receivingpostponeduntilforact`) is at or before it. After a cycle the mailbox idles
//! at least 5 minutes (or the profile's minimum polling interval); incoming email backs
//! off further while cycles find nothing, appointments, contacts and tasks run every 5
//! to 15 minutes, outgoing email every 5 minutes.

use super::{Config, Mailbox, OrgSettings, Profile};
use crate::report::Direction;
use crate::rules::effective_polling_minutes;
use crate::time::Timestamp;

pub const DIRECTIONS: [Direction; 3] = [Direction::Incoming, Direction::Outgoing, Direction::Act];

/// What is due for a mailbox now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    Nothing,
    /// Test & Enable (it takes precedence over a sync cycle).
    Test,
    /// A sync cycle of these directions.
    Sync(Vec<Direction>),
}

/// Whether the engine processes `dir` of `m`: its delivery method is server-side
/// synchronization, unless the organization processes email with the Email Router,
/// whose job incoming and outgoing email ("Server-Side Synchronization or Email
/// Router") then are; appointments, contacts and tasks are server-side
/// synchronization's either way.
pub fn engine_runs(m: &Mailbox, org: &OrgSettings, dir: Direction) -> bool {
    m.uses_sss(dir) && (dir == Direction::Act || !org.email_router)
}

/// The directions the engine processes for a mailbox, enabled or not.
pub fn engine_directions(m: &Mailbox, org: &OrgSettings) -> Vec<Direction> {
    DIRECTIONS
        .into_iter()
        .filter(|d| engine_runs(m, org, *d))
        .collect()
}

/// The directions the engine processes for a mailbox and it has enabled, whatever
/// their postpone values.
pub fn enabled_directions(m: &Mailbox, org: &OrgSettings) -> Vec<Direction> {
    DIRECTIONS
        .into_iter()
        .filter(|d| engine_runs(m, org, *d) && m.enabled(*d))
        .collect()
}

/// When Test & Enable runs: at `postponetestemailconfigurationuntil`, and not before
/// the mailbox's next processing (the later of the two, as the log reads).
pub fn test_due_at(m: &Mailbox) -> Option<Timestamp> {
    if !m.test_scheduled {
        return None;
    }
    Some(match (m.postpone_test_until, m.postpone_processing_until) {
        (Some(a), Some(b)) => a.max(b),
        (a, b) => a.or(b).unwrap_or(Timestamp(0)),
    })
}

/// What is due at `now`. Inactive mailboxes and mailboxes being processed are left
/// alone, and so is a Test & Enable of directions that are all the Email Router's.
pub fn work(m: &Mailbox, org: &OrgSettings, now: Timestamp) -> Work {
    if m.state_code != 0 || m.processing_state != 0 {
        return Work::Nothing;
    }
    if let Some(at) = test_due_at(m) {
        let ours = !engine_directions(m, org).is_empty();
        return if at <= now && ours {
            Work::Test
        } else {
            Work::Nothing
        };
    }
    let next = m.postpone_processing_until.unwrap_or(Timestamp(0));
    if next > now {
        return Work::Nothing;
    }
    let dirs: Vec<Direction> = enabled_directions(m, org)
        .into_iter()
        .filter(|d| m.postponed(*d).is_none_or(|p| p <= next.max(now)))
        .collect();
    if dirs.is_empty() {
        Work::Nothing
    } else {
        Work::Sync(dirs)
    }
}

/// When `work` next has something to do for a mailbox it has nothing for at `now`:
/// the Test & Enable's time, or the first processing time at which an enabled
/// direction is due (a direction runs once its postpone value is at or before the
/// processing time, so the cycle cannot come before the earliest of them). A mailbox
/// with nothing the engine could ever run is looked at again after the polling
/// interval. Always after `now`: the scheduler must not pick the mailbox again before
/// that.
pub fn next_due(m: &Mailbox, org: &OrgSettings, profile: &Profile, now: Timestamp) -> Timestamp {
    let later = Timestamp(now.0 + base_interval_secs(profile));
    let at = if let Some(at) = test_due_at(m) {
        Some(at)
    } else {
        let processing = m.postpone_processing_until.unwrap_or(Timestamp(0));
        enabled_directions(m, org)
            .into_iter()
            .map(|d| m.postponed(d).unwrap_or(Timestamp(0)))
            .min()
            .map(|first| first.max(processing))
    };
    match at {
        Some(t) if t > now => t,
        _ => later,
    }
}

/// Incoming email takes only mail received after "Process email received after"
/// (`processemailreceivedafter`, asked for by Test & Enable): IMAP asks the server for
/// the mail it received since that day, POP3, which has no search, judges each new
/// message by its Date header. Every cycle, not only the first: a cycle takes at most
/// a few hundred messages, and the rest of an old inbox is as old in the next one.
/// A mailbox without a date of its own takes its profile's
/// (`processemailsreceivedafter`).
pub fn receive_since(m: &Mailbox, p: &Profile) -> Option<Timestamp> {
    m.process_email_received_after
        .or(p.process_emails_received_after)
}

/// Whether a message whose Date header is `date` is taken under `since`; a message
/// without a readable date is (losing mail is worse than taking an old one).
pub fn dated_after(since: Option<Timestamp>, date: Option<&str>) -> bool {
    match (since, date.and_then(crate::time::parse_rfc5322)) {
        (Some(since), Some(date)) => date >= since,
        _ => true,
    }
}

/// Whether an Exchange item received at `received` (EWS's DateTimeReceived, ISO 8601)
/// is taken under `since`; one without a readable time is, as in `dated_after`.
pub fn received_after(since: Option<Timestamp>, received: Option<&str>) -> bool {
    match (since, received.and_then(Timestamp::parse)) {
        (Some(since), Some(at)) => at.at >= since,
        _ => true,
    }
}

/// The polling interval of the profile, in seconds (at least 5 minutes).
pub fn base_interval_secs(profile: &Profile) -> i64 {
    effective_polling_minutes(profile.min_polling_interval_minutes) * 60
}

/// Incoming email's interval after a cycle: the base interval, growing with the idle
/// cycles in a row (x2 after 4, x3 after 8, at most x4).
pub fn incoming_interval_secs(profile: &Profile, no_email_count: i64) -> i64 {
    base_interval_secs(profile) * (1 + no_email_count.clamp(0, 12) / 4)
}

/// Appointments, contacts and tasks: every 5, 10 or 15 minutes as they stay idle.
pub fn act_interval_secs(no_act_count: i64) -> i64 {
    300 * (1 + no_act_count.clamp(0, 2))
}

/// Outgoing email (Pending Send) is picked up every 5 minutes.
pub const OUTGOING_INTERVAL_SECS: i64 = 300;

/// The next processing time after a cycle that ended at `end`: the earliest enabled
/// direction's postpone value, but never sooner than the shortest interval after it.
pub fn next_processing(
    m: &Mailbox,
    org: &OrgSettings,
    profile: &Profile,
    end: Timestamp,
    cfg: &Config,
) -> Timestamp {
    let floor = Timestamp(end.0 + base_interval_secs(profile).min(cfg.retry_interval_secs));
    enabled_directions(m, org)
        .into_iter()
        .filter_map(|d| m.postponed(d))
        .min()
        .map_or(Timestamp(end.0 + base_interval_secs(profile)), |t| {
            t.max(floor)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org() -> OrgSettings {
        OrgSettings::default()
    }

    fn mailbox() -> Mailbox {
        Mailbox {
            incoming_method: Some(2),
            outgoing_method: Some(2),
            act_method: Some(1),
            enabled_incoming: true,
            enabled_outgoing: true,
            enabled_act: false,
            ..Default::default()
        }
    }

    #[test]
    fn a_direction_runs_when_postponed_no_later_than_the_cycle() {
        let mut m = mailbox();
        let now = Timestamp(10_000);
        m.postpone_processing_until = Some(Timestamp(9_000));
        m.receiving_postponed_until = Some(Timestamp(12_000));
        m.postpone_sending_until = Some(Timestamp(9_000));
        assert_eq!(work(&m, &org(), now), Work::Sync(vec![Direction::Outgoing]));
        m.postpone_processing_until = Some(Timestamp(10_001));
        assert_eq!(work(&m, &org(), now), Work::Nothing);
        m.processing_state = 1;
        m.postpone_processing_until = None;
        assert_eq!(work(&m, &org(), now), Work::Nothing);
    }

    #[test]
    fn test_and_enable_comes_first_when_due() {
        let mut m = mailbox();
        m.test_scheduled = true;
        m.postpone_test_until = Some(Timestamp(500));
        m.postpone_processing_until = Some(Timestamp(400));
        assert_eq!(work(&m, &org(), Timestamp(499)), Work::Nothing);
        assert_eq!(work(&m, &org(), Timestamp(500)), Work::Test);
        m.postpone_test_until = None;
        m.postpone_processing_until = None;
        assert_eq!(work(&m, &org(), Timestamp(1)), Work::Test);
    }

    #[test]
    fn next_due_is_when_work_has_something_to_do() {
        let p = Profile::default();
        let now = Timestamp(10_000);
        // Pending a test that is not due yet, never processed: due with the test.
        let mut m = mailbox();
        m.test_scheduled = true;
        m.postpone_test_until = Some(Timestamp(10_400));
        assert_eq!(work(&m, &org(), now), Work::Nothing);
        assert_eq!(next_due(&m, &org(), &p, now), Timestamp(10_400));
        assert_eq!(work(&m, &org(), Timestamp(10_400)), Work::Test);
        // Processing is due but the only direction due was disabled; the other is
        // backed off: due when it is.
        let mut m = mailbox();
        m.enabled_outgoing = false;
        m.postpone_processing_until = Some(Timestamp(9_000));
        m.postpone_sending_until = Some(Timestamp(9_000));
        m.receiving_postponed_until = Some(Timestamp(11_200));
        assert_eq!(work(&m, &org(), now), Work::Nothing);
        let at = next_due(&m, &org(), &p, now);
        assert_eq!(at, Timestamp(11_200));
        assert_eq!(work(&m, &org(), Timestamp(at.0 - 1)), Work::Nothing);
        m.postpone_processing_until = Some(at);
        assert_eq!(work(&m, &org(), at), Work::Sync(vec![Direction::Incoming]));
        // Nothing enabled: looked at again after the polling interval.
        m.enabled_incoming = false;
        assert_eq!(next_due(&m, &org(), &p, now), Timestamp(10_300));
    }

    #[test]
    fn with_the_email_router_only_appointments_contacts_and_tasks_are_the_engines() {
        let router = OrgSettings {
            email_router: true,
            ..OrgSettings::default()
        };
        let mut m = mailbox();
        m.enabled_act = true;
        m.postpone_processing_until = Some(Timestamp(0));
        assert_eq!(
            work(&m, &org(), Timestamp(1)),
            Work::Sync(vec![
                Direction::Incoming,
                Direction::Outgoing,
                Direction::Act
            ])
        );
        assert_eq!(
            work(&m, &router, Timestamp(1)),
            Work::Sync(vec![Direction::Act])
        );
        m.act_method = Some(2);
        assert_eq!(work(&m, &router, Timestamp(1)), Work::Nothing);
        m.test_scheduled = true;
        assert_eq!(work(&m, &org(), Timestamp(1)), Work::Test);
        assert_eq!(
            work(&m, &router, Timestamp(1)),
            Work::Nothing,
            "the router's test"
        );
    }

    #[test]
    fn mail_received_before_the_date_is_not_taken() {
        let mut m = mailbox();
        let mut p = Profile::default();
        assert_eq!(receive_since(&m, &p), None);
        // The profile's date holds for a mailbox without one of its own...
        let profile_since = Timestamp::from_civil(2026, 11, 1, 0, 0, 0).unwrap();
        p.process_emails_received_after = Some(profile_since);
        assert_eq!(receive_since(&m, &p), Some(profile_since));
        // ...and the mailbox's own date wins.
        let since = Timestamp::from_civil(2026, 12, 3, 0, 0, 0).unwrap();
        m.process_email_received_after = Some(since);
        assert_eq!(receive_since(&m, &p), Some(since));
        assert!(!dated_after(
            Some(since),
            Some("Wed, 02 Dec 2026 23:59:59 +0000")
        ));
        assert!(dated_after(
            Some(since),
            Some("Thu, 03 Dec 2026 00:00:00 +0000")
        ));
        assert!(dated_after(Some(since), Some("not a date")));
        assert!(dated_after(None, Some("Mon, 1 Jan 2001 00:00:00 +0000")));
        // Exchange's DateTimeReceived.
        assert!(!received_after(Some(since), Some("2026-12-02T23:59:59Z")));
        assert!(received_after(Some(since), Some("2026-12-03T00:00:00Z")));
        assert!(received_after(Some(since), Some("garbage")));
        assert!(received_after(Some(since), None));
        assert!(received_after(None, Some("2001-01-01T00:00:00Z")));
    }

    #[test]
    fn intervals_back_off_when_idle_and_respect_the_profile() {
        let mut p = Profile::default();
        assert_eq!(base_interval_secs(&p), 300);
        p.min_polling_interval_minutes = 15;
        assert_eq!(base_interval_secs(&p), 900);
        p.min_polling_interval_minutes = 0;
        assert_eq!(incoming_interval_secs(&p, 0), 300);
        assert_eq!(incoming_interval_secs(&p, 4), 600);
        assert_eq!(incoming_interval_secs(&p, 100), 1200);
        assert_eq!((act_interval_secs(0), act_interval_secs(9)), (300, 900));
        let mut m = mailbox();
        m.receiving_postponed_until = Some(Timestamp(2_000));
        m.postpone_sending_until = Some(Timestamp(1_300));
        let cfg = Config::default();
        assert_eq!(
            next_processing(&m, &org(), &p, Timestamp(1_000), &cfg),
            Timestamp(1_300)
        );
        m.postpone_sending_until = Some(Timestamp(1_010));
        assert_eq!(
            next_processing(&m, &org(), &p, Timestamp(1_000), &cfg),
            Timestamp(1_300)
        );
    }
}
