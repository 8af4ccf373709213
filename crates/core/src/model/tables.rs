//! The tables the local organization serves, as data. The server's store creates them
//! (`crates/server/src/store/schema.rs`) and tests that both agree column for column,
//! in order.

use super::{Column, Kind, Table};
use crate::options::*;
use Kind::{Bool, DateTime, Guid, Int, Lookup, Text};

const fn ch(name: &'static str, options: OptionSet) -> Column {
    Column::choice(name, options)
}
const fn c(name: &'static str, kind: Kind) -> Column {
    Column::new(name, kind)
}
const fn ro(name: &'static str, kind: Kind) -> Column {
    Column::new(name, kind).read_only()
}
const fn ro_choice(name: &'static str, options: OptionSet) -> Column {
    Column::choice(name, options).read_only()
}
const fn wo(name: &'static str) -> Column {
    Column::new(name, Text).write_only()
}
const fn hidden(name: &'static str) -> Column {
    Column::new(name, Text).hidden()
}

/// A record is owned by a user or a team (Dataverse's `ownerid`, an Owner lookup).
const TO_OWNER: &[&str] = &["systemuser", "team"];
const TO_USER_OR_QUEUE: &[&str] = &["systemuser", "queue"];
/// An alert regards a mailbox or an email server profile (Dataverse's tracelog).
const TO_ALERTABLE: &[&str] = &["mailbox", "emailserverprofile"];
const TO_PROFILE: &[&str] = &["emailserverprofile"];
const TO_MAILBOX: &[&str] = &["mailbox"];
/// The activities that have parties here.
const TO_ACTIVITY: &[&str] = &["appointment"];
/// Who an appointment's party can be: a user or a contact (else only an address).
const TO_PARTY: &[&str] = &["systemuser", "contact"];

/// The columns, then the record columns every table has.
macro_rules! cols {
    // Columns a later schema version added: SQLite appends an added column after the
    // record columns, and the model keeps the table's order.
    ($($col:expr),* $(,)? ; added: $($added:expr),* $(,)?) => {
        &[
            $($col,)*
            ro("versionnumber", Int),
            ro("createdon", DateTime),
            ro("modifiedon", DateTime),
            $($added,)*
        ]
    };
    ($($col:expr),* $(,)?) => {
        &[
            $($col,)*
            ro("versionnumber", Int),
            ro("createdon", DateTime),
            ro("modifiedon", DateTime),
        ]
    };
}

pub static SYSTEMUSER: Table = Table {
    logical: "systemuser",
    entity_set: "systemusers",
    key: "systemuserid",
    primary_name: "fullname",
    // Not `cols!`: `azureactivedirectoryobjectid` came later (schema V7) and SQLite
    // appends an added column after the record columns.
    columns: &[
        ro("systemuserid", Guid),
        c("fullname", Text).max(200),
        c("domainname", Text).max(1024),
        c("internalemailaddress", Text).max(100),
        ch("emailrouteraccessapproval", APPROVALS),
        c("isdisabled", Bool),
        ro("defaultmailbox", Lookup(TO_MAILBOX)),
        ro("roles", Text).max(1000),
        hidden("passwordhash").max(1000),
        ro("versionnumber", Int),
        ro("createdon", DateTime),
        ro("modifiedon", DateTime),
        // The user's object id in Microsoft Entra ID: how a bearer token finds its
        // user. Read-only in Dataverse (its directory sync writes it); the local
        // organization has no directory, so an administrator sets it.
        c("azureactivedirectoryobjectid", Guid),
    ],
};

/// A team: records it owns are its members', and its members hold its security roles
/// (membership: the `teammembership` intersect table, `teammembership_association`).
pub static TEAM: Table = Table {
    logical: "team",
    entity_set: "teams",
    key: "teamid",
    primary_name: "name",
    columns: cols![
        ro("teamid", Guid),
        c("name", Text).max(160),
        c("description", Text).max(2000),
        ch("teamtype", TEAM_TYPES),
        // Like `systemuser.roles`: its security roles, set by the organization.
        ro("roles", Text).max(1000),
    ],
};

pub static QUEUE: Table = Table {
    logical: "queue",
    entity_set: "queues",
    key: "queueid",
    primary_name: "name",
    columns: cols![
        ro("queueid", Guid),
        c("name", Text).max(200),
        c("emailaddress", Text).max(100),
        ch("emailrouteraccessapproval", APPROVALS),
        ch("incomingemaildeliverymethod", INCOMING_METHODS),
        ch("outgoingemaildeliverymethod", OUTGOING_METHODS),
        c("ownerid", Lookup(TO_OWNER)),
        ro("defaultmailbox", Lookup(TO_MAILBOX)),
        ch("statecode", STATES),
        ch("statuscode", STATUSES),
    ],
};

