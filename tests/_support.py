"""Shared test helpers: a client wired to a FakeAgoraServer on one virtual clock, and request bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from agora_recording import (
    ClientRequest,
    CloudRecordingClient,
    ExtensionService,
    ExtensionServiceConfig,
    RecordingConfig,
    RetryPolicy,
    StorageConfig,
    TranscodingConfig,
    Unlimited,
    WebRecorderServiceParam,
)
from agora_recording._limiter import RateLimiter
from agora_recording.testing import FakeAgoraServer
from agora_recording.testing._clock import VirtualClock

STORAGE = StorageConfig(
    vendor=1, region=0, bucket="recordings", access_key="ACCESS-KEY-CANARY", secret_key="SECRET-KEY-CANARY"
)


def request_for(mode: str) -> ClientRequest:
    """A valid start clientRequest for ``mode``."""
    if mode == "web":
        return ClientRequest(
            extension_service_config=ExtensionServiceConfig(
                extension_services=[
                    ExtensionService(
                        service_name="web_recorder_service",
                        service_param=WebRecorderServiceParam(
                            url="https://example.com/class",
                            audio_profile=0,
                            video_width=1280,
                            video_height=720,
                            max_recording_hour=2,
                        ),
                    )
                ]
            ),
            storage_config=STORAGE,
        )
    if mode == "individual":
        return ClientRequest(
            token="RTC-TOKEN-CANARY",
            recording_config=RecordingConfig(channel_type=1, subscribe_uid_group=0, max_idle_time=300),
            storage_config=STORAGE,
        )
    return ClientRequest(
        token="RTC-TOKEN-CANARY",
        recording_config=RecordingConfig(
            channel_type=1,
            max_idle_time=300,
            transcoding_config=TranscodingConfig(width=640, height=360, fps=15, bitrate=500),
        ),
        storage_config=STORAGE,
    )


def make_fake(vc: VirtualClock, **kwargs: Any) -> FakeAgoraServer:
    return FakeAgoraServer(clock=vc, sleep=vc.sleep, **kwargs)


@asynccontextmanager
async def client_for(
    fake: FakeAgoraServer,
    vc: VirtualClock,
    *,
    base_url: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    rate_limiter: RateLimiter | None = None,
    retry: RetryPolicy | None = None,
    **kwargs: Any,
) -> AsyncIterator[CloudRecordingClient]:
    """A client on the fake: in-process by default, over TCP when ``base_url`` is given."""
    if base_url is None:
        base_url = fake.base_url
        transport = transport or fake.transport()
    async with CloudRecordingClient(
        fake.app_id,
        fake.customer_id,
        fake.customer_secret,
        base_url=base_url,
        transport=transport,
        clock=vc,
        sleep=vc.sleep,
        rate_limiter=rate_limiter or Unlimited(),
        retry=retry or RetryPolicy(jitter=0.0),
        **kwargs,
    ) as client:
        yield client
