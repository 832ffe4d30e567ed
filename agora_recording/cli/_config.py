"""``--config FILE``: a ``clientRequest`` written as Agora's JSON, read into the library's request models.

The file holds what goes under ``clientRequest`` in Agora's docs (camelCase keys); ``-`` reads standard input.
It is checked completely before anything is sent: unknown keys, wrong types, Agora's documented limits (the
models' validators) and the rules that depend on the mode. Every problem is a :class:`UsageError` naming the JSON
path (``$.recordingConfig.maxIdleTime``), never the value of a secret field.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TypeVar

from agora_recording import (
    ClientRequest,
    InvalidRequestError,
    Mode,
    UpdateClientRequest,
    UpdateLayoutClientRequest,
)
from agora_recording._converter import request_from_wire, wire_path_of_label
from agora_recording.cli._common import UsageError
from agora_recording.models._rules import check_start_request, check_update_request

__all__ = ["load_start_request", "load_update_layout_request", "load_update_request", "read_json"]

T = TypeVar("T")


def read_json(path: str) -> Any:
    """The JSON document in ``path`` (``-``: standard input); an unreadable file raises :class:`UsageError`."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as file:
                text = file.read()
    except OSError as exc:
        raise UsageError(f"--config {path}: cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"--config {path}: not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--config {path}: not JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def _load(path: str, cls: type[T]) -> T:
    data = read_json(path)
    if isinstance(data, dict) and "clientRequest" in data:
        raise UsageError(
            f"--config {path}: $.clientRequest: the file holds a whole request body; "
            "put only the value of clientRequest in it (cname and uid are flags)"
        )
    try:
        return request_from_wire(cls, data)
    except InvalidRequestError as exc:
        raise UsageError(f"--config {path}: {exc.field}: {exc.rule} (nothing was sent)") from None


def _rules_error(path: str, root: type, exc: InvalidRequestError) -> UsageError:
    return UsageError(f"--config {path}: {wire_path_of_label(root, exc.field)}: {exc.rule} (nothing was sent)")


def load_start_request(path: str, mode: Mode) -> ClientRequest:
    """start's ``clientRequest`` from ``path``, checked for ``mode`` (storage, services, mode-only fields)."""
    request = _load(path, ClientRequest)
    try:
        check_start_request(mode, request)
    except InvalidRequestError as exc:
        raise _rules_error(path, ClientRequest, exc) from None
    return request


def load_update_request(path: str, mode: Mode) -> UpdateClientRequest:
    """update's ``clientRequest`` from ``path``, checked for ``mode``."""
    request = _load(path, UpdateClientRequest)
    try:
        check_update_request(mode, request)
    except InvalidRequestError as exc:
        raise _rules_error(path, UpdateClientRequest, exc) from None
    return request


def load_update_layout_request(path: str) -> UpdateLayoutClientRequest:
    """updateLayout's ``clientRequest`` from ``path``."""
    return _load(path, UpdateLayoutClientRequest)
