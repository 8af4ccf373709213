//! FetchXML (`GET <entityset>?fetchXml=...`), parsed into the same checked [`Query`] the
//! OData options give, so the server runs both through one SQL generator.
//!
//! Supported: one `<entity>` (no `link-entity`), `attribute`/`all-attributes`, `order`,
//! nested `filter`s of `condition`s (operators: see [`parse_fetch`]), `top`, simple paging
//! (`count`/`page`) and the paging cookies this server issues ([`paging_cookie`]).
//! Aggregates are refused: `$apply` ([`super::parse_apply`]) does them.
//!
//! The document is first read into a small tree, bounded by [`MAX_FETCH_LEN`] and
//! [`MAX_FETCH_DEPTH`], so the interpretation may recurse without worrying about hostile
//! input. Document type declarations are refused: no entity expansion, ever.

use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use super::cursor::decode_skiptoken;
use super::filter::{CmpOp, Filter, TextFn};
use super::query::{parse_orderby, Query, MAX_ORDER_KEYS, MAX_PAGE_SIZE, MAX_TOP};
use super::value::{Guid, Value};
use super::ODataError;
use crate::model::{Access, Column, Kind, Table};
use crate::time::Timestamp;

/// Far larger than any hand-written or generated fetch; refused before parsing.
pub const MAX_FETCH_LEN: usize = 64 * 1024;
/// Element nesting (`fetch` is 1). Bounds the recursion over nested `filter`s.
pub const MAX_FETCH_DEPTH: usize = 32;
/// `condition` elements in one fetch.
pub const MAX_CONDITIONS: usize = 500;
/// Dataverse's simple paging (`page` without a paging cookie) stops at this many rows.
pub const MAX_SIMPLE_PAGING_ROWS: u32 = 50_000;

/// A checked FetchXML query. The server reads it as: with `query.top`, one page of at
/// most `top` rows; otherwise pages of `page_size` (default [`MAX_PAGE_SIZE`]) rows,
/// starting after `query.after` when a paging cookie gave it, else after `skip` rows.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchQuery {
    /// From `<entity name>` (a logical name).
    pub table: &'static Table,
    /// Select (always with the key), filter, order (ending with the key), `top`,
    /// `count` (= `returntotalrecordcount`) and `after` (from a paging cookie).
    pub query: Query,
    /// 1-based.
    pub page: u32,
    /// The `count` attribute.
    pub page_size: Option<u32>,
    /// Rows before the page when paging by number: `(page - 1) * page size`; 0 when a
    /// paging cookie gives `query.after`.
    pub skip: u32,
    pub total_record_count: bool,
}

/// Parses a (URL-decoded) fetch. `me` is the calling user, for `eq-userid`/`ne-userid`.
///
/// Condition operators: `eq`, `ne`/`neq`, `gt`, `ge`, `lt`, `le`, `like`, `not-like`
/// (only `%` at either end: contains, begins, ends, or equals), `begins-with`,
/// `not-begin-with`, `ends-with`, `not-end-with`, `in`, `not-in`, `null`, `not-null`,
/// `between`, `not-between`, `on`, `on-or-after`, `on-or-before` (UTC days),
/// `eq-userid`, `ne-userid`. Dataverse's other operators are refused by name.
pub fn parse_fetch(xml: &str, me: Option<Guid>) -> Result<FetchQuery, ODataError> {
    if xml.len() > MAX_FETCH_LEN {
        return Err(ODataError::new(format!(
            "The fetchXml value is too long: {} bytes, more than {MAX_FETCH_LEN}.",
            xml.len()
        )));
    }
    let fetch = read_tree(xml)?;
    if fetch.name != "fetch" {
        return Err(ODataError::new(format!(
            "The root element of a fetchXml value must be 'fetch', not '{}'.",
            fetch.name
        )));
    }
    // Checked before the attribute list, so an aggregate fetch learns what to use.
    if fetch.boolean("aggregate")? == Some(true) || fetch.attr("aggregatelimit").is_some() {
        return Err(aggregate_refused());
    }
    fetch.expect(
        &[
            "top",
            "count",
            "page",
            "paging-cookie",
            "returntotalrecordcount",
            "distinct",
            "no-lock",
            "mapping",
            "version",
            "output-format",
            "aggregate",
            // Query hints: they change how Dataverse runs a query, never its result.
            "latematerialize",
            "options",
        ],
        false,
    )?;
    if let Some(m) = fetch.attr("mapping").filter(|m| *m != "logical") {
        return Err(invalid_value("mapping", m, "mapping"));
    }
    fetch.boolean("no-lock")?;
    // Distinct rows differ from all rows only without the key, and the key is always
    // returned here; refuse rather than pretend.
    if fetch.boolean("distinct")? == Some(true) {
        return Err(ODataError::new(
            "distinct='true' is not supported by this server; use $apply=groupby((...)) \
             for distinct values.",
        ));
    }
    let top = fetch.number("top", MAX_TOP)?;
    let page_size = fetch.number("count", MAX_PAGE_SIZE)?;
    let page = fetch.number("page", u32::MAX)?;
    let total_record_count = fetch.boolean("returntotalrecordcount")?.unwrap_or(false);
    if top.is_some() {
        for paging in ["page", "count"] {
            if fetch.attr(paging).is_some() {
                return Err(ODataError::new(format!(
                    "The top attribute can't be specified with paging attribute {paging}"
                )));
            }
        }
        if total_record_count {
            return Err(ODataError::new(
                "The top attribute can't be specified with returntotalrecordcount.",
            ));
        }
    }
    let page = page.unwrap_or(1);

    let mut entities = Vec::new();
    for child in &fetch.children {
        match child.name.as_str() {
            "entity" => entities.push(child),
            other => return Err(invalid_child("fetch", other)),
        }
    }
    let [entity] = entities[..] else {
        return Err(ODataError::new(format!(
            "The fetch element must contain exactly one entity element, not {}.",
            entities.len()
        )));
    };
    entity.expect(&["name"], false)?;
    let name = entity.required("name")?;
    let table = crate::model::table(name)
        .filter(|t| t.logical == name)
        .ok_or_else(|| {
            ODataError::new(format!(
                "The entity with a name = '{name}' with namemapping = 'Logical' was not \
                 found in the MetadataCache."
            ))
        })?;

    let mut cx = Checker {
        table,
        me,
        conditions: 0,
    };
    let mut select: Vec<&'static Column> = Vec::new();
    let mut all_attributes = false;
    let mut order: Vec<(&'static Column, bool)> = Vec::new();
    let mut filters = Vec::new();
    for child in &entity.children {
        match child.name.as_str() {
            "attribute" => {
                let column = cx.attribute(child)?;
                if !select.contains(&column) {
                    select.push(column);
                }
            }
            "all-attributes" => {
                child.expect(&[], false)?;
                child.leaf()?;
                all_attributes = true;
            }
            "order" => {
                let key = cx.order(child)?;
                if order.iter().any(|(c, _)| *c == key.0) {
                    return Err(ODataError::new(format!(
                        "The attribute '{}' is ordered more than once.",
                        key.0.name
                    )));
                }
                order.push(key);
                if order.len() > MAX_ORDER_KEYS {
                    return Err(ODataError::new(format!(
                        "The fetch has more than {MAX_ORDER_KEYS} order elements."
                    )));
                }
            }
            "filter" => filters.extend(cx.filter(child)?),
            "link-entity" => return Err(link_entity_refused()),
            other => return Err(invalid_child("entity", other)),
        }
    }

    // No attribute elements means every column, as `all-attributes` does.
    if all_attributes || select.is_empty() {
        select = table.columns.iter().filter(|c| c.readable()).collect();
    }
    let key = table.key_column();
    if !select.contains(&key) {
        select.push(key);
    }
    // The OData path's own order builder adds the key tiebreaker, so both paths sort
    // (and page) identically; the keys were checked above, with FetchXML's messages.
    let orderby: Vec<String> = order
        .iter()
        .map(|(c, desc)| c.property() + if *desc { " desc" } else { "" })
        .collect();
    let order = parse_orderby(table, &orderby.join(","))?;
    let filter = match filters.len() {
        0 => None,
        1 => filters.pop(),
        _ => Some(Filter::And(filters)),
    };

    // A cookie only continues from the page it was issued with: Dataverse ignores one
    // sent for a nonconsecutive page, and so do we.
    let mut after = None;
    if let Some(text) = fetch.attr("paging-cookie").filter(|c| !c.trim().is_empty()) {
        if let Some((cookie_page, token)) = read_cookie(text)? {
            if cookie_page.checked_add(1) == Some(page) && top.is_none() {
                after = Some(decode_skiptoken(&token, &order).map_err(|_| {
                    ODataError::new(
                        "The paging cookie is not valid for this query; request the first \
                         page again.",
                    )
                })?);
            }
        }
    }
    let size = page_size.unwrap_or(MAX_PAGE_SIZE);
    let skip = if after.is_some() || top.is_some() {
        0
    } else {
        let skip = u64::from(page - 1) * u64::from(size);
        if skip + u64::from(size) > u64::from(MAX_SIMPLE_PAGING_ROWS) {
            return Err(ODataError::new(format!(
                "Paging by page number can't go past the first {MAX_SIMPLE_PAGING_ROWS} \
                 records (page {page} of {size} records); use the paging cookie of the \
                 previous page."
            )));
        }
        u32::try_from(skip).expect("below the simple paging limit")
    };

    Ok(FetchQuery {
        table,
        query: Query {
            select,
            filter,
            order,
            top,
            count: total_record_count,
            after,
            expand: Vec::new(),
        },
        page,
        page_size,
        skip,
        total_record_count,
    })
}

/// The cookie this server sends with a FetchXML page: `page` is the page it came with,
/// `skiptoken` the keyset cursor after that page's last row.
pub fn paging_cookie(page: u32, skiptoken: &str) -> String {
    format!(
        "<cookie page=\"{page}\" mailsync-after=\"{}\" />",
        xml_escape(skiptoken)
    )
}

/// The `@Microsoft.Dynamics.CRM.fetchxmlpagingcookie` annotation: `page` is the next
/// page's number, `cookie` is percent-encoded twice, as Dataverse does (clients decode
/// twice and put the result in `paging-cookie`).
pub fn fetchxml_paging_cookie_annotation(page: u32, cookie: &str) -> String {
    format!(
        "<cookie pagenumber=\"{page}\" pagingcookie=\"{}\" istracking=\"False\" />",
        percent_encode(&percent_encode(cookie))
    )
}

/// Everything but RFC 3986's unreserved characters, with lowercase hex: the form of
/// Dataverse's cookie annotations (`%253ccookie%2520page%253d...`).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `(page, skiptoken)` of one of our cookies; `None` for another (e.g. Dataverse's own
/// `<cookie page="1"><accountid last=.../></cookie>`), which then falls back to paging
/// by number.
fn read_cookie(text: &str) -> Result<Option<(u32, String)>, ODataError> {
    let invalid = || ODataError::new("The paging-cookie attribute is not a valid paging cookie.");
    let cookie = read_tree(text).map_err(|_| invalid())?;
    if cookie.name != "cookie" {
        return Err(invalid());
    }
    let Some(token) = cookie.attr("mailsync-after") else {
        return Ok(None);
    };
    let page = cookie
        .attr("page")
        .and_then(|p| p.trim().parse::<u32>().ok())
        .ok_or_else(invalid)?;
    Ok(Some((page, token.to_string())))
}

/// One element of the document: enough of XML for FetchXML.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Element>,
    /// Character data directly inside, concatenated (entities resolved).
    text: String,
}

