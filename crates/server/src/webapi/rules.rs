//! What the local organization enforces, as Dataverse would:
//!
//! * **Who sees and writes what**: `privileges.rs`, per tier and per column, checked
//!   before these rules (`check_op`, `check_columns`).
//! * **Approve / Reject Email** (`emailrouteraccessapproval` on a mailbox, user or
//!   queue): needs the approve privilege (`can_approve_email`), as in Dataverse; the
//!   approval counts as a Microsoft 365 administrator's
//!   (`isemailaddressapprovedbyo365admin`, which Exchange Online profiles of an online
//!   organization need) only
//!   when the approver also holds `can_approve_exchange_online`: otherwise it is
//!   accepted but does not let an Exchange Online mailbox synchronize (the console
//!   reads approvals back and reports that). Approve (1) and
//!   Reject (3) are mirrored between the mailbox and its user or queue. Changing a
//!   mailbox's address or profile sets it back to pending (2) unless the same change
//!   approves it. A user without a role approves only their own user mailbox whose
//!   address is their sign-in name (`may_self_approve`, Microsoft's self-approval,
//!   off for them when the OrgDBOrgSetting RequirePrivilegeToSelfApproveEmailAddress
//!   is on); their Test & Enable approves it on the way where that applies. On an
//!   Exchange Online (Hybrid) profile the System Administrator's approval suffices
//!   (core's `needs_o365_admin_approval`).
//! * **Test & Enable** (`testemailconfigurationscheduled: true`) resets the test retry
//!   count and makes it due now; nothing here ever marks a test as run (those columns
//!   are read-only).
//! * **Alerts** (`tracelogs`) are created and deleted, never updated; deleting needs
//!   `canbedeleted`; a profile's alerts are deleted by administrators only.
//! * **Choices** (every option set column) take only the values of core's model
//!   (`json::convert`); `organization.defaultemailsettings` must be a document core's
//!   `email_settings` reads.
//! * **Emails**: a plain user sees the emails of their mailboxes. **Sync statistics** are the engine's, read-only.
//! * **Owners.** A created record with an `ownerid` column is owned by its creator
//!   unless the request binds another owner, which only administrators may (Assign).
//! * **Appointments, contacts, tasks**: their owners' (`privileges::ACT_TABLES`); a
//!   contact's `fullname` is computed from its names.
//! * **Email server profiles**: credential retrieval 2 or 4 forces the authentication
//!   protocol to Auto Detect (0) unless the request sets another one, which core's
//!   `check_profile` then refuses; user name and password only with retrieval 1
//!   (given otherwise: 400; kept otherwise: cleared); `check_profile`'s Error findings
//!   are 400s with the finding's message.

use axum::http::StatusCode;
use mailsync_core::email_settings::DefaultMethods;
use mailsync_core::model::{Column, Table};

use mailsync_core::rules::{
    check_profile, forces_auto_detect, self_approval_needs_privilege, takes_profile_credentials,
    ConnectionRule, ProfileSettings,
};
use mailsync_core::Severity;
use rusqlite::{params, Connection, OptionalExtension};

use super::json::Change;
use super::privileges::{self, Tier};
use super::{errcodes, forbidden};
use crate::error::ApiError;
use crate::odata_sql::{quote, SqlParam};
use crate::store::auth::SignedInUser;

/// System or Global Administrator: may write every table.
pub fn is_admin(user: &SignedInUser) -> bool {
    Tier::of(user) == Tier::Administrator
}

/// The operations of the entity routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Update,
    Delete,
}

