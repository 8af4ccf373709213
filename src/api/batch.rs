//! `$batch` requests in Dataverse's format (OData multipart/mixed), as plain
//! functions: [`build`] writes the body of one batch, [`parse`] reads the answer.
//! No I/O here, so the host unit tests cover both.
//!
//! Independent operations go directly in the batch (no change set), sent with
//! `Prefer: odata.continue-on-error`, so one refusal does not stop the rest; their
//! responses come back in the same order.

/// Most operations Dataverse accepts in one `$batch`.
pub const MAX_OPS: usize = 1000;

/// One operation of a batch: `method` on `url` (e.g. `/api/data/v9.2/mailboxes(<id>)`)
/// with an optional JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub method: &'static str,
    pub url: String,
    pub body: Option<String>,
    /// The operation's own `Prefer` header (e.g. a read's page size).
    pub prefer: Option<&'static str>,
}

impl Op {
    pub fn get(url: String) -> Self {
        Op {
            method: "GET",
            url,
            body: None,
            prefer: None,
        }
    }

    pub fn patch(url: String, body: String) -> Self {
        Op {
            method: "PATCH",
            url,
            body: Some(body),
            prefer: None,
        }
    }

    pub fn delete(url: String) -> Self {
        Op {
            method: "DELETE",
            url,
            body: None,
            prefer: None,
        }
    }
}

/// One response part: HTTP status and body (a Dataverse error for failures).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub status: u16,
    pub body: String,
}

/// The `Content-Type` header of a batch request with this boundary.
pub fn content_type(boundary: &str) -> String {
    format!("multipart/mixed; boundary={boundary}")
}

/// The multipart body of one batch of independent operations.
pub fn build(boundary: &str, ops: &[Op]) -> String {
    let mut out = String::with_capacity(ops.len() * 200 + 64);
    for op in ops {
        out.push_str("--");
        out.push_str(boundary);
        out.push_str(
            "\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n",
        );
        out.push_str(op.method);
        out.push(' ');
        out.push_str(&op.url);
        out.push_str(" HTTP/1.1\r\n");
        if let Some(prefer) = op.prefer {
            out.push_str("Prefer: ");
            out.push_str(prefer);
            out.push_str("\r\n");
        }
        match &op.body {
            Some(body) => {
                out.push_str("Content-Type: application/json; type=entry\r\n\r\n");
                out.push_str(body);
                out.push_str("\r\n");
            }
            None => out.push_str("\r\n"),
        }
    }
    out.push_str("--");
    out.push_str(boundary);
    out.push_str("--\r\n");
    out
}

/// The `boundary` parameter of a multipart `Content-Type` header.
pub fn boundary_of(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// Splits a multipart body into its parts (each still with its headers).
fn split_parts<'a>(body: &'a str, boundary: &str) -> Vec<&'a str> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut pieces = body.split(delimiter.as_str());
    pieces.next(); // preamble
    for piece in pieces {
        if piece.starts_with("--") {
            break; // close delimiter
        }
        let piece = piece
            .strip_prefix("\r\n")
            .or_else(|| piece.strip_prefix('\n'))
            .unwrap_or(piece);
        parts.push(piece);
    }
    parts
}

