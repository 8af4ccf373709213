//! Formatted values (`<property>@OData.Community.Display.V1.FormattedValue`) and the
//! `odata.include-annotations` preference that asks for them.

use serde_json::Value;

use super::names::bool_labels;
use crate::model::{Column, Kind};
use crate::options::label;
use crate::time::Timestamp;

/// The annotation carrying a value's display text.
pub const FORMATTED_VALUE: &str = "OData.Community.Display.V1.FormattedValue";

/// The display text Dataverse sends beside `value` of `column`: a choice's label, a
/// Boolean's label ("Yes"/"No" or the column's own), an integer with thousands
/// separators ("1,234"), a decimal with two decimals, a date as `M/d/yyyy h:mm AM/PM`.
/// Dataverse formats dates in the user's time zone; the local organization's users all
/// use UTC, so dates are formatted in UTC.
///
/// `None` where Dataverse sends no formatted value: text, GUIDs, nulls, and lookups (the
/// server adds a lookup's primary name itself, as it needs the related record).
pub fn formatted_value(column: &Column, value: &Value) -> Option<String> {
    match column.kind {
        Kind::Choice => {
            let v = i32::try_from(value.as_i64()?).ok()?;
            let set = column.options?;
            // A value outside the set has no label; say nothing rather than "Unknown".
            set.iter()
                .any(|(o, _)| *o == v)
                .then(|| label(set, v).to_string())
        }
        Kind::Bool => {
            let (yes, no) = bool_labels(column);
            Some(if value.as_bool()? { yes } else { no }.to_string())
        }
        Kind::Int => Some(group_thousands(value.as_i64()?)),
        Kind::Decimal => format_decimal(value),
        Kind::DateTime => format_date(value.as_str()?),
        Kind::Text | Kind::Guid | Kind::Lookup(_) => None,
    }
}

/// `-1234567` → `-1,234,567` (en-US, the organization's language).
fn group_thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    // The first group takes what is left over by groups of three.
    let lead = match digits.len() % 3 {
        0 => 3.min(digits.len()),
        r => r,
    };
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    out.push_str(&digits[..lead]);
    // ASCII digits, so byte chunks are characters.
    for group in digits.as_bytes()[lead..].chunks(3) {
        out.push(',');
        out.extend(group.iter().map(|&b| char::from(b)));
    }
    out
}

/// A decimal at Dataverse's default precision of two (`1234.5` → `1,234.50`); the value
/// may come as a JSON number or as text.
fn format_decimal(value: &Value) -> Option<String> {
    let n = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if !n.is_finite() {
        return None;
    }
    let fixed = format!("{:.2}", n.abs());
    let (int, frac) = fixed.split_once('.')?;
    let grouped = group_thousands(int.parse::<i64>().ok()?);
    // "-0.00" is not a number anyone writes.
    let sign = if n < 0.0 && fixed != "0.00" { "-" } else { "" };
    Some(format!("{sign}{grouped}.{frac}"))
}

/// An RFC 3339 date-time as Dataverse displays it in en-US: `4/7/2023 2:59 PM`.
fn format_date(text: &str) -> Option<String> {
    let at: Timestamp = Timestamp::parse(text)?.at;
    let (y, mo, d, h, mi, _) = at.civil();
    let (h12, meridiem) = match h {
        0 => (12, "AM"),
        1..=11 => (h, "AM"),
        12 => (12, "PM"),
        _ => (h - 12, "PM"),
    };
    Some(format!("{mo}/{d}/{y} {h12}:{mi:02} {meridiem}"))
}

