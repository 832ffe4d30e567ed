"""The rules ``FakeAgoraServer`` enforces, and the request-body checks that implement them.

Deliberately independent of the library's own validation: nothing here imports ``agora_recording.models``, the
library's converter or its rules (a fake that reuses the code it tests proves nothing). The checks read plain
JSON (``dict``/``list``) and raise :class:`~agora_recording.testing._wire.Reply` with Agora's documented answer.
The order below is enforced by :mod:`agora_recording.testing._routes`; the state they refer to (resourceIds,
recordings, timings) lives in :mod:`agora_recording.testing._state`.

Rules, in the order a request meets them (bodies as documented in Agora's status-codes page, 2026-06-17):

1. **Route.** ``POST /v1/apps/{appid}/cloud_recording/acquire``,
   ``POST .../resourceid/{rid}/mode/{mode}/start``, ``POST .../resourceid/{rid}/sid/{sid}/mode/{mode}/update``,
   ``POST .../updateLayout``, ``GET .../query``, ``POST .../stop``. Anything else, a wrong method included:
   404 ``{"message":"no Route matched with those values"}``. Paths are case-sensitive; a query string is ignored.
2. **Injected faults acting "before"** (see :mod:`agora_recording.testing._faults`): the request is lost on its
   way in; it is neither authenticated, counted nor processed.
3. **Basic auth.** No ``Authorization`` header: 401 ``{"message":"Unauthorized"}``. Anything but
   ``Basic base64(customer_id:customer_secret)``: 401 ``{"message":"Invalid authentication credentials"}``.
4. **Rate limit** per account (``rate_limit_scope="account"``, the default) or per App ID: at most
   ``rate_limit`` admitted requests in any ``rate_window`` seconds on the fake's clock (a sliding log of
   arrival times; a request at ``t`` sees the admitted arrivals in ``(t - rate_window, t]``). The next one gets
   429 ``{"message":"API rate limit exceeded"}``, with a ``Retry-After`` header only if ``retry_after=True``
   (Agora does not document one). Refused requests do not count. ``rate_limit=None`` disables the limit.
5. **App ID.** Not one of the account's App IDs: 401 ``{"message":"Invalid authentication credentials"}``
   (Agora: the Customer ID/secret must be allowed for the App ID in the path). One of them with Cloud Recording
   not enabled (``add_app(app_id, cloud_recording=False)``): 400 ``{"message":"appid is invalid"}`` (the current
   documented form; legacy pages wrote ``"invalid appid"``).
6. **Body.** POST needs ``Content-Type: application/json`` (parameters such as ``;charset=utf-8`` allowed), else
   400 ``{"code":8,...}``; a body that is not JSON: 400 ``{"code":8,...}`` (Agora's error 8 covers "the request
   is not valid JSON"); not a JSON object, or ``cname``/``uid``/``clientRequest`` missing or invalid: 400
   ``{"code":2,...}``. ``uid`` is a decimal string of an integer in 1..2**32-1, without sign or leading zero.
7. **acquire** answers 200 ``{"cname","uid","resourceId"}``. ``clientRequest.scene`` 0 or 1 (1 = web page
   recording), ``resourceExpiredHour`` 1..720 (else 400 ``{"code":2,"reason":"Acquire: invalid
   resourceExpiredHour value!"}``), ``region`` CN/AP/EU/NA, ``excludeResourceIds`` (strings) and
   ``startParameter`` (an object, else 400 code 2; its contents are not checked here: Agora reports an invalid
   ``startParameter`` on ``start``, not on ``acquire``) are accepted;
   ``resourceExpiredHour`` is checked but not enforced later. For scene 0 the
   channel name must use Agora's channel-name characters and be shorter than 64 bytes, else 400
   ``{"code":401,"reason":"invalid_channel_name"}``; a web ``cname`` may take 1024 bytes.
   The resourceId is ``base64url(JSON{appid, cname, uid, issue time, scene, nonce[, startParameter
   digest]}).signature``: decodable without state. The digest (present only when acquire carried a
   ``startParameter``) is a truncated HMAC-SHA256, under the fake's signing key, of the canonical JSON
   (``sort_keys``, no spaces) of ``startParameter``: keyed because that object holds storage credentials. The
   resourceId is valid ``timings.resource_ttl`` (300) seconds on the fake's clock.
8. **start**, checked in this order: undecodable resourceId, 400 code 1001; App ID, cname or uid not the ones
   the resourceId was acquired for, 400 code 432; resourceId already used, 201
   ``{"code":7,"reason":"already started"}``; resourceId older than 300 s, 400 code 433 (Agora documents the
   code, not the status); mode not matching the acquire ``scene`` (web needs scene 1), 400 code 432; invalid
   ``clientRequest``, 400 code 2 (web needs an ``extensionServiceConfig.extensionServices`` entry named
   ``web_recorder_service``; individual needs ``recordingConfig.subscribeUidGroup`` unless it takes snapshots;
   ``recordingFileConfig`` and ``snapshotConfig`` exclude each other; snapshots only in individual mode;
   ``storageConfig`` with ``vendor``, ``region``, ``bucket``, ``accessKey``, ``secretKey`` is required);
   acquire carried a ``startParameter`` whose canonical-JSON digest differs from that of start's
   ``clientRequest`` (Agora: values must be "consistent with the later start clientRequest, or start fails"),
   400 ``{"code":2,"reason":"request_hash mismatch"}`` (a choice: Agora documents neither code nor text for this
   case; the reason is the text this project's issue tracker reports; object keys may come in any order, list
   order counts); without a ``startParameter`` nothing is compared;
   the same App ID + cname + uid already recording, 400 ``{"code":53,"reason":"task conflict"}``. Success: 200
   ``{"cname","uid","resourceId","sid"}`` with a 32-hex-digit sid.
   Blacklists: ``unSubscribeAudioUids``/``unSubscribeVideoUids`` (Agora's own clients' spelling) and, unless
   ``strict_spelling=True``, the lowercase ``unsubscribe...Uids`` of the 2026 API pages (whether Agora accepts
   that form is uncertain). Strict: the lowercase key answers 400 code 2 naming it, here and in update's
   ``streamSubscribe``.
9. **Recordings progress on the fake's clock** (:class:`FakeTimings`): status 0 at start, 1, 2, 3 on the way,
   4 (all components ready) after ``ready_after`` (3 s) and 5 (first file uploaded) after ``first_file_after``
   (5 s), unless nothing is recorded (a silent channel, nobody subscribed, a web page ``onhold``): then it stays
   at 4. :meth:`FakeAgoraServer.end_recording` ends one as Agora would: ``"idle"`` (maxIdleTime) makes it exit
   (stop answers 49, then 404), ``"abnormal"`` shows status 20 for ``abnormal_exit_for`` seconds, then 404. An
   empty channel (:meth:`FakeAgoraServer.set_channel` with ``uids=()``) ends non-web recordings after
   ``maxIdleTime``; a web recording ends after ``maxRecordingHour``.
10. **query** (GET) answers 200 ``{"cname","uid","resourceId","sid","serverResponse"}``: mix,
    ``{"status","fileListMode":"string","fileList":"<sid>_<cname>.m3u8","sliceStartTime"}`` (a JSON list with
    the MP4 when ``avFileType`` has ``"mp4"``); individual, ``fileListMode:"json"`` and a list of
    ``{"fileName","trackType","uid","mixedAllUser","isPlayable","sliceStartTime"}`` (ms) per subscribed uid and
    track; individual snapshots, only ``status`` and ``sliceStartTime``; web, ``extensionServiceState`` with a
    ``web_recorder_service`` payload ``{"fileList":[{"filename","sliceStartTime"}],"onhold","state"}`` (state
    init/inProgress/exit) and an ``rtmp_publish_service`` payload ``{"outputs":[{"rtmpUrl","status"}],"state"}``
    when configured. Before the first file, ``fileList`` is ``""`` or ``[]`` and ``sliceStartTime`` 0.
11. **update** takes ``streamSubscribe`` (not web), ``webRecordingConfig.onhold`` (web only),
    ``rtmpPublishConfig`` (web only, one ``rtmp://``/``rtmps://`` output) and ``storageConfig`` (STS refresh);
    **updateLayout** works in mix mode only (another mode: 400 code 2, the ``mode`` path parameter is out of
    range; an invalid layout body: 400 code 1028, Agora's "invalid updateLayout parameters"). Both answer 200
    ``{"cname","uid","resourceId","sid"}``.
12. **stop** answers 200 ``{"cname","uid","resourceId","sid","serverResponse"}`` with ``uploadingStatus`` and
    the files (web: ``extensionServiceState`` with an ``upload_service`` payload ``{"uploadingStatus"}`` and the
    ``web_recorder_service`` payload). A recording that never produced a file answers 206
    ``{"code":435,"reason":"no recorded data"}`` (and is stopped all the same). ``clientRequest.async_stop``
    (bool) is accepted. The task is then "exiting" for ``timings.exiting_for`` seconds: another stop answers 400
    ``{"code":49,"reason":"invalid operation"}``; after that, and for query/update/updateLayout at once, 404
    ``{"code":404,"reason":"failed to find worker"}``, as for any unknown sid. A known sid with another
    resourceId or App ID: 400 code 1003. A path ``mode`` other than the recording's: 400 code 2. A body
    ``cname``/``uid`` other than the recording's: 400 code 432.
13. **Injected faults acting "after"**: the work is done and the answer is lost or replaced.

Every answer carries a unique ``X-Request-Id`` header and a JSON content type. The request log
(:attr:`FakeAgoraServer.requests`) keeps parsed bodies for assertions, but no ``repr``/``str`` of the fake, of a
log record or of a recording shows a body, a header or a credential.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple, TypeGuard

from agora_recording.testing._wire import Reply, invalid, service_error

__all__ = [
    "ALLSTREAM",
    "MODES",
    "UpdateRequest",
    "check_acquire",
    "check_envelope",
    "check_layout",
    "check_start",
    "check_storage",
    "is_int",
    "op_name",
    "parse_update",
    "rtmp_outputs",
    "uid_lists",
    "valid_uid",
]

MODES = ("individual", "mix", "web")
"""The recording modes in the ``mode`` path parameter."""
ALLSTREAM = "#allstream#"
"""The subscribe-list entry that means "everyone in the channel"."""
_MAX_UID = 2**32 - 1
_VENDORS = frozenset({0, 1, 2, 3, 4, 5, 6, 7, 8, 11})
_REGIONS = frozenset({"CN", "AP", "EU", "NA"})
_STREAM_MODES = ("default", "standard", "original")

# Compiled once at import: Agora's channel-name characters (error 1013), hex colours, storage prefixes.
_CNAME_CHARS = re.compile(r"[A-Za-z0-9 !#$%&()+\-:;<=.>?@\[\]^_{}|~,]+")
_HEX_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")
_PREFIX_PART = re.compile(r"[A-Za-z0-9]+")


def is_int(value: object, low: int, high: int) -> TypeGuard[int]:
    """An ``int`` (not a ``bool``) within ``[low, high]``."""
    return type(value) is int and low <= value <= high


def _is_number(value: object, low: float, high: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high


def valid_uid(value: object) -> bool:
    """A uid as Agora's REST API takes it: a decimal string of 1..2**32-1, no sign, no leading zero."""
    return (
        type(value) is str
        and 0 < len(value) <= 10
        and value.isascii()
        and value.isdigit()
        and value[0] != "0"
        and int(value) <= _MAX_UID
    )


