//! `$filter` text to tokens. Literals are typed here, because OData spells GUIDs and
//! dates bare: `9fb6600b-...` and `2024-05-06T10:00:00Z` are single tokens.

use super::value::{Guid, Value};
use super::ODataError;
use crate::time::Timestamp;

/// More tokens than this is not a filter a person or the console writes.
pub const MAX_TOKENS: usize = 2000;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok<'a> {
    LParen,
    RParen,
    Comma,
    Ident(&'a str),
    Lit(Value),
    Invalid(char),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token<'a> {
    pub tok: Tok<'a>,
    /// Byte offset into the filter text.
    pub at: usize,
}

/// Dataverse reports positions in characters.
pub(crate) fn char_pos(text: &str, byte: usize) -> usize {
    text.get(..byte).map_or(byte, |s| s.chars().count())
}

pub(crate) fn lex(text: &str) -> Result<Vec<Token<'_>>, ODataError> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if out.len() >= MAX_TOKENS {
            return Err(ODataError::new(format!(
                "The $filter expression is too long: more than {MAX_TOKENS} terms."
            )));
        }
        let at = i;
        let tok = match c {
            b'(' => {
                i += 1;
                Tok::LParen
            }
            b')' => {
                i += 1;
                Tok::RParen
            }
            b',' => {
                i += 1;
                Tok::Comma
            }
            b'\'' => {
                let (s, end) = string(text, i)?;
                i = end;
                Tok::Lit(Value::Text(s))
            }
            _ if guid_at(b, i) => {
                let g = Guid::parse(&text[i..i + 36]).expect("checked shape");
                i += 36;
                Tok::Lit(Value::Guid(g))
            }
            _ if date_at(b, i) => {
                let end = i + b[i..]
                    .iter()
                    .take_while(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, b'-' | b':' | b'.' | b'+')
                    })
                    .count();
                let lit = &text[i..end];
                i = end;
                Tok::Lit(Value::DateTime(date_time(lit)?))
            }
            b'0'..=b'9' | b'-'
                if b.get(i + usize::from(c == b'-'))
                    .is_some_and(u8::is_ascii_digit) =>
            {
                let (v, end) = number(text, i)?;
                i = end;
                Tok::Lit(v)
            }
            _ if c.is_ascii_alphabetic() || c == b'_' => {
                // Dots too, so `Microsoft.Dynamics.CRM.In(...)` is reported as an
                // unknown function rather than as a stray character.
                let end = i + b[i..]
                    .iter()
                    .take_while(|c| is_ident(**c) || **c == b'.')
                    .count();
                let word = &text[i..end];
                i = end;
                match word {
                    "null" => Tok::Lit(Value::Null),
                    "true" => Tok::Lit(Value::Bool(true)),
                    "false" => Tok::Lit(Value::Bool(false)),
                    _ => Tok::Ident(word),
                }
            }
            _ => {
                // Reported when the parser reaches it, so that errors come in reading
                // order (`Microsoft.Dynamics.CRM.In(PropertyName=...)` is an unknown
                // function before it is a stray `=`). Nothing after it matters.
                let ch = text[i..].chars().next().unwrap_or('?');
                out.push(Token {
                    tok: Tok::Invalid(ch),
                    at,
                });
                break;
            }
        };
        out.push(Token { tok, at });
    }
    Ok(out)
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// `'...'` with `''` for a quote; returns the text and the index after the closing quote.
fn string(text: &str, start: usize) -> Result<(String, usize), ODataError> {
    let b = text.as_bytes();
    let mut s = String::new();
    let mut i = start + 1;
    let mut run = i;
    loop {
        match b.get(i) {
            None => {
                return Err(ODataError::new(format!(
                    "Unterminated string literal at position {} in '{text}'.",
                    char_pos(text, start)
                )))
            }
            Some(b'\'') if b.get(i + 1) == Some(&b'\'') => {
                s.push_str(&text[run..=i]);
                i += 2;
                run = i;
            }
            Some(b'\'') => {
                s.push_str(&text[run..i]);
                return Ok((s, i + 1));
            }
            Some(_) => i += 1,
        }
    }
}

fn guid_at(b: &[u8], i: usize) -> bool {
    let Some(w) = b.get(i..i + 36) else {
        return false;
    };
    let shape = w.iter().enumerate().all(|(k, c)| {
        if matches!(k, 8 | 13 | 18 | 23) {
            *c == b'-'
        } else {
            c.is_ascii_hexdigit()
        }
    });
    shape && !b.get(i + 36).is_some_and(|c| is_ident(*c))
}

