//! A D-Bus connection over a Unix socket that sends many method calls at once and collects
//! their replies: what a status needs from systemd (a few hundred property reads) in a few
//! round trips, without a D-Bus library in JavaScript. Authentication is EXTERNAL (the
//! kernel vouches for our uid); on a message bus the connection says Hello first. At most
//! `WINDOW` calls wait for their replies at once (dbus-daemon's system bus allows a
//! connection 128 pending replies, `max_replies_per_connection`); the window is filled again
//! when half of it is answered, so calls go out in writes of dozens.
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use super::wire::{
    decode_message, encode_call, message_len, Arg, Call, Message, Value, ERROR, METHOD_RETURN,
};

const WINDOW: usize = 120;
/// While at least PACE_AWAITED replies are awaited, a read that brought fewer than PACE_FEW is
/// followed by a pause of PACE before the next (see `calls`).
const PACE_AWAITED: usize = 32;
const PACE_FEW: usize = 8;
const PACE: Duration = Duration::from_micros(250);

/// Where the bus listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Socket {
    /// A socket file.
    Path(String),
    /// A Linux abstract socket name.
    Abstract(String),
}

/// Why a connection or a call failed. `kind` is what TypeScript maps to its error codes:
/// an errno name (`ENOENT`, `EACCES`, `ETIMEDOUT`, …), `AuthFailed` or `Protocol`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnError {
    /// An errno name, `AuthFailed`, `Protocol` or a D-Bus error name.
    pub kind: String,
    /// What happened, with the address.
    pub message: String,
}

impl std::fmt::Display for ConnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.kind)
    }
}

fn io_error(what: &str, e: &std::io::Error) -> ConnError {
    let kind = match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => "ETIMEDOUT".to_string(),
        _ => e
            .raw_os_error()
            .map(errno_name)
            .unwrap_or_else(|| "EIO".to_string()),
    };
    ConnError {
        kind,
        message: format!("{what}: {e}"),
    }
}

fn errno_name(n: i32) -> String {
    match n {
        libc::ENOENT => "ENOENT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::ECONNRESET => "ECONNRESET",
        libc::ENOTDIR => "ENOTDIR",
        libc::EPIPE => "EPIPE",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EACCES => "EACCES",
        libc::EPERM => "EPERM",
        libc::ETIMEDOUT | libc::EAGAIN => "ETIMEDOUT",
        _ => "EIO",
    }
    .to_string()
}

fn protocol(message: String) -> ConnError {
    ConnError {
        kind: "Protocol".into(),
        message,
    }
}

/// One call's outcome: the reply's body, or the D-Bus error's name and text.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The reply's body.
    Ok(Vec<Value>),
    /// A D-Bus error.
    Err {
        /// Its name (`org.freedesktop.systemd1.NoSuchUnit`, …).
        name: String,
        /// Its text.
        message: String,
    },
}

/// An open, authenticated connection.
pub struct Connection {
    stream: UnixStream,
    serial: u32,
    /// Bytes read and not yet taken as messages: those from `taken` on.
    pending: Vec<u8>,
    taken: usize,
    timeout: Duration,
    what: String,
}

impl Connection {
    /// Connects, authenticates as `uid`, and (on a message bus) says Hello.
    pub fn open(
        socket: &Socket,
        uid: u32,
        timeout: Duration,
        bus: bool,
    ) -> Result<Connection, ConnError> {
        let what = match socket {
            Socket::Path(p) => format!("connecting to {p}"),
            Socket::Abstract(a) => format!("connecting to abstract socket {a}"),
        };
        let stream = match socket {
            Socket::Path(p) => UnixStream::connect(p),
            Socket::Abstract(name) => {
                use std::os::linux::net::SocketAddrExt;
                std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
                    .and_then(|a| UnixStream::connect_addr(&a))
            }
        }
        .map_err(|e| io_error(&what, &e))?;
        let timeout = timeout.max(Duration::from_millis(1));
        stream
            .set_read_timeout(Some(timeout))
            .map_err(|e| io_error(&what, &e))?;
        stream
            .set_write_timeout(Some(timeout))
            .map_err(|e| io_error(&what, &e))?;
        let mut c = Connection {
            stream,
            serial: 0,
            pending: Vec::new(),
            taken: 0,
            timeout,
            what,
        };
        c.authenticate(uid)?;
        if bus {
            let hello = Call {
                destination: Some("org.freedesktop.DBus".into()),
                path: "/org/freedesktop/DBus".into(),
                interface: Some("org.freedesktop.DBus".into()),
                member: "Hello".into(),
                signature: String::new(),
                args: Vec::new(),
            };
            if let Some(Reply::Err { name, message }) = c.calls(&[hello])?.pop() {
                return Err(ConnError {
                    kind: name,
                    message: format!("{}: Hello: {message}", c.what),
                });
            }
        } else {
            c.ping_until_answered()?;
        }
        Ok(c)
    }