pub static EMAILSERVERPROFILE: Table = Table {
    logical: "emailserverprofile",
    entity_set: "emailserverprofiles",
    key: "emailserverprofileid",
    primary_name: "name",
    columns: cols![
        ro("emailserverprofileid", Guid),
        c("name", Text).max(100),
        c("description", Text).max(2000),
        ch("servertype", SERVER_TYPES),
        c("useautodiscover", Bool),
        c("incomingserverlocation", Text).max(2084),
        c("outgoingserverlocation", Text).max(2084),
        ch("incomingcredentialretrieval", CREDENTIAL_RETRIEVALS),
        ch("outgoingcredentialretrieval", CREDENTIAL_RETRIEVALS),
        ch("incomingauthenticationprotocol", AUTH_PROTOCOLS),
        ch("outgoingauthenticationprotocol", AUTH_PROTOCOLS),
        c("incominguseimpersonation", Bool),
        c("outgoinguseimpersonation", Bool),
        c("incomingusessl", Bool),
        c("outgoingusessl", Bool),
        c("incomingportnumber", Int),
        c("outgoingportnumber", Int),
        c("usesamesettingsforoutgoingconnections", Bool),
        c("incomingusername", Text).max(250),
        wo("incomingpassword").max(250),
        c("outgoingusername", Text).max(250),
        wo("outgoingpassword").max(250),
        c("exchangeonlinetenantid", Text).max(36),
        c("oauthclientid", Text).max(1024),
        wo("oauthclientsecret").max(1024),
        c("maxconcurrentconnections", Int),
        c("minpollingintervalinminutes", Int),
        c("timeoutmailboxconnection", Bool),
        c("timeoutmailboxconnectionafteramount", Int),
        c("moveundeliveredemails", Bool),
        c("processemailsreceivedafter", DateTime),
        c("sendemailalert", Bool),
        ch("exchangeversion", EXCHANGE_VERSIONS),
        ch("lasttestexecutionstatus", TEST_STATUSES).read_only(),
        ro("lastteststarttime", DateTime),
        ro("lasttesttotalexecutiontime", Int),
        c("ownerid", Lookup(TO_OWNER)),
        ch("statecode", STATES),
        ch("statuscode", STATUSES);
        added:
        // Schema V13. "Azure AD OAuth": the resource its mailboxes' IMAP, POP and SMTP permissions
        // are on (Exchange Online's https://outlook.office.com when empty).
        c("aadresourceid", Text).max(1024),
        ro("isoauthclientsecretset", Bool),
    ],
};

pub static MAILBOX: Table = Table {
    logical: "mailbox",
    entity_set: "mailboxes",
    key: "mailboxid",
    primary_name: "name",
    columns: cols![
        ro("mailboxid", Guid),
        c("name", Text).max(200),
        c("emailaddress", Text).max(100),
        // Set when the mailbox is created for its user or queue (Dataverse creates it with
        // them), never changed after.
        c("regardingobjectid", Lookup(TO_USER_OR_QUEUE)).create_only(),
        ro("regardingobjecttypecode", Text).max(64),
        c("ownerid", Lookup(TO_OWNER)),
        c("emailserverprofile", Lookup(TO_PROFILE)),
        // Writable: Approve/Reject Email; the server enforces who may set it.
        ch("emailrouteraccessapproval", APPROVALS),
        ro("isemailaddressapprovedbyo365admin", Bool),
        ch("incomingemaildeliverymethod", INCOMING_METHODS),
        ch("outgoingemaildeliverymethod", OUTGOING_METHODS),
        ch("actdeliverymethod", ACT_METHODS),
        c("enabledforincomingemail", Bool),
        c("enabledforoutgoingemail", Bool),
        c("enabledforact", Bool),
        ch("incomingemailstatus", SYNC_STATUSES).read_only(),
        ch("outgoingemailstatus", SYNC_STATUSES).read_only(),
        ch("actstatus", SYNC_STATUSES).read_only(),
        ch("mailboxstatus", SYNC_STATUSES).read_only(),
        c("testemailconfigurationscheduled", Bool),
        ro("testemailconfigurationretrycount", Int),
        ro("testmailboxaccesscompletedon", DateTime),
        ro("postponetestemailconfigurationuntil", DateTime),
        c("orgmarkedasprimaryforexchangesync", Bool),
        c("processemailreceivedafter", DateTime),
        ro("processingstatecode", Int),
        ro("hostid", Text).max(256),
        ro("processinglastattemptedon", DateTime),
        ro("noemailcount", Int),
        ro("noactcount", Int),
        ro("postponemailboxprocessinguntil", DateTime),
        ro("postponesendinguntil", DateTime),
        ro("receivingpostponeduntil", DateTime),
        ro("receivingpostponeduntilforact", DateTime),
        ro("lastsuccessfulsynccompletedon", DateTime),
        ro("lastsyncstartedon", DateTime),
        ro("lastsyncerroroccurredon", DateTime),
        ro("lastsyncerror", Text).max(2048),
        ro("lastsyncerrorcode", Int),
        ro("lastsyncerrorcount", Int),
        ro("itemsprocessedforlastsync", Int),
        ro("itemsfailedforlastsync", Int),
        ro("transientfailurecount", Int),
        ro("processedtimes", Int),
        ro("averagetotalduration", Int),
        ro("lastduration", Int),
        c("isforwardmailbox", Bool).create_only(),
        c("isserviceaccount", Bool).create_only(),
        c("allowemailconnectortousecredentials", Bool),
        c("processanddeleteemails", Bool),
        c("username", Text).max(200),
        wo("password").max(200),
        ch("statecode", STATES),
        ch("statuscode", STATUSES);
        added:
        // Schema V13. Per-mailbox OAuth ("Gmail OAuth", "Azure AD OAuth" profiles): the tokens the
        // user's sign-in got, never readable; the server seals them. Dataverse's table
        // reference says 1,024 and 256 characters, but Entra ID's access tokens (JWTs of
        // 1.5 to 3 KB) and refresh tokens (over 1 KB) do not fit: a client may write
        // the tokens it got, up to 8,192 characters.
        wo("oauthaccesstoken").max(8192),
        wo("oauthrefreshtoken").max(8192),
        c("oauthtokenexpireson", DateTime),
        // Whether each secret is set, kept by the database (schema V13's triggers).
        ro("isoauthaccesstokenset", Bool),
        ro("isoauthrefreshtokenset", Bool),
        ro("ispasswordset", Bool),
    ],
};

