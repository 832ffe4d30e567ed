"""The cattrs converters: Agora's wire format lives here, not in the models.

* One hook factory applies the camelCase rule to every attrs model (``max_idle_time`` <-> ``maxIdleTime``); a field
  whose wire key is not plain camelCase says so in its metadata (``x_axis``, ``render_mode``, ``async_stop``,
  ``unSubscribeAudioUids``).
* Requests omit unset (``None``) fields: absent, never ``null``.
* Responses are read leniently (the tolerant-reader rule): unknown keys are ignored; unknown enum values are kept
  as plain values; numbers and booleans that arrive as strings are converted; ``sid: ""`` reads as no sid;
  ``fileName`` and ``filename`` both name a file; ``playload`` is accepted for ``payload``; ``fileList`` is a string
  or an array.
* :data:`strict_converter` forbids unknown keys. The tests run it over recorded fixtures, so drift is visible.

A body that cannot be structured raises :class:`~agora_recording.ResponseFormatError` naming the wire path,
never a bare ``KeyError`` or ``TypeError``.
"""

from __future__ import annotations

import math
import re
import reprlib
import types
import typing
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, TypeVar

import attrs
import cattrs
import cattrs.cols
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from agora_recording._errors import InvalidRequestError, ResponseFormatError
from agora_recording._fast_read import plain_files, query_hook, server_hook
from agora_recording.models import _requests as q
from agora_recording.models import _responses as r
from agora_recording.models._enums import TrackType
from agora_recording.models._naming import camel, wire_name

__all__ = [
    "converter",
    "from_wire",
    "make_converter",
    "request_from_wire",
    "strict_converter",
    "to_wire",
    "wire_path_of_label",
]

T = TypeVar("T")

_PAYLOAD_FOR_SERVICE: dict[str, type] = {
    "web_recorder_service": r.WebRecorderPayload,
    "rtmp_publish_service": r.RtmpPublishPayload,
    "upload_service": r.UploadServicePayload,
    "aliyun_vod_service": r.AliyunVodPayload,
}
_SID_MODELS = (r.StartResponse, r.UpdateResponse, r.UpdateLayoutResponse, r.QueryResponse, r.StopResponse)


# -- lenient scalars ------------------------------------------------------------------------------------------------


_SHORT = reprlib.Repr()
_SHORT.maxlevel = 2
_SHORT.maxstring = 60
_SHORT.maxother = 60
_SHORT.maxlong = 40


def _short(value: Any) -> str:
    """A bounded ``repr`` for messages: a hostile value (a 4 MiB string, 900 nested lists) stays short."""
    return _SHORT.repr(value)


