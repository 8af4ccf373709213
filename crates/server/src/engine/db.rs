//! The engine's reads and writes of the organization's database: mailboxes as core's
//! `engine::Mailbox`, their profiles and the System Settings; the engine's columns
//! written back; alerts written without duplicates; received and sent email; the IMAP
//! and POP3 positions; hourly statistics. Plain functions on a connection, run inside
//! `Store::call`.

use mailsync_core::engine::alerts::{occurrences, with_occurrences, Alert, On};
use mailsync_core::engine::cycle::merge;
use mailsync_core::engine::{Connection as Conn, Mailbox, OrgSettings, Profile, Regarding};
use mailsync_core::Timestamp;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::store::{new_guid, Result};

fn ts(v: Option<String>) -> Option<Timestamp> {
    v.as_deref().and_then(Timestamp::parse).map(|p| p.at)
}

fn text(t: Option<Timestamp>) -> Option<String> {
    t.map(Timestamp::to_rfc3339)
}

/// The System Settings the engine obeys, and the default profile (for notices).
pub fn org(c: &Connection) -> Result<(OrgSettings, Option<String>)> {
    let row = c
        .query_row(
            "SELECT requireapprovalforuseremail, requireapprovalforqueueemail, \
             generatealertsforerrors, generatealertsforwarnings, generatealertsforinformation, \
             notifymailboxownerofemailserverlevelalerts, defaultemailserverprofileid, \
             emailconnectionchannel FROM organization LIMIT 1",
            [],
            |r| {
                Ok((
                    OrgSettings {
                        require_approval_for_users: r.get(0)?,
                        require_approval_for_queues: r.get(1)?,
                        alerts_for_errors: r.get(2)?,
                        alerts_for_warnings: r.get(3)?,
                        alerts_for_information: r.get(4)?,
                        notify_mailbox_owner: r.get(5)?,
                        email_router: r.get::<_, i64>(7)? == 1,
                    },
                    r.get(6)?,
                ))
            },
        )
        .optional()?;
    Ok(row.unwrap_or_default())
}

/// A mailbox that may be due, with its profile's id and connection limit.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub mailbox: String,
    pub profile: Option<String>,
    pub max_connections: i64,
}

