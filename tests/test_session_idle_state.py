"""An idle started session keeps no lazily made state (issue 17), and reads every option and default as before."""

from __future__ import annotations

import pytest
from _support import client_for, make_fake, request_for

from agora_recording import SessionState
from agora_recording.testing._clock import VirtualClock

pytestmark = pytest.mark.anyio


@pytest.fixture
def vc() -> VirtualClock:
    return VirtualClock(start=1000.0)


async def test_an_idle_started_session_holds_no_rare_state_until_it_stops(vc: VirtualClock) -> None:
    fake = make_fake(vc)
    async with client_for(fake, vc) as client, vc.autojump():
        rec = client.session(cname="room1", uid="527841", mode="mix", client_request=request_for("mix"))
        other = client.session(cname="room2", uid="527841", mode="mix", client_request=request_for("mix"))
        assert rec._settings is other._settings  # the default options are shared
        await rec.start()
        assert rec.state is SessionState.RECORDING
        assert rec._rare is None  # the start's exchange was dropped once taken
        assert rec.stop_response is None
        assert rec.stop_error is None
        assert rec.last_notification is None
        assert rec.exited_by_agora is False
        response = await rec.stop()
        assert rec._rare is not None
        assert rec.stop_response is response
        assert rec.state is SessionState.STOPPED


async def test_non_default_options_are_kept_per_session(vc: VirtualClock) -> None:
    fake = make_fake(vc)
    async with client_for(fake, vc) as client:
        rec = client.session(
            cname="room1",
            uid="527841",
            mode="mix",
            client_request=request_for("mix"),
            reacquire=False,
            expiry_margin=12.0,
            start_deadline=33.0,
            stop_deadline=44.0,
            verify=True,
            verify_timeout=55.0,
            use_start_parameter=True,
        )
        plain = client.session(cname="room2", uid="527841", mode="mix")
        assert rec._settings is not plain._settings
        assert (rec._reacquire, rec._expiry_margin) == (False, 12.0)
        assert (rec._start_deadline, rec._stop_deadline) == (33.0, 44.0)
        assert (rec._verify_on_enter, rec._verify_timeout, rec._use_start_parameter) == (True, 55.0, True)
        assert (plain._reacquire, plain._verify_on_enter, plain._use_start_parameter) == (True, False, False)