/// Headers and the rest after the first blank line.
fn split_head(text: &str) -> (&str, &str) {
    if let Some(i) = text.find("\r\n\r\n") {
        (&text[..i], &text[i + 4..])
    } else if let Some(i) = text.find("\n\n") {
        (&text[..i], &text[i + 2..])
    } else {
        (text, "")
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Reads a batch response: one [`Part`] per answered operation, in order (change set
/// responses are flattened). Operations missing at the end were not run.
pub fn parse(content_type: &str, body: &str) -> Result<Vec<Part>, String> {
    let boundary = boundary_of(content_type)
        .ok_or_else(|| format!("The batch answer is not multipart ({content_type})."))?;
    let mut out = Vec::new();
    parse_into(body, &boundary, &mut out)?;
    Ok(out)
}

fn parse_into(body: &str, boundary: &str, out: &mut Vec<Part>) -> Result<(), String> {
    for part in split_parts(body, boundary) {
        let (head, rest) = split_head(part);
        let kind = header(head, "Content-Type").unwrap_or("");
        if kind.to_ascii_lowercase().starts_with("multipart/mixed") {
            let inner = boundary_of(kind).ok_or("A change set answer has no boundary.")?;
            parse_into(rest, &inner, out)?;
            continue;
        }
        let (http_head, http_body) = split_head(rest);
        let status_line = http_head.lines().next().unwrap_or("");
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| {
                format!("Unreadable status line in the batch answer: {status_line:?}")
            })?;
        let body = http_body.trim_end_matches(['\r', '\n']).to_string();
        out.push(Part { status, body });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(id: &str, body: &str) -> Op {
        Op::patch(format!("/api/data/v9.2/mailboxes({id})"), body.to_string())
    }

    #[test]
    fn builds_dataverse_multipart() {
        let body = build("batch_1", &[op("a", "{\"x\":1}"), op("b", "{\"x\":2}")]);
        assert_eq!(
            body,
            "--batch_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
             PATCH /api/data/v9.2/mailboxes(a) HTTP/1.1\r\nContent-Type: application/json; type=entry\r\n\r\n{\"x\":1}\r\n\
             --batch_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
             PATCH /api/data/v9.2/mailboxes(b) HTTP/1.1\r\nContent-Type: application/json; type=entry\r\n\r\n{\"x\":2}\r\n\
             --batch_1--\r\n"
        );
        assert_eq!(content_type("b"), "multipart/mixed; boundary=b");
    }

    #[test]
    fn reads_boundaries() {
        assert_eq!(
            boundary_of("multipart/mixed; boundary=batchresponse_1").as_deref(),
            Some("batchresponse_1")
        );
        assert_eq!(
            boundary_of("multipart/mixed;boundary=\"x y\"").as_deref(),
            Some("x y")
        );
        assert_eq!(boundary_of("application/json"), None);
    }

    #[test]
    fn parses_responses_in_order() {
        let body = "--batchresponse_9\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
            HTTP/1.1 204 No Content\r\nOData-Version: 4.0\r\n\r\n\r\n\
            --batchresponse_9\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n\
            HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n\r\n{\"error\":{\"code\":\"0x1\",\"message\":\"No.\"}}\r\n\
            --batchresponse_9--\r\n";
        let parts = parse("multipart/mixed; boundary=batchresponse_9", body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].status, 204);
        assert_eq!(parts[0].body, "");
        assert_eq!(parts[1].status, 403);
        assert_eq!(
            parts[1].body,
            "{\"error\":{\"code\":\"0x1\",\"message\":\"No.\"}}"
        );
    }

    #[test]
    fn flattens_change_sets_and_accepts_bare_newlines() {
        let body = "--b\nContent-Type: multipart/mixed; boundary=c\n\n\
            --c\nContent-Type: application/http\n\nHTTP/1.1 204 No Content\n\n\n\
            --c\nContent-Type: application/http\n\nHTTP/1.1 200 OK\n\n{}\n--c--\n\
            --b--\n";
        let parts = parse("multipart/mixed; boundary=b", body).unwrap();
        assert_eq!(
            parts.iter().map(|p| p.status).collect::<Vec<_>>(),
            vec![204, 200]
        );
        assert_eq!(parts[1].body, "{}");
    }

    #[test]
    fn refuses_what_is_not_a_batch() {
        assert!(parse("application/json", "{}").is_err());
        assert!(parse(
            "multipart/mixed; boundary=b",
            "--b\r\n\r\nnot http\r\n--b--"
        )
        .is_err());
        assert_eq!(
            parse("multipart/mixed; boundary=b", "--b--").unwrap(),
            vec![]
        );
    }
}
