//! What Microsoft's table reference says about the tables and columns the local
//! organization serves: schema names, display names, required levels, object type
//! codes, ownership. The entity model ([`crate::model`]) only knows logical names, and
//! clients show these labels (a grid's column headers, a form's captions), so they are
//! kept here, with a readable fallback for tables and columns added later.
//!
//! Source: `powerapps-docs/developer/data-platform/reference/entities/<table>.md`
//! (see `/work/notes/dataverse-facts.md` §10). Columns that are this solution's own
//! (`systemuser.roles`, the `mailsync_` table) follow the same conventions.

use crate::model::{Column, Kind, Table};

/// A column's `RequiredLevel` in Dataverse's metadata. Only `SystemRequired` is enforced
/// by the platform; `ApplicationRequired` is a hint to forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequiredLevel {
    None,
    SystemRequired,
    ApplicationRequired,
}

impl RequiredLevel {
    /// The `AttributeRequiredLevel` member name, as the JSON carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            RequiredLevel::None => "None",
            RequiredLevel::SystemRequired => "SystemRequired",
            RequiredLevel::ApplicationRequired => "ApplicationRequired",
        }
    }
}

/// This solution's publisher prefix: tables and columns named with it are custom.
pub const PUBLISHER_PREFIX: &str = "mailsync_";

/// Whether a table or column is this solution's own (`IsCustomEntity`,
/// `IsCustomAttribute`) rather than one of Dataverse's.
pub fn is_custom(logical_name: &str) -> bool {
    logical_name.starts_with(PUBLISHER_PREFIX)
}

struct KnownTable {
    logical: &'static str,
    schema: &'static str,
    collection_schema: &'static str,
    display: &'static str,
    display_collection: &'static str,
    /// Dataverse's fixed type code; custom tables get one per organization, so none.
    object_type_code: Option<i32>,
}

const fn t(
    logical: &'static str,
    schema: &'static str,
    collection_schema: &'static str,
    display: &'static str,
    display_collection: &'static str,
    object_type_code: Option<i32>,
) -> KnownTable {
    KnownTable {
        logical,
        schema,
        collection_schema,
        display,
        display_collection,
        object_type_code,
    }
}

static KNOWN_TABLES: &[KnownTable] = &[
    t(
        "systemuser",
        "SystemUser",
        "SystemUsers",
        "User",
        "Users",
        Some(8),
    ),
    t("queue", "Queue", "Queues", "Queue", "Queues", Some(2020)),
    t(
        "emailserverprofile",
        "EmailServerProfile",
        "EmailServerProfiles",
        "Email Server Profile",
        "Email Server Profiles",
        Some(9605),
    ),
    t(
        "mailbox",
        "Mailbox",
        "Mailboxes",
        "Mailbox",
        "Mailboxes",
        Some(9606),
    ),
    t(
        "tracelog",
        "TraceLog",
        "TraceLogs",
        "Trace",
        "Traces",
        Some(4800),
    ),
    t(
        "organization",
        "Organization",
        "Organizations",
        "Organization",
        "Organizations",
        Some(1019),
    ),
    t(
        "email",
        "Email",
        "Emails",
        "Email",
        "Email Messages",
        Some(4202),
    ),
    t(
        "appointment",
        "Appointment",
        "Appointments",
        "Appointment",
        "Appointments",
        Some(4201),
    ),
    t(
        "contact",
        "Contact",
        "Contacts",
        "Contact",
        "Contacts",
        Some(2),
    ),
    t("task", "Task", "Tasks", "Task", "Tasks", Some(4212)),
    t(
        "activityparty",
        "ActivityParty",
        "ActivityParties",
        "Activity Party",
        "Activity Parties",
        Some(135),
    ),
    t(
        "mailsync_syncstatistic",
        "mailsync_SyncStatistic",
        "mailsync_SyncStatistics",
        "Sync Statistic",
        "Sync Statistics",
        None,
    ),
];

/// One column as the reference describes it. `key` is `table.column` for what is
/// particular to one table, or `column` for what every table shares.
pub(super) struct KnownColumn {
    pub(super) key: &'static str,
    schema: &'static str,
    /// Empty: the schema name split into words is the display name.
    display: &'static str,
    required: Option<RequiredLevel>,
}

