//! The schema and its migrations, keyed on `PRAGMA user_version`.
//!
//! `MIGRATIONS[i]` upgrades a file at version `i` to version `i + 1`. A migration is
//! frozen once released: change the schema by appending a new one, never by editing
//! an old one, so an older file is upgraded in place without losing data. All pending
//! migrations run in one transaction at open: a file is either upgraded completely or
//! left as it was.
//!
//! Conventions: Dataverse logical names as column names; option values as the integers
//! Dataverse uses; booleans 0/1; GUIDs as lower-case hyphenated text; dates as UTC
//! RFC 3339 text (`2026-01-02T03:04:05Z`, sorts and compares as text). Every business
//! record has `versionnumber` (the ETag, bumped by a trigger on every update unless the
//! update sets it itself), `createdon` and `modifiedon` (set by the same trigger).

use rusqlite::{Connection, TransactionBehavior};

/// The schema version this code writes.
pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// The ISO-8601 UTC "now" expression the triggers use.
macro_rules! now_sql {
    () => {
        "strftime('%Y-%m-%dT%H:%M:%SZ','now')"
    };
}

/// Bumps `versionnumber` and `modifiedon` on every update of `$table` keyed by `$key`.
macro_rules! version_trigger {
    ($table:literal, $key:literal) => {
        concat!(
            "CREATE TRIGGER ", $table, "_version AFTER UPDATE ON ", $table,
            " WHEN NEW.versionnumber IS OLD.versionnumber BEGIN UPDATE ", $table,
            " SET versionnumber = OLD.versionnumber + 1, modifiedon = CASE WHEN NEW.modifiedon IS OLD.modifiedon THEN ",
            now_sql!(), " ELSE NEW.modifiedon END WHERE ", $key, " = NEW.", $key, "; END;\n"
        )
    };
}

/// Common record columns.
macro_rules! record_columns {
    () => {
        concat!(
            "versionnumber INTEGER NOT NULL DEFAULT 1,\n",
            "createdon TEXT NOT NULL DEFAULT (",
            now_sql!(),
            "),\n",
            "modifiedon TEXT NOT NULL DEFAULT (",
            now_sql!(),
            ")\n"
        )
    };
}

