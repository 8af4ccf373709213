//! Bytes to text: Mailbox Details logs arrive as UTF-8 (with or without BOM) or, after a
//! round trip through Notepad, UTF-16 with a BOM. Anything else binary is refused here,
//! before the parser, with a reason an administrator understands.

use std::borrow::Cow;

/// Decodes `bytes`, or says why they are not a text log.
pub fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, String> {
    if bytes.is_empty() {
        return Err("the file is empty".to_string());
    }
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return Ok(utf8(rest));
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return Ok(Cow::Owned(utf16(rest, u16::from_le_bytes)));
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return Ok(Cow::Owned(utf16(rest, u16::from_be_bytes)));
    }
    if let Some(kind) = known_binary(bytes) {
        return Err(format!("this is {kind}, not a Mailbox Details log"));
    }
    let head = &bytes[..bytes.len().min(4096)];
    let has_nul = memchr::memchr(0, head).is_some();
    // UTF-16 without a BOM shows as ASCII interleaved with NULs.
    if let Some(le) = has_nul.then(|| bomless_utf16(bytes)).flatten() {
        let conv = if le {
            u16::from_le_bytes
        } else {
            u16::from_be_bytes
        };
        return Ok(Cow::Owned(utf16(bytes, conv)));
    }
    let sample = &head[..head.len().min(512)];
    let controls = sample
        .iter()
        .filter(|&&b| b < 0x09 || (0x0E..0x20).contains(&b))
        .count();
    if has_nul || controls * 20 > sample.len() {
        return Err(
            "this is not text (it holds NUL or other control bytes), so not a Mailbox Details log (a text .log file)"
                .to_string(),
        );
    }
    Ok(utf8(bytes))
}

/// Strict validation first: it is much faster than the lossy path for valid text.
fn utf8(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

fn utf16(bytes: &[u8], conv: fn([u8; 2]) -> u16) -> String {
    let units = bytes.chunks_exact(2).map(|c| conv([c[0], c[1]]));
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

fn bomless_utf16(bytes: &[u8]) -> Option<bool> {
    let head = &bytes[..bytes.len().min(512) & !1];
    if head.len() < 8 {
        return None;
    }
    let pairs = head.len() / 2;
    let odd_zero = head.iter().skip(1).step_by(2).filter(|&&b| b == 0).count();
    let even_zero = head.iter().step_by(2).filter(|&&b| b == 0).count();
    if odd_zero * 10 >= pairs * 9 && even_zero == 0 {
        Some(true)
    } else if even_zero * 10 >= pairs * 9 && odd_zero == 0 {
        Some(false)
    } else {
        None
    }
}

/// What a file is, named only from its complete signature (the bytes its format
/// starts with); anything else is left to the text checks.
fn known_binary(b: &[u8]) -> Option<&'static str> {
    // (signature, what it is, whether the signature could also start a text file, in
    // which case a NUL in the header must confirm it)
    const MAGIC: &[(&[u8], &str, bool)] = &[
        (b"\x89PNG\r\n\x1a\n", "a PNG image", false),
        (b"\xFF\xD8\xFF", "a JPEG image", false),
        (b"GIF87a", "a GIF image", false),
        (b"GIF89a", "a GIF image", false),
        (b"%PDF-", "a PDF document", false),
        (
            b"PK\x03\x04",
            "a ZIP archive (or an Office document)",
            false,
        ),
        (b"\x1F\x8B", "a gzip archive", false),
        (b"\x7FELF", "a program (ELF binary)", false),
        (b"BM", "a bitmap image", true),
        (b"MZ", "a Windows program", true),
    ];
    let header_has_nul = || b[..b.len().min(64)].contains(&0);
    MAGIC
        .iter()
        .find(|(m, _, short)| b.starts_with(m) && (!short || header_has_nul()))
        .map(|(_, kind, _)| *kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le_bom(s: &str) -> Vec<u8> {
        let mut v = vec![0xFF, 0xFE];
        v.extend(s.encode_utf16().flat_map(|u| u.to_le_bytes()));
        v
    }

    #[test]
    fn bom_variants() {
        assert_eq!(
            decode(b"\xEF\xBB\xBFmailboxid : x").unwrap(),
            "mailboxid : x"
        );
        assert_eq!(
            decode(&utf16le_bom("hostid: Null")).unwrap(),
            "hostid: Null"
        );
        let mut be = vec![0xFE, 0xFF];
        be.extend("ok é".encode_utf16().flat_map(|u| u.to_be_bytes()));
        assert_eq!(decode(&be).unwrap(), "ok é");
    }

    #[test]
    fn bomless_utf16_le() {
        let v: Vec<u8> = "mailboxid : 123456"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert_eq!(decode(&v).unwrap(), "mailboxid : 123456");
    }

    #[test]
    fn binary_is_refused_with_reason() {
        assert!(decode(b"\x89PNG\r\n\x1a\n\0\0")
            .unwrap_err()
            .contains("PNG image"));
        assert!(decode(b"abc\0\x01\x02\x03def")
            .unwrap_err()
            .contains("not text"));
        assert!(decode(b"").unwrap_err().contains("empty"));
    }

    #[test]
    fn only_a_full_signature_names_a_format() {
        // Text that merely starts like a signature is text.
        for text in [
            &b"\x89PNG is how a PNG file starts"[..],
            b"GIF8 is not a GIF",
            b"%PDF is not a PDF",
            b"BM is a bitmap only with binary after it",
            b"MZ too",
            b"PK is not a ZIP",
        ] {
            assert!(decode(text).is_ok(), "{:?}", String::from_utf8_lossy(text));
        }
        assert!(decode(b"GIF89a\x01\0\x01\0")
            .unwrap_err()
            .contains("GIF image"));
        assert!(decode(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n")
            .unwrap_err()
            .contains("PDF document"));
        let err = decode(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap_err();
        assert!(err.starts_with("this is a PNG image"), "{err}");
    }

    #[test]
    fn invalid_utf8_text_is_kept_lossily() {
        assert_eq!(decode(b"name : Andr\xE9").unwrap(), "name : Andr\u{FFFD}");
    }
}
