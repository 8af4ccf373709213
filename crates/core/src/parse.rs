//! Text to a [`ParsedLog`]: field lines, section headings and trace entries, with no
//! interpretation of values (that is `diagnose`'s job). Tolerant by design: spacing,
//! tabs, CRLF, explanations in parentheses and pasted article prose are all accepted,
//! unknown keys are kept, and nothing here can fail: the worst outcome is an empty log.

/// The sections of a Mailbox Details log, in the order the product writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    AsyncState,
    Methods,
    Enabled,
    Idle,
    Backoff,
    TestAndEnable,
    LastSync,
    ProfileDetails,
    ProfileGeneral,
    ProfileIncoming,
    ProfileOutgoing,
    Traces,
}

impl Section {
    pub const ALL: [Section; 12] = [
        Section::AsyncState,
        Section::Methods,
        Section::Enabled,
        Section::Idle,
        Section::Backoff,
        Section::TestAndEnable,
        Section::LastSync,
        Section::ProfileDetails,
        Section::ProfileGeneral,
        Section::ProfileIncoming,
        Section::ProfileOutgoing,
        Section::Traces,
    ];

    pub fn heading(self) -> &'static str {
        match self {
            Section::AsyncState => "Mailbox Async Processing State",
            Section::Methods => "Mailbox Synchronization Methods",
            Section::Enabled => "Mailbox Enabled State",
            Section::Idle => "Mailbox Idle State",
            Section::Backoff => "Mailbox Backoff Parameters",
            Section::TestAndEnable => "Mailbox Test and Enable Parameters",
            Section::LastSync => "Mailbox Last Sync Cycle Information",
            Section::ProfileDetails => "Email Server Profile Details",
            Section::ProfileGeneral => "Email Server Profile General Settings",
            Section::ProfileIncoming => "Email Server Profile Incoming Email Settings",
            Section::ProfileOutgoing => "Email Server Profile Outgoing Email Settings",
            Section::Traces => "Recent Trace Log details",
        }
    }

    /// The keys the product writes in this section.
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            Section::AsyncState => &[
                "mailboxid",
                "hostid",
                "processingstatecode",
                "processinglastattemptedon",
            ],
            Section::Methods => &[
                "incomingemaildeliverymethod",
                "outgoingemaildeliverymethod",
                "actdeliverymethod",
            ],
            Section::Enabled => &[
                "enabledforincomingemail",
                "enabledforoutgoingemail",
                "enabledforact",
            ],
            Section::Idle => &["noemailcount", "noactcount"],
            Section::Backoff => &[
                "postponemailboxprocessinguntil",
                "postponesendinguntil",
                "receivingpostponeduntil",
                "receivingpostponeduntilforact",
            ],
            Section::TestAndEnable => &[
                "testemailconfigurationscheduled",
                "testemailconfigurationretrycount",
                "testmailboxaccesscompletedon",
                "postponetestemailconfigurationuntil",
            ],
            Section::LastSync => &[
                "lastsuccessfulsynccompletedon",
                "lastsyncerror",
                "lastsyncerrorcode",
                "lastsyncerrorcount",
                "lastsyncerroroccurredon",
                "itemsprocessedforlastsync",
                "itemsfailedforlastsync",
            ],
            Section::ProfileDetails | Section::Traces => &[],
            Section::ProfileGeneral => &[
                "servertype",
                "useautodiscover",
                "maxconcurrentconnections",
                "minpollingintervalinminutes",
            ],
            Section::ProfileIncoming => &[
                "incomingauthenticationprotocol",
                "incomingcredentialretrieval",
                "incominguseimpersonation",
                "incomingusessl",
                "incomingportnumber",
            ],
            Section::ProfileOutgoing => &[
                "outgoingauthenticationprotocol",
                "outgoingcredentialretrieval",
                "outgoinguseimpersonation",
                "outgoingusessl",
                "outgoingportnumber",
            ],
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }

    fn from_heading(line: &str) -> Option<Section> {
        let first = line.as_bytes().first()?.to_ascii_lowercase();
        if !matches!(first, b'm' | b'e' | b'r') {
            return None;
        }
        Section::ALL.into_iter().find(|s| {
            let h = s.heading();
            line.len() >= h.len()
                && line.is_char_boundary(h.len())
                && line[..h.len()].eq_ignore_ascii_case(h)
                && matches!(
                    line[h.len()..].trim_start().as_bytes().first(),
                    None | Some(b'(')
                )
        })
    }
}

