//! Where containers/storage keeps its stores, from `/etc/containers/storage.conf`, and where
//! a user's rootless store is, from `/etc/passwd`. Bytes in, values out.
//!
//! storage.conf is TOML; only string keys of two tables matter here, so this reads the
//! TOML subset they use (`[table]` headers, `key = "string"` or `'literal'`, and arrays of
//! strings that may span lines) and skips everything else rather than failing on it.

/// What livetree needs of `storage.conf`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StorageConf {
    /// `[storage] graphroot`: the rootful store's graph root.
    pub graphroot: Option<String>,
    /// `[storage] runroot`: where the store keeps what lasts until a reboot (a transient
    /// store's volatile containers).
    pub runroot: Option<String>,
    /// `[storage] rootless_storage_path`: a rootless user's store (`$HOME`, `$UID`, `$USER`
    /// expanded by the engine).
    pub rootless_storage_path: Option<String>,
    /// `[storage.options] additionalimagestores`: read-only image stores (bootc hosts have
    /// `/usr/lib/bootc/storage`).
    pub additional_image_stores: Vec<String>,
}

/// Parse storage.conf. Lines it does not understand are skipped: a setting livetree does
/// not read cannot make it read the wrong store.
pub fn parse_storage_conf(bytes: &[u8]) -> StorageConf {
    let text = String::from_utf8_lossy(bytes);
    let mut conf = StorageConf::default();
    let mut table = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            table = line
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim().trim_matches('"');
        let mut value = value.trim().to_string();
        if value.starts_with('[') {
            // An array may close lines later.
            while !closes(&value) {
                match lines.next() {
                    Some(more) => {
                        value.push('\n');
                        value.push_str(more);
                    }
                    None => break,
                }
            }
        }
        match (table.as_str(), key) {
            ("storage", "graphroot") => conf.graphroot = string(&value),
            ("storage", "runroot") => conf.runroot = string(&value),
            ("storage", "rootless_storage_path") => conf.rootless_storage_path = string(&value),
            ("storage.options", "additionalimagestores") => {
                conf.additional_image_stores = strings(&value)
            }
            _ => {}
        }
    }
    conf
}

/// Whether an array value's brackets are closed (strings may hold brackets).
fn closes(value: &str) -> bool {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in value.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth <= 0 {
                        return true;
                    }
                }
                '#' => {
                    // A comment runs to the end of its line; the array goes on after it.
                }
                _ => {}
            },
        }
    }
    false
}

/// The strings of a value, in order: `"a"`, `'b'`, `["a", 'b']`.
fn strings(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut s = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some(other) => s.push(other),
                            None => break,
                        },
                        _ => s.push(c),
                    }
                }
                out.push(s);
            }
            '\'' => out.push(chars.by_ref().take_while(|c| *c != '\'').collect()),
            '#' => {
                // Skip a comment to the end of its line.
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn string(value: &str) -> Option<String> {
    strings(value).into_iter().next().filter(|s| !s.is_empty())
}

/// A user's name and home directory from `/etc/passwd` (`name:x:uid:gid:gecos:home:shell`).
pub fn passwd_entry(passwd: &[u8], uid: u32) -> Option<(String, Vec<u8>)> {
    passwd.split(|b| *b == b'\n').find_map(|line| {
        let f: Vec<&[u8]> = line.split(|b| *b == b':').collect();
        if f.len() < 7 || crate::proc::maps::parse_dec(f[2]) != Some(u64::from(uid)) {
            return None;
        }
        let home = f[5];
        (home.starts_with(b"/"))
            .then(|| (String::from_utf8_lossy(f[0]).into_owned(), home.to_vec()))
    })
}

/// `rootless_storage_path` with `$HOME`, `$UID` and `$USER` put in, as the engine does.
pub fn expand_rootless(template: &str, home: &[u8], uid: u32, user: &str) -> Vec<u8> {
    let home = String::from_utf8_lossy(home);
    template
        .replace("$HOME", &home)
        .replace("$UID", &uid.to_string())
        .replace("$USER", user)
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_conf() {
        let c = parse_storage_conf(
            br#"
# comment
[storage]
driver = "overlay"
runroot = "/run/containers/storage"
graphroot = "/srv/containers" # trailing comment
rootless_storage_path = '$HOME/.local/share/containers/storage'

[storage.options]
additionalimagestores = [
  "/usr/lib/bootc/storage", # bootc
  '/mnt/images]',
]
pull_options = {enable_partial_images = "false"}

[storage.options.overlay]
mount_program = "/usr/bin/fuse-overlayfs"
graphroot = "/not/this/one"
"#,
        );
        assert_eq!(c.graphroot.as_deref(), Some("/srv/containers"));
        assert_eq!(c.runroot.as_deref(), Some("/run/containers/storage"));
        assert_eq!(
            c.rootless_storage_path.as_deref(),
            Some("$HOME/.local/share/containers/storage")
        );
        assert_eq!(
            c.additional_image_stores,
            ["/usr/lib/bootc/storage", "/mnt/images]"]
        );
        assert_eq!(parse_storage_conf(b""), StorageConf::default());
        assert_eq!(
            parse_storage_conf(b"[storage]\ngraphroot = [\"unclosed\n").graphroot,
            Some("unclosed".to_string())
        );
        assert_eq!(
            parse_storage_conf(b"[storage]\ngraphroot = \"a\\\"b\"").graphroot,
            Some("a\"b".to_string())
        );
        assert_eq!(
            parse_storage_conf(&[0xff, b'[', b'=']),
            StorageConf::default()
        );
    }

    #[test]
    fn passwd() {
        let p = b"root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:A,,,:/home/alice:/bin/sh\nbad:x:zz\n";
        assert_eq!(
            passwd_entry(p, 1000),
            Some(("alice".to_string(), b"/home/alice".to_vec()))
        );
        assert_eq!(passwd_entry(p, 0).unwrap().1, b"/root");
        assert_eq!(passwd_entry(p, 7), None);
        assert_eq!(
            expand_rootless("$HOME/s/$UID/$USER", b"/home/a", 1000, "a"),
            b"/home/a/s/1000/a"
        );
    }
}
