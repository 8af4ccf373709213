//! Dataverse option values of the mailbox and email server profile columns, their
//! labels, and how the log writes them (as names in some versions, numbers in others).

use crate::report::Direction;

/// A choice column's valid values and their labels, in Dataverse's numbering. The
/// entity model ([`crate::model`]) attaches them to columns, so the Web API refuses
/// any other value.
pub type OptionSet = &'static [(i32, &'static str)];

pub static SERVER_TYPES: OptionSet = &[
    (0, "Exchange Server"),
    (1, "Other (POP3/SMTP)"),
    (2, "Exchange Server (Hybrid)"),
    (3, "Exchange Online (Hybrid)"),
    (4, "IMAP/SMTP"),
];
pub static CREDENTIAL_RETRIEVALS: OptionSet = &[
    (0, "Credentials Specified by a User or Queue"),
    (1, "Credentials Specified in Email Server Profile"),
    (2, "Server to Server Authentication"),
    (3, "Windows Integrated Authentication"),
    (4, "Without Credentials (Anonymous)"),
    (5, "Gmail OAuth"),
    (6, "Exchange Hybrid Modern Auth"),
    (7, "Azure AD OAuth"),
];
pub static AUTH_PROTOCOLS: OptionSet = &[
    (0, "Auto Detect"),
    (1, "Negotiate"),
    (2, "NTLM"),
    (3, "Basic"),
    (4, "OAuth"),
];
/// `exchangeversion`; 0 and 1 (Exchange 2007) are unsupported by server-side sync.
pub static EXCHANGE_VERSIONS: OptionSet = &[
    (0, "Exchange 2007"),
    (1, "Exchange 2007 SP1"),
    (2, "Exchange 2010"),
    (3, "Exchange 2010 SP1"),
    (4, "Exchange 2010 SP2"),
    (5, "Exchange 2013"),
];
pub static INCOMING_METHODS: OptionSet = &[
    (0, "None"),
    (1, "Microsoft Dynamics 365 for Outlook"),
    (2, "Server-Side Synchronization or Email Router"),
    (3, "Forward Mailbox"),
];
pub static OUTGOING_METHODS: OptionSet = &[
    (0, "None"),
    (1, "Microsoft Dynamics 365 for Outlook"),
    (2, "Server-Side Synchronization or Email Router"),
];
pub static ACT_METHODS: OptionSet = &[
    (0, "Microsoft Dynamics 365 for Outlook"),
    (1, "Server-Side Synchronization"),
    (2, "None"),
];
pub static APPROVALS: OptionSet = &[
    (0, "Empty"),
    (1, "Approved"),
    (2, "Pending Approval"),
    (3, "Rejected"),
];
/// `incomingemailstatus`, `outgoingemailstatus`, `actstatus`, `mailboxstatus`.
pub static SYNC_STATUSES: OptionSet = &[(0, "Not Run"), (1, "Success"), (2, "Failure")];
pub static TEST_STATUSES: OptionSet = &[(0, "Failure"), (1, "Success"), (2, "Warning")];
pub static STATES: OptionSet = &[(0, "Active"), (1, "Inactive")];
/// `team.teamtype`.
pub static TEAM_TYPES: OptionSet = &[
    (0, "Owner"),
    (1, "Access"),
    (2, "Security Group"),
    (3, "Office Group"),
];
pub static STATUSES: OptionSet = &[(1, "Active"), (2, "Inactive")];
pub static EMAIL_STATES: OptionSet = &[(0, "Open"), (1, "Completed"), (2, "Canceled")];
pub static EMAIL_STATUSES: OptionSet = &[
    (1, "Draft"),
    (2, "Completed"),
    (3, "Sent"),
    (4, "Received"),
    (5, "Canceled"),
    (6, "Pending Send"),
    (7, "Sending"),
    (8, "Failed"),
];
pub static PRIORITIES: OptionSet = &[(0, "Low"), (1, "Normal"), (2, "High")];
/// `activityparty.participationtypemask` (Microsoft's "Activity Party types").
pub static PARTICIPATION_TYPES: OptionSet = &[
    (1, "Sender"),
    (2, "To Recipient"),
    (3, "CC Recipient"),
    (4, "BCC Recipient"),
    (5, "Required attendee"),
    (6, "Optional attendee"),
    (7, "Organizer"),
    (8, "Regarding"),
    (9, "Owner"),
    (10, "Resource"),
    (11, "Customer"),
    (12, "Chat Participant"),
    (13, "Related"),
];
pub static APPOINTMENT_STATES: OptionSet = &[
    (0, "Open"),
    (1, "Completed"),
    (2, "Canceled"),
    (3, "Scheduled"),
];
pub static APPOINTMENT_STATUSES: OptionSet = &[
    (1, "Free"),
    (2, "Tentative"),
    (3, "Completed"),
    (4, "Canceled"),
    (5, "Busy"),
    (6, "Out of Office"),
];
pub static CONTACT_STATES: OptionSet = &[(0, "Active"), (1, "Inactive")];
pub static CONTACT_STATUSES: OptionSet = &[(1, "Active"), (2, "Inactive")];
pub static TASK_STATES: OptionSet = &[(0, "Open"), (1, "Completed"), (2, "Canceled")];
pub static TASK_STATUSES: OptionSet = &[
    (2, "Not Started"),
    (3, "In Progress"),
    (4, "Waiting on someone else"),
    (5, "Completed"),
    (6, "Canceled"),
    (7, "Deferred"),
];
pub static ALERT_LEVELS: OptionSet = &[(1, "Information"), (2, "Warning"), (3, "Error")];
pub static CONNECTION_CHANNELS: OptionSet =
    &[(0, "Server-Side Synchronization"), (1, "Email Router")];

