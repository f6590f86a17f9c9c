//! ZSS/0.0 messages: the 8 logical fields and their frames on each hop.
//!
//! | # | field    | encoding                                                    |
//! |---|----------|-------------------------------------------------------------|
//! | 0 | identity | UTF-8 text (absent on 7-frame messages)                     |
//! | 1 | protocol | `ZSS:0.0`                                                   |
//! | 2 | type     | `REQ` / `REP`                                               |
//! | 3 | rid      | request id, echoed in the reply                             |
//! | 4 | address  | msgpack `{sid, sversion, verb}`                             |
//! | 5 | headers  | msgpack map, or nil                                         |
//! | 6 | status   | ASCII digits on replies; `null` (Node) or empty (Ruby) on requests |
//! | 7 | payload  | msgpack, never an empty frame                               |
//!
//! Every implementation parses with one rule: 7 frames have no identity, otherwise field 0 is it.

use crate::msgpack::{self, DecodeError, EncodeError, Value};
use std::fmt;

pub const PROTOCOL: &str = "ZSS:0.0";
/// What our requests carry in the status frame (the Node peers' form; Ruby sends it empty).
pub const REQUEST_STATUS: &[u8] = b"null";
/// The reserved service id of the broker's management interface.
pub const SMI_SID: &str = "SMI";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageType {
    Req,
    Rep,
}

impl MessageType {
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            MessageType::Req => b"REQ",
            MessageType::Rep => b"REP",
        }
    }
    pub fn parse(frame: &[u8]) -> Option<MessageType> {
        match frame {
            b"REQ" => Some(MessageType::Req),
            b"REP" => Some(MessageType::Rep),
            _ => None,
        }
    }
}

/// Field 4: where a request goes. `sid` routes (case-insensitively); `verb` selects the handler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    pub sid: String,
    pub sversion: String,
    pub verb: String,
}

impl Address {
    /// An address as clients send it: sid and verb upper-cased, sversion `*`.
    pub fn new(sid: &str, verb: &str) -> Address {
        Address { sid: sid.to_uppercase(), sversion: "*".to_owned(), verb: verb.to_uppercase() }
    }

    pub fn to_value(&self) -> Value {
        Value::map([
            ("sid", Value::from(self.sid.as_str())),
            ("sversion", Value::from(self.sversion.as_str())),
            ("verb", Value::from(self.verb.as_str())),
        ])
    }

    pub fn encode(&self) -> Vec<u8> {
        // Three short strings always encode.
        msgpack::encode(&self.to_value()).expect("address encodes")
    }

    pub fn decode(frame: &[u8]) -> Result<Address, FrameError> {
        let v = msgpack::decode(frame).map_err(FrameError::Address)?;
        let text = |key: &str| -> Result<String, FrameError> {
            match v.get(key) {
                Some(Value::Str(s)) => Ok(s.clone()),
                // The original clients may omit sversion; verbs are sometimes numbers in Ruby.
                Some(Value::Nil) | None if key == "sversion" => Ok("*".to_owned()),
                Some(other) if key != "sid" && !matches!(other, Value::Map(_) | Value::Array(_)) => {
                    Ok(other.to_json_string())
                }
                _ => Err(FrameError::AddressField(key_name(key))),
            }
        };
        Ok(Address { sid: text("sid")?, sversion: text("sversion")?, verb: text("verb")? })
    }
}

fn key_name(key: &str) -> &'static str {
    match key {
        "sid" => "sid",
        "verb" => "verb",
        _ => "sversion",
    }
}

/// A decoded ZSS message. Clients and workers use it; the broker never decodes the payload.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// Field 0: the client's identity on requests a worker receives and replies it sends;
    /// `None` on 7-frame messages.
    pub identity: Option<String>,
    pub kind: MessageType,
    pub rid: String,
    pub address: Address,
    /// A map, or `Nil` when the sender had none.
    pub headers: Value,
    /// `None` on requests (`null` or empty status frame).
    pub status: Option<u16>,
    pub payload: Value,
}