const fn c(key: &'static str, schema: &'static str, display: &'static str) -> KnownColumn {
    KnownColumn {
        key,
        schema,
        display,
        required: None,
    }
}

impl KnownColumn {
    const fn req(self, level: RequiredLevel) -> Self {
        KnownColumn {
            required: Some(level),
            ..self
        }
    }
}

use RequiredLevel::{ApplicationRequired as APP, None as NONE, SystemRequired as SYS};

/// Table-specific entries first: the lookup takes the first `table.column` match, then
/// the first `column` match.
pub(super) static KNOWN_COLUMNS: &[KnownColumn] = &[
    // activityparty (the ActivityParty table reference)
    c(
        "activityparty.activitypartyid",
        "ActivityPartyId",
        "Activity Party",
    ),
    c("activityparty.activityid", "ActivityId", "Activity"),
    c("activityparty.partyid", "PartyId", "Party"),
    c(
        "activityparty.partyobjecttypecode",
        "PartyObjectTypeCode",
        "Party Type",
    ),
    c(
        "activityparty.participationtypemask",
        "ParticipationTypeMask",
        "Participation Type",
    ),
    c("activityparty.addressused", "AddressUsed", "Address"),
    // systemuser
    c("systemuser.systemuserid", "SystemUserId", "User"),
    // Computed from first and last name, so nothing to require of a client.
    c("systemuser.fullname", "FullName", "Full Name").req(NONE),
    c("systemuser.domainname", "DomainName", "User Name").req(SYS),
    c(
        "systemuser.internalemailaddress",
        "InternalEMailAddress",
        "Primary Email",
    )
    .req(SYS),
    c(
        "systemuser.emailrouteraccessapproval",
        "EmailRouterAccessApproval",
        "Primary Email Status",
    )
    .req(SYS),
    c("systemuser.isdisabled", "IsDisabled", "Status"),
    c("systemuser.roles", "Roles", "Security Roles"),
    // queue
    c("queue.queueid", "QueueId", "Queue"),
    c("queue.name", "Name", "Queue Name"),
    c("queue.emailaddress", "EMailAddress", "Incoming Email"),
    c(
        "queue.emailrouteraccessapproval",
        "EmailRouterAccessApproval",
        "Primary Email Status",
    )
    .req(SYS),
    c(
        "queue.incomingemaildeliverymethod",
        "IncomingEmailDeliveryMethod",
        "",
    )
    .req(SYS),
    c(
        "queue.outgoingemaildeliverymethod",
        "OutgoingEmailDeliveryMethod",
        "",
    )
    .req(SYS),
    // emailserverprofile
    c(
        "emailserverprofile.emailserverprofileid",
        "EmailServerProfileId",
        "EmailServerProfile",
    ),
    c(
        "emailserverprofile.servertype",
        "ServerType",
        "Email Server Type",
    )
    .req(APP),
    c(
        "emailserverprofile.useautodiscover",
        "UseAutoDiscover",
        "Auto Discover Server Location",
    ),
    c(
        "emailserverprofile.incomingserverlocation",
        "IncomingServerLocation",
        "Incoming Email Server Location",
    ),
    c(
        "emailserverprofile.outgoingserverlocation",
        "OutgoingServerLocation",
        "Outgoing Email Server Location",
    ),
    c(
        "emailserverprofile.incomingcredentialretrieval",
        "IncomingCredentialRetrieval",
        "Incoming Email Credential Retrieval",
    ),
    c(
        "emailserverprofile.outgoingcredentialretrieval",
        "OutgoingCredentialRetrieval",
        "Outgoing Email Credential Retrieval",
    ),
    c(
        "emailserverprofile.incomingauthenticationprotocol",
        "IncomingAuthenticationProtocol",
        "",
    ),
    c(
        "emailserverprofile.outgoingauthenticationprotocol",
        "OutgoingAuthenticationProtocol",
        "",
    ),
    c(
        "emailserverprofile.incominguseimpersonation",
        "IncomingUseImpersonation",
        "Use Impersonation for Incoming Email",
    ),
    c(
        "emailserverprofile.outgoinguseimpersonation",
        "OutgoingUseImpersonation",
        "Use Impersonation for Outgoing Email",
    ),
    c(
        "emailserverprofile.incomingusessl",
        "IncomingUseSSL",
        "Use SSL for Incoming Email",
    ),
    c(
        "emailserverprofile.outgoingusessl",
        "OutgoingUseSSL",
        "Use SSL for Outgoing Email",
    ),
    c(
        "emailserverprofile.incomingportnumber",
        "IncomingPortNumber",
        "Incoming Email Port",
    ),
    c(
        "emailserverprofile.outgoingportnumber",
        "OutgoingPortNumber",
        "Outgoing Email Port",
    ),
    c(
        "emailserverprofile.usesamesettingsforoutgoingconnections",
        "UseSameSettingsForOutgoingConnections",
        "Use Same Settings for Outgoing Connection",
    ),
    c(
        "emailserverprofile.incomingusername",
        "IncomingUserName",
        "Incoming Email User Name",
    ),
    c(
        "emailserverprofile.incomingpassword",
        "IncomingPassword",
        "Incoming Email Password",
    ),
    c(
        "emailserverprofile.outgoingusername",
        "OutgoingUsername",
        "Outgoing Email User Name",
    ),
    c(
        "emailserverprofile.outgoingpassword",
        "OutgoingPassword",
        "Outgoing Email Password",
    ),
    c(
        "emailserverprofile.exchangeonlinetenantid",
        "ExchangeOnlineTenantId",
        "",
    ),
    c(
        "emailserverprofile.oauthclientid",
        "OauthClientId",
        "Oauth ClientId",
    ),
    c(
        "emailserverprofile.oauthclientsecret",
        "OauthClientSecret",
        "OAuth Client Secret",
    ),
    c(
        "emailserverprofile.maxconcurrentconnections",
        "MaxConcurrentConnections",
        "Maximum Concurrent Connections",
    ),
    c(
        "emailserverprofile.minpollingintervalinminutes",
        "MinPollingIntervalInMinutes",
        "Minimum Polling Interval In Minutes",
    ),
    c(
        "emailserverprofile.timeoutmailboxconnection",
        "TimeoutMailboxConnection",
        "Timeout Mailbox Connection to Exchange",
    ),
    c(
        "emailserverprofile.timeoutmailboxconnectionafteramount",
        "TimeoutMailboxConnectionAfterAmount",
        "Timeout a Single Mailbox Connection After this Amount of Milliseconds",
    ),
    c(
        "emailserverprofile.moveundeliveredemails",
        "MoveUndeliveredEmails",
        "Move Undelivered Emails to the Undeliverable Folder",
    ),
    c(
        "emailserverprofile.processemailsreceivedafter",
        "ProcessEmailsReceivedAfter",
        "",
    ),
    c(
        "emailserverprofile.sendemailalert",
        "SendEmailAlert",
        "Send an alert email to the owner of the email server profile reporting on major events",
    ),
    c("emailserverprofile.exchangeversion", "ExchangeVersion", ""),
    c(
        "emailserverprofile.lasttestexecutionstatus",
        "LastTestExecutionStatus",
        "",
    ),
    c(
        "emailserverprofile.lastteststarttime",
        "LastTestStartTime",
        "Last Test Time",
    ),
    c(
        "emailserverprofile.lasttesttotalexecutiontime",
        "LastTestTotalExecutionTime",
        "Last Test Time Taken",
    ),
    // mailbox
    c("mailbox.mailboxid", "MailboxId", "Mailbox"),
    c("mailbox.name", "Name", "Name").req(SYS),
    c(
        "mailbox.emailserverprofile",
        "EmailServerProfile",
        "Server Profile",
    ),
    c(
        "mailbox.emailrouteraccessapproval",
        "EmailRouterAccessApproval",
        "Email Address Status",
    )
    .req(SYS),
    c(
        "mailbox.isemailaddressapprovedbyo365admin",
        "IsEmailAddressApprovedByO365Admin",
        "Email Address O365 Admin Approval Status",
    )
    .req(SYS),
    c(
        "mailbox.incomingemaildeliverymethod",
        "IncomingEmailDeliveryMethod",
        "Incoming Email",
    ),
    c(
        "mailbox.outgoingemaildeliverymethod",
        "OutgoingEmailDeliveryMethod",
        "Outgoing Email",
    ),
    c(
        "mailbox.actdeliverymethod",
        "ACTDeliveryMethod",
        "Appointments, Contacts, and Tasks",
    ),
    c(
        "mailbox.enabledforincomingemail",
        "EnabledForIncomingEmail",
        "",
    )
    .req(SYS),
    c(
        "mailbox.enabledforoutgoingemail",
        "EnabledForOutgoingEmail",
        "",
    )
    .req(SYS),
    c(
        "mailbox.enabledforact",
        "EnabledForACT",
        "Enabled For Appointments, Contacts, And Tasks",
    )
    .req(SYS),
    c("mailbox.incomingemailstatus", "IncomingEmailStatus", ""),
    c("mailbox.outgoingemailstatus", "OutgoingEmailStatus", ""),
    c(
        "mailbox.actstatus",
        "ACTStatus",
        "Appointments, Contacts, and Tasks Status",
    ),
    c("mailbox.mailboxstatus", "MailboxStatus", ""),
    c(
        "mailbox.testemailconfigurationscheduled",
        "TestEmailConfigurationScheduled",
        "",
    ),
    c(
        "mailbox.testemailconfigurationretrycount",
        "TestEmailConfigurationRetryCount",
        "",
    )
    .req(SYS),
    c(
        "mailbox.testmailboxaccesscompletedon",
        "TestMailboxAccessCompletedOn",
        "Mailbox Test Completed On",
    ),
    c(
        "mailbox.postponetestemailconfigurationuntil",
        "PostponeTestEmailConfigurationUntil",
        "",
    ),
    c(
        "mailbox.orgmarkedasprimaryforexchangesync",
        "OrgMarkedAsPrimaryForExchangeSync",
        "Crm Org Marked as Primary Org for Exchange Mailbox",
    ),
    c(
        "mailbox.processemailreceivedafter",
        "ProcessEmailReceivedAfter",
        "",
    ),
    c(
        "mailbox.processingstatecode",
        "ProcessingStateCode",
        "Mailbox Processing State",
    )
    .req(SYS),
    c("mailbox.hostid", "HostId", "Host"),
    c(
        "mailbox.processinglastattemptedon",
        "ProcessingLastAttemptedOn",
        "Date Processing Last Attempted",
    ),
    c(
        "mailbox.noemailcount",
        "NoEmailCount",
        "Zero email count for mailbox",
    ),
    c(
        "mailbox.noactcount",
        "NoACTCount",
        "Zero appointment, contact, task count for mailbox",
    ),
    c(
        "mailbox.postponemailboxprocessinguntil",
        "PostponeMailboxProcessingUntil",
        "",
    )
    .req(SYS),
    c("mailbox.postponesendinguntil", "PostponeSendingUntil", "").req(SYS),
    c(
        "mailbox.receivingpostponeduntil",
        "ReceivingPostponedUntil",
        "Postpone receiving emails for the mailbox until the specified data and time.",
    ),
    c(
        "mailbox.receivingpostponeduntilforact",
        "ReceivingPostponedUntilForACT",
        "Postpone processing Appointments, Contacts, and Tasks for the mailbox until the \
         specified data and time.",
    ),
    c(
        "mailbox.lastsuccessfulsynccompletedon",
        "LastSuccessfulSyncCompletedOn",
        "Last Successful Sync Time",
    ),
    c(
        "mailbox.lastsyncstartedon",
        "LastSyncStartedOn",
        "Last Sync Start Time",
    ),
    c(
        "mailbox.lastsyncerroroccurredon",
        "LastSyncErrorOccurredOn",
        "Last Sync Error Time",
    ),
    c(
        "mailbox.lastsyncerror",
        "LastSyncError",
        "Last Sync Error Stack",
    ),
    c("mailbox.lastsyncerrorcode", "LastSyncErrorCode", ""),
    c(
        "mailbox.lastsyncerrorcount",
        "LastSyncErrorCount",
        "Last Sync Error Continuous Count",
    ),
    c(
        "mailbox.itemsprocessedforlastsync",
        "ItemsProcessedForLastSync",
        "",
    ),
    c(
        "mailbox.itemsfailedforlastsync",
        "ItemsFailedForLastSync",
        "",
    ),
    c("mailbox.transientfailurecount", "TransientFailureCount", "").req(SYS),
    c(
        "mailbox.processedtimes",
        "ProcessedTimes",
        "Monitor Performance",
    ),
    c(
        "mailbox.averagetotalduration",
        "AverageTotalDuration",
        "Monitor Total Performance",
    ),
    c(
        "mailbox.lastduration",
        "LastDuration",
        "Monitor last duration Performance",
    ),
    c("mailbox.isforwardmailbox", "IsForwardMailbox", "").req(SYS),
    c("mailbox.isserviceaccount", "IsServiceAccount", "").req(SYS),
    c(
        "mailbox.allowemailconnectortousecredentials",
        "AllowEmailConnectorToUseCredentials",
        "Allow to Use Credentials for Email Processing",
    ),
    c(
        "mailbox.processanddeleteemails",
        "ProcessAndDeleteEmails",
        "Delete Emails after Processing",
    ),
    c("mailbox.username", "Username", "User Name"),
    c("mailbox.statuscode", "StatusCode", "Status Reason").req(SYS),
    // tracelog
    c("tracelog.tracelogid", "TraceLogId", "Trace"),
    c("tracelog.level", "Level", "Level").req(APP),
    c("tracelog.tracecode", "TraceCode", "Error Code").req(SYS),
    // The primary name, yet not required (a trace may have no text).
    c("tracelog.text", "Text", "Text").req(NONE),
    c(
        "tracelog.errortypedisplay",
        "ErrorTypeDisplay",
        "Trace Error Details",
    ),
    c("tracelog.errordetails", "ErrorDetails", ""),
    c(
        "tracelog.regardingobjectid",
        "RegardingObjectId",
        "Regarding",
    )
    .req(SYS),
    c("tracelog.isunique", "IsUnique", "Is Unique Trace"),
    c(
        "tracelog.canbedeleted",
        "CanBeDeleted",
        "Trace CanBeDeleted Flag",
    ),
    c("tracelog.modifiedon", "ModifiedOn", "Last Update On"),
    // organization
    c(
        "organization.organizationid",
        "OrganizationId",
        "Organization",
    ),
    c("organization.name", "Name", "Organization Name"),
    c(
        "organization.emailconnectionchannel",
        "EmailConnectionChannel",
        "",
    )
    .req(SYS),
    c(
        "organization.defaultemailserverprofileid",
        "DefaultEmailServerProfileId",
        "Email Server Profile",
    ),
    c(
        "organization.defaultemailsettings",
        "DefaultEmailSettings",
        "",
    ),
    c(
        "organization.requireapprovalforuseremail",
        "RequireApprovalForUserEmail",
        "Is Approval For User Email Required",
    )
    .req(SYS),
    c(
        "organization.requireapprovalforqueueemail",
        "RequireApprovalForQueueEmail",
        "Is Approval For Queue Email Required",
    )
    .req(SYS),
    c(
        "organization.generatealertsforerrors",
        "GenerateAlertsForErrors",
        "",
    ),
    c(
        "organization.generatealertsforwarnings",
        "GenerateAlertsForWarnings",
        "",
    ),
    c(
        "organization.generatealertsforinformation",
        "GenerateAlertsForInformation",
        "",
    ),
    c(
        "organization.notifymailboxownerofemailserverlevelalerts",
        "NotifyMailboxOwnerOfEmailServerLevelAlerts",
        "",
    )
    .req(SYS),
    c(
        "organization.allowunresolvedpartiesonemailsend",
        "AllowUnresolvedPartiesOnEmailSend",
        "",
    ),
    // email
    c("email.activityid", "ActivityId", "Email Message"),
    // The primary name, yet not required (an email may have no subject).
    c("email.subject", "Subject", "Subject").req(NONE),
    c("email.sender", "Sender", ""),
    c("email.torecipients", "ToRecipients", "To Recipients"),
    c("email.messageid", "MessageId", "Message ID"),
    c("email.directioncode", "DirectionCode", "Direction"),
    c("email.statecode", "StateCode", "Activity Status").req(SYS),
    c("email.senton", "SentOn", "Date Sent"),
    c(
        "email.deliveryattempts",
        "DeliveryAttempts",
        "No. of Delivery Attempts",
    ),
    c(
        "email.deliverylastattemptedon",
        "DeliveryLastAttemptedOn",
        "Date Delivery Last Attempted",
    ),
    c(
        "email.sendermailboxid",
        "SenderMailboxId",
        "Sender's Mailbox",
    ),
    c(
        "email.receivingmailboxid",
        "ReceivingMailboxId",
        "Receiving Mailbox",
    ),
    // mailsync_syncstatistic (custom: schema names keep the publisher prefix)
    c(
        "mailsync_syncstatistic.mailsync_syncstatisticid",
        "mailsync_SyncStatisticId",
        "Sync Statistic",
    ),
    c(
        "mailsync_syncstatistic.mailsync_name",
        "mailsync_Name",
        "Name",
    ),
    c(
        "mailsync_syncstatistic.mailsync_hour",
        "mailsync_Hour",
        "Hour",
    ),
    c(
        "mailsync_syncstatistic.mailsync_emailserverprofileid",
        "mailsync_EmailServerProfileId",
        "Email Server Profile",
    ),
    c(
        "mailsync_syncstatistic.mailsync_cycles",
        "mailsync_Cycles",
        "",
    ),
    c(
        "mailsync_syncstatistic.mailsync_failures",
        "mailsync_Failures",
        "",
    ),
    c(
        "mailsync_syncstatistic.mailsync_tests",
        "mailsync_Tests",
        "",
    ),
    c(
        "mailsync_syncstatistic.mailsync_testfailures",
        "mailsync_TestFailures",
        "",
    ),
    c(
        "mailsync_syncstatistic.mailsync_items",
        "mailsync_Items",
        "",
    ),
    // Shared by several tables.
    c("versionnumber", "VersionNumber", ""),
    c("createdon", "CreatedOn", ""),
    c("modifiedon", "ModifiedOn", ""),
    c("ownerid", "OwnerId", "Owner").req(SYS),
    c("statecode", "StateCode", "Status").req(SYS),
    c("statuscode", "StatusCode", "Status Reason"),
    c("name", "Name", ""),
    c("description", "Description", ""),
    c("emailaddress", "EmailAddress", ""),
    c(
        "emailrouteraccessapproval",
        "EmailRouterAccessApproval",
        "Primary Email Status",
    )
    .req(SYS),
    c("defaultmailbox", "DefaultMailbox", "Mailbox"),
    c("regardingobjectid", "RegardingObjectId", "Regarding"),
    c("regardingobjecttypecode", "RegardingObjectTypeCode", ""),
    c("password", "Password", ""),
];

