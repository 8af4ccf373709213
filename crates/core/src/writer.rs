//! Writes a Mailbox Details log in the layout the product downloads, so that the local
//! organization's "Download Mailbox Details" and the test corpora read back through
//! the same parser administrators' real files go through.

use crate::parse::Section;

#[derive(Debug, Clone, PartialEq)]
pub struct TraceEntry {
    pub tracecode: i64,
    pub error_type: String,
    /// Written after `errordetails : `; may span lines.
    pub details: String,
}

/// Heading legends as the product writes them.
fn legend(s: Section) -> &'static str {
    match s {
        Section::Methods => " (2 is server-side sync or email router, 1 is Outlook sync, 0 is none)",
        Section::Idle => " (shows how many times the mailbox was processed with no email items or Appointments, Contacts and Tasks to synchronize)",
        Section::Backoff => " (shows when the mailbox is scheduled to process next time)",
        Section::ProfileGeneral => " (servertype: 1 is others, 0 is Exchange)",
        _ => "",
    }
}

/// Renders every section; `value(key)` gives a field's text, `None` writes `Null`.
pub fn render(value: &dyn Fn(&str) -> Option<String>, traces: &[TraceEntry]) -> String {
    let mut out = String::with_capacity(3072 + traces.len() * 400);
    for s in Section::ALL {
        if s == Section::Traces {
            break;
        }
        out.push_str(s.heading());
        out.push_str(legend(s));
        out.push('\n');
        for key in s.keys() {
            out.push_str(key);
            out.push_str(" : ");
            out.push_str(value(key).as_deref().unwrap_or("Null"));
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(Section::Traces.heading());
    out.push('\n');
    for t in traces {
        out.push_str(&format!(
            "tracecode : {}\nerrortypedisplay : {}\nerrordetails : {}\n\n",
            t.tracecode, t.error_type, t.details
        ));
    }
    out
}
