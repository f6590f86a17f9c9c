//! Python objects ↔ [`zss::Value`], the payload model of the core.
//!
//! Python → Value accepts `None`, `bool`, `int`, `float`, `str`, `list`/`tuple` and `dict`
//! (and their subclasses). Anything else is a `TypeError` naming where in the payload it sits,
//! e.g. `payload['items'][2]: unsupported type 'set'`. Two deliberate refusals:
//!
//! * `bytes`-like objects: the wire dialect has no portable binary type (contract §4), so we
//!   raise with the core's own explanation instead of inventing an encoding;
//! * integers outside the 64-bit range raise `ValueError` rather than silently becoming floats.
//!   (Within range the core decides the wire form: beyond int32 the peers only read float64.)
//!
//! Value → Python is total: binary values decoded from old peers become `bytes`, and map keys
//! that Python cannot hash (arrays, maps) become tuples / their JSON text.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMemoryView, PyString, PyTuple};
use pyo3::IntoPyObjectExt;
use zss::Value;

/// Why a Python object could not become a [`Value`], with the path to the offending item.
pub struct ConvertError {
    type_error: bool,
    message: String,
    /// Path segments, innermost first (they are pushed while unwinding).
    path: Vec<String>,
}

impl ConvertError {
    fn type_error(message: String) -> Self {
        ConvertError { type_error: true, message, path: Vec::new() }
    }
    fn value_error(message: String) -> Self {
        ConvertError { type_error: false, message, path: Vec::new() }
    }
    fn at(mut self, segment: String) -> Self {
        self.path.push(segment);
        self
    }

    /// The Python exception, the path rooted at `what` (e.g. `payload`, `headers`).
    pub fn into_pyerr(self, what: &str) -> PyErr {
        let path: String = self.path.iter().rev().map(String::as_str).collect();
        let message = format!("{what}{path}: {}", self.message);
        if self.type_error {
            PyTypeError::new_err(message)
        } else {
            PyValueError::new_err(message)
        }
    }
}

/// Converts `obj` to a [`Value`]; errors name the item's place under `what`.
pub fn to_value(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Value> {
    convert(obj, 0).map_err(|e| e.into_pyerr(what))
}

/// Converts an optional `dict[str, Any]` (headers) to the core's list of pairs.
pub fn to_headers(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(String, Value)>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(Vec::new()) };
    let dict = obj
        .cast::<PyDict>()
        .map_err(|_| PyTypeError::new_err(format!("headers must be a dict, not {}", type_name(obj))))?;
    let mut out = Vec::with_capacity(dict.len());
    for (k, v) in dict.iter() {
        let key: String = k
            .cast::<PyString>()
            .map_err(|_| PyTypeError::new_err(format!("header names must be str, not {}", type_name(&k))))?
            .to_cow()?
            .into_owned();
        let value = convert(&v, 1).map_err(|e| e.at(format!("[{key:?}]")).into_pyerr("headers"))?;
        out.push((key, value));
    }
    Ok(out)
}

/// Broker endpoints: a `str` (one endpoint, or several separated by commas) or a list/tuple of
/// `str`. `TypeError` for anything else, `ValueError` when no endpoint is named.
#[pyfunction]
pub fn endpoints(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<String>> {
    let wrong = || PyTypeError::new_err(format!("{what} must be a str or a list of str, not {}", type_name(obj)));
    let items: Vec<Bound<'_, PyAny>> = if obj.is_instance_of::<PyString>() {
        vec![obj.clone()]
    } else if let Ok(list) = obj.cast::<PyList>() {
        list.iter().collect()
    } else if let Ok(tuple) = obj.cast::<PyTuple>() {
        tuple.iter().collect()
    } else {
        return Err(wrong());
    };
    let mut out = Vec::with_capacity(items.len());
    for item in &items {
        let text = item
            .cast::<PyString>()
            .map_err(|_| PyTypeError::new_err(format!("{what} items must be str, not {}", type_name(item))))?;
        out.extend(zss::socket::parse_endpoints(&text.to_cow()?));
    }
    if out.is_empty() {
        return Err(PyValueError::new_err(format!("{what} names no endpoint")));
    }
    Ok(out)
}

