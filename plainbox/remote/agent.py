"""``plainbox agent --stdio``: one controller connection, on stdin and stdout.

The agent answers ``hello``, ``list``, ``start`` and ``attach`` itself; once
attached to a session it connects to that session's runner (starting it if
it is not running: after a reboot, or a kill) and relays lines both ways
until either side closes.  It never runs a job itself, so the connection may
drop at any moment without touching the session.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import threading
import time
from typing import Any
from typing import BinaryIO

from plainbox import __version__
from plainbox.errors import PlainboxError
from plainbox.errors import RemoteError
from plainbox.errors import SessionError
from plainbox.errors import UsageError
from plainbox.remote.protocol import MAX_LINE
from plainbox.remote.protocol import SUPPORTED_VERSIONS
from plainbox.remote.protocol import ProtocolError
from plainbox.remote.protocol import encode
from plainbox.remote.protocol import read_message
from plainbox.remote.runner import connect_unix
from plainbox.remote.runner import runner_log
from plainbox.remote.runner import socket_path
from plainbox.remote.runner import spawn_runner
from plainbox.session.state import FLAG_INCOMPLETE
from plainbox.session.storage import SessionStorage
from plainbox.session.storage import SessionStorageRepository


__all__ = ["serve_stdio"]

# How long to wait for a runner to start listening.
_RUNNER_START_TIMEOUT = 60.0
_ARGS = argparse.Namespace(provider=[], command="agent")


class _Out:
    """stdout shared by the relay threads: one whole line at a time."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        self.raw(encode(message))

    def raw(self, line: bytes) -> None:
        with self._lock:
            self._stream.write(line)
            self._stream.flush()


def _error(request: Any, code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "id": request, "code": code, "message": message}


def serve_stdio(stdin: BinaryIO, stdout: BinaryIO) -> int:
    """Serve one connection; returns the exit status."""
    out = _Out(stdout)
    try:
        hello = read_message(stdin)
    except ProtocolError as exc:
        out.send(_error(None, "protocol", str(exc)))
        return 2
    if hello is None:
        return 0
    offered = hello.get("versions") if hello["type"] == "hello" else None
    common = [
        v for v in SUPPORTED_VERSIONS if isinstance(offered, list) and v in offered
    ]
    if not common:
        out.send(
            _error(
                hello.get("id"),
                "version",
                f"this agent speaks protocol versions {list(SUPPORTED_VERSIONS)}; "
                f"the controller offered {offered!r} (start with hello)",
            )
        )
        return 2
    out.send(
        {
            "type": "hello",
            "id": hello.get("id"),
            "version": max(common),
            "agent": f"plainbox {__version__}",
            "host": socket.gethostname(),
        }
    )
    while True:
        try:
            message = read_message(stdin)
        except ProtocolError as exc:
            out.send(_error(None, "protocol", str(exc)))
            return 2
        if message is None:
            return 0
        request = message.get("id")
        try:
            if message["type"] == "list":
                out.send({"type": "listing", "id": request, **_listing(message)})
                continue
            if message["type"] == "start":
                session_id, resumed = _start(message)
            elif message["type"] == "attach":
                session_id, resumed = str(message.get("session")), True
            else:
                out.send(
                    _error(
                        request, "unknown-message", f"unexpected {message['type']!r}"
                    )
                )
                continue
            runner = _connect_runner(session_id)
        except (PlainboxError, LookupError, OSError) as exc:
            out.send(_error(request, "failed", str(exc)))
            continue
        out.send(
            {
                "type": "attached",
                "id": request,
                "session": session_id,
                "resumed": resumed,
            }
        )
        _relay(stdin, out, runner)
        return 0


