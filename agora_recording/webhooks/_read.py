"""Lenient readers for notification fields: the same tolerant-reader rules as the library's responses.

Numbers may arrive as numeric strings (``"sequence": "3"``, as Agora's oldest docs had it), uids as numbers,
booleans as ``"true"``/``1``; unknown enum values are kept as plain values. Anything else raises
:class:`~agora_recording.webhooks.WebhookPayloadError` naming the wire path of the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

from agora_recording._converter import from_wire
from agora_recording._errors import ResponseFormatError
from agora_recording.models import RecordedFile
from agora_recording.webhooks._errors import WebhookPayloadError

E = TypeVar("E", bound=Enum)
Reader = Callable[[Any, str], Any]

MAX_DEPTH = 32
"""Nesting deeper than this (objects and arrays) is refused; Agora's notifications are four levels deep."""

MAX_INT_DIGITS = 40
"""A JSON integer with more digits than this is refused before Python converts it (quadratic on 3.10)."""


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, (str, int, float, bool)) or value is None else type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def read_int(value: Any, path: str) -> int:
    """An integer; integral floats and numeric strings are accepted (``"5"``, ``"5.0"``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return round(value)
    if isinstance(value, str) and len(value) <= MAX_INT_DIGITS + 8:
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            if math.isfinite(number):
                return round(number)
    raise WebhookPayloadError(f"expected an integer, got {_show(value)}", field=path)


def read_str(value: Any, path: str) -> str:
    """A string; integers are accepted and converted (uids sometimes arrive as numbers)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise WebhookPayloadError(f"expected a string, got {_show(value)}", field=path)


def read_bool(value: Any, path: str) -> bool:
    """A boolean; ``0``/``1`` and ``"true"``/``"false"`` are accepted."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise WebhookPayloadError(f"expected a boolean, got {_show(value)}", field=path)


def read_raw(value: Any, path: str) -> Any:
    """The value as sent (already JSON: strings, numbers, lists, objects)."""
    return value


def enum_or_raw(enum_cls: type[E], base: Reader) -> Reader:
    """A reader for ``SomeEnum | raw``: a documented value becomes the member, an unknown value stays raw."""

    def read(value: Any, path: str) -> Any:
        raw = base(value, path)
        try:
            return enum_cls(raw)
        except ValueError:
            return raw

    return read


def read_files(value: Any, path: str) -> tuple[RecordedFile, ...]:
    """``fileList``: an array of file objects (the query response's shape) or a ``;``-separated string of names."""
    if isinstance(value, str):
        return tuple(RecordedFile(filename=name.strip()) for name in value.split(";") if name.strip())
    if not isinstance(value, list):
        raise WebhookPayloadError(f"expected an array or a string, got {_show(value)}", field=path)
    files = []
    for i, entry in enumerate(value):
        try:
            files.append(from_wire(RecordedFile, entry, endpoint="notification"))
        except ResponseFormatError as exc:
            # The converter's message names the path inside the entry ($.fileName); keep it, minus the endpoint.
            detail = str(exc).partition(": unexpected response body: ")[2] or "not a file object"
            raise WebhookPayloadError(detail, field=f"{path}[{i}]") from None
    return tuple(files)


def read_names(value: Any, path: str) -> tuple[str, ...]:
    """A ``;``-separated list of names (``download_failed``'s ``fileName``), or an array of strings."""
    if isinstance(value, list):
        return tuple(read_str(v, f"{path}[{i}]") for i, v in enumerate(value))
    return tuple(name.strip() for name in read_str(value, path).split(";") if name.strip())


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer with more than {MAX_INT_DIGITS} digits")
    return int(text)


def _parse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_int=_parse_int, parse_constant=_parse_constant)


def load_object(body: bytes | bytearray | memoryview | str) -> dict[str, Any]:
    """``json.loads`` for a hostile body: a JSON object, or :class:`WebhookPayloadError` (never RecursionError)."""
    if isinstance(body, memoryview):
        body = bytes(body)
    if not isinstance(body, (bytes, bytearray, str)):
        raise WebhookPayloadError(f"the body must be bytes, got {type(body).__name__}")
    try:
        text = body if isinstance(body, str) else bytes(body).decode(json.detect_encoding(body), "surrogatepass")
        data = _DECODER.decode(text)
    except RecursionError:
        raise WebhookPayloadError(f"the body is nested more than {MAX_DEPTH} levels deep") from None
    except json.JSONDecodeError as exc:
        raise WebhookPayloadError(f"the body is not JSON ({exc.msg} at char {exc.pos})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        reason = "not UTF-8" if isinstance(exc, UnicodeDecodeError) else str(exc)
        raise WebhookPayloadError(f"the body is not JSON ({reason})") from None
    if not isinstance(data, dict):
        kind = {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(data), "number")
        raise WebhookPayloadError(f"the body is a JSON {kind}, not an object")
    if text.count("{") + text.count("[") > MAX_DEPTH:  # else it cannot be too deep: skip the walk
        _check_depth(data)
    return data


def _check_depth(data: Any) -> None:
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise WebhookPayloadError(f"the body is nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values() if isinstance(v, (dict, list)))
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value if isinstance(v, (dict, list)))