fn not_xml(detail: impl std::fmt::Display) -> ODataError {
    ODataError::new(format!("The fetchXml value is not valid XML: {detail}."))
}

fn read_tree(xml: &str) -> Result<Element, ODataError> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    // Attaches a complete element to its parent, or makes it the root.
    let close = |stack: &mut Vec<Element>, root: &mut Option<Element>, el: Element| {
        match stack.last_mut() {
            Some(parent) => parent.children.push(el),
            None if root.is_none() => *root = Some(el),
            None => return Err(not_xml("more than one root element")),
        }
        Ok(())
    };
    loop {
        let event = reader
            .read_event()
            .map_err(|e| not_xml(format_args!("{e} (at byte {})", reader.error_position())))?;
        match event {
            Event::Start(_) | Event::Empty(_) if stack.len() >= MAX_FETCH_DEPTH => {
                return Err(ODataError::new(format!(
                    "The fetchXml value nests elements more than {MAX_FETCH_DEPTH} deep."
                )));
            }
            Event::Start(e) => {
                if stack.is_empty() && root.is_some() {
                    return Err(not_xml("more than one root element"));
                }
                stack.push(element(&e)?);
            }
            Event::Empty(e) => close(&mut stack, &mut root, element(&e)?)?,
            Event::End(_) => {
                // The reader checks that end tags match their start tags.
                let el = stack.pop().ok_or_else(|| not_xml("unexpected end tag"))?;
                close(&mut stack, &mut root, el)?;
            }
            Event::Text(t) => {
                let t = t.xml10_content().map_err(not_xml)?;
                push_text(&mut stack, &t)?;
            }
            Event::CData(t) => {
                let t = t.decode().map_err(not_xml)?;
                push_text(&mut stack, &t)?;
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(not_xml)? {
                    Some(ch) => ch.to_string(),
                    None => {
                        let name = r.decode().map_err(not_xml)?;
                        resolve_xml_entity(&name)
                            .ok_or_else(|| not_xml(format_args!("unknown entity '&{name};'")))?
                            .to_string()
                    }
                };
                push_text(&mut stack, &resolved)?;
            }
            Event::DocType(_) => return Err(not_xml("document type declarations are not allowed")),
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(not_xml(format_args!(
            "element '{}' is not closed",
            open.name
        )));
    }
    root.ok_or_else(|| not_xml("no root element"))
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), ODataError> {
    match stack.last_mut() {
        Some(el) => el.text.push_str(text),
        None if text.trim().is_empty() => {}
        None => return Err(not_xml("text outside the root element")),
    }
    Ok(())
}

fn element(start: &BytesStart) -> Result<Element, ODataError> {
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        // The default checks refuse duplicated attributes.
        let attr = attr.map_err(not_xml)?;
        let key = String::from_utf8_lossy(attr.key.as_ref()).into_owned();
        let value = attr
            .normalized_value_with(XmlVersion::Implicit1_0, 1, resolve_xml_entity)
            .map_err(not_xml)?
            .into_owned();
        attrs.push((key, value));
    }
    Ok(Element {
        name: String::from_utf8_lossy(start.name().as_ref()).into_owned(),
        attrs,
        ..Element::default()
    })
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &str) -> Result<&str, ODataError> {
        self.attr(name).ok_or_else(|| {
            ODataError::new(format!(
                "The required attribute '{name}' is missing from the '{}' element.",
                self.name
            ))
        })
    }

    /// Refuses attributes not in `allowed` (namespace declarations aside, which some
    /// tools add) and, unless `text` is allowed, character data.
    fn expect(&self, allowed: &[&str], text: bool) -> Result<(), ODataError> {
        for (k, _) in &self.attrs {
            if !allowed.contains(&k.as_str()) && k != "xmlns" && !k.starts_with("xmlns:") {
                return Err(ODataError::new(format!(
                    "The '{k}' attribute is not declared on the '{}' element.",
                    self.name
                )));
            }
        }
        if !text && !self.text.trim().is_empty() {
            return Err(ODataError::new(format!(
                "The element '{}' cannot contain text.",
                self.name
            )));
        }
        Ok(())
    }

    fn leaf(&self) -> Result<(), ODataError> {
        match self.children.first() {
            Some(child) => Err(invalid_child(&self.name, &child.name)),
            None => Ok(()),
        }
    }

    /// An `xs:boolean` attribute.
    fn boolean(&self, name: &str) -> Result<Option<bool>, ODataError> {
        self.attr(name)
            .map(|v| match v.trim() {
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                other => Err(invalid_value(name, other, "Boolean")),
            })
            .transpose()
    }

    /// A whole number in `1..=max`.
    fn number(&self, name: &str, max: u32) -> Result<Option<u32>, ODataError> {
        self.attr(name)
            .map(|v| {
                let n: u32 = v
                    .trim()
                    .parse()
                    .map_err(|_| invalid_value(name, v, "Int"))?;
                if !(1..=max).contains(&n) {
                    return Err(ODataError::new(format!(
                        "The '{name}' attribute value {n} is not valid: it must be between 1 \
                         and {max}."
                    )));
                }
                Ok(n)
            })
            .transpose()
    }
}

fn invalid_value(attr: &str, value: &str, datatype: &str) -> ODataError {
    ODataError::new(format!(
        "The '{attr}' attribute is invalid - The value '{value}' is invalid according to its \
         datatype '{datatype}'."
    ))
}

fn invalid_child(parent: &str, child: &str) -> ODataError {
    ODataError::new(format!(
        "The element '{parent}' has invalid child element '{child}'."
    ))
}

fn aggregate_refused() -> ODataError {
    ODataError::new(
        "Aggregate FetchXML queries are not supported by this server; use the $apply query \
         option (groupby, aggregate) instead.",
    )
}

fn link_entity_refused() -> ODataError {
    ODataError::new("link-entity is not supported by this server yet; query each table separately.")
}