/// Why frames are not a valid ZSS message. Each is logged and counted by whoever received it.
#[derive(Clone, Debug, PartialEq)]
pub enum FrameError {
    FrameCount(usize),
    Identity,
    Protocol(Vec<u8>),
    Type(Vec<u8>),
    Rid,
    Address(DecodeError),
    AddressField(&'static str),
    Headers(DecodeError),
    Status(Vec<u8>),
    Payload(DecodeError),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::FrameCount(n) => write!(f, "expected 7 or 8 frames, got {n}"),
            FrameError::Identity => f.write_str("identity frame is not UTF-8 text"),
            FrameError::Protocol(p) => write!(f, "unknown protocol {:?}", String::from_utf8_lossy(p)),
            FrameError::Type(t) => write!(f, "unknown message type {:?}", String::from_utf8_lossy(t)),
            FrameError::Rid => f.write_str("rid frame is empty or not UTF-8 text"),
            FrameError::Address(e) => write!(f, "undecodable address: {e}"),
            FrameError::AddressField(k) => write!(f, "address has no string `{k}`"),
            FrameError::Headers(e) => write!(f, "undecodable headers: {e}"),
            FrameError::Status(s) => write!(f, "invalid status frame {:?}", String::from_utf8_lossy(s)),
            FrameError::Payload(e) => write!(f, "undecodable payload: {e}"),
        }
    }
}
impl std::error::Error for FrameError {}

/// Parses the status frame: ASCII digits, or `null`/empty on requests.
pub fn parse_status(frame: &[u8]) -> Result<Option<u16>, FrameError> {
    if frame.is_empty() || frame == b"null" {
        return Ok(None);
    }
    std::str::from_utf8(frame)
        .ok()
        .and_then(|s| s.trim().parse::<u16>().ok())
        .map(Some)
        .ok_or_else(|| FrameError::Status(frame.to_vec()))
}

/// Renders a status as its frame (`200` → `b"200"`) without allocating.
pub fn status_frame(status: u16, buf: &mut [u8; 5]) -> &[u8] {
    let mut n = status;
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// Checks the frames every hop shares: 7 or 8 frames, `ZSS:0.0`, a known type.
/// Returns the offset of the protocol frame (0 without identity, 1 with).
pub fn envelope_offset<F: AsRef<[u8]>>(frames: &[F]) -> Result<usize, FrameError> {
    let base = match frames.len() {
        7 => 0,
        8 => 1,
        n => return Err(FrameError::FrameCount(n)),
    };
    let protocol = frames[base].as_ref();
    if protocol != PROTOCOL.as_bytes() {
        return Err(FrameError::Protocol(protocol.to_vec()));
    }
    let kind = frames[base + 1].as_ref();
    if MessageType::parse(kind).is_none() {
        return Err(FrameError::Type(kind.to_vec()));
    }
    Ok(base)
}

impl Message {
    /// A request as a client sends it.
    pub fn request(rid: String, address: Address, headers: Value, payload: Value) -> Message {
        Message {
            identity: None,
            kind: MessageType::Req,
            rid,
            address,
            headers,
            status: None,
            payload,
        }
    }

    /// Parses 7 frames (no identity) or 8 (field 0 = identity).
    pub fn from_frames<F: AsRef<[u8]>>(frames: &[F]) -> Result<Message, FrameError> {
        let base = envelope_offset(frames)?;
        let f = |i: usize| frames[base + i - 1].as_ref();
        let identity = if base == 1 {
            Some(std::str::from_utf8(frames[0].as_ref()).map_err(|_| FrameError::Identity)?.to_owned())
        } else {
            None
        };
        let kind = MessageType::parse(f(2)).expect("checked by envelope_offset");
        let rid = std::str::from_utf8(f(3)).map_err(|_| FrameError::Rid)?.to_owned();
        let address = Address::decode(f(4))?;
        let headers = msgpack::decode(f(5)).map_err(FrameError::Headers)?;
        let status = parse_status(f(6))?;
        let payload = msgpack::decode(f(7)).map_err(FrameError::Payload)?;
        Ok(Message { identity, kind, rid, address, headers, status, payload })
    }

    /// Encodes the message; with `identity` set it gives 8 frames, otherwise 7.
    pub fn to_frames(&self) -> Result<Vec<Vec<u8>>, EncodeError> {
        let mut frames = Vec::with_capacity(8);
        if let Some(id) = &self.identity {
            frames.push(id.as_bytes().to_vec());
        }
        frames.push(PROTOCOL.as_bytes().to_vec());
        frames.push(self.kind.as_bytes().to_vec());
        frames.push(self.rid.as_bytes().to_vec());
        frames.push(self.address.encode());
        frames.push(msgpack::encode(&self.headers)?);
        frames.push(match self.status {
            Some(s) => s.to_string().into_bytes(),
            None => REQUEST_STATUS.to_vec(),
        });
        frames.push(msgpack::encode(&self.payload)?);
        Ok(frames)
    }
}

/// How a request is named in log lines: its rid, and the caller's `x-request-id` header when
/// present (read from the raw headers frame without decoding it).
pub struct RequestTag<'a> {
    pub rid: &'a [u8],
    pub request_id: Option<&'a str>,
}