/// One entry of "Recent Trace Log details", still as text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawTrace<'a> {
    pub tracecode: Option<&'a str>,
    pub error_type: Option<&'a str>,
    /// `errordetails` with its continuation lines, joined by `\n`.
    pub details: String,
}

#[derive(Debug, Clone)]
pub struct ParsedLog<'a> {
    /// Field lines outside the trace section, in file order; `Null` is `None`.
    pub fields: Vec<(&'a str, Option<&'a str>)>,
    sections: u16,
    /// For each of [`KEYS`], 1 + the index in `fields` of its last line; 0 when absent.
    slots: [u16; KEYS.len()],
    pub traces: Vec<RawTrace<'a>>,
    /// The one-line "not configured correctly for Server Side Sync" file.
    pub not_configured: bool,
}

impl Default for ParsedLog<'_> {
    fn default() -> Self {
        ParsedLog {
            fields: Vec::with_capacity(48),
            sections: 0,
            slots: [0; KEYS.len()],
            traces: Vec::new(),
            not_configured: false,
        }
    }
}

const NOT_CONFIGURED: &str = "not configured correctly for server side sync";

impl<'a> ParsedLog<'a> {
    pub fn has_section(&self, s: Section) -> bool {
        self.sections & s.bit() != 0
    }

    /// The value of the last line with this key (case-insensitive); `None` when absent or `Null`.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.field(key).and_then(|(_, v)| v)
    }

    pub fn has_key(&self, key: &str) -> bool {
        self.field(key).is_some()
    }

    fn field(&self, key: &str) -> Option<(&'a str, Option<&'a str>)> {
        match key_slot(key) {
            Some(slot) => match self.slots[slot] {
                0 => None,
                i => Some(self.fields[usize::from(i) - 1]),
            },
            None => self
                .fields
                .iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .copied(),
        }
    }

    /// Whether anything identifies this text as a Mailbox Details log.
    pub fn looks_like_log(&self) -> bool {
        self.sections != 0
            || self.not_configured
            || self.fields.iter().any(|(k, _)| is_known_key(k))
    }
}

pub fn is_known_key(key: &str) -> bool {
    key_slot(key).is_some()
}

/// Every key the product writes, section by section (see [`Section::keys`]).
pub const KEYS: [&str; 41] = [
    "mailboxid",
    "hostid",
    "processingstatecode",
    "processinglastattemptedon",
    "incomingemaildeliverymethod",
    "outgoingemaildeliverymethod",
    "actdeliverymethod",
    "enabledforincomingemail",
    "enabledforoutgoingemail",
    "enabledforact",
    "noemailcount",
    "noactcount",
    "postponemailboxprocessinguntil",
    "postponesendinguntil",
    "receivingpostponeduntil",
    "receivingpostponeduntilforact",
    "testemailconfigurationscheduled",
    "testemailconfigurationretrycount",
    "testmailboxaccesscompletedon",
    "postponetestemailconfigurationuntil",
    "lastsuccessfulsynccompletedon",
    "lastsyncerror",
    "lastsyncerrorcode",
    "lastsyncerrorcount",
    "lastsyncerroroccurredon",
    "itemsprocessedforlastsync",
    "itemsfailedforlastsync",
    "servertype",
    "useautodiscover",
    "maxconcurrentconnections",
    "minpollingintervalinminutes",
    "incomingauthenticationprotocol",
    "incomingcredentialretrieval",
    "incominguseimpersonation",
    "incomingusessl",
    "incomingportnumber",
    "outgoingauthenticationprotocol",
    "outgoingcredentialretrieval",
    "outgoinguseimpersonation",
    "outgoingusessl",
    "outgoingportnumber",
];

