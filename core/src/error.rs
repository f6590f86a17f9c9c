//! Status conventions and errors.
//!
//! On the wire an error is a reply with a non-2xx status and a payload map
//! `{code, userMessage, developerMessage}` (Node service) or `{errorCode, ...}` (broker, Ruby).
//! We emit both `code` and `errorCode` and accept either; extra keys are kept.

use crate::msgpack::{EncodeError, Value};
use std::fmt;

/// The standard statuses and their messages, as the original packages ship them
/// (`config/errors.json`); 409, 410, 422 and 503 are ours, worded the same way.
pub mod status {
    pub const OK: u16 = 200;
    pub const NO_CONTENT: u16 = 204;
    pub const BAD_REQUEST: u16 = 400;
    pub const UNAUTHORIZED: u16 = 401;
    pub const FORBIDDEN: u16 = 403;
    pub const NOT_FOUND: u16 = 404;
    pub const CONFLICT: u16 = 409;
    pub const GONE: u16 = 410;
    pub const UNPROCESSABLE: u16 = 422;
    pub const TOO_MANY_REQUESTS: u16 = 429;
    pub const INTERNAL: u16 = 500;
    /// The broker lost the worker handling a request (expired or went DOWN) before it replied.
    pub const SERVICE_UNAVAILABLE: u16 = 503;
    /// Client-side timeout; never sent on the wire.
    pub const TIMEOUT: u16 = 599;

    pub fn is_success(status: u16) -> bool {
        (200..300).contains(&status)
    }

    /// `(userMessage, developerMessage)` for a standard status; the 500 text for others.
    pub fn messages(code: u16) -> (&'static str, &'static str) {
        match code {
            400 => ("An error occured", "The request cannot be fulfilled due to bad syntax."),
            401 => (
                "This resource is only available after logging in.",
                "User authentication token has expired or is missing",
            ),
            403 => (
                "You do not have access to this resource.",
                "User does not have enough privileges to access this resource.",
            ),
            404 => ("The content you requested was not found.", "The resource could not be found."),
            409 => (
                "The request conflicts with the current state of the resource.",
                "The request could not be completed due to a conflict with the current state of the resource.",
            ),
            410 => ("The content you requested is no longer available.", "The resource is no longer available."),
            422 => (
                "The request could not be processed.",
                "The request was well-formed but could not be processed due to semantic errors.",
            ),
            429 => (
                "Please wait a while before trying to access this content again",
                "You have sent too many requests in a given amount of time.",
            ),
            503 => (
                "The service is temporarily unavailable.",
                "The service instance handling this request stopped before replying.",
            ),
            599 => (
                "Connection timeout while processing this request.",
                "Connection timeout while processing this request.",
            ),
            _ => (
                "There was an error while processing this request.",
                "There was an error while processing this request. There is probably something wrong with the API server.",
            ),
        }
    }
}

/// An error reply: what a service answers with, and what a client receives for any non-2xx
/// status (599 for a local timeout).
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceError {
    pub code: u16,
    pub user_message: String,
    pub developer_message: String,
    /// The whole error payload as received or to be sent, extra fields (e.g.
    /// `validationErrors`) included. Always a map.
    pub payload: Value,
}

impl ServiceError {
    /// An error with the standard messages for `code`.
    pub fn new(code: u16) -> ServiceError {
        let (user, developer) = status::messages(code);
        ServiceError::with_messages(code, user, developer)
    }

    pub fn with_messages(code: u16, user_message: &str, developer_message: &str) -> ServiceError {
        ServiceError {
            code,
            user_message: user_message.to_owned(),
            developer_message: developer_message.to_owned(),
            payload: Value::Map(Vec::new()),
        }
    }

    /// Adds an extra field to the error payload (kept next to the standard ones).
    pub fn with_field(mut self, key: &str, value: impl Into<Value>) -> ServiceError {
        self.payload.insert(key, value.into());
        self
    }

    /// The client-side timeout error (599).
    pub fn timeout() -> ServiceError {
        ServiceError::new(status::TIMEOUT)
    }

    pub fn is_timeout(&self) -> bool {
        self.code == status::TIMEOUT
    }

    /// Reads an error reply. The status frame wins; the payload's `code`/`errorCode` is used
    /// only when the status is missing. Missing messages get the standard text for the code.
    pub fn from_reply(status: Option<u16>, payload: Value) -> ServiceError {
        let payload_code = payload
            .get("code")
            .or_else(|| payload.get("errorCode"))
            .and_then(Value::as_i64)
            .and_then(|c| u16::try_from(c).ok());
        let code = status.or(payload_code).unwrap_or(status::INTERNAL);
        let (user, developer) = status::messages(code);
        let text = |key: &str, default: &str| {
            payload.get(key).and_then(Value::as_str).unwrap_or(default).to_owned()
        };
        ServiceError {
            code,
            user_message: text("userMessage", user),
            developer_message: text("developerMessage", developer),
            payload: if matches!(payload, Value::Map(_)) { payload } else { Value::Map(Vec::new()) },
        }
    }

