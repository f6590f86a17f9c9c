//! `zss_client`: calls services through a broker's frontend.

use crate::handle::{borrow, endpoints_arg, free_raw, into_raw, opt_str_arg, out_param, str_arg};
use crate::reply::zss_reply;
use crate::value::{headers_from, json_arg, msgpack_arg};
use crate::{guard, guard_void, zss_result, FfiResult, Failure};
use std::ffi::c_char;
use std::time::Duration;
use zss::{Call, Client, ClientConfig, Value};

/// A connection to a broker's frontend. Opaque; made by `zss_client_new`, freed by
/// `zss_client_free`. Thread-safe: any number of threads may call through one client at once.
pub struct zss_client {
    /// The core client is thread-safe and its `close` is idempotent and fails calls in flight
    /// and later calls with `Error::Closed`: nothing to add here.
    inner: Client,
}

impl zss_client {
    /// Sends `call` and waits for its outcome, turning it into a reply handle for C.
    fn call(&self, call: Call, reply_out: &mut *mut zss_reply) -> FfiResult {
        match self.inner.request(call) {
            Ok(reply) => {
                *reply_out = into_raw(zss_reply::success(reply));
                Ok(())
            }
            Err(zss::Error::Service(e)) => {
                // An error reply is still a reply: hand it over so C can read code and messages.
                let failure = Failure::from(zss::Error::Service(e.clone()));
                *reply_out = into_raw(zss_reply::error(e));
                Err(failure)
            }
            Err(other) => Err(other.into()),
        }
    }
}

/// Builds a call from the common arguments of the `zss_client_call_*` functions.
fn make_call(
    sid: Option<&str>,
    verb: &str,
    payload: Value,
    headers: Vec<(String, Value)>,
    timeout_ms: u32,
    retries: u32,
) -> Call {
    let mut call = Call::new(verb, payload).retries(retries);
    call.sid = sid.map(str::to_owned);
    call.headers = headers;
    if timeout_ms > 0 {
        call.timeout = Some(Duration::from_millis(u64::from(timeout_ms)));
    }
    call
}

/// The settings every `zss_client_new*` function shares: brokers, default sid, timeout.
unsafe fn client_config(endpoint: *const c_char, default_sid: *const c_char, timeout_ms: u32) -> FfiResult<ClientConfig> {
    let mut config = ClientConfig::new(str_arg(endpoint, "endpoint")?);
    config.sid = opt_str_arg(default_sid, "default_sid")?.map(str::to_owned);
    if timeout_ms > 0 {
        config.timeout = Duration::from_millis(u64::from(timeout_ms));
    }
    Ok(config)
}

/// Connects `config` and hands the new client to C through `client_out` (NULL on failure).
unsafe fn connect_into(
    client_out: *mut *mut zss_client,
    config: impl FnOnce() -> FfiResult<ClientConfig>,
) -> FfiResult {
    let client_out = out_param(client_out, "client_out")?;
    *client_out = std::ptr::null_mut();
    let client = Client::connect(config()?)?;
    *client_out = into_raw(zss_client { inner: client });
    Ok(())
}

/// Connects a client to a broker frontend, e.g. `"tcp://127.0.0.1:7777"`, or to several
/// brokers given as one comma-separated list, e.g. `"tcp://a:7777,tcp://b:7777"`.
///
/// With several brokers each call goes to the broker with the fewest calls in flight among
/// those that are up; a broker that drops its connection or leaves its pings unanswered
/// (every 1000 ms, lost after 3 s: see `zss_client_new_liveness`) gets no more calls until it
/// answers again, and the calls in flight on it end at once with `ZSS_RESULT_BROKER_LOST`
/// (or are re-sent elsewhere: `zss_client_call_json_retries`).
///
/// `default_sid` (may be NULL) is the service used when a call names none. `timeout_ms` is
/// the default per-call timeout; 0 means the Node client's default, 1000 ms. Connecting is
/// asynchronous (ZeroMQ): calls made before the broker is reachable wait until their timeout.
///
/// Ownership: on success `*client_out` is a new client the caller frees with
/// `zss_client_free`; on failure it is set to NULL.
/// Errors: `ZSS_RESULT_NULL_PARAMETER`, `ZSS_RESULT_INVALID_ARGUMENT` (not UTF-8, no endpoint
/// in the list), `ZSS_RESULT_SOCKET` (malformed endpoint).
#[no_mangle]
pub unsafe extern "C" fn zss_client_new(
    endpoint: *const c_char,
    default_sid: *const c_char,
    timeout_ms: u32,
    client_out: *mut *mut zss_client,
) -> zss_result {
    guard("zss_client_new", || connect_into(client_out, || client_config(endpoint, default_sid, timeout_ms)))
}