/// The index of a known key in [`KEYS`], through a small hash table built at compile
/// time: a linear search here was a tenth of the analyzer's time.
fn key_slot(key: &str) -> Option<usize> {
    let mut h = key_hash(key.as_bytes()) as usize;
    loop {
        match KEY_TABLE[h % KEY_TABLE.len()] {
            0 => return None,
            slot => {
                let i = usize::from(slot) - 1;
                if KEYS[i] == key || KEYS[i].eq_ignore_ascii_case(key) {
                    return Some(i);
                }
            }
        }
        h += 1;
    }
}

/// Length and three lower-cased bytes: enough to spread the 41 keys, and cheap.
const fn key_hash(b: &[u8]) -> u32 {
    if b.is_empty() {
        return 0;
    }
    let (first, last, mid) = (
        b[0].to_ascii_lowercase() as u32,
        b[b.len() - 1].to_ascii_lowercase() as u32,
        b[b.len() / 2].to_ascii_lowercase() as u32,
    );
    (b.len() as u32).wrapping_mul(31)
        ^ first.wrapping_mul(7)
        ^ last.wrapping_mul(131)
        ^ mid.wrapping_mul(17)
}

/// Open addressing, 1 + index into KEYS; 0 is empty. Well under half full, so probes end.
static KEY_TABLE: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut i = 0;
    while i < KEYS.len() {
        let mut h = key_hash(KEYS[i].as_bytes()) as usize;
        while t[h % 128] != 0 {
            h += 1;
        }
        t[h % 128] = (i + 1) as u8;
        i += 1;
    }
    t
};

pub fn parse(text: &str) -> ParsedLog<'_> {
    let mut log = ParsedLog::default();
    let mut in_traces = false;
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', text.as_bytes()).chain(std::iter::once(text.len()));
    for end in ends {
        // '\n' is ASCII, so both ends are char boundaries.
        let raw = &text[start..end];
        start = end + 1;
        let line = raw.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
        if line.is_empty() {
            continue;
        }
        // A field line is never a heading, so most lines skip the heading comparisons.
        let field = split_field(line);
        if field.is_none() {
            if let Some(section) = Section::from_heading(line) {
                log.sections |= section.bit();
                in_traces = section == Section::Traces;
                continue;
            }
        }
        if in_traces {
            trace_line(&mut log.traces, line, field);
        } else if let Some((key, value)) = field {
            if let Some(slot) = key_slot(key) {
                log.slots[slot] = u16::try_from(log.fields.len() + 1).unwrap_or(0);
            }
            log.fields.push((key, value));
        } else if crate::extract::find_ci(line, NOT_CONFIGURED).is_some() {
            log.not_configured = true;
        }
    }
    log
}

fn trace_line<'a>(
    traces: &mut Vec<RawTrace<'a>>,
    line: &'a str,
    field: Option<(&'a str, Option<&'a str>)>,
) {
    if let Some((key, value)) = field {
        if key.eq_ignore_ascii_case("tracecode") {
            traces.push(RawTrace {
                tracecode: value,
                ..RawTrace::default()
            });
            return;
        }
        if let Some(t) = traces.last_mut() {
            if key.eq_ignore_ascii_case("errortypedisplay") && t.details.is_empty() {
                t.error_type = value;
                return;
            }
            if key.eq_ignore_ascii_case("errordetails") && t.details.is_empty() {
                t.details.push_str(value.unwrap_or(""));
                return;
            }
        }
    }
    // Continuation of the current entry's details; prose before the first entry
    // (the heading's explanation) belongs to no entry and is dropped.
    if let Some(t) = traces.last_mut() {
        if !t.details.is_empty() {
            t.details.push('\n');
        }
        t.details.push_str(line);
    }
}

