//! The knowledge base: one entry per known alert or error of server-side
//! synchronization, kept as data. Entries are ordered most specific first; the
//! classifier takes the first entry any of whose matchers hits.

use crate::report::{Direction, Nature, Scope};

#[derive(Debug)]
pub struct Entry {
    /// Stable id, used in reports (`rule`) and finding codes (`kb.<id>`).
    pub id: &'static str,
    pub title: &'static str,
    pub nature: Nature,
    pub scope: Scope,
    pub direction: Option<Direction>,
    /// Case-insensitive phrases found in the alert, error type or error details.
    pub phrases: &'static [&'static str],
    /// Numeric error codes (lastsyncerrorcode, or codes inside the details).
    pub codes: &'static [i64],
    /// HTTP status codes reported by the server.
    pub http: &'static [u16],
    pub cause: &'static str,
    pub resolution: &'static [&'static str],
    pub source: &'static str,
}

const TROUBLESHOOTING: &str =
    "Troubleshooting and monitoring server-side synchronization (seed 002)";
const LOGGING: &str = "Error logging for server-side synchronization (seed 001)";
const MONITOR: &str = "Monitor email processing errors (seed 000)";
const MAILBOX_LOG: &str = "Mailbox Details log walkthrough (seed 003)";
const ISV: &str = "UnknownIncomingEmailIntegrationError -2147220956 (seed 004, KB 4471762)";
const TIMEOUTS: &str = "Server-side synchronization settings WaitingOperationTimeout, MailboxBackoffOnTimeout and MailboxBackoffOnTimeoutForACT (Microsoft.Xrm.Sdk.Deployment); Error logging for server-side synchronization";

const GMAIL_OAUTH: &str =
    "Connect Gmail accounts by using OAuth 2.0 (power-platform/admin/connect-gmail-oauth2.md)";
const PRODUCT: &str =
    "mailsync: the local organization's synchronization (ARCHITECTURE.md, engine/act.rs)";

const APPROVE_STEPS: &[&str] = &[
    "Sign in as a user with the Global administrator (or Exchange administrator) role in Microsoft 365.",
    "Go to Settings > Email Configuration > Mailboxes and select Active Mailboxes.",
    "Select the mailboxes, then Approve Email, and confirm with OK.",
    "Select Test & Enable Mailboxes to test and enable them again.",
];