def _to_int(value: Any, _: Any = None) -> int:
    """An integer, or an integral number in another form (``5.0``, ``"5"``, ``"5.0"``, ``"1e3"``).

    A number with a fractional part (``4.6``) is refused: read as an integer it would change meaning (a status of
    4.6 is not 5). Timestamps are the exception, see :func:`_to_timestamp`.
    """
    if isinstance(value, bool):
        raise TypeError(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    number: float | None = None
    if isinstance(value, float):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                number = float(text)  # "5.0", "1e3"
            except ValueError:
                number = None
    if number is not None and math.isfinite(number) and number.is_integer():
        return int(number)
    raise TypeError(f"expected an integer, got {_short(value)}")


def _to_timestamp(value: Any, _: Any = None) -> int:
    """A Unix timestamp: like :func:`_to_int`, but a fractional one (``1619172871.089``) is rounded.

    A timestamp with a sub-unit fraction still names the same instant; refusing it would fail a stop that worked.
    """
    try:
        return _to_int(value)
    except TypeError:
        number = value if isinstance(value, float) else None
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                number = None
        if number is not None and math.isfinite(number):
            return round(number)
        raise


def _to_float(value: Any, _: Any = None) -> float:
    if isinstance(value, bool):
        raise TypeError(f"expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise TypeError(f"expected a number, got {_short(value)}")


_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def _to_bool(value: Any, _: Any = None) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise TypeError(f"expected a boolean, got {_short(value)}")


def _to_str(value: Any, _: Any = None) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # uids sometimes arrive as numbers
    raise TypeError(f"expected a string, got {_short(value)}")


_SCALARS: dict[type, Callable[[Any, Any], Any]] = {int: _to_int, float: _to_float, bool: _to_bool, str: _to_str}


def _union_args(tp: Any) -> tuple[Any, ...]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return typing.get_args(tp)
    return ()


def _enum_or_raw(tp: Any) -> tuple[type[Enum], type] | None:
    """For ``SomeEnum | int`` (optionally ``| None``): the enum and its raw type."""
    args = [a for a in _union_args(tp) if a is not type(None)]
    if len(args) != 2:
        return None
    enums = [a for a in args if isinstance(a, type) and issubclass(a, Enum)]
    raws = [a for a in args if a in (int, str)]
    if len(enums) == 1 and len(raws) == 1:
        return enums[0], raws[0]
    return None


def _make_enum_or_raw_hook(tp: Any) -> Callable[[Any, Any], Any]:
    found = _enum_or_raw(tp)
    assert found is not None
    enum_cls, raw_type = found
    to_raw = _SCALARS[raw_type]
    optional = type(None) in _union_args(tp)

    def hook(value: Any, _: Any) -> Any:
        if value is None and optional:
            return None
        raw = to_raw(value, None)
        try:
            return enum_cls(raw)
        except ValueError:
            return raw  # an unknown value is kept, not a crash

    return hook


# -- the converter --------------------------------------------------------------------------------------------------


_TIMESTAMP_FIELDS = frozenset({"slice_start_time"})


def _renames(cls: type) -> dict[str, Any]:
    return {
        f.name: override(rename=wire_name(f), struct_hook=_TIMESTAMP_HOOK if f.name in _TIMESTAMP_FIELDS else None)
        for f in attrs.fields(cls)
    }


def make_converter(*, strict: bool = False, detailed: bool = True) -> cattrs.Converter:
    """Build a converter. ``strict`` forbids unknown keys in responses; ``detailed`` collects every error."""
    conv = cattrs.Converter(detailed_validation=detailed, forbid_extra_keys=strict)

    for scalar, fn in _SCALARS.items():
        conv.register_structure_hook(scalar, fn)
        # ``X | None`` directly, instead of cattrs' generic Optional dispatch (the hot path of every response).
        optional_hook = _optional(fn)
        conv.register_structure_hook(typing.Optional[scalar], optional_hook)  # noqa: UP045 - both spellings
        conv.register_structure_hook(scalar | None, optional_hook)

    conv.register_structure_hook_factory(lambda t: _enum_or_raw(t) is not None, _make_enum_or_raw_hook)

    def structure_factory(cls: type) -> Callable[[Any, Any], Any]:
        generated: Callable[[Any, Any], Any] = make_dict_structure_fn(
            cls, conv, _cattrs_forbid_extra_keys=strict, _cattrs_detailed_validation=detailed, **_renames(cls)
        )
        fixers: list[Callable[[dict[str, Any]], None]] = []
        null_tuples = [wire_name(f) for f in attrs.fields(cls) if f.default == ()]
        if null_tuples:
            fixers.append(lambda data: _drop_nulls(data, null_tuples))
        if cls is r.RecordedFile:
            fixers.append(_fix_recorded_file)
        if cls in _SID_MODELS:
            fixers.append(_fix_empty_sid)

        def hook(data: Any, tp: Any) -> Any:
            if not isinstance(data, Mapping):
                raise TypeError(f"expected a JSON object, got {type(data).__name__}")
            if fixers:
                data = dict(data)
                for fix in fixers:
                    fix(data)
            return generated(data, tp)

        return hook

    conv.register_structure_hook_factory(attrs.has, structure_factory)

    def unstructure_factory(cls: type) -> Callable[[Any], Any]:
        overrides: dict[str, Any] = {
            f.name: override(rename=wire_name(f), omit_if_default=f.default is None) for f in attrs.fields(cls)
        }
        return make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=False, **overrides)

    conv.register_unstructure_hook_factory(attrs.has, unstructure_factory)

    file_tuple = tuple[r.RecordedFile, ...]
    fast = not strict and not detailed

    def structure_file_list(value: Any, _: Any) -> str | tuple[r.RecordedFile, ...] | None:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, list):
            if fast:
                # Validated now, built on first access of ``file_list``/``files`` (most callers read the status).
                if plain_files(value):
                    return r.PendingFiles(value, plain=True)  # type: ignore[return-value]  # a tuple once read
                # not all plain values: each entry through the per-entry hooks (which convert, or raise)
                return r.PendingFiles([_file_row(entry) for entry in value])  # type: ignore[return-value]
            return conv.structure(value, file_tuple)
        raise TypeError(f"fileList must be a string or an array, got {type(value).__name__}")

    conv.register_structure_hook(str | tuple[r.RecordedFile, ...] | None, structure_file_list)

    def structure_service_state(data: Any, _: Any) -> r.ExtensionServiceState:
        if not isinstance(data, Mapping):
            raise TypeError(f"expected an object, got {type(data).__name__}")
        if strict:
            extra = set(data) - {"serviceName", "payload", "playload"}
            if extra:
                raise cattrs.ForbiddenExtraKeysError(None, r.ExtensionServiceState, extra)
        name = _to_str(data["serviceName"])
        raw = data.get("payload", data.get("playload"))
        raw_payload: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        payload_cls = _PAYLOAD_FOR_SERVICE.get(name)
        payload: Any = conv.structure(raw_payload, payload_cls) if payload_cls else dict(raw_payload)
        return r.ExtensionServiceState(service_name=name, payload=payload, raw_payload=dict(raw_payload))

    conv.register_structure_hook(r.ExtensionServiceState, structure_service_state)
    if fast:
        # The production fast path for the most numerous object; on any doubt it raises and from_wire reruns the
        # detailed converter, whose generated hook names the wire path.
        conv.register_structure_hook(r.RecordedFile, _fast_recorded_file)
        # Query answers (and stop's serverResponse): plain values read directly, anything else by the generic
        # hooks. The server hook first, so that the generic query hook generated next calls it too.
        fast_server = server_hook(structure_factory(r.ServerResponse), structure_file_list)
        conv.register_structure_hook(r.ServerResponse, fast_server)
        conv.register_structure_hook(r.QueryResponse, query_hook(structure_factory(r.QueryResponse), fast_server))

    # Requests are structured only by tests and tools (round trips of recorded bodies); the client only unstructures.
    service_fn: Callable[[Any, Any], Any] = make_dict_structure_fn(
        q.ExtensionService,
        conv,
        _cattrs_forbid_extra_keys=strict,
        _cattrs_detailed_validation=detailed,
        **{
            **_renames(q.ExtensionService),
            "service_param": override(rename="serviceParam", struct_hook=lambda v, _: v),
        },
    )

    def structure_extension_service(data: Any, tp: Any) -> q.ExtensionService:
        if not isinstance(data, Mapping):
            raise TypeError(f"expected an object, got {type(data).__name__}")
        param_cls = q.PARAM_FOR_SERVICE.get(str(data.get("serviceName")))
        data = dict(data)
        if param_cls is not None and "serviceParam" in data:
            data["serviceParam"] = conv.structure(data["serviceParam"], param_cls)
        return typing.cast("q.ExtensionService", service_fn(data, tp))

    conv.register_structure_hook(q.ExtensionService, structure_extension_service)
    return conv