    /// The payload to send: standard fields first (`code`, `userMessage`, `developerMessage`,
    /// `errorCode`), then the extra fields.
    pub fn to_payload(&self) -> Value {
        let mut out = Value::map([
            ("code", Value::from(self.code)),
            ("userMessage", Value::from(self.user_message.as_str())),
            ("developerMessage", Value::from(self.developer_message.as_str())),
            ("errorCode", Value::from(self.code)),
        ]);
        if let Value::Map(extra) = &self.payload {
            for (k, v) in extra {
                match k.as_str() {
                    Some("code" | "userMessage" | "developerMessage" | "errorCode") => {}
                    _ => {
                        if let Value::Map(entries) = &mut out {
                            entries.push((k.clone(), v.clone()));
                        }
                    }
                }
            }
        }
        out
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.code, self.user_message, self.developer_message)
    }
}
impl std::error::Error for ServiceError {}

/// Everything a zss call can fail with.
#[derive(Clone, Debug, PartialEq)]
pub enum Error {
    /// The service (or broker) answered with a non-2xx status, or the call timed out (599).
    Service(ServiceError),
    /// The caller passed something that cannot be sent (an unencodable payload, an empty sid…).
    InvalidArgument(String),
    /// The client or worker was closed.
    Closed,
    /// A ZeroMQ operation failed (bad endpoint, address in use, …).
    Socket { context: String, message: String },
    /// The broker refused our CURVE handshake (wrong broker key, our key not on its allow
    /// list) or refused to register a worker for its sid (403): retrying will not help.
    AuthenticationFailed(String),
    /// The broker this call went through was lost (its connection dropped, or it stopped
    /// answering pings) with the call in flight: the call may or may not have run. Status 503.
    /// Calls marked idempotent are re-sent to another broker instead.
    BrokerLost(String),
}

impl Error {
    pub(crate) fn socket(context: impl Into<String>, err: zmq::Error) -> Error {
        Error::Socket { context: context.into(), message: err.to_string() }
    }

    /// The status code a caller should see: the service's code, 400 for bad arguments,
    /// 500 otherwise.
    pub fn code(&self) -> u16 {
        match self {
            Error::Service(e) => e.code,
            Error::InvalidArgument(_) => status::BAD_REQUEST,
            Error::Closed | Error::Socket { .. } => status::INTERNAL,
            Error::AuthenticationFailed(_) => status::UNAUTHORIZED,
            Error::BrokerLost(_) => status::SERVICE_UNAVAILABLE,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Service(e) => e.fmt(f),
            Error::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
            Error::Closed => f.write_str("closed"),
            Error::Socket { context, message } => write!(f, "{context}: {message}"),
            Error::AuthenticationFailed(m) => write!(f, "authentication failed: {m}"),
            Error::BrokerLost(endpoint) => {
                write!(f, "broker lost: {endpoint} went away with the call in flight (it may or may not have run)")
            }
        }
    }
}
impl std::error::Error for Error {}

impl From<ServiceError> for Error {
    fn from(e: ServiceError) -> Error {
        Error::Service(e)
    }
}
impl From<EncodeError> for Error {
    fn from(e: EncodeError) -> Error {
        Error::InvalidArgument(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_has_both_code_forms_and_keeps_extras() {
        let e = ServiceError::new(422).with_field("validationErrors", Value::from(vec!["name"]));
        let p = e.to_payload();
        assert_eq!(p.get("code"), Some(&Value::from(422)));
        assert_eq!(p.get("errorCode"), Some(&Value::from(422)));
        assert_eq!(p.get("validationErrors"), Some(&Value::from(vec!["name"])));
        let back = ServiceError::from_reply(Some(422), p);
        assert_eq!(back.code, 422);
        assert_eq!(back.user_message, e.user_message);
    }

    #[test]
    fn accepts_error_code_and_float_codes() {
        let broker = Value::map([
            ("developerMessage", Value::from("d")),
            ("userMessage", Value::from("u")),
            ("errorCode", Value::Float(404.0)),
        ]);
        let e = ServiceError::from_reply(None, broker);
        assert_eq!((e.code, e.user_message.as_str(), e.developer_message.as_str()), (404, "u", "d"));
        let bare = ServiceError::from_reply(Some(503), Value::Nil);
        assert_eq!(bare.user_message, status::messages(503).0);
    }
}
