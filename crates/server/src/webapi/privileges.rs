//! Who may read and write what, per table and per column: the local organization's
//! security roles written down as data, as Dataverse's privileges (Read, Write, Create,
//! Delete at a depth: the user's own records or the organization's) and its field
//! security profiles decide them. Every operation of the Web API, alone or inside a
//! `$batch`, goes through these lists; `rules.rs` then applies the business rules.
//!
//! Three tiers (a user holding several roles gets the highest):
//!
//! * **Administrators** — System Administrator or Global Administrator: everything the
//!   model lets anyone write, including a record's owner (Assign).
//! * **Approvers** — Exchange Administrator or Delegated Mailbox Approver: read every
//!   record; change mailboxes (`APPROVER_MAILBOX`: approve or reject, Test & Enable,
//!   their settings, never their owner), approve or reject a user's or queue's address,
//!   delete alerts that are not a profile's.
//! * **Users** without a role (a Dataverse basic user): read their own mailboxes
//!   (`regardingobjectid` or `ownerid` is them), the alerts and emails of those
//!   mailboxes, their own user record, the queues they own and the profiles their
//!   mailboxes use or they own (with the profile's user names read as null: field
//!   security); change on their own mailboxes only `OWNER_MAILBOX` (their credentials
//!   and Test & Enable; approval only where self-approval applies, `rules.rs`); delete
//!   their own mailboxes' alerts. Organization settings and sync statistics are not
//!   theirs to read (403).
//!
//! A record outside the caller's view is a 404, as if it did not exist. A column a tier
//! may not write is a 403 naming it, unless the request sends the value it already has
//! (a form saving every field changes nothing there).

use std::sync::OnceLock;

use mailsync_core::model::{Access, Table};
use mailsync_core::odata::Guid;

use super::errcodes;
use crate::error::ApiError;
use crate::odata_sql::quote;
use crate::store::auth::{Role, SignedInUser};

/// What a user may do, by their roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    User,
    Approver,
    Administrator,
}

impl Tier {
    pub fn of(user: &SignedInUser) -> Tier {
        if user.has(Role::SystemAdministrator) || user.has(Role::GlobalAdministrator) {
            Tier::Administrator
        } else if user.has(Role::ExchangeAdministrator) || user.has(Role::DelegatedMailboxApprover)
        {
            Tier::Approver
        } else {
            Tier::User
        }
    }
}

/// The mailbox columns an approver may change.
pub const APPROVER_MAILBOX: &[&str] = &[
    "name",
    "emailaddress",
    "emailserverprofile",
    "emailrouteraccessapproval",
    "incomingemaildeliverymethod",
    "outgoingemaildeliverymethod",
    "actdeliverymethod",
    "enabledforincomingemail",
    "enabledforoutgoingemail",
    "enabledforact",
    "testemailconfigurationscheduled",
    "orgmarkedasprimaryforexchangesync",
    "processemailreceivedafter",
    "allowemailconnectortousecredentials",
    "processanddeleteemails",
    "username",
    "password",
];

/// The columns a user without a role may change on their own mailbox: their
/// credentials and Test & Enable with its options. `emailrouteraccessapproval` only
/// to approve themselves where self-approval applies (`rules::may_self_approve`).
pub const OWNER_MAILBOX: &[&str] = &[
    "username",
    "password",
    "oauthaccesstoken",
    "oauthrefreshtoken",
    "oauthtokenexpireson",
    "testemailconfigurationscheduled",
    "orgmarkedasprimaryforexchangesync",
    "processemailreceivedafter",
    "emailrouteraccessapproval",
];

/// Appointments, contacts and tasks: every user creates, reads, changes and deletes
/// their own (Dataverse's Basic depth), the administrators everyone's. A
/// non-administrator may change every updatable column of their own records but the
/// owner (Assign): `act_owner_columns`, derived from core's model.
pub const ACT_TABLES: &[&str] = &["appointment", "contact", "task"];