fn convert(obj: &Bound<'_, PyAny>, depth: usize) -> Result<Value, ConvertError> {
    if depth > zss::msgpack::MAX_DEPTH {
        return Err(ConvertError::value_error(format!(
            "nested deeper than {} levels (is it self-referencing?)",
            zss::msgpack::MAX_DEPTH
        )));
    }
    let py_err = |e: PyErr| ConvertError::type_error(e.to_string());
    if obj.is_none() {
        Ok(Value::Nil)
    } else if let Ok(b) = obj.cast::<PyBool>() {
        // Before int: bool is an int subclass in Python.
        Ok(Value::Bool(b.is_true()))
    } else if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            Ok(Value::Int(i))
        } else if let Ok(u) = obj.extract::<u64>() {
            Ok(Value::UInt(u))
        } else {
            Err(ConvertError::value_error(format!(
                "integer {obj} does not fit in 64 bits; send it as a str or float"
            )))
        }
    } else if let Ok(f) = obj.cast::<PyFloat>() {
        Ok(Value::Float(f.value()))
    } else if let Ok(s) = obj.cast::<PyString>() {
        Ok(Value::Str(s.to_cow().map_err(py_err)?.into_owned()))
    } else if let Ok(list) = obj.cast::<PyList>() {
        let mut items = Vec::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            items.push(convert(&item, depth + 1).map_err(|e| e.at(format!("[{i}]")))?);
        }
        Ok(Value::Array(items))
    } else if let Ok(tuple) = obj.cast::<PyTuple>() {
        let mut items = Vec::with_capacity(tuple.len());
        for (i, item) in tuple.iter().enumerate() {
            items.push(convert(&item, depth + 1).map_err(|e| e.at(format!("[{i}]")))?);
        }
        Ok(Value::Array(items))
    } else if let Ok(dict) = obj.cast::<PyDict>() {
        let mut entries = Vec::with_capacity(dict.len());
        for (k, v) in dict.iter() {
            let key = convert(&k, depth + 1).map_err(|e| e.at(format!("[key {}]", repr(&k))))?;
            let value = convert(&v, depth + 1).map_err(|e| e.at(format!("[{}]", repr(&k))))?;
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    } else if obj.is_instance_of::<PyBytes>() || obj.is_instance_of::<PyByteArray>() || obj.is_instance_of::<PyMemoryView>() {
        // The core's message explains why and what to do instead.
        Err(ConvertError::type_error(zss::msgpack::EncodeError::Binary.to_string()))
    } else {
        Err(ConvertError::type_error(format!(
            "unsupported type {} (use None, bool, int, float, str, list, tuple or dict)",
            type_name(obj)
        )))
    }
}

pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| format!("'{n}'")).unwrap_or_else(|_| "'?'".into())
}

fn repr(obj: &Bound<'_, PyAny>) -> String {
    obj.repr().map(|r| r.to_string()).unwrap_or_else(|_| "?".into())
}

/// Converts a [`Value`] to the natural Python object.
pub fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Nil => py.None().into_bound(py),
        Value::Bool(b) => b.into_bound_py_any(py)?,
        Value::Int(i) => i.into_bound_py_any(py)?,
        Value::UInt(u) => u.into_bound_py_any(py)?,
        Value::Float(f) => PyFloat::new(py, *f).into_any(),
        Value::Str(s) => PyString::new(py, s).into_any(),
        Value::Bin(b) => PyBytes::new(py, b).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Map(entries) => {
            let dict = PyDict::new(py);
            for (k, v) in entries {
                dict.set_item(key_to_py(py, k)?, to_py(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// Map keys must be hashable: arrays become tuples, maps their JSON text.
fn key_to_py<'py>(py: Python<'py>, key: &Value) -> PyResult<Bound<'py, PyAny>> {
    match key {
        Value::Array(items) => {
            let keys = items.iter().map(|k| key_to_py(py, k)).collect::<PyResult<Vec<_>>>()?;
            Ok(PyTuple::new(py, keys)?.into_any())
        }
        Value::Map(_) => Ok(PyString::new(py, &key.to_json_string()).into_any()),
        other => to_py(py, other),
    }
}
