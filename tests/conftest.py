"""Shared fixtures: an isolated environment and a provider-directory factory,
and the in-process ``plainbox`` call of the command-line tests."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path

import pytest

from plainbox.cli.main import main


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory, monkeypatch):
    """Keep every test away from the real state dir and installed providers."""
    state = tmp_path_factory.mktemp("state")
    providers = tmp_path_factory.mktemp("providerpath")
    monkeypatch.setenv("PLAINBOX_STATE_DIR", str(state))
    monkeypatch.setenv("PLAINBOX_PROVIDERPATH", str(providers))
    monkeypatch.setenv("PLAINBOX_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("PLAINBOX_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))


@pytest.fixture
def xdg_autostart_only(tmp_path, monkeypatch):
    """Make the restart strategy the same everywhere: XDG autostart.

    Before a ``noreturn`` job plainbox primes an automatic resume with the
    first strategy available. systemd's would talk to the user's real
    systemd manager: an empty runtime directory and a dead bus make it
    unavailable. XDG autostart is available wherever there is a display
    (or an /etc/xdg/autostart, which varies): a display name makes it so
    everywhere, and its entry goes under PLAINBOX_CONFIG_DIR.
    """
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={runtime}/no-bus")
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``plainbox ARGV`` in-process: exit status, stdout, stderr."""
    try:
        code = main(list(argv))
    except SystemExit as exit_info:  # argparse's way out: usage errors
        code = int(exit_info.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _write(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


def _declaration(
    kind: str, name: str, namespace: str | None, version: str
) -> tuple[str | None, str]:
    if kind == "toml":
        lines = ["[provider]", f'name = "{name}"']
        if namespace is not None:
            lines.append(f'namespace = "{namespace}"')
        lines.append(f'version = "{version}"')
        return "provider.toml", "\n".join(lines) + "\n"
    if kind == "manage.py":
        kwargs = [f'name="{name}"']
        if namespace is not None:
            kwargs.append(f'namespace="{namespace}"')
        kwargs += [f'version="{version}"', 'description=N_("An example provider")']
        body = "\n".join(f"    {kwarg}," for kwarg in kwargs)
        source = (
            "#!/usr/bin/env python3\n"
            "from plainbox.provider_manager import N_, setup\n\n"
            f"setup(\n{body}\n)\n"
        )
        return "manage.py", source
    if kind == ".provider":
        lines = ["[PlainBox Provider]", f"name = {name}"]
        if namespace is not None:
            lines.append(f"namespace = {namespace}")
        lines.append(f"version = {version}")
        return None, "\n".join(lines) + "\n"
    raise ValueError(f"unknown provider kind {kind!r}")


@pytest.fixture
def make_provider(tmp_path):
    """Factory writing a provider; returns its directory (or ``.provider`` file).

    ``.provider`` definitions are written to ``tmp_path / "installed"`` (one
    directory shared by every provider of the test) with ``location=`` pointing
    at the provider directory under ``tmp_path / "providers"``.
    """
    counter = itertools.count()

    def factory(
        units=None,
        namespace="com.example",
        name="example",
        kind="toml",
        extra_files=None,
        version="1.0",
    ):
        base = tmp_path / "providers" / name.replace(":", ".")
        if base.exists():
            base = base.with_name(f"{base.name}-{next(counter)}")
        base.mkdir(parents=True)
        for relative, content in (units or {}).items():
            if isinstance(content, str):
                content = textwrap.dedent(content)
            _write(base / relative, content)
        for relative, content in (extra_files or {}).items():
            _write(base / relative, content)
        filename, text = _declaration(kind, name, namespace, version)
        if filename is not None:
            if filename not in (extra_files or {}):  # a custom declaration wins
                _write(base / filename, text)
            return base
        ini = tmp_path / "installed" / f"{base.name}.provider"
        _write(ini, text + f"location = {base}\n")
        return ini

    return factory


@pytest.fixture
def toml_provider(tmp_path):
    """Factory: a provider.toml provider whose units/units.pxu holds ``units``."""

    def factory(units: str, namespace: str = "com.example", name: str = "example"):
        directory = tmp_path / "provider"
        (directory / "units").mkdir(parents=True, exist_ok=True)
        (directory / "provider.toml").write_text(
            f'[provider]\nname = "{name}"\nnamespace = "{namespace}"\nversion = "1.0"\n'
        )
        (directory / "units" / "units.pxu").write_text(units)
        return directory

    return factory
