//! `$apply`: the subset of OData's aggregation extension Dataverse supports.
//!
//! ```text
//! [filter(<$filter expression>)/] groupby((p1,p2,...)[,aggregate(<aggregates>)])
//! [filter(<$filter expression>)/] aggregate(<aggregates>)
//! <aggregates> := <aggregate>, ...   <aggregate> := p with <method> as alias | $count as alias
//! ```
//!
//! Methods: `sum`, `average` (numbers), `min`, `max` (numbers and dates),
//! `countdistinct` (any column). Properties are OData names (`_x_value` for lookups).
//! Grouping through navigation properties (`primarycontactid/fullname`) would need a
//! join and is refused, as is grouping by a date (Dataverse refuses it too).

use super::filter::{parse_filter, unknown_property, Filter};
use super::lex::char_pos;
use super::ODataError;
use crate::model::{Column, Kind, Table};

/// Dataverse aggregates at most this many rows; more is an error (below), not a cut.
pub const AGGREGATE_RECORD_LIMIT: u64 = 50_000;
/// The error code of an aggregate over more than [`AGGREGATE_RECORD_LIMIT`] rows (the
/// Web API writes it in lower case).
pub const AGGREGATE_RECORD_LIMIT_CODE: &str = "0x8004e023";
pub const AGGREGATE_RECORD_LIMIT_MESSAGE: &str =
    "AggregateQueryRecordLimit exceeded. Cannot perform this operation.";

/// A checked `$apply`: rows matching `filter`, grouped by `group_by` (one group for
/// all rows when empty), one result row per group with the group's values of
/// `group_by` and then each aggregate under its alias.
#[derive(Debug, Clone, PartialEq)]
pub struct Apply {
    pub filter: Option<Filter>,
    pub group_by: Vec<&'static Column>,
    pub aggregates: Vec<Aggregate>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregate {
    /// `None` for `$count` (rows in the group).
    pub column: Option<&'static Column>,
    pub method: AggregateMethod,
    pub alias: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateMethod {
    Count,
    Sum,
    Min,
    Max,
    Average,
    CountDistinct,
}

impl AggregateMethod {
    /// The keyword in `$apply` (`$count` for `Count`).
    pub fn keyword(self) -> &'static str {
        match self {
            AggregateMethod::Count => "$count",
            AggregateMethod::Sum => "sum",
            AggregateMethod::Min => "min",
            AggregateMethod::Max => "max",
            AggregateMethod::Average => "average",
            AggregateMethod::CountDistinct => "countdistinct",
        }
    }
}

/// Parses an (already percent-decoded) `$apply` value against `table`.
pub fn parse_apply(table: &'static Table, raw: &str) -> Result<Apply, ODataError> {
    let mut p = Cursor { text: raw, i: 0 };
    p.ws();
    if p.done() {
        return Err(ODataError::new("The $apply query option is empty."));
    }
    let mut filter = None;
    let mut word = p.word();
    if word == "filter" {
        p.expect("(")?;
        let inner = p.balanced()?;
        filter = Some(parse_filter(inner, table)?);
        if !p.eat("/") {
            p.ws();
            if p.done() {
                // OData allows a lone filter(); Dataverse answers it like $filter, which
                // is the option to use.
                return Err(ODataError::new(
                    "A filter transformation must be followed by '/groupby(...)' or \
                     '/aggregate(...)'; use $filter to filter rows.",
                ));
            }
            return Err(p.error("'/'"));
        }
        word = p.word();
    }
    let mut apply = Apply {
        filter,
        group_by: Vec::new(),
        aggregates: Vec::new(),
    };
    match word {
        "groupby" => {
            p.expect("(")?;
            p.expect("(")?;
            let props = p.until_close()?;
            for name in props.split(',').map(str::trim) {
                let column = group_column(table, name)?;
                if apply.group_by.contains(&column) {
                    return Err(ODataError::new(format!(
                        "The property '{name}' appears more than once in groupby."
                    )));
                }
                apply.group_by.push(column);
            }
            if p.eat(",") {
                if p.word() != "aggregate" {
                    return Err(p.error("'aggregate('"));
                }
                p.expect("(")?;
                apply.aggregates = aggregates(table, p.until_close()?)?;
            }
            p.expect(")")?;
        }
        "aggregate" => {
            p.expect("(")?;
            apply.aggregates = aggregates(table, p.until_close()?)?;
        }
        "filter" => {
            return Err(ODataError::new(
                "Only one filter transformation is supported, before groupby or aggregate.",
            ))
        }
        "" => return Err(p.error("a transformation (groupby, aggregate or filter)")),
        other => {
            return Err(ODataError::new(format!(
                "The transformation '{other}' is not supported. Dataverse supports filter, \
                 groupby and aggregate."
            )))
        }
    }
    p.ws();
    if p.eat("/") {
        return Err(ODataError::new(
            "Only one groupby or aggregate transformation is supported, optionally after \
             one filter.",
        ));
    }
    if !p.done() {
        return Err(p.error("end of the $apply value"));
    }
    check_aliases(table, &apply)?;
    Ok(apply)
}

/// A readable column by OData property name.
fn readable(table: &Table, name: &str, what: &str) -> Result<&'static Column, ODataError> {
    let column = table
        .property(name)
        .ok_or_else(|| unknown_property(table, name))?;
    if !column.readable() {
        return Err(ODataError::new(format!(
            "The property '{name}' is write-only and cannot be {what}."
        )));
    }
    Ok(column)
}