/// `key : value` with any spacing, where key is one identifier. `Null` gives `None`.
pub fn split_field(line: &str) -> Option<(&str, Option<&str>)> {
    let bytes = line.as_bytes();
    let key_len = bytes
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count();
    if key_len == 0 {
        return None;
    }
    let rest = line[key_len..].trim_start_matches([' ', '\t']);
    let value = rest.strip_prefix(':')?.trim();
    let value = if value.is_empty() || value.eq_ignore_ascii_case("null") {
        None
    } else {
        Some(value)
    };
    Some((&line[..key_len], value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_spacing_variants() {
        assert_eq!(
            split_field("mailboxid : abc"),
            Some(("mailboxid", Some("abc")))
        );
        assert_eq!(split_field("hostid: Null"), Some(("hostid", None)));
        assert_eq!(
            split_field("noemailcount\t:\t3"),
            Some(("noemailcount", Some("3")))
        );
        assert_eq!(split_field("lastsyncerror:"), Some(("lastsyncerror", None)));
        assert_eq!(split_field("Let's break down the sections:"), None);
        assert_eq!(split_field("(This will be 1 if async)"), None);
    }

    #[test]
    fn headings_with_and_without_explanation() {
        assert_eq!(
            Section::from_heading("Mailbox Idle State"),
            Some(Section::Idle)
        );
        assert_eq!(
            Section::from_heading(
                "Email Server Profile General Settings (servertype: 1 is others, 0 is Exchange)"
            ),
            Some(Section::ProfileGeneral)
        );
        assert_eq!(
            Section::from_heading("mailbox backoff parameters (shows when)"),
            Some(Section::Backoff)
        );
        assert_eq!(Section::from_heading("Mailbox Idle States"), None);
    }

    #[test]
    fn traces_collect_multiline_details() {
        let text = "Recent Trace Log details\n(explanation)\ntracecode : 52\nerrortypedisplay : X\nerrordetails : ActivityId: a\n>Error : boom\nat Foo()\n\ntracecode : 2\nerrortypedisplay : Y\nerrordetails :\nT:5\n";
        let log = parse(text);
        assert_eq!(log.traces.len(), 2);
        assert_eq!(log.traces[0].tracecode, Some("52"));
        assert_eq!(
            log.traces[0].details,
            "ActivityId: a\n>Error : boom\nat Foo()"
        );
        assert_eq!(log.traces[1].error_type, Some("Y"));
        assert_eq!(log.traces[1].details, "T:5");
    }

    #[test]
    fn keys_list_matches_the_sections() {
        let from_sections: Vec<&str> = Section::ALL
            .iter()
            .flat_map(|s| s.keys().iter().copied())
            .collect();
        assert_eq!(from_sections, KEYS);
    }

    #[test]
    fn every_key_has_its_slot() {
        for (i, k) in KEYS.iter().enumerate() {
            assert_eq!(key_slot(k), Some(i));
            assert_eq!(key_slot(&k.to_ascii_uppercase()), Some(i));
        }
        for other in [
            "",
            "mailbox",
            "hostidx",
            "ActivityId",
            "tracecode",
            "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
        ] {
            assert_eq!(key_slot(other), None, "{other}");
        }
    }

    #[test]
    fn last_line_of_a_key_wins() {
        let log = parse("hostid : a\nHOSTID : b\nextra : c\nextra : d\n");
        assert_eq!(log.get("hostid"), Some("b"));
        assert_eq!(log.get("extra"), Some("d"));
        assert!(!log.has_key("mailboxid"));
    }

    #[test]
    fn not_configured_line() {
        let log = parse("Your mailbox is not configured correctly for Server Side Sync.\r\n");
        assert!(log.not_configured);
        assert!(log.looks_like_log());
    }
}
