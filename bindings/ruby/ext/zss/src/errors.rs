//! Core errors → Ruby exceptions.
//!
//! The exception classes live in Ruby (`lib/zss/error.rb`): ordinary, subclassable
//! exceptions compatible with the old gem's `ZSS::Error`. Here we only pick the class and
//! build the instance through it.

use magnus::prelude::*;
use magnus::{Error, Exception, ExceptionClass, RModule, Ruby};

use crate::convert;

fn zss_class(ruby: &Ruby, name: &str) -> Result<ExceptionClass, Error> {
    let module: RModule = ruby.class_object().const_get("ZSS")?;
    module.const_get(name)
}

/// The Ruby exception for a core error: `ZSS::Error` (or `ZSS::TimeoutError` for 599) for an
/// error reply, `ArgumentError` for what cannot be sent, `ZSS::ClosedError`, `ZSS::SocketError`.
pub fn to_rb(ruby: &Ruby, err: zss::Error) -> Error {
    let built = match err {
        zss::Error::Service(e) => service_error(ruby, &e),
        zss::Error::InvalidArgument(message) => return Error::new(ruby.exception_arg_error(), message),
        zss::Error::Closed => zss_class(ruby, "ClosedError")
            .and_then(|c| c.new_instance((500u16, "the client or service is closed"))),
        e @ zss::Error::Socket { .. } => {
            zss_class(ruby, "SocketError").and_then(|c| c.new_instance((500u16, e.to_string())))
        }
        e @ zss::Error::AuthenticationFailed(_) => {
            zss_class(ruby, "AuthenticationError").and_then(|c| c.new_instance((401u16, e.to_string())))
        }
        e @ zss::Error::BrokerLost(_) => {
            zss_class(ruby, "BrokerLostError").and_then(|c| c.new_instance((e.code(), e.to_string())))
        }
    };
    match built {
        Ok(exception) => exception.into(),
        Err(e) => e,
    }
}

/// `ZSS::Error.from_reply(code, user_message, developer_message, payload)`, which picks
/// `ZSS::TimeoutError` for 599. The payload is the whole error payload, extra fields included.
fn service_error(ruby: &Ruby, e: &zss::ServiceError) -> Result<Exception, Error> {
    let payload = convert::to_ruby(ruby, &e.to_payload())?;
    zss_class(ruby, "Error")?.funcall(
        "from_reply",
        (e.code, e.user_message.as_str(), e.developer_message.as_str(), payload),
    )
}