_OP_NAMES = {
    "acquire": "Acquire",
    "start": "Start",
    "update": "Update",
    "updateLayout": "UpdateLayout",
    "query": "Query",
    "stop": "Stop",
}


def op_name(endpoint: str) -> str:
    """The operation name Agora uses in its ``reason`` texts (``"Start"``, ``"UpdateLayout"``, ...)."""
    return _OP_NAMES[endpoint]


def check_envelope(endpoint: str, content_type: str, body: bytes) -> dict[str, Any]:
    """Rule 6: a POST body is a JSON object with ``cname``, ``uid`` and ``clientRequest``; return it parsed.

    Raises:
        Reply: 400 code 8 (content type, not JSON) or code 2 (shape, cname, uid, clientRequest).
    """
    op = _OP_NAMES[endpoint]
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        raise service_error(400, 8, f"{op}: Content-Type must be application/json")
    try:
        parsed = json.loads(body)
    except ValueError:
        raise service_error(400, 8, f"{op}: request body is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise service_error(400, 2, f"{op}: request body must be a JSON object")
    cname = parsed.get("cname")
    if not isinstance(cname, str) or not cname or len(cname.encode()) > 1024:
        raise invalid(op, "cname")
    if not valid_uid(parsed.get("uid")):
        raise invalid(op, "uid")
    if not isinstance(parsed.get("clientRequest"), dict):
        raise invalid(op, "clientRequest")
    return parsed


def check_acquire(body: dict[str, Any]) -> int:
    """Rule 7: check an acquire body (after :func:`check_envelope`); return the ``scene``."""
    request = body["clientRequest"]
    scene = request.get("scene", 0)
    if scene not in (0, 1) or type(scene) is not int:
        raise invalid("Acquire", "scene")
    if "resourceExpiredHour" in request and not is_int(request["resourceExpiredHour"], 1, 720):
        raise invalid("Acquire", "resourceExpiredHour")
    if "region" in request and request["region"] not in _REGIONS:
        raise invalid("Acquire", "region")
    excluded = request.get("excludeResourceIds")
    if excluded is not None and not (isinstance(excluded, list) and all(isinstance(x, str) for x in excluded)):
        raise invalid("Acquire", "excludeResourceIds")
    if "startParameter" in request and not isinstance(request["startParameter"], dict):
        raise invalid("Acquire", "startParameter")
    cname = body["cname"]
    if scene == 0 and (len(cname.encode()) >= 64 or _CNAME_CHARS.fullmatch(cname) is None):
        raise service_error(400, 401, "invalid_channel_name")
    return scene


class UpdateRequest(NamedTuple):
    """What a valid update ``clientRequest`` asks for (rule 11); ``None`` fields were not in the request."""

    audio: tuple[list[str] | None, list[str] | None] | None
    """``streamSubscribe.audioUidList`` as ``(subscribe, unsubscribe)``."""
    video: tuple[list[str] | None, list[str] | None] | None
    """``streamSubscribe.videoUidList`` as ``(subscribe, unsubscribe)``."""
    onhold: bool | None
    """``webRecordingConfig.onhold``."""
    rtmp_urls: list[str] | None
    """``rtmpPublishConfig.outputs[].rtmpUrl``."""


def parse_update(request: dict[str, Any], mode: str, *, strict: bool = False) -> UpdateRequest:
    """Rule 11: check an update ``clientRequest`` for a recording in ``mode`` and say what it changes.

    Raises:
        Reply: 400 code 2 naming the first invalid field (or ``clientRequest`` if nothing known is in it).
    """
    known = 0
    audio = video = None
    onhold = None
    rtmp_urls = None
    if "streamSubscribe" in request:
        known += 1
        sub = request["streamSubscribe"]
        if mode == "web" or not isinstance(sub, dict):
            raise invalid("Update", "streamSubscribe")
        audio = uid_lists(sub.get("audioUidList", {}), "Audio", "Update", "streamSubscribe.audioUidList", strict=strict)
        video = uid_lists(sub.get("videoUidList", {}), "Video", "Update", "streamSubscribe.videoUidList", strict=strict)
    if "webRecordingConfig" in request:
        known += 1
        config = request["webRecordingConfig"]
        if mode != "web" or not isinstance(config, dict):
            raise invalid("Update", "webRecordingConfig")
        onhold = config.get("onhold", False)
        if not isinstance(onhold, bool):
            raise invalid("Update", "webRecordingConfig.onhold")
    if "rtmpPublishConfig" in request:
        known += 1
        config = request["rtmpPublishConfig"]
        if mode != "web" or not isinstance(config, dict):
            raise invalid("Update", "rtmpPublishConfig")
        rtmp_urls = rtmp_outputs(config.get("outputs"), "Update", "rtmpPublishConfig.outputs")
    if "storageConfig" in request:
        known += 1
        check_storage(request["storageConfig"], "Update")
    if not known:
        raise invalid("Update", "clientRequest")
    return UpdateRequest(audio, video, onhold, rtmp_urls)


def uid_lists(
    config: object, media: str, op: str, where: str, *, strict: bool = False
) -> tuple[list[str] | None, list[str] | None]:
    """``(subscribe, unsubscribe)`` lists for one media type.

    Both spellings of the blacklist key are accepted, unless ``strict``: then only Agora's ``unSubscribe...``.
    """
    if not isinstance(config, dict):
        raise invalid(op, where)
    if strict and f"unsubscribe{media}Uids" in config:
        raise service_error(
            400, 2, f"{op}: unknown parameter {where}.unsubscribe{media}Uids (Agora spells it unSubscribe{media}Uids)"
        )
    sub = config.get(f"subscribe{media}Uids")
    unsub = config.get(f"unSubscribe{media}Uids", config.get(f"unsubscribe{media}Uids"))
    for name, value in ((f"subscribe{media}Uids", sub), (f"unsubscribe{media}Uids", unsub)):
        if value is not None and not (
            isinstance(value, list) and len(value) <= 32 and all(isinstance(u, str) and u for u in value)
        ):
            raise invalid(op, f"{where}.{name}")
    if sub is not None and unsub is not None:
        raise invalid(op, f"{where}.un/subscribe{media}Uids")
    return sub, unsub


def rtmp_outputs(outputs: object, op: str, where: str) -> list[str]:
    if not isinstance(outputs, list) or len(outputs) > 1:
        raise invalid(op, where)
    urls = []
    for output in outputs:
        url = output.get("rtmpUrl") if isinstance(output, dict) else None
        if not isinstance(url, str) or not url.startswith(("rtmp://", "rtmps://")):
            raise invalid(op, f"{where}.rtmpUrl")
        urls.append(url)
    return urls


def check_storage(storage: object, op: str) -> None:
    if not isinstance(storage, dict):
        raise invalid(op, "storageConfig")
    vendor = storage.get("vendor")
    if type(vendor) is not int or vendor not in _VENDORS:
        raise invalid(op, "storageConfig.vendor")
    if not is_int(storage.get("region"), 0, 1000):
        raise invalid(op, "storageConfig.region")
    for key in ("bucket", "accessKey", "secretKey"):
        value = storage.get(key)
        if not isinstance(value, str) or not value:
            raise invalid(op, f"storageConfig.{key}")
    prefix = storage.get("fileNamePrefix")
    if prefix is not None and not (
        isinstance(prefix, list)
        and all(isinstance(p, str) and _PREFIX_PART.fullmatch(p) for p in prefix)
        and sum(len(p) + 1 for p in prefix) <= 128
    ):
        raise invalid(op, "storageConfig.fileNamePrefix")
    for key in ("stsToken",):
        if key in storage and not isinstance(storage[key], str):
            raise invalid(op, f"storageConfig.{key}")
    if "stsExpiration" in storage and not is_int(storage["stsExpiration"], 0, 2**64 - 1):
        raise invalid(op, "storageConfig.stsExpiration")
    params = storage.get("extensionParams")
    if params is not None and not isinstance(params, dict):
        raise invalid(op, "storageConfig.extensionParams")
    if vendor == 11 and not (isinstance(params, dict) and isinstance(params.get("endpoint"), str)):
        raise invalid(op, "storageConfig.extensionParams.endpoint")


def check_layout(config: dict[str, Any], status: int, code: int, op: str) -> None:
    """Check a layout (transcodingConfig or updateLayout clientRequest); raise ``status``/``code`` if invalid."""

    def bad(name: str) -> Reply:
        return service_error(status, code, f"{op}: invalid {name} value!")

    layout = config.get("mixedVideoLayout", 0)
    if not is_int(layout, 0, 3):
        raise bad("mixedVideoLayout")
    if "backgroundColor" in config and not (
        isinstance(config["backgroundColor"], str) and _HEX_COLOUR.fullmatch(config["backgroundColor"])
    ):
        raise bad("backgroundColor")
    if "maxResolutionUid" in config and not valid_uid(config["maxResolutionUid"]):
        raise bad("maxResolutionUid")
    regions = config.get("layoutConfig")
    if regions is not None:
        if not isinstance(regions, list) or len(regions) > 17:
            raise bad("layoutConfig")
        for region in regions:
            if not isinstance(region, dict):
                raise bad("layoutConfig")
            for key in ("x_axis", "y_axis", "width", "height"):
                if not _is_number(region.get(key), 0.0, 1.0):
                    raise bad(f"layoutConfig.{key}")
            if "alpha" in region and not _is_number(region["alpha"], 0.0, 1.0):
                raise bad("layoutConfig.alpha")
            if "render_mode" in region and not is_int(region["render_mode"], 0, 1):
                raise bad("layoutConfig.render_mode")
            if "uid" in region and not valid_uid(region["uid"]):
                raise bad("layoutConfig.uid")
    if layout == 3 and not regions:
        raise bad("layoutConfig")


def _check_recording_config(config: object, mode: str, snapshot: bool, *, strict: bool = False) -> None:
    op = "Start"
    if not isinstance(config, dict):
        raise invalid(op, "recordingConfig")
    checks: tuple[tuple[str, int, int], ...] = (
        ("channelType", 0, 1),
        ("streamTypes", 0, 2),
        ("videoStreamType", 0, 1),
        ("decryptionMode", 0, 8),
        ("maxIdleTime", 5, 2_592_000),
        ("subscribeUidGroup", 0, 5),
        ("audioProfile", 0, 2),
    )
    for key, low, high in checks:
        if key in config and not is_int(config[key], low, high):
            raise invalid(op, f"recordingConfig.{key}")
    if mode == "individual" and "subscribeUidGroup" not in config:
        raise invalid(op, "recordingConfig.subscribeUidGroup")
    if config.get("decryptionMode", 0) != 0 and not isinstance(config.get("secret"), str):
        raise invalid(op, "recordingConfig.secret")
    if config.get("decryptionMode", 0) in (7, 8) and not isinstance(config.get("salt"), str):
        raise invalid(op, "recordingConfig.salt")
    if mode != "mix" and ("audioProfile" in config or "transcodingConfig" in config):
        raise invalid(op, "recordingConfig.audioProfile" if "audioProfile" in config else "transcodingConfig")
    if "streamMode" in config and (mode != "individual" or config["streamMode"] not in _STREAM_MODES):
        raise invalid(op, "recordingConfig.streamMode")
    transcoding = config.get("transcodingConfig")
    if transcoding is not None:
        if not isinstance(transcoding, dict) or not all(
            k in transcoding for k in ("width", "height", "fps", "bitrate")
        ):
            raise invalid(op, "recordingConfig.transcodingConfig")  # the four go together (Agora's docs)
        width, height = transcoding["width"], transcoding["height"]
        if not (is_int(width, 1, 1920) and is_int(height, 1, 1920) and width * height <= 1920 * 1080):
            raise invalid(op, "recordingConfig.transcodingConfig.width/height")
        for key in ("fps", "bitrate"):
            if key in transcoding and not is_int(transcoding[key], 1, 1_000_000):
                raise invalid(op, f"recordingConfig.transcodingConfig.{key}")
        check_layout(transcoding, 400, 2, op)
    uid_lists(config, "Audio", op, "recordingConfig", strict=strict)
    uid_lists(config, "Video", op, "recordingConfig", strict=strict)


def _check_web_services(extension: object) -> None:
    op = "Start"
    if not isinstance(extension, dict):
        raise invalid(op, "extensionServiceConfig")
    if extension.get("errorHandlePolicy", "error_abort") != "error_abort":
        raise invalid(op, "extensionServiceConfig.errorHandlePolicy")
    services = extension.get("extensionServices")
    if not isinstance(services, list) or not services or not all(isinstance(s, dict) for s in services):
        raise invalid(op, "extensionServiceConfig.extensionServices")
    names = [s.get("serviceName") for s in services]
    if names.count("web_recorder_service") != 1 or names.count("rtmp_publish_service") > 1:
        raise invalid(op, "extensionServiceConfig.extensionServices.serviceName")
    for service in services:
        name = service.get("serviceName")
        params = service.get("serviceParam")
        where = f"extensionServices[{name}]"
        if not isinstance(params, dict):
            raise invalid(op, f"{where}.serviceParam")
        if name == "web_recorder_service":
            if service.get("errorHandlePolicy", "error_abort") != "error_abort":
                raise invalid(op, f"{where}.errorHandlePolicy")
            url = params.get("url")
            if not isinstance(url, str) or not url:
                raise invalid(op, f"{where}.serviceParam.url")
            width, height = params.get("videoWidth"), params.get("videoHeight")
            if not (is_int(width, 240, 1920) and is_int(height, 240, 1920) and width * height <= 1920 * 1080):
                raise invalid(op, f"{where}.serviceParam.videoWidth/videoHeight")
            required = (("audioProfile", 0, 2), ("maxRecordingHour", 1, 720))
            optional = (("videoFps", 5, 60), ("maxVideoDuration", 30, 240), ("readyTimeout", 0, 60))
            for key, low, high in required:
                if not is_int(params.get(key), low, high):
                    raise invalid(op, f"{where}.serviceParam.{key}")
            for key, low, high in optional:
                if key in params and not is_int(params[key], low, high):
                    raise invalid(op, f"{where}.serviceParam.{key}")
            if "videoBitrate" in params and not is_int(params["videoBitrate"], 1, 1_000_000):
                raise invalid(op, f"{where}.serviceParam.videoBitrate")
            for key in ("mobile", "onhold"):
                if key in params and not isinstance(params[key], bool):
                    raise invalid(op, f"{where}.serviceParam.{key}")
        elif name == "rtmp_publish_service":
            if service.get("errorHandlePolicy", "error_ignore") != "error_ignore":
                raise invalid(op, f"{where}.errorHandlePolicy")
            if not rtmp_outputs(params.get("outputs"), op, f"{where}.serviceParam.outputs"):
                raise invalid(op, f"{where}.serviceParam.outputs")
        else:
            raise invalid(op, "extensionServiceConfig.extensionServices.serviceName")


def check_start(request: dict[str, Any], mode: str, *, strict: bool = False) -> None:
    """Check a start ``clientRequest`` for ``mode``; raise 400 code 2 naming the first invalid field.

    ``strict``: refuse the lowercase ``unsubscribe...Uids`` keys (see ``FakeAgoraServer(strict_spelling=...)``).
    """
    op = "Start"
    if "token" in request and not isinstance(request["token"], str):
        raise invalid(op, "token")
    snapshot = request.get("snapshotConfig")
    files = request.get("recordingFileConfig")
    if snapshot is not None and files is not None:
        raise invalid(op, "recordingFileConfig/snapshotConfig")
    if snapshot is not None:
        if mode != "individual" or not isinstance(snapshot, dict):
            raise invalid(op, "snapshotConfig")
        if "captureInterval" in snapshot and not is_int(snapshot["captureInterval"], 1, 3600):
            raise invalid(op, "snapshotConfig.captureInterval")
        if snapshot.get("fileType") != ["jpg"]:
            raise invalid(op, "snapshotConfig.fileType")
    if files is not None:
        types = files.get("avFileType", ["hls"]) if isinstance(files, dict) else None
        if (
            not isinstance(types, list)
            or not types
            or "hls" not in types
            or not set(types) <= {"hls", "mp4"}
            or len(set(types)) != len(types)
            or (mode == "individual" and types != ["hls"])
        ):
            raise invalid(op, "recordingFileConfig.avFileType")
    if mode == "web":
        _check_web_services(request.get("extensionServiceConfig"))
    else:
        extension = request.get("extensionServiceConfig")
        if isinstance(extension, dict) and any(
            isinstance(s, dict) and s.get("serviceName") in ("web_recorder_service", "rtmp_publish_service")
            for s in extension.get("extensionServices", ()) or ()
        ):
            raise invalid(op, "extensionServiceConfig")
        _check_recording_config(request.get("recordingConfig"), mode, snapshot is not None, strict=strict)
        if snapshot is not None and request["recordingConfig"].get("streamTypes", 2) == 0:
            raise invalid(op, "recordingConfig.streamTypes")
        services = extension.get("extensionServices", ()) if isinstance(extension, dict) else ()
        if any(isinstance(s, dict) and s.get("serviceName") == "aliyun_vod_service" for s in services or ()):
            # ApsaraVideo for VoD: mix mode only, and neither storageConfig nor snapshotConfig with it.
            if mode != "mix" or "storageConfig" in request or snapshot is not None:
                raise invalid(op, "extensionServiceConfig")
            return
    check_storage(request.get("storageConfig"), op)