fn group_column(table: &Table, name: &str) -> Result<&'static Column, ODataError> {
    if name.is_empty() {
        return Err(ODataError::new(
            "The groupby transformation needs one or more property names.",
        ));
    }
    if name.contains('/') {
        return Err(ODataError::new(format!(
            "Grouping by the navigation path '{name}' is not supported by this server; group \
             by the lookup's id (_<name>_value) instead."
        )));
    }
    let column = readable(table, name, "grouped")?;
    if column.kind == Kind::DateTime {
        return Err(ODataError::new(format!(
            "Grouping by '{name}' is not supported: groupby with datetime values is not \
             supported."
        )));
    }
    Ok(column)
}

/// The comma-separated aggregates inside `aggregate(...)`.
fn aggregates(table: &Table, text: &str) -> Result<Vec<Aggregate>, ODataError> {
    text.split(',').map(|item| aggregate(table, item)).collect()
}

fn aggregate(table: &Table, item: &str) -> Result<Aggregate, ODataError> {
    let words: Vec<&str> = item.split_whitespace().collect();
    let (column, method, alias) = match words[..] {
        ["$count", "as", alias] => (None, AggregateMethod::Count, alias),
        [prop, "with", method, "as", alias] => {
            let method = match method {
                "sum" => AggregateMethod::Sum,
                "min" => AggregateMethod::Min,
                "max" => AggregateMethod::Max,
                "average" => AggregateMethod::Average,
                "countdistinct" => AggregateMethod::CountDistinct,
                other => {
                    return Err(ODataError::new(format!(
                        "The aggregation method '{other}' is not supported; use sum, min, \
                         max, average or countdistinct (or $count as <alias>)."
                    )))
                }
            };
            let column = readable(table, prop, "aggregated")?;
            let numeric = matches!(column.kind, Kind::Int | Kind::Decimal);
            let fits = match method {
                AggregateMethod::Sum | AggregateMethod::Average => numeric,
                AggregateMethod::Min | AggregateMethod::Max => {
                    numeric || column.kind == Kind::DateTime
                }
                _ => true,
            };
            if !fits {
                let needs = match method {
                    AggregateMethod::Sum | AggregateMethod::Average => "a number",
                    _ => "a number or a date",
                };
                return Err(ODataError::new(format!(
                    "The aggregation method '{}' needs {needs}; the property '{prop}' is {}.",
                    method.keyword(),
                    kind_label(column.kind)
                )));
            }
            (Some(column), method, alias)
        }
        _ => {
            return Err(ODataError::new(format!(
                "The aggregate expression '{}' is not valid: expected '<property> with \
                 <method> as <alias>' or '$count as <alias>'.",
                item.trim()
            )))
        }
    };
    Ok(Aggregate {
        column,
        method,
        alias: alias.to_string(),
    })
}