def _optional(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def hook(value: Any, tp: Any) -> Any:
        return None if value is None else fn(value, tp)

    return hook


_TIMESTAMP_HOOK = _optional(_to_timestamp)


_TRACK_TYPES = {t.value: t for t in TrackType}


def _file_row(data: Any) -> tuple[Any, ...]:
    """Check and convert one file entry with inline checks for the usual types (anything else goes through the
    hooks); the values in :class:`RecordedFile`'s field order. Raises on any doubt (from_wire then reruns the
    detailed converter, whose generated hook names the wire path)."""
    if data.__class__ is not dict:
        if not isinstance(data, Mapping):
            raise TypeError(f"expected a JSON object, got {type(data).__name__}")
        data = dict(data)
    get = data.get
    name = get("filename")
    if name is None:
        name = data["fileName"]
    if name.__class__ is not str:
        name = _to_str(name)
    track = get("trackType")
    if track is not None:
        track = _TRACK_TYPES.get(track, track) if track.__class__ is str else _to_str(track)
    uid = get("uid")
    if uid is not None and uid.__class__ is not str:
        uid = _to_str(uid)
    mixed = get("mixedAllUser")
    if mixed is not None and mixed.__class__ is not bool:
        mixed = _to_bool(mixed)
    playable = get("isPlayable")
    if playable is not None and playable.__class__ is not bool:
        playable = _to_bool(playable)
    start = get("sliceStartTime")
    if start is not None and start.__class__ is not int:
        start = _to_timestamp(start)
    return (name, track, uid, mixed, playable, start)


def _fast_recorded_file(data: Any, _: Any) -> r.RecordedFile:
    """Structure one file entry through :func:`_file_row`."""
    return r.PendingFiles((_file_row(data),)).build()[0]


def _drop_nulls(data: dict[str, Any], keys: list[str]) -> None:
    """``"extensionServiceState": null`` reads as an empty tuple, like an absent key."""
    for key in keys:
        if key in data and data[key] is None:
            del data[key]


def _fix_recorded_file(data: dict[str, Any]) -> None:
    if "filename" not in data and "fileName" in data:
        data["filename"] = data.pop("fileName")


def _fix_empty_sid(data: dict[str, Any]) -> None:
    if data.get("sid") == "":
        del data["sid"]


converter = make_converter(strict=False, detailed=False)
"""The production converter: lenient, fast (no detailed validation on the happy path)."""

_detailed_converter = make_converter(strict=False, detailed=True)
# The production hook of the answer read on every poll, looked up once (cattrs' dispatch costs about 0.3 us a call).
_QUERY_HOOK = converter.get_structure_hook(r.QueryResponse)
strict_converter = make_converter(strict=True, detailed=True)
"""Forbids unknown keys: run over recorded fixtures in the tests so that schema drift is visible."""


def to_wire(obj: Any) -> dict[str, Any]:
    """Unstructure a request model to its wire dict (camelCase keys, unset fields omitted)."""
    return typing.cast("dict[str, Any]", converter.unstructure(obj))


def _wire_path(path: str) -> str:
    """``$.server_response.file_list[0]`` -> ``$.serverResponse.fileList[0]`` (response keys are plain camelCase)."""
    parts = path.split(".")
    return ".".join(parts[:1] + [camel(p) if not p.startswith("[") else p for p in parts[1:]])


def _format(exc: BaseException, type_: Any) -> str:
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return f"unexpected keys {sorted(exc.extra_fields)}"
    if isinstance(exc, (TypeError, ValueError)) and str(exc):
        text = str(exc)
        return text if len(text) <= 200 else text[:200] + "..."
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    name = getattr(type_, "__name__", None) or str(type_).replace("agora_recording.models.", "")
    return f"invalid value (expected {name})"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, cattrs.BaseValidationError):
        messages = []
        for message in cattrs.transform_error(exc, path="$", format_exception=_format):
            text, sep, path = message.rpartition(" @ ")
            messages.append(f"{text}{sep}{_wire_path(path)}" if sep else message)
        text = "; ".join(messages[:5])
        if len(messages) > 5:
            text += f"; and {len(messages) - 5} more"
        return text
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 200 else text[:200] + "..."