/// Whether the `odata.include-annotations` preference `prefer_value` asks for
/// `annotation` (a term name such as `OData.Community.Display.V1.FormattedValue`; a
/// leading `@` and a `#qualifier` are ignored).
///
/// The value is a comma-separated list of patterns (quotes around it or its items are
/// ignored): `*` for everything, a term name, a prefix ending in `*`
/// (`OData.Community.Display.V1.*`, or Dataverse's `Microsoft.PowerApps.CDS.ErrorDetails*`),
/// each optionally preceded by `-` to exclude. As in Microsoft's OData library (which
/// Dataverse runs on), the most specific matching pattern decides: an exact name over a
/// longer prefix over a shorter one over `*`; between an inclusion and an exclusion of
/// the same specificity the exclusion wins; no match means no annotation. Names are
/// compared case-sensitively, as OData term names are.
pub fn wants_annotation(prefer_value: &str, annotation: &str) -> bool {
    let term = annotation.trim().trim_start_matches('@');
    let term = term.split('#').next().unwrap_or(term);
    let mut best: Option<(usize, bool)> = None;
    for item in unquote(prefer_value).split(',') {
        let item = unquote(item);
        let (include, pattern) = match item.strip_prefix('-') {
            Some(p) => (false, p.trim()),
            None => (true, item),
        };
        let Some(rank) = specificity(pattern, term) else {
            continue;
        };
        // Higher specificity wins; on a tie an exclusion replaces an inclusion.
        let better = best.is_none_or(|(r, inc)| rank > r || (rank == r && inc && !include));
        if better {
            best = Some((rank, include));
        }
    }
    best.is_some_and(|(_, include)| include)
}

fn unquote(text: &str) -> &str {
    text.trim().trim_matches('"').trim()
}