/// A value's label in `set`; "Unknown" for a value outside it.
pub fn label(set: OptionSet, value: i32) -> &'static str {
    set.iter()
        .find(|(v, _)| *v == value)
        .map_or("Unknown", |(_, l)| l)
}

/// The valid values of `set` as `0 (None), 1 (Outlook)...`, for messages.
pub fn describe(set: OptionSet) -> String {
    set.iter()
        .map(|(v, l)| format!("{v} ({l})"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn parse_bool(v: &str) -> Option<bool> {
    let v = v.trim();
    let is = |words: &[&str]| words.iter().any(|w| w.eq_ignore_ascii_case(v));
    if is(&["true", "1", "yes"]) {
        Some(true)
    } else if is(&["false", "0", "no"]) {
        Some(false)
    } else {
        None
    }
}

pub fn parse_int(v: &str) -> Option<i64> {
    v.trim().parse().ok()
}

/// An option as written ("EmailRouter", "Server-Side Sync", "2"), reduced to lower-case
/// letters and digits in a stack buffer: option values are parsed several times a log.
struct Norm {
    buf: [u8; 48],
    len: usize,
}

impl Norm {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

fn norm(v: &str) -> Norm {
    let mut n = Norm {
        buf: [0; 48],
        len: 0,
    };
    for b in v.bytes().filter(u8::is_ascii_alphanumeric) {
        if n.len == n.buf.len() {
            // Longer than any option name: cannot match, so say nothing matches.
            return Norm {
                buf: [0; 48],
                len: 0,
            };
        }
        n.buf[n.len] = b.to_ascii_lowercase();
        n.len += 1;
    }
    n
}

/// A delivery method as the log writes it, to the Dataverse option value of the
/// column for `dir`. The log's own legend numbers all three directions alike
/// ("2 is server-side sync or email router, 1 is Outlook sync, 0 is none"), while
/// Dataverse numbers `actdeliverymethod` differently (0 Outlook, 1 SSS, 2 None).
pub fn delivery_method(dir: Direction, v: &str) -> Option<i32> {
    #[derive(PartialEq)]
    enum M {
        None,
        Outlook,
        Sss,
        Forward,
    }
    let m = match norm(v).as_str() {
        "0" | "none" => M::None,
        "1" | "outlook" | "microsoftdynamics365foroutlook" | "dynamics365foroutlook" => M::Outlook,
        "2"
        | "emailrouter"
        | "serversidesync"
        | "serversidesynchronization"
        | "serversidesynchronizationoremailrouter" => M::Sss,
        "3" | "forwardmailbox" => M::Forward,
        _ => return None,
    };
    Some(match (dir, m) {
        (Direction::Act, M::Outlook) => 0,
        (Direction::Act, M::Sss) => 1,
        (Direction::Act, M::None) => 2,
        (Direction::Act, M::Forward) => return None,
        (_, M::None) => 0,
        (_, M::Outlook) => 1,
        (_, M::Sss) => 2,
        (_, M::Forward) => 3,
    })
}

/// Whether the Dataverse option value means server-side synchronization.
pub fn is_server_side_sync(dir: Direction, value: i32) -> bool {
    match dir {
        Direction::Act => value == 1,
        _ => value == 2,
    }
}

pub fn delivery_method_label(dir: Direction, value: i32) -> &'static str {
    label(
        match dir {
            Direction::Incoming => INCOMING_METHODS,
            Direction::Outgoing => OUTGOING_METHODS,
            Direction::Act => ACT_METHODS,
        },
        value,
    )
}

pub fn server_type(v: &str) -> Option<i32> {
    match norm(v).as_str() {
        "0" | "exchange" | "exchangeserver" | "exchangeonline" => Some(0),
        "1" | "other" | "others" | "pop3" | "pop3smtp" => Some(1),
        "2" | "exchangehybrid" | "exchangeserverhybrid" => Some(2),
        "3" | "exchangeonlinehybrid" => Some(3),
        "4" | "imap" | "imapsmtp" => Some(4),
        _ => None,
    }
}

pub fn server_type_label(v: i32) -> &'static str {
    label(SERVER_TYPES, v)
}

pub fn is_pop_or_imap(server_type: i32) -> bool {
    server_type == 1 || server_type == 4
}

pub fn credential_retrieval(v: &str) -> Option<i32> {
    match norm(v).as_str() {
        "0" | "userorqueue" | "user" | "credentialsspecifiedbyauserorqueue" | "userspecified" => {
            Some(0)
        }
        "1"
        | "profile"
        | "emailserverprofile"
        | "credentialsspecifiedinemailserverprofile"
        | "serverprofile" => Some(1),
        "2" | "s2s" | "servertoserver" | "servertoserverauthentication" => Some(2),
        "3" | "windowsintegrated" | "windowsintegratedauthentication" | "integrated" => Some(3),
        "4" | "anonymous" | "withoutcredentials" | "withoutcredentialsanonymous" => Some(4),
        "5" | "gmailoauth" => Some(5),
        "6" | "exchangehybridmodernauth" | "hybridmodernauth" => Some(6),
        "7" | "azureadoauth" | "oauth" => Some(7),
        _ => None,
    }
}

pub fn credential_retrieval_label(v: i32) -> &'static str {
    label(CREDENTIAL_RETRIEVALS, v)
}

pub fn auth_protocol(v: &str) -> Option<i32> {
    match norm(v).as_str() {
        "0" | "autodetect" => Some(0),
        "1" | "negotiate" => Some(1),
        "2" | "ntlm" => Some(2),
        "3" | "basic" => Some(3),
        "4" | "oauth" => Some(4),
        _ => None,
    }
}

pub fn auth_protocol_label(v: i32) -> &'static str {
    label(AUTH_PROTOCOLS, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_methods_by_name_and_number() {
        assert_eq!(delivery_method(Direction::Incoming, "EmailRouter"), Some(2));
        assert_eq!(delivery_method(Direction::Incoming, "2"), Some(2));
        assert_eq!(delivery_method(Direction::Act, "EmailRouter"), Some(1));
        assert_eq!(delivery_method(Direction::Act, "2"), Some(1));
        assert_eq!(delivery_method(Direction::Act, "Outlook"), Some(0));
        assert_eq!(delivery_method(Direction::Act, "None"), Some(2));
        assert_eq!(delivery_method(Direction::Outgoing, "Outlook"), Some(1));
        assert_eq!(
            delivery_method(Direction::Incoming, "ForwardMailbox"),
            Some(3)
        );
        assert_eq!(delivery_method(Direction::Incoming, "carrier pigeon"), None);
        assert!(is_server_side_sync(Direction::Act, 1));
        assert!(!is_server_side_sync(Direction::Incoming, 1));
    }

    #[test]
    fn profile_values_by_name() {
        assert_eq!(credential_retrieval("S2S"), Some(2));
        assert_eq!(auth_protocol("AutoDetect"), Some(0));
        assert_eq!(server_type("0"), Some(0));
        assert_eq!(parse_bool("True"), Some(true));
        assert_eq!(parse_bool("maybe"), None);
    }
}
