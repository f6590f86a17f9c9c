//! CURVE from Ruby: key pairs and the keys of encrypted clients, services and brokers.
//!
//! Keys are read as the core's `security::load_key` reads them: the 40-character Z85 key, a
//! key file (`zss keygen`'s `NAME.key` / `NAME.pub`) or `env:VAR`. A key that does not parse
//! raises ArgumentError, never a plaintext connection. lib/zss/security.rb checks the option's
//! shape and passes the strings here.

use magnus::{Error, RArray, Ruby};

use crate::errors::to_rb;

/// `[broker_key, secret_key, public_key or nil]`, as lib/zss/security.rb passes them.
pub type CurveArgs = (String, String, Option<String>);

fn named(ruby: &Ruby, what: &str, e: zss::Error) -> Error {
    to_rb(
        ruby,
        match e {
            zss::Error::InvalidArgument(m) => zss::Error::InvalidArgument(format!("{what}: {m}")),
            other => other,
        },
    )
}

/// The broker's public key and our key pair for `ClientConfig::curve` / `WorkerConfig::curve`.
pub fn client_keys(ruby: &Ruby, (broker_key, secret, public): &CurveArgs) -> Result<(zss::security::Key, zss::KeyPair), Error> {
    let server = zss::security::load_key(broker_key).map_err(|e| named(ruby, "curve broker_key", e))?;
    let pair = zss::KeyPair::load_checked(secret, public.as_deref()).map_err(|e| named(ruby, "curve keypair", e))?;
    Ok((server, pair))
}

/// The broker's own key pair from its secret key.
pub fn server_pair(ruby: &Ruby, secret: &str) -> Result<zss::KeyPair, Error> {
    zss::KeyPair::load(secret).map_err(|e| named(ruby, "curve_secret", e))
}

/// `ZSS::Native.generate_keypair` → `[public_key, secret_key]` (Z85).
pub fn generate_keypair(ruby: &Ruby) -> Result<RArray, Error> {
    let pair = zss::KeyPair::generate().map_err(|e| to_rb(ruby, e))?;
    let out = ruby.ary_new_capa(2);
    out.push(pair.public_z85())?;
    out.push(pair.secret_z85())?;
    Ok(out)
}
