"""How the controller reaches a device's agent: a process speaking on its stdio.

A transport is anything that starts a process whose stdin and stdout are
the agent's (``plainbox agent --stdio`` at the far end).  Built in:

* ``local[:NAME]``: the agent as a child process on this machine, its state
  in ``<state>/devices/NAME`` (tests, containers).
* ``[user@]host`` and ``ssh://[user@]host[:port]``: the system OpenSSH
  client, so keys, ``known_hosts``, jump hosts and ``~/.ssh/config`` apply.

Plugins add more through ``plainbox_transports``.  Nothing here listens on
a network port.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from plainbox import paths
from plainbox.errors import RemoteError
from plainbox.errors import UsageError
from plainbox.remote.protocol import ProtocolError
from plainbox.remote.protocol import encode
from plainbox.remote.protocol import read_message


__all__ = [
    "DEFAULT_AGENT_COMMAND",
    "Link",
    "LinkLost",
    "LocalTransport",
    "SshTransport",
    "Transport",
    "TransportOptions",
    "TransportType",
    "parse_destination",
]

DEFAULT_AGENT_COMMAND = "plainbox agent --stdio"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_HOST = re.compile(r"[A-Za-z0-9_.:\[\]%-]+")
_USER = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*")


class LinkLost(RemoteError):
    """The agent process went away (or its connection did)."""


@dataclass(slots=True)
class TransportOptions:
    """What the command line says about reaching agents."""

    agent_command: str = DEFAULT_AGENT_COMMAND
    ssh_options: Sequence[str] = ()
    # Extra environment for the agent process (local transport only).
    environment: dict[str, str] = field(default_factory=dict)


class Link:
    """A running agent process: send messages, receive them with a timeout."""

    def __init__(
        self, process: subprocess.Popen[bytes], on_stderr: Callable[[str], None]
    ) -> None:
        self.process = process
        self._inbox: queue.Queue[dict[str, Any] | BaseException | None] = queue.Queue()
        self._write = threading.Lock()
        self._threads = [
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=self._errors, args=(on_stderr,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        try:
            while (message := read_message(self.process.stdout)) is not None:
                self._inbox.put(message)
        except (ProtocolError, OSError, ValueError) as exc:
            self._inbox.put(exc)
        self._inbox.put(None)

    def _errors(self, on_stderr: Callable[[str], None]) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            on_stderr(line.decode("utf-8", errors="replace").rstrip("\n"))

    def send(self, message: dict[str, Any]) -> None:
        """:raises LinkLost: the agent cannot be written to."""
        assert self.process.stdin is not None
        with self._write:
            try:
                self.process.stdin.write(encode(message))
                self.process.stdin.flush()
            except (OSError, ValueError) as exc:
                raise LinkLost(f"cannot write to the agent: {exc}") from exc

    def receive(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next message; None when ``timeout`` passes first.

        :raises LinkLost: the agent closed its output (or sent garbage).
        """
        try:
            item = self._inbox.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is None:
            self._inbox.put(None)  # every later receive sees the end too
            raise LinkLost(
                f"the agent connection closed (exit status {self.process.poll()})"
            )
        if isinstance(item, BaseException):
            raise LinkLost(f"the agent sent something unreadable: {item}")
        return item

    def close(self, timeout: float = 3.0) -> None:
        """Close stdin (the agent then exits), and kill it if it lingers."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        # The readers see end of file once the process is gone (unless it
        # left a child holding the pipes: then the daemon threads are left).
        for thread in self._threads:
            thread.join(timeout)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None and not any(t.is_alive() for t in self._threads):
                stream.close()


class Transport:
    """Starts agent processes for one device."""

    #: How the device is reached, journaled as the device context's kind.
    kind = "process"

    def __init__(self, device: str) -> None:
        self.device = device

    def command(self) -> tuple[list[str], dict[str, str] | None]:
        """The argv (and environment, None: inherit) of the agent process."""
        raise NotImplementedError

    def open(self, on_stderr: Callable[[str], None]) -> Link:
        """Start the agent.

        :raises LinkLost: the process cannot be started.
        """
        argv, env = self.command()
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                close_fds=True,
            )
        except OSError as exc:
            raise LinkLost(f"cannot start {argv[0]}: {exc}") from exc
        return Link(process, on_stderr)


class LocalTransport(Transport):
    """An agent on this machine, with its own state directory per name."""

    kind = "local"

    def __init__(self, name: str, options: TransportOptions) -> None:
        super().__init__(name)
        self.state_dir = paths.state_dir() / "devices" / name
        self.options = options

    def command(self) -> tuple[list[str], dict[str, str] | None]:
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        env = {**os.environ, **self.options.environment}
        env["PLAINBOX_STATE_DIR"] = str(self.state_dir)
        return [sys.executable, "-m", "plainbox", "agent", "--stdio"], env


class SshTransport(Transport):
    """``ssh [options] -- DEST AGENT_COMMAND`` with the system OpenSSH client."""

    kind = "ssh"

    def __init__(
        self, user: str | None, host: str, port: int | None, options: TransportOptions
    ) -> None:
        super().__init__(f"{host}:{port}" if port else host)
        self.user = user
        self.host = host
        self.port = port
        self.options = options

    def command(self) -> tuple[list[str], dict[str, str] | None]:
        argv = [
            "ssh",
            "-T",  # no terminal: the channel carries protocol lines only
            # Never wait for a password at a reconnect nobody watches, and
            # notice a dead peer instead of waiting for TCP to give up.
            "-o",
            "BatchMode=yes",
            "-o",
            "ServerAliveInterval=5",
            "-o",
            "ServerAliveCountMax=3",
        ]
        for option in self.options.ssh_options:
            argv += ["-o", option]
        if self.port is not None:
            argv += ["-p", str(self.port)]
        destination = f"{self.user}@{self.host}" if self.user else self.host
        # "--" ends ssh's options: a destination can never become one.
        return [*argv, "--", destination, self.options.agent_command], None


@dataclass(frozen=True, slots=True)
class TransportType:
    """A plugin's transport: DEST ``SCHEME:ADDRESS`` is made by ``create``."""

    scheme: str
    create: Callable[[str, TransportOptions], Transport]


