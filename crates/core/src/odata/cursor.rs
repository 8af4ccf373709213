//! `$skiptoken`: the keyset paging cursor inside `@odata.nextLink`.
//!
//! Encoding: base64url without padding of the JSON object
//! `{"o":["name desc","mailboxid"],"v":["Contoso",null,...]}` where `o` is the query's
//! effective order (property names, ` desc` when descending) and `v` the previous page's
//! last row, one value per key: null, a boolean, a number, or a string (GUIDs lowercase,
//! dates RFC 3339). The next page is the rows strictly after `v` in that order.
//! Clients treat it as opaque; a token that does not match the query's order is refused
//! rather than silently paging some other sort.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value as Json};

use super::query::OrderKey;
use super::value::{Guid, Value};
use super::ODataError;
use crate::model::Kind;
use crate::time::Timestamp;

/// Far longer than any real token (eight keys of long text); refuse before decoding.
const MAX_TOKEN_LEN: usize = 16 * 1024;

fn signature(order: &[OrderKey]) -> Vec<Json> {
    order
        .iter()
        .map(|k| {
            let p = k.column.property();
            Json::String(if k.descending { p + " desc" } else { p })
        })
        .collect()
}

/// The token for the rows after `last` (one value per `order` key, in that order).
pub fn encode_skiptoken(order: &[OrderKey], last: &[Value]) -> String {
    debug_assert_eq!(order.len(), last.len(), "one value per order key");
    let values: Vec<Json> = last
        .iter()
        .map(|v| match v {
            Value::Null => Json::Null,
            Value::Bool(b) => json!(b),
            Value::Int(i) => json!(i),
            Value::Decimal(f) => json!(f),
            Value::Text(s) => json!(s),
            Value::Guid(g) => json!(g.to_string()),
            Value::DateTime(t) => json!(t.to_rfc3339()),
        })
        .collect();
    let body = json!({ "o": signature(order), "v": values });
    URL_SAFE_NO_PAD.encode(body.to_string())
}

pub fn decode_skiptoken(token: &str, order: &[OrderKey]) -> Result<Vec<Value>, ODataError> {
    let invalid = || {
        ODataError::new(
            "The $skiptoken value is not valid for this query; request the first page again.",
        )
    };
    let token = token.trim();
    if token.len() > MAX_TOKEN_LEN {
        return Err(invalid());
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let body: Json = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if body.get("o") != Some(&Json::Array(signature(order))) {
        return Err(invalid());
    }
    let values = body.get("v").and_then(Json::as_array).ok_or_else(invalid)?;
    if values.len() != order.len() {
        return Err(invalid());
    }
    let key = order.last().map(|k| k.column);
    order
        .iter()
        .zip(values)
        .map(|(k, v)| {
            let value = match (k.column.kind, v) {
                (_, Json::Null) if Some(k.column) != key => Some(Value::Null),
                (Kind::Guid | Kind::Lookup(_), Json::String(s)) => Guid::parse(s).map(Value::Guid),
                (Kind::Text, Json::String(s)) => Some(Value::Text(s.clone())),
                (Kind::Int | Kind::Choice, Json::Number(n)) => n.as_i64().map(Value::Int),
                (Kind::Decimal, Json::Number(n)) => n.as_f64().map(Value::Decimal),
                (Kind::Bool, Json::Bool(b)) => Some(Value::Bool(*b)),
                (Kind::DateTime, Json::String(s)) => Timestamp::parse(s)
                    .filter(|p| p.zoned)
                    .map(|p| Value::DateTime(p.at)),
                _ => None,
            };
            value.ok_or_else(invalid)
        })
        .collect()
}
