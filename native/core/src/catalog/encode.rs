//! Small conversions between the API's values and what the catalog stores.
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch; a clock before 1970 counts as 0 rather than failing a scan.
pub(super) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Whether `s` is an OSTree SHA-256 checksum as ostree prints it: 64 lowercase hex digits.
pub(super) fn is_checksum(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A checksum as its 32 bytes; `None` if it is not a checksum.
pub(super) fn checksum_bytes(s: &str) -> Option<[u8; 32]> {
    if !is_checksum(s) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in s.as_bytes().chunks(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

fn nibble(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// PIDs as a JSON array, so the column stays readable with `sqlite3` and `json_each`.
pub(super) fn pids_json(pids: &[u32]) -> String {
    let items: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
    format!("[{}]", items.join(","))
}

/// Parse what `pids_json` wrote. SQLite has already checked it is valid JSON; anything but
/// an array of non-negative integers is reported, not guessed at.
pub(super) fn parse_pids_json(s: &str) -> Result<Vec<u32>, String> {
    let inner = s
        .trim()
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .ok_or_else(|| format!("pids are not a JSON array: {s:?}"))?;
    if inner.trim().is_empty() {
        return Ok(Vec::new());
    }
    inner
        .split(',')
        .map(|item| {
            item.trim()
                .parse::<u32>()
                .map_err(|_| format!("pids are not an array of integers: {s:?}"))
        })
        .collect()
}

/// A UTC timestamp `YYYYMMDDTHHMMSSZ` for the name a damaged catalog is moved aside to.
pub(super) fn utc_stamp(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = crate::civil::civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// A JSON array of strings (the messages are ours, but paths in them may hold anything).
pub(super) fn json_strings(items: &[String]) -> String {
    let mut out = String::from("[");
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push(']');
    out
}

/// The strings of an array `json_strings` wrote, read with SQLite's own JSON functions.
pub(super) fn strings_of_json(
    conn: &rusqlite::Connection,
    json: &str,
) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT value FROM json_each(?1)")?;
    let rows = stmt.query_map([json], |r| r.get::<_, String>(0))?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_round_trip() {
        let s = "0123456789abcdef".repeat(4);
        let bytes = checksum_bytes(&s).expect("valid checksum");
        assert_eq!(hex(&bytes), s);
        assert!(checksum_bytes(&s.to_uppercase()).is_none());
        assert!(checksum_bytes(&s[..62]).is_none());
        assert!(checksum_bytes(&format!("{}g", &s[..63])).is_none());
    }

    #[test]
    fn pids_round_trip() {
        for pids in [vec![], vec![1], vec![4_000_000, 2, 77]] {
            assert_eq!(parse_pids_json(&pids_json(&pids)).unwrap(), pids);
        }
        assert!(parse_pids_json("{\"a\":1}").is_err());
        assert!(parse_pids_json("[1,-2]").is_err());
    }

    #[test]
    fn utc_stamps() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        // 2024-02-29 12:34:56 UTC, a leap day.
        assert_eq!(utc_stamp(1_709_210_096), "20240229T123456Z");
    }
}