/// Refuses what the table never allows and what the user may not do.
pub fn check_op(table: &Table, user: &SignedInUser, op: Op) -> Result<(), ApiError> {
    if table.logical == "tracelog" && op == Op::Update {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            errcodes::UNSUPPORTED_OPERATION,
            "The 'Update' method does not support entities of type 'tracelog': an alert is \
             never updated, only created or deleted.",
        ));
    }
    if table.logical == "mailsync_syncstatistic" {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            errcodes::UNSUPPORTED_OPERATION,
            "Sync statistics are written by the synchronization engine only.",
        ));
    }
    // Dataverse's only message for activity parties is RetrieveMultiple: they are
    // written through their activity (`appointment_activity_parties`).
    if table.logical == "activityparty" {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            errcodes::UNSUPPORTED_OPERATION,
            format!(
                "The '{}' method does not support entities of type 'activityparty': an \
                 appointment's parties are written through its appointment_activity_parties.",
                match op {
                    Op::Create => "Create",
                    Op::Update => "Update",
                    Op::Delete => "Delete",
                }
            ),
        ));
    }
    if table.logical == "organization" && op != Op::Update {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            errcodes::UNSUPPORTED_OPERATION,
            format!(
                "The '{}' method does not support entities of type 'organization'.",
                if op == Op::Create { "Create" } else { "Delete" }
            ),
        ));
    }
    let tier = Tier::of(user);
    let allowed = match op {
        Op::Create => privileges::may_create(tier, table),
        Op::Update => privileges::updatable(tier, table).is_some(),
        Op::Delete => privileges::may_delete(tier, table),
    };
    if allowed {
        return Ok(());
    }
    Err(forbidden(format!(
        "You do not have the privilege to {} records of '{}': it needs the System \
         Administrator or Global Administrator role.",
        match op {
            Op::Create => "create",
            Op::Update => "change",
            Op::Delete => "delete",
        },
        table.entity_set
    )))
}

/// The columns of an update that `user` may not change: refused (403 naming the
/// column), or dropped when the request sends the value the record already has.
pub fn check_columns(
    user: &SignedInUser,
    table: &Table,
    old: &Stored,
    changes: &mut Vec<Change>,
) -> Result<(), ApiError> {
    let tier = Tier::of(user);
    let Some(Some(allowed)) = privileges::updatable(tier, table) else {
        return Ok(());
    };
    let mut refused = None;
    changes.retain(|c| {
        if allowed.contains(&c.column.name) {
            return true;
        }
        if same_value(&c.value, old.get(c.column.name)) {
            return false;
        }
        refused.get_or_insert(c.column.name);
        true
    });
    match refused {
        Some(column) => Err(privileges::column_refused(tier, table, column)),
        None => Ok(()),
    }
}

/// Equal as stored (GUIDs compared without case).
fn same_value(new: &SqlParam, old: &SqlParam) -> bool {
    match (new, old) {
        (SqlParam::Text(a), SqlParam::Text(b)) => a == b || a.eq_ignore_ascii_case(b),
        (a, b) => a == b,
    }
}

/// A stored record: every column of its table but the hidden ones, by logical name.
pub struct Stored {
    pub cols: Vec<&'static Column>,
    pub values: Vec<SqlParam>,
}

impl Stored {
    pub fn get(&self, name: &str) -> &SqlParam {
        self.cols
            .iter()
            .position(|c| c.name == name)
            .map_or(&SqlParam::Null, |i| &self.values[i])
    }
}

fn changed<'a>(changes: &'a [Change], name: &str) -> Option<&'a SqlParam> {
    changes
        .iter()
        .find(|c| c.column.name == name)
        .map(|c| &c.value)
}

fn set(table: &Table, changes: &mut Vec<Change>, name: &str, value: SqlParam) {
    let Some(column) = table.column(name) else {
        return;
    };
    match changes.iter_mut().find(|c| c.column.name == name) {
        Some(c) => c.value = value,
        None => changes.push(Change {
            column,
            value,
            target: None,
        }),
    }
}

/// The value after the request: the change if any, else the stored value.
fn merged<'a>(old: Option<&'a Stored>, changes: &'a [Change], name: &str) -> &'a SqlParam {
    changed(changes, name)
        .or_else(|| old.map(|o| o.get(name)))
        .unwrap_or(&SqlParam::Null)
}

fn int(p: &SqlParam) -> Option<i64> {
    match p {
        SqlParam::Int(i) => Some(*i),
        _ => None,
    }
}

