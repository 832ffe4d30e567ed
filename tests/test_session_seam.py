"""The session depends on the client only through its seam: no import circle between them (issue 10)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import agora_recording
from agora_recording import CloudRecordingClient, RecordingSession
from agora_recording._session_host import SessionHost

PACKAGE = Path(agora_recording.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of the file (lazy and TYPE_CHECKING imports count)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("agora_recording")}


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: _imports(path) & modules.keys() for name, path in modules.items()}


def test_no_session_module_imports_the_client_module() -> None:
    """Every ``_session*`` module reaches the client only through ``SessionHost``: no import of ``_client``."""
    graph = _graph()
    session_modules = [name for name in graph if name.startswith("agora_recording._session")]
    assert "agora_recording._session" in session_modules
    assert "agora_recording._session_host" in session_modules
    for name in session_modules:
        assert "agora_recording._client" not in graph[name], name


def test_the_client_and_the_session_modules_form_no_import_cycle() -> None:
    """Following imports from ``_client``, no path leads back to ``_client``; the same from ``_session``."""
    graph = _graph()
    for start in ("agora_recording._client", "agora_recording._session"):
        seen: set[str] = set()
        stack = list(graph[start])
        while stack:
            name = stack.pop()
            assert name != start, f"{start} imports itself back"
            if name not in seen:
                seen.add(name)
                stack.extend(graph.get(name, ()))


def test_the_client_offers_every_member_of_the_seam() -> None:
    """``SessionHost`` names only what the client has, with the keyword parameters the session passes."""
    members = [name for name in vars(SessionHost) if not name.startswith("_")]
    assert set(members) >= {"app_id", "clock", "sleep", "acquire", "start", "update", "update_layout", "query", "stop"}
    for name in members:
        assert hasattr(CloudRecordingClient, name), name
        wanted = getattr(SessionHost, name)
        if inspect.isfunction(wanted):
            have = inspect.signature(getattr(CloudRecordingClient, name)).parameters
            for parameter in inspect.signature(wanted).parameters:
                assert parameter in have, (name, parameter)


def test_session_options_are_real_keyword_parameters() -> None:
    """``client.session()`` and ``resume_session()`` list the session's options by name (no ``**options``)."""
    session_params = inspect.signature(RecordingSession.__init__).parameters
    options = [n for n, p in session_params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    for method in (CloudRecordingClient.session, CloudRecordingClient.resume_session):
        params = inspect.signature(method).parameters
        assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        for name in options:
            if method is CloudRecordingClient.resume_session and name in ("cname", "uid", "mode"):
                continue
            assert name in params, (method.__name__, name)
            assert params[name].default == session_params[name].default, (method.__name__, name)
