"""Conversion: structuring query answers (2, 20, 200 files) and unstructuring a full start body, in microseconds.

Beside the library (``from_wire`` / ``to_wire``, cattrs) the same work is timed with msgspec and pydantic v2 on
equivalent schemas (:mod:`benchmarks._equivalents`; a missing package's rows are skipped) and with the stdlib
``json`` alone. Two groups: dict <-> model (what ``from_wire``/``to_wire`` do), and bytes <-> model (the whole
decode or encode, as the client does it: ``json.loads`` + ``from_wire``, ``to_wire`` + ``json.dumps``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

from agora_recording._converter import from_wire, to_wire
from agora_recording.models import QueryResponse
from benchmarks._equivalents import msgspec_models, pydantic_models
from benchmarks._harness import Target, format_table, interleave_sync
from benchmarks._payloads import query_body, query_wire, start_request

__all__ = ["FILE_COUNTS", "STYLE_GUIDE_QUERY_US", "format_results", "run_benchmark", "targets"]

FILE_COUNTS = (2, 20, 200)
STYLE_GUIDE_QUERY_US = 37.0  # style guide section 11: cattrs structures a 20-file query in 15-37 us
START = "start body"
LIB = "agora_recording (cattrs)"
DICT_ROWS = {
    LIB: "from_wire / to_wire",
    "msgspec": "convert / to_builtins",
    "pydantic": "model_validate / model_dump",
}
READ_ROWS = {
    LIB: "from_wire, then every file's fields",
    "msgspec": "convert, then every file's fields",
    "pydantic": "model_validate, then every file's fields",
}
PYDANTIC_TARGET = 1.2  # issue 17: conversion alone within 1.2x of pydantic v2, built and built-then-read
BYTES_ROWS = {
    "stdlib json": "json.loads / json.dumps only",
    LIB: "json.loads + from_wire / to_wire + json.dumps",
    "msgspec": "msgspec.json.decode / encode",
    "pydantic": "model_validate_json / model_dump_json",
}


def _dumps(data: Any) -> bytes:
    """What the client sends: compact, UTF-8."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def _decode_query(body: bytes) -> QueryResponse:
    """What the client does with a query answer."""
    return from_wire(QueryResponse, json.loads(body), endpoint="query")


def _read_files(files: Any) -> None:
    """Touch every field of every file, as a caller listing the recording's files does."""
    for f in files:
        _ = (f.filename, f.track_type, f.uid, f.mixed_all_user, f.is_playable, f.slice_start_time)


def _lib_read(data: Any) -> None:
    _read_files(from_wire(QueryResponse, data, endpoint="query").files)


def _normal(data: Any) -> Any:
    return json.loads(json.dumps(data))


def _cases() -> tuple[dict[str, dict[str, Callable[[], object]]], dict[str, bool]]:
    """``{column: {row key: call}}`` and, per package, whether its models round-trip the same wire data."""
    request = start_request()
    wire = to_wire(request)
    columns: dict[str, dict[str, Callable[[], object]]] = {}
    same: dict[str, bool] = {}
    for files in FILE_COUNTS:
        data, body = query_wire(files), query_body(files)
        columns[f"query {files} files"] = {
            f"dict:{LIB}": partial(from_wire, QueryResponse, data, endpoint="query"),
            f"read:{LIB}": partial(_lib_read, data),
            "bytes:stdlib json": partial(json.loads, body),
            f"bytes:{LIB}": partial(_decode_query, body),
        }
    columns[START] = {
        f"dict:{LIB}": lambda: to_wire(request),
        "bytes:stdlib json": lambda: _dumps(wire),
        f"bytes:{LIB}": lambda: _dumps(to_wire(request)),
    }

    ms = msgspec_models()
    if ms is not None:
        import msgspec

        query_t, request_t = ms["QueryResponse"], ms["ClientRequest"]
        ms_request = msgspec.convert(wire, request_t)
        same["msgspec"] = _normal(msgspec.to_builtins(ms_request)) == _normal(wire)
        for files in FILE_COUNTS:
            data, body = query_wire(files), query_body(files)
            same["msgspec"] &= _normal(msgspec.to_builtins(msgspec.convert(data, query_t))) == data
            column = columns[f"query {files} files"]
            column["dict:msgspec"] = partial(msgspec.convert, data, query_t, strict=False)
            column["read:msgspec"] = partial(
                lambda d: _read_files(msgspec.convert(d, query_t, strict=False).server_response.file_list), data
            )
            column["bytes:msgspec"] = partial(msgspec.json.decode, body, type=query_t, strict=False)
        columns[START]["dict:msgspec"] = lambda: msgspec.to_builtins(ms_request)
        columns[START]["bytes:msgspec"] = lambda: msgspec.json.encode(ms_request)

    pd = pydantic_models()
    if pd is not None:
        query_m, request_m = pd["QueryResponse"], pd["ClientRequest"]
        pd_request = request_m.model_validate(wire)
        same["pydantic"] = _normal(pd_request.model_dump(by_alias=True, exclude_none=True)) == _normal(wire)
        for files in FILE_COUNTS:
            data, body = query_wire(files), query_body(files)
            dumped = query_m.model_validate(data).model_dump(by_alias=True, exclude_none=True, exclude_defaults=True)
            same["pydantic"] &= _normal(dumped) == data
            column = columns[f"query {files} files"]
            column["dict:pydantic"] = partial(query_m.model_validate, data)
            column["read:pydantic"] = partial(
                lambda d: _read_files(query_m.model_validate(d).server_response.file_list), data
            )
            column["bytes:pydantic"] = partial(query_m.model_validate_json, body)
        columns[START]["dict:pydantic"] = lambda: pd_request.model_dump(by_alias=True, exclude_none=True)
        columns[START]["bytes:pydantic"] = lambda: pd_request.model_dump_json(by_alias=True, exclude_none=True)
    return columns, same


