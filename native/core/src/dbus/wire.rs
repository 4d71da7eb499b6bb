//! The D-Bus wire format (D-Bus specification, "Message Protocol"): method calls out, any
//! message in. Only what livetree asks systemd needs encoding (arguments of types `s`, `o`,
//! `g`, `u`, `i`, `b`); every complete type is decoded, so a reply of any shape reads as data.
//! Decoding takes bytes and trusts none of them: lengths, alignment padding, nesting depth
//! (at most 64, as the specification allows) and UTF-8 are checked, and a bad message is an
//! error, never a panic.

/// A decoded value. Object paths and signatures are strings.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `y`
    Byte(u8),
    /// `b`
    Bool(bool),
    /// `n`
    I16(i16),
    /// `q`
    U16(u16),
    /// `i`
    I32(i32),
    /// `u`
    U32(u32),
    /// `x`
    I64(i64),
    /// `t`
    U64(u64),
    /// `d`
    Double(f64),
    /// `s`, `o` and `g`
    Str(String),
    /// `h` (an index into the message's file descriptors)
    UnixFd(u32),
    /// `a` of anything but dict entries
    Array(Vec<Value>),
    /// An array of dict entries (`a{..}`), in order.
    Dict(Vec<(Value, Value)>),
    /// `(…)`
    Struct(Vec<Value>),
    /// `v`
    Variant(Box<Value>),
}

/// Message types of the header's second byte.
/// A method call.
pub const METHOD_CALL: u8 = 1;
/// A method's reply.
pub const METHOD_RETURN: u8 = 2;
/// An error reply.
pub const ERROR: u8 = 3;

/// The largest message the specification allows (128 MiB); arrays at most 64 MiB.
const MAX_MESSAGE: usize = 1 << 27;
const MAX_ARRAY: usize = 1 << 26;
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
/// Why bytes are not a D-Bus message (or a call cannot be encoded).
pub struct WireError(pub String);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad<T>(what: impl Into<String>) -> Result<T, WireError> {
    Err(WireError(what.into()))
}

/// A method call's argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// `s`, `o` or `g`
    Str(String),
    /// `u`
    U32(u32),
    /// `i`
    I32(i32),
    /// `b`
    Bool(bool),
}

/// A method call to encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The bus name it goes to (none on a peer-to-peer connection).
    pub destination: Option<String>,
    /// The object path.
    pub path: String,
    /// The interface of the member.
    pub interface: Option<String>,
    /// The method.
    pub member: String,
    /// One type code per argument: `s`, `o`, `g`, `u`, `i` or `b`.
    pub signature: String,
    /// The arguments.
    pub args: Vec<Arg>,
}

struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn pad(&mut self, align: usize) {
        while !self.buf.len().is_multiple_of(align) {
            self.buf.push(0);
        }
    }
    fn u32(&mut self, v: u32) {
        self.pad(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn string(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }
    fn signature(&mut self, s: &str) {
        self.buf.push(s.len() as u8);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }
    fn field(&mut self, code: u8, sig: &str, f: impl FnOnce(&mut Writer)) {
        self.pad(8);
        self.buf.push(code);
        self.signature(sig);
        f(self);
    }
}

fn valid_text(s: &str, what: &str) -> Result<(), WireError> {
    if s.contains('\0') {
        return bad(format!("{what} holds a NUL byte"));
    }
    Ok(())
}

/// Encodes a method call (little-endian) with this serial.
pub fn encode_call(call: &Call, serial: u32) -> Result<Vec<u8>, WireError> {
    let sig = call.signature.as_bytes();
    if sig.len() != call.args.len() || sig.len() > 255 {
        return bad(format!(
            "signature {:?} does not describe {} arguments",
            call.signature,
            call.args.len()
        ));
    }
    let mut body = Writer { buf: Vec::new() };
    for (code, arg) in sig.iter().zip(&call.args) {
        match (code, arg) {
            (b's' | b'o', Arg::Str(s)) => {
                valid_text(s, "a string argument")?;
                body.string(s);
            }
            (b'g', Arg::Str(s)) => {
                valid_text(s, "a signature argument")?;
                if s.len() > 255 {
                    return bad("a signature argument is longer than 255 bytes");
                }
                body.signature(s);
            }
            (b'u', Arg::U32(v)) => body.u32(*v),
            (b'i', Arg::I32(v)) => body.u32(*v as u32),
            (b'b', Arg::Bool(v)) => body.u32(u32::from(*v)),
            _ => {
                return bad(format!(
                    "argument {arg:?} does not match type code {:?}",
                    *code as char
                ))
            }
        }
    }
    for (text, what) in [(&call.path, "the path"), (&call.member, "the member")] {
        valid_text(text, what)?;
    }
    let mut h = Writer {
        buf: vec![b'l', METHOD_CALL, 0, 1],
    };
    h.u32(body.buf.len() as u32);
    h.u32(serial);
    h.u32(0); // the fields' length, filled in below
    h.field(1, "o", |w| w.string(&call.path));
    if let Some(i) = &call.interface {
        valid_text(i, "the interface")?;
        h.field(2, "s", |w| w.string(i));
    }
    h.field(3, "s", |w| w.string(&call.member));
    if let Some(d) = &call.destination {
        valid_text(d, "the destination")?;
        h.field(6, "s", |w| w.string(d));
    }
    if !call.signature.is_empty() {
        h.field(8, "g", |w| w.signature(&call.signature));
    }
    let fields = (h.buf.len() - 16) as u32;
    h.buf[12..16].copy_from_slice(&fields.to_le_bytes());
    h.pad(8);
    h.buf.extend_from_slice(&body.buf);
    Ok(h.buf)
}

/// How long the message starting `bytes` is, once its first 16 bytes are there; None before.
pub fn message_len(bytes: &[u8]) -> Result<Option<usize>, WireError> {
    if bytes.len() < 16 {
        return Ok(None);
    }
    let little = endian(bytes[0])?;
    let body = read_u32(&bytes[4..8], little) as usize;
    let fields = read_u32(&bytes[12..16], little) as usize;
    let header = (16 + fields).div_ceil(8) * 8;
    let total = header.checked_add(body).filter(|&n| n <= MAX_MESSAGE);
    match total {
        Some(n) => Ok(Some(n)),
        None => bad(format!(
            "a message of {fields} header and {body} body bytes is larger than D-Bus allows"
        )),
    }
}

fn endian(b: u8) -> Result<bool, WireError> {
    match b {
        b'l' => Ok(true),
        b'B' => Ok(false),
        other => bad(format!(
            "byte order mark {other:#04x} is neither 'l' nor 'B'"
        )),
    }
}

fn read_u32(b: &[u8], little: bool) -> u32 {
    let a = [b[0], b[1], b[2], b[3]];
    if little {
        u32::from_le_bytes(a)
    } else {
        u32::from_be_bytes(a)
    }
}

/// A decoded message: its type, serial, the header fields livetree reads, and the body.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// METHOD_CALL, METHOD_RETURN, ERROR or 4 (a signal).
    pub kind: u8,
    /// The sender's serial.
    pub serial: u32,
    /// The serial of the call it answers.
    pub reply_serial: Option<u32>,
    /// An error's name.
    pub error_name: Option<String>,
    /// A call's or signal's member.
    pub member: Option<String>,
    /// The body's signature.
    pub signature: String,
    /// The body's values.
    pub body: Vec<Value>,
}

