//! Core errors → Python exceptions.
//!
//! The exception classes are defined in Python (`zss/_errors.py`) so they are ordinary,
//! picklable, subclassable exceptions with typed attributes; the native code imports them.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert;

pyo3::import_exception!(zss._errors, ServiceError);
pyo3::import_exception!(zss._errors, Timeout);
pyo3::import_exception!(zss._errors, ClosedError);
pyo3::import_exception!(zss._errors, SocketError);
pyo3::import_exception!(zss._errors, AuthenticationError);
pyo3::import_exception!(zss._errors, BrokerLostError);

/// The Python exception for a core error.
pub fn to_pyerr(py: Python<'_>, err: zss::Error) -> PyErr {
    match err {
        zss::Error::Service(e) => service_error(py, &e),
        zss::Error::InvalidArgument(message) => PyValueError::new_err(message),
        zss::Error::Closed => ClosedError::new_err("the client or service is closed"),
        e @ zss::Error::Socket { .. } => SocketError::new_err(e.to_string()),
        e @ zss::Error::AuthenticationFailed(_) => AuthenticationError::new_err(e.to_string()),
        e @ zss::Error::BrokerLost(_) => {
            let (user, _) = zss::status::messages(e.code());
            BrokerLostError::new_err((e.code(), user, e.to_string()))
        }
    }
}

/// `zss.ServiceError` (or `zss.Timeout` for 599) carrying the whole error payload.
pub fn service_error(py: Python<'_>, e: &zss::ServiceError) -> PyErr {
    let payload = match convert::to_py(py, &e.to_payload()) {
        Ok(p) => p.unbind(),
        Err(err) => return err,
    };
    let args = (e.code, e.user_message.clone(), e.developer_message.clone(), payload);
    if e.is_timeout() {
        Timeout::new_err(args)
    } else {
        ServiceError::new_err(args)
    }
}

/// Reads a `zss.ServiceError` raised by a handler back into the core's error. The `payload`
/// attribute's extra fields (beyond code/messages) travel with it.
pub fn from_service_error(err: &Bound<'_, PyAny>) -> PyResult<zss::ServiceError> {
    let code: u16 = err.getattr("code")?.extract()?;
    let mut e = zss::ServiceError::with_messages(
        code,
        &err.getattr("user_message")?.extract::<String>()?,
        &err.getattr("developer_message")?.extract::<String>()?,
    );
    let payload = err.getattr("payload")?;
    if let Ok(extra) = payload.cast::<PyDict>() {
        if let zss::Value::Map(entries) = convert::to_value(extra.as_any(), "ServiceError.payload")? {
            for (k, v) in entries {
                if let zss::Value::Str(k) = k {
                    e = e.with_field(&k, v);
                }
            }
        }
    }
    Ok(e)
}
