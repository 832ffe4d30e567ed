"""The command line's pure parts: reading --config JSON into request models, error lines, exit codes, progress."""

from __future__ import annotations

import argparse
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from agora_recording import (
    AlreadyStoppedError,
    AuthenticationError,
    ClientRequest,
    InvalidRequestError,
    Mode,
    NotFoundError,
    ResourceExpiredError,
    UpdateClientRequest,
    UpdateLayoutClientRequest,
)
from agora_recording._converter import request_from_wire, to_wire, wire_path_of_label
from agora_recording.cli._common import (
    EXIT_FAILED,
    EXIT_USAGE,
    Progress,
    UsageError,
    error_line,
    exit_code_for,
    target_from,
)
from agora_recording.cli._config import load_start_request, load_update_layout_request, load_update_request

STORAGE = {"vendor": 1, "region": 0, "bucket": "b", "accessKey": "AK-CANARY", "secretKey": "SK-CANARY"}
MIX = {
    "recordingConfig": {
        "channelType": 0,
        "transcodingConfig": {"width": 640, "height": 360, "fps": 15, "bitrate": 500},
    },
    "storageConfig": STORAGE,
}


def _problem(cls: type, data: Any) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as info:
        request_from_wire(cls, data)
    return info.value


def test_a_valid_wire_request_round_trips() -> None:
    """Agora's camelCase JSON becomes the model, and the model's wire form is the same JSON."""
    request = request_from_wire(ClientRequest, MIX)
    assert request.recording_config is not None
    assert request.recording_config.transcoding_config is not None
    assert request.recording_config.transcoding_config.width == 640
    assert to_wire(request) == MIX


def test_service_params_and_non_camel_keys_round_trip() -> None:
    """A web recorder's serviceParam is typed by its serviceName; keys such as x_axis keep Agora's spelling."""
    web = {
        "extensionServiceConfig": {
            "extensionServices": [
                {
                    "serviceName": "web_recorder_service",
                    "errorHandlePolicy": "error_abort",
                    "serviceParam": {
                        "url": "https://example.com",
                        "audioProfile": 0,
                        "videoWidth": 1280,
                        "videoHeight": 720,
                        "maxRecordingHour": 1,
                    },
                }
            ]
        },
        "storageConfig": STORAGE,
    }
    assert to_wire(request_from_wire(ClientRequest, web)) == web
    layout = {"mixedVideoLayout": 3, "layoutConfig": [{"x_axis": 0.0, "y_axis": 0.0, "width": 0.5, "height": 0.5}]}
    assert to_wire(request_from_wire(UpdateLayoutClientRequest, layout)) == layout


@pytest.mark.parametrize(
    ("data", "field", "rule"),
    [
        ({"recordingConfig": {"streamTypes": 9}}, "$.recordingConfig.streamTypes", "must be one of 0, 1, 2, got 9"),
        ({"recordingConfig": {"maxIdelTime": 3}}, "$.recordingConfig.maxIdelTime", "unknown field"),
        ({"bogus": 1}, "$.bogus", "unknown field"),
        ({"recordingConfig": {"subscribeAudioUids": ["1", {}]}}, "$.recordingConfig.subscribeAudioUids[1]", "expected"),
        ([], "$", "expected a JSON object"),
        (
            {
                "recordingConfig": {
                    "transcodingConfig": {
                        "width": 640,
                        "height": 360,
                        "fps": 15,
                        "bitrate": 500,
                        "layoutConfig": [{"x_axis": 2.0, "y_axis": 0.0, "width": 0.5, "height": 0.5}],
                    }
                }
            },
            "$.recordingConfig.transcodingConfig.layoutConfig[0].x_axis",
            "must be a number in [0, 1], got 2.0",
        ),
        (
            {
                "extensionServiceConfig": {
                    "extensionServices": [
                        {"serviceName": "web_recorder_service", "serviceParam": {"url": "https://e.com"}}
                    ]
                }
            },
            "$.extensionServiceConfig.extensionServices[0].serviceParam.",
            "required field missing",
        ),
    ],
    ids=["limit", "typo", "unknown-top", "list-item", "not-object", "wire-key", "service-param"],
)
def test_problems_name_the_json_path_in_wire_names(data: Any, field: str, rule: str) -> None:
    """Every problem names where it is in the file, with Agora's keys, and what is wrong."""
    problem = _problem(ClientRequest, data)
    assert problem.field.startswith(field)
    assert rule in problem.rule


def test_several_problems_are_listed_together() -> None:
    """The first problem is the field; the others follow in the rule, each with its path."""
    problem = _problem(UpdateClientRequest, {"streamSubscribe": {"bogus": 1, "other": 2}})
    assert problem.field == "$.streamSubscribe.bogus"
    assert "$.streamSubscribe.other: unknown field" in problem.rule


def test_a_secret_fields_value_never_appears_in_the_message() -> None:
    """A storage key of the wrong type is reported by path only; the library's own rules name no value anyway."""
    planted = {**STORAGE, "secretKey": {"nested": "SK-CANARY-PLANTED"}}
    problem = _problem(ClientRequest, {"storageConfig": planted})
    assert problem.field == "$.storageConfig.secretKey"
    assert "SK-CANARY-PLANTED" not in str(problem)
    assert "not shown" in problem.rule
    empty = _problem(ClientRequest, {"storageConfig": {**STORAGE, "accessKey": ""}})
    assert empty.field == "$.storageConfig.accessKey"
    assert "non-empty" in empty.rule