/// How a kind reads in a message ("a choice", not "Edm.Int32", for option sets).
fn kind_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Guid | Kind::Lookup(_) => "an id (Edm.Guid)",
        Kind::Text => "text (Edm.String)",
        Kind::Int | Kind::Decimal => "a number",
        Kind::Choice => "a choice (option set)",
        Kind::Bool => "a boolean (Edm.Boolean)",
        Kind::DateTime => "a date (Edm.DateTimeOffset)",
    }
}

/// Aliases name properties of the result rows, beside the group keys: each must be an
/// identifier, used once, and not a property of the table.
fn check_aliases(table: &Table, apply: &Apply) -> Result<(), ODataError> {
    for (i, a) in apply.aggregates.iter().enumerate() {
        let alias = a.alias.as_str();
        let mut chars = alias.chars();
        let identifier = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !identifier {
            return Err(ODataError::new(format!(
                "The alias '{alias}' is not valid: it must start with a letter or '_' and \
                 contain only letters, digits and '_'."
            )));
        }
        if apply.aggregates[..i].iter().any(|b| b.alias == alias) {
            return Err(ODataError::new(format!(
                "The alias '{alias}' is used more than once."
            )));
        }
        if table.property(alias).is_some() || table.column(alias).is_some() {
            return Err(ODataError::new(format!(
                "The alias '{alias}' is not valid: '{}' has a property of that name.",
                table.type_name()
            )));
        }
    }
    Ok(())
}

