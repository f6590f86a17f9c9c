//! CURVE from Python: key pairs, and the keys of encrypted clients, services and brokers.
//!
//! Key arguments are read as the core's `security::load_key` reads them: the 40-character Z85
//! key, a key file (`zss keygen`'s `NAME.key` / `NAME.pub`) or `env:VAR`. A key that does not
//! parse is a ValueError, never a plaintext connection. The Python side (`zss/_security.py`)
//! checks the types and unpacks `zss.Curve` / `zss.KeyPair` into these strings.

use pyo3::prelude::*;

use crate::errors::to_pyerr;

/// `(broker_key, secret_key, public_key or None)`, as `zss/_security.py` passes them.
pub type CurveArgs = (String, String, Option<String>);

/// The broker's public key and our key pair for `ClientConfig::curve` / `WorkerConfig::curve`.
pub fn client_keys(py: Python<'_>, (broker_key, secret, public): CurveArgs) -> PyResult<(zss::security::Key, zss::KeyPair)> {
    let server = zss::security::load_key(&broker_key).map_err(|e| to_pyerr(py, prefixed("broker_key", e)))?;
    let pair = zss::KeyPair::load_checked(&secret, public.as_deref()).map_err(|e| to_pyerr(py, prefixed("keypair", e)))?;
    Ok((server, pair))
}

/// The broker's own key pair (its secret key, the public key derived).
pub fn server_pair(py: Python<'_>, secret: &str) -> PyResult<zss::KeyPair> {
    zss::KeyPair::load(secret).map_err(|e| to_pyerr(py, prefixed("curve_secret", e)))
}

/// Names the argument in an argument error.
pub fn prefixed(what: &str, e: zss::Error) -> zss::Error {
    match e {
        zss::Error::InvalidArgument(m) => zss::Error::InvalidArgument(format!("curve {what}: {m}")),
        other => other,
    }
}

/// A fresh CURVE key pair as Z85 text: `(public_key, secret_key)`.
#[pyfunction]
pub fn generate_keypair(py: Python<'_>) -> PyResult<(String, String)> {
    let pair = zss::KeyPair::generate().map_err(|e| to_pyerr(py, e))?;
    Ok((pair.public_z85(), pair.secret_z85()))
}
