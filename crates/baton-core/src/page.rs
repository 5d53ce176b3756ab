//! Cursor pagination shared by every list: the cursor is opaque to clients (hex of the last row's sort key).

use crate::error::{Error, ErrorCode};

pub const DEFAULT_PAGE_SIZE: u32 = 100;
pub const MAX_PAGE_SIZE: u32 = 1000;

/// One page of a list, with the cursor that continues it (absent on the last page).
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Makes a page from a query that fetched `limit + 1` rows: the extra row only says that more follow, and
    /// the cursor then continues after the last row kept.
    pub fn from_overfetch(mut items: Vec<T>, limit: u32, sort_key: impl Fn(&T) -> Vec<String>) -> Self {
        let has_more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next_cursor = if has_more {
            items.last().map(|last| {
                let parts = sort_key(last);
                encode_cursor(&parts.iter().map(String::as_str).collect::<Vec<_>>())
            })
        } else {
            None
        };
        Self { items, next_cursor }
    }
}

/// Encodes sort-key parts into an opaque cursor.
pub fn encode_cursor(parts: &[&str]) -> String {
    let joined = parts.join("\u{0}");
    joined.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Decodes a cursor made by [`encode_cursor`], refusing anything else with a clear error.
pub fn decode_cursor(cursor: &str, expected_parts: usize) -> Result<Vec<String>, Error> {
    let bad = || Error::invalid(ErrorCode::InvalidArgument, "cursor is not one this server issued");
    if !cursor.len().is_multiple_of(2) || cursor.len() > 4096 {
        return Err(bad());
    }
    // Pairs of bytes, not of characters: a client's cursor may hold any UTF-8, and slicing the string at an odd
    // byte could split a character (a panic).
    let hex_byte = |pair: &[u8]| {
        let digits = std::str::from_utf8(pair).ok().filter(|digits| digits.bytes().all(|b| b.is_ascii_hexdigit()))?;
        u8::from_str_radix(digits, 16).ok()
    };
    let bytes = cursor
        .as_bytes()
        .chunks_exact(2)
        .map(|pair| hex_byte(pair).ok_or_else(bad))
        .collect::<Result<Vec<u8>, Error>>()?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let parts: Vec<String> = text.split('\u{0}').map(str::to_owned).collect();
    if parts.len() != expected_parts {
        return Err(bad());
    }
    Ok(parts)
}

/// Clamps a requested page size into `1..=MAX_PAGE_SIZE`.
pub fn page_size(requested: Option<u32>) -> Result<u32, Error> {
    match requested {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(0) => Err(Error::invalid(ErrorCode::InvalidArgument, "limit must be at least 1")),
        Some(n) if n > MAX_PAGE_SIZE => {
            Err(Error::invalid(ErrorCode::InvalidArgument, format!("limit must be at most {MAX_PAGE_SIZE}")))
        }
        Some(n) => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_foreign_text() {
        let cursor = encode_cursor(&["orders/1", "0190"]);
        assert_eq!(decode_cursor(&cursor, 2).unwrap(), vec!["orders/1", "0190"]);
        assert!(decode_cursor("zz", 2).is_err());
        assert!(decode_cursor("+f", 1).is_err(), "two hex digits a byte, no sign");
        // An even number of bytes whose pairs split a character: refused, not a panic.
        assert!(decode_cursor("a\u{20ac}", 1).is_err());
        assert!(decode_cursor("\u{20ac}\u{20ac}", 1).is_err());
        assert!(decode_cursor(&encode_cursor(&["one"]), 2).is_err());
    }

    #[test]
    fn an_overfetched_row_means_a_cursor_after_the_last_row_kept() {
        let key = |n: &u32| vec![n.to_string()];
        let more = Page::from_overfetch(vec![1, 2, 3], 2, key);
        assert_eq!((more.items, more.next_cursor), (vec![1, 2], Some(encode_cursor(&["2"]))));
        let last = Page::from_overfetch(vec![1, 2], 2, key);
        assert_eq!((last.items, last.next_cursor), (vec![1, 2], None));
    }
}
