//! `$expand`: related records in the same answer ("Join tables using OData").
//!
//! One level, as a list of navigation properties, each with its options in parentheses
//! separated by `;`:
//! * a single-valued navigation property (a lookup: `emailserverprofile`,
//!   `regardingobjectid_systemuser`) takes `$select`; the related record comes as an
//!   object, or `null` when there is none (or the caller may not read it);
//! * a collection-valued one (a one-to-many relationship, [`one_to_many`]:
//!   `appointment_activity_parties`) takes `$select`, `$filter`, `$orderby` and `$top`;
//!   the related records come as an array.
//!
//! Dataverse allows up to 15 `$expand` options ([`MAX_EXPANDS`]). Nested `$expand`,
//! `/$ref`, and the options Dataverse does not support in an expand (`$skip`, `$count`,
//! `$search`, `$levels`) are refused with a message saying so.

use super::filter::{parse_filter, Filter};
use super::query::{parse_orderby, parse_select, parse_top, OrderKey};
use super::ODataError;
use crate::metadata::navigation_properties;
use crate::model::{self, Column, Table};

/// Dataverse's limit on `$expand` options in one query.
pub const MAX_EXPANDS: usize = 15;

/// One-to-many relationships the model serves as collection-valued navigation
/// properties: `(table, navigation property, related table, its lookup to table)`.
const ONE_TO_MANY: &[(&str, &str, &str, &str)] = &[(
    "appointment",
    "appointment_activity_parties",
    "activityparty",
    "activityid",
)];

/// A collection-valued navigation property of `table`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OneToMany {
    pub name: &'static str,
    pub target: &'static Table,
    /// The related table's lookup naming a record of `table`.
    pub column: &'static Column,
}

/// The collection-valued navigation properties of `table` (for `$metadata` too).
pub fn one_to_many(table: &Table) -> Vec<OneToMany> {
    ONE_TO_MANY
        .iter()
        .filter(|(t, ..)| *t == table.logical)
        .filter_map(|(_, name, target, column)| {
            let target = model::table(target)?;
            Some(OneToMany {
                name,
                target,
                column: target.column(column)?,
            })
        })
        .collect()
}