def _plugin_transports() -> dict[str, TransportType]:
    from plainbox.plugins import get_plugin_manager

    found: dict[str, TransportType] = {}
    for contributed in get_plugin_manager().hook.plainbox_transports():
        for transport in contributed:
            found.setdefault(transport.scheme, transport)
    return found


def parse_destination(dest: str, options: TransportOptions) -> Transport:
    """The transport for ``[user@]host``, ``ssh://[user@]host[:port]``,
    ``local[:NAME]`` or a plugin's ``SCHEME:ADDRESS``.

    :raises UsageError: the destination is malformed.
    """
    if dest == "local" or dest.startswith("local:"):
        name = dest.partition(":")[2] or "local"
        if not _NAME.fullmatch(name):
            raise UsageError(f"bad local device name {name!r} in {dest!r}")
        return LocalTransport(name, options)
    if dest.startswith("ssh://"):
        rest = dest[len("ssh://") :].rstrip("/")
        user, at, hostport = rest.rpartition("@")
        port: int | None = None
        host = hostport
        match = re.fullmatch(r"(\[[^\]]+\]|[^:]+)(?::(\d+))?", hostport)
        if match is None:
            raise UsageError(f"bad ssh destination {dest!r}")
        host = match.group(1).strip("[]")
        if match.group(2):
            port = int(match.group(2))
            if not 0 < port < 65536:
                raise UsageError(f"bad port in {dest!r}")
        return _ssh(user if at else None, host, port, dest, options)
    scheme, colon, address = dest.partition(":")
    if colon and "@" not in scheme and scheme not in ("", "ssh"):
        plugins = _plugin_transports()
        if scheme in plugins:
            return plugins[scheme].create(address, options)
    user, at, host = dest.rpartition("@")
    return _ssh(user if at else None, host, None, dest, options)


def _ssh(
    user: str | None, host: str, port: int | None, dest: str, options: TransportOptions
) -> SshTransport:
    # Refuse what ssh could read as an option or what a shell could split.
    if not host or host.startswith("-") or not _HOST.fullmatch(host):
        raise UsageError(f"bad host in destination {dest!r}")
    if user is not None and not _USER.fullmatch(user):
        raise UsageError(f"bad user in destination {dest!r}")
    return SshTransport(user, host, port, options)


def agent_command_for(python: str, environment: dict[str, str]) -> str:
    """An agent command running ``python -m plainbox`` with ``environment``.

    For a device where plainbox is not on PATH (a checkout, a virtualenv).
    """
    assignments = [
        f"{name}={shlex.quote(value)}" for name, value in environment.items()
    ]
    env = ["env", *assignments] if assignments else []
    return " ".join([*env, shlex.quote(python), "-m", "plainbox", "agent", "--stdio"])