fn known_table(table: &Table) -> Option<&'static KnownTable> {
    KNOWN_TABLES.iter().find(|k| k.logical == table.logical)
}

fn known_column(table: &Table, column: &Column) -> Option<&'static KnownColumn> {
    let qualified = |k: &&KnownColumn| {
        k.key
            .strip_prefix(table.logical)
            .and_then(|rest| rest.strip_prefix('.'))
            == Some(column.name)
    };
    KNOWN_COLUMNS
        .iter()
        .find(qualified)
        .or_else(|| KNOWN_COLUMNS.iter().find(|k| k.key == column.name))
}

/// `mailsync_syncstatistic` → `mailsync_Syncstatistic`, `foo` → `Foo`: a schema name for
/// a name the reference does not cover (the publisher prefix stays lower case, as
/// Dataverse writes custom schema names).
fn schema_fallback(logical: &str) -> String {
    let (prefix, rest) = match logical.strip_prefix(PUBLISHER_PREFIX) {
        Some(rest) => (PUBLISHER_PREFIX, rest),
        None => ("", logical),
    };
    let mut chars = rest.chars();
    let first = chars.next().map(|c| c.to_ascii_uppercase());
    format!(
        "{prefix}{}{}",
        first.map(String::from).unwrap_or_default(),
        chars.as_str()
    )
}

