//! A checked OData [`Query`] as SQLite SQL: the `WHERE`/`ORDER BY`/`LIMIT` tail of a
//! `SELECT`, with every literal bound as a parameter (`?1`, `?2`...) and every column
//! name taken from the model's `Table` (never from the request), quoted.
//!
//! Store conventions this relies on (the schema keeps them): the SQL column is the
//! logical name (a lookup's column holds the referenced id); GUIDs are lowercase text;
//! booleans 0/1; dates RFC 3339 UTC text with whole seconds, so text order is time
//! order. Text comparisons and sorts are `COLLATE NOCASE`, as Dataverse's are
//! case-insensitive; declare (or index) text columns `COLLATE NOCASE` so indexes apply.
//!
//! Null semantics follow SQL, as Dataverse's do: `x ne 'a'` does not match a null `x`,
//! `x eq null` / `x ne null` test for null. `not f` matches exactly the rows `f` does
//! not match (a null inside `f` counts as "does not match").
//!
//! Paging is keyset paging: `Query::order` ends with the key, so the order is total,
//! and the `$skiptoken` holds the last row's order values; the next page is the rows
//! after that tuple, expanded into `(k1 > v1) OR (k1 = v1 AND k2 > v2) ...` because the
//! directions may differ and order values may be null (SQLite sorts nulls first
//! ascending, last descending).

use mailsync_core::model::{Column, Kind};
use mailsync_core::odata::{Apply, CmpOp, Filter, Guid, OrderKey, Query, TextFn, Value};
use mailsync_core::Timestamp;

