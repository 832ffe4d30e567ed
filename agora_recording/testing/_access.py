"""Who may call the fake, and how often: Basic auth, the account's App IDs, the sliding rate window.

Rules 3-5 of :mod:`agora_recording.testing._rules`. The customer secret lives only here (and in the facade's
accessor); ``repr()`` never shows it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
from collections import deque
from typing import Literal

__all__ = ["Access", "AccountControls"]


class Access:
    """The account: credentials, App IDs (with Cloud Recording on or off) and the rate-limit windows."""

    __slots__ = (
        "_auth_header",
        "_credentials",
        "_windows",
        "app_ids",
        "customer_id",
        "customer_secret",
        "rate_limit",
        "rate_limit_scope",
        "rate_window",
        "retry_after",
    )

    def __init__(
        self,
        *,
        customer_id: str,
        customer_secret: str,
        rate_limit_scope: Literal["account", "app_id"],
        retry_after: bool,
    ) -> None:
        if not customer_id or ":" in customer_id:
            raise ValueError("customer_id must be non-empty and must not contain ':'")
        if not customer_secret:
            raise ValueError("customer_secret must be non-empty")
        if rate_limit_scope not in ("account", "app_id"):
            raise ValueError(f"rate_limit_scope must be 'account' or 'app_id', got {rate_limit_scope!r}")
        self.customer_id = customer_id
        self.customer_secret = customer_secret
        self._credentials = f"{customer_id}:{customer_secret}".encode()
        self._auth_header = "Basic " + base64.b64encode(self._credentials).decode("ascii")
        self.app_ids: dict[str, bool] = {}  # App ID -> Cloud Recording enabled
        self.rate_limit: int | None = None
        self.rate_window = 1.0
        self.rate_limit_scope = rate_limit_scope
        self.retry_after = retry_after
        self._windows: dict[str, deque[float]] = {}

    def __repr__(self) -> str:
        return f"Access(customer_id={self.customer_id!r}, app_ids={list(self.app_ids)!r})"

    @property
    def authorization(self) -> str:
        """The ``Authorization`` header value the fake accepts."""
        return self._auth_header

    def add_app(self, app_id: str, *, cloud_recording: bool = True) -> None:
        """Add an App ID to the account (see :meth:`FakeAgoraServer.add_app`)."""
        if not isinstance(app_id, str) or not app_id or "/" in app_id:
            raise ValueError(f"invalid app_id {app_id!r}")
        self.app_ids[app_id] = bool(cloud_recording)

    def set_rate_limit(self, limit: int | None, *, window: float | None = None) -> None:
        """Change the limit (see :meth:`FakeAgoraServer.set_rate_limit`)."""
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError(f"rate_limit must be a positive integer or None, got {limit!r}")
        if window is not None:
            if not (isinstance(window, (int, float)) and window > 0 and math.isfinite(window)):
                raise ValueError(f"rate_window must be a positive number, got {window!r}")
            self.rate_window = float(window)
        self.rate_limit = limit

    def check_auth(self, value: str) -> bool:
        """True if ``value`` is ``Basic base64(customer_id:customer_secret)`` (constant-time compare)."""
        if value == self._auth_header:  # the common case, without decoding
            return True
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            raw = base64.b64decode(token.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(raw, self._credentials)

    def admit(self, app_id: str, now: float) -> float | None:
        """Record an arrival for ``app_id``'s window: ``None`` if admitted, else seconds until a slot frees up."""
        limit = self.rate_limit
        if limit is None:
            return None
        key = app_id if self.rate_limit_scope == "app_id" else self.customer_id
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = deque()
        edge = now - self.rate_window
        while window and window[0] <= edge:
            window.popleft()
        if len(window) >= limit:
            return window[0] + self.rate_window - now
        window.append(now)
        return None


class AccountControls:
    """The account side of :class:`FakeAgoraServer`: App IDs, credentials, the rate limit (a mixin over
    :class:`Access`)."""

    _access: Access

    @property
    def app_id(self) -> str:
        """The first App ID (the one most tests use)."""
        return next(iter(self._access.app_ids))

    @property
    def app_ids(self) -> tuple[str, ...]:
        """Every App ID the fake's account owns."""
        return tuple(self._access.app_ids)

    @property
    def customer_id(self) -> str:
        """The Basic-auth Customer ID."""
        return self._access.customer_id

    @property
    def customer_secret(self) -> str:
        """The Basic-auth Customer Secret (for configuring the client under test; never shown in ``repr``)."""
        return self._access.customer_secret

    @property
    def authorization(self) -> str:
        """The ``Authorization`` header value the fake accepts: ``"Basic " + base64(id:secret)``."""
        return self._access.authorization

    @property
    def rate_limit(self) -> int | None:
        """Admitted requests per window, or ``None`` when the limit is off. Change it with :meth:`set_rate_limit`."""
        return self._access.rate_limit

    @property
    def rate_window(self) -> float:
        """The sliding window length in seconds."""
        return self._access.rate_window

    @property
    def rate_limit_scope(self) -> Literal["account", "app_id"]:
        """``"account"`` (one window for every App ID) or ``"app_id"``; settable."""
        return self._access.rate_limit_scope

    @rate_limit_scope.setter
    def rate_limit_scope(self, value: Literal["account", "app_id"]) -> None:
        self._access.rate_limit_scope = value

    @property
    def retry_after(self) -> bool:
        """Whether the limiter's 429s carry ``Retry-After``; settable."""
        return self._access.retry_after

    @retry_after.setter
    def retry_after(self, value: bool) -> None:
        self._access.retry_after = value

    def add_app(self, app_id: str, *, cloud_recording: bool = True) -> None:
        """Let the account use one more App ID (several App IDs share one account and, by default, one limit).

        ``cloud_recording=False`` models an App ID whose Cloud Recording service is not enabled: requests to it
        answer 400 ``{"message":"appid is invalid"}``.

        Raises:
            ValueError: if ``app_id`` is empty or contains ``/``.
        """
        self._access.add_app(app_id, cloud_recording=cloud_recording)

    def set_rate_limit(self, limit: int | None, *, window: float | None = None) -> None:
        """Change (or, with ``None``, switch off) the rate limit; the arrival history is kept.

        Example: ``fake.set_rate_limit(None)`` before a benchmark.

        Raises:
            ValueError: if ``limit`` is not a positive integer or ``window`` not a positive number.
        """
        self._access.set_rate_limit(limit, window=window)