/// A schema name split into words (`EmailRouterAccessApproval` → `Email Router Access
/// Approval`, `ACTStatus` → `ACT Status`), the publisher prefix dropped: the display
/// name where the reference gives none.
fn words(schema: &str) -> String {
    let name = schema.strip_prefix(PUBLISHER_PREFIX).unwrap_or(schema);
    let chars: Vec<char> = name
        .chars()
        .map(|c| if c == '_' { ' ' } else { c })
        .collect();
    let mut out = String::with_capacity(name.len() + 8);
    for (i, &ch) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        // A new word starts at a capital after a small letter or digit ("EmailRouter"),
        // or at the last capital of an acronym followed by a small letter ("ACTStatus").
        let boundary = ch.is_ascii_uppercase()
            && prev.is_some_and(|p| {
                p.is_ascii_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_lowercase()))
            });
        if boundary && !out.ends_with(' ') {
            out.push(' ');
        }
        out.push(ch);
    }
    out
}

pub fn table_schema_name(table: &Table) -> String {
    known_table(table).map_or_else(|| schema_fallback(table.logical), |k| k.schema.to_string())
}

/// `CollectionSchemaName` (`Mailboxes`).
pub fn table_collection_schema_name(table: &Table) -> String {
    known_table(table).map_or_else(
        || format!("{}s", schema_fallback(table.logical)),
        |k| k.collection_schema.to_string(),
    )
}