#[derive(Debug, Clone, PartialEq)]
pub enum SqlParam {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl rusqlite::ToSql for SqlParam {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            SqlParam::Null => ValueRef::Null,
            SqlParam::Int(i) => ValueRef::Integer(*i),
            SqlParam::Real(f) => ValueRef::Real(*f),
            SqlParam::Text(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

/// A literal as the store keeps it.
pub fn to_param(value: &Value) -> SqlParam {
    match value {
        Value::Null => SqlParam::Null,
        Value::Bool(b) => SqlParam::Int(i64::from(*b)),
        Value::Int(i) => SqlParam::Int(*i),
        Value::Decimal(f) => SqlParam::Real(*f),
        Value::Text(s) => SqlParam::Text(s.clone()),
        Value::Guid(g) => SqlParam::Text(g.to_string()),
        Value::DateTime(t) => SqlParam::Text(t.to_rfc3339()),
    }
}

/// A stored value back as a typed value, for cursors; `None` if it is not of `kind`.
pub fn from_sql(kind: Kind, param: &SqlParam) -> Option<Value> {
    Some(match (kind, param) {
        (_, SqlParam::Null) => Value::Null,
        (Kind::Guid | Kind::Lookup(_), SqlParam::Text(s)) => Value::Guid(Guid::parse(s)?),
        (Kind::Text, SqlParam::Text(s)) => Value::Text(s.clone()),
        (Kind::Int | Kind::Choice, SqlParam::Int(i)) => Value::Int(*i),
        (Kind::Decimal, SqlParam::Int(i)) => Value::Decimal(*i as f64),
        (Kind::Decimal, SqlParam::Real(f)) => Value::Decimal(*f),
        (Kind::Bool, SqlParam::Int(i)) => Value::Bool(*i != 0),
        (Kind::DateTime, SqlParam::Text(s)) => Value::DateTime(Timestamp::parse(s).map(|p| p.at)?),
        _ => return None,
    })
}

pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The columns to fetch: the query's `select` and then any order column it lacks (the
/// next page's cursor needs the last row's order values).
pub fn fetch_columns(q: &Query) -> Vec<&'static Column> {
    let mut cols = q.select.clone();
    for k in &q.order {
        if !cols.contains(&k.column) {
            cols.push(k.column);
        }
    }
    cols
}

/// `fetch_columns` as a `SELECT` list.
pub fn select_list(q: &Query) -> String {
    let cols: Vec<String> = fetch_columns(q).iter().map(|c| quote(c.name)).collect();
    cols.join(", ")
}

/// The tail of a page's `SELECT`: ` WHERE ... ORDER BY ... LIMIT ?n` (leading space).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub sql: String,
    pub params: Vec<SqlParam>,
    /// `Some(n)`: the statement fetches `n + 1` rows; when it gets more than `n`, drop
    /// the extra one and answer an `@odata.nextLink` whose `$skiptoken` is
    /// [`skiptoken_after`] the `n`th row. `None` (with `$top`): no further pages.
    pub page_size: Option<u32>,
}

/// `$top` wins over `odata.maxpagesize`, as in Dataverse: a `$top` query is one page.
pub fn page(q: &Query, max_page_size: u32) -> Page {
    let mut b = Builder::default();
    let mut conds = Vec::new();
    if let Some(f) = &q.filter {
        conds.push(b.filter(f));
    }
    if let Some(after) = &q.after {
        conds.push(b.after(&q.order, after));
    }
    let mut sql = where_clause(&conds);
    let order: Vec<String> = q
        .order
        .iter()
        .map(|k| {
            let dir = if k.descending { "DESC" } else { "ASC" };
            format!("{}{} {dir}", quote(k.column.name), collate(k.column))
        })
        .collect();
    sql.push_str(" ORDER BY ");
    sql.push_str(&order.join(", "));
    let (limit, page_size) = match q.top {
        Some(top) => (i64::from(top), None),
        None => {
            let n = max_page_size.max(1);
            (i64::from(n) + 1, Some(n))
        }
    };
    let limit = b.bind(SqlParam::Int(limit));
    sql.push_str(" LIMIT ");
    sql.push_str(&limit);
    Page {
        sql,
        params: b.params,
        page_size,
    }
}

/// A `$apply` as SQL over `from`: `SELECT <group keys>, <aggregates> FROM from WHERE ...
/// GROUP BY ...` (group keys first, then each aggregate under its alias, in order), and
/// a `SELECT 1` of the rows it aggregates over (to count them: Dataverse refuses more
/// than 50,000).
pub fn aggregate(apply: &Apply, from: &str) -> (String, String, Vec<SqlParam>) {
    use mailsync_core::odata::AggregateMethod as M;
    let mut b = Builder::default();
    let cond = apply.filter.as_ref().map(|f| b.filter(f));
    let tail = where_clause(&cond.into_iter().collect::<Vec<_>>());
    let mut list: Vec<String> = apply.group_by.iter().map(|c| quote(c.name)).collect();
    for a in &apply.aggregates {
        let col = a.column.map(|c| quote(c.name)).unwrap_or_default();
        list.push(match a.method {
            M::Count => "count(*)".to_string(),
            M::Sum => format!("total({col})"),
            M::Min => format!("min({col})"),
            M::Max => format!("max({col})"),
            M::Average => format!("avg({col})"),
            M::CountDistinct => format!("count(DISTINCT {col})"),
        });
    }
    let mut sql = format!("SELECT {} FROM {from}{tail}", list.join(", "));
    if !apply.group_by.is_empty() {
        let keys: Vec<String> = apply.group_by.iter().map(|c| quote(c.name)).collect();
        sql.push_str(&format!(" GROUP BY {}", keys.join(", ")));
        sql.push_str(&format!(" ORDER BY {}", keys.join(", ")));
    }
    (sql, format!("SELECT 1 FROM {from}{tail}"), b.params)
}

/// The tail of the `SELECT COUNT(*)` for `@odata.count`: the filter only (a count is of
/// every matching row, not of the rows after the cursor).
pub fn count(q: &Query) -> (String, Vec<SqlParam>) {
    let mut b = Builder::default();
    let conds: Vec<String> = q.filter.iter().map(|f| b.filter(f)).collect();
    (where_clause(&conds), b.params)
}

/// The `$skiptoken` for the rows after this one; `value_of` gives a fetched column's
/// stored value. `None` if a value does not fit its column (the store is inconsistent).
pub fn skiptoken_after(q: &Query, value_of: impl Fn(&Column) -> SqlParam) -> Option<String> {
    let values = q
        .order
        .iter()
        .map(|k| from_sql(k.column.kind, &value_of(k.column)))
        .collect::<Option<Vec<Value>>>()?;
    Some(q.next_skiptoken(&values))
}

fn where_clause(conds: &[String]) -> String {
    if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    }
}

/// Dataverse compares and sorts text case-insensitively.
fn collate(c: &Column) -> &'static str {
    if c.kind == Kind::Text {
        " COLLATE NOCASE"
    } else {
        ""
    }
}