    /// On a peer-to-peer connection (systemd's own socket), Peer.Ping until one is answered.
    /// systemd 252's server can leave a message that reached it in the same read as BEGIN
    /// unanswered until more data comes (seen here: one first call in three, never answered);
    /// each further Ping, a few ms apart, is that data, and the server then answers them all.
    /// Replies to the Pings answered after this one are skipped by `calls` (their serials are
    /// not its calls').
    fn ping_until_answered(&mut self) -> Result<(), ConnError> {
        let deadline = Instant::now() + self.timeout;
        let first = self.serial.wrapping_add(1);
        let mut sent = 0usize;
        let mut slice = Duration::from_millis(5);
        let mut buf = [0u8; 4096];
        let result = loop {
            self.serial = self.serial.wrapping_add(1).max(1);
            let ping = Call {
                destination: None,
                path: "/".into(),
                interface: Some("org.freedesktop.DBus.Peer".into()),
                member: "Ping".into(),
                signature: String::new(),
                args: Vec::new(),
            };
            let bytes = encode_call(&ping, self.serial)
                .map_err(|e| protocol(format!("{}: Ping: {e}", self.what)))?;
            self.stream
                .write_all(&bytes)
                .map_err(|e| io_error(&self.what, &e))?;
            sent += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break Err(ConnError {
                    kind: "ETIMEDOUT".into(),
                    message: format!(
                        "{}: no answer to Ping within {} ms",
                        self.what,
                        self.timeout.as_millis()
                    ),
                });
            }
            self.stream
                .set_read_timeout(Some(slice.min(left).max(Duration::from_millis(1))))
                .map_err(|e| io_error(&self.what, &e))?;
            slice = (slice * 2).min(Duration::from_millis(200));
            let n = match self.stream.read(&mut buf) {
                Ok(0) => {
                    break Err(ConnError {
                        kind: "ECONNRESET".into(),
                        message: format!("{}: the peer closed the connection", self.what),
                    })
                }
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(e) => break Err(io_error(&self.what, &e)),
            };
            self.received(&buf[..n]);
            let mut answered = false;
            while let Some(msg) = self.next_message()? {
                answered |= index_of(&msg, first, sent).is_some();
            }
            if answered {
                break Ok(());
            }
        };
        self.stream
            .set_read_timeout(Some(self.timeout))
            .map_err(|e| io_error(&self.what, &e))?;
        result
    }

    fn authenticate(&mut self, uid: u32) -> Result<(), ConnError> {
        let hex: String = uid
            .to_string()
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect();
        let hello = format!("\0AUTH EXTERNAL {hex}\r\n");
        self.stream
            .write_all(hello.as_bytes())
            .map_err(|e| io_error(&self.what, &e))?;
        let line = self.line()?;
        if !line.starts_with("OK ") {
            return Err(ConnError {
                kind: "AuthFailed".into(),
                message: format!(
                    "{}: the bus refused EXTERNAL authentication as uid {uid} ({line})",
                    self.what
                ),
            });
        }
        self.stream
            .write_all(b"BEGIN\r\n")
            .map_err(|e| io_error(&self.what, &e))
    }

    /// One line of the authentication exchange (the server sends nothing after it until BEGIN).
    fn line(&mut self) -> Result<String, ConnError> {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while !line.ends_with(b"\r\n") {
            if line.len() > 4096 {
                return Err(protocol(format!(
                    "{}: an authentication line longer than 4096 bytes",
                    self.what
                )));
            }
            match self.stream.read(&mut byte) {
                Ok(0) => {
                    return Err(ConnError {
                        kind: "ECONNRESET".into(),
                        message: format!(
                            "{}: the bus closed the connection while authenticating",
                            self.what
                        ),
                    })
                }
                Ok(_) => line.push(byte[0]),
                Err(e) => return Err(io_error(&self.what, &e)),
            }
        }
        line.truncate(line.len() - 2);
        Ok(String::from_utf8_lossy(&line).into_owned())
    }

    /// Bytes read from the stream, after what is pending (the messages taken off it are
    /// dropped here, once per read: not moving the rest down after each of a read's replies).
    fn received(&mut self, bytes: &[u8]) {
        self.pending.drain(..self.taken);
        self.taken = 0;
        self.pending.extend_from_slice(bytes);
    }

    /// The next whole message read so far, taken off `pending`; None until more bytes come.
    fn next_message(&mut self) -> Result<Option<Message>, ConnError> {
        let rest = &self.pending[self.taken..];
        let Some(len) = message_len(rest).map_err(|e| protocol(format!("{}: {e}", self.what)))?
        else {
            return Ok(None);
        };
        if rest.len() < len {
            return Ok(None);
        }
        let msg = decode_message(&rest[..len]).map_err(|e| protocol(format!("{}: {e}", self.what)));
        self.taken += len;
        msg.map(Some)
    }

    /// Sends every call, at most WINDOW awaiting replies at once, and returns their replies in
    /// the calls' order. Messages that answer none of them (signals, NameAcquired) are skipped.
    pub fn calls(&mut self, calls: &[Call]) -> Result<Vec<Reply>, ConnError> {
        let deadline = Instant::now() + self.timeout;
        let first = self.serial.wrapping_add(1);
        let mut encoded = Vec::with_capacity(calls.len());
        for call in calls {
            self.serial = self.serial.wrapping_add(1).max(1);
            encoded.push(encode_call(call, self.serial).map_err(|e| {
                protocol(format!("{}: {} {}: {e}", self.what, call.path, call.member))
            })?);
        }
        let mut replies: Vec<Option<Reply>> = vec![None; calls.len()];
        let mut sent = 0;
        let mut answered = 0;
        let mut buf = vec![0u8; 64 * 1024];
        while answered < calls.len() {
            // Fill the window again once half of it is answered: everything that may go out
            // then goes in one write (topping it up after every read made a write, and a
            // wake-up of the peer, per reply or two).
            let until = (answered + WINDOW).min(calls.len());
            if sent < until && sent - answered <= WINDOW / 2 {
                let out: Vec<u8> = encoded[sent..until].concat();
                self.stream
                    .write_all(&out)
                    .map_err(|e| io_error(&self.what, &e))?;
                sent = until;
            }
            if Instant::now() > deadline {
                return Err(ConnError {
                    kind: "ETIMEDOUT".into(),
                    message: format!(
                        "{}: {} of {} replies within {} ms",
                        self.what,
                        answered,
                        calls.len(),
                        self.timeout.as_millis()
                    ),
                });
            }
            let n = self
                .stream
                .read(&mut buf)
                .map_err(|e| io_error(&self.what, &e))?;
            if n == 0 {
                return Err(ConnError {
                    kind: "ECONNRESET".into(),
                    message: format!(
                        "{}: the bus closed the connection ({} of {} replies read)",
                        self.what,
                        answered,
                        calls.len()
                    ),
                });
            }
            self.received(&buf[..n]);
            let before = answered;
            while let Some(msg) = self.next_message()? {
                if let Some(i) = index_of(&msg, first, calls.len()) {
                    if replies[i].is_none() {
                        replies[i] = Some(reply_of(msg));
                        answered += 1;
                    }
                }
            }
            // The peer answers one call at a time, and each reply it writes wakes this thread:
            // while many replies are awaited and this read brought only a few, let some gather
            // before reading again (the peer has PACE_AWAITED calls or more still to answer
            // meanwhile, more work than the pause, so it does not wait for us).
            if sent - answered >= PACE_AWAITED && answered - before < PACE_FEW {
                std::thread::sleep(PACE);
            }
        }
        Ok(replies
            .into_iter()
            .map(|r| r.expect("every call answered"))
            .collect())
    }
}