/// Which way an expanded navigation property goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Navigation {
    /// A lookup of the expanded table's records.
    Lookup(&'static Column),
    /// The related table's lookup to the expanded records.
    Collection(&'static Column),
}

/// One checked `$expand` item.
#[derive(Debug, Clone, PartialEq)]
pub struct Expand {
    /// The navigation property, as named in the query and the answer.
    pub name: String,
    pub navigation: Navigation,
    pub target: &'static Table,
    /// The related record's columns: the `$select` list (or every readable column) and
    /// always its key.
    pub select: Vec<&'static Column>,
    pub filter: Option<Filter>,
    /// Collection-valued only: the `$orderby` keys (ending with the key).
    pub order: Vec<OrderKey>,
    pub top: Option<u32>,
}

/// Splits `text` at `sep` outside parentheses and single-quoted strings.
fn split_top_level(text: &str, sep: char) -> Result<Vec<&str>, ODataError> {
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    let mut parts = Vec::new();
    for (i, c) in text.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => {
                depth -= 1;
                if depth < 0 {
                    return Err(ODataError::new(format!(
                        "The $expand value '{text}' has an unbalanced ')'."
                    )));
                }
            }
            c if c == sep && !quoted && depth == 0 => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    if depth != 0 || quoted {
        return Err(ODataError::new(format!(
            "The $expand value '{text}' has an unbalanced '(' or quote."
        )));
    }
    parts.push(&text[start..]);
    Ok(parts)
}

/// Parses `$expand=a($select=x;$top=2),b` for `table`.
pub fn parse_expand(table: &Table, text: &str) -> Result<Vec<Expand>, ODataError> {
    let items = split_top_level(text, ',')?;
    if items.len() > MAX_EXPANDS {
        return Err(ODataError::new(format!(
            "The query has {} $expand options; at most {MAX_EXPANDS} are allowed.",
            items.len()
        )));
    }
    let mut out: Vec<Expand> = Vec::new();
    for item in items.iter().map(|i| i.trim()) {
        let (name, options) = match item.find('(') {
            Some(i) if item.ends_with(')') => (item[..i].trim(), &item[i + 1..item.len() - 1]),
            Some(_) => {
                return Err(ODataError::new(format!(
                    "The $expand item '{item}' is not valid."
                )))
            }
            None => (item, ""),
        };
        if name.is_empty() {
            return Err(ODataError::new(format!(
                "The $expand value '{text}' is not valid: an empty navigation property was found."
            )));
        }
        if name.ends_with("/$ref") {
            return Err(ODataError::new(format!(
                "Expanding references ('{name}') is not supported here; expand the \
                 navigation property with $select instead."
            )));
        }
        if out.iter().any(|e| e.name == name) {
            return Err(ODataError::new(format!(
                "The navigation property '{name}' is expanded more than once."
            )));
        }
        out.push(expand_one(table, name, options)?);
    }
    Ok(out)
}

fn expand_one(table: &Table, name: &str, options: &str) -> Result<Expand, ODataError> {
    let (navigation, target) = if let Some(n) = navigation_properties(table)
        .into_iter()
        .find(|n| n.name == name)
    {
        if model::table(n.target.logical).is_none() {
            return Err(ODataError::new(format!(
                "The navigation property '{name}' cannot be expanded: its records are \
                 of several tables; read the lookup's value instead."
            )));
        }
        (Navigation::Lookup(n.column), n.target)
    } else if let Some(o) = one_to_many(table).into_iter().find(|o| o.name == name) {
        (Navigation::Collection(o.column), o.target)
    } else {
        return Err(ODataError::new(format!(
            "Could not find a navigation property named '{name}' on type \
             'Microsoft.Dynamics.CRM.{}'.",
            table.logical
        )));
    };
    let collection = matches!(navigation, Navigation::Collection(_));
    let mut e = Expand {
        name: name.to_string(),
        navigation,
        target,
        select: target.columns.iter().filter(|c| c.readable()).collect(),
        filter: None,
        order: parse_orderby(target, "")?,
        top: None,
    };
    let mut seen: Vec<&str> = Vec::new();
    for option in split_top_level(options, ';')?
        .into_iter()
        .map(str::trim)
        .filter(|o| !o.is_empty())
    {
        let (k, v) = option.split_once('=').unwrap_or((option, ""));
        let k = k.trim();
        if seen.contains(&k) {
            return Err(ODataError::new(format!(
                "Query option '{k}' was specified more than once in the $expand of '{name}'."
            )));
        }
        seen.push(k);
        match k {
            "$select" => e.select = parse_select(target, v)?,
            "$filter" if collection => e.filter = Some(parse_filter(v, target)?),
            "$orderby" if collection => e.order = parse_orderby(target, v)?,
            "$top" if collection => e.top = Some(parse_top(v)?),
            "$filter" | "$orderby" | "$top" => {
                return Err(ODataError::new(format!(
                    "The option '{k}' applies only to collection-valued navigation \
                     properties; '{name}' is single-valued."
                )))
            }
            "$expand" => {
                return Err(ODataError::new(format!(
                    "Nested $expand (in '{name}') is not supported here."
                )))
            }
            _ => {
                return Err(ODataError::new(format!(
                    "The query option '{k}' is not supported in $expand."
                )))
            }
        }
    }
    let key = target.key_column();
    if !e.select.contains(&key) {
        e.select.push(key);
    }
    if let Navigation::Collection(fk) = navigation {
        // The lookup back to the expanded record groups the related ones.
        if !e.select.contains(&fk) {
            e.select.push(fk);
        }
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MAILBOX;

    fn appointment() -> &'static Table {
        model::table("appointment").unwrap()
    }

    #[test]
    fn single_and_collection_valued_navigation_properties() {
        let e = parse_expand(
            &MAILBOX,
            "emailserverprofile($select=name),regardingobjectid",
        )
        .unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].target.logical, "emailserverprofile");
        let names: Vec<&str> = e[0].select.iter().map(|c| c.name).collect();
        assert_eq!(names, ["name", "emailserverprofileid"]);
        assert!(matches!(e[0].navigation, Navigation::Lookup(c) if c.name == "emailserverprofile"));
        assert_eq!(e[1].target.logical, "systemuser");
        let p = parse_expand(
            appointment(),
            "appointment_activity_parties($select=addressused;$filter=participationtypemask eq 5;$orderby=addressused desc;$top=3)",
        )
        .unwrap();
        let p = &p[0];
        assert!(matches!(p.navigation, Navigation::Collection(c) if c.name == "activityid"));
        let names: Vec<&str> = p.select.iter().map(|c| c.name).collect();
        assert_eq!(names, ["addressused", "activitypartyid", "activityid"]);
        assert!(p.filter.is_some());
        assert_eq!(p.top, Some(3));
        assert!(p.order[0].descending);
    }

    #[test]
    fn what_dataverse_refuses_is_refused_in_words() {
        let e = |t: &Table, q: &str| parse_expand(t, q).unwrap_err().message().to_string();
        assert!(e(&MAILBOX, "nope").contains("navigation property named 'nope'"));
        assert!(e(&MAILBOX, "emailserverprofile($top=1)").contains("single-valued"));
        assert!(e(&MAILBOX, "emailserverprofile($expand=ownerid)").contains("Nested $expand"));
        assert!(e(&MAILBOX, "emailserverprofile/$ref").contains("references"));
        assert!(e(&MAILBOX, "emailserverprofile($skip=1)").contains("'$skip' is not supported"));
        assert!(e(&MAILBOX, "emailserverprofile($select=nope)").contains("nope"));
        assert!(e(&MAILBOX, "emailserverprofile(").contains("unbalanced"));
        assert!(e(&MAILBOX, "emailserverprofile,emailserverprofile").contains("more than once"));
        let many = vec!["emailserverprofile"; 16].join(",");
        assert!(e(&MAILBOX, &many).contains("at most 15"));
        // The write-only columns stay out of an expansion too.
        assert!(e(&MAILBOX, "emailserverprofile($select=incomingpassword)").contains("write-only"));
    }
}