/// A position in the `$apply` text.
struct Cursor<'a> {
    text: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    fn ws(&mut self) {
        let rest = &self.text[self.i..];
        self.i += rest.len() - rest.trim_start().len();
    }

    fn done(&self) -> bool {
        self.i >= self.text.len()
    }

    /// Skips spaces, then `lit` if it is next.
    fn eat(&mut self, lit: &str) -> bool {
        self.ws();
        if self.text[self.i..].starts_with(lit) {
            self.i += lit.len();
            return true;
        }
        false
    }

    fn expect(&mut self, lit: &str) -> Result<(), ODataError> {
        if self.eat(lit) {
            return Ok(());
        }
        Err(self.error(&format!("'{lit}'")))
    }

    /// The next word (letters, digits, `_`, `$`), possibly empty.
    fn word(&mut self) -> &'a str {
        self.ws();
        let text: &'a str = self.text;
        let rest = &text[self.i..];
        let n = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$'))
            .count();
        self.i += n;
        &rest[..n]
    }

    /// The text up to the next `)`, which is consumed. Group and aggregate lists hold
    /// no parentheses or strings.
    fn until_close(&mut self) -> Result<&'a str, ODataError> {
        let text: &'a str = self.text;
        let rest = &text[self.i..];
        let end = rest.find(')').ok_or_else(|| {
            self.i = self.text.len();
            self.error("')'")
        })?;
        self.i += end + 1;
        Ok(&rest[..end])
    }

    /// The text up to the `)` closing an already consumed `(`, which is consumed;
    /// parentheses inside `'...'` strings don't count (`''` is a quote inside one).
    fn balanced(&mut self) -> Result<&'a str, ODataError> {
        let text: &'a str = self.text;
        let rest = &text[self.i..];
        let (mut depth, mut quoted) = (0usize, false);
        for (k, b) in rest.bytes().enumerate() {
            match b {
                b'\'' => quoted = !quoted,
                b'(' if !quoted => depth += 1,
                b')' if !quoted && depth == 0 => {
                    self.i += k + 1;
                    return Ok(&rest[..k]);
                }
                b')' if !quoted => depth -= 1,
                _ => {}
            }
        }
        self.i = self.text.len();
        Err(self.error("')'"))
    }

    fn error(&self, expected: &str) -> ODataError {
        ODataError::new(format!(
            "Syntax error at position {} in '{}': {expected} expected.",
            char_pos(self.text, self.i),
            self.text
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MAILBOX, SYNCSTATISTIC, TRACELOG};
    use crate::odata::{CmpOp, TextFn, Value};

    fn ok(table: &'static Table, raw: &str) -> Apply {
        parse_apply(table, raw).unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    fn err(raw: &str) -> String {
        parse_apply(&MAILBOX, raw).unwrap_err().to_string()
    }

    fn col(name: &str) -> &'static Column {
        MAILBOX.column(name).unwrap()
    }

    fn agg(column: Option<&str>, method: AggregateMethod, alias: &str) -> Aggregate {
        Aggregate {
            column: column.map(col),
            method,
            alias: alias.into(),
        }
    }

    #[test]
    fn groupby() {
        let a = ok(&MAILBOX, "groupby((statecode,_emailserverprofile_value))");
        assert_eq!(a.group_by, [col("statecode"), col("emailserverprofile")]);
        assert!(a.aggregates.is_empty() && a.filter.is_none());
        // Spaces anywhere between tokens.
        let a = ok(
            &MAILBOX,
            " groupby( ( statecode , statuscode ) , aggregate( $count as count ) ) ",
        );
        assert_eq!(a.group_by, [col("statecode"), col("statuscode")]);
        assert_eq!(a.aggregates, [agg(None, AggregateMethod::Count, "count")]);
    }

    #[test]
    fn groupby_with_aggregates() {
        let a = ok(
            &MAILBOX,
            "groupby((_emailserverprofile_value),aggregate(noemailcount with sum as total,\
             $count as count,lastsyncerrorcount with average as avg,\
             lastsyncstartedon with max as last,noactcount with min as least,\
             _ownerid_value with countdistinct as owners))",
        );
        assert_eq!(a.group_by, [col("emailserverprofile")]);
        assert_eq!(
            a.aggregates,
            [
                agg(Some("noemailcount"), AggregateMethod::Sum, "total"),
                agg(None, AggregateMethod::Count, "count"),
                agg(Some("lastsyncerrorcount"), AggregateMethod::Average, "avg"),
                agg(Some("lastsyncstartedon"), AggregateMethod::Max, "last"),
                agg(Some("noactcount"), AggregateMethod::Min, "least"),
                agg(Some("ownerid"), AggregateMethod::CountDistinct, "owners"),
            ]
        );
    }

    #[test]
    fn aggregate_alone() {
        let a = ok(
            &SYNCSTATISTIC,
            "aggregate(mailsync_items with sum as items, mailsync_hour with min as first)",
        );
        assert!(a.group_by.is_empty());
        assert_eq!(a.aggregates.len(), 2);
        assert_eq!(a.aggregates[1].method, AggregateMethod::Min);
        assert_eq!(
            a.aggregates[0].column,
            SYNCSTATISTIC.column("mailsync_items")
        );
        let a = ok(&TRACELOG, "aggregate($count as n)");
        assert_eq!(
            a.aggregates,
            [Aggregate {
                column: None,
                method: AggregateMethod::Count,
                alias: "n".into()
            }]
        );
        // Any readable column may be counted distinctly, text too.
        ok(&TRACELOG, "aggregate(text with countdistinct as texts)");
    }

    #[test]
    fn filter_first() {
        let a = ok(
            &MAILBOX,
            "filter(statecode eq 0 and (contains(name,'a)b') or name eq 'it''s (x)'))/groupby((statuscode))",
        );
        assert_eq!(a.group_by, [col("statuscode")]);
        let want = parse_filter(
            "statecode eq 0 and (contains(name,'a)b') or name eq 'it''s (x)')",
            &MAILBOX,
        )
        .unwrap();
        assert_eq!(a.filter, Some(want));
        let a = ok(
            &MAILBOX,
            "filter(startswith(name,'S')) / aggregate($count as n)",
        );
        assert_eq!(
            a.filter,
            Some(Filter::Text {
                func: TextFn::StartsWith,
                column: col("name"),
                needle: "S".into()
            })
        );
        let a = ok(&MAILBOX, "filter(noemailcount gt 1)/aggregate($count as n)");
        assert_eq!(
            a.filter,
            Some(Filter::Compare {
                column: col("noemailcount"),
                op: CmpOp::Gt,
                value: Value::Int(1)
            })
        );
        // The filter's own errors, as $filter reports them.
        assert_eq!(
            err("filter(foo eq 1)/groupby((statecode))"),
            "Could not find a property named 'foo' on type 'Microsoft.Dynamics.CRM.mailbox'."
        );
        assert_eq!(
            err("filter(statecode eq 0)"),
            "A filter transformation must be followed by '/groupby(...)' or '/aggregate(...)'; \
             use $filter to filter rows."
        );
        assert!(err("filter(statecode eq 0").starts_with("Syntax error at position"));
        assert!(err("filter(name eq 'x)/groupby((statecode))").starts_with("Syntax error"));
        assert_eq!(
            err("filter(statecode eq 0)/filter(statecode eq 1)/groupby((statecode))"),
            "Only one filter transformation is supported, before groupby or aggregate."
        );
    }

    #[test]
    fn property_errors() {
        assert_eq!(
            err("groupby((foo))"),
            "Could not find a property named 'foo' on type 'Microsoft.Dynamics.CRM.mailbox'."
        );
        assert_eq!(
            err("groupby((emailserverprofile))"),
            "Could not find a property named 'emailserverprofile' on type \
             'Microsoft.Dynamics.CRM.mailbox'. Use '_emailserverprofile_value' for the lookup's id."
        );
        assert_eq!(
            err("groupby((password))"),
            "The property 'password' is write-only and cannot be grouped."
        );
        assert_eq!(
            err("aggregate(password with countdistinct as n)"),
            "The property 'password' is write-only and cannot be aggregated."
        );
        assert!(err("groupby((emailserverprofile/name))").starts_with(
            "Grouping by the navigation path 'emailserverprofile/name' is not supported"
        ));
        assert_eq!(
            err("groupby((createdon))"),
            "Grouping by 'createdon' is not supported: groupby with datetime values is not \
             supported."
        );
        assert_eq!(
            err("groupby((statecode,statecode))"),
            "The property 'statecode' appears more than once in groupby."
        );
        assert_eq!(
            err("groupby(())"),
            "The groupby transformation needs one or more property names."
        );
        assert_eq!(
            err("groupby((statecode,))"),
            "The groupby transformation needs one or more property names."
        );
    }

    #[test]
    fn method_and_type_errors() {
        for (raw, msg) in [
            (
                "aggregate(name with sum as s)",
                "The aggregation method 'sum' needs a number; the property 'name' is text (Edm.String).",
            ),
            (
                "aggregate(statecode with average as s)",
                "The aggregation method 'average' needs a number; the property 'statecode' is a choice (option set).",
            ),
            (
                "aggregate(lastsyncstartedon with sum as s)",
                "The aggregation method 'sum' needs a number; the property 'lastsyncstartedon' is a date (Edm.DateTimeOffset).",
            ),
            (
                "aggregate(enabledforact with max as s)",
                "The aggregation method 'max' needs a number or a date; the property 'enabledforact' is a boolean (Edm.Boolean).",
            ),
            (
                "aggregate(_ownerid_value with min as s)",
                "The aggregation method 'min' needs a number or a date; the property '_ownerid_value' is an id (Edm.Guid).",
            ),
            (
                "aggregate(noemailcount with median as s)",
                "The aggregation method 'median' is not supported; use sum, min, max, average or countdistinct (or $count as <alias>).",
            ),
        ] {
            assert_eq!(err(raw), msg, "{raw}");
        }
        for bad in [
            "aggregate()",
            "aggregate(noemailcount with sum)",
            "aggregate(noemailcount sum as s)",
            "aggregate($count)",
            "aggregate(noemailcount with sum as s extra)",
            "aggregate(noemailcount with sum as s,)",
        ] {
            assert!(
                err(bad).starts_with("The aggregate expression '"),
                "{bad}: {}",
                err(bad)
            );
        }
    }

    #[test]
    fn alias_errors() {
        assert_eq!(
            err("aggregate($count as n,noemailcount with sum as n)"),
            "The alias 'n' is used more than once."
        );
        for bad in ["1st", "a-b", "$n", "n.m"] {
            assert!(
                err(&format!("aggregate($count as {bad})"))
                    .starts_with(&format!("The alias '{bad}' is not valid: it must start")),
                "{bad}"
            );
        }
        assert_eq!(
            err("groupby((statecode),aggregate($count as statecode))"),
            "The alias 'statecode' is not valid: 'Microsoft.Dynamics.CRM.mailbox' has a \
             property of that name."
        );
        // A lookup's logical name would clash with its formatted-value annotations.
        assert!(err("aggregate($count as ownerid)").contains("has a property of that name"));
        ok(
            &MAILBOX,
            "aggregate($count as _count, noemailcount with sum as Total2)",
        );
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(err(""), "The $apply query option is empty.");
        assert_eq!(err("  "), "The $apply query option is empty.");
        for (raw, msg) in [
            (
                "compute(noemailcount add 1 as x)",
                "The transformation 'compute' is not supported. Dataverse supports filter, groupby and aggregate.",
            ),
            (
                "topcount(5,noemailcount)",
                "The transformation 'topcount' is not supported. Dataverse supports filter, groupby and aggregate.",
            ),
            (
                "groupby((statecode))/aggregate($count as n)",
                "Only one groupby or aggregate transformation is supported, optionally after one filter.",
            ),
            (
                "(statecode)",
                "Syntax error at position 0 in '(statecode)': a transformation (groupby, aggregate or filter) expected.",
            ),
            (
                "groupby(statecode)",
                "Syntax error at position 8 in 'groupby(statecode)': '(' expected.",
            ),
            (
                "groupby((statecode)",
                "Syntax error at position 19 in 'groupby((statecode)': ')' expected.",
            ),
            (
                "groupby((statecode),count())",
                "Syntax error at position 25 in 'groupby((statecode),count())': 'aggregate(' expected.",
            ),
            (
                "groupby((statecode)) x",
                "Syntax error at position 21 in 'groupby((statecode)) x': end of the $apply value expected.",
            ),
            (
                "aggregate($count as n",
                "Syntax error at position 21 in 'aggregate($count as n': ')' expected.",
            ),
            (
                "filter(statecode eq 0)x",
                "Syntax error at position 22 in 'filter(statecode eq 0)x': '/' expected.",
            ),
        ] {
            assert_eq!(err(raw), msg, "{raw}");
        }
    }

    #[test]
    fn limit_constants() {
        assert_eq!(AGGREGATE_RECORD_LIMIT, 50_000);
        assert_eq!(AGGREGATE_RECORD_LIMIT_CODE, "0x8004e023");
        assert_eq!(
            AGGREGATE_RECORD_LIMIT_MESSAGE,
            "AggregateQueryRecordLimit exceeded. Cannot perform this operation."
        );
        assert_eq!(AggregateMethod::CountDistinct.keyword(), "countdistinct");
        assert_eq!(AggregateMethod::Count.keyword(), "$count");
    }
}