fn index_of(msg: &Message, first: u32, count: usize) -> Option<usize> {
    if msg.kind != METHOD_RETURN && msg.kind != ERROR {
        return None;
    }
    let i = msg.reply_serial?.wrapping_sub(first) as usize;
    (i < count).then_some(i)
}

fn reply_of(msg: Message) -> Reply {
    if msg.kind == ERROR {
        let message = match msg.body.first() {
            Some(Value::Str(s)) => s.clone(),
            _ => String::new(),
        };
        Reply::Err {
            name: msg
                .error_name
                .unwrap_or_else(|| "org.freedesktop.DBus.Error.Failed".into()),
            message,
        }
    } else {
        Reply::Ok(msg.body)
    }
}

/// Parses a `unix:` D-Bus address entry (`path=` or `abstract=`, percent-escaped); None for
/// other transports, which this connection does not speak.
pub fn socket_of(address: &str) -> Option<Socket> {
    for entry in address.split(';').filter(|e| !e.is_empty()) {
        let Some(rest) = entry.strip_prefix("unix:") else {
            continue;
        };
        for kv in rest.split(',') {
            if let Some(p) = kv.strip_prefix("path=") {
                return unescape(p).map(Socket::Path);
            }
            if let Some(a) = kv.strip_prefix("abstract=") {
                return unescape(a).map(Socket::Abstract);
            }
        }
    }
    None
}

fn unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// An argument from its type code and text (TypeScript hands every argument over as text).
pub fn arg_of(code: u8, text: &str) -> Option<Arg> {
    match code {
        b's' | b'o' | b'g' => Some(Arg::Str(text.to_string())),
        b'u' => text.parse().ok().map(Arg::U32),
        b'i' => text.parse().ok().map(Arg::I32),
        b'b' => match text {
            "true" => Some(Arg::Bool(true)),
            "false" => Some(Arg::Bool(false)),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_name_their_socket() {
        assert_eq!(
            socket_of("unix:path=/run/dbus/system_bus_socket"),
            Some(Socket::Path("/run/dbus/system_bus_socket".into()))
        );
        assert_eq!(
            socket_of("tcp:host=x;unix:abstract=/tmp/dbus-x,guid=1"),
            Some(Socket::Abstract("/tmp/dbus-x".into()))
        );
        assert_eq!(
            socket_of("unix:path=/tmp/a%20b"),
            Some(Socket::Path("/tmp/a b".into()))
        );
        assert_eq!(socket_of("tcp:host=localhost,port=1"), None);
        assert_eq!(socket_of("unix:path=/tmp/%zz"), None);
    }
}