fn date_at(b: &[u8], i: usize) -> bool {
    b.get(i..i + 10).is_some_and(|w| {
        w.iter().enumerate().all(|(k, c)| {
            if k == 4 || k == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
    })
}

/// `yyyy-mm-dd` (midnight UTC) or a date-time with its zone, as Edm.DateTimeOffset needs.
fn date_time(lit: &str) -> Result<Timestamp, ODataError> {
    let bad = || {
        ODataError::new(format!(
            "The DateTimeOffset text '{lit}' should be in format \
             'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?' and each field value is within valid range."
        ))
    };
    let parsed = Timestamp::parse(lit).ok_or_else(bad)?;
    if lit.len() > 10 && !parsed.zoned {
        return Err(bad());
    }
    Ok(parsed.at)
}

fn number(text: &str, start: usize) -> Result<(Value, usize), ODataError> {
    let b = text.as_bytes();
    let mut i = start + usize::from(b[start] == b'-');
    let digits = |i: &mut usize| {
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
    };
    digits(&mut i);
    let mut decimal = false;
    if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        decimal = true;
        i += 1;
        digits(&mut i);
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if b.get(j).is_some_and(u8::is_ascii_digit) {
            decimal = true;
            i = j;
            digits(&mut i);
        }
    }
    let lit = &text[start..i];
    if b.get(i).is_some_and(|c| is_ident(*c) || *c == b'.') {
        return Err(ODataError::new(format!(
            "Syntax error at position {} in '{text}'.",
            char_pos(text, i)
        )));
    }
    let value = if decimal {
        lit.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Value::Decimal)
    } else {
        lit.parse::<i64>().ok().map(Value::Int)
    };
    let value = value.ok_or_else(|| {
        ODataError::new(format!(
            "The number '{lit}' at position {} in '{text}' is out of range.",
            char_pos(text, start)
        ))
    })?;
    Ok((value, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<Tok<'_>> {
        lex(text).unwrap().into_iter().map(|t| t.tok).collect()
    }

    fn err(text: &str) -> String {
        lex(text).unwrap_err().to_string()
    }

    #[test]
    fn literals() {
        let g = Guid::parse("9fb6600b-0965-e811-a97f-000d4a161089").unwrap();
        assert_eq!(
            toks("x eq 'it''s' 12 -7 1.5 -0.25 2e3 true false null 9fb6600b-0965-e811-a97f-000d4a161089"),
            vec![
                Tok::Ident("x"),
                Tok::Ident("eq"),
                Tok::Lit(Value::Text("it's".into())),
                Tok::Lit(Value::Int(12)),
                Tok::Lit(Value::Int(-7)),
                Tok::Lit(Value::Decimal(1.5)),
                Tok::Lit(Value::Decimal(-0.25)),
                Tok::Lit(Value::Decimal(2000.0)),
                Tok::Lit(Value::Bool(true)),
                Tok::Lit(Value::Bool(false)),
                Tok::Lit(Value::Null),
                Tok::Lit(Value::Guid(g)),
            ]
        );
        // A GUID may start with letters; it is still one literal, not an identifier.
        assert_eq!(
            toks("abcdef01-0965-e811-a97f-000d4a161089)"),
            vec![
                Tok::Lit(Value::Guid(
                    Guid::parse("abcdef01-0965-e811-a97f-000d4a161089").unwrap()
                )),
                Tok::RParen
            ]
        );
        assert_eq!(toks("''"), vec![Tok::Lit(Value::Text(String::new()))]);
        assert_eq!(toks("'é ü'"), vec![Tok::Lit(Value::Text("é ü".into()))]);
    }

    #[test]
    fn dates() {
        let at = |s| Tok::Lit(Value::DateTime(Timestamp::parse(s).unwrap().at));
        assert_eq!(
            toks("2024-05-06T10:00:00Z"),
            vec![at("2024-05-06T10:00:00Z")]
        );
        assert_eq!(
            toks("2024-05-06T12:00:00+02:00)"),
            vec![at("2024-05-06T10:00:00Z"), Tok::RParen]
        );
        assert_eq!(
            toks("2024-05-06T10:00:00.123Z"),
            vec![at("2024-05-06T10:00:00Z")]
        );
        assert_eq!(toks("2024-05-06"), vec![at("2024-05-06T00:00:00Z")]);
        assert!(err("2024-05-06T10:00:00").contains("should be in format"));
        assert!(err("2024-13-06T10:00:00Z").contains("'2024-13-06T10:00:00Z'"));
    }

    #[test]
    fn errors() {
        assert_eq!(
            err("name eq 'abc"),
            "Unterminated string literal at position 8 in 'name eq 'abc'."
        );
        assert_eq!(
            toks("name ^ 'x"),
            vec![Tok::Ident("name"), Tok::Invalid('^')]
        );
        assert_eq!(toks("é eq 1"), vec![Tok::Invalid('é')]);
        assert_eq!(
            err("x eq 12abc"),
            "Syntax error at position 7 in 'x eq 12abc'."
        );
        assert!(err("x eq 99999999999999999999").contains("out of range"));
        assert_eq!(toks("x - 1"), vec![Tok::Ident("x"), Tok::Invalid('-')]);
        let long = "x eq 1 or ".repeat(MAX_TOKENS);
        assert!(err(&long).contains("too long"));
    }
}