def from_wire(cls: type[T], data: Any, *, endpoint: str, strict: bool = False) -> T:
    """Structure an answer of ``endpoint`` into ``cls``; a body that does not fit raises ResponseFormatError."""
    if strict:
        try:
            return strict_converter.structure(data, cls)
        except Exception as exc:
            raise ResponseFormatError(f"unexpected response body: {_describe(exc)}", endpoint=endpoint) from exc
    try:
        if cls is r.QueryResponse:
            return _QUERY_HOOK(data, cls)  # type: ignore[no-any-return]  # the hook converter.structure would call
        return converter.structure(data, cls)
    except Exception as fast_exc:
        try:  # run again with detailed validation, for a message that names the wire path
            _detailed_converter.structure(data, cls)
        except Exception as exc:
            raise ResponseFormatError(f"unexpected response body: {_describe(exc)}", endpoint=endpoint) from exc
        raise ResponseFormatError(
            f"unexpected response body: {type(fast_exc).__name__}", endpoint=endpoint
        ) from fast_exc


# -- requests written as wire JSON (the command line's --config files) --------------------------------------------

_LABEL_RE = re.compile(r"^(?P<cls>[A-Za-z_][A-Za-z0-9_]*)\.(?P<name>[a-z_0-9]+) \((?P<wire>[^()]+)\)$")
_Segment = str | int