/// As `zss_client_new` (`endpoint`: one frontend or a comma-separated list), with the brokers'
/// liveness settings: with several brokers each is pinged every `heartbeat_ms` and counts as
/// lost after `lost_after_beats` intervals without a word from it. 0 keeps a default (1000 ms,
/// 3 beats). A lost broker's calls in flight end with `ZSS_RESULT_BROKER_LOST` within about
/// `heartbeat_ms * lost_after_beats` when it hangs, at once when its connection drops.
///
/// Ownership, threading and errors as `zss_client_new`.
#[no_mangle]
pub unsafe extern "C" fn zss_client_new_liveness(
    endpoint: *const c_char,
    default_sid: *const c_char,
    timeout_ms: u32,
    heartbeat_ms: u32,
    lost_after_beats: u32,
    client_out: *mut *mut zss_client,
) -> zss_result {
    guard("zss_client_new_liveness", || {
        connect_into(client_out, || {
            let mut config = client_config(endpoint, default_sid, timeout_ms)?;
            if heartbeat_ms > 0 {
                config.heartbeat = Duration::from_millis(u64::from(heartbeat_ms));
            }
            if lost_after_beats > 0 {
                config.lost_after_beats = lost_after_beats;
            }
            Ok(config)
        })
    })
}

/// As `zss_client_new`, encrypted with CURVE: `broker_public` is the broker's public key and
/// `secret` this client's secret key (each Z85 text, a key file or `env:VAR`; the public key is
/// derived). A refused handshake (wrong broker key, our key not on its allow list) fails the
/// calls with `ZSS_RESULT_AUTHENTICATION_FAILED` within a second instead of a timeout.
///
/// Ownership: as `zss_client_new`; the strings are copied. Errors: as `zss_client_new`, and
/// `ZSS_RESULT_INVALID_ARGUMENT` for a malformed key or a libzmq without CURVE.
#[no_mangle]
pub unsafe extern "C" fn zss_client_new_curve(
    endpoint: *const c_char,
    default_sid: *const c_char,
    timeout_ms: u32,
    broker_public: *const c_char,
    secret: *const c_char,
    client_out: *mut *mut zss_client,
) -> zss_result {
    guard("zss_client_new_curve", || {
        connect_into(client_out, || {
            let config = client_config(endpoint, default_sid, timeout_ms)?;
            let server = crate::security::key_arg(broker_public, "broker_public")?;
            let pair = crate::security::pair_arg(secret, "secret")?;
            Ok(config.curve(server, pair))
        })
    })
}

/// Replaces the brokers the client uses (`endpoints`: a comma-separated list of frontends):
/// new ones are connected; one no longer listed takes no new calls and is closed once its
/// calls in flight are answered. Applied in order with the calls made after it returns.
///
/// Ownership: the string is copied. Threading: thread-safe.
/// Errors: `ZSS_RESULT_NULL_PARAMETER`, `ZSS_RESULT_INVALID_ARGUMENT` (not UTF-8, an empty
/// list), `ZSS_RESULT_CLOSED` (the client was closed).
#[no_mangle]
pub unsafe extern "C" fn zss_client_set_brokers(client: *const zss_client, endpoints: *const c_char) -> zss_result {
    guard("zss_client_set_brokers", || {
        let client = borrow(client, "client")?;
        let endpoints = endpoints_arg(endpoints, "endpoints")?;
        Ok(client.inner.set_brokers(endpoints)?)
    })
}