pub static ENTRIES: &[Entry] = &[
    Entry {
        id: "secure-connection-act",
        title: "Disabled for appointments, contacts and tasks: secure connection failed",
        nature: Nature::Permanent,
        scope: Scope::Profile,
        direction: Some(Direction::Act),
        phrases: &["disabled for synchronizing appointments, contacts, and tasks for the mailbox because an error occurred while establishing a secure connection"],
        codes: &[],
        http: &[],
        cause: "An error occurred while establishing a secure (TLS) connection to the Exchange server, so synchronization of appointments, contacts and tasks was stopped for the mailbox. The owner of the email server profile has been notified.",
        resolution: &[
            "Check that the Exchange server's certificate is valid, trusted and matches the server name (KB 2993502).",
            "Make sure the server accepts TLS 1.2 and the profile's port and SSL settings match the server.",
            "Then Test & Enable the mailbox again.",
        ],
        source: TROUBLESHOOTING,
    },
    Entry {
        id: "secure-connection",
        title: "Error while establishing a secure connection",
        nature: Nature::Permanent,
        scope: Scope::Profile,
        direction: None,
        phrases: &[
            "error occurred while establishing a secure connection",
            "could not establish secure channel",
            "could not establish trust relationship",
            "the remote certificate is invalid",
            "ssl/tls",
            "authenticationexception",
            "certificate verify failed",
            "wrong version number",
            "handshake failure",
        ],
        codes: &[],
        http: &[],
        cause: "A secure (SSL/TLS) connection to the email server could not be established: the certificate is untrusted or expired, the name does not match, or SSL is used against a port that does not speak it. The mailbox has been disabled for this direction and the profile owner notified.",
        resolution: &[
            "Check the server certificate (trusted chain, not expired, name matches the server location) (KB 2993502).",
            "Check the profile's Use SSL setting and port against what the server offers (e.g. 995/993/465 with SSL, 110/143/25 without).",
            "Then Test & Enable the affected mailboxes again.",
        ],
        source: TROUBLESHOOTING,
    },
    Entry {
        id: "o365-admin-approval",
        title: "Email address requires approval by a Microsoft 365 administrator",
        nature: Nature::Permanent,
        scope: Scope::Mailbox,
        direction: None,
        phrases: &["requires an approval by an office 365 administrator", "approval by an office 365 administrator", "approved by an office 365 administrator", "isemailaddressapprovedbyo365admin"],
        codes: &[],
        http: &[],
        cause: "The mailbox uses the Exchange Online profile, which relies on server-to-server trust between Dynamics 365 and Exchange Online. Its email address must be approved by a Microsoft 365 Global (or Exchange) administrator before email is sent or received for it.",
        resolution: APPROVE_STEPS,
        source: TROUBLESHOOTING,
    },
    Entry {
        id: "email-address-not-approved",
        title: "Email address is not approved",
        nature: Nature::Permanent,
        scope: Scope::Mailbox,
        direction: None,
        phrases: &["is not approved and the mailbox has been disabled", "email addresses have not been approved", "their email addresses have not been approved", "email address of the mailbox is not approved", "emailaddressnotapproved", "mailbox is not approved"],
        codes: &[],
        http: &[],
        cause: "The organization processes email only for approved users and queues, and this mailbox's address has not been approved (or was changed since it was approved). The mailbox has been disabled.",
        resolution: &[
            "Approve the mailbox: Settings > Email Configuration > Mailboxes, select it, Approve Email.",
            "Or clear \"Process emails only for approved users/queues\" in System Settings > Email (Exchange Online still needs a Microsoft 365 administrator's approval).",
            "Then Test & Enable the mailbox.",
        ],
        source: TROUBLESHOOTING,
    },
    Entry {
        id: "mailbox-location-undetermined",
        title: "Mailbox location could not be determined",
        nature: Nature::Permanent,
        scope: Scope::Profile,
        direction: None,
        phrases: &["mailbox location could not be determined", "autodiscover service couldn't be located", "autodiscoverlocalexception", "autodiscover blocked", "the autodiscover service"],
        codes: &[],
        http: &[],
        cause: "The email server profile uses Auto Discover Server Location, but autodiscover could not find where the mailbox lives. The mailbox has been disabled and the profile owner notified.",
        resolution: &[
            "Ask the Exchange administrator to verify that the network is configured for autodiscover.",
            "Or set Auto Discover Server Location to No on the profile and give the EWS URL, e.g. https://ExchangeServerName/EWS/Exchange.asmx.",
            "Then Test & Enable the affected mailboxes.",
        ],
        source: TROUBLESHOOTING,
    },
    // Before the credentials entries: an OAuth mailbox's credentials are its sign-in.
    Entry {
        id: "mailbox-oauth-sign-in",
        title: "The mailbox's OAuth sign-in is missing, expired or revoked",
        nature: Nature::Permanent,
        scope: Scope::Mailbox,
        direction: None,
        phrases: &[
            "no one has signed in to",
            "signs in again with sign in to",
            "invalid_grant",
        ],
        codes: &[],
        http: &[],
        cause: "The email server profile signs each mailbox in with OAuth (Gmail OAuth, or Azure AD OAuth for Microsoft Entra ID), and the mailbox has no sign-in, or the provider refused its refresh token (it expired, the user revoked the app's access, or the account's password changed).",
        resolution: &[
            "The mailbox's user opens the mailbox, selects Sign in to Gmail (or Sign in to Microsoft Entra ID) and signs in with the mailbox's own account.",
            "Then Test & Enable the mailbox.",
            "If the provider refuses the app itself (invalid_client), an administrator checks the profile's OAuth client ID and secret.",
        ],
        source: GMAIL_OAUTH,
    },
    Entry {
        id: "gmail-receive-credentials",
        title: "Email cannot be received: mailbox credentials (Gmail)",
        nature: Nature::Permanent,
        scope: Scope::Mailbox,
        direction: Some(Direction::Incoming),
        phrases: &["make sure that the credentials specified in the mailbox are correct and have sufficient permissions for receiving email"],
        codes: &[],
        http: &[],
        cause: "The mail server refused the credentials stored on the mailbox. With Gmail this happens when IMAP/POP access is off or Google blocks the sign-in (less secure apps / app passwords, KB 3185281).",
        resolution: &[
            "Check the user name and password on the mailbox record.",
            "For Gmail: enable IMAP/POP in Gmail settings and allow the sign-in (app password or OAuth profile, KB 3185281).",
            "Then enable the mailbox for email processing (Test & Enable).",
        ],
        source: TROUBLESHOOTING,
    },
    Entry {
        id: "gmail-unknown-send-error",
        title: "Unknown error while sending email (seen with Gmail)",
        nature: Nature::Transient,
        scope: Scope::Mailbox,
        direction: Some(Direction::Outgoing),
        phrases: &["an unknown error occurred while sending the email message"],
        codes: &[],
        http: &[],
        cause: "The SMTP server rejected or dropped the message without a known reason. With Gmail this is typically Google blocking the sign-in or the sending limits (KB 3185281).",
        resolution: &[
            "For Gmail: allow the sign-in (app password or OAuth profile) and check Gmail's sending limits (KB 3185281).",
            "Check the outgoing server location, port and SSL settings of the profile.",
            "The system retries; if it keeps failing, Test & Enable the mailbox after fixing the cause.",
        ],
        source: TROUBLESHOOTING,
    },
    Entry {
        id: "credentials-profile",
        title: "Profile credentials incorrect or insufficient permissions",
        nature: Nature::Permanent,
        scope: Scope::Profile,
        direction: None,
        phrases: &["credentials specified in the associated email server profile are incorrect", "credentials specified in the email server profile", "does not have permission to impersonate", "errorimpersonateuserdenied", "errorimpersonationdenied"],
        codes: &[],
        http: &[],
        cause: "The credentials in the email server profile are wrong, or the account lacks impersonation rights or access to the mailbox. Every mailbox on the profile is affected; they have been disabled and the profile owner notified.",
        resolution: &[
            "Check the user name and password in the email server profile.",
            "If the profile uses impersonation, grant the account the ApplicationImpersonation role and access to each mailbox.",
            "Then Test & Enable the mailboxes of the profile.",
        ],
        source: TROUBLESHOOTING,
    },
    Entry {
        id: "credentials-mailbox",
        title: "Credentials incorrect or insufficient permissions",
        nature: Nature::Permanent,
        scope: Scope::Mailbox,
        direction: None,
        phrases: &["credentials are incorrect", "have insufficient permissions", "invalid credentials", "authentication failed", "authenticationfailed", "login failed", "the user name or password is incorrect", "logon failure", "(401) unauthorized", "401 unauthorized", "password expired", "invalid user name or password"],
        codes: &[],
        http: &[401],
        cause: "The mail server refused the credentials used for the mailbox (wrong or expired password, or the account has no access to the mailbox). Processing stops at once: this is a permanent error.",
        resolution: &[
            "Check the credentials on the mailbox (or the profile, if it supplies them) and that the account can open the mailbox.",
            "Then Test & Enable the mailbox.",
        ],
        source: TROUBLESHOOTING,
    },
    Entry {
        id: "organizer-field-missing",
        title: "Appointments can't be synchronized: Organizer field missing",
        nature: Nature::Permanent,
        scope: Scope::Mailbox,
        direction: Some(Direction::Act),
        phrases: &["organizer field is not present"],
        codes: &[],
        http: &[],
        cause: "Appointment records need the Organizer field on the appointment form to synchronize, and it is not there by default.",
        resolution: &[
            "Settings > Customizations > Customize the System.",
            "Entities > Appointment > Forms, open Appointment and drag the Organizer field onto the form.",
            "Save and Publish.",
        ],
        source: TROUBLESHOOTING,
    },
    Entry {
        id: "act-other-organization-primary",
        title: "Appointments, contacts and tasks sync with another organization",
        nature: Nature::Permanent,
        scope: Scope::Mailbox,
        direction: Some(Direction::Act),
        phrases: &["is configured with another", "configured with another microsoft dynamics 365 organization", "configured with another dynamics 365 organization"],
        codes: &[],
        http: &[],
        cause: "Exchange records another organization as the primary one for this mailbox's appointments, contacts and tasks.",
        resolution: &[
            "In the primary organization, open the mailbox, Test & Enable Mailbox, and select \"Sync items with Exchange from this organization only, even if Exchange was set to sync with a different organization\".",
            "In the other organizations set Appointments, Contacts, and Tasks to None for this mailbox.",
        ],
        source: TROUBLESHOOTING,
    },
    Entry {
        id: "pending-send",
        title: "Email stays in Pending Send",
        nature: Nature::Permanent,
        scope: Scope::Email,
        direction: Some(Direction::Outgoing),
        phrases: &["pending send"],
        codes: &[],
        http: &[],
        cause: "Email sent from Dynamics 365 stays Pending Send until the sender's mailbox is approved, tested and enabled for outgoing email through server-side synchronization.",
        resolution: &[
            "Settings > Email Configuration > Mailboxes, Active Mailboxes: open the sender's mailbox.",
            "If outgoing email uses server-side synchronization, make sure the address is approved and the mailbox tested and enabled (Test & Enable).",
        ],
        source: TROUBLESHOOTING,
    },
    Entry {
        id: "isv-unexpected",
        title: "UnknownIncomingEmailIntegrationError -2147220956 (IsvUnexpected)",
        nature: Nature::Transient,
        scope: Scope::Email,
        direction: Some(Direction::Incoming),
        phrases: &["isvunexpected", "unknownincomingemailintegrationerror -2147220956"],
        codes: &[-2_147_220_956],
        http: &[],
        cause: "A custom plug-in or workflow that runs synchronously when the email (or appointment, contact, task) is created throws an error, so the record is not created.",
        resolution: &[
            "Settings > Processes, view Activated Processes: look for workflows on Email that start when a record is created and do not run in the background; check their Process Sessions for failures.",
            "For an appointment, contact or task, also look for workflows on that table that run when a record is updated (seed 004: synchronization updates the records it links).",
            "Settings > Customizations > Customize the System > Sdk Message Processing Steps: look for synchronous steps on Email.",
            "Temporarily disable a suspect workflow or plug-in to confirm it is the cause.",
        ],
        source: ISV,
    },
    Entry {
        id: "mailbox-move-in-progress",
        title: "Mailbox move in progress",
        nature: Nature::Transient,
        scope: Scope::Mailbox,
        direction: None,
        phrases: &["errormailboxmoveinprogress", "mailbox move in progress"],
        codes: &[],
        http: &[],
        cause: "Exchange is moving the mailbox between databases or servers and will not open it until the move completes.",
        resolution: &[
            "No action needed: the system tries again later.",
            "If it persists for hours, ask the Exchange administrator about the move request.",
        ],
        source: MAILBOX_LOG,
    },
    Entry {
        id: "email-server-unreachable",
        title: "The email server could not be reached",
        nature: Nature::Transient,
        scope: Scope::Profile,
        direction: None,
        phrases: &["connection to the email server failed"],
        codes: &[],
        http: &[],
        cause: "The email server refused the connection or did not answer in time: it is down or restarting, the port is wrong, or a firewall drops the connection. Every mailbox on the same server is affected.",
        resolution: &[
            "No action needed for occasional occurrences: the system tries again 5 minutes later, up to 10 times in a row, before the error becomes permanent.",
            "If it persists, check the server location and port in the email server profile, and that the mail server is running and reachable from the organization.",
        ],
        source: LOGGING,
    },
    Entry {
        id: "email-server-timeout",
        title: "A request to the email server timed out",
        nature: Nature::Transient,
        // Documented for email and for appointments, contacts and tasks alike: the error
        // type says which level and direction.
        scope: Scope::Unknown,
        direction: None,
        phrases: &["the operation has timed out", "the operation timed out", "the request timed out"],
        codes: &[],
        http: &[],
        cause: "A call to the email server did not complete within the time server-side synchronization allows (the WaitingOperationTimeout setting, for Exchange and POP3/SMTP alike), so the request was aborted. When a request to the email server times out, sending or receiving email is postponed for the mailbox (MailboxBackoffOnTimeout; MailboxBackoffOnTimeoutForACT for appointments, contacts and tasks) and tried again later.",
        resolution: &[
            "No corrective action is needed for occasional occurrences: transient errors may be fixed automatically after some attempts.",
            "If it keeps happening, an administrator should look for reliability or throttling issues with the email server; if the error persists after the configured retry count, it is logged again as a permanent error and email processing for the mailbox stops.",
        ],
        source: TIMEOUTS,
    },
    Entry {
        id: "email-server-access-denied",
        title: "The email server denied access to the mailbox (HTTP 403)",
        nature: Nature::Permanent,
        scope: Scope::Mailbox,
        direction: None,
        phrases: &["denied access to the mailbox"],
        codes: &[],
        http: &[403],
        cause: "The email server accepted the credentials but refused access to this mailbox (HTTP 403 Forbidden): the account has no permission on it (impersonation or full access not granted), or Exchange Web Services are turned off for it. The mailbox has been disabled for this direction.",
        resolution: &[
            "Ask the Exchange administrator to grant the account used by the profile (or the mailbox's own account) access to the mailbox, and to allow Exchange Web Services for it.",
            "Then Test & Enable the mailbox again.",
        ],
        source: LOGGING,
    },
    Entry {
        id: "email-server-not-found",
        title: "The email server location was not found (HTTP 404)",
        nature: Nature::Permanent,
        scope: Scope::Profile,
        direction: None,
        phrases: &["was not found: (404) not found"],
        codes: &[],
        http: &[404],
        cause: "The server at the profile's location answered, but has no Exchange Web Services there (HTTP 404 Not Found): the URL is wrong, or the server is not an Exchange server. Every mailbox on the profile is affected.",
        resolution: &[
            "Check the email server profile's incoming and outgoing server locations (for Exchange: https://<server>/EWS/Exchange.asmx), or turn on Auto Discover Server Location.",
            "Then Test & Enable the mailboxes of the profile again.",
        ],
        source: LOGGING,
    },
    Entry {
        id: "email-server-http-error",
        title: "The email server returned an unexpected HTTP error",
        nature: Nature::Transient,
        scope: Scope::Profile,
        direction: None,
        phrases: &["returned an unexpected error: ("],
        codes: &[],
        http: &[500, 501, 505, 507],
        cause: "The email server answered a request with an error status (HTTP 500 Internal Server Error, 501, 505 and the like): a fault on the server side, or a proxy in between refusing the request. Every mailbox on the same server may be affected.",
        resolution: &[
            "No action needed for occasional occurrences: the system tries again later, up to 10 times in a row, before the error becomes permanent.",
            "If it persists, check the email server's (or the proxy's) logs at the time of the error, with the details of the alert.",
        ],
        source: LOGGING,
    },
    Entry {
        id: "email-server-unexpected-answer",
        title: "The email server gave an unexpected answer",
        nature: Nature::Transient,
        scope: Scope::Profile,
        direction: None,
        phrases: &["gave an unexpected answer"],
        codes: &[],
        http: &[],
        cause: "The email server answered something the protocol (IMAP, POP3, SMTP or Exchange Web Services) does not allow at that point, or refused a command without saying why: a server fault, a non-standard server, or another service listening on the profile's port. The server's own words are in the alert's details.",
        resolution: &[
            "No action needed for occasional occurrences: the system tries again later, up to 10 times in a row, before the error becomes permanent.",
            "If it persists, check that the profile's server location and port lead to the right kind of server, and read the server's words in the alert's details.",
        ],
        source: LOGGING,
    },
    Entry {
        id: "email-server-deferred",
        title: "The email server asked to try again later",
        nature: Nature::Transient,
        scope: Scope::Mailbox,
        direction: Some(Direction::Outgoing),
        phrases: &["asked to try again later"],
        codes: &[],
        http: &[],
        cause: "The outgoing email server did not take the email now but asked to try again later (an SMTP 4xx answer: greylisting of a new sender or recipient, a full queue, a temporary limit). The email stays Pending Send.",
        resolution: &[
            "No action needed for occasional occurrences: the email is sent again at the next synchronization, and the error becomes permanent only after 10 attempts in a row.",
            "If it persists, ask the mail server's administrator why it defers the mailbox's email (greylisting, rate limits, a full disk).",
        ],
        source: LOGGING,
    },
    Entry {
        id: "recipient-refused",
        title: "The email server refused a recipient",
        nature: Nature::Permanent,
        scope: Scope::Email,
        direction: Some(Direction::Outgoing),
        phrases: &["the email server refused the recipient"],
        codes: &[],
        http: &[],
        cause: "The outgoing email server would not accept one of the email's recipients (an unknown or misspelled address, or relaying refused). Only this email is affected: the others are still sent.",
        resolution: &[
            "Check the recipients' addresses on the email, correct them and send the email again.",
            "If every email to outside addresses is refused, check that the outgoing server allows the mailbox's account to relay.",
        ],
        source: LOGGING,
    },
    // The engine logs throttling with trace code 65 (`engine::failure::codes::
    // SERVER_BUSY`): Microsoft's logs give it none of its own, and 126, which seed 003
    // shows, is an Exchange 503 while synchronizing appointments, contacts and tasks
    // (`exchange-server-unavailable`).
    Entry {
        id: "exchange-server-busy",
        title: "Exchange is throttling requests",
        nature: Nature::Transient,
        scope: Scope::Profile,
        direction: None,
        phrases: &["errorserverbusy", "server busy", "throttl", "too many requests"],
        codes: &[],
        http: &[429],
        cause: "The server is throttling this organization's requests.",
        resolution: &[
            "No action needed for single occurrences: the system backs off and retries.",
            "If frequent, lower the profile's maximum concurrent connections or review Exchange throttling policies.",
        ],
        source: LOGGING,
    },
    Entry {
        id: "exchange-server-unavailable",
        title: "Exchange server unavailable (HTTP 503)",
        nature: Nature::Transient,
        scope: Scope::Profile,
        direction: None,
        phrases: &["(503) server unavailable", "503: service unavailable", "service unavailable", "server unavailable"],
        codes: &[],
        http: &[502, 503, 504],
        cause: "The Exchange Web Services endpoint answered that it is temporarily unavailable. Every mailbox on the same server is affected.",
        resolution: &[
            "No action needed for occasional occurrences: the system retries up to 10 times, 5 minutes apart.",
            "If it persists, check the Exchange server's health (or the Microsoft 365 service health) with the MailboxId and ActivityId.",
        ],
        source: MAILBOX_LOG,
    },
    Entry {
        id: "act-duplicate-records",
        title: "Duplicate records found while saving from Exchange",
        nature: Nature::Prompt,
        scope: Scope::Mailbox,
        direction: Some(Direction::Act),
        phrases: &["duplicate records were found", "duplicate record", "duplicates found", "duplicate records", "exchangesyncduplicaterecordserror"],
        codes: &[],
        http: &[],
        cause: "Saving an item tracked in Exchange found one or more matching records in Dynamics 365 (duplicate detection; the local organization matches contacts by email address). The item is not saved until someone decides; nothing is disabled.",
        resolution: &[
            "On the alert, choose Create anyway (a new record although it duplicates), Link to this record (the item becomes that existing record) or Skip (the item stays in Exchange only).",
            "The choice is carried out in the mailbox's next synchronization cycle; the alert is then replaced by an Information alert saying what was done.",
        ],
        source: MONITOR,
    },
    Entry {
        id: "act-scheduling-conflict",
        title: "Scheduling conflict while saving an appointment",
        nature: Nature::Prompt,
        scope: Scope::Mailbox,
        direction: Some(Direction::Act),
        phrases: &["scheduling conflict", "exchangesyncschedulingconflictserror"],
        codes: &[],
        http: &[],
        cause: "An appointment tracked in Exchange conflicts with another appointment of an attendee at the same time (the booking check). It is not saved until someone decides; nothing is disabled.",
        resolution: &[
            "On the alert, choose Save anyway (Microsoft's Yes) or Skip (No).",
            "The choice is carried out in the mailbox's next synchronization cycle (up to 15 minutes).",
        ],
        source: MONITOR,
    },
    Entry {
        id: "act-previously-linked",
        title: "Previously linked items found for the mailbox",
        nature: Nature::Prompt,
        scope: Scope::Mailbox,
        direction: Some(Direction::Act),
        phrases: &["previously linked", "exchangesyncpreviouslylinkeditemserror"],
        codes: &[],
        http: &[],
        cause: "Items in the mailbox were linked to records by an earlier synchronization (another organization or a re-created mailbox). They are not linked again until someone decides; nothing is disabled.",
        resolution: &["On the alert, choose Relink (link the item to this organization) or Ignore (leave it unlinked)."],
        source: MONITOR,
    },
    Entry {
        id: "exchange-online-unsupported-settings",
        title: "Unsupported Exchange Online profile settings",
        nature: Nature::Permanent,
        scope: Scope::Profile,
        direction: None,
        phrases: &[],
        codes: &[],
        http: &[],
        cause: "Dynamics 365 (online) supports Exchange Online only in the same tenant with Server to Server Authentication and Auto Discover on. Credentials by user/queue or profile, impersonation, autodiscover off, another profile type or another tenant are not supported.",
        resolution: &[
            "Use the Microsoft Exchange Online profile: Server to Server Authentication for incoming and outgoing, Auto Discover Server Location = Yes, no impersonation.",
            "Then Test & Enable the mailboxes of the profile.",
        ],
        source: TROUBLESHOOTING,
    },
    Entry {
        id: "act-recurring-not-synchronized",
        title: "A tracked recurring appointment is not synchronized",
        nature: Nature::Permanent,
        scope: Scope::Mailbox,
        direction: Some(Direction::Act),
        phrases: &["synchronizes single appointments only"],
        codes: &[],
        http: &[],
        cause: "A recurring series (its master, an occurrence or an exception) was tracked in Exchange. Dynamics 365 keeps a series as a recurring appointment (recurringappointmentmaster), which the local organization does not have; taken as a single appointment it would be its first occurrence only, so it is left in Exchange. Nothing is disabled; the mailbox's other items synchronize.",
        resolution: &[
            "Track the meetings of the series one by one, or keep the series in Exchange only.",
            "Against a Dynamics 365 environment, the series synchronizes as a recurring appointment.",
        ],
        source: PRODUCT,
    },
];