def _typed_requests(conv: cattrs.Converter) -> cattrs.Converter:
    """``conv`` reading requests by their schema's types: where it has a string, only a string (a number is not
    quietly turned into one); where it has an array, only an array (cattrs would split a string into its
    characters: ``"subscribeAudioUids": "123"`` would subscribe to uids 1, 2 and 3). Responses keep the lenient
    converters above."""

    def typed_str(value: Any, _: Any = None) -> str:
        if isinstance(value, str):
            return value
        raise TypeError(f"expected a string, got {_short(value)}")

    optional_str = _optional(typed_str)
    conv.register_structure_hook(str, typed_str)
    conv.register_structure_hook(typing.Optional[str], optional_str)  # noqa: UP045 - both spellings
    conv.register_structure_hook(str | None, optional_str)

    def is_array(tp: Any) -> bool:
        args = typing.get_args(tp)
        return typing.get_origin(tp) is tuple and len(args) == 2 and args[1] is Ellipsis

    def array_hook(tp: Any) -> Callable[[Any, Any], Any]:
        base = cattrs.cols.homogenous_tuple_structure_factory(tp, conv)

        def hook(value: Any, type_: Any) -> Any:
            if not isinstance(value, (list, tuple)):
                raise TypeError(f"expected an array, got {_JSON_TYPES.get(type(value), type(value).__name__)}")
            return base(value, type_)

        return hook

    conv.register_structure_hook_factory(is_array, array_hook)
    return conv


_JSON_TYPES = {str: "a string", int: "a number", float: "a number", bool: "a boolean", dict: "an object"}
_request_converter = _typed_requests(make_converter(strict=True, detailed=True))


def request_from_wire(cls: type[T], data: Any) -> T:
    """Structure a request body written as Agora's wire JSON (camelCase keys) into the request model ``cls``.

    Strict: an unknown key is an error (a typo must not silently drop a setting), and so is a value of another JSON
    type than the schema's: a string where it has an array (never split into characters), a number where it has a
    string (never quietly converted). The models' validators run as
    for any request. Every problem raises one :class:`~agora_recording.InvalidRequestError` whose ``field`` is the
    JSON path of the first problem (``$.recordingConfig.maxIdleTime``) and whose ``rule`` says what is wrong (and
    lists up to four more problems with their paths). Mode-dependent rules are not checked here; a path for their
    errors comes from :func:`wire_path_of_label`.

    Example: ``request_from_wire(ClientRequest, json.load(file))``.
    """
    try:
        return _request_converter.structure(data, cls)
    except InvalidRequestError as exc:  # a validator of the top-level class itself
        raise InvalidRequestError(_append("$", _label_wire(exc.field)), exc.rule) from None
    except Exception as exc:
        problems = []
        for path, rule in _leaves(exc, []):
            where, secret = _json_path(cls, data, path)
            # a converter's message may quote the value; the models' own rules never quote a secret
            from_model = bool(path) and isinstance(path[-1], str) and path[-1].startswith("=")
            hidden = secret and not from_model
            problems.append((where, "invalid value (not shown: a secret field)" if hidden else rule))
        if not problems:  # pragma: no cover - every cattrs error has at least one leaf
            problems = [("$", f"invalid value ({type(exc).__name__})")]
        (field, rule), rest = problems[0], problems[1:]
        if rest:
            rule += "; also " + "; ".join(f"{p}: {r}" for p, r in rest[:4])
            if len(rest) > 4:
                rule += f"; and {len(rest) - 4} more"
        raise InvalidRequestError(field, rule) from None


def wire_path_of_label(root: type, label: str) -> str:
    """The JSON path of a validation label such as ``RecordingConfig.stream_mode (streamMode)`` under ``root``.

    ``root`` is the request model the label's class sits in (e.g. ``ClientRequest``); a label that names no model
    field, or a class found at no single place under ``root``, is returned unchanged.
    """
    match = _LABEL_RE.match(label)
    if match is None:
        return label
    found = _locate(root, match["cls"], "$", set())
    return _append(found[0], match["wire"]) if len(found) == 1 else label