/// Version 1: the organization's tables.
const V1: &str = concat!(
    "CREATE TABLE systemuser (
    systemuserid TEXT PRIMARY KEY NOT NULL,
    fullname TEXT NOT NULL,
    domainname TEXT NOT NULL UNIQUE COLLATE NOCASE,
    internalemailaddress TEXT,
    emailrouteraccessapproval INTEGER NOT NULL DEFAULT 0,
    isdisabled INTEGER NOT NULL DEFAULT 0,
    defaultmailbox TEXT,
    roles TEXT NOT NULL DEFAULT '',
    passwordhash TEXT,
    ", record_columns!(), ");\n",
    version_trigger!("systemuser", "systemuserid"),
    "CREATE TABLE queue (
    queueid TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    emailaddress TEXT,
    emailrouteraccessapproval INTEGER NOT NULL DEFAULT 0,
    incomingemaildeliverymethod INTEGER NOT NULL DEFAULT 2,
    outgoingemaildeliverymethod INTEGER NOT NULL DEFAULT 2,
    ownerid TEXT REFERENCES systemuser(systemuserid) ON DELETE SET NULL,
    defaultmailbox TEXT,
    statecode INTEGER NOT NULL DEFAULT 0,
    statuscode INTEGER NOT NULL DEFAULT 1,
    ", record_columns!(), ");\n",
    version_trigger!("queue", "queueid"),
    "CREATE TABLE emailserverprofile (
    emailserverprofileid TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    servertype INTEGER NOT NULL DEFAULT 0,
    useautodiscover INTEGER NOT NULL DEFAULT 1,
    incomingserverlocation TEXT,
    outgoingserverlocation TEXT,
    incomingcredentialretrieval INTEGER NOT NULL DEFAULT 0,
    outgoingcredentialretrieval INTEGER NOT NULL DEFAULT 0,
    incomingauthenticationprotocol INTEGER NOT NULL DEFAULT 0,
    outgoingauthenticationprotocol INTEGER NOT NULL DEFAULT 0,
    incominguseimpersonation INTEGER NOT NULL DEFAULT 0,
    outgoinguseimpersonation INTEGER NOT NULL DEFAULT 0,
    incomingusessl INTEGER NOT NULL DEFAULT 1,
    outgoingusessl INTEGER NOT NULL DEFAULT 1,
    incomingportnumber INTEGER,
    outgoingportnumber INTEGER,
    usesamesettingsforoutgoingconnections INTEGER NOT NULL DEFAULT 1,
    incomingusername TEXT,
    incomingpassword TEXT,
    outgoingusername TEXT,
    outgoingpassword TEXT,
    exchangeonlinetenantid TEXT,
    oauthclientid TEXT,
    oauthclientsecret TEXT,
    maxconcurrentconnections INTEGER NOT NULL DEFAULT 10,
    minpollingintervalinminutes INTEGER NOT NULL DEFAULT 0,
    timeoutmailboxconnection INTEGER NOT NULL DEFAULT 0,
    timeoutmailboxconnectionafteramount INTEGER,
    moveundeliveredemails INTEGER NOT NULL DEFAULT 0,
    processemailsreceivedafter TEXT,
    sendemailalert INTEGER NOT NULL DEFAULT 0,
    exchangeversion INTEGER,
    lasttestexecutionstatus INTEGER,
    lastteststarttime TEXT,
    lasttesttotalexecutiontime INTEGER,
    ownerid TEXT REFERENCES systemuser(systemuserid) ON DELETE SET NULL,
    statecode INTEGER NOT NULL DEFAULT 0,
    statuscode INTEGER NOT NULL DEFAULT 1,
    ", record_columns!(), ");\n",
    version_trigger!("emailserverprofile", "emailserverprofileid"),
    "CREATE TABLE mailbox (
    mailboxid TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    emailaddress TEXT,
    regardingobjectid TEXT,
    regardingobjecttypecode TEXT CHECK (regardingobjecttypecode IN ('systemuser', 'queue')),
    ownerid TEXT REFERENCES systemuser(systemuserid) ON DELETE SET NULL,
    emailserverprofile TEXT REFERENCES emailserverprofile(emailserverprofileid) ON DELETE SET NULL,
    emailrouteraccessapproval INTEGER NOT NULL DEFAULT 0,
    isemailaddressapprovedbyo365admin INTEGER NOT NULL DEFAULT 0,
    incomingemaildeliverymethod INTEGER NOT NULL DEFAULT 2,
    outgoingemaildeliverymethod INTEGER NOT NULL DEFAULT 2,
    actdeliverymethod INTEGER NOT NULL DEFAULT 2,
    enabledforincomingemail INTEGER NOT NULL DEFAULT 0,
    enabledforoutgoingemail INTEGER NOT NULL DEFAULT 0,
    enabledforact INTEGER NOT NULL DEFAULT 0,
    incomingemailstatus INTEGER NOT NULL DEFAULT 0,
    outgoingemailstatus INTEGER NOT NULL DEFAULT 0,
    actstatus INTEGER NOT NULL DEFAULT 0,
    mailboxstatus INTEGER NOT NULL DEFAULT 0,
    testemailconfigurationscheduled INTEGER NOT NULL DEFAULT 0,
    testemailconfigurationretrycount INTEGER NOT NULL DEFAULT 0,
    testmailboxaccesscompletedon TEXT,
    postponetestemailconfigurationuntil TEXT,
    orgmarkedasprimaryforexchangesync INTEGER NOT NULL DEFAULT 0,
    processemailreceivedafter TEXT,
    processingstatecode INTEGER NOT NULL DEFAULT 0,
    hostid TEXT,
    processinglastattemptedon TEXT,
    noemailcount INTEGER NOT NULL DEFAULT 0,
    noactcount INTEGER NOT NULL DEFAULT 0,
    postponemailboxprocessinguntil TEXT,
    postponesendinguntil TEXT,
    receivingpostponeduntil TEXT,
    receivingpostponeduntilforact TEXT,
    lastsuccessfulsynccompletedon TEXT,
    lastsyncstartedon TEXT,
    lastsyncerroroccurredon TEXT,
    lastsyncerror TEXT,
    lastsyncerrorcode INTEGER,
    lastsyncerrorcount INTEGER NOT NULL DEFAULT 0,
    itemsprocessedforlastsync INTEGER NOT NULL DEFAULT 0,
    itemsfailedforlastsync INTEGER NOT NULL DEFAULT 0,
    transientfailurecount INTEGER NOT NULL DEFAULT 0,
    processedtimes INTEGER NOT NULL DEFAULT 0,
    averagetotalduration INTEGER NOT NULL DEFAULT 0,
    lastduration INTEGER NOT NULL DEFAULT 0,
    isforwardmailbox INTEGER NOT NULL DEFAULT 0,
    isserviceaccount INTEGER NOT NULL DEFAULT 0,
    allowemailconnectortousecredentials INTEGER NOT NULL DEFAULT 0,
    deleteemails INTEGER NOT NULL DEFAULT 0,
    username TEXT,
    password TEXT,
    statecode INTEGER NOT NULL DEFAULT 0,
    statuscode INTEGER NOT NULL DEFAULT 1,
    ", record_columns!(), ");\n",
    version_trigger!("mailbox", "mailboxid"),
    "CREATE TABLE tracelog (
    tracelogid TEXT PRIMARY KEY NOT NULL,
    level INTEGER NOT NULL CHECK (level IN (1, 2, 3)),
    tracecode INTEGER,
    text TEXT,
    errortypedisplay TEXT,
    errordetails TEXT,
    regardingobjectid TEXT,
    regardingobjecttypecode TEXT CHECK (regardingobjecttypecode IN ('mailbox', 'emailserverprofile')),
    isunique INTEGER NOT NULL DEFAULT 0,
    canbedeleted INTEGER NOT NULL DEFAULT 1,
    ", record_columns!(), ");\n",
    version_trigger!("tracelog", "tracelogid"),
    "CREATE TABLE organization (
    organizationid TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    emailconnectionchannel INTEGER NOT NULL DEFAULT 0,
    defaultemailserverprofileid TEXT REFERENCES emailserverprofile(emailserverprofileid) ON DELETE SET NULL,
    defaultemailsettings TEXT,
    requireapprovalforuseremail INTEGER NOT NULL DEFAULT 0,
    requireapprovalforqueueemail INTEGER NOT NULL DEFAULT 0,
    generatealertsforerrors INTEGER NOT NULL DEFAULT 1,
    generatealertsforwarnings INTEGER NOT NULL DEFAULT 1,
    generatealertsforinformation INTEGER NOT NULL DEFAULT 1,
    notifymailboxownerofemailserverlevelalerts INTEGER NOT NULL DEFAULT 0,
    allowunresolvedpartiesonemailsend INTEGER NOT NULL DEFAULT 0,
    ", record_columns!(), ");\n",
    version_trigger!("organization", "organizationid"),
    // A mailbox's alerts go with it.
    "CREATE TRIGGER mailbox_delete_alerts AFTER DELETE ON mailbox BEGIN
    DELETE FROM tracelog WHERE regardingobjectid = OLD.mailboxid; END;