/// The columns a non-administrator may change on their own record of an ACT table.
fn act_owner_columns(table: &Table) -> &'static [&'static str] {
    static COLUMNS: OnceLock<Vec<(&'static str, Vec<&'static str>)>> = OnceLock::new();
    let all = COLUMNS.get_or_init(|| {
        mailsync_core::model::TABLES
            .iter()
            .filter(|t| is_act(t))
            .map(|t| {
                let names = t
                    .columns
                    .iter()
                    .filter(|c| c.updatable() && c.name != "ownerid")
                    .map(|c| c.name)
                    .collect();
                (t.logical, names)
            })
            .collect()
    });
    all.iter()
        .find(|(logical, _)| *logical == table.logical)
        .map_or(&[], |(_, names)| names.as_slice())
}

/// Whether `table` is one of the ACT tables.
pub fn is_act(table: &Table) -> bool {
    ACT_TABLES.contains(&table.logical)
}

/// Whether `table` holds each user's own records, which approvers do not read: the
/// ACT tables and an appointment's parties.
pub fn is_personal(table: &Table) -> bool {
    is_act(table) || table.logical == "activityparty"
}

/// The user and queue column an approver may change: Approve / Reject Email.
const APPROVAL_ONLY: &[&str] = &["emailrouteraccessapproval"];

/// Profile columns read as null by users without a role: the accounts the profile
/// signs in with are not theirs to know (passwords are never readable by anyone).
pub const MASKED_PROFILE: &[&str] = &["incomingusername", "outgoingusername", "oauthclientid"];

/// The columns `tier` may change on an existing record of `table`: `None` when it may
/// not update the table at all, `Some(None)` for every column the model allows.
pub fn updatable(tier: Tier, table: &Table) -> Option<Option<&'static [&'static str]>> {
    match (tier, table.logical) {
        (Tier::Administrator, _) => Some(None),
        _ if is_act(table) => Some(Some(act_owner_columns(table))),
        (Tier::Approver, "mailbox") => Some(Some(APPROVER_MAILBOX)),
        (Tier::Approver, "systemuser" | "queue") => Some(Some(APPROVAL_ONLY)),
        (Tier::User, "mailbox") => Some(Some(OWNER_MAILBOX)),
        _ => None,
    }
}

/// May `tier` create records of `table`?
pub fn may_create(tier: Tier, table: &Table) -> bool {
    tier == Tier::Administrator || is_act(table)
}

/// May `tier` delete records of `table` (those it sees; a profile's alerts need an
/// administrator: `may_delete_alert`)?
pub fn may_delete(tier: Tier, table: &Table) -> bool {
    tier == Tier::Administrator || table.logical == "tracelog" || is_act(table)
}

/// Whether `tier` may delete an alert regarding a record of `regarding_table`: only
/// administrators delete a profile's alerts (they concern every mailbox on it).
pub fn may_delete_alert(tier: Tier, regarding_table: Option<&str>) -> bool {
    tier == Tier::Administrator || regarding_table != Some("emailserverprofile")
}

/// The refusal of a column `tier` may not change.
pub fn column_refused(tier: Tier, table: &Table, column: &str) -> ApiError {
    let needs = match (table.logical, column) {
        ("mailbox", "ownerid") => "an administrator (Assign)",
        (_, _) if APPROVER_MAILBOX.contains(&column) && table.logical == "mailbox" => {
            "an Exchange Administrator, a Delegated Mailbox Approver or an administrator"
        }
        _ => "the System Administrator or Global Administrator role",
    };
    let who = match tier {
        Tier::User => "Users without a security role",
        Tier::Approver => "Exchange Administrators and Delegated Mailbox Approvers",
        Tier::Administrator => "Administrators",
    };
    ApiError::forbidden(
        errcodes::PRIVILEGE_DENIED,
        format!(
            "{who} may not change '{column}' of a {}: that needs {needs}.",
            table.logical
        ),
    )
}