/// Dataverse operators refused by name. The relative-date ones need "now" and the user's
/// time zone and fiscal calendar, the others teams, business units or hierarchies: none
/// of which this query layer knows.
const UNSUPPORTED: &[&str] = &[
    "yesterday",
    "today",
    "tomorrow",
    "last-seven-days",
    "next-seven-days",
    "last-week",
    "this-week",
    "next-week",
    "last-month",
    "this-month",
    "next-month",
    "last-year",
    "this-year",
    "next-year",
    "last-x-hours",
    "next-x-hours",
    "last-x-days",
    "next-x-days",
    "last-x-weeks",
    "next-x-weeks",
    "last-x-months",
    "next-x-months",
    "last-x-years",
    "next-x-years",
    "olderthan-x-minutes",
    "olderthan-x-hours",
    "olderthan-x-days",
    "olderthan-x-weeks",
    "olderthan-x-months",
    "olderthan-x-years",
    "eq-userteams",
    "eq-useroruserteams",
    "eq-useroruserhierarchy",
    "eq-useroruserhierarchyandteams",
    "eq-businessid",
    "ne-businessid",
    "eq-userlanguage",
    "this-fiscal-year",
    "this-fiscal-period",
    "next-fiscal-year",
    "next-fiscal-period",
    "last-fiscal-year",
    "last-fiscal-period",
    "last-x-fiscal-years",
    "last-x-fiscal-periods",
    "next-x-fiscal-years",
    "next-x-fiscal-periods",
    "in-fiscal-year",
    "in-fiscal-period",
    "in-fiscal-period-and-year",
    "in-or-before-fiscal-period-and-year",
    "in-or-after-fiscal-period-and-year",
    "under",
    "eq-or-under",
    "not-under",
    "above",
    "eq-or-above",
    "contain-values",
    "not-contain-values",
];

/// Checks elements against the entity's table.
struct Checker {
    table: &'static Table,
    me: Option<Guid>,
    conditions: usize,
}

/// A condition's values: the `value` attribute and the `<value>` children.
struct Values<'e> {
    attr: Option<&'e str>,
    list: Vec<&'e str>,
}

impl Checker {
    /// A column by logical name, as FetchXML names them (lookups too).
    fn column(&self, name: &str) -> Result<&'static Column, ODataError> {
        if let Some(c) = self
            .table
            .column(name)
            .filter(|c| c.access != Access::Hidden)
        {
            return Ok(c);
        }
        let mut msg = format!(
            "'{}' entity doesn't contain attribute with Name = '{name}' and NameMapping = \
             'Logical'.",
            self.table.logical
        );
        // An OData lookup property (`_x_value`) where FetchXML wants `x`.
        if let Some(c) = self.table.property(name).filter(|c| c.kind.is_lookup()) {
            msg.push_str(&format!(" FetchXML uses logical names: '{}'.", c.name));
        }
        Err(ODataError::new(msg))
    }

    fn attribute(&self, el: &Element) -> Result<&'static Column, ODataError> {
        for aggregate in [
            "aggregate",
            "groupby",
            "dategrouping",
            "rowaggregate",
            "distinct",
        ] {
            if el.attr(aggregate).is_some() {
                return Err(aggregate_refused());
            }
        }
        if el.attr("alias").is_some() {
            return Err(ODataError::new(
                "The alias attribute of an attribute element is not supported by this server.",
            ));
        }
        el.expect(&["name"], false)?;
        el.leaf()?;
        let name = el.required("name")?;
        let column = self.column(name)?;
        if !column.readable() {
            return Err(ODataError::new(format!(
                "The attribute '{}.{name}' is write-only and cannot be retrieved.",
                self.table.logical
            )));
        }
        Ok(column)
    }

    fn order(&self, el: &Element) -> Result<(&'static Column, bool), ODataError> {
        // Ordering by alias is for aggregate results; by entityname, for linked ones.
        if el.attr("alias").is_some() {
            return Err(aggregate_refused());
        }
        if el.attr("entityname").is_some() {
            return Err(link_entity_refused());
        }
        el.expect(&["attribute", "descending"], false)?;
        el.leaf()?;
        let column = self.column(el.required("attribute")?)?;
        if !column.sortable() {
            return Err(ODataError::new(format!(
                "The attribute '{}.{}' cannot be used to order the results.",
                self.table.logical, column.name
            )));
        }
        Ok((column, el.boolean("descending")?.unwrap_or(false)))
    }

    /// `None` for a filter without conditions: Dataverse ignores those.
    fn filter(&mut self, el: &Element) -> Result<Option<Filter>, ODataError> {
        el.expect(&["type", "isquickfindfields"], false)?;
        el.boolean("isquickfindfields")?;
        let or = match el.attr("type") {
            None | Some("and") => false,
            Some("or") => true,
            Some(other) => return Err(invalid_value("type", other, "filterType")),
        };
        let mut terms = Vec::new();
        for child in &el.children {
            match child.name.as_str() {
                "condition" => terms.push(self.condition(child)?),
                // Nesting is bounded by MAX_FETCH_DEPTH.
                "filter" => terms.extend(self.filter(child)?),
                "link-entity" => return Err(link_entity_refused()),
                other => return Err(invalid_child("filter", other)),
            }
        }
        Ok(match terms.len() {
            0 => None,
            1 => terms.pop(),
            _ if or => Some(Filter::Or(terms)),
            _ => Some(Filter::And(terms)),
        })
    }

    fn condition(&mut self, el: &Element) -> Result<Filter, ODataError> {
        self.conditions += 1;
        if self.conditions > MAX_CONDITIONS {
            return Err(ODataError::new(format!(
                "The fetch has more than {MAX_CONDITIONS} conditions."
            )));
        }
        if el.attr("entityname").is_some() {
            return Err(link_entity_refused());
        }
        if el.attr("valueof").is_some() {
            return Err(ODataError::new(
                "Comparing two columns (valueof) is not supported by this server.",
            ));
        }
        // `uiname`/`uitype`/`uihidden` are display hints saved views carry.
        el.expect(
            &[
                "attribute",
                "operator",
                "value",
                "uiname",
                "uitype",
                "uihidden",
            ],
            false,
        )?;
        let column = self.column(el.required("attribute")?)?;
        let op = el.required("operator")?;
        if !column.filterable() {
            return Err(ODataError::new(format!(
                "Condition for attribute '{}.{}': the attribute cannot be used in a filter.",
                self.table.logical, column.name
            )));
        }
        let mut values = Values {
            attr: el.attr("value"),
            list: Vec::new(),
        };
        for child in &el.children {
            if child.name != "value" {
                return Err(invalid_child("condition", &child.name));
            }
            child.expect(&["uiname", "uitype"], true)?;
            child.leaf()?;
            values.list.push(&child.text);
        }
        let cmp = |op, value| Filter::Compare { column, op, value };
        Ok(match op {
            "eq" | "ne" | "neq" | "gt" | "ge" | "lt" | "le" => {
                let value = self.value(column, self.one(column, op, &values)?)?;
                let op = match op {
                    "eq" => CmpOp::Eq,
                    "ne" | "neq" => CmpOp::Ne,
                    "gt" => CmpOp::Gt,
                    "ge" => CmpOp::Ge,
                    "lt" => CmpOp::Lt,
                    _ => CmpOp::Le,
                };
                cmp(op, value)
            }
            "like" | "not-like" => {
                self.text_column(column, op)?;
                let pattern = self.one(column, op, &values)?;
                let (func, needle) = like_pattern(pattern).ok_or_else(|| {
                    self.fail(
                        column,
                        format!(
                            "the like pattern '{pattern}' is not supported: use '%' only at \
                             the start and/or end, and [%], [_] or [[] for a literal '%', '_' \
                             or '['"
                        ),
                    )
                })?;
                let negate = op == "not-like";
                match func {
                    Some(func) => text_filter(column, func, needle, negate),
                    None if negate => cmp(CmpOp::Ne, Value::Text(needle)),
                    None => cmp(CmpOp::Eq, Value::Text(needle)),
                }
            }
            "begins-with" | "not-begin-with" | "ends-with" | "not-end-with" => {
                self.text_column(column, op)?;
                let needle = self.one(column, op, &values)?.to_string();
                let func = if op.contains("begin") {
                    TextFn::StartsWith
                } else {
                    TextFn::EndsWith
                };
                text_filter(column, func, needle, op.starts_with("not-"))
            }
            "in" | "not-in" => {
                let list = if values.list.is_empty() {
                    values.attr.filter(|v| !v.is_empty()).into_iter().collect()
                } else if values.attr.is_some_and(|v| !v.is_empty()) {
                    return Err(self.fail(
                        column,
                        "give either a value attribute or <value> elements, not both",
                    ));
                } else {
                    values.list.clone()
                };
                if list.is_empty() {
                    return Err(self.fail(
                        column,
                        format!("the operator '{op}' requires one or more <value> elements"),
                    ));
                }
                // `not-in` as ands of `ne`: like SQL's NOT IN, a null matches neither.
                let is_in = op == "in";
                let terms = list
                    .into_iter()
                    .map(|v| {
                        let v = self.value(column, v)?;
                        Ok(cmp(if is_in { CmpOp::Eq } else { CmpOp::Ne }, v))
                    })
                    .collect::<Result<Vec<_>, ODataError>>()?;
                if is_in {
                    Filter::Or(terms)
                } else {
                    Filter::And(terms)
                }
            }
            "null" | "not-null" => {
                self.no_value(column, op, &values)?;
                cmp(
                    if op == "null" { CmpOp::Eq } else { CmpOp::Ne },
                    Value::Null,
                )
            }
            "between" | "not-between" => {
                let [low, high] = values.list[..] else {
                    return Err(self.fail(
                        column,
                        format!("the operator '{op}' requires exactly two <value> elements"),
                    ));
                };
                let (low, high) = (self.value(column, low)?, self.value(column, high)?);
                // `not-between` as `x < low or x > high`: like SQL's NOT BETWEEN, a null
                // matches neither.
                if op == "between" {
                    Filter::And(vec![cmp(CmpOp::Ge, low), cmp(CmpOp::Le, high)])
                } else {
                    Filter::Or(vec![cmp(CmpOp::Lt, low), cmp(CmpOp::Gt, high)])
                }
            }
            "on" | "on-or-after" | "on-or-before" => {
                if column.kind != Kind::DateTime {
                    return Err(self.fail(
                        column,
                        format!("the operator '{op}' requires a date and time attribute"),
                    ));
                }
                let Value::DateTime(at) = self.value(column, self.one(column, op, &values)?)?
                else {
                    unreachable!("a date and time column's value is a date");
                };
                // Days are UTC days: the server has no user time zone to apply.
                let day = Timestamp(at.0.div_euclid(86_400) * 86_400);
                let next = Value::DateTime(Timestamp(day.0 + 86_400));
                let day = Value::DateTime(day);
                match op {
                    "on-or-after" => cmp(CmpOp::Ge, day),
                    "on-or-before" => cmp(CmpOp::Lt, next),
                    _ => Filter::And(vec![cmp(CmpOp::Ge, day), cmp(CmpOp::Lt, next)]),
                }
            }
            "eq-userid" | "ne-userid" => {
                self.no_value(column, op, &values)?;
                let refers_to_user = match column.kind {
                    Kind::Lookup(targets) => targets.contains(&"systemuser"),
                    _ => self.table.logical == "systemuser" && column.name == self.table.key,
                };
                if !refers_to_user {
                    return Err(self.fail(
                        column,
                        format!("the operator '{op}' requires an attribute that refers to a user"),
                    ));
                }
                let me = self.me.ok_or_else(|| {
                    self.fail(
                        column,
                        format!(
                            "the operator '{op}' needs the calling user, who is not known here"
                        ),
                    )
                })?;
                let op = if op == "eq-userid" {
                    CmpOp::Eq
                } else {
                    CmpOp::Ne
                };
                cmp(op, Value::Guid(me))
            }
            other if UNSUPPORTED.contains(&other) => {
                return Err(ODataError::new(format!(
                    "The condition operator '{other}' is not supported by this server."
                )))
            }
            other => return Err(invalid_value("operator", other, "operator")),
        })
    }

    fn fail(&self, column: &Column, what: impl std::fmt::Display) -> ODataError {
        ODataError::new(format!(
            "Condition for attribute '{}.{}': {what}.",
            self.table.logical, column.name
        ))
    }

    /// The value of a single-value operator: the `value` attribute or one `<value>`.
    fn one<'e>(
        &self,
        column: &Column,
        op: &str,
        values: &Values<'e>,
    ) -> Result<&'e str, ODataError> {
        match (values.attr, &values.list[..]) {
            (Some(v), []) | (None, &[v]) => Ok(v),
            _ => Err(self.fail(
                column,
                format!("the operator '{op}' requires exactly one value"),
            )),
        }
    }

    /// Operators that take no value; an empty `value=""` is tolerated, as tools write it.
    fn no_value(&self, column: &Column, op: &str, values: &Values) -> Result<(), ODataError> {
        if values.list.is_empty() && values.attr.is_none_or(str::is_empty) {
            return Ok(());
        }
        Err(self.fail(column, format!("the operator '{op}' takes no value")))
    }

    fn text_column(&self, column: &Column, op: &str) -> Result<(), ODataError> {
        if column.kind == Kind::Text {
            return Ok(());
        }
        Err(self.fail(
            column,
            format!("the operator '{op}' requires a text attribute"),
        ))
    }

    /// `text` as a value of `column`'s kind, written as FetchXML writes values.
    fn value(&self, column: &Column, text: &str) -> Result<Value, ODataError> {
        let t = text.trim();
        let (value, ty) = match column.kind {
            Kind::Text => return Ok(Value::Text(text.to_string())),
            Kind::Guid | Kind::Lookup(_) => {
                // Dataverse writes GUIDs in braces (`{30717E9C-...}`); accept both forms.
                let bare = t
                    .strip_prefix('{')
                    .and_then(|g| g.strip_suffix('}'))
                    .unwrap_or(t);
                (Guid::parse(bare).map(Value::Guid), "System.Guid")
            }
            Kind::Int | Kind::Choice => (t.parse().ok().map(Value::Int), "System.Int32"),
            Kind::Decimal => (
                t.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(Value::Decimal),
                "System.Decimal",
            ),
            Kind::Bool => (
                match t.to_ascii_lowercase().as_str() {
                    "1" | "true" => Some(Value::Bool(true)),
                    "0" | "false" => Some(Value::Bool(false)),
                    _ => None,
                },
                "System.Boolean",
            ),
            // ISO 8601 or `M/d/yyyy`; without a zone, UTC (the server has no user zone).
            Kind::DateTime => (
                Timestamp::parse(t).map(|p| Value::DateTime(p.at)),
                "System.DateTime",
            ),
        };
        value.ok_or_else(|| {
            ODataError::new(format!(
                "An exception System.FormatException was thrown while trying to convert input \
                 value '{text}' to attribute '{}.{}'. Expected type of attribute value: {ty}. \
                 Exception raised: Input string was not in a correct format.",
                self.table.logical, column.name
            ))
        })
    }
}