/// The table's display name (`Email Server Profile`).
pub fn table_display_name(table: &Table) -> String {
    known_table(table).map_or_else(
        || words(&schema_fallback(table.logical)),
        |k| k.display.to_string(),
    )
}

/// The table's plural display name (`Email Server Profiles`).
pub fn table_display_collection_name(table: &Table) -> String {
    known_table(table).map_or_else(
        || format!("{}s", table_display_name(table)),
        |k| k.display_collection.to_string(),
    )
}

/// Dataverse's `ObjectTypeCode` for its own tables; `None` for custom or unknown ones
/// (a custom table's code differs per organization, so none is invented).
pub fn object_type_code(table: &Table) -> Option<i32> {
    known_table(table).and_then(|k| k.object_type_code)
}

/// `OwnershipType`: users are owned by business units; a table with an owner is
/// user-owned; the others belong to the organization.
pub fn ownership_type(table: &Table) -> &'static str {
    if table.logical == "systemuser" {
        "BusinessOwned"
    } else if table.column("ownerid").is_some() {
        "UserOwned"
    } else {
        "OrganizationOwned"
    }
}

/// The column's `SchemaName` (`EmailRouterAccessApproval`).
pub fn column_schema_name(table: &Table, column: &Column) -> String {
    known_column(table, column)
        .map_or_else(|| schema_fallback(column.name), |k| k.schema.to_string())
}