#[derive(Default)]
struct Builder {
    params: Vec<SqlParam>,
}

impl Builder {
    fn bind(&mut self, p: SqlParam) -> String {
        self.params.push(p);
        format!("?{}", self.params.len())
    }

    /// Always parenthesized, so callers can combine the result freely. The recursion is
    /// as deep as the filter's nesting, which the parser bounds.
    fn filter(&mut self, f: &Filter) -> String {
        match f {
            Filter::And(terms) => self.join(terms, " AND "),
            Filter::Or(terms) => self.join(terms, " OR "),
            // IFNULL: an unknown inner result is "not matched", so `not` matches it.
            Filter::Not(inner) => format!("(NOT IFNULL({}, 0))", self.filter(inner)),
            Filter::Compare { column, op, value } => {
                let col = quote(column.name);
                match (op, value) {
                    (CmpOp::Eq, Value::Null) => format!("({col} IS NULL)"),
                    (_, Value::Null) => format!("({col} IS NOT NULL)"),
                    (op, v) => {
                        let p = self.bind(to_param(v));
                        let sym = match op {
                            CmpOp::Eq => "=",
                            CmpOp::Ne => "<>",
                            CmpOp::Gt => ">",
                            CmpOp::Ge => ">=",
                            CmpOp::Lt => "<",
                            CmpOp::Le => "<=",
                        };
                        format!("({col} {sym} {p}{})", collate(column))
                    }
                }
            }
            Filter::Text {
                func,
                column,
                needle,
            } => {
                let esc = like_escape(needle);
                let pattern = match func {
                    TextFn::Contains => format!("%{esc}%"),
                    TextFn::StartsWith => format!("{esc}%"),
                    TextFn::EndsWith => format!("%{esc}"),
                };
                let p = self.bind(SqlParam::Text(pattern));
                format!("({} LIKE {p} ESCAPE '\\')", quote(column.name))
            }
        }
    }

    fn join(&mut self, terms: &[Filter], op: &str) -> String {
        if terms.is_empty() {
            // The literals `true` (empty AND) and `false` (empty OR).
            return if op == " AND " { "(1)" } else { "(0)" }.into();
        }
        let parts: Vec<String> = terms.iter().map(|t| self.filter(t)).collect();
        balanced(&parts, op)
    }

    /// Rows strictly after `last` in `order`; each value is bound once and reused.
    fn after(&mut self, order: &[OrderKey], last: &[Value]) -> String {
        let bound: Vec<Option<String>> = last
            .iter()
            .map(|v| (*v != Value::Null).then(|| self.bind(to_param(v))))
            .collect();
        let mut disjuncts = Vec::new();
        for (i, key) in order.iter().enumerate() {
            let col = quote(key.column.name);
            let coll = collate(key.column);
            let beyond = match (&bound[i], key.descending) {
                (None, false) => format!("{col} IS NOT NULL"),
                (None, true) => continue, // nulls sort last: nothing is beyond a null
                (Some(p), false) => format!("{col} > {p}{coll}"),
                (Some(p), true) => format!("({col} < {p}{coll} OR {col} IS NULL)"),
            };
            let mut conj: Vec<String> = order[..i]
                .iter()
                .zip(&bound)
                .map(|(k, p)| match p {
                    None => format!("{} IS NULL", quote(k.column.name)),
                    Some(p) => format!("{} = {p}{}", quote(k.column.name), collate(k.column)),
                })
                .collect();
            conj.push(beyond);
            disjuncts.push(format!("({})", conj.join(" AND ")));
        }
        if disjuncts.is_empty() {
            return "(0)".into();
        }
        format!("({})", disjuncts.join(" OR "))
    }
}

/// SQLite parses `a OR b OR c ...` into a left-deep tree and refuses trees deeper than
/// 1000; long lists are therefore split in halves, which keeps the depth logarithmic.
fn balanced(parts: &[String], op: &str) -> String {
    if parts.len() <= 16 {
        return format!("({})", parts.join(op));
    }
    let (a, b) = parts.split_at(parts.len() / 2);
    format!("({}{op}{})", balanced(a, op), balanced(b, op))
}

/// `%`, `_` and the escape character itself, for `LIKE ... ESCAPE '\'`.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
