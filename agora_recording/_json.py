"""Reading an answer's JSON object: the stdlib ``json``, or orjson when it is installed (the ``fast`` extra).

orjson is an optional accelerator, never a dependency: :data:`object_or_none` is :func:`object_stdlib` without it.
With it, :func:`object_orjson` gives the same result as the stdlib for every body:

- a body orjson refuses is read by the stdlib, so what json accepts and orjson does not (``NaN``, ``Infinity``,
  ``1e400``, a lone surrogate ``"\\ud800"``, a UTF-8 BOM, UTF-16/32, nesting past orjson's limit) reads as it
  always did, and a malformed body is ``None`` on both paths (the caller's error is the same);
- orjson reads an integer beyond 64 bits as a float where json keeps it exact, so a body with a run of 19 or more
  digits anywhere (such an integer needs one) is read by the stdlib too.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

try:  # the optional accelerator (imported by name: type checking must not need it installed)
    _orjson: Any = importlib.import_module("orjson")
except ImportError:  # pragma: no cover - depends on the environment; tests cover both
    _orjson = None

__all__ = ["ACCELERATOR", "object_or_none", "object_orjson", "object_stdlib"]

ACCELERATOR: str | None = None if _orjson is None else "orjson"
"""``"orjson"`` when answers are parsed with orjson, else ``None``."""

_DIGITS = bytes(48 if 48 <= i <= 57 else 46 for i in range(256))  # digits -> "0", every other byte -> "."
_LONG_NUMBER = b"0" * 19


def object_stdlib(raw: bytes) -> Any:
    """The JSON object in ``raw``, or ``None`` when it is empty, not JSON, nested too deep or not an object."""
    try:
        data = json.loads(raw) if raw else None
    except (ValueError, RecursionError):  # not JSON (UnicodeDecodeError is a ValueError), or nested too deep
        return None
    return data if isinstance(data, dict) else None


def object_orjson(raw: bytes) -> Any:
    """:func:`object_stdlib`'s result, parsed with orjson where that gives the same (see the module docstring)."""
    if _orjson is None or _LONG_NUMBER in raw.translate(_DIGITS):
        return object_stdlib(raw)
    try:
        data = _orjson.loads(raw)
    except _orjson.JSONDecodeError:
        return object_stdlib(raw)
    return data if isinstance(data, dict) else None


object_or_none = object_stdlib if _orjson is None else object_orjson
"""The parser the client uses: :func:`object_orjson` when orjson is installed, else :func:`object_stdlib`."""