/// The column's display name (`Email Address Status`), or its schema name in words.
pub fn column_display_name(table: &Table, column: &Column) -> String {
    match known_column(table, column) {
        Some(k) if !k.display.is_empty() => k.display.to_string(),
        Some(k) => words(k.schema),
        None => words(&schema_fallback(column.name)),
    }
}

/// The column's `RequiredLevel`: the reference's where known, else the key is
/// system-required and the primary name application-required (as Dataverse creates
/// them for a new table), and anything else optional.
pub fn required_level(table: &Table, column: &Column) -> RequiredLevel {
    if let Some(level) = known_column(table, column).and_then(|k| k.required) {
        return level;
    }
    if column.name == table.key {
        RequiredLevel::SystemRequired
    } else if column.name == table.primary_name {
        RequiredLevel::ApplicationRequired
    } else {
        RequiredLevel::None
    }
}

/// A Boolean column's labels, `(true, false)`: "Yes"/"No" unless the reference names
/// the two options otherwise (a user's status, an email's direction).
pub fn bool_labels(column: &Column) -> (&'static str, &'static str) {
    match column.name {
        "isdisabled" => ("Disabled", "Enabled"),
        "directioncode" => ("Outgoing", "Incoming"),
        _ => ("Yes", "No"),
    }
}