/// The refusal of a table `user` may not read at all, in Dataverse's words.
pub fn read_refused(user: &SignedInUser, table: &Table) -> ApiError {
    ApiError::forbidden(
        errcodes::PRIVILEGE_DENIED,
        format!(
            "Principal user (Id={}) is missing prvRead{} privilege: only administrators and \
             approvers read {}.",
            user.systemuserid, table.logical, table.entity_set
        ),
    )
}

/// Whether `user` may read `table` at all (their view may still be a part of it).
pub fn check_read(user: &SignedInUser, table: &Table) -> Result<(), ApiError> {
    match (Tier::of(user), table.logical) {
        (Tier::User, "organization" | "mailsync_syncstatistic") => Err(read_refused(user, table)),
        _ => Ok(()),
    }
}

/// The rows and columns of `table` the user may see, as a `FROM` source named like the
/// table: the table itself for those who see everything; otherwise a subquery of their
/// rows, with the masked columns read as null. The user's id comes from the session (a
/// GUID, checked), never from the request.
pub fn from_clause(table: &Table, user: &SignedInUser) -> String {
    let t = quote(table.logical);
    let tier = Tier::of(user);
    // Approvers read the organization's mail configuration, not everyone's contacts.
    if tier == Tier::Administrator || (tier == Tier::Approver && !is_personal(table)) {
        return t;
    }
    let Some(me) = Guid::parse(&user.systemuserid).map(|g| format!("'{g}'")) else {
        return format!("(SELECT * FROM {t} WHERE 0) AS {t}");
    };
    // What the user owns: owned by them, or by a team they are a member of.
    let teams = format!("SELECT teamid FROM teammembership WHERE systemuserid = {me}");
    let owned = format!("(ownerid = {me} OR ownerid IN ({teams}))");
    let mine = format!("SELECT mailboxid FROM mailbox WHERE regardingobjectid = {me} OR {owned}");
    let cond = match table.logical {
        "mailbox" => format!("regardingobjectid = {me} OR {owned}"),
        // One IN over the records whose alerts are the user's, read through the
        // regarding index: left to itself, SQLite walked a level filter's index over
        // every alert of the organization (1.4 s for one count at a million alerts).
        // A profile's alerts only when the user owns it: a profile-level error reaches
        // the owners of its mailboxes as an alert on their mailbox (the engine's
        // "Notify mailbox owner"), without the other mailboxes' names in it.
        "tracelog" => {
            return format!(
                "(SELECT * FROM {t} INDEXED BY tracelog_regarding WHERE regardingobjectid IN (\
                 {mine} \
                 UNION SELECT emailserverprofileid FROM emailserverprofile WHERE {owned} \
                 UNION SELECT activityid FROM email \
                     WHERE sendermailboxid IN ({mine}) OR receivingmailboxid IN ({mine}))) AS {t}"
            )
        }
        "email" => {
            format!("{owned} OR sendermailboxid IN ({mine}) OR receivingmailboxid IN ({mine})")
        }
        "systemuser" => format!("systemuserid = {me}"),
        "team" => format!("teamid IN ({teams})"),
        "queue" | "appointment" | "contact" | "task" => owned,
        // An appointment's parties are read with the appointment.
        "activityparty" => {
            format!("activityid IN (SELECT activityid FROM appointment WHERE {owned})")
        }
        "emailserverprofile" => format!(
            "{owned} OR emailserverprofileid IN (SELECT emailserverprofile FROM mailbox \
             WHERE regardingobjectid = {me} OR {owned})"
        ),
        _ => "0".to_string(),
    };
    let columns = match table.logical {
        "emailserverprofile" => table
            .columns
            .iter()
            .filter(|c| c.access != Access::Hidden)
            .map(|c| {
                if MASKED_PROFILE.contains(&c.name) {
                    format!("NULL AS {}", quote(c.name))
                } else {
                    quote(c.name)
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => "*".to_string(),
    };
    format!("(SELECT {columns} FROM {t} WHERE {cond}) AS {t}")
}

/// How far a privilege reaches, in Dataverse's words (`RetrieveUserPrivileges`'
/// `Depth`): the user's own records, or the whole organization's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    Basic,
    Global,
}

impl Depth {
    pub fn as_str(self) -> &'static str {
        match self {
            Depth::Basic => "Basic",
            Depth::Global => "Global",
        }
    }
}

/// The Dataverse privilege name of each table (`prvRead<Name>`): emails are
/// activities, tracelogs traces, systemusers users.
fn privilege_entity(table: &Table) -> &'static str {
    match table.logical {
        "systemuser" => "User",
        "team" => "Team",
        "queue" => "Queue",
        "emailserverprofile" => "EmailServerProfile",
        "mailbox" => "Mailbox",
        "tracelog" => "TraceLog",
        "organization" => "Organization",
        // Appointments and tasks are activities, as emails are: one privilege.
        "email" | "appointment" | "task" => "Activity",
        "contact" => "Contact",
        "mailsync_syncstatistic" => "mailsync_syncstatistic",
        _ => "Unknown",
    }
}

