//! The query options of a collection request, and the `Prefer` header.

use super::cursor::decode_skiptoken;
use super::expand::{parse_expand, Expand};
use super::filter::{parse_filter, unknown_property, Filter};
use super::value::Value;
use super::ODataError;
use crate::model::{Column, Table};

/// Dataverse's largest page, and the largest `$top` we serve in one answer.
pub const MAX_TOP: u32 = 5000;
pub const MAX_PAGE_SIZE: u32 = 5000;
/// Keyset paging compares every key; more than this is not a sort anyone needs.
pub const MAX_ORDER_KEYS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderKey {
    pub column: &'static Column,
    pub descending: bool,
}

/// A checked collection query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The columns to return, in order: the `$select` list (or every readable column)
    /// and always the key, as Dataverse returns it.
    pub select: Vec<&'static Column>,
    pub filter: Option<Filter>,
    /// The `$orderby` keys, always ending with the key (ascending unless the caller
    /// sorted by it), so the order is total and keyset paging is stable.
    pub order: Vec<OrderKey>,
    pub top: Option<u32>,
    pub count: bool,
    /// From `$skiptoken`: the previous page's last row, one value per `order` key.
    pub after: Option<Vec<Value>>,
    /// `$expand`: related records to return with each one.
    pub expand: Vec<Expand>,
}

impl Query {
    /// The `$skiptoken` of the page after the row whose `order` values are `last`.
    pub fn next_skiptoken(&self, last: &[Value]) -> String {
        super::cursor::encode_skiptoken(&self.order, last)
    }
}

/// Parses a raw (percent-encoded) query string, as in the URL after `?`.
pub fn parse_query(table: &Table, raw: &str) -> Result<Query, ODataError> {
    let mut pairs = Vec::new();
    for part in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        pairs.push((percent_decode(k)?, percent_decode(v)?));
    }
    parse_query_pairs(table, pairs)
}

/// Parses already-decoded `(name, value)` pairs. Parameters not starting with `$` are
/// ignored; unsupported or repeated system query options are errors.
pub fn parse_query_pairs<K: AsRef<str>, V: AsRef<str>>(
    table: &Table,
    pairs: impl IntoIterator<Item = (K, V)>,
) -> Result<Query, ODataError> {
    const OPTIONS: [&str; 7] = [
        "$filter",
        "$select",
        "$orderby",
        "$top",
        "$count",
        "$skiptoken",
        "$expand",
    ];
    let mut seen: [Option<String>; 7] = Default::default();
    for (k, v) in pairs {
        let k = k.as_ref();
        if !k.starts_with('$') {
            continue;
        }
        let Some(i) = OPTIONS.iter().position(|o| *o == k) else {
            return Err(ODataError::new(format!(
                "The query parameter '{k}' is not supported."
            )));
        };
        if seen[i].is_some() {
            return Err(ODataError::new(format!(
                "Query option '{k}' was specified more than once, but it must be specified at most once."
            )));
        }
        seen[i] = Some(v.as_ref().to_string());
    }
    let [filter, select, orderby, top, count, skiptoken, expand] = seen;
    let key = table.key_column();
    let mut select = match select {
        Some(s) => parse_select(table, &s)?,
        None => table.columns.iter().filter(|c| c.readable()).collect(),
    };
    if !select.contains(&key) {
        select.push(key);
    }
    let order = parse_orderby(table, orderby.as_deref().unwrap_or(""))?;
    let count = match count.as_deref().map(str::trim) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ODataError::new(format!(
                "'{other}' is not a valid count option."
            )))
        }
    };
    Ok(Query {
        select,
        filter: filter.map(|f| parse_filter(&f, table)).transpose()?,
        top: top.map(|t| parse_top(&t)).transpose()?,
        count,
        after: skiptoken
            .map(|t| decode_skiptoken(&t, &order))
            .transpose()?,
        order,
        expand: match expand {
            Some(e) => parse_expand(table, &e)?,
            None => Vec::new(),
        },
    })
}

/// `$select=a,b,_lookup_value`; `*` is every readable column.
pub fn parse_select(table: &Table, text: &str) -> Result<Vec<&'static Column>, ODataError> {
    let mut out: Vec<&'static Column> = Vec::new();
    for item in text.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(ODataError::new(format!(
                "The $select value '{text}' is not valid: an empty property name was found."
            )));
        }
        let cols: Vec<&'static Column> = if item == "*" {
            table.columns.iter().filter(|c| c.readable()).collect()
        } else {
            let c = table
                .property(item)
                .ok_or_else(|| unknown_property(table, item))?;
            if !c.readable() {
                return Err(ODataError::new(format!(
                    "The property '{item}' is write-only and cannot be selected."
                )));
            }
            vec![c]
        };
        for c in cols {
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    Ok(out)
}