CREATE TRIGGER profile_delete_alerts AFTER DELETE ON emailserverprofile BEGIN
    DELETE FROM tracelog WHERE regardingobjectid = OLD.emailserverprofileid; END;
"
);

/// Version 2: sign-in sessions, and the indexes the console's views use.
const V2: &str = "
CREATE TABLE session (
    tokenhash TEXT PRIMARY KEY NOT NULL,
    systemuserid TEXT NOT NULL REFERENCES systemuser(systemuserid) ON DELETE CASCADE,
    createdon TEXT NOT NULL,
    expireson TEXT NOT NULL
);
CREATE INDEX session_user ON session(systemuserid);
CREATE INDEX mailbox_regarding ON mailbox(regardingobjectid);
CREATE INDEX mailbox_owner ON mailbox(ownerid);
CREATE INDEX mailbox_profile ON mailbox(emailserverprofile);
CREATE INDEX mailbox_name ON mailbox(name);
CREATE INDEX mailbox_approval ON mailbox(emailrouteraccessapproval);
CREATE INDEX tracelog_regarding ON tracelog(regardingobjectid, createdon);
CREATE INDEX tracelog_createdon ON tracelog(createdon);
CREATE INDEX queue_owner ON queue(ownerid);
CREATE INDEX emailserverprofile_owner ON emailserverprofile(ownerid);
";

/// Version 3: indexes for large organizations (`e2e/bench/console-bench.mjs`).
///
/// * The Web API sorts and compares text `COLLATE NOCASE` (`odata_sql`), so V2's BINARY
///   `mailbox_name` served no query: the grid's first page (by name, then the key) was a
///   scan and a sort of every mailbox. Name and address now have NOCASE indexes in the
///   grid's full order (then the key), each also holding the other one: the grid's
///   search (`contains` on name or address) is then checked in the index and only the
///   matches are read from the table. (Without it, walking the index in order read every
///   mailbox at random for a rare search: several times slower than a plain scan.)
/// * `mailbox_state_*`: the Active view (`statecode eq 0`, the grid's default) by name or
///   address, and its `$count`, from the index alone. (Without statistics SQLite takes
///   an equality over a sort, so an index on `statecode` alone made the page a sort of
///   every active mailbox again.)
/// * The alerts wall reads the newest first (`createdon desc`, then the key ascending):
///   `tracelog_createdon` is now in exactly that order (V2's, ascending on `createdon`
///   alone, left the ties to sort, and for the wall's `$top=1` count requests SQLite
///   preferred a scan and sort of every alert). `tracelog_level` is the same order per
///   level: the count of each level from the index, and a level's newest alerts.
const V3: &str = "
DROP INDEX mailbox_name;
CREATE INDEX mailbox_name ON mailbox(name COLLATE NOCASE, mailboxid, emailaddress);
CREATE INDEX mailbox_emailaddress ON mailbox(emailaddress COLLATE NOCASE, mailboxid, name);
CREATE INDEX mailbox_state_name ON mailbox(statecode, name COLLATE NOCASE, mailboxid, emailaddress);
CREATE INDEX mailbox_state_emailaddress ON mailbox(statecode, emailaddress COLLATE NOCASE, mailboxid, name);
DROP INDEX tracelog_createdon;
CREATE INDEX tracelog_createdon ON tracelog(createdon DESC, tracelogid);
CREATE INDEX tracelog_level ON tracelog(level, createdon DESC, tracelogid);
";

