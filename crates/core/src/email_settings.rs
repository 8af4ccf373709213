//! `organization.defaultemailsettings`: the organization's default incoming, outgoing
//! and appointments/contacts/tasks delivery methods, as Dataverse stores them, in a
//! small XML document (`<EmailSettings><IncomingEmailDeliveryMethod>2</...>...`).
//! System Settings edits it; Apply Default Email Settings copies it onto mailboxes.

use crate::options::{describe, ACT_METHODS, INCOMING_METHODS, OUTGOING_METHODS};

pub const INCOMING: &str = "IncomingEmailDeliveryMethod";
pub const OUTGOING: &str = "OutgoingEmailDeliveryMethod";
pub const ACT: &str = "ACTDeliveryMethod";

/// The three default methods, as Dataverse option values of the mailbox's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DefaultMethods {
    pub incoming: Option<i64>,
    pub outgoing: Option<i64>,
    pub act: Option<i64>,
}

impl DefaultMethods {
    pub fn read(xml: &str) -> Self {
        DefaultMethods {
            incoming: xml_value(xml, INCOMING),
            outgoing: xml_value(xml, OUTGOING),
            act: xml_value(xml, ACT),
        }
    }
}

impl DefaultMethods {
    /// Reads the document strictly, as a write must: one `<EmailSettings>` element whose
    /// methods, where given, are valid options of the mailbox's columns (`read` skips
    /// what it cannot read, so a bad value would silently mean "no default").
    pub fn parse(xml: &str) -> Result<Self, String> {
        let x = xml.trim();
        if !(x.starts_with("<EmailSettings>") && x.ends_with("</EmailSettings>")) {
            return Err("it must be an <EmailSettings>...</EmailSettings> document.".to_string());
        }
        for (tag, set) in [
            (INCOMING, INCOMING_METHODS),
            (OUTGOING, OUTGOING_METHODS),
            (ACT, ACT_METHODS),
        ] {
            if !x.contains(&format!("<{tag}>")) {
                continue;
            }
            let valid = xml_value(x, tag)
                .filter(|v| set.iter().any(|(o, _)| i64::from(*o) == *v))
                .is_some();
            if !valid || !x.contains(&format!("</{tag}>")) {
                return Err(format!("<{tag}> must be one of {}.", describe(set)));
            }
        }
        Ok(DefaultMethods::read(x))
    }
}

/// `<Tag>3</Tag>`'s number.
pub fn xml_value(xml: &str, tag: &str) -> Option<i64> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find('<')? + start;
    xml[start..end].trim().parse().ok()
}

/// `xml` with `<Tag>` set to `v` (added inside `<EmailSettings>` when missing).
pub fn set_xml_value(xml: &str, tag: &str, v: i64) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    if let Some(s) = xml.find(&open) {
        let start = s + open.len();
        if let Some(e) = xml[start..].find(&close) {
            return format!("{}{v}{}", &xml[..start], &xml[start + e..]);
        }
    }
    let element = format!("{open}{v}{close}");
    match xml.rfind("</EmailSettings>") {
        Some(i) => format!("{}{element}{}", &xml[..i], &xml[i..]),
        None => format!("<EmailSettings>{element}</EmailSettings>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = "<EmailSettings><IncomingEmailDeliveryMethod>2</IncomingEmailDeliveryMethod>\
                       <ACTDeliveryMethod>1</ACTDeliveryMethod></EmailSettings>";

    #[test]
    fn reads_and_writes_the_xml() {
        assert_eq!(xml_value(XML, INCOMING), Some(2));
        assert_eq!(xml_value(XML, OUTGOING), None);
        let x = set_xml_value(XML, INCOMING, 0);
        assert_eq!(xml_value(&x, INCOMING), Some(0));
        let x = set_xml_value(&x, OUTGOING, 1);
        assert_eq!(xml_value(&x, OUTGOING), Some(1));
        assert_eq!(xml_value(&x, ACT), Some(1));
        assert!(x.ends_with("</EmailSettings>"));
        assert_eq!(
            set_xml_value("", ACT, 2),
            "<EmailSettings><ACTDeliveryMethod>2</ACTDeliveryMethod></EmailSettings>"
        );
    }

    #[test]
    fn reads_the_three_methods() {
        let m = DefaultMethods::read(XML);
        assert_eq!(
            m,
            DefaultMethods {
                incoming: Some(2),
                outgoing: None,
                act: Some(1)
            }
        );
        assert_eq!(DefaultMethods::read("not xml"), DefaultMethods::default());
    }

    #[test]
    fn parse_refuses_what_read_would_skip() {
        assert_eq!(DefaultMethods::parse(XML), Ok(DefaultMethods::read(XML)));
        assert!(DefaultMethods::parse("<EmailSettings></EmailSettings>").is_ok());
        for bad in [
            "not xml",
            "",
            "<EmailSettings><IncomingEmailDeliveryMethod>2</IncomingEmailDeliveryMethod>",
            "<EmailSettings><IncomingEmailDeliveryMethod>9</IncomingEmailDeliveryMethod></EmailSettings>",
            "<EmailSettings><ACTDeliveryMethod>3</ACTDeliveryMethod></EmailSettings>",
            "<EmailSettings><OutgoingEmailDeliveryMethod>two</OutgoingEmailDeliveryMethod></EmailSettings>",
            "<EmailSettings><OutgoingEmailDeliveryMethod>2</EmailSettings>",
        ] {
            assert!(DefaultMethods::parse(bad).is_err(), "{bad}");
        }
        let e = DefaultMethods::parse(
            "<EmailSettings><ACTDeliveryMethod>3</ACTDeliveryMethod></EmailSettings>",
        )
        .unwrap_err();
        assert!(
            e.contains("ACTDeliveryMethod") && e.contains("1 (Server-Side Synchronization)"),
            "{e}"
        );
    }
}