/// How specifically `pattern` matches `term`, if it does: `*` least, then prefixes by
/// length, an exact name most.
fn specificity(pattern: &str, term: &str) -> Option<usize> {
    if pattern.is_empty() {
        return None;
    }
    if pattern == term {
        return Some(usize::MAX);
    }
    let prefix = pattern.strip_suffix('*')?;
    term.starts_with(prefix).then_some(prefix.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EMAIL, EMAILSERVERPROFILE, MAILBOX, SYSTEMUSER};
    use serde_json::json;

    fn fv(column: &Column, value: Value) -> Option<String> {
        formatted_value(column, &value)
    }

    #[test]
    fn choices_show_their_labels() {
        let approval = MAILBOX.column("emailrouteraccessapproval").unwrap();
        assert_eq!(fv(approval, json!(2)).as_deref(), Some("Pending Approval"));
        assert_eq!(fv(approval, json!(42)), None);
        assert_eq!(fv(approval, json!(null)), None);
        let server = EMAILSERVERPROFILE.column("servertype").unwrap();
        assert_eq!(fv(server, json!(4)).as_deref(), Some("IMAP/SMTP"));
        let status = EMAIL.column("statuscode").unwrap();
        assert_eq!(fv(status, json!(6)).as_deref(), Some("Pending Send"));
    }

    #[test]
    fn booleans_show_yes_no_or_their_own_labels() {
        let act = MAILBOX.column("enabledforact").unwrap();
        assert_eq!(fv(act, json!(true)).as_deref(), Some("Yes"));
        assert_eq!(fv(act, json!(false)).as_deref(), Some("No"));
        assert_eq!(fv(act, json!(1)), None);
        let disabled = SYSTEMUSER.column("isdisabled").unwrap();
        assert_eq!(fv(disabled, json!(true)).as_deref(), Some("Disabled"));
        let direction = EMAIL.column("directioncode").unwrap();
        assert_eq!(fv(direction, json!(false)).as_deref(), Some("Incoming"));
    }

    #[test]
    fn numbers_get_thousands_separators() {
        let count = MAILBOX.column("noemailcount").unwrap();
        assert_eq!(fv(count, json!(1234)).as_deref(), Some("1,234"));
        assert_eq!(fv(count, json!(0)).as_deref(), Some("0"));
        assert_eq!(fv(count, json!(999)).as_deref(), Some("999"));
        assert_eq!(fv(count, json!(1_000_000)).as_deref(), Some("1,000,000"));
        assert_eq!(fv(count, json!(-12345)).as_deref(), Some("-12,345"));
        assert_eq!(fv(count, json!("12")), None);
        assert_eq!(group_thousands(i64::MIN), "-9,223,372,036,854,775,808");
        let rate = Column::new("rate", Kind::Decimal);
        assert_eq!(fv(&rate, json!(1234.5)).as_deref(), Some("1,234.50"));
        assert_eq!(fv(&rate, json!("-0.004")).as_deref(), Some("0.00"));
        assert_eq!(fv(&rate, json!(-2000)).as_deref(), Some("-2,000.00"));
    }

    #[test]
    fn dates_in_us_format_utc() {
        let created = MAILBOX.column("createdon").unwrap();
        let f = |s: &str| fv(created, json!(s));
        assert_eq!(
            f("2023-04-07T21:59:01Z").as_deref(),
            Some("4/7/2023 9:59 PM")
        );
        assert_eq!(
            f("2023-04-07T14:59:01Z").as_deref(),
            Some("4/7/2023 2:59 PM")
        );
        assert_eq!(
            f("2024-12-31T00:05:00Z").as_deref(),
            Some("12/31/2024 12:05 AM")
        );
        assert_eq!(
            f("2024-01-01T12:00:00Z").as_deref(),
            Some("1/1/2024 12:00 PM")
        );
        // An offset is converted to UTC.
        assert_eq!(
            f("2024-01-01T12:00:00+02:00").as_deref(),
            Some("1/1/2024 10:00 AM")
        );
        assert_eq!(f("not a date"), None);
    }

    #[test]
    fn text_guids_and_lookups_have_none() {
        assert_eq!(fv(MAILBOX.column("name").unwrap(), json!("x")), None);
        assert_eq!(
            fv(
                MAILBOX.column("mailboxid").unwrap(),
                json!("00000000-0000-0000-0000-000000000001")
            ),
            None
        );
        assert_eq!(
            fv(
                MAILBOX.column("emailserverprofile").unwrap(),
                json!("00000000-0000-0000-0000-000000000001")
            ),
            None
        );
    }

    #[test]
    fn annotation_preferences() {
        let fv = FORMATTED_VALUE;
        let lookup = "Microsoft.Dynamics.CRM.lookuplogicalname";
        assert!(wants_annotation("*", fv));
        assert!(wants_annotation("\"*\"", lookup));
        assert!(wants_annotation(fv, fv));
        assert!(!wants_annotation(fv, lookup));
        assert!(wants_annotation("OData.Community.Display.V1.*", fv));
        assert!(!wants_annotation("OData.Community.Display.V1.*", lookup));
        assert!(wants_annotation("Microsoft.Dynamics.CRM.*", lookup));
        // Comma lists, with or without quotes and spaces.
        let list = "\"OData.Community.Display.V1.FormattedValue, Microsoft.Dynamics.CRM.lookuplogicalname\"";
        assert!(wants_annotation(list, fv) && wants_annotation(list, lookup));
        assert!(!wants_annotation(
            list,
            "Microsoft.Dynamics.CRM.totalrecordcount"
        ));
        // Dataverse's prefix without a dot.
        assert!(wants_annotation(
            "Microsoft.PowerApps.CDS.ErrorDetails*",
            "Microsoft.PowerApps.CDS.ErrorDetails.OperationStatus"
        ));
        // Annotation names as they appear in payloads.
        assert!(wants_annotation(fv, &format!("@{fv}")));
        assert!(wants_annotation(fv, &format!("{fv}#qualifier")));
        // Case matters.
        assert!(!wants_annotation(
            "odata.community.display.v1.formattedvalue",
            fv
        ));
        assert!(!wants_annotation("", fv));
    }

    #[test]
    fn exclusions() {
        let fv = FORMATTED_VALUE;
        let lookup = "Microsoft.Dynamics.CRM.lookuplogicalname";
        assert!(!wants_annotation(
            "*,-OData.Community.Display.V1.FormattedValue",
            fv
        ));
        assert!(wants_annotation(
            "*,-OData.Community.Display.V1.FormattedValue",
            lookup
        ));
        assert!(!wants_annotation("-*", fv));
        assert!(!wants_annotation("*,-OData.Community.Display.V1.*", fv));
        // The more specific pattern decides, whatever the order.
        assert!(wants_annotation(
            "-OData.Community.Display.V1.*,OData.Community.Display.V1.FormattedValue",
            fv
        ));
        assert!(wants_annotation("-*,Microsoft.Dynamics.CRM.*", lookup));
        assert!(!wants_annotation(
            "Microsoft.*,-Microsoft.Dynamics.CRM.*",
            lookup
        ));
        // Same pattern included and excluded: excluded.
        assert!(!wants_annotation(&format!("{fv},-{fv}"), fv));
        assert!(!wants_annotation(&format!("-{fv},{fv}"), fv));
    }
}