/// Decodes one whole message (as long as `message_len` said).
pub fn decode_message(bytes: &[u8]) -> Result<Message, WireError> {
    let Some(len) = message_len(bytes)? else {
        return bad("a message shorter than its 16-byte header");
    };
    if bytes.len() != len {
        return bad(format!(
            "a message of {} bytes where its header says {len}",
            bytes.len()
        ));
    }
    let little = endian(bytes[0])?;
    if bytes[3] != 1 {
        return bad(format!("protocol version {} (only 1 exists)", bytes[3]));
    }
    let kind = bytes[1];
    let serial = read_u32(&bytes[8..12], little);
    let mut r = Reader {
        bytes,
        pos: 12,
        little,
        depth: 0,
    };
    // The header fields: an array of (byte, variant) structs starting at offset 12, read in
    // place (a reply has two to five; thousands of replies made a value, a vector and a box
    // of each). Checked as the value `a(yv)` is (`Reader::value`); a field livetree does
    // not read is read as a value, a string one only checked.
    let mut msg = Message {
        kind,
        serial,
        reply_serial: None,
        error_name: None,
        member: None,
        signature: String::new(),
        body: Vec::new(),
    };
    let len = r.u32()? as usize;
    if len > MAX_ARRAY {
        return bad(format!("an array of {len} bytes (D-Bus allows 64 MiB)"));
    }
    r.align(8)?;
    let Some(end) = r.pos.checked_add(len).filter(|&e| e <= bytes.len()) else {
        return bad("an array longer than its message");
    };
    while r.pos < end {
        r.align(8)?;
        let code = r.take(1)?[0];
        let sig = r.signature_ref()?;
        if sig.is_empty() || complete_type(sig.as_bytes(), 0)? != sig.len() {
            return bad(format!(
                "a variant's signature {sig:?} is not one complete type"
            ));
        }
        // What a field livetree reads holds: a string (its type `s`, `o` or `g`, read
        // alike) or, for the reply's serial, a `u`.
        let text = match sig {
            "s" | "o" => {
                let len = r.u32()? as usize;
                Some(r.str_ref(len)?)
            }
            "g" => Some(r.signature_ref()?),
            _ => None,
        };
        match (code, text) {
            (3, Some(t)) => msg.member = Some(t.to_string()),
            (4, Some(t)) => msg.error_name = Some(t.to_string()),
            (8, Some(t)) => msg.signature = t.to_string(),
            (5, None) if sig == "u" => msg.reply_serial = Some(r.u32()?),
            (5, Some(t)) => {
                let v = Value::Str(t.to_string());
                return bad(format!("header field 5 has the wrong type ({v:?})"));
            }
            // Paths and names not read (PATH, DESTINATION, SENDER): checked, not kept.
            (_, Some(_)) => {}
            _ => {
                // As deep as the variant's content of `a(yv)` is.
                r.depth = 3;
                let v = r.value(sig.as_bytes())?;
                r.depth = 0;
                if matches!(code, 3 | 4 | 5 | 8) {
                    return bad(format!("header field {code} has the wrong type ({v:?})"));
                }
            }
        }
    }
    r.check_end(end)?;
    r.align(8)?;
    let mut sig = msg.signature.as_bytes();
    while !sig.is_empty() {
        let one = complete_type(sig, 0)?;
        msg.body.push(r.value(&sig[..one])?);
        sig = &sig[one..];
    }
    if r.pos != bytes.len() {
        return bad(format!(
            "{} bytes of the body are left over after its signature {:?}",
            bytes.len() - r.pos,
            msg.signature
        ));
    }
    Ok(msg)
}

/// Length of the single complete type at the start of `sig`.
fn complete_type(sig: &[u8], depth: usize) -> Result<usize, WireError> {
    if depth > MAX_DEPTH {
        return bad("a signature nested deeper than D-Bus allows");
    }
    match sig.first() {
        None => bad("a signature ends inside a type"),
        Some(
            b'y' | b'b' | b'n' | b'q' | b'i' | b'u' | b'x' | b't' | b'd' | b's' | b'o' | b'g'
            | b'v' | b'h',
        ) => Ok(1),
        Some(b'a') => Ok(1 + complete_type(&sig[1..], depth + 1)?),
        Some(b'(') => {
            let mut at = 1;
            while sig.get(at) != Some(&b')') {
                if at >= sig.len() {
                    return bad("a struct in a signature is not closed");
                }
                at += complete_type(&sig[at..], depth + 1)?;
            }
            if at == 1 {
                return bad("an empty struct in a signature");
            }
            Ok(at + 1)
        }
        Some(b'{') => {
            let key = complete_type(&sig[1..], depth + 1)?;
            let value = complete_type(&sig[1 + key..], depth + 1)?;
            if sig.get(1 + key + value) != Some(&b'}') {
                return bad("a dict entry in a signature is not closed after two types");
            }
            Ok(2 + key + value)
        }
        Some(&c) => bad(format!("type code {:?} in a signature", c as char)),
    }
}

