"""attrs validators for Agora's documented limits. Every failure raises InvalidRequestError naming the field."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection
from enum import Enum
from typing import Any, TypeVar

import attrs

from agora_recording._errors import InvalidRequestError
from agora_recording.models._naming import wire_name

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]
C = TypeVar("C", bound=type)

UID_MAX = 2**32 - 1
CNAME_MAX_BYTES = 64  # "must be less than 64 bytes"
WEB_CNAME_MAX_BYTES = 1024
# Agora's documented channel-name character set (error 1013).
_CNAME_RE = re.compile(r"^[A-Za-z0-9 !#$%&()+\-:;<=.>?@\[\]^_{}|~,]+$")
_COLOR_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")
_PREFIX_RE = re.compile(r"^[A-Za-z0-9]+$")


def label(inst: Any, field: attrs.Attribute[Any]) -> str:
    """``RecordingConfig.max_idle_time (maxIdleTime)``: the Python path and the wire key."""
    return f"{type(inst).__name__}.{field.name} ({wire_name(field)})"


def fail(inst: Any, field: attrs.Attribute[Any], rule: str) -> InvalidRequestError:
    return InvalidRequestError(label(inst, field), rule)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def int_range(lo: int, hi: int) -> Validator:
    """An optional integer in ``lo..hi`` inclusive."""

    def check(inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        if not _is_int(value) or not lo <= value <= hi:
            raise fail(inst, field, f"must be an integer in {lo}..{hi}, got {value!r}")

    return check


def positive_int() -> Validator:
    """An optional integer > 0."""

    def check(inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        if not _is_int(value) or value <= 0:
            raise fail(inst, field, f"must be a positive integer, got {value!r}")

    return check


def unit_interval() -> Validator:
    """An optional number in [0, 1]."""

    def check(inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        if not _is_number(value) or not 0.0 <= value <= 1.0:
            raise fail(inst, field, f"must be a number in [0, 1], got {value!r}")

    return check


def one_of(choices: type[Enum] | Collection[Any]) -> Validator:
    """An optional value among ``choices`` (an enum's values, or a collection)."""
    allowed = [m.value for m in choices] if isinstance(choices, type) else list(choices)

    def check(inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        raw = value.value if isinstance(value, Enum) else value
        if isinstance(raw, bool) or raw not in allowed:
            shown = ", ".join(repr(a) for a in allowed)
            raise fail(inst, field, f"must be one of {shown}, got {raw!r}")

    return check


def non_negative_int() -> Validator:
    def check(inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        raw = value.value if isinstance(value, Enum) else value
        if not _is_int(raw) or raw < 0:
            raise fail(inst, field, f"must be a non-negative integer, got {value!r}")

    return check


def boolean() -> Validator:
    """An optional ``bool`` (not 0/1, not "true")."""

    def check(inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and not isinstance(value, bool):
            raise fail(inst, field, f"must be True or False, got {value!r}")

    return check


def instance_of(cls: type, *, optional: bool = True) -> Validator:
    """A nested model: an instance of ``cls`` (``None`` when ``optional``), not its wire dict nor a string."""

    def check(inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            if optional:
                return
            raise fail(inst, field, "is required")
        if not isinstance(value, cls):
            raise fail(
                inst,
                field,
                f"must be a {cls.__name__} (build one with {cls.__name__}(...); a wire dict goes through "
                f"request_from_wire), got {type(value).__name__}",
            )

    return check


def items_of(cls: type) -> Validator:
    """An optional sequence whose entries are all instances of ``cls``."""

    def check(inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        for index, item in enumerate(value):
            if not isinstance(item, cls):
                raise fail(inst, field, f"entries must be {cls.__name__} objects, got {type(item).__name__} at {index}")

    return check


def non_empty_str() -> Validator:
    def check(inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, str) or not value:
            raise fail(inst, field, "must be a non-empty string")

    return check


def required() -> Validator:
    def check(inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            raise fail(inst, field, "is required")

    return check


def color() -> Validator:
    def check(inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, str) or not _COLOR_RE.match(value):
            raise fail(inst, field, f'must be an RGB hex colour "#RRGGBB", got {value!r}')

    return check


def url(schemes: tuple[str, ...]) -> Validator:
    def check(inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, str) or not value.lower().startswith(schemes) or len(value) <= len(schemes[0]):
            raise fail(inst, field, f"must be a URL starting with {' or '.join(schemes)}")

    return check


def uid_list(max_len: int = 32) -> Validator:
    """A subscription list: at most ``max_len`` UIDs as strings, or ``["#allstream#"]``."""

    def check(inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        if len(value) == 0:
            raise fail(inst, field, "must not be empty (omit it instead)")
        if len(value) > max_len:
            raise fail(inst, field, f"must hold at most {max_len} UIDs, got {len(value)}")
        for uid in value:
            if not isinstance(uid, str) or not uid:
                raise fail(inst, field, f"entries must be non-empty strings, got {uid!r}")
            if uid != "#allstream#" and not is_valid_uid(uid):
                raise fail(inst, field, f'entries must be UIDs (integer strings) or "#allstream#", got {uid!r}')

    return check


def max_items(n: int) -> Validator:
    def check(inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        if len(value) > n:
            raise fail(inst, field, f"must hold at most {n} entries, got {len(value)}")

    return check


def file_name_prefix() -> Validator:
    def check(inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        if len(value) == 0:
            raise fail(inst, field, "must not be empty (omit it instead)")
        for part in value:
            if not isinstance(part, str) or not _PREFIX_RE.match(part):
                raise fail(inst, field, f"each directory may hold only letters a-z, A-Z and digits 0-9, got {part!r}")
        if len("/".join(value)) + 1 > 128:  # Agora counts "directory1/directory2/", the trailing slash included
            raise fail(inst, field, "the prefix, slashes included (a/b/), must be at most 128 characters")

    return check


def exact_lists(*options: tuple[str, ...]) -> Validator:
    def check(inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        if tuple(value) not in options:
            shown = " or ".join(repr(list(o)) for o in options)
            raise fail(inst, field, f"must be {shown}, got {list(value)!r}")

    return check


def is_valid_uid(uid: str) -> bool:
    return uid.isascii() and uid.isdigit() and not (len(uid) > 1 and uid[0] == "0") and 1 <= int(uid) <= UID_MAX


def check_uid(uid: Any, *, field: str = "uid") -> str:
    """Normalise and check the recorder UID: an integer (or integer string) in 1..2^32-1."""
    if isinstance(uid, bool):
        raise InvalidRequestError(field, f"must be an integer string in 1..{UID_MAX}, got {uid!r}")
    if isinstance(uid, int):
        uid = str(uid)
    if not isinstance(uid, str) or not is_valid_uid(uid):
        raise InvalidRequestError(field, f"must be an integer string in 1..{UID_MAX} (e.g. '527841'), got {uid!r}")
    return uid


def check_cname(cname: Any, *, web: bool = False, field: str = "cname") -> str:
    """Check a channel name: non-empty, under 64 bytes in Agora's character set (up to 1024 bytes in web mode)."""
    if not isinstance(cname, str) or not cname:
        raise InvalidRequestError(field, "must be a non-empty string")
    try:
        size = len(cname.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidRequestError(field, "must be valid Unicode text (no lone surrogates)") from None
    if web:
        if size > WEB_CNAME_MAX_BYTES:
            raise InvalidRequestError(field, f"must be at most {WEB_CNAME_MAX_BYTES} bytes in web mode, got {size}")
        return cname
    if size >= CNAME_MAX_BYTES:
        raise InvalidRequestError(field, f"must be shorter than {CNAME_MAX_BYTES} bytes, got {size}")
    if not _CNAME_RE.match(cname):
        raise InvalidRequestError(
            field, "may hold only a-z, A-Z, 0-9, space and !#$%&()+-:;<=.>?@[]^_{}|~, (Agora's channel-name set)"
        )
    return cname


MAX_ID_CHARS = 2048
"""The longest resourceId or sid accepted (Agora's sids are 32 hex digits, its resourceIds a few hundred characters
of base64url)."""
_ID_RE = re.compile(rf"[!-~]{{1,{MAX_ID_CHARS}}}")  # visible ASCII: no space, no control, nothing outside ASCII


def is_valid_id(value: Any) -> bool:
    """True for a string Agora could have issued as a resourceId or sid: 1 to 2048 visible ASCII characters."""
    return isinstance(value, str) and _ID_RE.fullmatch(value) is not None


def check_id(value: Any, *, field: str) -> str:
    """A resourceId, sid or App ID to put in a URL: 1 to 2048 visible ASCII characters, or InvalidRequestError."""
    text = check_non_empty(value, field=field)
    if not is_valid_id(text):
        raise InvalidRequestError(
            field, f"must be at most {MAX_ID_CHARS} visible ASCII characters (no spaces or control characters)"
        )
    return text


def check_non_empty(value: Any, *, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError(field, "must be a non-empty string")
    return value


def all_of(*validators: Validator) -> Validator:
    def check(inst: Any, field: attrs.Attribute[Any], value: Any) -> None:
        for v in validators:
            v(inst, field, value)

    return check


def hls_first(value: Any) -> tuple[Any, ...] | None:
    """attrs converter for ``avFileType``: ``["mp4", "hls"]`` is sent in Agora's documented order, hls first."""
    items = to_tuple(value)
    if items is not None and set(items) == {"hls", "mp4"} and len(items) == 2:
        return ("hls", "mp4")
    return items


def to_tuple(value: Any) -> tuple[Any, ...] | None:
    """attrs converter: lists become tuples (models are immutable); a bare string is one entry, not its letters."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)):
        return (value,)
    return tuple(value)


def secret_safe(cls: C) -> C:
    """Class decorator for a model that takes a secret: an error raised while it is built keeps no secret in a frame.

    attrs' generated ``__init__`` holds every argument (storage keys, token, decryption secret) as a local, and so
    do the validators' frames; a traceback keeps those frames, and tools that record frame locals (Sentry,
    ``traceback.TracebackException(capture_locals=True)``) would record the secrets. The wrapper drops those
    frames: it re-raises the error with no traceback (and no context) from a frame whose own arguments are deleted
    first. The error itself still names the field and the rule. Apply it outside ``@attrs.frozen``.
    """
    init: Callable[..., None] = vars(cls)["__init__"]  # attrs' generated one

    @functools.wraps(init)
    def __init__(self: Any, **kwargs: Any) -> None:
        try:
            init(self, **kwargs)
        except Exception as exc:
            del self, kwargs  # this frame stays in the traceback: it must not hold the arguments either
            raise exc.with_traceback(None) from None

    type.__setattr__(cls, "__init__", __init__)
    return cls