/// Version 4, the synchronization engine: email activities (`email`, what is received and sent),
/// alerts about an email (the tracelog's regarding may now be an email: SQLite cannot
/// change a CHECK, so the table is rebuilt with its indexes; an alert logged again is a
/// new record first logged when the old one was, so walls and logs read the newest by
/// `modifiedon`, last logged, and the indexes follow), hourly sync statistics
/// for the dashboard (`mailsync_syncstatistic`, a custom table of this solution), and
/// the engine's own bookkeeping (`syncstate`: the IMAP position of each mailbox;
/// `pop3seen`: the POP3 messages already taken; `profilenotice`: when a profile's owner
/// was last emailed about failing mailboxes).
const V4: &str = concat!(
    "CREATE TABLE email (
    activityid TEXT PRIMARY KEY NOT NULL,
    subject TEXT,
    description TEXT,
    sender TEXT,
    torecipients TEXT,
    messageid TEXT,
    directioncode INTEGER NOT NULL DEFAULT 0,
    statecode INTEGER NOT NULL DEFAULT 0,
    statuscode INTEGER NOT NULL DEFAULT 1,
    senton TEXT,
    deliveryattempts INTEGER NOT NULL DEFAULT 0,
    deliverylastattemptedon TEXT,
    sendermailboxid TEXT REFERENCES mailbox(mailboxid) ON DELETE SET NULL,
    receivingmailboxid TEXT REFERENCES mailbox(mailboxid) ON DELETE SET NULL,
    ownerid TEXT REFERENCES systemuser(systemuserid) ON DELETE SET NULL,
    ", record_columns!(), ");\n",
    version_trigger!("email", "activityid"),
    "CREATE INDEX email_sender ON email(sendermailboxid, statuscode);
CREATE INDEX email_receiving ON email(receivingmailboxid, messageid);
DROP TRIGGER mailbox_delete_alerts;
DROP TRIGGER profile_delete_alerts;
CREATE TABLE tracelog_rebuilt (
    tracelogid TEXT PRIMARY KEY NOT NULL,
    level INTEGER NOT NULL CHECK (level IN (1, 2, 3)),
    tracecode INTEGER,
    text TEXT,
    errortypedisplay TEXT,
    errordetails TEXT,
    regardingobjectid TEXT,
    regardingobjecttypecode TEXT CHECK (regardingobjecttypecode IN ('mailbox', 'emailserverprofile', 'email')),
    isunique INTEGER NOT NULL DEFAULT 0,
    canbedeleted INTEGER NOT NULL DEFAULT 1,
    ", record_columns!(), ");
INSERT INTO tracelog_rebuilt SELECT * FROM tracelog;
DROP TABLE tracelog;
ALTER TABLE tracelog_rebuilt RENAME TO tracelog;
CREATE INDEX tracelog_regarding ON tracelog(regardingobjectid, modifiedon);
CREATE INDEX tracelog_modifiedon ON tracelog(modifiedon DESC, tracelogid);
CREATE INDEX tracelog_level ON tracelog(level, modifiedon DESC, tracelogid);
", version_trigger!("tracelog", "tracelogid"),
    "CREATE TRIGGER mailbox_delete_alerts AFTER DELETE ON mailbox BEGIN
    DELETE FROM tracelog WHERE regardingobjectid = OLD.mailboxid; END;
CREATE TRIGGER profile_delete_alerts AFTER DELETE ON emailserverprofile BEGIN
    DELETE FROM tracelog WHERE regardingobjectid = OLD.emailserverprofileid; END;
CREATE TRIGGER email_delete_alerts AFTER DELETE ON email BEGIN
    DELETE FROM tracelog WHERE regardingobjectid = OLD.activityid; END;
CREATE TABLE mailsync_syncstatistic (
    mailsync_syncstatisticid TEXT PRIMARY KEY NOT NULL,
    mailsync_name TEXT NOT NULL,
    mailsync_hour TEXT NOT NULL,
    mailsync_emailserverprofileid TEXT REFERENCES emailserverprofile(emailserverprofileid) ON DELETE CASCADE,
    mailsync_cycles INTEGER NOT NULL DEFAULT 0,
    mailsync_failures INTEGER NOT NULL DEFAULT 0,
    mailsync_tests INTEGER NOT NULL DEFAULT 0,
    mailsync_testfailures INTEGER NOT NULL DEFAULT 0,
    mailsync_items INTEGER NOT NULL DEFAULT 0,
    ", record_columns!(), ");\n",
    version_trigger!("mailsync_syncstatistic", "mailsync_syncstatisticid"),
    "CREATE UNIQUE INDEX syncstatistic_hour ON mailsync_syncstatistic(mailsync_hour, mailsync_emailserverprofileid);
CREATE TABLE syncstate (
    mailboxid TEXT PRIMARY KEY NOT NULL REFERENCES mailbox(mailboxid) ON DELETE CASCADE,
    imapuidvalidity INTEGER,
    imaplastuid INTEGER
);
CREATE TABLE pop3seen (
    mailboxid TEXT NOT NULL REFERENCES mailbox(mailboxid) ON DELETE CASCADE,
    uidl TEXT NOT NULL,
    PRIMARY KEY (mailboxid, uidl)
) WITHOUT ROWID;
CREATE TABLE profilenotice (
    emailserverprofileid TEXT PRIMARY KEY NOT NULL REFERENCES emailserverprofile(emailserverprofileid) ON DELETE CASCADE,
    lastsenton TEXT NOT NULL
);
CREATE INDEX mailbox_due ON mailbox(postponemailboxprocessinguntil) WHERE statecode = 0;
"
);

/// Version 5: the engine reads each profile's due mailboxes, most overdue first (a
/// profile's share of a look at the schedule), from an index instead of sorting them.
const V5: &str =
    "CREATE INDEX mailbox_profile_due ON mailbox(emailserverprofile, postponemailboxprocessinguntil) \
     WHERE statecode = 0;";