/// Mailboxes whose processing or Test & Enable is due by `now` (core's `schedule::work`
/// decides for each; this only narrows the search), most overdue first, profile by
/// profile: at most `free(profile, max connections)` of each (`None`: no profile), so
/// a profile with many overdue mailboxes and no free connection cannot crowd out the
/// due mailboxes of the others.
pub fn due(
    c: &Connection,
    now: Timestamp,
    total: usize,
    free: impl Fn(Option<&str>, i64) -> usize,
) -> Result<Vec<Candidate>> {
    let profiles: Vec<(Option<String>, i64)> = c
        .prepare_cached(
            "SELECT emailserverprofileid, maxconcurrentconnections FROM emailserverprofile \
             UNION ALL SELECT NULL, 10",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    // With the Email Router, incoming and outgoing email are its job (core's
    // `schedule::engine_runs`): only appointments, contacts and tasks make a candidate.
    let router: i64 = c
        .query_row(
            "SELECT emailconnectionchannel FROM organization LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0);
    // Never processed (NULL) and overdue apart: each is a range of the profile's
    // index, read in order and only as far as the limit, however many mailboxes the
    // profile has that are not due.
    let filter = "m.statecode = 0 AND m.processingstatecode = 0 \
           AND (m.testemailconfigurationscheduled = 1 \
                OR (?4 = 0 AND m.enabledforincomingemail = 1 AND m.incomingemaildeliverymethod = 2) \
                OR (?4 = 0 AND m.enabledforoutgoingemail = 1 AND m.outgoingemaildeliverymethod = 2) \
                OR (m.enabledforact = 1 AND m.actdeliverymethod = 1))";
    let mut stmt = c.prepare_cached(&format!(
        "SELECT id FROM ( \
           SELECT m.mailboxid AS id, m.postponemailboxprocessinguntil AS at FROM mailbox m \
           WHERE m.emailserverprofile IS ?1 AND m.postponemailboxprocessinguntil IS NULL AND {filter} \
           UNION ALL \
           SELECT m.mailboxid, m.postponemailboxprocessinguntil FROM mailbox m \
           WHERE m.emailserverprofile IS ?1 AND m.postponemailboxprocessinguntil <= ?2 AND {filter}) \
         ORDER BY at LIMIT ?3"
    ))?;
    let mut out = Vec::new();
    for (profile, max_connections) in profiles {
        let limit = free(profile.as_deref(), max_connections).min(total - out.len());
        if limit == 0 {
            continue;
        }
        let ids = stmt
            .query_map(
                params![profile, now.to_rfc3339(), limit as i64, router],
                |r| r.get::<_, String>(0),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        out.extend(ids.into_iter().map(|mailbox| Candidate {
            mailbox,
            profile: profile.clone(),
            max_connections,
        }));
        if out.len() >= total {
            break;
        }
    }
    Ok(out)
}

/// The profile's last test (`lasttestexecutionstatus`, `lastteststarttime`,
/// `lasttesttotalexecutiontime`): the latest Test & Enable of one of its mailboxes.
pub fn record_profile_test(
    c: &Connection,
    profile: &str,
    status: i64,
    started: Timestamp,
    ms: i64,
) -> Result<()> {
    c.prepare_cached(
        "UPDATE emailserverprofile SET lasttestexecutionstatus = ?2, lastteststarttime = ?3, \
         lasttesttotalexecutiontime = ?4 WHERE emailserverprofileid = ?1",
    )?
    .execute(params![profile, status, started.to_rfc3339(), ms])?;
    Ok(())
}

/// A mailbox as the engine processes it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub mailbox: Mailbox,
    pub profile: Option<Profile>,
    pub owner: Option<String>,
}

const MAILBOX_COLUMNS: &str = "mailboxid, name, emailaddress, regardingobjecttypecode, \
    emailrouteraccessapproval, isemailaddressapprovedbyo365admin, username, mailsync_open(password, 'mailbox', 'password', mailboxid), \
    allowemailconnectortousecredentials, incomingemaildeliverymethod, outgoingemaildeliverymethod, \
    actdeliverymethod, enabledforincomingemail, enabledforoutgoingemail, enabledforact, \
    incomingemailstatus, outgoingemailstatus, actstatus, mailboxstatus, \
    testemailconfigurationscheduled, testemailconfigurationretrycount, testmailboxaccesscompletedon, \
    postponetestemailconfigurationuntil, processingstatecode, hostid, processinglastattemptedon, \
    noemailcount, noactcount, postponemailboxprocessinguntil, postponesendinguntil, \
    receivingpostponeduntil, receivingpostponeduntilforact, lastsuccessfulsynccompletedon, \
    lastsyncstartedon, lastsyncerroroccurredon, lastsyncerror, lastsyncerrorcode, lastsyncerrorcount, \
    itemsprocessedforlastsync, itemsfailedforlastsync, transientfailurecount, processedtimes, \
    averagetotalduration, lastduration, statecode, emailserverprofile, ownerid, \
    processemailreceivedafter, \
    mailsync_open(oauthrefreshtoken, 'mailbox', 'oauthrefreshtoken', mailboxid), \
    mailsync_open(oauthaccesstoken, 'mailbox', 'oauthaccesstoken', mailboxid), oauthtokenexpireson";

fn mailbox_of(r: &Row<'_>) -> rusqlite::Result<(Mailbox, Option<String>, Option<String>)> {
    let regarding: Option<String> = r.get(3)?;
    let m = Mailbox {
        id: r.get(0)?,
        name: r.get(1)?,
        email_address: r.get(2)?,
        regarding: Some(match regarding.as_deref() {
            Some("systemuser") => Regarding::User,
            Some("queue") => Regarding::Queue,
            _ => Regarding::Unknown,
        }),
        approval: r.get(4)?,
        approved_by_o365_admin: r.get(5)?,
        username: r.get(6)?,
        password: r.get(7)?,
        allow_credentials: r.get(8)?,
        incoming_method: r.get(9)?,
        outgoing_method: r.get(10)?,
        act_method: r.get(11)?,
        enabled_incoming: r.get(12)?,
        enabled_outgoing: r.get(13)?,
        enabled_act: r.get(14)?,
        incoming_status: r.get(15)?,
        outgoing_status: r.get(16)?,
        act_status: r.get(17)?,
        mailbox_status: r.get(18)?,
        test_scheduled: r.get(19)?,
        test_retry_count: r.get(20)?,
        test_completed_on: ts(r.get(21)?),
        postpone_test_until: ts(r.get(22)?),
        processing_state: r.get(23)?,
        host_id: r.get(24)?,
        processing_last_attempted_on: ts(r.get(25)?),
        no_email_count: r.get(26)?,
        no_act_count: r.get(27)?,
        postpone_processing_until: ts(r.get(28)?),
        postpone_sending_until: ts(r.get(29)?),
        receiving_postponed_until: ts(r.get(30)?),
        receiving_postponed_until_act: ts(r.get(31)?),
        last_success: ts(r.get(32)?),
        last_sync_started: ts(r.get(33)?),
        last_error_on: ts(r.get(34)?),
        last_error: r.get(35)?,
        last_error_code: r.get(36)?,
        last_error_count: r.get(37)?,
        items_processed: r.get(38)?,
        items_failed: r.get(39)?,
        transient_failures: r.get(40)?,
        processed_times: r.get(41)?,
        average_duration_ms: r.get(42)?,
        last_duration_ms: r.get(43)?,
        state_code: r.get(44)?,
        process_email_received_after: ts(r.get(47)?),
        oauth_refresh_token: r.get(48)?,
        oauth_access_token: r.get(49)?,
        oauth_token_expires_on: ts(r.get(50)?),
    };
    Ok((m, r.get(45)?, r.get(46)?))
}

fn connection(r: &Row<'_>, base: usize) -> rusqlite::Result<Conn> {
    Ok(Conn {
        location: r.get(base)?,
        credential_retrieval: r.get(base + 1)?,
        use_ssl: r.get(base + 2)?,
        port: r.get(base + 3)?,
        username: r.get(base + 4)?,
        password: r.get(base + 5)?,
        use_impersonation: false,
    })
}

pub fn profile(c: &Connection, id: &str) -> Result<Option<Profile>> {
    let p = c
        .prepare_cached(
            "SELECT emailserverprofileid, name, servertype, useautodiscover, \
             usesamesettingsforoutgoingconnections, maxconcurrentconnections, \
             minpollingintervalinminutes, timeoutmailboxconnection, timeoutmailboxconnectionafteramount, \
             incomingserverlocation, incomingcredentialretrieval, incomingusessl, incomingportnumber, \
             incomingusername, mailsync_open(incomingpassword, 'emailserverprofile', 'incomingpassword', emailserverprofileid), \
             outgoingserverlocation, outgoingcredentialretrieval, outgoingusessl, outgoingportnumber, \
             outgoingusername, mailsync_open(outgoingpassword, 'emailserverprofile', 'outgoingpassword', emailserverprofileid), sendemailalert, \
             incominguseimpersonation, outgoinguseimpersonation, processemailsreceivedafter, \
             exchangeonlinetenantid, oauthclientid, \
             mailsync_open(oauthclientsecret, 'emailserverprofile', 'oauthclientsecret', emailserverprofileid), \
             aadresourceid \
             FROM emailserverprofile WHERE emailserverprofileid = ?1",
        )?
        .query_row([id], |r| {
            let timeout: bool = r.get(7)?;
            Ok(Profile {
                id: r.get(0)?,
                name: r.get(1)?,
                server_type: r.get(2)?,
                use_autodiscover: r.get(3)?,
                use_same_settings_for_outgoing: r.get(4)?,
                max_concurrent_connections: r.get(5)?,
                min_polling_interval_minutes: r.get(6)?,
                connection_timeout_ms: if timeout { r.get(8)? } else { None },
                incoming: Conn {
                    use_impersonation: r.get(22)?,
                    ..connection(r, 9)?
                },
                outgoing: Conn {
                    use_impersonation: r.get(23)?,
                    ..connection(r, 15)?
                },
                send_email_alert: r.get(21)?,
                process_emails_received_after: ts(r.get(24)?),
                exchange_online_tenant: r.get(25)?,
                oauth_client_id: r.get(26)?,
                oauth_client_secret: r.get(27)?,
                aad_resource_id: r.get(28)?,
            })
        })
        .optional()?;
    Ok(p)
}

pub fn load(c: &Connection, id: &str) -> Result<Option<Loaded>> {
    let row = c
        .prepare_cached(&format!(
            "SELECT {MAILBOX_COLUMNS} FROM mailbox WHERE mailboxid = ?1"
        ))?
        .query_row([id], mailbox_of)
        .optional()?;
    let Some((mailbox, profile_id, owner)) = row else {
        return Ok(None);
    };
    let profile = match profile_id {
        Some(p) => profile(c, &p)?,
        None => None,
    };
    Ok(Some(Loaded {
        mailbox,
        profile,
        owner,
    }))
}

/// Moves a mailbox that was due but had nothing to do to when it really is due, so the
/// scheduler does not read it again and again meanwhile. Not if someone changed its
/// processing time (or started processing it) since it was read: theirs wins.
pub fn postpone_processing(
    c: &Connection,
    id: &str,
    as_read: Option<Timestamp>,
    to: Timestamp,
) -> Result<bool> {
    let row: Option<(Option<String>, i64)> = c
        .prepare_cached(
            "SELECT postponemailboxprocessinguntil, processingstatecode FROM mailbox \
             WHERE mailboxid = ?1",
        )?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match row {
        Some((current, 0)) if ts(current.clone()) == as_read => {
            c.prepare_cached(
                "UPDATE mailbox SET postponemailboxprocessinguntil = ?2 WHERE mailboxid = ?1",
            )?
            .execute(params![id, to.to_rfc3339()])?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Marks the mailbox as being processed (or not: `processingstatecode` 0).
pub fn save_processing(c: &Connection, m: &Mailbox) -> Result<()> {
    c.prepare_cached(
        "UPDATE mailbox SET processingstatecode = ?2, hostid = ?3, processinglastattemptedon = ?4, \
         lastsyncstartedon = ?5 WHERE mailboxid = ?1",
    )?
    .execute(params![
        m.id,
        m.processing_state,
        m.host_id,
        text(m.processing_last_attempted_on),
        text(m.last_sync_started),
    ])?;
    Ok(())
}

/// Writes back what a pass changed: core's `merge` of its result (`ours`) against the
/// mailbox as it began (`base`) over the row as it is now, read in the same
/// transaction, so a change made meanwhile through the Web API is not overwritten
/// with the pass's stale copy.
pub fn save(c: &Connection, base: &Mailbox, ours: &Mailbox) -> Result<()> {
    let current = c
        .prepare_cached(&format!(
            "SELECT {MAILBOX_COLUMNS} FROM mailbox WHERE mailboxid = ?1"
        ))?
        .query_row([&ours.id], mailbox_of)
        .optional()?;
    let Some((current, _, _)) = current else {
        return Ok(());
    };
    let m = merge(base, &current, ours);
    c.prepare_cached(
        "UPDATE mailbox SET processingstatecode = ?2, hostid = ?3, processinglastattemptedon = ?4, \
         lastsyncstartedon = ?5, enabledforincomingemail = ?6, enabledforoutgoingemail = ?7, \
         enabledforact = ?8, incomingemailstatus = ?9, outgoingemailstatus = ?10, actstatus = ?11, \
         noemailcount = ?12, noactcount = ?13, postponemailboxprocessinguntil = ?14, \
         postponesendinguntil = ?15, receivingpostponeduntil = ?16, receivingpostponeduntilforact = ?17, \
         lastsuccessfulsynccompletedon = ?18, lastsyncerroroccurredon = ?19, lastsyncerror = ?20, \
         lastsyncerrorcode = ?21, lastsyncerrorcount = ?22, itemsprocessedforlastsync = ?23, \
         itemsfailedforlastsync = ?24, transientfailurecount = ?25, processedtimes = ?26, \
         averagetotalduration = ?27, lastduration = ?28, mailboxstatus = ?29, \
         testemailconfigurationscheduled = ?30, testemailconfigurationretrycount = ?31, \
         testmailboxaccesscompletedon = ?32, postponetestemailconfigurationuntil = ?33 \
         WHERE mailboxid = ?1",
    )?
    .execute(params![
        m.id,
        m.processing_state,
        m.host_id,
        text(m.processing_last_attempted_on),
        text(m.last_sync_started),
        m.enabled_incoming,
        m.enabled_outgoing,
        m.enabled_act,
        m.incoming_status,
        m.outgoing_status,
        m.act_status,
        m.no_email_count,
        m.no_act_count,
        text(m.postpone_processing_until),
        text(m.postpone_sending_until),
        text(m.receiving_postponed_until),
        text(m.receiving_postponed_until_act),
        text(m.last_success),
        text(m.last_error_on),
        m.last_error,
        m.last_error_code,
        m.last_error_count,
        m.items_processed,
        m.items_failed,
        m.transient_failures,
        m.processed_times,
        m.average_duration_ms,
        m.last_duration_ms,
        m.mailbox_status,
        m.test_scheduled,
        m.test_retry_count,
        text(m.test_completed_on),
        text(m.postpone_test_until),
    ])?;
    Ok(())
}

/// Writes `alerts` about the mailbox `mailbox`, its profile `profile` or an email. The
/// same alert on the same record (regarding, code, level, error type) is not kept
/// twice: the old record is removed and a new one written, first logged when the old
/// one was and counting the occurrences, so the wall shows when it last happened and
/// how often. (Alerts are never updated in place.)
pub fn write_alerts(
    c: &Connection,
    alerts: &[Alert],
    mailbox: &str,
    profile: Option<&str>,
    now: Timestamp,
) -> Result<usize> {
    let mut written = 0;
    for a in alerts {
        let (regarding, kind) = match &a.on {
            On::Mailbox => (mailbox, "mailbox"),
            On::Profile => match profile {
                Some(p) => (p, "emailserverprofile"),
                None => (mailbox, "mailbox"),
            },
            // Dataverse's alerts regard a mailbox or a profile only: an email's alert
            // goes on its mailbox, its text naming the email.
            On::Email(_) => (mailbox, "mailbox"),
        };
        let old: Option<(String, String, Option<String>)> = c
            .prepare_cached(
                "SELECT tracelogid, createdon, errordetails FROM tracelog \
                 WHERE regardingobjectid = ?1 AND tracecode = ?2 AND level = ?3 \
                   AND COALESCE(errortypedisplay, '') = ?4 \
                 ORDER BY modifiedon DESC LIMIT 1",
            )?
            .query_row(
                params![regarding, a.tracecode, a.level, a.error_type],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let (first, count) = match &old {
            Some((id, created, details)) => {
                c.prepare_cached("DELETE FROM tracelog WHERE tracelogid = ?1")?
                    .execute([id])?;
                (
                    created.clone(),
                    occurrences(details.as_deref().unwrap_or("")) + 1,
                )
            }
            None => (now.to_rfc3339(), 1),
        };
        let details = with_occurrences(&a.details, count);
        insert_alert(c, a, &details, (regarding, kind), &first, now)?;
        written += 1;
    }
    Ok(written)
}

/// Writes one alert as it is (no merging with an earlier one): its id.
pub fn insert_alert(
    c: &Connection,
    a: &Alert,
    details: &str,
    (regarding, kind): (&str, &str),
    first: &str,
    now: Timestamp,
) -> Result<String> {
    let id = new_guid()?;
    c.prepare_cached(
        "INSERT INTO tracelog (tracelogid, level, tracecode, text, errortypedisplay, errordetails, \
         regardingobjectid, regardingobjecttypecode, isunique, canbedeleted, createdon, modifiedon) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, 1, ?9, ?10)",
    )?
    .execute(params![
        id,
        a.level,
        a.tracecode,
        a.text,
        (!a.error_type.is_empty()).then_some(&a.error_type),
        details,
        regarding,
        kind,
        first,
        now.to_rfc3339(),
    ])?;
    Ok(id)
}

/// The IMAP position of a mailbox: (UIDVALIDITY, last UID taken).
pub fn imap_position(c: &Connection, mailbox: &str) -> Result<Option<(u32, u32)>> {
    let p = c
        .prepare_cached("SELECT imapuidvalidity, imaplastuid FROM syncstate WHERE mailboxid = ?1")?
        .query_row([mailbox], |r| {
            Ok((r.get::<_, Option<u32>>(0)?, r.get::<_, Option<u32>>(1)?))
        })
        .optional()?;
    Ok(match p {
        Some((Some(v), Some(u))) => Some((v, u)),
        _ => None,
    })
}

pub fn set_imap_position(c: &Connection, mailbox: &str, validity: u32, uid: u32) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO syncstate (mailboxid, imapuidvalidity, imaplastuid) VALUES (?1, ?2, ?3) \
         ON CONFLICT(mailboxid) DO UPDATE SET imapuidvalidity = ?2, imaplastuid = ?3",
    )?
    .execute(params![mailbox, validity, uid])?;
    Ok(())
}

pub fn pop3_seen(c: &Connection, mailbox: &str) -> Result<std::collections::HashSet<String>> {
    let mut stmt = c.prepare_cached("SELECT uidl FROM pop3seen WHERE mailboxid = ?1")?;
    let seen = stmt
        .query_map([mailbox], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(seen)
}

pub fn add_pop3_seen(c: &Connection, mailbox: &str, uidl: &str) -> Result<()> {
    c.prepare_cached("INSERT OR IGNORE INTO pop3seen (mailboxid, uidl) VALUES (?1, ?2)")?
        .execute(params![mailbox, uidl])?;
    Ok(())
}

/// Exchange items are kept with POP3's UIDLs, told apart by this prefix (a mailbox
/// moved from a POP3 profile to an Exchange one keeps both, never mixed up).
const EWS_SEEN: &str = "ews:";

/// The EWS ItemIds of the inbox items already taken from a mailbox.
pub fn ews_seen(c: &Connection, mailbox: &str) -> Result<std::collections::HashSet<String>> {
    Ok(pop3_seen(c, mailbox)?
        .into_iter()
        .filter_map(|s| s.strip_prefix(EWS_SEEN).map(str::to_string))
        .collect())
}

pub fn add_ews_seen(c: &Connection, mailbox: &str, item: &str) -> Result<()> {
    add_pop3_seen(c, mailbox, &format!("{EWS_SEEN}{item}"))
}

/// A message found in a mailbox, recorded as a received email activity.
#[derive(Debug, Clone, Default)]
pub struct Received {
    pub message_id: Option<String>,
    pub subject: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// Records `msgs` as received emails of `mailbox` (owned by `owner`); a message already
/// recorded for the mailbox (same Message-ID) is not recorded twice. Returns how many
/// were recorded.
pub fn record_received(
    c: &Connection,
    mailbox: &str,
    owner: Option<&str>,
    msgs: &[Received],
    now: Timestamp,
) -> Result<i64> {
    let mut n = 0;
    for m in msgs {
        if let Some(id) = &m.message_id {
            let known = c
                .prepare_cached(
                    "SELECT 1 FROM email WHERE receivingmailboxid = ?1 AND messageid = ?2",
                )?
                .query_row(params![mailbox, id], |_| Ok(()))
                .optional()?
                .is_some();
            if known {
                continue;
            }
        }
        c.prepare_cached(
            "INSERT INTO email (activityid, subject, sender, torecipients, messageid, directioncode, \
             statecode, statuscode, receivingmailboxid, ownerid, createdon, modifiedon) \
             VALUES (?1, ?2, ?3, ?4, ?5, 0, 1, 4, ?6, ?7, ?8, ?8)",
        )?
        .execute(params![
            new_guid()?,
            m.subject,
            m.from,
            m.to,
            m.message_id,
            mailbox,
            owner,
            now.to_rfc3339()
        ])?;
        n += 1;
    }
    Ok(n)
}

/// An email waiting to be sent (Pending Send) from a mailbox.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: String,
    pub subject: String,
    pub body: String,
    pub to: Vec<String>,
    pub message_id: String,
}

impl Pending {
    /// The message as the mail clients send it, from `from`.
    pub fn outgoing(&self, from: &str) -> crate::mail::smtp::Outgoing {
        crate::mail::smtp::Outgoing {
            from: from.to_string(),
            to: self.to.clone(),
            subject: self.subject.clone(),
            body: self.body.clone(),
            message_id: self.message_id.clone(),
        }
    }
}

pub fn pending_send(c: &Connection, mailbox: &str, limit: usize) -> Result<Vec<Pending>> {
    let mut stmt = c.prepare_cached(
        "SELECT activityid, COALESCE(subject, ''), COALESCE(description, ''), \
         COALESCE(torecipients, ''), messageid FROM email \
         WHERE sendermailboxid = ?1 AND directioncode = 1 AND statuscode = 6 \
         ORDER BY createdon LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![mailbox, limit as i64], |r| {
            let id: String = r.get(0)?;
            let to: String = r.get(3)?;
            let message_id: Option<String> = r.get(4)?;
            Ok(Pending {
                message_id: message_id.unwrap_or_else(|| format!("<{id}@mailsync.local>")),
                id,
                subject: r.get(1)?,
                body: r.get(2)?,
                to: to
                    .split([';', ','])
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect(),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// An email's delivery: sent (Sent, Completed) or failed for good (Failed); either way
/// one more attempt.
pub fn delivered(
    c: &Connection,
    p: &Pending,
    sent: bool,
    from: &str,
    now: Timestamp,
) -> Result<()> {
    c.prepare_cached(
        "UPDATE email SET statuscode = ?2, statecode = ?3, senton = ?4, sender = COALESCE(sender, ?5), \
         messageid = ?6, deliveryattempts = deliveryattempts + 1, deliverylastattemptedon = ?7 \
         WHERE activityid = ?1",
    )?
    .execute(params![
        p.id,
        if sent { 3 } else { 8 },
        if sent { 1 } else { 0 },
        sent.then(|| now.to_rfc3339()),
        from,
        p.message_id,
        now.to_rfc3339(),
    ])?;
    Ok(())
}

/// One more attempt that did not get the email out (it stays Pending Send).
pub fn attempted(c: &Connection, p: &Pending, now: Timestamp) -> Result<()> {
    c.prepare_cached(
        "UPDATE email SET deliveryattempts = deliveryattempts + 1, deliverylastattemptedon = ?2 \
         WHERE activityid = ?1",
    )?
    .execute(params![p.id, now.to_rfc3339()])?;
    Ok(())
}

/// Counts one pass into the hour's statistics of the profile.
pub fn count_pass(
    c: &Connection,
    profile: Option<&str>,
    now: Timestamp,
    test: bool,
    failed: bool,
    items: i64,
) -> Result<()> {
    let hour = Timestamp(now.0 - now.0.rem_euclid(3600)).to_rfc3339();
    let (cycles, failures, tests, test_failures) = match (test, failed) {
        (false, f) => (1, i64::from(f), 0, 0),
        (true, f) => (0, 0, 1, i64::from(f)),
    };
    c.prepare_cached(
        "INSERT INTO mailsync_syncstatistic (mailsync_syncstatisticid, mailsync_name, mailsync_hour, \
         mailsync_emailserverprofileid, mailsync_cycles, mailsync_failures, mailsync_tests, \
         mailsync_testfailures, mailsync_items, createdon, modifiedon) \
         VALUES (?1, ?2 || ' ' || COALESCE(?3, 'no profile'), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9) \
         ON CONFLICT(mailsync_hour, mailsync_emailserverprofileid) DO UPDATE SET \
         mailsync_cycles = mailsync_cycles + ?4, mailsync_failures = mailsync_failures + ?5, \
         mailsync_tests = mailsync_tests + ?6, mailsync_testfailures = mailsync_testfailures + ?7, \
         mailsync_items = mailsync_items + ?8, modifiedon = ?9",
    )?
    .execute(params![
        new_guid()?,
        hour,
        profile,
        cycles,
        failures,
        tests,
        test_failures,
        items,
        now.to_rfc3339()
    ])?;
    Ok(())
}

/// How many of a profile's mailboxes failed since `since`, of how many it has.
pub fn failing_share(c: &Connection, profile: &str, since: Timestamp) -> Result<(i64, i64)> {
    let row = c
        .prepare_cached(
            "SELECT SUM(CASE WHEN lastsyncerrorcount > 0 AND lastsyncerroroccurredon >= ?2 THEN 1 ELSE 0 END), \
             COUNT(*) FROM mailbox WHERE emailserverprofile = ?1 AND statecode = 0",
        )?
        .query_row(params![profile, since.to_rfc3339()], |r| {
            Ok((r.get::<_, Option<i64>>(0)?.unwrap_or(0), r.get(1)?))
        })?;
    Ok(row)
}

/// Whether the profile's owner was told since `since`.
pub fn noticed_since(c: &Connection, profile: &str, since: Timestamp) -> Result<bool> {
    let last: Option<String> = c
        .prepare_cached("SELECT lastsenton FROM profilenotice WHERE emailserverprofileid = ?1")?
        .query_row([profile], |r| r.get(0))
        .optional()?;
    Ok(last
        .as_deref()
        .and_then(Timestamp::parse)
        .is_some_and(|t| t.at >= since))
}

/// Records that the profile's owner was told now, unless they were since `since`
/// (returns whether to tell them).
pub fn claim_notice(
    c: &Connection,
    profile: &str,
    since: Timestamp,
    now: Timestamp,
) -> Result<bool> {
    if noticed_since(c, profile, since)? {
        return Ok(false);
    }
    c.prepare_cached(
        "INSERT INTO profilenotice (emailserverprofileid, lastsenton) VALUES (?1, ?2) \
         ON CONFLICT(emailserverprofileid) DO UPDATE SET lastsenton = ?2",
    )?
    .execute(params![profile, now.to_rfc3339()])?;
    Ok(true)
}

/// A notice to send now (Pending Send, from no mailbox); returns its id.
pub fn new_notice(
    c: &Connection,
    to: &str,
    subject: &str,
    body: &str,
    now: Timestamp,
) -> Result<String> {
    let id = new_guid()?;
    c.prepare_cached(
        "INSERT INTO email (activityid, subject, description, torecipients, directioncode, \
         statecode, statuscode, createdon, modifiedon) VALUES (?1, ?2, ?3, ?4, 1, 0, 6, ?5, ?5)",
    )?
    .execute(params![id, subject, body, to, now.to_rfc3339()])?;
    Ok(id)
}

/// The profile's owner: name and address.
pub fn profile_owner(c: &Connection, profile: &str) -> Result<Option<(String, String)>> {
    let row = c
        .prepare_cached(
            "SELECT u.fullname, u.internalemailaddress FROM emailserverprofile p \
             JOIN systemuser u ON u.systemuserid = p.ownerid WHERE p.emailserverprofileid = ?1",
        )?
        .query_row([profile], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })
        .optional()?;
    Ok(row.and_then(|(n, e)| e.map(|e| (n, e))))
}

/// A pass that failed half way leaves the mailbox to be processed again.
pub fn end_processing(c: &Connection, mailbox: &str) -> Result<()> {
    c.prepare_cached(
        "UPDATE mailbox SET processingstatecode = 0, hostid = NULL WHERE mailboxid = ?1",
    )?
    .execute([mailbox])?;
    Ok(())
}

/// Processing interrupted by a stop (a crash, a kill) is not processing any more.
pub fn reset_processing(c: &Connection) -> Result<usize> {
    Ok(c.execute(
        "UPDATE mailbox SET processingstatecode = 0, hostid = NULL WHERE processingstatecode <> 0",
        [],
    )?)
}