/// Whether a text column holds long text: Dataverse's String columns stop at 4,000
/// characters, longer ones are Memo columns.
pub fn is_memo(column: &Column) -> bool {
    column.kind == Kind::Text && column.max_len.is_some_and(|n| n > 4000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{self, EMAIL, MAILBOX, QUEUE, SYNCSTATISTIC, SYSTEMUSER, TABLES, TRACELOG};

    /// A typo in a key would silently fall back to a made-up name.
    #[test]
    fn every_known_entry_names_a_real_column() {
        for k in KNOWN_COLUMNS {
            let found = match k.key.split_once('.') {
                Some((t, c)) => model::table(t).and_then(|t| t.column(c)).is_some(),
                None => TABLES.iter().any(|t| t.column(k.key).is_some()),
            };
            assert!(found, "{}", k.key);
        }
        for k in KNOWN_TABLES {
            assert!(model::table(k.logical).is_some(), "{}", k.logical);
        }
    }

    #[test]
    fn names_from_the_reference() {
        let approval = MAILBOX.column("emailrouteraccessapproval").unwrap();
        assert_eq!(
            column_schema_name(&MAILBOX, approval),
            "EmailRouterAccessApproval"
        );
        assert_eq!(
            column_display_name(&MAILBOX, approval),
            "Email Address Status"
        );
        // The same column on a user is labelled differently.
        let user_approval = SYSTEMUSER.column("emailrouteraccessapproval").unwrap();
        assert_eq!(
            column_display_name(&SYSTEMUSER, user_approval),
            "Primary Email Status"
        );
        let email = QUEUE.column("emailaddress").unwrap();
        assert_eq!(column_schema_name(&QUEUE, email), "EMailAddress");
        assert_eq!(
            column_display_name(&MAILBOX, MAILBOX.column("emailaddress").unwrap()),
            "Email Address"
        );
        assert_eq!(table_display_name(&TRACELOG), "Trace");
        assert_eq!(table_display_collection_name(&EMAIL), "Email Messages");
        assert_eq!(table_schema_name(&SYNCSTATISTIC), "mailsync_SyncStatistic");
        assert_eq!(object_type_code(&MAILBOX), Some(9606));
        assert_eq!(object_type_code(&SYNCSTATISTIC), None);
    }

    #[test]
    fn schema_names_split_into_words() {
        assert_eq!(
            words("EmailRouterAccessApproval"),
            "Email Router Access Approval"
        );
        assert_eq!(words("ACTStatus"), "ACT Status");
        assert_eq!(
            words("IsEmailAddressApprovedByO365Admin"),
            "Is Email Address Approved By O365 Admin"
        );
        assert_eq!(words("mailsync_TestFailures"), "Test Failures");
        assert_eq!(words("Foo_Bar"), "Foo Bar");
        assert_eq!(schema_fallback("mailsync_widget"), "mailsync_Widget");
        assert_eq!(schema_fallback("widget"), "Widget");
        assert_eq!(schema_fallback(""), "");
    }

    /// A table or column added later gets readable names without an entry here.
    #[test]
    fn unknown_names_fall_back() {
        static COLS: &[Column] = &[
            Column::new("mailsync_widgetid", Kind::Guid),
            Column::new("mailsync_label", Kind::Text),
            Column::new("ownerid", Kind::Lookup(&["systemuser"])),
        ];
        let widget = Table {
            logical: "mailsync_widget",
            entity_set: "mailsync_widgets",
            key: "mailsync_widgetid",
            primary_name: "mailsync_label",
            columns: COLS,
        };
        assert_eq!(table_schema_name(&widget), "mailsync_Widget");
        assert_eq!(table_display_name(&widget), "Widget");
        assert_eq!(table_display_collection_name(&widget), "Widgets");
        assert_eq!(ownership_type(&widget), "UserOwned");
        assert_eq!(column_display_name(&widget, &COLS[1]), "Label");
        assert_eq!(
            required_level(&widget, &COLS[0]),
            RequiredLevel::SystemRequired
        );
        assert_eq!(
            required_level(&widget, &COLS[1]),
            RequiredLevel::ApplicationRequired
        );
        // Shared entries still apply.
        assert_eq!(column_display_name(&widget, &COLS[2]), "Owner");
    }

    #[test]
    fn required_levels_and_ownership() {
        let level = |t: &Table, c: &str| required_level(t, t.column(c).unwrap());
        assert_eq!(level(&MAILBOX, "mailboxid"), RequiredLevel::SystemRequired);
        assert_eq!(level(&MAILBOX, "name"), RequiredLevel::SystemRequired);
        assert_eq!(level(&QUEUE, "name"), RequiredLevel::ApplicationRequired);
        assert_eq!(level(&TRACELOG, "text"), RequiredLevel::None);
        assert_eq!(level(&MAILBOX, "username"), RequiredLevel::None);
        assert_eq!(ownership_type(&SYSTEMUSER), "BusinessOwned");
        assert_eq!(ownership_type(&MAILBOX), "UserOwned");
        assert_eq!(ownership_type(&TRACELOG), "OrganizationOwned");
        assert_eq!(
            bool_labels(EMAIL.column("directioncode").unwrap()).0,
            "Outgoing"
        );
        assert!(is_memo(EMAIL.column("description").unwrap()));
        assert!(!is_memo(EMAIL.column("subject").unwrap()));
    }
}
