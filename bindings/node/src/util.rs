//! Small raw N-API helpers shared by the modules.

use napi::bindgen_prelude::*;
use napi::sys;

use crate::convert::to_js;

/// `obj[name] = value` for a value of the core's model.
pub unsafe fn set(
    env: sys::napi_env,
    obj: sys::napi_value,
    name: &str,
    value: &zss::Value,
) -> Result<()> {
    let v = to_js(env, value)?;
    set_value(env, obj, name, v)
}

/// `obj[name] = v` for a JS value already made.
pub unsafe fn set_value(
    env: sys::napi_env,
    obj: sys::napi_value,
    name: &str,
    v: sys::napi_value,
) -> Result<()> {
    let key = std::ffi::CString::new(name).expect("static property names have no NUL");
    let status = sys::napi_set_named_property(env, obj, key.as_ptr(), v);
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(Error::new(
            Status::from(status),
            format!("cannot set property {name}"),
        ))
    }
}