fn text(p: &SqlParam) -> Option<&str> {
    match p {
        SqlParam::Text(s) => Some(s),
        _ => None,
    }
}

/// Applies the rules of the table to a create (`old` = None) or update, adding the
/// changes the rules imply and making the side updates (the regarding user or queue)
/// on `tx`. An error leaves the transaction to be rolled back.
pub fn before_write(
    tx: &Connection,
    user: &SignedInUser,
    table: &Table,
    old: Option<&Stored>,
    changes: &mut Vec<Change>,
) -> Result<(), ApiError> {
    // A bound record must exist (a lookup to several tables has no foreign key).
    for c in changes.iter() {
        if let (Some(t), SqlParam::Text(id)) = (c.target, &c.value) {
            let target = mailsync_core::model::table(t).ok_or_else(|| {
                ApiError::bad_request(format!("Unknown table '{t}' in a reference."))
            })?;
            let found = tx
                .query_row(
                    &format!(
                        "SELECT 1 FROM {} WHERE {} = ?1",
                        quote(target.logical),
                        quote(target.key)
                    ),
                    [id],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if !found {
                return Err(ApiError::bad_request(format!(
                    "{t} With Id = {id} Does Not Exist (the value of '{}@odata.bind').",
                    c.column.name
                )));
            }
        }
    }
    // A lookup to several tables records the target's table beside the id.
    if let Some(target) = changes
        .iter()
        .find(|c| c.column.name == "regardingobjectid")
        .map(|c| (c.target, c.value == SqlParam::Null))
    {
        if table.column("regardingobjecttypecode").is_some() {
            let value = match target {
                (_, true) => SqlParam::Null,
                (Some(t), false) => SqlParam::Text(t.to_string()),
                (None, false) => SqlParam::Null,
            };
            set(table, changes, "regardingobjecttypecode", value);
        }
    }
    // A new record owned by someone else is an Assign: administrators only.
    if old.is_none() && !is_admin(user) {
        if let Some(owner) = text(changed(changes, "ownerid").unwrap_or(&SqlParam::Null)) {
            if !owner.eq_ignore_ascii_case(&user.systemuserid) {
                return Err(forbidden(
                    "Only an administrator may create a record owned by someone else                      (Assign).",
                ));
            }
        }
    }
    // As in Dataverse, a new record is owned by its creator unless the request says.
    if old.is_none() && table.column("ownerid").is_some() && changed(changes, "ownerid").is_none() {
        set(
            table,
            changes,
            "ownerid",
            SqlParam::Text(user.systemuserid.clone()),
        );
    }
    match table.logical {
        "mailbox" => mailbox(tx, user, table, old, changes),
        "systemuser" | "queue" => approval_of_owner(tx, user, table, old, changes),
        "emailserverprofile" => profile(table, old, changes),
        "organization" => organization(changes),
        "contact" => {
            contact_full_name(table, old, changes);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A contact's `fullname`, which Dataverse computes: first, middle and last name
/// (default "Full Name Format: First Last"; the middle name only when given).
fn contact_full_name(table: &Table, old: Option<&Stored>, changes: &mut Vec<Change>) {
    if !["firstname", "middlename", "lastname"]
        .iter()
        .any(|c| changed(changes, c).is_some())
    {
        return;
    }
    let part = |c| text(merged(old, changes, c));
    let full = mailsync_core::engine::act::full_name(
        part("firstname"),
        part("middlename"),
        part("lastname"),
    );
    set(
        table,
        changes,
        "fullname",
        full.map_or(SqlParam::Null, SqlParam::Text),
    );
}

fn same_id(a: &SqlParam, b: &SqlParam) -> bool {
    match (a, b) {
        (SqlParam::Text(a), SqlParam::Text(b)) => a.eq_ignore_ascii_case(b),
        (a, b) => a == b,
    }
}

/// Self-approval as Microsoft documents it: a user may approve their own user mailbox
/// (never a queue's, and one they may write: the tiers allow that) when its address is
/// their sign-in name (UPN), unless the organization's OrgDBOrgSetting
/// RequirePrivilegeToSelfApproveEmailAddress is on and they lack the approve privilege.
fn may_self_approve(
    tx: &Connection,
    user: &SignedInUser,
    old: Option<&Stored>,
    changes: &[Change],
) -> Result<bool, ApiError> {
    let Some(old) = old else {
        return Ok(false);
    };
    let mine = text(old.get("regardingobjecttypecode")) == Some("systemuser")
        && text(old.get("regardingobjectid"))
            .is_some_and(|id| id.eq_ignore_ascii_case(&user.systemuserid));
    let address = text(merged(Some(old), changes, "emailaddress")).unwrap_or("");
    if !(mine && !address.is_empty() && address.eq_ignore_ascii_case(user.domainname.trim())) {
        return Ok(false);
    }
    if user.can_approve_email() {
        return Ok(true);
    }
    let settings: Option<String> = tx
        .prepare_cached("SELECT orgdborgsettings FROM organization LIMIT 1")?
        .query_row([], |r| r.get(0))
        .optional()?
        .flatten();
    Ok(!self_approval_needs_privilege(settings.as_deref()))
}

fn approval_value(v: &SqlParam) -> Result<i64, ApiError> {
    match int(v) {
        Some(a @ 0..=3) => Ok(a),
        _ => Err(ApiError::bad_request(
            "emailrouteraccessapproval must be 0 (Empty), 1 (Approved), 2 (Pending Approval) \
             or 3 (Rejected).",
        )),
    }
}

fn need_approver(user: &SignedInUser) -> Result<(), ApiError> {
    if user.can_approve_email() {
        Ok(())
    } else {
        Err(forbidden(
            "You do not have the 'Approve Email Addresses for Users or Queues' privilege \
             needed to approve or reject email addresses.",
        ))
    }
}

fn mailbox(
    tx: &Connection,
    user: &SignedInUser,
    table: &Table,
    old: Option<&Stored>,
    changes: &mut Vec<Change>,
) -> Result<(), ApiError> {
    let old_approval = old.and_then(|o| int(o.get("emailrouteraccessapproval")));
    // Setting the value it already has is no approval (a form saving every field).
    let requested = changed(changes, "emailrouteraccessapproval")
        .filter(|v| old.is_none() || int(v) != old_approval)
        .cloned();
    let address_changed = old.is_some_and(|o| {
        changed(changes, "emailaddress").is_some_and(|new| {
            !text(new)
                .unwrap_or("")
                .eq_ignore_ascii_case(text(o.get("emailaddress")).unwrap_or(""))
        })
    });
    let regarding = text(merged(old, changes, "regardingobjectid")).map(str::to_string);
    let regarding_table = text(merged(old, changes, "regardingobjecttypecode"))
        .filter(|t| matches!(*t, "systemuser" | "queue"))
        .map(str::to_string);
    let mirror = |value: i64| -> Result<(), ApiError> {
        if let (Some(id), Some(t)) = (&regarding, &regarding_table) {
            let key = if t == "queue" {
                "queueid"
            } else {
                "systemuserid"
            };
            tx.prepare_cached(&format!(
                "UPDATE {t} SET emailrouteraccessapproval = ?1 WHERE {key} = ?2"
            ))?
            .execute(params![value, id])?;
        }
        Ok(())
    };
    let profile_changed = old.is_some_and(|o| {
        changed(changes, "emailserverprofile")
            .is_some_and(|new| !same_id(new, o.get("emailserverprofile")))
    });
    // A sign-in is for the account of the address, with the provider and app of the
    // profile: another address or profile signs in again.
    if (address_changed || profile_changed) && changed(changes, "oauthrefreshtoken").is_none() {
        for column in [
            "oauthrefreshtoken",
            "oauthaccesstoken",
            "oauthtokenexpireson",
        ] {
            set(table, changes, column, SqlParam::Null);
        }
    }
    let approval_requested = requested.is_some();
    match requested {
        Some(v) => {
            let value = approval_value(&v)?;
            if !(value == 1 && may_self_approve(tx, user, old, changes)?) {
                need_approver(user)?;
            }
            // As in Dataverse, an approval is accepted from whoever holds the approve
            // privilege; on an Exchange Online profile it also counts as the Microsoft
            // 365 administrator's only when they hold that right (else the mailbox stays
            // unapproved by Microsoft 365 and the engine says so).
            let by_o365_admin = value == 1 && user.can_approve_exchange_online();
            set(
                table,
                changes,
                "isemailaddressapprovedbyo365admin",
                SqlParam::Int(i64::from(by_o365_admin)),
            );
            if matches!(value, 1 | 3) {
                mirror(value)?;
            }
        }
        // Approval is for this address on this profile: another one needs it again.
        None if address_changed || profile_changed => {
            set(
                table,
                changes,
                "emailrouteraccessapproval",
                SqlParam::Int(2),
            );
            set(
                table,
                changes,
                "isemailaddressapprovedbyo365admin",
                SqlParam::Int(0),
            );
            mirror(2)?;
        }
        None => {}
    }
    if changed(changes, "testemailconfigurationscheduled") == Some(&SqlParam::Int(1)) {
        // Microsoft's self-approval: "if you select Test & Enable Mailbox and the
        // conditions mentioned are met, the email address in your mailbox is approved
        // as part of the test and enable process".
        if !approval_requested
            && old_approval != Some(1)
            && may_self_approve(tx, user, old, changes)?
        {
            set(
                table,
                changes,
                "emailrouteraccessapproval",
                SqlParam::Int(1),
            );
            set(
                table,
                changes,
                "isemailaddressapprovedbyo365admin",
                SqlParam::Int(i64::from(user.can_approve_exchange_online())),
            );
            mirror(1)?;
        }
        set(
            table,
            changes,
            "testemailconfigurationretrycount",
            SqlParam::Int(0),
        );
        // Due at once: the engine picks it up at its next look (and the Mailbox Details
        // log says it runs now).
        let now = SqlParam::Text(crate::store::now().to_rfc3339());
        set(
            table,
            changes,
            "postponetestemailconfigurationuntil",
            now.clone(),
        );
        set(table, changes, "postponemailboxprocessinguntil", now);
    }
    Ok(())
}

/// `emailrouteraccessapproval` on a user or queue: the same privilege, the Exchange
/// Online rule over its mailboxes, and mirrored on them.
fn approval_of_owner(
    tx: &Connection,
    user: &SignedInUser,
    table: &Table,
    old: Option<&Stored>,
    changes: &mut [Change],
) -> Result<(), ApiError> {
    if !is_admin(user) {
        if let Some(c) = changes
            .iter()
            .find(|c| c.column.name != "emailrouteraccessapproval")
        {
            return Err(forbidden(format!(
                "You may approve or reject the email address of a {} but not change its \
                 '{}': that needs the System Administrator or Global Administrator role.",
                table.logical, c.column.name
            )));
        }
    }
    let Some(v) = changed(changes, "emailrouteraccessapproval").cloned() else {
        return Ok(());
    };
    let value = approval_value(&v)?;
    let Some(old) = old else {
        return need_approver(user);
    };
    if int(old.get("emailrouteraccessapproval")) == Some(value) {
        return Ok(());
    }
    need_approver(user)?;
    let id = text(old.get(table.key)).unwrap_or("").to_string();
    if matches!(value, 1 | 3) {
        tx.execute(
            "UPDATE mailbox SET emailrouteraccessapproval = ?1, isemailaddressapprovedbyo365admin = ?2 \
             WHERE regardingobjectid = ?3",
            params![value, value == 1 && user.can_approve_exchange_online(), id],
        )?;
    }
    Ok(())
}

fn profile(table: &Table, old: Option<&Stored>, changes: &mut Vec<Change>) -> Result<(), ApiError> {
    if old.is_none() {
        // A server type says what the profile is: nothing sensible can be assumed.
        if changed(changes, "servertype").is_none_or(|v| *v == SqlParam::Null) {
            return Err(ApiError::bad_request(
                "The property 'servertype' is required to create an email server profile \
                 (0 Exchange Server, 1 Other (POP3/SMTP), 2 Exchange Server (Hybrid), \
                 3 Exchange Online (Hybrid), 4 IMAP/SMTP).",
            ));
        }
        // The reference's defaults: no autodiscover (a POP3/IMAP profile made without
        // saying so stays valid), connections time out.
        for (column, default) in [("useautodiscover", 0), ("timeoutmailboxconnection", 1)] {
            if changed(changes, column).is_none() {
                set(table, changes, column, SqlParam::Int(default));
            }
        }
    }
    for dir in ["incoming", "outgoing"] {
        let cr_col = format!("{dir}credentialretrieval");
        let proto_col = format!("{dir}authenticationprotocol");
        let cr = int(merged(old, changes, &cr_col)).and_then(|i| i32::try_from(i).ok());
        if forces_auto_detect(cr) && changed(changes, &proto_col).is_none() {
            set(table, changes, &proto_col, SqlParam::Int(0));
        }
        if !takes_profile_credentials(cr) {
            for secret in [format!("{dir}username"), format!("{dir}password")] {
                if changed(changes, &secret).is_some_and(|v| *v != SqlParam::Null) {
                    return Err(ApiError::bad_request(format!(
                        "{secret} can only be set when {cr_col} is 1 (Credentials Specified in \
                         Email Server Profile)."
                    )));
                }
                if old.is_some_and(|o| *o.get(&secret) != SqlParam::Null) {
                    set(table, changes, &secret, SqlParam::Null);
                }
            }
        }
    }
    let b = |name: &str| int(merged(old, changes, name)).map(|i| i != 0);
    let i32_of = |name: &str| int(merged(old, changes, name)).and_then(|i| i32::try_from(i).ok());
    let conn = |dir: &str| ConnectionRule {
        credential_retrieval: i32_of(&format!("{dir}credentialretrieval")),
        authentication_protocol: i32_of(&format!("{dir}authenticationprotocol")),
        use_impersonation: b(&format!("{dir}useimpersonation")),
        use_ssl: b(&format!("{dir}usessl")),
        port: int(merged(old, changes, &format!("{dir}portnumber"))),
    };
    let settings = ProfileSettings {
        server_type: i32_of("servertype"),
        exchange_version: i32_of("exchangeversion"),
        use_autodiscover: b("useautodiscover"),
        max_concurrent_connections: int(merged(old, changes, "maxconcurrentconnections")),
        min_polling_interval_minutes: int(merged(old, changes, "minpollingintervalinminutes")),
        incoming: conn("incoming"),
        outgoing: conn("outgoing"),
    };
    if let Some(f) = check_profile(&settings)
        .into_iter()
        .find(|f| f.severity == Severity::Error)
    {
        let mut message = f.message;
        if let Some(r) = f.resolution {
            message.push(' ');
            message.push_str(&r);
        }
        return Err(ApiError::bad_request(message));
    }
    Ok(())
}

/// `defaultemailsettings` is read by Apply Default Email Settings and System Settings:
/// a document they cannot read is refused rather than stored.
fn organization(changes: &[Change]) -> Result<(), ApiError> {
    if let Some(SqlParam::Text(xml)) = changed(changes, "defaultemailsettings") {
        DefaultMethods::parse(xml).map_err(|e| {
            ApiError::bad_request(format!("defaultemailsettings cannot be read: {e}"))
        })?;
    }
    Ok(())
}

/// Deleting an alert needs `canbedeleted`.
pub fn before_delete(table: &Table, old: &Stored) -> Result<(), ApiError> {
    if table.logical == "tracelog" && *old.get("canbedeleted") == SqlParam::Int(0) {
        return Err(forbidden(
            "This alert cannot be deleted: its canbedeleted flag is false.",
        ));
    }
    Ok(())
}
