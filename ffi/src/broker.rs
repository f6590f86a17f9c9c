//! `zss_broker`: a broker embedded in the C program.

use crate::handle::{borrow, free_raw, into_raw, out_param, str_arg};
use crate::value::c_string;
use crate::{guard, guard_void, zss_result, Failure};
use std::ffi::{c_char, CString};
use std::sync::Mutex;
use zss::{Broker, BrokerConfig, RunningBroker};

/// A broker: bound by `zss_broker_bind`, serving after `zss_broker_start`, stopped by
/// `zss_broker_stop` or `zss_broker_free`. Opaque; thread-safe.
pub struct zss_broker {
    state: Mutex<BrokerState>,
    /// Resolved at bind time and fixed after: safe to lend out for the handle's lifetime.
    frontend: CString,
    backend: CString,
}

enum BrokerState {
    Bound(Broker),
    Running(RunningBroker),
    Stopped,
}

/// Binds a broker's two sockets: `frontend` (clients) and `backend` (workers), e.g.
/// `"tcp://127.0.0.1:7777"` and `"tcp://127.0.0.1:7776"`. A `*` port (`"tcp://127.0.0.1:*"`)
/// picks a free port; read it back with `zss_broker_frontend_endpoint`. Binding happens now,
/// so a busy address fails here. The broker does not serve until `zss_broker_start`.
///
/// Ownership: on success `*broker_out` is a new broker to free with `zss_broker_free`; on
/// failure it is set to NULL. Errors: `ZSS_RESULT_NULL_PARAMETER`,
/// `ZSS_RESULT_INVALID_ARGUMENT`, `ZSS_RESULT_SOCKET` (bad endpoint, address in use).
#[no_mangle]
pub unsafe extern "C" fn zss_broker_bind(
    frontend: *const c_char,
    backend: *const c_char,
    broker_out: *mut *mut zss_broker,
) -> zss_result {
    guard("zss_broker_bind", || {
        let broker_out = out_param(broker_out, "broker_out")?;
        *broker_out = std::ptr::null_mut();
        let config = BrokerConfig::new(str_arg(frontend, "frontend")?, str_arg(backend, "backend")?);
        let broker = Broker::bind(config)?;
        *broker_out = into_raw(zss_broker {
            frontend: c_string(broker.frontend_endpoint()),
            backend: c_string(broker.backend_endpoint()),
            state: Mutex::new(BrokerState::Bound(broker)),
        });
        Ok(())
    })
}

/// As `zss_broker_bind`, serving CURVE on both sockets with `curve_secret` (the broker's
/// secret key: Z85 text, a key file or `env:VAR`). `allow_list` (may be NULL: any key may
/// connect) is the text of an allow list, one public key a line with optional
/// `name=N call=A,B serve=C` (`*` = all) and `#` comments; calls outside a key's `call=` get
/// 403, registrations outside its `serve=` are refused (403).
///
/// Ownership: as `zss_broker_bind`; the strings are copied. Errors: as `zss_broker_bind`, and
/// `ZSS_RESULT_INVALID_ARGUMENT` for a malformed key or allow list, or a libzmq without CURVE.
#[no_mangle]
pub unsafe extern "C" fn zss_broker_bind_curve(
    frontend: *const c_char,
    backend: *const c_char,
    curve_secret: *const c_char,
    allow_list: *const c_char,
    broker_out: *mut *mut zss_broker,
) -> zss_result {
    guard("zss_broker_bind_curve", || {
        let broker_out = out_param(broker_out, "broker_out")?;
        *broker_out = std::ptr::null_mut();
        let mut config = BrokerConfig::new(str_arg(frontend, "frontend")?, str_arg(backend, "backend")?)
            .curve(crate::security::pair_arg(curve_secret, "curve_secret")?);
        if let Some(text) = crate::handle::opt_str_arg(allow_list, "allow_list")? {
            config = config.allow(zss::SharedAllowList::new(zss::AllowList::parse(text)?));
        }
        let broker = Broker::bind(config)?;
        *broker_out = into_raw(zss_broker {
            frontend: c_string(broker.frontend_endpoint()),
            backend: c_string(broker.backend_endpoint()),
            state: Mutex::new(BrokerState::Bound(broker)),
        });
        Ok(())
    })
}