def _listing(message: dict[str, Any]) -> dict[str, Any]:
    from plainbox.cli.common import catalog_from_args

    what = message.get("what")
    catalog = catalog_from_args(_ARGS)
    if what == "providers":
        items = [
            {"name": p.name, "namespace": p.namespace, "version": p.version}
            for p in catalog.providers
        ]
    elif what == "test-plans":
        items = [{"id": plan.id, "name": plan.name} for plan in catalog.test_plans]
    else:
        raise UsageError(f"list what? 'providers' or 'test-plans', not {what!r}")
    return {"what": what, "items": items}


def _start(message: dict[str, Any]) -> tuple[str, bool]:
    """A session for the requested plan: a running one (``reuse``) or a new one."""
    from plainbox.cli.run_command import RunSpec
    from plainbox.cli.run_command import _prepare
    from plainbox.session.manager import SessionManager
    from plainbox.session.state import SessionState

    plan_id = message.get("test_plan")
    if not isinstance(plan_id, str) or not plan_id:
        raise UsageError("start needs a test_plan")
    timeout = message.get("job_timeout")
    spec = RunSpec(
        targets=[plan_id],
        title=message.get("title") if isinstance(message.get("title"), str) else None,
        non_interactive=bool(message.get("non_interactive")),
        job_timeout=float(timeout) if isinstance(timeout, (int, float)) else None,
    )
    prepared = _prepare(spec, _ARGS)
    if not prepared.real_plan:
        raise UsageError(f"no test plan {plan_id!r} on this device")
    repository = SessionStorageRepository()
    if message.get("reuse", True):
        for storage in repository.get_storage_list():
            if _is_resumable(storage, prepared.plan.id):
                return storage.id, True
    state = SessionState(prepared.catalog.units)
    state.metadata.title = prepared.title
    state.metadata.test_plan = prepared.plan.id
    state.metadata.app_id = "plainbox-agent"
    state.metadata.options = {**spec.to_options(), "agent": True}
    manager = SessionManager.create_with_state(state, repository)
    # The runner takes the lock over: this process only made the session.
    manager.close()
    return manager.storage.id, False


def _is_resumable(storage: SessionStorage, plan_id: str) -> bool:
    """An agent session of the plan that has not finished."""
    try:
        header = storage.read_header()
    except SessionError:
        return False
    options = header.get("options") or {}
    return (
        isinstance(options, dict)
        and options.get("agent") is True
        and header.get("test_plan") == plan_id
        and FLAG_INCOMPLETE in (header.get("flags") or ())
    )


def _connect_runner(session_id: str) -> socket.socket:
    """Connect to the session's runner, starting it if nobody runs the session."""
    storage = SessionStorageRepository().get(session_id)
    path = socket_path(session_id)
    deadline = time.monotonic() + _RUNNER_START_TIMEOUT
    started = None
    while True:
        with contextlib.suppress(OSError):
            return connect_unix(path)
        if started is None and storage.lock_holder() is None:
            # No process holds the session: its runner died (a reboot, a
            # kill) or finished and left; a new one resumes or serves it.
            started = spawn_runner(session_id)
        elif started is not None and started.poll() not in (None, 0):
            raise RemoteError(
                f"the runner of session {session_id} failed; see {runner_log(session_id)}"
            )
        elif (
            started is not None
            and started.poll() == 0
            and storage.lock_holder() is None
        ):
            started = None  # it lost a race with another runner that then left
        if time.monotonic() > deadline:
            raise RemoteError(
                f"the runner of session {session_id} did not start; "
                f"see {runner_log(session_id)}"
            )
        time.sleep(0.05)


def _relay(stdin: BinaryIO, out: _Out, runner: socket.socket) -> None:
    """Copy lines both ways until either side closes."""

    def upstream() -> None:
        try:
            while line := stdin.readline(MAX_LINE + 1):
                runner.sendall(line)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            runner.shutdown(socket.SHUT_RDWR)

    threading.Thread(target=upstream, daemon=True).start()
    stream = runner.makefile("rb")
    try:
        while line := stream.readline(MAX_LINE + 1):
            out.raw(line)
    except OSError:
        pass
    finally:
        stream.close()
        runner.close()