impl<'a> RequestTag<'a> {
    pub fn from_frames(rid: &'a [u8], headers_frame: &'a [u8]) -> RequestTag<'a> {
        RequestTag { rid, request_id: msgpack::map_str_field_ignore_case(headers_frame, "x-request-id") }
    }
}

impl fmt::Display for RequestTag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rid={}", String::from_utf8_lossy(self.rid))?;
        if let Some(id) = self.request_id {
            write!(f, " x-request-id={id}")?;
        }
        Ok(())
    }
}

/// The `x-request-id` header of a decoded header map (any case), for log lines.
pub fn request_id(headers: &Value) -> Option<&str> {
    match headers {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.as_str().is_some_and(|k| k.eq_ignore_ascii_case("x-request-id")))
            .and_then(|(_, v)| v.as_str()),
        _ => None,
    }
}

/// A fresh request id (a UUID string, like the originals').
pub fn new_rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An identity `<prefix>#<uuid>`: textual, as the Node peers require.
pub fn new_identity(prefix: &str) -> String {
    format!("{prefix}#{}", uuid::Uuid::new_v4())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn client_request_frames_match_the_captured_example() {
        let msg = Message::request(
            "0c6a4a2a-1111-4e8e-9c3b-2f6b2f0e4a11".into(),
            Address::new("pong", "ping"),
            // msgpack-js sends timestamps as float64; an i64 would go out the same way.
            Value::map([("micro.cs", Value::Float(1553000000000.0))]),
            Value::from("ping"),
        );
        let frames = msg.to_frames().unwrap();
        assert_eq!(frames.len(), 7);
        assert_eq!(hex(&frames[0]), "5a53533a302e30");
        assert_eq!(hex(&frames[1]), "524551");
        assert_eq!(frames[2].len(), 36);
        assert_eq!(hex(&frames[3]), "83a3736964a4504f4e47a87376657273696f6ea12aa476657262a450494e47");
        assert_eq!(hex(&frames[4]), "81a86d6963726f2e6373cb4276996036a00000");
        assert_eq!(hex(&frames[5]), "6e756c6c");
        assert_eq!(hex(&frames[6]), "a470696e67");
        assert_eq!(Message::from_frames(&frames).unwrap(), msg);
    }

    #[test]
    fn identity_rule_and_status_forms() {
        let mut msg = Message::request("r1".into(), Address::new("a", "b"), Value::Nil, Value::Nil);
        msg.identity = Some("client#x".into());
        msg.kind = MessageType::Rep;
        msg.status = Some(204);
        let frames = msg.to_frames().unwrap();
        assert_eq!(frames.len(), 8);
        assert_eq!(frames[6], b"204");
        assert_eq!(frames[7], [0xc0]);
        assert_eq!(Message::from_frames(&frames).unwrap(), msg);
        // Ruby's empty status frame on requests.
        let mut ruby = frames.clone();
        ruby[6] = Vec::new();
        assert_eq!(Message::from_frames(&ruby).unwrap().status, None);
    }

    #[test]
    fn bad_frames_are_errors() {
        let good = Message::request("r".into(), Address::new("a", "b"), Value::Nil, Value::Nil)
            .to_frames()
            .unwrap();
        assert_eq!(Message::from_frames(&good[..6]), Err(FrameError::FrameCount(6)));
        let mut bad = good.clone();
        bad[0] = b"ZSS:1.0".to_vec();
        assert!(matches!(Message::from_frames(&bad), Err(FrameError::Protocol(_))));
        let mut bad = good.clone();
        bad[3] = vec![0xc1];
        assert!(matches!(Message::from_frames(&bad), Err(FrameError::Address(_))));
        let mut bad = good.clone();
        bad[5] = b"2x0".to_vec();
        assert!(matches!(Message::from_frames(&bad), Err(FrameError::Status(_))));
        let mut bad = good.clone();
        bad[6] = Vec::new();
        assert!(matches!(Message::from_frames(&bad), Err(FrameError::Payload(_))));
        let mut bad = good;
        bad.insert(0, vec![0xff, 0xfe]);
        assert_eq!(Message::from_frames(&bad), Err(FrameError::Identity));
    }

    #[test]
    fn status_frame_renders_digits() {
        let mut buf = [0u8; 5];
        assert_eq!(status_frame(200, &mut buf), b"200");
        assert_eq!(status_frame(0, &mut buf), b"0");
        assert_eq!(status_frame(65535, &mut buf), b"65535");
    }
}