/// A text function, negated the way SQL's `NOT LIKE` is: a null matches neither.
fn text_filter(column: &'static Column, func: TextFn, needle: String, negate: bool) -> Filter {
    let f = Filter::Text {
        func,
        column,
        needle,
    };
    if !negate {
        return f;
    }
    Filter::And(vec![
        Filter::Compare {
            column,
            op: CmpOp::Ne,
            value: Value::Null,
        },
        Filter::Not(Box::new(f)),
    ])
}

/// A `like` pattern as a text function (`None`: no wildcard, plain equality) and its
/// literal text; `None` for patterns a text function can't express (`%` inside, `_`,
/// character classes). SQL Server's bracket escapes `[%]`, `[_]` and `[[]` are literals.
fn like_pattern(pattern: &str) -> Option<(Option<TextFn>, String)> {
    // `None` stands for a `%` wildcard.
    let mut parts: Vec<Option<char>> = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => parts.push(None),
            '_' => return None,
            '[' => {
                let literal = chars.next().filter(|c| matches!(c, '%' | '_' | '['))?;
                if chars.next() != Some(']') {
                    return None;
                }
                parts.push(Some(literal));
            }
            c => parts.push(Some(c)),
        }
    }
    let lead = parts.first() == Some(&None);
    if lead {
        parts.remove(0);
    }
    let trail = parts.last() == Some(&None);
    if trail {
        parts.pop();
    }
    let needle = parts.into_iter().collect::<Option<String>>()?;
    let func = match (lead, trail) {
        (true, true) => Some(TextFn::Contains),
        (true, false) => Some(TextFn::EndsWith),
        (false, true) => Some(TextFn::StartsWith),
        (false, false) => None,
    };
    Some((func, needle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EMAILSERVERPROFILE, MAILBOX, SYSTEMUSER, TRACELOG};
    use crate::odata::{encode_skiptoken, OrderKey};

    const G: &str = "9fb6600b-0965-e811-a97f-000d4a161089";
    const ME: &str = "00000000-0000-0000-0000-0000000000aa";

    fn me() -> Guid {
        Guid::parse(ME).unwrap()
    }

    fn fetch(xml: &str) -> FetchQuery {
        parse_fetch(xml, Some(me())).unwrap_or_else(|e| panic!("{xml}: {e}"))
    }

    fn err(xml: &str) -> String {
        parse_fetch(xml, Some(me())).unwrap_err().to_string()
    }

    /// A mailbox fetch with one filter body.
    fn filter_of(conditions: &str) -> Filter {
        let xml =
            format!("<fetch><entity name='mailbox'><filter>{conditions}</filter></entity></fetch>");
        fetch(&xml).query.filter.expect("a filter")
    }

    fn cond_err(condition: &str) -> String {
        err(&format!(
            "<fetch><entity name='mailbox'><filter>{condition}</filter></entity></fetch>"
        ))
    }

    fn col(name: &str) -> &'static Column {
        MAILBOX.column(name).unwrap()
    }

    fn cmp(name: &str, op: CmpOp, value: Value) -> Filter {
        Filter::Compare {
            column: col(name),
            op,
            value,
        }
    }

    fn text(func: TextFn, needle: &str) -> Filter {
        Filter::Text {
            func,
            column: col("name"),
            needle: needle.into(),
        }
    }

    fn not_text(func: TextFn, needle: &str) -> Filter {
        Filter::And(vec![
            cmp("name", CmpOp::Ne, Value::Null),
            Filter::Not(Box::new(text(func, needle))),
        ])
    }

    fn day(y: i64, m: u32, d: u32) -> Value {
        Value::DateTime(Timestamp::from_civil(y, m, d, 0, 0, 0).unwrap())
    }

    #[test]
    fn typical_fetch_becomes_the_odata_query() {
        let q = fetch(
            r#"<fetch version="1.0" output-format="xml-platform" mapping="logical" distinct="false" no-lock="true">
                 <entity name="mailbox">
                   <attribute name="name" />
                   <attribute name="emailserverprofile" />
                   <attribute name="name" />
                   <order attribute="name" descending="true" />
                   <filter type="and">
                     <condition attribute="statecode" operator="eq" value="0" />
                     <condition attribute="emailserverprofile" operator="eq" value="{9FB6600B-0965-E811-A97F-000D4A161089}" />
                   </filter>
                 </entity>
               </fetch>"#,
        );
        assert_eq!(q.table.logical, "mailbox");
        let odata = crate::odata::parse_query(
            &MAILBOX,
            &format!(
                "$select=name,_emailserverprofile_value&$orderby=name desc\
                 &$filter=statecode eq 0 and _emailserverprofile_value eq {G}"
            ),
        )
        .unwrap();
        assert_eq!(q.query, odata);
        assert_eq!((q.page, q.page_size, q.skip), (1, None, 0));
        assert!(!q.total_record_count && !q.query.count);
    }

    #[test]
    fn select_all_and_the_key() {
        let readable: Vec<_> = MAILBOX.columns.iter().filter(|c| c.readable()).collect();
        for xml in [
            "<fetch><entity name='mailbox'/></fetch>",
            "<fetch><entity name='mailbox'><all-attributes/></entity></fetch>",
            "<fetch><entity name='mailbox'><attribute name='name'/><all-attributes/></entity></fetch>",
        ] {
            let q = fetch(xml);
            assert_eq!(q.query.select, readable, "{xml}");
            assert!(!q.query.select.contains(&col("password")));
        }
        let q = fetch("<fetch><entity name='tracelog'><attribute name='text'/></entity></fetch>");
        let names: Vec<_> = q.query.select.iter().map(|c| c.name).collect();
        assert_eq!(names, ["text", "tracelogid"]);
        assert_eq!(q.table, &TRACELOG);
        // The key keeps its place when selected.
        let q = fetch(
            "<fetch><entity name='mailbox'><attribute name='mailboxid'/><attribute name='name'/></entity></fetch>",
        );
        let names: Vec<_> = q.query.select.iter().map(|c| c.name).collect();
        assert_eq!(names, ["mailboxid", "name"]);
    }

    #[test]
    fn order_ends_with_the_key() {
        let q = fetch(
            "<fetch><entity name='mailbox'><order attribute='statecode'/>\
             <order attribute='lastsyncstartedon' descending='1'/></entity></fetch>",
        );
        let keys: Vec<_> = q
            .query
            .order
            .iter()
            .map(|k| (k.column.name, k.descending))
            .collect();
        assert_eq!(
            keys,
            [
                ("statecode", false),
                ("lastsyncstartedon", true),
                ("mailboxid", false)
            ]
        );
        // Sorting by the key makes it the last key.
        let q = fetch(
            "<fetch><entity name='mailbox'><order attribute='mailboxid' descending='true'/>\
             <order attribute='name'/></entity></fetch>",
        );
        assert_eq!(q.query.order.len(), 1);
        assert!(q.query.order[0].descending);
        let q = fetch("<fetch><entity name='mailbox'/></fetch>");
        assert_eq!(q.query.order.len(), 1);
        assert_eq!(q.query.order[0].column.name, "mailboxid");
    }

    #[test]
    fn comparison_operators() {
        let n = |v: i64| Value::Int(v);
        for (op, want) in [
            ("eq", CmpOp::Eq),
            ("ne", CmpOp::Ne),
            ("neq", CmpOp::Ne),
            ("gt", CmpOp::Gt),
            ("ge", CmpOp::Ge),
            ("lt", CmpOp::Lt),
            ("le", CmpOp::Le),
        ] {
            let f = filter_of(&format!(
                "<condition attribute='noemailcount' operator='{op}' value='3'/>"
            ));
            assert_eq!(f, cmp("noemailcount", want, n(3)), "{op}");
        }
        // A lone <value> child serves as the value too.
        let f = filter_of(
            "<condition attribute='name' operator='eq'><value>A &amp; B</value></condition>",
        );
        assert_eq!(f, cmp("name", CmpOp::Eq, Value::Text("A & B".into())));
        // Text keeps its spaces; an empty value is the empty string.
        let f = filter_of("<condition attribute='name' operator='ne' value=' x '/>");
        assert_eq!(f, cmp("name", CmpOp::Ne, Value::Text(" x ".into())));
        let f = filter_of("<condition attribute='name' operator='eq' value=''/>");
        assert_eq!(f, cmp("name", CmpOp::Eq, Value::Text(String::new())));
    }

    #[test]
    fn values_by_kind() {
        let g = Value::Guid(Guid::parse(G).unwrap());
        for v in [
            G,
            "{9FB6600B-0965-E811-A97F-000D4A161089}",
            " 9FB6600B-0965-E811-A97F-000D4A161089 ",
        ] {
            let f = filter_of(&format!(
                "<condition attribute='ownerid' operator='eq' value='{v}'/>"
            ));
            assert_eq!(f, cmp("ownerid", CmpOp::Eq, g.clone()), "{v}");
        }
        let f = filter_of(&format!(
            "<condition attribute='mailboxid' operator='eq' value='{G}'/>"
        ));
        assert_eq!(f, cmp("mailboxid", CmpOp::Eq, g));
        for (v, want) in [("1", true), ("0", false), ("true", true), ("False", false)] {
            let f = filter_of(&format!(
                "<condition attribute='enabledforincomingemail' operator='eq' value='{v}'/>"
            ));
            assert_eq!(
                f,
                cmp("enabledforincomingemail", CmpOp::Eq, Value::Bool(want))
            );
        }
        let f = filter_of("<condition attribute='statecode' operator='eq' value='1'/>");
        assert_eq!(f, cmp("statecode", CmpOp::Eq, Value::Int(1)));
        let at = |h| Value::DateTime(Timestamp::from_civil(2024, 5, 6, h, 0, 0).unwrap());
        for (v, want) in [
            ("2024-05-06T10:00:00Z", at(10)),
            ("2024-05-06T12:00:00+02:00", at(10)),
            ("2024-05-06T10:00:00", at(10)),
            ("2024-05-06", at(0)),
            ("5/6/2024", at(0)),
        ] {
            let f = filter_of(&format!(
                "<condition attribute='lastsyncstartedon' operator='gt' value='{v}'/>"
            ));
            assert_eq!(f, cmp("lastsyncstartedon", CmpOp::Gt, want), "{v}");
        }
        for (attr, v, ty) in [
            ("ownerid", "nope", "System.Guid"),
            ("mailboxid", "{9fb6600b}", "System.Guid"),
            ("noemailcount", "1.5", "System.Int32"),
            ("statecode", "Active", "System.Int32"),
            ("enabledforincomingemail", "yes", "System.Boolean"),
            ("lastsyncstartedon", "yesterday", "System.DateTime"),
        ] {
            let e = cond_err(&format!(
                "<condition attribute='{attr}' operator='eq' value='{v}'/>"
            ));
            assert_eq!(
                e,
                format!(
                    "An exception System.FormatException was thrown while trying to convert \
                     input value '{v}' to attribute 'mailbox.{attr}'. Expected type of \
                     attribute value: {ty}. Exception raised: Input string was not in a \
                     correct format."
                )
            );
        }
    }

    #[test]
    fn decimal_values() {
        // No model table has a decimal column yet; one for the test.
        static T: Table = Table {
            logical: "mailsync_sample",
            entity_set: "mailsync_samples",
            key: "mailsync_sampleid",
            primary_name: "mailsync_name",
            columns: &[
                Column::new("mailsync_sampleid", Kind::Guid),
                Column::new("mailsync_name", Kind::Text),
                Column::new("mailsync_ratio", Kind::Decimal),
            ],
        };
        let cx = Checker {
            table: &T,
            me: None,
            conditions: 0,
        };
        let c = T.column("mailsync_ratio").unwrap();
        assert_eq!(cx.value(c, "2.5").unwrap(), Value::Decimal(2.5));
        assert_eq!(cx.value(c, "3").unwrap(), Value::Decimal(3.0));
        assert!(cx
            .value(c, "NaN")
            .unwrap_err()
            .message()
            .contains("System.Decimal"));
    }

    #[test]
    fn like_patterns() {
        for (pattern, want) in [
            ("%Sales%", text(TextFn::Contains, "Sales")),
            ("Sales%", text(TextFn::StartsWith, "Sales")),
            ("%Sales", text(TextFn::EndsWith, "Sales")),
            ("Sales", cmp("name", CmpOp::Eq, Value::Text("Sales".into()))),
            ("%50[%]%", text(TextFn::Contains, "50%")),
            ("a[_]b%", text(TextFn::StartsWith, "a_b")),
            ("[[]x]", cmp("name", CmpOp::Eq, Value::Text("[x]".into()))),
            ("%%", text(TextFn::Contains, "")),
        ] {
            let f = filter_of(&format!(
                "<condition attribute='name' operator='like' value='{pattern}'/>"
            ));
            assert_eq!(f, want, "{pattern}");
        }
        assert_eq!(
            filter_of("<condition attribute='name' operator='not-like' value='%x%'/>"),
            not_text(TextFn::Contains, "x")
        );
        assert_eq!(
            filter_of("<condition attribute='name' operator='not-like' value='x'/>"),
            cmp("name", CmpOp::Ne, Value::Text("x".into()))
        );
        for bad in ["a%b", "%a%b%", "a_b", "[a-z]%", "[%", "x[%"] {
            let e = cond_err(&format!(
                "<condition attribute='name' operator='like' value='{bad}'/>"
            ));
            assert!(
                e.starts_with(&format!(
                    "Condition for attribute 'mailbox.name': the like pattern '{bad}' is not supported"
                )),
                "{bad}: {e}"
            );
        }
        assert_eq!(
            cond_err("<condition attribute='noemailcount' operator='like' value='1%'/>"),
            "Condition for attribute 'mailbox.noemailcount': the operator 'like' requires a \
             text attribute."
        );
    }

    #[test]
    fn begins_and_ends_with() {
        for (op, want) in [
            ("begins-with", text(TextFn::StartsWith, "Sa%")),
            ("ends-with", text(TextFn::EndsWith, "Sa%")),
            ("not-begin-with", not_text(TextFn::StartsWith, "Sa%")),
            ("not-end-with", not_text(TextFn::EndsWith, "Sa%")),
        ] {
            let f = filter_of(&format!(
                "<condition attribute='name' operator='{op}' value='Sa%'/>"
            ));
            assert_eq!(f, want, "{op}");
        }
        assert!(
            cond_err("<condition attribute='statecode' operator='begins-with' value='1'/>")
                .contains("requires a text attribute")
        );
    }

    #[test]
    fn in_and_not_in() {
        let f = filter_of(
            "<condition attribute='statecode' operator='in' value=''><value>0</value><value>1</value></condition>",
        );
        assert_eq!(
            f,
            Filter::Or(vec![
                cmp("statecode", CmpOp::Eq, Value::Int(0)),
                cmp("statecode", CmpOp::Eq, Value::Int(1)),
            ])
        );
        let f = filter_of(
            "<condition attribute='name' operator='not-in'><value uiname='x'>a</value><value>b</value></condition>",
        );
        assert_eq!(
            f,
            Filter::And(vec![
                cmp("name", CmpOp::Ne, Value::Text("a".into())),
                cmp("name", CmpOp::Ne, Value::Text("b".into())),
            ])
        );
        let f = filter_of("<condition attribute='statecode' operator='in' value='1'/>");
        assert_eq!(
            f,
            Filter::Or(vec![cmp("statecode", CmpOp::Eq, Value::Int(1))])
        );
        assert_eq!(
            cond_err("<condition attribute='statecode' operator='in'/>"),
            "Condition for attribute 'mailbox.statecode': the operator 'in' requires one or \
             more <value> elements."
        );
        assert!(cond_err(
            "<condition attribute='statecode' operator='in' value='2'><value>1</value></condition>"
        )
        .contains("not both"));
        assert!(cond_err(
            "<condition attribute='statecode' operator='in'><value>1</value><value>x</value></condition>"
        )
        .contains("input value 'x'"));
    }

    #[test]
    fn null_and_not_null() {
        assert_eq!(
            filter_of("<condition attribute='ownerid' operator='null'/>"),
            cmp("ownerid", CmpOp::Eq, Value::Null)
        );
        assert_eq!(
            filter_of("<condition attribute='lastsyncerror' operator='not-null' value=''/>"),
            cmp("lastsyncerror", CmpOp::Ne, Value::Null)
        );
        assert_eq!(
            cond_err("<condition attribute='ownerid' operator='null' value='x'/>"),
            "Condition for attribute 'mailbox.ownerid': the operator 'null' takes no value."
        );
    }

    #[test]
    fn between_and_not_between() {
        let f = filter_of(
            "<condition attribute='noemailcount' operator='between'><value>1</value><value>5</value></condition>",
        );
        assert_eq!(
            f,
            Filter::And(vec![
                cmp("noemailcount", CmpOp::Ge, Value::Int(1)),
                cmp("noemailcount", CmpOp::Le, Value::Int(5)),
            ])
        );
        let f = filter_of(
            "<condition attribute='noemailcount' operator='not-between'><value>1</value><value>5</value></condition>",
        );
        assert_eq!(
            f,
            Filter::Or(vec![
                cmp("noemailcount", CmpOp::Lt, Value::Int(1)),
                cmp("noemailcount", CmpOp::Gt, Value::Int(5)),
            ])
        );
        for bad in [
            "<condition attribute='noemailcount' operator='between' value='1'/>",
            "<condition attribute='noemailcount' operator='between'><value>1</value></condition>",
            "<condition attribute='noemailcount' operator='between'><value>1</value><value>2</value><value>3</value></condition>",
        ] {
            assert!(cond_err(bad).ends_with("requires exactly two <value> elements."), "{bad}");
        }
    }

    #[test]
    fn date_operators_use_utc_days() {
        let f = filter_of(
            "<condition attribute='lastsyncstartedon' operator='on-or-after' value='2024-05-06T15:30:00Z'/>",
        );
        assert_eq!(f, cmp("lastsyncstartedon", CmpOp::Ge, day(2024, 5, 6)));
        let f = filter_of(
            "<condition attribute='lastsyncstartedon' operator='on-or-before' value='2/28/2022'/>",
        );
        assert_eq!(f, cmp("lastsyncstartedon", CmpOp::Lt, day(2022, 3, 1)));
        let f = filter_of(
            "<condition attribute='lastsyncstartedon' operator='on' value='2024-12-31'/>",
        );
        assert_eq!(
            f,
            Filter::And(vec![
                cmp("lastsyncstartedon", CmpOp::Ge, day(2024, 12, 31)),
                cmp("lastsyncstartedon", CmpOp::Lt, day(2025, 1, 1)),
            ])
        );
        assert!(cond_err(
            "<condition attribute='name' operator='on-or-after' value='2024-01-01'/>"
        )
        .contains("requires a date and time attribute"));
    }

    #[test]
    fn user_operators() {
        let m = Value::Guid(me());
        assert_eq!(
            filter_of("<condition attribute='ownerid' operator='eq-userid'/>"),
            cmp("ownerid", CmpOp::Eq, m.clone())
        );
        assert_eq!(
            filter_of("<condition attribute='regardingobjectid' operator='ne-userid'/>"),
            cmp("regardingobjectid", CmpOp::Ne, m.clone())
        );
        let q = fetch(
            "<fetch><entity name='systemuser'><filter><condition attribute='systemuserid' operator='eq-userid'/></filter></entity></fetch>",
        );
        assert_eq!(
            q.query.filter,
            Some(Filter::Compare {
                column: SYSTEMUSER.column("systemuserid").unwrap(),
                op: CmpOp::Eq,
                value: m,
            })
        );
        assert!(
            cond_err("<condition attribute='emailserverprofile' operator='eq-userid'/>")
                .contains("requires an attribute that refers to a user")
        );
        assert!(
            cond_err("<condition attribute='ownerid' operator='eq-userid' value='x'/>")
                .contains("takes no value")
        );
        let anonymous = parse_fetch(
            "<fetch><entity name='mailbox'><filter><condition attribute='ownerid' operator='eq-userid'/></filter></entity></fetch>",
            None,
        )
        .unwrap_err();
        assert!(anonymous.message().contains("needs the calling user"));
    }

    #[test]
    fn unsupported_and_unknown_operators() {
        for op in [
            "last-x-hours",
            "last-x-days",
            "today",
            "eq-userteams",
            "under",
            "contain-values",
        ] {
            assert_eq!(
                cond_err(&format!(
                    "<condition attribute='lastsyncstartedon' operator='{op}' value='2'/>"
                )),
                format!("The condition operator '{op}' is not supported by this server.")
            );
        }
        assert_eq!(
            cond_err("<condition attribute='name' operator='equals' value='x'/>"),
            "The 'operator' attribute is invalid - The value 'equals' is invalid according to \
             its datatype 'operator'."
        );
        assert_eq!(
            cond_err("<condition attribute='name' value='x'/>"),
            "The required attribute 'operator' is missing from the 'condition' element."
        );
        for bad in [
            "<condition attribute='name' operator='eq'/>",
            "<condition attribute='name' operator='eq' value='a'><value>b</value></condition>",
            "<condition attribute='name' operator='eq'><value>a</value><value>b</value></condition>",
        ] {
            assert!(cond_err(bad).ends_with("the operator 'eq' requires exactly one value."), "{bad}");
        }
    }

    #[test]
    fn nested_filters() {
        let f = filter_of(
            "<condition attribute='statecode' operator='eq' value='0'/>\
             <filter type='or'>\
               <condition attribute='name' operator='like' value='A%'/>\
               <condition attribute='name' operator='like' value='B%'/>\
               <filter><!-- empty filters are ignored --></filter>\
             </filter>\
             <filter type='or'/>",
        );
        assert_eq!(
            f,
            Filter::And(vec![
                cmp("statecode", CmpOp::Eq, Value::Int(0)),
                Filter::Or(vec![
                    text(TextFn::StartsWith, "A"),
                    text(TextFn::StartsWith, "B"),
                ]),
            ])
        );
        // A lone condition is not wrapped; several entity filters are and-ed.
        let q = fetch(
            "<fetch><entity name='mailbox'>\
               <filter type='or'><condition attribute='statecode' operator='eq' value='0'/></filter>\
               <filter><condition attribute='statecode' operator='eq' value='1'/></filter>\
             </entity></fetch>",
        );
        assert_eq!(
            q.query.filter,
            Some(Filter::And(vec![
                cmp("statecode", CmpOp::Eq, Value::Int(0)),
                cmp("statecode", CmpOp::Eq, Value::Int(1)),
            ]))
        );
        assert_eq!(
            fetch("<fetch><entity name='mailbox'><filter/></entity></fetch>")
                .query
                .filter,
            None
        );
        assert!(cond_err("<filter type='xor'/>").contains("The value 'xor' is invalid"));
    }

    #[test]
    fn attribute_errors() {
        assert_eq!(
            err("<fetch><entity name='mailbox'><attribute name='foo'/></entity></fetch>"),
            "'mailbox' entity doesn't contain attribute with Name = 'foo' and NameMapping = \
             'Logical'."
        );
        assert_eq!(
            err(
                "<fetch><entity name='mailbox'><attribute name='_ownerid_value'/></entity></fetch>"
            ),
            "'mailbox' entity doesn't contain attribute with Name = '_ownerid_value' and \
             NameMapping = 'Logical'. FetchXML uses logical names: 'ownerid'."
        );
        assert_eq!(
            err("<fetch><entity name='mailbox'><attribute name='password'/></entity></fetch>"),
            "The attribute 'mailbox.password' is write-only and cannot be retrieved."
        );
        // Hidden columns do not exist for the API.
        assert!(err(
            "<fetch><entity name='systemuser'><attribute name='passwordhash'/></entity></fetch>"
        )
        .contains("doesn't contain attribute with Name = 'passwordhash'"));
        assert_eq!(
            cond_err("<condition attribute='password' operator='eq' value='x'/>"),
            "Condition for attribute 'mailbox.password': the attribute cannot be used in a filter."
        );
        assert_eq!(
            err("<fetch><entity name='mailbox'><order attribute='password'/></entity></fetch>"),
            "The attribute 'mailbox.password' cannot be used to order the results."
        );
        assert!(
            err("<fetch><entity name='mailbox'><order attribute='nope'/></entity></fetch>")
                .contains("Name = 'nope'")
        );
        assert_eq!(
            err("<fetch><entity name='mailbox'><order attribute='name'/><order attribute='name' descending='true'/></entity></fetch>"),
            "The attribute 'name' is ordered more than once."
        );
        let nine: String = [
            "name",
            "emailaddress",
            "statecode",
            "statuscode",
            "ownerid",
            "noemailcount",
            "noactcount",
            "hostid",
            "username",
        ]
        .iter()
        .map(|a| format!("<order attribute='{a}'/>"))
        .collect();
        assert_eq!(
            err(&format!(
                "<fetch><entity name='mailbox'>{nine}</entity></fetch>"
            )),
            "The fetch has more than 8 order elements."
        );
        assert_eq!(
            err(
                "<fetch><entity name='mailbox'><attribute name='name' alias='n'/></entity></fetch>"
            ),
            "The alias attribute of an attribute element is not supported by this server."
        );
        assert_eq!(
            err("<fetch><entity name='mailbox'><attribute/></entity></fetch>"),
            "The required attribute 'name' is missing from the 'attribute' element."
        );
    }

    #[test]
    fn refused_features() {
        let aggregate = "Aggregate FetchXML queries are not supported by this server; use the \
                         $apply query option (groupby, aggregate) instead.";
        assert_eq!(
            err("<fetch aggregate='true'><entity name='mailbox'><attribute name='mailboxid' alias='n' aggregate='count'/></entity></fetch>"),
            aggregate
        );
        assert_eq!(
            err("<fetch><entity name='mailbox'><attribute name='statecode' groupby='true'/></entity></fetch>"),
            aggregate
        );
        assert_eq!(
            err("<fetch><entity name='mailbox'><order alias='n'/></entity></fetch>"),
            aggregate
        );
        // aggregate='false' is an ordinary fetch.
        fetch("<fetch aggregate='false'><entity name='mailbox'/></fetch>");
        let link = "link-entity is not supported by this server yet; query each table separately.";
        assert_eq!(
            err("<fetch><entity name='mailbox'><link-entity name='systemuser' from='systemuserid' to='ownerid'/></entity></fetch>"),
            link
        );
        assert_eq!(
            err("<fetch><entity name='mailbox'><filter><condition entityname='u' attribute='fullname' operator='eq' value='x'/></filter></entity></fetch>"),
            link
        );
        assert_eq!(
            cond_err("<condition attribute='name' operator='eq' valueof='username'/>"),
            "Comparing two columns (valueof) is not supported by this server."
        );
        assert!(
            err("<fetch distinct='true'><entity name='mailbox'/></fetch>")
                .starts_with("distinct='true' is not supported")
        );
        assert_eq!(
            err("<fetch datasource='retained'><entity name='mailbox'/></fetch>"),
            "The 'datasource' attribute is not declared on the 'fetch' element."
        );
        assert_eq!(
            err("<fetch><entity name='mailbox'><foo/></entity></fetch>"),
            "The element 'entity' has invalid child element 'foo'."
        );
        assert_eq!(
            err("<fetch><entity name='mailbox'>text</entity></fetch>"),
            "The element 'entity' cannot contain text."
        );
        assert!(
            err("<fetch mapping='internal'><entity name='mailbox'/></fetch>")
                .contains("'internal'")
        );
        // Namespace declarations and saved-view hints are accepted.
        fetch(
            "<fetch xmlns:generator='MarkMpn.SQL4CDS' latematerialize='true'><entity name='mailbox'>\
             <filter isquickfindfields='1'><condition attribute='ownerid' operator='eq' uiname='Me' uitype='systemuser' value='{G}'/></filter>\
             </entity></fetch>"
                .replace("{G}", G)
                .as_str(),
        );
    }

    #[test]
    fn entity_errors() {
        assert_eq!(
            err("<fetch><entity name='account'/></fetch>"),
            "The entity with a name = 'account' with namemapping = 'Logical' was not found in \
             the MetadataCache."
        );
        // The entity set name is not a logical name.
        assert!(err("<fetch><entity name='mailboxes'/></fetch>").contains("name = 'mailboxes'"));
        assert_eq!(
            err("<fetch/>"),
            "The fetch element must contain exactly one entity element, not 0."
        );
        assert_eq!(
            err("<fetch><entity name='mailbox'/><entity name='queue'/></fetch>"),
            "The fetch element must contain exactly one entity element, not 2."
        );
        assert_eq!(
            err("<query><entity name='mailbox'/></query>"),
            "The root element of a fetchXml value must be 'fetch', not 'query'."
        );
        assert!(
            fetch("<fetch><entity name='emailserverprofile'/></fetch>").table
                == &EMAILSERVERPROFILE
        );
    }

    #[test]
    fn top_count_and_paging() {
        let q = fetch("<fetch top='10'><entity name='mailbox'/></fetch>");
        assert_eq!(
            (q.query.top, q.page, q.page_size, q.skip),
            (Some(10), 1, None, 0)
        );
        let q = fetch("<fetch count='50' page='3' returntotalrecordcount='true'><entity name='mailbox'/></fetch>");
        assert_eq!(
            (q.query.top, q.page, q.page_size, q.skip),
            (None, 3, Some(50), 100)
        );
        assert!(q.total_record_count && q.query.count);
        // Without count, pages are MAX_PAGE_SIZE rows.
        let q = fetch("<fetch page='2'><entity name='mailbox'/></fetch>");
        assert_eq!((q.page_size, q.skip), (None, 5000));
        // The simple paging limit: 10 pages of 5000 rows, no more.
        fetch("<fetch count='5000' page='10'><entity name='mailbox'/></fetch>");
        assert!(
            err("<fetch count='5000' page='11'><entity name='mailbox'/></fetch>")
                .starts_with("Paging by page number can't go past the first 50000 records")
        );
        assert!(
            err("<fetch count='1' page='4294967295'><entity name='mailbox'/></fetch>")
                .starts_with("Paging by page number")
        );
        for (xml, msg) in [
            ("<fetch top='5' page='1'>", "The top attribute can't be specified with paging attribute page"),
            ("<fetch top='5' count='5'>", "The top attribute can't be specified with paging attribute count"),
            ("<fetch top='5' returntotalrecordcount='true'>", "The top attribute can't be specified with returntotalrecordcount."),
            ("<fetch top='5001'>", "The 'top' attribute value 5001 is not valid: it must be between 1 and 5000."),
            ("<fetch top='0'>", "The 'top' attribute value 0 is not valid: it must be between 1 and 5000."),
            ("<fetch count='5001'>", "The 'count' attribute value 5001 is not valid: it must be between 1 and 5000."),
            ("<fetch page='0'>", "The 'page' attribute value 0 is not valid: it must be between 1 and 4294967295."),
            ("<fetch count='ten'>", "The 'count' attribute is invalid - The value 'ten' is invalid according to its datatype 'Int'."),
            ("<fetch returntotalrecordcount='yes'>", "The 'returntotalrecordcount' attribute is invalid - The value 'yes' is invalid according to its datatype 'Boolean'."),
        ] {
            assert_eq!(err(&format!("{xml}<entity name='mailbox'/></fetch>")), msg, "{xml}");
        }
    }

    #[test]
    fn paging_cookies_round_trip() {
        let order = [
            OrderKey {
                column: col("name"),
                descending: false,
            },
            OrderKey {
                column: col("mailboxid"),
                descending: false,
            },
        ];
        let last = [
            Value::Text("Contoso \"<&>\"".into()),
            Value::Guid(Guid::parse(G).unwrap()),
        ];
        let token = encode_skiptoken(&order, &last);
        let cookie = paging_cookie(1, &token);
        assert_eq!(
            cookie,
            format!("<cookie page=\"1\" mailsync-after=\"{token}\" />")
        );
        let with = |page: u32, cookie: &str| {
            let escaped = cookie
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('"', "&quot;");
            format!(
                "<fetch count='2' page='{page}' paging-cookie=\"{escaped}\"><entity name='mailbox'>\
                 <order attribute='name'/></entity></fetch>"
            )
        };
        let q = fetch(&with(2, &cookie));
        assert_eq!(q.query.after.as_deref(), Some(&last[..]));
        assert_eq!((q.page, q.skip), (2, 0));
        // A cookie for another page is ignored: paging by number.
        let q = fetch(&with(3, &cookie));
        assert_eq!((q.query.after, q.skip), (None, 4));
        // Dataverse's own cookies are ignored too.
        let theirs = "<cookie page=\"1\"><mailboxid last=\"{30717E9C-643F-ED11-9DB0-002248225E95}\" first=\"{20717E9C-643F-ED11-9DB0-002248225E95}\" /></cookie>";
        let q = fetch(&with(2, theirs));
        assert_eq!((q.query.after, q.skip), (None, 2));
        // A cookie issued for another order is refused rather than misapplied.
        let other = paging_cookie(1, &encode_skiptoken(&order[1..], &last[1..]));
        assert_eq!(
            err(&with(2, &other)),
            "The paging cookie is not valid for this query; request the first page again."
        );
        for bad in ["not xml", "<other/>", "<cookie mailsync-after='x'/>"] {
            assert_eq!(
                err(&with(2, bad)),
                "The paging-cookie attribute is not a valid paging cookie.",
                "{bad}"
            );
        }
    }

    #[test]
    fn paging_cookie_annotation_matches_dataverse() {
        // The example of Microsoft's "Page results using FetchXml" (Web API).
        let cookie = "<cookie page=\"1\"><fullname last=\"Robert Lyon (sample)\" first=\"Susanna \
                      Stubberod (sample)\" /><contactid last=\"{30717E9C-643F-ED11-9DB0-002248225E95}\" \
                      first=\"{20717E9C-643F-ED11-9DB0-002248225E95}\" /></cookie>";
        assert_eq!(
            fetchxml_paging_cookie_annotation(2, cookie),
            "<cookie pagenumber=\"2\" pagingcookie=\"%253ccookie%2520page%253d%25221%2522%253e%253cfullname%2520last%253d%2522Robert%2520Lyon%2520%2528sample%2529%2522%2520first%253d%2522Susanna%2520Stubberod%2520%2528sample%2529%2522%2520%252f%253e%253ccontactid%2520last%253d%2522%257b30717E9C-643F-ED11-9DB0-002248225E95%257d%2522%2520first%253d%2522%257b20717E9C-643F-ED11-9DB0-002248225E95%257d%2522%2520%252f%253e%253c%252fcookie%253e\" istracking=\"False\" />"
        );
        // Ours: base64url survives both encodings untouched.
        let a = fetchxml_paging_cookie_annotation(3, &paging_cookie(2, "eyJv-_x"));
        assert_eq!(
            a,
            "<cookie pagenumber=\"3\" pagingcookie=\"%253ccookie%2520page%253d%25222%2522%2520mailsync-after%253d%2522eyJv-_x%2522%2520%252f%253e\" istracking=\"False\" />"
        );
    }

    #[test]
    fn xml_limits_and_syntax() {
        let long = format!(
            "<fetch><entity name='mailbox'/><!--{}--></fetch>",
            "x".repeat(MAX_FETCH_LEN)
        );
        assert!(err(&long).starts_with("The fetchXml value is too long"));
        let nest = |n: usize| {
            let inner = "<filter>".repeat(n) + &"</filter>".repeat(n);
            format!("<fetch><entity name='mailbox'>{inner}</entity></fetch>")
        };
        fetch(&nest(MAX_FETCH_DEPTH - 2));
        assert_eq!(
            err(&nest(MAX_FETCH_DEPTH - 1)),
            "The fetchXml value nests elements more than 32 deep."
        );
        // Deep nesting is refused while reading, before any recursion.
        assert!(err(&nest(3000)).ends_with("more than 32 deep."));
        let cond = "<condition attribute='statecode' operator='eq' value='0'/>";
        filter_of(&cond.repeat(MAX_CONDITIONS));
        assert_eq!(
            cond_err(&cond.repeat(MAX_CONDITIONS + 1)),
            "The fetch has more than 500 conditions."
        );
        for bad in [
            "",
            "<fetch>",
            "<fetch><entity name='mailbox'></fetch>",
            "<fetch></entity></fetch>",
            "<fetch a='1' a='2'><entity name='mailbox'/></fetch>",
            "<fetch><entity name='mailbox'/></fetch><fetch/>",
            "<fetch><entity name='mailbox'/></fetch>tail",
            "<!DOCTYPE fetch [<!ENTITY x 'y'>]><fetch><entity name='mailbox'/></fetch>",
            "<fetch><entity name='&x;'/></fetch>",
        ] {
            assert!(
                err(bad).starts_with("The fetchXml value is not valid XML: "),
                "{bad}: {}",
                err(bad)
            );
        }
        // Declarations, comments, character references and CDATA are fine.
        let q = fetch(
            "<?xml version='1.0' encoding='utf-8'?><!-- c --><fetch>\
             <entity name='mailbox'><filter><condition attribute='name' operator='in'>\
             <value>&#65;&#x42;&lt;</value><value><![CDATA[<C>]]></value>\
             </condition></filter></entity></fetch>",
        );
        assert_eq!(
            q.query.filter,
            Some(Filter::Or(vec![
                cmp("name", CmpOp::Eq, Value::Text("AB<".into())),
                cmp("name", CmpOp::Eq, Value::Text("<C>".into())),
            ]))
        );
    }
}