/// Version 6: when each session was last used (sessions end after an idle time), and
/// the mailbox's "Delete Emails after Processing" under Dataverse's name.
const V6: &str = "ALTER TABLE session ADD COLUMN lastusedon TEXT;
UPDATE session SET lastusedon = createdon;
ALTER TABLE mailbox RENAME COLUMN deleteemails TO processanddeleteemails;";

/// Version 7: a user's object id in Microsoft Entra ID (bearer tokens' `oid`).
const V7: &str =
    "ALTER TABLE systemuser ADD COLUMN azureactivedirectoryobjectid TEXT COLLATE NOCASE;
CREATE UNIQUE INDEX systemuser_aadobjectid ON systemuser(azureactivedirectoryobjectid)
    WHERE azureactivedirectoryobjectid IS NOT NULL;
CREATE INDEX systemuser_internalemailaddress ON systemuser(internalemailaddress COLLATE NOCASE);";

/// Version 8: teams, which own records and give their members their roles, and who is
/// a member of which (Dataverse's `teammembership` intersect table). `ownerid` becomes
/// Dataverse's Owner lookup (a user or a team), so its foreign key to `systemuser`
/// goes: SQLite cannot drop a constraint with ALTER TABLE, and rebuilding `mailbox`
/// (every index, a million rows) is what its documentation's simpler procedure for
/// removing a FOREIGN KEY constraint avoids: the table's SQL in `sqlite_schema` is
/// rewritten (`writable_schema`) and `migrate_to` bumps `schema_version`; the stored
/// rows do not change. Triggers keep what `ON DELETE SET NULL` did, for both owners.
const V8: &str = concat!(
    "PRAGMA writable_schema = ON;
UPDATE sqlite_schema
    SET sql = replace(sql, 'ownerid TEXT REFERENCES systemuser(systemuserid) ON DELETE SET NULL', 'ownerid TEXT')
    WHERE type = 'table' AND name IN ('queue', 'emailserverprofile', 'mailbox', 'email');
PRAGMA writable_schema = OFF;
",
    "CREATE TABLE team (
    teamid TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    teamtype INTEGER NOT NULL DEFAULT 0,
    roles TEXT NOT NULL DEFAULT '',
    ", record_columns!(), ");\n",
    version_trigger!("team", "teamid"),
    "CREATE TABLE teammembership (
    teamid TEXT NOT NULL REFERENCES team(teamid) ON DELETE CASCADE,
    systemuserid TEXT NOT NULL REFERENCES systemuser(systemuserid) ON DELETE CASCADE,
    PRIMARY KEY (systemuserid, teamid)
) WITHOUT ROWID;
CREATE INDEX teammembership_team ON teammembership(teamid);
CREATE INDEX email_owner ON email(ownerid);
CREATE TRIGGER systemuser_owned_records AFTER DELETE ON systemuser BEGIN
    UPDATE queue SET ownerid = NULL WHERE ownerid = OLD.systemuserid;
    UPDATE emailserverprofile SET ownerid = NULL WHERE ownerid = OLD.systemuserid;
    UPDATE mailbox SET ownerid = NULL WHERE ownerid = OLD.systemuserid;
    UPDATE email SET ownerid = NULL WHERE ownerid = OLD.systemuserid;
END;
CREATE TRIGGER team_owned_records AFTER DELETE ON team BEGIN
    UPDATE queue SET ownerid = NULL WHERE ownerid = OLD.teamid;
    UPDATE emailserverprofile SET ownerid = NULL WHERE ownerid = OLD.teamid;
    UPDATE mailbox SET ownerid = NULL WHERE ownerid = OLD.teamid;
    UPDATE email SET ownerid = NULL WHERE ownerid = OLD.teamid;
END;
"
);

/// Version 9: the organization's OrgDBOrgSettings (`orgdborgsettings`, XML), where
/// Dataverse keeps settings such as RequirePrivilegeToSelfApproveEmailAddress.
const V9: &str = "ALTER TABLE organization ADD COLUMN orgdborgsettings TEXT;";

