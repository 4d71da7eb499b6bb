//! Panics stop at the napi boundary. A panic unwinding into Node's C frames aborts the whole
//! process (the exporter dies with it); every entry point that does work runs its body
//! here instead, and a panic becomes a JavaScript error with `code` `EPANIC` and the panic's
//! message, which the TypeScript side wraps as any other `NativeError` (exit 2). The
//! default panic hook still prints where it happened on stderr, for the bug report.
//!
//! Nothing the core holds is left half-changed by a panic that matters: a scanner takes its
//! knowledge out before a scan (the next one loads afresh) and its mutex is used through
//! poisoning; catalogs are opened per call.
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use napi::{Env, Result};

use crate::convert::coded_error;

/// The code a panic crosses with.
pub const PANIC_CODE: &str = "EPANIC";

/// Run `f` on the JavaScript thread, turning a panic into an `EPANIC` error. `entry` names
/// the entry point (its JavaScript name) for the message and for the test hook
/// (`livetree_core::test_panic`).
pub fn guarded<T>(env: &Env, entry: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    caught(entry, f).unwrap_or_else(|message| Err(coded_error(env, PANIC_CODE, &message, None)))
}

/// Run `f`, catching a panic as its message: for the libuv thread pool, where no JavaScript
/// error can be built (the task's `reject` builds it from the message).
pub fn caught<T>(entry: &'static str, f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    catch_unwind(AssertUnwindSafe(|| {
        livetree_core::test_panic(entry);
        f()
    }))
    .map_err(|payload| message(entry, payload.as_ref()))
}

/// What failed on the thread pool, kept for the JavaScript thread, where the error is built
/// (`Task::reject`).
pub enum Failure {
    /// The core's error, with its code and path.
    Core(livetree_core::Error),
    /// A panic's message (code `EPANIC`).
    Panic(String),
}

impl Failure {
    /// The JavaScript error: the core's code and path, or `EPANIC`.
    pub fn to_js(&self, env: &Env) -> napi::Error {
        match self {
            Failure::Core(e) => crate::convert::error(env, e),
            Failure::Panic(m) => coded_error(env, PANIC_CODE, m, None),
        }
    }
}

/// A task's `compute` on the thread pool: `f` gives the core's result and, from it, the
/// task's own; a core error or a panic is kept in `failure` for `reject`.
pub fn on_pool<T>(
    entry: &'static str,
    failure: &mut Option<Failure>,
    f: impl FnOnce() -> livetree_core::Result<Result<T>>,
) -> Result<T> {
    let (kept, reason) = match caught(entry, f) {
        Ok(Ok(done)) => return done,
        Ok(Err(e)) => {
            let reason = e.to_string();
            (Failure::Core(e), reason)
        }
        Err(m) => (Failure::Panic(m.clone()), m),
    };
    *failure = Some(kept);
    Err(napi::Error::from_reason(reason))
}

fn message(entry: &str, payload: &(dyn Any + Send)) -> String {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string());
    format!("internal error in livetree's core ({entry}): {what} (a bug; please report it)")
}