/// `$orderby=a desc,b` (empty text: by key). The key ends the list as a tiebreaker.
pub fn parse_orderby(table: &Table, text: &str) -> Result<Vec<OrderKey>, ODataError> {
    let key = table.key_column();
    let mut out: Vec<OrderKey> = Vec::new();
    if !text.trim().is_empty() {
        for item in text.split(',').map(str::trim) {
            let mut words = item.split_whitespace();
            let (Some(name), dir, None) = (words.next(), words.next(), words.next()) else {
                return Err(bad_orderby(item));
            };
            let descending = match dir {
                None | Some("asc") => false,
                Some("desc") => true,
                Some(_) => return Err(bad_orderby(item)),
            };
            let column = table
                .property(name)
                .ok_or_else(|| unknown_property(table, name))?;
            if !column.sortable() {
                return Err(ODataError::new(format!(
                    "The property '{name}' cannot be used in an $orderby query option."
                )));
            }
            if out.iter().any(|k| k.column == column) {
                return Err(ODataError::new(format!(
                    "Duplicate property named '{name}' is not supported in '$orderby'."
                )));
            }
            out.push(OrderKey { column, descending });
            if out.len() > MAX_ORDER_KEYS {
                return Err(ODataError::new(format!(
                    "The $orderby query option has more than {MAX_ORDER_KEYS} properties."
                )));
            }
        }
    }
    // Ordering after a unique key changes nothing; before it, ties are broken by it.
    if let Some(i) = out.iter().position(|k| k.column == key) {
        out.truncate(i + 1);
    } else {
        out.push(OrderKey {
            column: key,
            descending: false,
        });
    }
    Ok(out)
}

fn bad_orderby(item: &str) -> ODataError {
    ODataError::new(format!(
        "The $orderby item '{item}' is not valid: expected a property name, optionally \
         followed by 'asc' or 'desc'."
    ))
}

/// `$top=N`, 1 ..= [`MAX_TOP`].
pub fn parse_top(text: &str) -> Result<u32, ODataError> {
    let text = text.trim();
    let n: u32 = text.parse().map_err(|_| {
        ODataError::new(format!(
            "Invalid value '{text}' for $top query option found. \
             The $top query option requires a non-negative integer value."
        ))
    })?;
    if !(1..=MAX_TOP).contains(&n) {
        return Err(ODataError::new(format!(
            "The $top value {n} is not valid: it must be between 1 and {MAX_TOP}."
        )));
    }
    Ok(n)
}

/// The preferences of a `Prefer` header the API honours; others are ignored, as OData
/// allows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prefer {
    /// `odata.maxpagesize=N`, capped at [`MAX_PAGE_SIZE`].
    pub max_page_size: Option<u32>,
    /// `odata.include-annotations="..."`, unquoted.
    pub include_annotations: Option<String>,
    /// `return=representation`.
    pub return_representation: bool,
}

/// Parses a `Prefer` header value (all of them joined with `,` if repeated).
pub fn parse_prefer(header: &str) -> Result<Prefer, ODataError> {
    let mut out = Prefer::default();
    for pref in split_unquoted(header, ',') {
        // Parameters after `;` are not used by any preference we honour.
        let pref = pref.split(';').next().unwrap_or("").trim();
        let (name, value) = match pref.split_once('=') {
            Some((n, v)) => (n.trim(), v.trim().trim_matches('"')),
            None => (pref, ""),
        };
        if name.eq_ignore_ascii_case("odata.maxpagesize") {
            let n = value
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    ODataError::new(format!(
                        "The Prefer header value '{pref}' is not valid: \
                     odata.maxpagesize must be a positive integer."
                    ))
                })?;
            out.max_page_size = Some(n.min(MAX_PAGE_SIZE));
        } else if name.eq_ignore_ascii_case("odata.include-annotations") {
            out.include_annotations = Some(value.to_string());
        } else if name.eq_ignore_ascii_case("return") {
            out.return_representation = value.eq_ignore_ascii_case("representation");
        }
    }
    Ok(out)
}

/// `text` split at `sep` outside double quotes: `odata.include-annotations="A,B"` is
/// one preference, its value a comma list.
fn split_unquoted(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(&text[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&text[start..]);
    parts
}

/// URL query decoding: `%XX` and `+` for space; the result must be UTF-8.
pub fn percent_decode(text: &str) -> Result<String, ODataError> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        ODataError::new(format!(
                            "The query string '{text}' has an invalid percent-encoding."
                        ))
                    })?;
                out.push(hex);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| {
        ODataError::new(format!(
            "The query string '{text}' is not valid UTF-8 once decoded."
        ))
    })
}