/// Version 10: appointments, contacts and tasks (what server-side synchronization keeps
/// in step with Exchange), owned by a user or a team like the other records.
const V10: &str = concat!(
    "CREATE TABLE appointment (
    activityid TEXT PRIMARY KEY NOT NULL,
    subject TEXT,
    description TEXT,
    scheduledstart TEXT,
    scheduledend TEXT,
    scheduleddurationminutes INTEGER,
    location TEXT,
    isalldayevent INTEGER NOT NULL DEFAULT 0,
    prioritycode INTEGER NOT NULL DEFAULT 1,
    globalobjectid TEXT,
    statecode INTEGER NOT NULL DEFAULT 3,
    statuscode INTEGER NOT NULL DEFAULT 5,
    ownerid TEXT,
    ",
    record_columns!(),
    ");
",
    version_trigger!("appointment", "activityid"),
    "CREATE INDEX appointment_owner ON appointment(ownerid);
CREATE TABLE contact (
    contactid TEXT PRIMARY KEY NOT NULL,
    firstname TEXT,
    middlename TEXT,
    lastname TEXT,
    fullname TEXT,
    emailaddress1 TEXT,
    emailaddress2 TEXT,
    emailaddress3 TEXT,
    jobtitle TEXT,
    telephone1 TEXT,
    mobilephone TEXT,
    statecode INTEGER NOT NULL DEFAULT 0,
    statuscode INTEGER NOT NULL DEFAULT 1,
    ownerid TEXT,
    ",
    record_columns!(),
    ");
",
    version_trigger!("contact", "contactid"),
    "CREATE INDEX contact_owner ON contact(ownerid);
CREATE INDEX contact_email ON contact(emailaddress1 COLLATE NOCASE);
CREATE TABLE task (
    activityid TEXT PRIMARY KEY NOT NULL,
    subject TEXT,
    description TEXT,
    scheduledstart TEXT,
    scheduledend TEXT,
    actualdurationminutes INTEGER,
    percentcomplete INTEGER,
    prioritycode INTEGER NOT NULL DEFAULT 1,
    statecode INTEGER NOT NULL DEFAULT 0,
    statuscode INTEGER NOT NULL DEFAULT 2,
    ownerid TEXT,
    ",
    record_columns!(),
    ");
",
    version_trigger!("task", "activityid"),
    "CREATE INDEX task_owner ON task(ownerid);
CREATE TRIGGER systemuser_owned_act AFTER DELETE ON systemuser BEGIN
    UPDATE appointment SET ownerid = NULL WHERE ownerid = OLD.systemuserid;
    UPDATE contact SET ownerid = NULL WHERE ownerid = OLD.systemuserid;
    UPDATE task SET ownerid = NULL WHERE ownerid = OLD.systemuserid;
END;
CREATE TRIGGER team_owned_act AFTER DELETE ON team BEGIN
    UPDATE appointment SET ownerid = NULL WHERE ownerid = OLD.teamid;
    UPDATE contact SET ownerid = NULL WHERE ownerid = OLD.teamid;
    UPDATE task SET ownerid = NULL WHERE ownerid = OLD.teamid;
END;
"
);

/// Version 11: the engine's links between records and Exchange items (Dataverse's
/// `exchangesyncidmapping`: one row per mailbox and item, with what the engine needs to
/// tell its own writes from the user's) and the sync state of each mailbox's folders
/// (EWS SyncFolderItems' `SyncState`, Dataverse's `mailbox.exchangesyncstatexml`).
/// Not served by the Web API yet. And the alerts that ask for action (`actprompt`): the
/// item waiting, the alert asking, and the user's decision once given.
const V11: &str = concat!(
    "CREATE TABLE exchangesyncidmapping (
    exchangesyncidmappingid TEXT PRIMARY KEY NOT NULL,
    mailboxid TEXT NOT NULL REFERENCES mailbox(mailboxid) ON DELETE CASCADE,
    exchangeentryid TEXT NOT NULL,
    objectid TEXT NOT NULL,
    objecttypecode INTEGER NOT NULL,
    ownerid TEXT,
    itemsubject TEXT,
    exchangechangekey TEXT NOT NULL,
    syncedversion INTEGER NOT NULL,
    recordownerid TEXT,
    completedinexchange INTEGER NOT NULL DEFAULT 0,
    tracked INTEGER NOT NULL DEFAULT 0,
    createdon TEXT NOT NULL DEFAULT (", now_sql!(), "),
    modifiedon TEXT NOT NULL DEFAULT (", now_sql!(), "),
    UNIQUE (mailboxid, objecttypecode, exchangeentryid)
);
CREATE INDEX exchangesyncidmapping_record ON exchangesyncidmapping(mailboxid, objecttypecode, objectid);
CREATE TABLE exchangesyncstate (
    mailboxid TEXT NOT NULL REFERENCES mailbox(mailboxid) ON DELETE CASCADE,
    folder TEXT NOT NULL,
    syncstate TEXT NOT NULL,
    PRIMARY KEY (mailboxid, folder)
) WITHOUT ROWID;
CREATE TABLE actprompt (
    actpromptid TEXT PRIMARY KEY NOT NULL,
    mailboxid TEXT NOT NULL REFERENCES mailbox(mailboxid) ON DELETE CASCADE,
    objecttypecode INTEGER NOT NULL,
    exchangeentryid TEXT NOT NULL,
    prompt INTEGER NOT NULL,
    itemname TEXT NOT NULL,
    candidates TEXT NOT NULL DEFAULT '',
    tracelogid TEXT NOT NULL,
    decision INTEGER,
    decisionrecordid TEXT,
    decidedby TEXT,
    createdon TEXT NOT NULL DEFAULT (", now_sql!(), "),
    UNIQUE (mailboxid, objecttypecode, exchangeentryid)
);
CREATE INDEX actprompt_tracelog ON actprompt(tracelogid);
"
);

/// Version 12: appointments' party lists (Dataverse's `activityparty`: the organizer,
/// 7, and the required, 5, and optional, 6, attendees; a user's or a contact's, or an
/// address nobody here has), which decide whose mailbox synchronizes an appointment;
/// and a link's appointment end (an appointment deleted here is deleted in Exchange
/// only when it was in the future).
const V12: &str = concat!(
    "CREATE TABLE activityparty (
    activitypartyid TEXT PRIMARY KEY NOT NULL,
    activityid TEXT NOT NULL,
    partyid TEXT,
    partyobjecttypecode TEXT,
    participationtypemask INTEGER NOT NULL,
    addressused TEXT,
    ",
    record_columns!(),
    ");
CREATE INDEX activityparty_activity ON activityparty(activityid);
CREATE INDEX activityparty_party ON activityparty(partyid, participationtypemask);
CREATE TRIGGER appointment_parties AFTER DELETE ON appointment BEGIN
    DELETE FROM activityparty WHERE activityid = OLD.activityid;
END;
CREATE TRIGGER activityparty_added AFTER INSERT ON activityparty BEGIN
    UPDATE appointment SET versionnumber = versionnumber + 1, modifiedon = strftime('%Y-%m-%dT%H:%M:%SZ','now')
    WHERE activityid = NEW.activityid;
END;
CREATE TRIGGER activityparty_removed AFTER DELETE ON activityparty BEGIN
    UPDATE appointment SET versionnumber = versionnumber + 1, modifiedon = strftime('%Y-%m-%dT%H:%M:%SZ','now')
    WHERE activityid = OLD.activityid;
END;
ALTER TABLE exchangesyncidmapping ADD COLUMN itemend TEXT;
"
);

/// Version 13: per-mailbox OAuth ("Gmail OAuth", "Azure AD OAuth"): the mailbox's
/// tokens (sealed like passwords) and when the access token expires, the profile's
/// Entra ID resource, and Dataverse's read-only "is … set" flags, which triggers keep
/// true to the secrets (a client never reads a secret, only whether there is one);
/// `oauthsignin` holds the sign-ins under way (`webapi/signin.rs`), ten minutes each.
const V13: &str = "ALTER TABLE mailbox ADD COLUMN oauthaccesstoken TEXT;
ALTER TABLE mailbox ADD COLUMN oauthrefreshtoken TEXT;
ALTER TABLE mailbox ADD COLUMN oauthtokenexpireson TEXT;
ALTER TABLE mailbox ADD COLUMN isoauthaccesstokenset INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailbox ADD COLUMN isoauthrefreshtokenset INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailbox ADD COLUMN ispasswordset INTEGER NOT NULL DEFAULT 0;
UPDATE mailbox SET ispasswordset = COALESCE(password, '') <> '';
CREATE TRIGGER mailbox_secrets_set_on_insert AFTER INSERT ON mailbox BEGIN
    UPDATE mailbox SET isoauthaccesstokenset = COALESCE(NEW.oauthaccesstoken, '') <> '',
        isoauthrefreshtokenset = COALESCE(NEW.oauthrefreshtoken, '') <> '',
        ispasswordset = COALESCE(NEW.password, '') <> ''
    WHERE mailboxid = NEW.mailboxid;
END;
CREATE TRIGGER mailbox_secrets_set AFTER UPDATE OF oauthaccesstoken, oauthrefreshtoken, password ON mailbox BEGIN
    UPDATE mailbox SET isoauthaccesstokenset = COALESCE(NEW.oauthaccesstoken, '') <> '',
        isoauthrefreshtokenset = COALESCE(NEW.oauthrefreshtoken, '') <> '',
        ispasswordset = COALESCE(NEW.password, '') <> ''
    WHERE mailboxid = NEW.mailboxid;
END;
ALTER TABLE emailserverprofile ADD COLUMN aadresourceid TEXT;
ALTER TABLE emailserverprofile ADD COLUMN isoauthclientsecretset INTEGER NOT NULL DEFAULT 0;
UPDATE emailserverprofile SET isoauthclientsecretset = COALESCE(oauthclientsecret, '') <> '';
CREATE TRIGGER profile_secret_set_on_insert AFTER INSERT ON emailserverprofile BEGIN
    UPDATE emailserverprofile SET isoauthclientsecretset = COALESCE(NEW.oauthclientsecret, '') <> ''
    WHERE emailserverprofileid = NEW.emailserverprofileid;
END;
CREATE TABLE oauthsignin (
    statehash TEXT PRIMARY KEY NOT NULL,
    mailboxid TEXT NOT NULL,
    systemuserid TEXT NOT NULL,
    verifier TEXT NOT NULL,
    nonce TEXT NOT NULL,
    redirecturi TEXT NOT NULL,
    createdon INTEGER NOT NULL,
    sessionhash TEXT
);
CREATE INDEX oauthsignin_user ON oauthsignin(systemuserid, createdon);
CREATE TRIGGER profile_secret_set AFTER UPDATE OF oauthclientsecret ON emailserverprofile BEGIN
    UPDATE emailserverprofile SET isoauthclientsecretset = COALESCE(NEW.oauthclientsecret, '') <> ''
    WHERE emailserverprofileid = NEW.emailserverprofileid;
END;";

/// `MIGRATIONS[i]` takes a file from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12, V13];

/// Applies the pending migrations up to `target` in one immediate transaction.
/// Refuses a file written by a newer mailsync (its version is above ours).
pub fn migrate_to(conn: &mut Connection, target: i64) -> Result<(), String> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| format!("cannot start the migration: {e}"))?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| format!("cannot read the schema version: {e}"))?;
    if version > CURRENT_VERSION {
        return Err(format!(
            "the database has schema version {version}, newer than this mailsync \
             understands ({CURRENT_VERSION}); use a newer mailsync"
        ));
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .take(target.clamp(0, CURRENT_VERSION) as usize)
        .skip(version as usize)
    {
        tx.execute_batch(sql)
            .map_err(|e| format!("migration to schema version {} failed: {e}", i + 1))?;
        if sql.contains("writable_schema") {
            // The tables' SQL changed under SQLite: a new schema version makes every
            // connection (this one included) read it again.
            let v: i64 = tx
                .query_row("PRAGMA schema_version", [], |r| r.get(0))
                .map_err(|e| format!("cannot read the schema cookie: {e}"))?;
            tx.pragma_update(None, "schema_version", v + 1)
                .map_err(|e| format!("cannot bump the schema cookie: {e}"))?;
        }
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(|e| format!("cannot record schema version {}: {e}", i + 1))?;
    }
    tx.commit()
        .map_err(|e| format!("cannot commit the migration: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailsync_core::model::TABLES;

    /// Core's model and this schema name the same columns in the same order, for every
    /// table the API serves.
    #[test]
    fn model_matches_the_schema() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, CURRENT_VERSION).unwrap();
        for t in TABLES {
            let mut stmt = conn
                .prepare(&format!("PRAGMA table_info({})", t.logical))
                .unwrap();
            let live: Vec<String> = stmt
                .query_map([], |r| r.get::<_, String>(1))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let model: Vec<&str> = t.columns.iter().map(|c| c.name).collect();
            assert_eq!(live, model, "table {}", t.logical);
        }
    }

    /// SQLite's plan for a collection read as the Web API builds it (page and count).
    fn plans(conn: &Connection, set: &str, raw: &str) -> (String, String) {
        use crate::odata_sql;
        use mailsync_core::odata::parse_query;
        let table = TABLES.iter().find(|t| t.entity_set == set).unwrap();
        let q = parse_query(table, raw).unwrap();
        let page = odata_sql::page(&q, 50);
        let (count, count_params) = odata_sql::count(&q);
        let from = odata_sql::quote(table.logical);
        // With the request's values bound: SQLite may plan a small LIMIT differently.
        let plan = |sql: String, params: &[odata_sql::SqlParam]| {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let rows = stmt
                .query_map(rusqlite::params_from_iter(params), |r| {
                    r.get::<_, String>(3)
                })
                .unwrap();
            rows.collect::<Result<Vec<_>, _>>().unwrap().join("; ")
        };
        (
            plan(
                format!(
                    "SELECT {} FROM {from}{}",
                    odata_sql::select_list(&q),
                    page.sql
                ),
                &page.params,
            ),
            plan(format!("SELECT COUNT(*) FROM {from}{count}"), &count_params),
        )
    }

    /// The console's first pages read an index in order (no sort of every row: at most
    /// of the ties, "FOR LAST TERM OF ORDER BY", when the key's direction differs) and
    /// count from an index (`e2e/bench/console-bench.mjs` measures them on `scale:100000`).
    #[test]
    fn the_consoles_first_pages_use_indexes() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, CURRENT_VERSION).unwrap();
        let sel = "$select=mailboxid,name,emailaddress,lastsyncerror";
        for order in ["name%20asc", "name%20desc", "emailaddress%20asc"] {
            // The Mailboxes grid's default view (Active), then a later page.
            let raw = format!("{sel}&$orderby={order}&$filter=statecode%20eq%200&$count=true");
            let (page, count) = plans(&conn, "mailboxes", &raw);
            assert!(
                !page.contains("FOR ORDER BY") && page.contains("INDEX mailbox_state_"),
                "{order}: {page}"
            );
            assert!(count.contains("COVERING INDEX"), "{count}");
            let (page, _) = plans(&conn, "mailboxes", &format!("{sel}&$orderby={order}"));
            assert!(
                !page.contains("FOR ORDER BY") && page.contains("INDEX mailbox_"),
                "{order}: {page}"
            );
        }
        // The grid's search is checked in whichever of these indexes orders the page.
        for index in [
            "mailbox_name",
            "mailbox_emailaddress",
            "mailbox_state_name",
            "mailbox_state_emailaddress",
        ] {
            let cols: Vec<String> = conn
                .prepare(&format!("PRAGMA index_info({index})"))
                .unwrap()
                .query_map([], |r| r.get::<_, String>(2))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            for c in ["name", "emailaddress", "mailboxid"] {
                assert!(cols.iter().any(|x| x == c), "{index}: {cols:?}");
            }
        }
        // The alerts wall: its first page and its count requests (`$top=1`), for all
        // levels and each level.
        // Newest first by last logged (V4: an alert logged again keeps its first date).
        let wall =
            "$select=tracelogid,level,text,modifiedon&$orderby=modifiedon%20desc&$count=true";
        for top in ["", "&$top=1"] {
            let (page, _) = plans(&conn, "tracelogs", &format!("{wall}{top}"));
            assert_eq!(
                page, "SCAN tracelog USING INDEX tracelog_modifiedon",
                "{top}"
            );
            for level in 1..=3 {
                let raw = format!("{wall}{top}&$filter=level%20eq%20{level}");
                let (page, count) = plans(&conn, "tracelogs", &raw);
                assert_eq!(page, "SEARCH tracelog USING INDEX tracelog_level (level=?)");
                assert!(count.contains("COVERING INDEX tracelog_level"), "{count}");
            }
        }
    }
}