/// Calls `verb` on service `sid` (NULL: the client's default) with JSON text in and out.
///
/// `payload_json` is any JSON text (`"null"` for no payload); `headers_json` is NULL or a JSON
/// object of request headers. `timeout_ms` 0 uses the client's default. Blocks until the reply
/// or the timeout.
///
/// Ownership: `*reply_out` is set to a new reply (free it with `zss_reply_free`) when the
/// result is `ZSS_RESULT_OK`, `ZSS_RESULT_SERVICE_ERROR` or `ZSS_RESULT_TIMEOUT`, and to NULL
/// otherwise. Threading: thread-safe; calls from several threads run concurrently.
/// Errors: `ZSS_RESULT_NULL_PARAMETER`, `ZSS_RESULT_INVALID_JSON`,
/// `ZSS_RESULT_INVALID_ARGUMENT` (no sid, empty verb, headers not an object),
/// `ZSS_RESULT_SERVICE_ERROR` (non-2xx reply), `ZSS_RESULT_TIMEOUT` (599),
/// `ZSS_RESULT_CLOSED` (the client was closed, before or during the call),
/// `ZSS_RESULT_BROKER_LOST` (with several brokers, or one whose connection dropped: the broker
/// the call went through was lost with it in flight; it may or may not have run. No reply
/// handle. `zss_client_call_json_retries` re-sends such calls instead).
#[no_mangle]
pub unsafe extern "C" fn zss_client_call_json(
    client: *const zss_client,
    sid: *const c_char,
    verb: *const c_char,
    payload_json: *const c_char,
    headers_json: *const c_char,
    timeout_ms: u32,
    reply_out: *mut *mut zss_reply,
) -> zss_result {
    guard("zss_client_call_json", || {
        call_json(client, sid, verb, payload_json, headers_json, timeout_ms, 0, reply_out)
    })
}

/// As `zss_client_call_json`, re-sent up to `retries` times to another broker when the broker
/// it went through is lost with it in flight (0: never, as `zss_client_call_json`;
/// `ZSS_IDEMPOTENT_RETRIES` is the core's `idempotent` count). Only for calls that are safe to
/// run twice: the lost broker may have delivered the call already. A call still in flight
/// when its last try's broker is lost ends with `ZSS_RESULT_BROKER_LOST`, as do calls with no
/// other broker up.
///
/// Ownership, threading and errors as `zss_client_call_json`, and `ZSS_RESULT_BROKER_LOST`
/// (no reply handle: `*reply_out` is NULL).
#[no_mangle]
pub unsafe extern "C" fn zss_client_call_json_retries(
    client: *const zss_client,
    sid: *const c_char,
    verb: *const c_char,
    payload_json: *const c_char,
    headers_json: *const c_char,
    timeout_ms: u32,
    retries: u32,
    reply_out: *mut *mut zss_reply,
) -> zss_result {
    guard("zss_client_call_json_retries", || {
        call_json(client, sid, verb, payload_json, headers_json, timeout_ms, retries, reply_out)
    })
}

/// How many re-sends `Call::idempotent()` allows: pass it as `retries` for a call that is safe
/// to run twice.
pub const ZSS_IDEMPOTENT_RETRIES: u32 = 2;

/// The body of the `zss_client_call_json*` functions.
#[allow(clippy::too_many_arguments)]
unsafe fn call_json(
    client: *const zss_client,
    sid: *const c_char,
    verb: *const c_char,
    payload_json: *const c_char,
    headers_json: *const c_char,
    timeout_ms: u32,
    retries: u32,
    reply_out: *mut *mut zss_reply,
) -> FfiResult {
    let reply_out = out_param(reply_out, "reply_out")?;
    *reply_out = std::ptr::null_mut();
    let client = borrow(client, "client")?;
    let sid = opt_str_arg(sid, "sid")?;
    let verb = str_arg(verb, "verb")?;
    let payload = json_arg(payload_json, "payload_json")?;
    let headers = if headers_json.is_null() {
        Vec::new()
    } else {
        headers_from(json_arg(headers_json, "headers_json")?, "headers_json")?
    };
    client.call(make_call(sid, verb, payload, headers, timeout_ms, retries), reply_out)
}

/// Calls the broker's management interface: `verb` is `"PING"`, `"INFO"`, `"SERVICES"` or
/// `"STATS"`. Read the answer with `zss_reply_payload_json` (e.g. `STATS`: broker totals and,
/// per service, requests, replies by status class, errors, in flight, latency p50/p99 in ms).
///
/// `timeout_ms` 0 uses the client's default. A broker without the interface (the original
/// Node broker) answers 404: `ZSS_RESULT_SERVICE_ERROR`.
/// Ownership, threading and errors as `zss_client_call_json`.
#[no_mangle]
pub unsafe extern "C" fn zss_client_management(
    client: *const zss_client,
    verb: *const c_char,
    timeout_ms: u32,
    reply_out: *mut *mut zss_reply,
) -> zss_result {
    guard("zss_client_management", || {
        let reply_out = out_param(reply_out, "reply_out")?;
        *reply_out = std::ptr::null_mut();
        let client = borrow(client, "client")?;
        let verb = str_arg(verb, "verb")?;
        let call = make_call(Some(zss::protocol::SMI_SID), verb, zss::Value::Nil, Vec::new(), timeout_ms, 0);
        client.call(call, reply_out)
    })
}

