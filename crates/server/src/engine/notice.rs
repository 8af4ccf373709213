//! "Send an alert email to the owner": when more than half of a profile's mailboxes
//! failed within the last hour and the profile's `sendemailalert` is on, its owner is
//! emailed, at most once an hour, through the organization's outgoing profile (System
//! Settings' default email server profile, with the credentials it holds). The email is
//! recorded as an email activity, Sent or Failed.

use mailsync_core::engine::protocol;
use mailsync_core::engine::{Mailbox, Profile};
use mailsync_core::report::Direction;
use mailsync_core::Timestamp;

use super::db::{self, Pending};
use super::Engine;
use crate::store::{write_tx, StoreError};

const WINDOW_SECS: i64 = 3600;

pub async fn maybe_notify(
    engine: &Engine,
    profile: &Profile,
    default_profile: Option<&str>,
) -> Result<(), StoreError> {
    if !profile.send_email_alert {
        return Ok(());
    }
    let now = engine.clock.now();
    let since = Timestamp(now.0 - WINDOW_SECS);
    let (pid, pname) = (profile.id.clone(), profile.name.clone());
    let default_id = default_profile.map(str::to_string);
    // Counting the profile's mailboxes reads them all: done outside the write lock
    // (every pass of a big failing profile asks), and not at all when the owner was
    // told within the hour.
    let key = pid.clone();
    let share = engine
        .store
        .call(move |c| {
            if db::noticed_since(c, &key, since)? {
                return Ok(None);
            }
            db::failing_share(c, &key, since).map(Some)
        })
        .await?;
    let Some((failing, total)) = share.filter(|(failing, total)| failing * 2 > *total) else {
        return Ok(());
    };
    // One transaction: two passes failing at once must not both email the owner.
    let claimed = engine
        .store
        .call(move |conn| write_tx(conn, |c| {
            if !db::claim_notice(c, &pid, since, now)? {
                return Ok(None);
            }
            let Some((owner, to)) = db::profile_owner(c, &pid)? else {
                return Ok(None);
            };
            let subject = format!(
                "Email server profile {pname}: {failing} of {total} mailboxes failed in the last hour"
            );
            let body = format!(
                "Hello {owner},\r\n\r\nMore than half of the mailboxes of the email server profile \
                 {pname} ({failing} of {total}) failed to synchronize in the last hour. Their \
                 alerts say why; the profile's Alerts section lists the profile-level ones.\r\n\r\n\
                 This email was sent because the profile's \"Send an alert email to the owner\" \
                 is on.\r\n"
            );
            let id = db::new_notice(c, &to, &subject, &body, now)?;
            let via = match &default_id {
                Some(d) => db::profile(c, d)?,
                None => None,
            };
            Ok(Some((id, to, subject, body, via)))
        }))
        .await?;
    let Some((id, to, subject, body, via)) = claimed else {
        return Ok(());
    };
    let pending = Pending {
        message_id: format!("<{id}@mailsync.local>"),
        id,
        subject,
        body,
        to: vec![to],
    };
    let from = via_address(via.as_ref());
    let sent = match &via {
        Some(p) => send(engine, p, &pending).await,
        None => false,
    };
    engine
        .store
        .call(move |c| db::delivered(c, &pending, sent, &from, now))
        .await
}

/// The sender of a notice: the outgoing account when it is an address.
fn via_address(profile: Option<&Profile>) -> String {
    profile
        .and_then(|p| p.outgoing.username.clone().or(p.incoming.username.clone()))
        .filter(|u| u.contains('@'))
        .unwrap_or_else(|| "mailsync@localhost".to_string())
}

/// Sends through the profile's outgoing connection with the profile's own credentials.
async fn send(engine: &Engine, via: &Profile, p: &Pending) -> bool {
    let from = via_address(Some(via));
    let sender = Mailbox {
        name: "mailsync".into(),
        email_address: Some(from.clone()),
        ..Default::default()
    };
    let Ok(Some(plan)) = protocol::plan(&sender, via, Direction::Outgoing) else {
        return false;
    };
    let result = engine.io.send(&plan, &[p.outgoing(&from)]).await;
    matches!(result.as_deref(), Ok([Ok(())]))
}