/// Starts serving on a background thread. Returns at once.
///
/// Threading: thread-safe. Errors: `ZSS_RESULT_NULL_PARAMETER`; `ZSS_RESULT_INVALID_STATE`
/// if already started; `ZSS_RESULT_CLOSED` if stopped; `ZSS_RESULT_SOCKET` if the thread or
/// its mailbox cannot be created.
#[no_mangle]
pub unsafe extern "C" fn zss_broker_start(broker: *const zss_broker) -> zss_result {
    guard("zss_broker_start", || {
        let broker = borrow(broker, "broker")?;
        let mut state = broker.state.lock().unwrap_or_else(|p| p.into_inner());
        match std::mem::replace(&mut *state, BrokerState::Stopped) {
            BrokerState::Bound(bound) => {
                *state = BrokerState::Running(bound.start()?);
                Ok(())
            }
            running @ BrokerState::Running(_) => {
                *state = running;
                Err(Failure::new(zss_result::InvalidState, "the broker is already running"))
            }
            BrokerState::Stopped => Err(Failure::new(zss_result::Closed, "the broker was stopped")),
        }
    })
}

/// The frontend endpoint actually bound (a `*` port resolved), e.g. `"tcp://127.0.0.1:41234"`.
///
/// Ownership: borrowed from the broker, valid until `zss_broker_free`.
/// Errors: `ZSS_RESULT_NULL_PARAMETER`.
#[no_mangle]
pub unsafe extern "C" fn zss_broker_frontend_endpoint(
    broker: *const zss_broker,
    endpoint_out: *mut *const c_char,
) -> zss_result {
    guard("zss_broker_frontend_endpoint", || {
        let broker = borrow(broker, "broker")?;
        *out_param(endpoint_out, "endpoint_out")? = broker.frontend.as_ptr();
        Ok(())
    })
}

/// The backend endpoint actually bound (a `*` port resolved): what workers connect to.
///
/// Ownership: borrowed from the broker, valid until `zss_broker_free`.
/// Errors: `ZSS_RESULT_NULL_PARAMETER`.
#[no_mangle]
pub unsafe extern "C" fn zss_broker_backend_endpoint(
    broker: *const zss_broker,
    endpoint_out: *mut *const c_char,
) -> zss_result {
    guard("zss_broker_backend_endpoint", || {
        let broker = borrow(broker, "broker")?;
        *out_param(endpoint_out, "endpoint_out")? = broker.backend.as_ptr();
        Ok(())
    })
}

/// Stops the broker (if running) and closes its sockets; it cannot be started again.
/// Idempotent. Blocks until the broker thread has exited.
///
/// Threading: thread-safe. Errors: `ZSS_RESULT_NULL_PARAMETER`.
#[no_mangle]
pub unsafe extern "C" fn zss_broker_stop(broker: *const zss_broker) -> zss_result {
    guard("zss_broker_stop", || {
        let broker = borrow(broker, "broker")?;
        // Take the state out under the lock, stop outside it (joining can take a moment).
        let old = std::mem::replace(&mut *broker.state.lock().unwrap_or_else(|p| p.into_inner()), BrokerState::Stopped);
        if let BrokerState::Running(mut running) = old {
            running.stop();
        }
        Ok(())
    })
}

/// Stops (if needed) and frees a broker. NULL is a no-op.
///
/// Ownership: takes back the broker; endpoint strings read from it become invalid.
/// Threading: no other thread may be using the broker. Errors: none.
#[no_mangle]
pub unsafe extern "C" fn zss_broker_free(broker: *mut zss_broker) {
    guard_void("zss_broker_free", || free_raw(broker));
}
