//! CURVE from JavaScript: key pairs and the keys of encrypted clients, services and brokers.
//!
//! Keys are read as the core's `security::load_key` reads them: the 40-character Z85 key, a
//! key file (`zss keygen`'s `NAME.key` / `NAME.pub`) or `env:VAR`. A key that does not parse
//! is thrown (a TypeError in JS), never a plaintext connection. `lib/security.js` checks the
//! option's shape and passes the strings here.

use napi::bindgen_prelude::*;
use napi_derive::napi;

/// A CURVE key pair as Z85 text.
#[napi(object)]
pub struct KeyPair {
    pub public_key: String,
    pub secret_key: String,
}

/// The `curve` option as `lib/security.js` passes it.
#[napi(object)]
pub struct CurveKeys {
    /// The broker's public key.
    pub broker_key: String,
    /// This peer's secret key.
    pub secret_key: String,
    /// This peer's public key, when given: it must belong to `secret_key`.
    pub public_key: Option<String>,
}

fn named(what: &str, e: zss::Error) -> Error {
    crate::core_error(match e {
        zss::Error::InvalidArgument(m) => zss::Error::InvalidArgument(format!("{what}: {m}")),
        other => other,
    })
}

/// The broker's public key and our key pair for `ClientConfig::curve` / `WorkerConfig::curve`.
pub fn client_keys(curve: &CurveKeys) -> Result<(zss::security::Key, zss::KeyPair)> {
    let server = zss::security::load_key(&curve.broker_key).map_err(|e| named("curve.brokerKey", e))?;
    let pair = zss::KeyPair::load_checked(&curve.secret_key, curve.public_key.as_deref())
        .map_err(|e| named("curve.keypair", e))?;
    Ok((server, pair))
}

/// The broker's own key pair from its secret key.
pub fn server_pair(secret: &str) -> Result<zss::KeyPair> {
    zss::KeyPair::load(secret).map_err(|e| named("curveSecret", e))
}

/// A fresh CURVE key pair.
#[napi]
pub fn generate_keypair() -> Result<KeyPair> {
    let pair = zss::KeyPair::generate().map_err(crate::core_error)?;
    Ok(KeyPair { public_key: pair.public_z85(), secret_key: pair.secret_z85() })
}