/// Calls `verb` on service `sid` (NULL: the client's default) with msgpack bytes in.
///
/// `payload` is one msgpack value of `payload_len` bytes (0 bytes = nil, `payload` may then be
/// NULL); `headers` is a msgpack map of `headers_len` bytes, or 0 bytes for none. Read the
/// reply in either form (`zss_reply_payload_msgpack` / `zss_reply_payload_json`).
///
/// Ownership, threading and errors as `zss_client_call_json`, with
/// `ZSS_RESULT_INVALID_MSGPACK` for undecodable bytes.
#[no_mangle]
pub unsafe extern "C" fn zss_client_call_msgpack(
    client: *const zss_client,
    sid: *const c_char,
    verb: *const c_char,
    payload: *const u8,
    payload_len: usize,
    headers: *const u8,
    headers_len: usize,
    timeout_ms: u32,
    reply_out: *mut *mut zss_reply,
) -> zss_result {
    guard("zss_client_call_msgpack", || {
        call_msgpack(client, sid, verb, payload, payload_len, headers, headers_len, timeout_ms, 0, reply_out)
    })
}

/// As `zss_client_call_msgpack`, re-sent up to `retries` times to another broker when its
/// broker is lost with it in flight: see `zss_client_call_json_retries`.
///
/// Ownership, threading and errors as `zss_client_call_msgpack`, and `ZSS_RESULT_BROKER_LOST`.
#[no_mangle]
pub unsafe extern "C" fn zss_client_call_msgpack_retries(
    client: *const zss_client,
    sid: *const c_char,
    verb: *const c_char,
    payload: *const u8,
    payload_len: usize,
    headers: *const u8,
    headers_len: usize,
    timeout_ms: u32,
    retries: u32,
    reply_out: *mut *mut zss_reply,
) -> zss_result {
    guard("zss_client_call_msgpack_retries", || {
        call_msgpack(client, sid, verb, payload, payload_len, headers, headers_len, timeout_ms, retries, reply_out)
    })
}

/// The body of the `zss_client_call_msgpack*` functions.
#[allow(clippy::too_many_arguments)]
unsafe fn call_msgpack(
    client: *const zss_client,
    sid: *const c_char,
    verb: *const c_char,
    payload: *const u8,
    payload_len: usize,
    headers: *const u8,
    headers_len: usize,
    timeout_ms: u32,
    retries: u32,
    reply_out: *mut *mut zss_reply,
) -> FfiResult {
    let reply_out = out_param(reply_out, "reply_out")?;
    *reply_out = std::ptr::null_mut();
    let client = borrow(client, "client")?;
    let sid = opt_str_arg(sid, "sid")?;
    let verb = str_arg(verb, "verb")?;
    let payload = msgpack_arg(payload, payload_len, "payload")?;
    let headers = headers_from(msgpack_arg(headers, headers_len, "headers")?, "headers")?;
    client.call(make_call(sid, verb, payload, headers, timeout_ms, retries), reply_out)
}

/// Closes the client's socket. Calls in flight fail with `ZSS_RESULT_CLOSED`, later calls too.
/// Idempotent. The handle stays valid until `zss_client_free`.
///
/// Threading: thread-safe; returns once the client's I/O thread has stopped.
/// Errors: `ZSS_RESULT_NULL_PARAMETER`.
#[no_mangle]
pub unsafe extern "C" fn zss_client_close(client: *const zss_client) -> zss_result {
    guard("zss_client_close", || {
        borrow(client, "client")?.inner.close();
        Ok(())
    })
}

/// Closes (if needed) and frees a client. NULL is a no-op.
///
/// Ownership: takes back the client; it must not be used afterwards (a use after free cannot
/// be detected). Threading: no other thread may be using the client. Errors: none.
#[no_mangle]
pub unsafe extern "C" fn zss_client_free(client: *mut zss_client) {
    guard_void("zss_client_free", || {
        // Close explicitly: dropping the handle alone would leave the socket open if the core
        // ever kept another clone of the client alive.
        if let Some(c) = client.as_ref() {
            c.inner.close();
        }
        free_raw(client)
    });
}
