//! Progress of long work (recording a large commit, indexing a large repo) on stderr, for a
//! person at a terminal. The caller decides whether stderr is one; a cron job sees nothing.
use std::io::Write;

/// Where long work reports itself: a line on stderr, or nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    enabled: bool,
}

impl Progress {
    /// Progress on stderr when `enabled` (the caller knows whether stderr is a terminal).
    pub fn new(enabled: bool) -> Progress {
        Progress { enabled }
    }

    /// No progress at all (tests, the exporter).
    pub fn off() -> Progress {
        Progress { enabled: false }
    }

    /// Replace the progress line with `message`.
    pub fn say(&self, message: &str) {
        if self.enabled {
            // Errors writing progress are not worth failing a scan for.
            let _ = write!(std::io::stderr(), "\rlivetree: {message}\x1b[K");
        }
    }

    /// Clear the progress line.
    pub fn done(&self) {
        if self.enabled {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
    }
}
