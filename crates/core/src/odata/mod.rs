//! The OData (Dataverse Web API v9.2) query options the console sends, parsed into
//! typed values and checked against a [`Table`](crate::model::Table) of the model. No
//! SQL here: the server translates a [`Query`] for its store; another store could too.
//!
//! ```
//! use mailsync_core::model::{Column, Kind, Table};
//! use mailsync_core::odata::parse_query;
//!
//! static MAILBOX: Table = Table {
//!     logical: "mailbox",
//!     entity_set: "mailboxes",
//!     key: "mailboxid",
//!     primary_name: "name",
//!     columns: &[
//!         Column::new("mailboxid", Kind::Guid),
//!         Column::new("name", Kind::Text),
//!         Column::new("emailserverprofile", Kind::Lookup(&["emailserverprofile"])),
//!         Column::new("password", Kind::Text).write_only(),
//!     ],
//! };
//! let q = parse_query(&MAILBOX, "$select=name&$filter=startswith(name,'Sales')&$orderby=name desc").unwrap();
//! assert_eq!(q.order.len(), 2); // name desc, then mailboxid as the tiebreaker
//! let err = parse_query(&MAILBOX, "$filter=foo eq 1").unwrap_err();
//! assert_eq!(err.message(), "Could not find a property named 'foo' on type 'Microsoft.Dynamics.CRM.mailbox'.");
//! ```

mod apply;
mod cursor;
mod expand;
mod fetchxml;
mod filter;
mod lex;
mod query;
mod value;

use std::fmt;

pub use apply::{
    parse_apply, Aggregate, AggregateMethod, Apply, AGGREGATE_RECORD_LIMIT,
    AGGREGATE_RECORD_LIMIT_CODE, AGGREGATE_RECORD_LIMIT_MESSAGE,
};
pub use cursor::{decode_skiptoken, encode_skiptoken};
pub use expand::{one_to_many, parse_expand, Expand, Navigation, OneToMany, MAX_EXPANDS};
pub use fetchxml::{
    fetchxml_paging_cookie_annotation, paging_cookie, parse_fetch, FetchQuery, MAX_CONDITIONS,
    MAX_FETCH_DEPTH, MAX_FETCH_LEN, MAX_SIMPLE_PAGING_ROWS,
};
pub use filter::{parse_filter, CmpOp, Filter, TextFn, MAX_DEPTH};
pub use lex::MAX_TOKENS;
pub use query::{
    parse_orderby, parse_prefer, parse_query, parse_query_pairs, parse_select, parse_top,
    percent_decode, OrderKey, Prefer, Query, MAX_ORDER_KEYS, MAX_PAGE_SIZE, MAX_TOP,
};
pub use value::{Guid, Value};

/// A query Dataverse would refuse with 400. Every such error has the same code;
/// the message says what is wrong, in Dataverse's words where they are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ODataError {
    message: String,
}

impl ODataError {
    /// The code Dataverse answers for query syntax and metadata errors.
    pub const CODE: &'static str = "0x80060888";

    pub(crate) fn new(message: impl Into<String>) -> Self {
        ODataError {
            message: message.into(),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn code(&self) -> &'static str {
        Self::CODE
    }

    /// The body of the 400 answer: `{"error":{"code":"0x80060888","message":...}}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "error": { "code": Self::CODE, "message": self.message } })
    }
}

impl fmt::Display for ODataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ODataError {}

#[cfg(test)]
mod tests;