fn alignment(code: u8) -> usize {
    match code {
        b'y' | b'g' | b'v' => 1,
        b'n' | b'q' => 2,
        b'x' | b't' | b'd' | b'(' | b'{' => 8,
        _ => 4,
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    little: bool,
    depth: usize,
}

impl<'a> Reader<'a> {
    fn align(&mut self, n: usize) -> Result<(), WireError> {
        let to = self.pos.div_ceil(n) * n;
        if to > self.bytes.len() {
            return bad("a message ends inside alignment padding");
        }
        if self.bytes[self.pos..to].iter().any(|&b| b != 0) {
            return bad("alignment padding that is not zero");
        }
        self.pos = to;
        Ok(())
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return bad(format!(
                "a message ends inside a value ({n} bytes wanted at offset {})",
                self.pos
            ));
        };
        let bytes: &'a [u8] = self.bytes;
        self.pos = end;
        Ok(&bytes[end - n..end])
    }
    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        self.align(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        if self.little == cfg!(target_endian = "big") {
            a.reverse();
        }
        Ok(a)
    }
    fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_ne_bytes(self.fixed::<4>()?))
    }
    fn text(&mut self, len: usize) -> Result<String, WireError> {
        Ok(self.str_ref(len)?.to_string())
    }
    /// A string of `len` bytes and its NUL, checked, in place.
    fn str_ref(&mut self, len: usize) -> Result<&'a str, WireError> {
        let raw = self.take(len + 1)?;
        if raw[len] != 0 {
            return bad("a string not ended by a NUL byte");
        }
        match std::str::from_utf8(&raw[..len]) {
            Ok(s) if !s.contains('\0') => Ok(s),
            Ok(_) => bad("a string holding a NUL byte"),
            Err(_) => bad("a string that is not UTF-8"),
        }
    }
    fn signature(&mut self) -> Result<String, WireError> {
        Ok(self.signature_ref()?.to_string())
    }
    fn signature_ref(&mut self) -> Result<&'a str, WireError> {
        let len = self.take(1)?[0] as usize;
        self.str_ref(len)
    }

    /// One value of the single complete type `sig`.
    fn value(&mut self, sig: &[u8]) -> Result<Value, WireError> {
        if self.depth > MAX_DEPTH {
            return bad("values nested deeper than D-Bus allows");
        }
        self.depth += 1;
        let v = self.value_inner(sig);
        self.depth -= 1;
        v
    }

    fn value_inner(&mut self, sig: &[u8]) -> Result<Value, WireError> {
        Ok(match sig[0] {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => match self.u32()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                n => return bad(format!("a boolean of {n}")),
            },
            b'n' => Value::I16(i16::from_ne_bytes(self.fixed::<2>()?)),
            b'q' => Value::U16(u16::from_ne_bytes(self.fixed::<2>()?)),
            b'i' => Value::I32(i32::from_ne_bytes(self.fixed::<4>()?)),
            b'u' => Value::U32(self.u32()?),
            b'h' => Value::UnixFd(self.u32()?),
            b'x' => Value::I64(i64::from_ne_bytes(self.fixed::<8>()?)),
            b't' => Value::U64(u64::from_ne_bytes(self.fixed::<8>()?)),
            b'd' => Value::Double(f64::from_ne_bytes(self.fixed::<8>()?)),
            b's' | b'o' => {
                let len = self.u32()? as usize;
                Value::Str(self.text(len)?)
            }
            b'g' => Value::Str(self.signature()?),
            b'v' => {
                let inner = self.signature()?;
                let bytes = inner.as_bytes();
                if bytes.is_empty() || complete_type(bytes, 0)? != bytes.len() {
                    return bad(format!(
                        "a variant's signature {inner:?} is not one complete type"
                    ));
                }
                Value::Variant(Box::new(self.value(bytes)?))
            }
            b'a' => {
                let len = self.u32()? as usize;
                if len > MAX_ARRAY {
                    return bad(format!("an array of {len} bytes (D-Bus allows 64 MiB)"));
                }
                let elem = &sig[1..1 + complete_type(&sig[1..], 0)?];
                self.align(alignment(elem[0]))?;
                let end = self.pos.checked_add(len).filter(|&e| e <= self.bytes.len());
                let Some(end) = end else {
                    return bad("an array longer than its message");
                };
                if elem[0] == b'{' {
                    let key_len = complete_type(&elem[1..], 0)?;
                    let (key, val) = (&elem[1..1 + key_len], &elem[1 + key_len..elem.len() - 1]);
                    let mut out = Vec::new();
                    while self.pos < end {
                        self.align(8)?;
                        let k = self.value(key)?;
                        let v = self.value(val)?;
                        out.push((k, v));
                    }
                    self.check_end(end)?;
                    Value::Dict(out)
                } else {
                    let mut out = Vec::new();
                    while self.pos < end {
                        out.push(self.value(elem)?);
                    }
                    self.check_end(end)?;
                    Value::Array(out)
                }
            }
            b'(' => {
                self.align(8)?;
                let mut at = 1;
                let mut out = Vec::new();
                while sig[at] != b')' {
                    let n = complete_type(&sig[at..], 0)?;
                    out.push(self.value(&sig[at..at + n])?);
                    at += n;
                }
                Value::Struct(out)
            }
            c => {
                return bad(format!(
                    "type code {:?} where a value was expected",
                    c as char
                ))
            }
        })
    }

    fn check_end(&self, end: usize) -> Result<(), WireError> {
        if self.pos != end {
            return bad("an array's elements overrun its length");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
