"""Tagged JSON (tests/matrix/README.md) <-> Python values.

Python's json module already keeps 2.0 apart from 2, so the tags only need writing out:
``{"$float": x}`` is a float, ``{"$int": "123"}`` an int, everything else is itself.
"""

from __future__ import annotations

import json
from typing import Any


def decode(value: Any) -> Any:
    """Tagged JSON (as parsed by json.loads) -> the Python value a program sends."""
    if isinstance(value, dict):
        if len(value) == 1 and "$float" in value:
            return float(value["$float"])
        if len(value) == 1 and "$int" in value:
            return int(value["$int"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def encode(value: Any) -> Any:
    """A Python value as received -> tagged JSON (for json.dumps)."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return {"$float": value}
    if isinstance(value, dict):
        return {_key(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    raise TypeError(f"no tagged JSON form for {type(value).__name__}: {value!r}")


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    raise TypeError(f"map key {key!r} is not a string: no JSON form")


def dumps(value: Any) -> str:
    """A received value as a line of tagged JSON."""
    return json.dumps(encode(value), allow_nan=True)