pub static TRACELOG: Table = Table {
    logical: "tracelog",
    entity_set: "tracelogs",
    key: "tracelogid",
    primary_name: "text",
    columns: cols![
        ro("tracelogid", Guid),
        ch("level", ALERT_LEVELS),
        c("tracecode", Int),
        c("text", Text).max(2000),
        c("errortypedisplay", Text).max(320),
        c("errordetails", Text).max(2048),
        c("regardingobjectid", Lookup(TO_ALERTABLE)),
        ro("regardingobjecttypecode", Text).max(64),
        c("isunique", Bool),
        c("canbedeleted", Bool),
    ],
};

/// Email activities: what server-side synchronization received into a mailbox
/// (`directioncode` false, `statuscode` 4 Received) and what it sends from one
/// (`directioncode` true; `statuscode` 6 Pending Send until sent, then 3 Sent, or 8
/// Failed).
pub static EMAIL: Table = Table {
    logical: "email",
    entity_set: "emails",
    key: "activityid",
    primary_name: "subject",
    columns: cols![
        ro("activityid", Guid),
        c("subject", Text).max(800),
        c("description", Text).max(1048576),
        c("sender", Text).max(250),
        c("torecipients", Text).max(500),
        ro("messageid", Text).max(320),
        c("directioncode", Bool),
        ch("statecode", EMAIL_STATES),
        ch("statuscode", EMAIL_STATUSES),
        ro("senton", DateTime),
        ro("deliveryattempts", Int),
        ro("deliverylastattemptedon", DateTime),
        c("sendermailboxid", Lookup(TO_MAILBOX)),
        ro("receivingmailboxid", Lookup(TO_MAILBOX)),
        c("ownerid", Lookup(TO_OWNER)),
    ],
};

/// Server-side synchronization's work per hour and profile, written by the local
/// organization's engine for the dashboard (a custom table: `mailsync_` is this
/// solution's publisher prefix). Read-only through the API.
pub static SYNCSTATISTIC: Table = Table {
    logical: "mailsync_syncstatistic",
    entity_set: "mailsync_syncstatistics",
    key: "mailsync_syncstatisticid",
    primary_name: "mailsync_name",
    columns: cols![
        ro("mailsync_syncstatisticid", Guid),
        ro("mailsync_name", Text).max(100),
        ro("mailsync_hour", DateTime),
        ro("mailsync_emailserverprofileid", Lookup(TO_PROFILE)),
        ro("mailsync_cycles", Int),
        ro("mailsync_failures", Int),
        ro("mailsync_tests", Int),
        ro("mailsync_testfailures", Int),
        ro("mailsync_items", Int),
    ],
};

