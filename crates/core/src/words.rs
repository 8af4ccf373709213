//! The small grammar of the sentences core writes: a count with the right form of its
//! noun ("1 cycle", "3 cycles"), and text quoted into a sentence without doubling its
//! full stop ("… (401) Unauthorized." never becomes "Unauthorized..").

/// `n` and the noun: `one` for exactly 1, `many` otherwise ("0 items", "1 item").
pub fn count(n: i64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `text` without its closing full stops and trailing spaces, to go on inside a sentence.
pub fn unstop(text: &str) -> &str {
    text.trim_end().trim_end_matches('.').trim_end()
}

/// `text` as the end of a sentence: its own `.`, `!` or `?` kept, else one `.` added.
pub fn sentence(text: &str) -> String {
    let t = text.trim_end();
    if t.ends_with(['!', '?']) {
        return t.to_string();
    }
    let mut s = unstop(t).to_string();
    s.push('.');
    s
}

/// "a", "a and b", "a, b and c".
pub fn list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The first letter in upper case.
pub fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(count(1, "cycle", "cycles"), "1 cycle");
        assert_eq!(count(0, "cycle", "cycles"), "0 cycles");
        assert_eq!(count(3, "item", "items"), "3 items");
        assert_eq!(count(-5, "minute", "minutes"), "-5 minutes");
    }

    #[test]
    fn sentences_end_with_one_full_stop() {
        assert_eq!(
            sentence("The remote server returned an error: (401) Unauthorized."),
            "The remote server returned an error: (401) Unauthorized."
        );
        assert_eq!(sentence("no stop"), "no stop.");
        assert_eq!(sentence("two.. "), "two.");
        assert_eq!(sentence("Really?"), "Really?");
        assert_eq!(unstop("Unauthorized. "), "Unauthorized");
    }

    #[test]
    fn lists_and_capitals() {
        assert_eq!(list(&["a"]), "a");
        assert_eq!(list(&["a", "b"]), "a and b");
        assert_eq!(list(&["a", "b", "c"]), "a, b and c");
        assert_eq!(capitalize("incoming email"), "Incoming email");
        assert_eq!(capitalize(""), "");
    }
}
