"""Wire bodies and request models shared by the benchmarks: query answers of any size and a full start body."""

from __future__ import annotations

import json
from typing import Any

from agora_recording import (
    ClientRequest,
    ExtensionParams,
    LayoutConfig,
    RecordingConfig,
    RecordingFileConfig,
    StorageConfig,
    TranscodingConfig,
)

__all__ = ["LAYOUT_REGIONS", "query_body", "query_wire", "scale_request", "start_request"]

LAYOUT_REGIONS = 17
SLICE_START_MS = 1_700_000_000_000
RESOURCE_ID = "JyvK8nXHuV1BE64GDkAaBGEscvtHW7v8BrQoRPCHxmeVxwY22-x-kv4GdPcjZeMzoCBUCOr9q-k6wBWMC7SaAkZ" * 2
SID = "38f8e3cfdc474cd56fc1ceba380d7e1a"


def query_wire(files: int) -> dict[str, Any]:
    """An individual-mode query answer (``fileListMode: "json"``) listing ``files`` files, as Agora sends it."""
    file_list = [
        {
            "fileName": f"{SID}_room1__uid_s_{100_000 + i // 2}__uid_e_{'audio' if i % 2 == 0 else 'video'}.m3u8",
            "trackType": "audio" if i % 2 == 0 else "video",
            "uid": str(100_000 + i // 2),
            "mixedAllUser": False,
            "isPlayable": True,
            "sliceStartTime": SLICE_START_MS,
        }
        for i in range(files)
    ]
    return {
        "resourceId": RESOURCE_ID,
        "sid": SID,
        "serverResponse": {
            "status": 5,
            "fileListMode": "json",
            "fileList": file_list,
            "sliceStartTime": SLICE_START_MS,
        },
        "cname": "room1",
        "uid": "527841",
    }


def query_body(files: int) -> bytes:
    """:func:`query_wire` as the bytes on the wire."""
    return json.dumps(query_wire(files), separators=(",", ":")).encode()


def start_request() -> ClientRequest:
    """A full mix-mode start ``clientRequest``: recording, transcoding with a 17-region layout, storage, files."""
    regions = tuple(
        LayoutConfig(
            uid=str(100_000 + i),
            x_axis=round((i % 5) * 0.2, 2),
            y_axis=(i // 5) * 0.25,
            width=0.2,
            height=0.25,
            alpha=1.0,
            render_mode=1,
        )
        for i in range(LAYOUT_REGIONS)
    )
    return ClientRequest(
        token="007eJxTYBBbsMMv2-RTC-TOKEN",
        recording_config=RecordingConfig(
            channel_type=1,
            stream_types=2,
            audio_profile=1,
            video_stream_type=0,
            max_idle_time=300,
            subscribe_audio_uids=tuple(str(100_000 + i) for i in range(LAYOUT_REGIONS)),
            subscribe_video_uids=tuple(str(100_000 + i) for i in range(LAYOUT_REGIONS)),
            transcoding_config=TranscodingConfig(
                width=1280,
                height=720,
                fps=15,
                bitrate=1500,
                max_resolution_uid="100000",
                mixed_video_layout=3,
                background_color="#101010",
                layout_config=regions,
            ),
        ),
        recording_file_config=RecordingFileConfig(av_file_type=("hls", "mp4")),
        storage_config=StorageConfig(
            vendor=1,
            region=0,
            bucket="recordings",
            access_key="ACCESS-KEY",
            secret_key="SECRET-KEY",
            file_name_prefix=("bench", "mix"),
            extension_params=ExtensionParams(sse="kms", tag="bench"),
        ),
    )


def scale_request() -> ClientRequest:
    """A small valid individual-mode start ``clientRequest`` (the one the scale runs send)."""
    return ClientRequest(
        token="007eJxTYBBbsMMv2-RTC-TOKEN",
        recording_config=RecordingConfig(channel_type=1, subscribe_uid_group=0, max_idle_time=300),
        storage_config=StorageConfig(
            vendor=1, region=0, bucket="recordings", access_key="ACCESS-KEY", secret_key="SECRET-KEY"
        ),
    )
