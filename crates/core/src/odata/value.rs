//! Typed literal values: what a filter compares with and what a paging cursor holds.

use std::fmt;

use crate::time::Timestamp;

/// A GUID, written lowercase and hyphenated (the form the store keeps and compares).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid(pub u128);

impl Guid {
    /// Exactly `8-4-4-4-12` hex digits, either case; no braces, as in OData URLs.
    pub fn parse(text: &str) -> Option<Guid> {
        let b = text.as_bytes();
        if b.len() != 36 {
            return None;
        }
        let mut v: u128 = 0;
        for (i, &c) in b.iter().enumerate() {
            if matches!(i, 8 | 13 | 18 | 23) {
                if c != b'-' {
                    return None;
                }
                continue;
            }
            let d = (c as char).to_digit(16)?;
            v = (v << 4) | u128::from(d);
        }
        Some(Guid(v))
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = format!("{:032x}", self.0);
        write!(
            f,
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Decimal(f64),
    Text(String),
    Guid(Guid),
    DateTime(Timestamp),
}

impl Value {
    /// The EDM type name of a literal, for error messages.
    pub fn edm(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "Edm.Boolean",
            Value::Int(i) if i32::try_from(*i).is_ok() => "Edm.Int32",
            Value::Int(_) => "Edm.Int64",
            Value::Decimal(_) => "Edm.Decimal",
            Value::Text(_) => "Edm.String",
            Value::Guid(_) => "Edm.Guid",
            Value::DateTime(_) => "Edm.DateTimeOffset",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_round_trip() {
        let g = Guid::parse("9FB6600B-0965-E811-A97F-000D4A161089").unwrap();
        assert_eq!(g.to_string(), "9fb6600b-0965-e811-a97f-000d4a161089");
        assert_eq!(Guid::parse(&g.to_string()), Some(g));
        assert_eq!(Guid(0).to_string(), "00000000-0000-0000-0000-000000000000");
        for bad in [
            "",
            "9fb6600b0965e811a97f000d4a161089",
            "9fb6600b-0965-e811-a97f-000d4a16108",
            "9fb6600b-0965-e811-a97f-000d4a16108g",
            "{9fb6600b-0965-e811-a97f-000d4a16108}",
            "9fb6600b-0965-e811-a97f+000d4a161089",
        ] {
            assert_eq!(Guid::parse(bad), None, "{bad}");
        }
    }
}
