"""The public surface: one sorted __all__ per public module, every name importable and documented."""

from __future__ import annotations

import importlib
import inspect
import typing

import pytest

PUBLIC_MODULES = ["agora_recording", "agora_recording.models", "agora_recording.testing"]


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_is_sorted_unique_and_importable(module_name: str) -> None:
    """__all__ is sorted (isort style, as ruff's RUF022 keeps it), has no duplicates, and every name exists."""
    module = importlib.import_module(module_name)
    names = list(module.__all__)
    assert names == sorted(names, key=lambda n: (0 if n.isupper() else 1 if n[:1].isupper() else 2, n))
    assert len(set(names)) == len(names)
    for name in names:
        assert hasattr(module, name), name


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_class_and_function_has_a_docstring(module_name: str) -> None:
    """Docstrings on every public name (classes and functions)."""
    module = importlib.import_module(module_name)
    missing = [
        name
        for name in module.__all__
        if (inspect.isclass(getattr(module, name)) or inspect.isfunction(getattr(module, name)))
        and typing.get_origin(getattr(module, name)) is None  # type aliases (Clock) carry no docstring
        and not (getattr(module, name).__doc__ or "").strip()
    ]
    assert missing == []


def test_issue_required_names_are_exported_at_top_level() -> None:
    """The names the models issue asks for are importable from agora_recording itself."""
    import agora_recording

    required = {
        "ClientRequest", "RecordingConfig", "TranscodingConfig", "LayoutConfig", "RecordingFileConfig",
        "SnapshotConfig", "StorageConfig", "ExtensionServiceConfig", "ExtensionService", "WebRecorderServiceParam",
        "QueryResponse", "StopResponse", "RecordedFile", "Mode", "RecordingStatus", "UploadingStatus", "Vendor",
        "AgoraError", "InvalidRequestError",
    }  # fmt: skip
    assert required <= set(agora_recording.__all__)
    assert [m.value for m in agora_recording.Mode] == ["individual", "mix", "web"]
