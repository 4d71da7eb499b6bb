//! napi glue for the bulk D-Bus connection (`livetree_core::dbus`): opened and used on the
//! thread pool (a bus that does not answer never blocks the event loop). Every outcome crosses
//! as JSON text: `{"ok":true,"replies":[…]}` or `{"ok":false,"kind":…,"message":…}`; the
//! TypeScript side turns kinds into its error codes. A panic is an `EPANIC` error.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use livetree_core::dbus::conn::{arg_of, socket_of, ConnError, Connection, Reply};
use livetree_core::dbus::json::replies_json;
use livetree_core::dbus::properties::{properties_json, property_calls, PropertyGroup};
use livetree_core::dbus::wire::Call;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::json;

use crate::guard::{caught, PANIC_CODE};

/// One method call; every argument as text, typed by `signature` (`s`, `o`, `g`, `u`, `i`, `b`).
#[napi(object)]
pub struct DbusCall {
    pub destination: Option<String>,
    pub path: String,
    pub interface: Option<String>,
    pub member: String,
    pub signature: String,
    pub args: Vec<String>,
}

/// An interface and the properties of it to read (see `DbusPropertyGets`).
#[napi(object)]
pub struct DbusPropertyGroup {
    pub interface: String,
    pub names: Vec<String>,
}

/// Many `Properties.Get` asked at once: `paths[i]` is asked every property of
/// `kinds[kindOf[i]]` (its groups in order, each group's names in order).
#[napi(object)]
pub struct DbusPropertyGets {
    pub destination: Option<String>,
    pub kinds: Vec<Vec<DbusPropertyGroup>>,
    pub paths: Vec<String>,
    pub kind_of: Vec<u32>,
}

#[napi]
pub struct DbusConnection {
    inner: Arc<Mutex<Option<Connection>>>,
}

fn failed(e: &ConnError) -> String {
    json!({"ok": false, "kind": e.kind, "message": e.message}).to_string()
}

/// CALLS made on the open connection, their replies written by `answer`; the connection's
/// failure otherwise (a connection that failed mid-way is not used again).
fn exchange(
    inner: &Mutex<Option<Connection>>,
    calls: &[Call],
    answer: impl FnOnce(&[Reply]) -> String,
) -> String {
    let mut guard = inner.lock().unwrap_or_else(|p| p.into_inner());
    let Some(conn) = guard.as_mut() else {
        return failed(&ConnError {
            kind: "ENOTCONN".into(),
            message: "the D-Bus connection is not open".into(),
        });
    };
    match conn.calls(calls) {
        Ok(replies) => answer(&replies),
        Err(e) => {
            *guard = None;
            failed(&e)
        }
    }
}

pub struct DbusTask {
    run: Option<Box<dyn FnOnce() -> String + Send>>,
    panic: Option<String>,
}

impl Task for DbusTask {
    type Output = String;
    type JsValue = String;

    fn compute(&mut self) -> Result<String> {
        let run = self.run.take().expect("a task runs once");
        caught("DbusConnection", run).map_err(|m| {
            self.panic = Some(m.clone());
            Error::from_reason(m)
        })
    }

    fn resolve(&mut self, _env: Env, output: String) -> Result<String> {
        Ok(output)
    }

    fn reject(&mut self, env: Env, err: Error) -> Result<String> {
        Err(match self.panic.take() {
            Some(m) => crate::convert::coded_error(&env, PANIC_CODE, &m, None),
            None => err,
        })
    }
}

#[napi]
impl DbusConnection {
    /// A closed connection; `open` connects it.
    #[napi(constructor)]
    pub fn new() -> DbusConnection {
        DbusConnection {
            inner: Arc::new(Mutex::new(None)),
        }
    }

    /// Connects to a `unix:path=` or `unix:abstract=` address, authenticates as our uid and,
    /// on a message bus (`bus`), says Hello. Resolves `{"ok":true}` or the failure.
    #[napi]
    pub fn open(&self, address: String, timeout_ms: u32, bus: bool) -> AsyncTask<DbusTask> {
        let inner = Arc::clone(&self.inner);
        AsyncTask::new(DbusTask {
            run: Some(Box::new(move || {
                let Some(socket) = socket_of(&address) else {
                    return failed(&ConnError {
                        kind: "Unsupported".into(),
                        message: format!(
                            "bus address {address}: no unix:path= or unix:abstract= entry"
                        ),
                    });
                };
                // SAFETY: geteuid has no preconditions and cannot fail.
                let uid = unsafe { libc::geteuid() };
                match Connection::open(
                    &socket,
                    uid,
                    Duration::from_millis(u64::from(timeout_ms)),
                    bus,
                ) {
                    Ok(c) => {
                        *inner.lock().unwrap_or_else(|p| p.into_inner()) = Some(c);
                        json!({"ok": true}).to_string()
                    }
                    Err(e) => failed(&e),
                }
            })),
            panic: None,
        })
    }

    /// Sends the calls and resolves with their replies, in order: `{"ok":true,"body":[…]}` or
    /// `{"ok":false,"name":…,"message":…}` each (64-bit integers as decimal text).
    #[napi]
    pub fn calls(&self, calls: Vec<DbusCall>) -> AsyncTask<DbusTask> {
        let inner = Arc::clone(&self.inner);
        AsyncTask::new(DbusTask {
            run: Some(Box::new(move || {
                let mut built = Vec::with_capacity(calls.len());
                for c in calls {
                    let sig = c.signature.as_bytes();
                    let args: Option<Vec<_>> = if sig.len() == c.args.len() {
                        sig.iter()
                            .zip(&c.args)
                            .map(|(&code, a)| arg_of(code, a))
                            .collect()
                    } else {
                        None
                    };
                    let Some(args) = args else {
                        return failed(&ConnError {
                            kind: "Protocol".into(),
                            message: format!(
                                "{} {}: arguments {:?} do not fit signature {:?}",
                                c.path, c.member, c.args, c.signature
                            ),
                        });
                    };
                    built.push(Call {
                        destination: c.destination,
                        path: c.path,
                        interface: c.interface,
                        member: c.member,
                        signature: c.signature,
                        args,
                    });
                }
                exchange(&inner, &built, replies_json)
            })),
            panic: None,
        })
    }

    /// Reads the properties `gets` names and resolves with them in one array, in the order
    /// asked: `{"ok":true,"values":[…],"errors":[[index,name,message],…]}` (a failed Get's
    /// value is null; livetree_core::dbus::properties), or the connection's failure.
    #[napi]
    pub fn get_properties(&self, gets: DbusPropertyGets) -> AsyncTask<DbusTask> {
        let inner = Arc::clone(&self.inner);
        AsyncTask::new(DbusTask {
            run: Some(Box::new(move || {
                let kinds: Vec<Vec<PropertyGroup>> = gets
                    .kinds
                    .into_iter()
                    .map(|groups| {
                        groups
                            .into_iter()
                            .map(|g| PropertyGroup {
                                interface: g.interface,
                                names: g.names,
                            })
                            .collect()
                    })
                    .collect();
                let calls = match property_calls(
                    gets.destination.as_deref(),
                    &kinds,
                    &gets.paths,
                    &gets.kind_of,
                ) {
                    Ok(calls) => calls,
                    Err(message) => {
                        return failed(&ConnError {
                            kind: "Protocol".into(),
                            message,
                        })
                    }
                };
                exchange(&inner, &calls, properties_json)
            })),
            panic: None,
        })
    }

    /// Closes the connection (dropping the socket).
    #[napi]
    pub fn close(&self) {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

impl Default for DbusConnection {
    fn default() -> Self {
        Self::new()
    }
}
