from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Backend-neutral tests marked ``pytest.mark.anyio`` run under asyncio and trio."""
    return str(request.param)