def _leaves(exc: BaseException, path: list[_Segment]) -> list[tuple[list[_Segment], str]]:
    """(Python path, rule) for every failure inside a cattrs validation error."""
    if isinstance(exc, cattrs.IterableValidationError):
        with_notes, without = exc.group_exceptions()
        out = [leaf for inner, note in with_notes for leaf in _leaves(inner, [*path, int(note.index)])]
        return out + [leaf for inner in without for leaf in _leaves(inner, path)]
    if isinstance(exc, cattrs.ClassValidationError):
        attr_notes, without = exc.group_exceptions()
        out = [leaf for inner, attr in attr_notes for leaf in _leaves(inner, [*path, attr.name])]
        return out + [leaf for inner in without for leaf in _leaves(inner, path)]
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return [([*path, f"={key}"], "unknown field") for key in sorted(exc.extra_fields)]
    if isinstance(exc, InvalidRequestError):  # a validator of a nested model: its label names the wire key
        return [([*path, f"={_label_wire(exc.field)}"], exc.rule)]
    if isinstance(exc, KeyError):
        return [(path, "required field missing")]
    if isinstance(exc, (TypeError, ValueError)) and str(exc):
        return [(path, str(exc))]
    return [(path, f"invalid value ({type(exc).__name__})")]


def _label_wire(label: str) -> str:
    match = _LABEL_RE.match(label)
    return match["wire"] if match else label


def _append(path: str, segment: _Segment) -> str:
    return f"{path}[{segment}]" if isinstance(segment, int) else f"{path}.{segment}"


def _model_of(tp: Any) -> tuple[type | None, bool]:
    """The attrs model inside a field type (``X | None``, ``tuple[X, ...]``), and whether it is a sequence."""
    args = _union_args(tp) or (tp,)
    for arg in args:
        if typing.get_origin(arg) is tuple:
            inner = typing.get_args(arg)
            if inner and isinstance(inner[0], type) and attrs.has(inner[0]):
                return inner[0], True
        if isinstance(arg, type) and attrs.has(arg):
            return arg, False
    return None, False


def _json_path(root: type, data: Any, path: list[_Segment]) -> tuple[str, bool]:
    """Translate a Python path (attribute names, indices) under ``root`` into the wire path, walking ``data``.

    Also says whether the path ends at a secret field (``repr=False``: storage keys, tokens), whose value an error
    message must not show.
    """
    out, node = "$", data
    model: type | None = root
    sequence = secret = False
    for segment in path:
        secret = False
        if isinstance(segment, int):
            out = _append(out, segment)
            node = node[segment] if isinstance(node, list) and -len(node) <= segment < len(node) else None
            sequence = False
            continue
        if segment.startswith("="):  # already a wire key
            out = _append(out, segment[1:])
            if model is not None and not sequence:
                secret = any(f.repr is False and wire_name(f) == segment[1:] for f in attrs.fields(model))
            continue
        fields = {f.name: f for f in attrs.fields(model)} if model is not None and not sequence else {}
        if segment not in fields and model is q.ExtensionService and isinstance(node, Mapping):
            # the serviceParam of a known service is structured by its own hook, outside the generated one
            model, node = q.PARAM_FOR_SERVICE.get(str(node.get("serviceName"))), node.get("serviceParam")
            out = _append(out, "serviceParam")
            fields = {f.name: f for f in attrs.fields(model)} if model is not None else {}
        field = fields.get(segment)
        if field is None:
            out, model = _append(out, camel(segment)), None
            continue
        key = wire_name(field)
        out = _append(out, key)
        secret = field.repr is False
        node = node.get(key) if isinstance(node, Mapping) else None
        model, sequence = _model_of(_hints(type(None) if model is None else model).get(field.name))
    return out, secret


def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # pragma: no cover - the models' annotations all resolve
        return {}


def _locate(model: type, name: str, path: str, seen: set[type]) -> list[str]:
    """Every JSON path under ``model`` (to depth of the models' nesting) where a model class named ``name`` sits."""
    if model.__name__ == name:
        return [path]
    if model in seen:
        return []
    seen = seen | {model}
    found: list[str] = []
    hints = _hints(model)
    for field in attrs.fields(model):
        inner, sequence = _model_of(hints.get(field.name))
        if inner is not None:
            sub = _append(path, wire_name(field)) + ("[i]" if sequence else "")
            found.extend(_locate(inner, name, sub, seen))
    return found