pub static ORGANIZATION: Table = Table {
    logical: "organization",
    entity_set: "organizations",
    key: "organizationid",
    primary_name: "name",
    // Not `cols!`: `orgdborgsettings` came later (schema V9) and SQLite appends an
    // added column after the record columns.
    columns: &[
        ro("organizationid", Guid),
        c("name", Text).max(160),
        ch("emailconnectionchannel", CONNECTION_CHANNELS),
        c("defaultemailserverprofileid", Lookup(TO_PROFILE)),
        c("defaultemailsettings", Text).max(1073741823),
        c("requireapprovalforuseremail", Bool),
        c("requireapprovalforqueueemail", Bool),
        c("generatealertsforerrors", Bool),
        c("generatealertsforwarnings", Bool),
        c("generatealertsforinformation", Bool),
        c("notifymailboxownerofemailserverlevelalerts", Bool),
        c("allowunresolvedpartiesonemailsend", Bool),
        ro("versionnumber", Int),
        ro("createdon", DateTime),
        ro("modifiedon", DateTime),
        // Dataverse's "OrgDBOrgSettings": `<OrgSettings><Name>value</Name>...` (e.g.
        // RequirePrivilegeToSelfApproveEmailAddress), read by `rules::org_db_setting`.
        c("orgdborgsettings", Text).max(1073741823),
    ],
};

/// Appointments, contacts and tasks: what server-side synchronization keeps in step
/// with Exchange ("ACT"). The columns it fills and reads, as Microsoft's table
/// references give them (appointment.md, contact.md, task.md); party lists (organizer,
/// attendees) are not modelled yet.
pub static APPOINTMENT: Table = Table {
    logical: "appointment",
    entity_set: "appointments",
    key: "activityid",
    primary_name: "subject",
    columns: cols![
        ro("activityid", Guid),
        c("subject", Text).max(200),
        c("description", Text).max(1048576),
        c("scheduledstart", DateTime),
        c("scheduledend", DateTime),
        c("scheduleddurationminutes", Int),
        c("location", Text).max(200),
        c("isalldayevent", Bool),
        ch("prioritycode", PRIORITIES),
        // "Shows the ID of the appointment in Microsoft Office Outlook. The ID is used to
        // synchronize the appointment between Microsoft Dynamics 365 and the correct
        // Exchange account."
        c("globalobjectid", Text).max(300),
        ch("statecode", APPOINTMENT_STATES),
        ch("statuscode", APPOINTMENT_STATUSES),
        c("ownerid", Lookup(TO_OWNER)),
    ],
};

pub static CONTACT: Table = Table {
    logical: "contact",
    entity_set: "contacts",
    key: "contactid",
    primary_name: "fullname",
    columns: cols![
        ro("contactid", Guid),
        c("firstname", Text).max(50),
        c("middlename", Text).max(50),
        c("lastname", Text).max(50),
        // Computed from the names (`rules::contact_full_name`), as Dataverse does.
        ro("fullname", Text).max(160),
        c("emailaddress1", Text).max(100),
        c("emailaddress2", Text).max(100),
        c("emailaddress3", Text).max(100),
        c("jobtitle", Text).max(100),
        c("telephone1", Text).max(50),
        c("mobilephone", Text).max(50),
        ch("statecode", CONTACT_STATES),
        ch("statuscode", CONTACT_STATUSES),
        c("ownerid", Lookup(TO_OWNER)),
    ],
};

pub static TASK: Table = Table {
    logical: "task",
    entity_set: "tasks",
    key: "activityid",
    primary_name: "subject",
    columns: cols![
        ro("activityid", Guid),
        c("subject", Text).max(200),
        c("description", Text).max(2000),
        c("scheduledstart", DateTime),
        // "Due Date".
        c("scheduledend", DateTime),
        c("actualdurationminutes", Int),
        c("percentcomplete", Int),
        ch("prioritycode", PRIORITIES),
        ch("statecode", TASK_STATES),
        ch("statuscode", TASK_STATUSES),
        c("ownerid", Lookup(TO_OWNER)),
    ],
};

/// An appointment's parties (organizer 7, required 5 and optional 6 attendees), read
/// with `GET /activityparties` (RetrieveMultiple, the only message Dataverse has for
/// the table) and written through the appointment's `appointment_activity_parties`.
pub static ACTIVITYPARTY: Table = Table {
    logical: "activityparty",
    entity_set: "activityparties",
    key: "activitypartyid",
    primary_name: "addressused",
    columns: cols![
        ro("activitypartyid", Guid),
        ro("activityid", Lookup(TO_ACTIVITY)),
        ro("partyid", Lookup(TO_PARTY)),
        ro("partyobjecttypecode", Text).max(64),
        ro_choice("participationtypemask", PARTICIPATION_TYPES),
        ro("addressused", Text).max(320),
    ],
};

/// Every table the Web API serves.
pub static TABLES: &[&Table] = &[
    &SYSTEMUSER,
    &QUEUE,
    &EMAILSERVERPROFILE,
    &MAILBOX,
    &TRACELOG,
    &ORGANIZATION,
    &EMAIL,
    &SYNCSTATISTIC,
    &TEAM,
    &APPOINTMENT,
    &CONTACT,
    &TASK,
    &ACTIVITYPARTY,
];
