//! GLib key files (`.origin`, the repo's `config`): `[group]` headers and `key=value` lines.
//! The parser takes bytes; reading the file is the caller's business.
use crate::error::ParseError;

/// A parsed GLib key file, kept in file order so a lookup takes the last value as GLib does.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KeyFile {
    /// Groups in file order; each holds its keys in file order.
    pub groups: Vec<(String, Vec<(String, String)>)>,
}

impl KeyFile {
    /// The value of `key` in `[group]`, if set.
    pub fn get(&self, group: &str, key: &str) -> Option<&str> {
        self.groups
            .iter()
            .filter(|(g, _)| g == group)
            .flat_map(|(_, kv)| kv.iter())
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .next_back()
    }
}

/// Parse a key file. Blank lines and `#` comments are skipped; a line that is neither a
/// group header nor `key=value`, or a key before any group, is an error naming the line.
pub fn parse(bytes: &[u8]) -> Result<KeyFile, ParseError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ParseError(format!("not UTF-8 at byte {}", e.valid_up_to())))?;
    let mut kf = KeyFile::default();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest
                .strip_suffix(']')
                .ok_or_else(|| ParseError(format!("line {}: unterminated group header", n + 1)))?;
            if name.is_empty() || name.contains(['[', ']']) {
                return Err(ParseError(format!("line {}: bad group name", n + 1)));
            }
            kf.groups.push((name.to_string(), Vec::new()));
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| ParseError(format!("line {}: expected key=value", n + 1)))?;
        let group = kf
            .groups
            .last_mut()
            .ok_or_else(|| ParseError(format!("line {}: key outside any group", n + 1)))?;
        group.1.push((k.trim().to_string(), unescape(v.trim())));
    }
    Ok(kf)
}

/// GKeyFile value escapes: \s \n \t \r \\.
fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('s') => out.push(' '),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_origin() {
        let kf =
            parse(b"[origin]\nrefspec=demo:demo/stable\n\n[origin]\nunlocked=hotfix\n").unwrap();
        assert_eq!(kf.get("origin", "refspec"), Some("demo:demo/stable"));
        assert_eq!(kf.get("origin", "unlocked"), Some("hotfix"));
        assert_eq!(kf.get("core", "mode"), None);
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse(b"refspec=x\n").is_err());
        assert!(parse(b"[origin\n").is_err());
        assert!(parse(b"[core]\nnot a pair\n").is_err());
        assert!(parse(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn unescapes_values() {
        let kf = parse(b"[g]\nk=a\\sb\\\\c\n").unwrap();
        assert_eq!(kf.get("g", "k"), Some("a b\\c"));
    }
}