/// The privileges a tier holds, as `RetrieveUserPrivileges` reports them: derived from
/// the same rules the API enforces (`check_read`, `updatable`, `may_create`,
/// `may_delete`), plus `prvApproveRejectEmailAddress` for those who approve.
pub fn role_privileges(tier: Tier) -> Vec<(String, Depth)> {
    let depth = match tier {
        Tier::User => Depth::Basic,
        _ => Depth::Global,
    };
    let probe = SignedInUser {
        systemuserid: String::new(),
        fullname: String::new(),
        domainname: String::new(),
        roles: match tier {
            Tier::User => vec![],
            Tier::Approver => vec![Role::ExchangeAdministrator],
            Tier::Administrator => vec![Role::SystemAdministrator],
        },
    };
    let mut out = Vec::new();
    for table in mailsync_core::model::TABLES {
        let name = privilege_entity(table);
        let never_written = matches!(table.logical, "mailsync_syncstatistic");
        if check_read(&probe, table).is_ok() {
            out.push((format!("prvRead{name}"), depth));
        }
        if !never_written && updatable(tier, table).is_some() && table.logical != "tracelog" {
            out.push((format!("prvWrite{name}"), depth));
        }
        if !never_written && may_create(tier, table) && table.logical != "organization" {
            out.push((format!("prvCreate{name}"), depth));
        }
        if !never_written && may_delete(tier, table) && table.logical != "organization" {
            out.push((format!("prvDelete{name}"), depth));
        }
        if tier == Tier::Administrator && table.column("ownerid").is_some() {
            out.push((format!("prvAssign{name}"), depth));
        }
    }
    if tier >= Tier::Approver {
        out.push(("prvApproveRejectEmailAddress".to_string(), Depth::Global));
    }
    // One privilege covers several tables (emails, appointments and tasks are all
    // activities): reported once, at the depth it first has.
    let mut seen = std::collections::HashSet::new();
    out.retain(|(name, _)| seen.insert(name.clone()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailsync_core::model::{EMAILSERVERPROFILE, MAILBOX, ORGANIZATION, TABLES};

    fn user(roles: &[Role]) -> SignedInUser {
        SignedInUser {
            systemuserid: "11111111-1111-4111-8111-111111111111".into(),
            fullname: "U".into(),
            domainname: "u".into(),
            roles: roles.to_vec(),
        }
    }

    #[test]
    fn the_privileges_reported_are_the_ones_enforced() {
        let names = |t| {
            role_privileges(t)
                .into_iter()
                .map(|(n, _)| n)
                .collect::<Vec<_>>()
        };
        let admin = names(Tier::Administrator);
        let approver = names(Tier::Approver);
        let user = names(Tier::User);
        for p in [
            "prvWriteOrganization",
            "prvCreateMailbox",
            "prvApproveRejectEmailAddress",
            "prvWriteEmailServerProfile",
        ] {
            assert!(admin.iter().any(|n| n == p), "{p}");
        }
        assert!(approver.iter().any(|n| n == "prvWriteMailbox"));
        assert!(approver.iter().any(|n| n == "prvApproveRejectEmailAddress"));
        assert!(!approver.iter().any(|n| n == "prvWriteOrganization"));
        assert!(user.iter().any(|n| n == "prvWriteMailbox"));
        assert!(!user
            .iter()
            .any(|n| n == "prvReadOrganization" || n == "prvApproveRejectEmailAddress"));
        assert!(role_privileges(Tier::User)
            .iter()
            .all(|(_, d)| *d == Depth::Basic));
    }

    #[test]
    fn tiers() {
        assert_eq!(Tier::of(&user(&[])), Tier::User);
        assert_eq!(
            Tier::of(&user(&[Role::DelegatedMailboxApprover])),
            Tier::Approver
        );
        assert_eq!(
            Tier::of(&user(&[
                Role::ExchangeAdministrator,
                Role::SystemAdministrator
            ])),
            Tier::Administrator
        );
        assert_eq!(
            Tier::of(&user(&[Role::GlobalAdministrator])),
            Tier::Administrator
        );
    }

    #[test]
    fn every_listed_column_exists_and_can_be_written() {
        for list in [APPROVER_MAILBOX, OWNER_MAILBOX] {
            for name in list {
                let c = MAILBOX.column(name).unwrap_or_else(|| panic!("{name}"));
                assert!(c.updatable(), "{name}");
            }
        }
        for name in MASKED_PROFILE {
            assert!(EMAILSERVERPROFILE.column(name).is_some(), "{name}");
        }
        // Never the owner, the regarding record or the profile for a plain user.
        for name in [
            "ownerid",
            "regardingobjectid",
            "emailserverprofile",
            "emailaddress",
        ] {
            assert!(!OWNER_MAILBOX.contains(&name), "{name}");
        }
        assert!(!APPROVER_MAILBOX.contains(&"ownerid"));
        // A plain user's own appointments, contacts and tasks: every column but the owner.
        for t in mailsync_core::model::TABLES.iter().filter(|t| is_act(t)) {
            let cols = act_owner_columns(t);
            assert!(
                !cols.is_empty() && !cols.contains(&"ownerid"),
                "{}",
                t.logical
            );
            assert!(cols
                .iter()
                .all(|c| t.column(c).is_some_and(|c| c.updatable())));
        }
        let contact = mailsync_core::model::table("contact").unwrap();
        assert!(act_owner_columns(contact).contains(&"lastname"));
        assert!(!act_owner_columns(contact).contains(&"fullname"));
    }

    #[test]
    fn plain_users_read_a_part_and_never_the_organization() {
        let plain = user(&[]);
        assert!(check_read(&plain, &ORGANIZATION).is_err());
        assert!(check_read(&user(&[Role::ExchangeAdministrator]), &ORGANIZATION).is_ok());
        for t in TABLES {
            let from = from_clause(t, &plain);
            if check_read(&plain, t).is_ok() {
                assert!(from.starts_with("(SELECT"), "{}: {from}", t.logical);
            }
            // Approvers read every record, except others' appointments (and their
            // parties), contacts and tasks.
            let approver = from_clause(t, &user(&[Role::DelegatedMailboxApprover]));
            if is_personal(t) {
                assert!(approver.starts_with("(SELECT"), "{}: {approver}", t.logical);
            } else {
                assert_eq!(approver, quote(t.logical));
            }
        }
        let profiles = from_clause(&EMAILSERVERPROFILE, &plain);
        assert!(
            profiles.contains("NULL AS \"incomingusername\""),
            "{profiles}"
        );
        assert!(
            profiles.contains("\"incomingserverlocation\""),
            "{profiles}"
        );
    }
}