def test_labels_of_mode_rules_become_json_paths() -> None:
    """The mode rules' labels (class.field (wireKey)) map to the one place that class sits under the root."""
    assert (
        wire_path_of_label(ClientRequest, "RecordingConfig.stream_mode (streamMode)") == "$.recordingConfig.streamMode"
    )
    assert wire_path_of_label(ClientRequest, "ClientRequest.storage_config (storageConfig)") == "$.storageConfig"
    assert wire_path_of_label(ClientRequest, "client_request") == "client_request"  # not a label: unchanged


def test_credentials_come_from_the_environment_and_flags_win() -> None:
    """Flags override variables; all missing ones are named together."""
    env = {
        "AGORA_APP_ID": "app",
        "AGORA_CUSTOMER_ID": "cid",
        "AGORA_CUSTOMER_SECRET": "s",
        "AGORA_BASE_URL": "http://x",
    }
    args = argparse.Namespace(app_id=None, customer_id="flag-cid", customer_secret=None, base_url=None)
    target = target_from(args, env)
    assert (target.app_id, target.customer_id, target.customer_secret, target.base_url) == (
        "app",
        "flag-cid",
        "s",
        "http://x",
    )
    hidden = target_from(
        argparse.Namespace(customer_secret="SECRET-CANARY"), {**env, "AGORA_CUSTOMER_ID": "CID-CANARY"}
    )
    assert "SECRET-CANARY" not in repr(hidden)
    assert "CID-CANARY" not in repr(hidden)
    with pytest.raises(UsageError) as info:
        target_from(argparse.Namespace(), {"AGORA_CUSTOMER_ID": "cid"})
    assert (
        str(info.value)
        == "missing credentials: set AGORA_APP_ID (or --app-id), AGORA_CUSTOMER_SECRET (or --customer-secret)"
    )


def test_error_lines_carry_endpoint_status_code_reason_and_request_id() -> None:
    """One line per error; a missing part shows as '-'; the exit code follows the error's kind."""
    auth = AuthenticationError(
        endpoint="acquire", status_code=401, reason="Invalid authentication credentials", request_id="rid-1"
    )
    line = error_line(auth)
    assert line.startswith(
        'agora-recording: acquire: HTTP 401, code -, reason "Invalid authentication credentials", '
        "request id rid-1: authentication failed"
    )
    gone = NotFoundError(endpoint="query", status_code=404, code=404, reason="failed to find worker")
    assert "code 404" in error_line(gone)
    assert "request id -" in error_line(gone)
    assert "no such recording" in error_line(gone)
    assert "\n" not in line
    stopped = AlreadyStoppedError(endpoint="stop", status_code=400, code=49, reason="task is already exiting")
    assert error_line(stopped).endswith("the recording is already stopping or stopped")
    guard = ResourceExpiredError("start: the resourceId is too old", resource_id="rid")
    assert error_line(guard).endswith("acquire a new one (nothing was sent)")
    assert exit_code_for(auth) == EXIT_FAILED
    assert exit_code_for(UsageError("x")) == exit_code_for(InvalidRequestError("f", "r")) == EXIT_USAGE


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_redraws_one_line_on_a_terminal_and_prints_changes_otherwise() -> None:
    """On a TTY the line is rewritten in place; in plain mode a line is printed only when its key changes."""
    tty = _Tty()
    live = Progress(tty)
    assert live.live
    live.update("a 1 s", key="a")
    live.update("a 2 s", key="a")
    live.clear()
    assert tty.getvalue() == "\ra 1 s\x1b[K\ra 2 s\x1b[K\r\x1b[K"

    log = io.StringIO()
    plain = Progress(log)
    assert not plain.live
    plain.update("a 1 s", key="a")
    plain.update("a 2 s", key="a")
    plain.update("b 3 s", key="b")
    plain.note("a note")
    assert log.getvalue() == "a 1 s\nb 3 s\na note\n"
    assert not Progress(_Tty(), live=False).live  # --no-live


def test_config_files_are_read_and_checked_for_the_mode(tmp_path: Path) -> None:
    """--config: a missing file, not JSON, a whole request body, a mode rule: each a UsageError naming the file and
    the path; a good file gives the model."""
    good = tmp_path / "good.json"
    good.write_text(json.dumps(MIX))
    assert load_start_request(str(good), Mode.MIX).storage_config is not None
    cases = {
        "missing.json": (None, "cannot read it"),
        "bad.json": ("{nope", "not JSON: line 1 column 2"),
        "whole.json": (json.dumps({"cname": "c", "uid": "1", "clientRequest": MIX}), "$.clientRequest: the file holds"),
    }
    for name, (text, message) in cases.items():
        if text is not None:
            (tmp_path / name).write_text(text)
        with pytest.raises(UsageError, match=re.escape(message)):
            load_start_request(str(tmp_path / name), Mode.MIX)
    with pytest.raises(
        UsageError, match=re.escape(f"--config {good}: $.recordingConfig.subscribeUidGroup: is required")
    ):
        load_start_request(str(good), Mode.INDIVIDUAL)
    update = tmp_path / "update.json"
    update.write_text(json.dumps({"webRecordingConfig": {"onhold": True}}))
    with pytest.raises(UsageError, match=re.escape("$.webRecordingConfig: applies only in web mode")):
        load_update_request(str(update), Mode.MIX)
    assert load_update_request(str(update), Mode.WEB).web_recording_config is not None
    layout = tmp_path / "layout.json"
    layout.write_text(json.dumps({"backgroundColor": "red"}))
    with pytest.raises(UsageError, match=re.escape("$.backgroundColor: ")):
        load_update_layout_request(str(layout))