def run_benchmark(*, quick: bool = False) -> dict[str, Any]:
    """Time every case; returns ``{"us": {column: {row key: median us}}, "equivalent": ..., "skipped": ...}``."""
    rounds = 5 if quick else 40
    columns, same = _cases()
    us = {
        column: {key: t.wall_us for key, t in interleave_sync(cases, rounds=rounds).items()}
        for column, cases in columns.items()
    }
    skipped = [name for name in ("msgspec", "pydantic") if name not in same]
    return {"config": {"rounds": rounds}, "us": us, "equivalent": same, "skipped": skipped}


def format_results(results: dict[str, Any]) -> str:
    """Two groups of rows (dict <-> model, bytes <-> model), one column per payload, microseconds per call."""
    us: dict[str, dict[str, float]] = results["us"]
    columns = list(us)
    rows: list[list[str]] = []
    titles = {"dict": "dict <-> model", "read": "dict -> model, then read every file", "bytes": "bytes <-> model"}
    for group, names in (("dict", DICT_ROWS), ("read", READ_ROWS), ("bytes", BYTES_ROWS)):
        rows.append([titles[group], *([""] * len(columns))])
        for name, how in names.items():
            key = f"{group}:{name}"
            if all(key not in us[c] for c in columns):
                continue
            rows.append([f"  {name}: {how}", *(f"{us[c][key]:.1f}" if key in us[c] else "-" for c in columns)])
    lib20 = us["query 20 files"][f"dict:{LIB}"]
    notes = [f"{LIB} structures a 20-file query in {lib20:.1f} us"]
    for name in ("msgspec", "pydantic"):
        key = f"dict:{name}"
        if key in us["query 20 files"]:
            notes.append(f"{lib20 / us['query 20 files'][key]:.1f}x {name}")
    lines = [
        f"us per call (wall), medians of {results['config']['rounds']} interleaved rounds; query = structure a "
        "response, start body = unstructure a ClientRequest",
        format_table(["", *columns], rows),
        "; ".join(notes),
    ]
    if "dict:pydantic" in us["query 20 files"]:
        ratios = "; ".join(
            f"{c.removeprefix('query ')}: built {us[c][f'dict:{LIB}'] / us[c]['dict:pydantic']:.2f}x, "
            f"built+read {us[c][f'read:{LIB}'] / us[c]['read:pydantic']:.2f}x"
            for c in columns
            if "read:pydantic" in us[c]
        )
        lines.append(f"ratio {LIB} / pydantic: {ratios}")
    for name, ok in results["equivalent"].items():
        if not ok:
            lines.append(f"WARNING: the {name} models do not round-trip the same wire data")
    lines += [f"({name} is not installed: its rows are skipped)" for name in results["skipped"]]
    return "\n".join(lines)


def targets(results: dict[str, Any]) -> list[Target]:
    """The style guide's reference figure (section 11), and issue 17's ratio to pydantic v2 (when installed)."""
    us = results["us"]
    lib20 = us["query 20 files"][f"dict:{LIB}"]
    out = []
    for column in us:
        if "read:pydantic" not in us[column]:
            continue
        for group, label in (("dict", "built"), ("read", "built + every file read")):
            ratio = us[column][f"{group}:{LIB}"] / us[column][f"{group}:pydantic"]
            out.append(
                Target(
                    name=f"conversion vs pydantic, {column.removeprefix('query ')}, {label}",
                    goal=f"<= {PYDANTIC_TARGET:.1f}x pydantic",
                    measured=f"{ratio:.2f}x",
                    met=ratio <= PYDANTIC_TARGET,
                    source="issue 17",
                )
            )
    out.append(
        Target(
            name="structure a 20-file query (from_wire)",
            goal=f"<= {STYLE_GUIDE_QUERY_US:.0f} us",
            measured=f"{lib20:.1f} us",
            met=lib20 <= STYLE_GUIDE_QUERY_US,
            source="style guide 11",
        )
    )
    return out
