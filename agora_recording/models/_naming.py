"""The camelCase rule that maps Python field names to Agora's wire keys; pure and shared."""

from __future__ import annotations

from functools import cache

import attrs

WIRE_KEY = "agora_recording.wire"
"""attrs field metadata key holding a wire name that is not plain camelCase (``x_axis``, ``unSubscribeAudioUids``)."""


@cache
def camel(name: str) -> str:
    """``max_idle_time`` -> ``maxIdleTime``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def wire_name(field: attrs.Attribute) -> str:  # type: ignore[type-arg]  # attrs.Attribute is generic only in stubs
    """The wire key of an attrs field: its metadata override, else the camelCase of its name."""
    override = field.metadata.get(WIRE_KEY)
    return override if isinstance(override, str) else camel(field.name)


def wire(key: str) -> dict[str, str]:
    """Field metadata that spells the wire key explicitly: ``attrs.field(metadata=wire("x_axis"))``."""
    return {WIRE_KEY: key}