pub fn by_id(id: &str) -> Option<&'static Entry> {
    ENTRIES.iter().find(|e| e.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engines_own_words_are_explained() {
        let id = |text: &str| {
            crate::classify::lookup(&crate::classify::Evidence {
                text,
                ..Default::default()
            })
            .map(|e| e.id)
        };
        assert_eq!(
            id("login: No one has signed in to Gmail for this mailbox: its user opens the mailbox, selects Sign in to Gmail, then tests the mailbox."),
            Some("mailbox-oauth-sign-in")
        );
        assert_eq!(
            id("Gmail refused the mailbox's sign-in (token: the token endpoint refused the app x: HTTP 400 invalid_grant: Token has been expired or revoked.); its user signs in again with Sign in to Gmail on the mailbox."),
            Some("mailbox-oauth-sign-in")
        );
        assert_eq!(
            id(&crate::engine::act::recurring_text("Weekly sync")),
            Some("act-recurring-not-synchronized")
        );
    }

    #[test]
    fn ids_unique_and_entries_complete() {
        for (i, e) in ENTRIES.iter().enumerate() {
            assert!(
                ENTRIES[..i].iter().all(|o| o.id != e.id),
                "duplicate id {}",
                e.id
            );
            assert!(
                !e.title.is_empty()
                    && !e.cause.is_empty()
                    && !e.resolution.is_empty()
                    && !e.source.is_empty(),
                "{}",
                e.id
            );
            for p in e.phrases {
                assert_eq!(p.to_ascii_lowercase(), *p, "phrases are lower case: {p}");
            }
        }
    }
}
