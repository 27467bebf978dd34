"""The session runner: the detached process that runs one device session.

``plainbox agent --stdio`` lives only as long as its connection; a job must
not.  So the session runs here, in a process of its own session (no
controlling terminal, not in the connection's process group), which holds
the session lock and serves the session on a private unix socket
``<state>/agent/<session id>.sock`` (0600, in a 0700 directory).  Any number
of agent processes may come and go; one at a time is the *controller's*
connection (a newer one takes over and the older is told why).

The runner streams the session's journal records by sequence number, so a
controller that reconnects asks for ``since`` its last one and misses
nothing; live output and operator prompts go to the current connection.
Started again after a reboot (or a kill), it settles the job that was
running like ``plainbox session resume`` does (``noreturn`` jobs pass) and
goes on.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from plainbox import paths
from plainbox.errors import PlainboxError
from plainbox.errors import SessionLockedError
from plainbox.errors import SetupFailedError
from plainbox.execution.controller import RunOptions
from plainbox.execution.controller import run_test_plan
from plainbox.execution.iolog import OutputLine
from plainbox.remote.protocol import ProtocolError
from plainbox.remote.protocol import encode
from plainbox.remote.protocol import read_message
from plainbox.session.manager import SessionManager
from plainbox.session.results import JobResult
from plainbox.session.results import Outcome
from plainbox.session.resume import default_decision
from plainbox.session.resume import interrupted_job
from plainbox.session.resume import settle_interrupted_job
from plainbox.session.state import FLAG_INCOMPLETE
from plainbox.units.model import JobDefinition


__all__ = [
    "FETCH_CHUNK",
    "RunnerServer",
    "agent_dir",
    "connect_unix",
    "listen_unix",
    "main",
    "runner_log",
    "socket_path",
    "spawn_runner",
]

_log = logging.getLogger(__name__)

#: Bytes per ``fetched`` reply: small enough to keep lines short.
FETCH_CHUNK = 1024 * 1024
# How long a finished session's runner waits for a controller to collect it.
_DEFAULT_LINGER = 3600.0
_POLL = 0.05


def agent_dir() -> Path:
    """``<state>/agent``: sockets and runner logs, private to the user."""
    directory = paths.state_dir() / "agent"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if directory.stat().st_mode & 0o077:
        directory.chmod(0o700)
    return directory


def socket_path(session_id: str) -> Path:
    return agent_dir() / f"{session_id}.sock"


def runner_log(session_id: str) -> Path:
    return agent_dir() / f"{session_id}.log"


@contextlib.contextmanager
def _addressable(path: Path) -> Iterator[str]:
    """A name for ``path`` that fits ``sun_path`` (108 bytes).

    Deep state directories (pytest's, a home on a network mount) easily
    exceed it; ``/proc/self/fd/N/NAME`` through an O_PATH handle on the
    directory always fits and names the same file.
    """
    if len(os.fsencode(path)) < 100:
        yield str(path)
        return
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def listen_unix(path: Path) -> socket.socket:
    """A listening unix socket at ``path``, mode 0600 from the start."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path.unlink(missing_ok=True)
    # The umask makes the socket 0600 at bind time: a chmod afterwards would
    # leave a window where another user could connect.
    old = os.umask(0o177)
    try:
        with _addressable(path) as name:
            server.bind(name)
    finally:
        os.umask(old)
    path.chmod(0o600)
    server.listen(8)
    return server


def connect_unix(path: Path) -> socket.socket:
    """A connection to the runner listening at ``path``.

    :raises OSError: nobody listens there.
    """
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with _addressable(path) as name:
            client.connect(name)
    except OSError:
        client.close()
        raise
    return client


def spawn_runner(session_id: str) -> subprocess.Popen[bytes]:
    """Start the runner of ``session_id``, detached from the caller.

    ``start_new_session`` puts it outside the connection's session and
    process group, so neither a hang-up nor a kill of the transport reaches
    it; its output goes to a log file, never to the connection.
    """
    log = runner_log(session_id)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "plainbox.remote.runner", session_id],
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=fd,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(fd)


class _Connection:
    """One agent's connection to the runner; writes are serialised."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._lock = threading.Lock()
        self.closed = threading.Event()

    def send(self, message: dict[str, Any]) -> bool:
        """Send a message; False once the connection is gone."""
        if self.closed.is_set():
            return False
        data = encode(message)
        with self._lock:
            try:
                self.sock.sendall(data)
            except OSError:
                self.close()
                return False
        return True

    def close(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()


class _RemoteOperator:
    """The operator is at the controller: questions become ``prompt`` messages."""

    def __init__(self, server: RunnerServer) -> None:
        self._server = server

    def ready(self, job: JobDefinition) -> bool:
        return bool(self._server.ask({"kind": "ready", **_job_info(job)}))

    def verdict(
        self, job: JobDefinition, result: JobResult | None
    ) -> tuple[Outcome, str]:
        question: dict[str, Any] = {"kind": "verdict", **_job_info(job)}
        if result is not None:
            question["return_code"] = result.return_code
            question["stdout"] = result.stdout[-8192:]
        while True:
            answer = self._server.ask(question)
            try:
                outcome = Outcome(answer.get("outcome"))
            except (AttributeError, ValueError):
                continue  # a broken answer: ask again rather than guess
            if outcome in {Outcome.PASS, Outcome.FAIL, Outcome.SKIP}:
                return outcome, str(answer.get("comment") or "")


def _job_info(job: JobDefinition) -> dict[str, Any]:
    return {
        "job": job.id,
        "summary": job.summary,
        "plugin": job.plugin,
        "purpose": job.purpose,
        "steps": job.steps,
        "verification": job.verification,
        "description": job.description,
        "blocker": job.certification_status == "blocker",
    }


class RunnerServer:
    """Runs a loaded session and serves it on its socket."""

    def __init__(
        self, manager: SessionManager, linger: float = _DEFAULT_LINGER
    ) -> None:
        self.manager = manager
        self.session_id = manager.storage.id
        self.journal_path = manager.storage.journal_path
        self.session_dir = manager.storage.path.resolve()
        self.linger = linger
        self._lock = threading.Lock()
        self._current: _Connection | None = None
        self._prompts: dict[str, dict[str, Any]] = {}
        self._answers: dict[str, Any] = {}
        self._answered = threading.Condition(self._lock)
        # Set once the run is over: (status, message) for run-ended.
        self.ended: tuple[str, str] | None = None
        self._finish = threading.Event()
        self._last_contact = time.monotonic()
        self._server = listen_unix(socket_path(self.session_id))

    # -- serving ---------------------------------------------------------------

    def serve_forever(self) -> None:
        """Accept connections until the socket is closed (in a thread)."""
        while True:
            try:
                sock, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(sock,), daemon=True).start()

    def _handle(self, sock: socket.socket) -> None:
        connection = _Connection(sock)
        stream = sock.makefile("rb")
        try:
            while True:
                try:
                    message = read_message(stream)
                except ProtocolError as exc:
                    connection.send(
                        {"type": "error", "code": "protocol", "message": str(exc)}
                    )
                    return
                except OSError:
                    return
                if message is None:
                    return
                self._dispatch(connection, message)
        finally:
            stream.close()
            with self._lock:
                if self._current is connection:
                    self._current = None
                    self._last_contact = time.monotonic()
            connection.close()

    def _dispatch(self, connection: _Connection, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "subscribe":
            self._subscribe(connection, message)
        elif kind == "answer":
            with self._lock:
                prompt = str(message.get("prompt"))
                if prompt in self._prompts:
                    self._answers[prompt] = message.get("value")
                    self._answered.notify_all()
        elif kind == "fetch":
            connection.send(self._fetch(message))
        elif kind == "finish":
            connection.send({"type": "bye", "reason": "finished"})
            if self.ended is not None:
                self._finish.set()
        else:
            connection.send(
                {
                    "type": "error",
                    "id": message.get("id"),
                    "code": "unknown-message",
                    "message": f"unknown message type {kind!r}",
                }
            )

    def _subscribe(self, connection: _Connection, message: dict[str, Any]) -> None:
        since = message.get("since", 0)
        if not isinstance(since, int) or since < 0:
            connection.send(
                {"type": "error", "code": "bad-request", "message": "since"}
            )
            return
        who = str(message.get("controller") or "another controller")
        with self._lock:
            old, self._current = self._current, connection
            pending = list(self._prompts.values())
        if old is not None and old is not connection:
            # Told before being closed, so the old controller stops instead
            # of reconnecting and fighting over the session.
            old.send({"type": "taken-over", "reason": f"{who} took over the session"})
            old.close()
        threading.Thread(
            target=self._tail, args=(connection, since), daemon=True
        ).start()
        for prompt in pending:
            connection.send(prompt)

    def _tail(self, connection: _Connection, since: int) -> None:
        """Send journal records after ``since``, then new ones as they come.

        Reading the journal file (not a copy in memory) serves the records a
        previous runner wrote before a reboot exactly like today's.
        """
        offset = 0
        while not connection.closed.is_set():
            ended = self.ended  # read before the file: no record can follow it
            with open(self.journal_path, "rb") as stream:
                stream.seek(offset)
                chunk = stream.read()
            # Whole lines only: after the last newline comes a line still
            # being written, or the journal's preallocated zeros, where the
            # next records will be written: read from there again next time.
            complete = chunk.rfind(b"\n") + 1
            offset += complete
            lines = chunk[:complete].split(b"\n")
            last = since
            for line in lines:
                if not line.strip():
                    continue
                record = json.loads(line)
                seq = int(record["seq"])
                last = max(last, seq)
                if seq > since and not connection.send(
                    {
                        "type": "record",
                        "seq": seq,
                        "kind": record["kind"],
                        "data": record["data"],
                    }
                ):
                    return
            since = last
            if ended is not None and not complete:
                connection.send(
                    {
                        "type": "run-ended",
                        "status": ended[0],
                        "message": ended[1],
                        "last_seq": since,
                    }
                )
                return
            if not complete:
                time.sleep(_POLL)

    def _fetch(self, message: dict[str, Any]) -> dict[str, Any]:
        """A chunk of a file of the session (io-logs, attachments) and nothing else."""
        request = message.get("id")
        relative = str(message.get("path") or "")
        offset = message.get("offset", 0)
        target = (self.session_dir / relative).resolve()
        if (
            not relative
            or Path(relative).is_absolute()
            or not target.is_relative_to(self.session_dir)
            or not isinstance(offset, int)
            or offset < 0
        ):
            return {
                "type": "error",
                "id": request,
                "code": "bad-path",
                "message": relative,
            }
        try:
            with open(target, "rb") as stream:
                stream.seek(offset)
                data = stream.read(FETCH_CHUNK)
                eof = stream.read(1) == b""
        except OSError as exc:
            return {
                "type": "error",
                "id": request,
                "code": "no-file",
                "message": str(exc),
            }
        return {
            "type": "fetched",
            "id": request,
            "path": relative,
            "offset": offset,
            "data": base64.b64encode(data).decode("ascii"),
            "eof": eof,
        }

    def broadcast(self, message: dict[str, Any]) -> None:
        """Send to the current controller, if one is connected."""
        with self._lock:
            current = self._current
        if current is not None:
            current.send(message)

    def ask(self, question: dict[str, Any]) -> Any:
        """Ask the controller's operator; waits (across reconnects) for the answer."""
        prompt = uuid.uuid4().hex
        message = {"type": "prompt", "prompt": prompt, **question}
        with self._lock:
            self._prompts[prompt] = message
        self.manager.sync()
        self.broadcast(message)
        with self._lock:
            while prompt not in self._answers:
                self._answered.wait()
            del self._prompts[prompt]
            return self._answers.pop(prompt)

    # -- running -----------------------------------------------------------------

    def on_output(self, job: JobDefinition, line: OutputLine) -> None:
        self.broadcast(
            {"type": "output", "job": job.id, "stream": line.stream, "text": line.text}
        )

    def wait_to_finish(self) -> None:
        """After the run: wait for ``finish``, or for no contact for ``linger`` s."""
        while not self._finish.wait(1.0 if self.linger > 1 else 0.1):
            with self._lock:
                idle = self._current is None and (
                    time.monotonic() - self._last_contact > self.linger
                )
            if idle:
                return

    def close(self) -> None:
        self._server.close()
        socket_path(self.session_id).unlink(missing_ok=True)
        with self._lock:
            current, self._current = self._current, None
        if current is not None:
            current.close()


def _settle(manager: SessionManager) -> None:
    """Decide about the job a kill or a reboot interrupted (noreturn: pass)."""
    state = manager.state
    running = interrupted_job(state)
    if running is None:
        return
    job = state.job_state_map[running].job
    if job is None:
        state.record("job-abandoned", {"job": running})
        return
    settle_interrupted_job(state, job, default_decision(job))


def run_session(session_id: str) -> int:
    """Load, settle, run and serve a session; the runner process's work."""
    from plainbox.cli.session_commands import open_session

    args = argparse.Namespace(provider=[], command="agent")
    try:
        manager, spec, prepared = open_session(args, session_id)
    except SessionLockedError as exc:
        # Another runner has it (two agents raced to start one): nothing to do.
        _log.info("%s", exc)
        return 0
    linger = float(os.environ.get("PLAINBOX_AGENT_LINGER", _DEFAULT_LINGER))
    with manager:
        server = RunnerServer(manager, linger)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            if FLAG_INCOMPLETE in manager.state.metadata.flags:
                _settle(manager)
                options = RunOptions(
                    session_share=manager.storage.share_dir,
                    operator=None if spec.non_interactive else _RemoteOperator(server),
                    job_timeout=spec.job_timeout,
                    environment=dict(prepared.launcher.environment)
                    if prepared.launcher
                    else {},
                    on_output=server.on_output,
                    session=manager,
                )
                try:
                    run_test_plan(prepared.catalog, prepared.plan, options)
                    server.ended = ("finished", "")
                except SetupFailedError as exc:
                    server.ended = ("setup-failed", str(exc))
                except PlainboxError as exc:
                    server.ended = ("error", str(exc))
            else:
                server.ended = ("finished", "")
            manager.checkpoint()
            server.wait_to_finish()
        finally:
            server.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.stderr.write("usage: python -m plainbox.remote.runner SESSION_ID\n")
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s runner[%(process)d] %(message)s"
    )
    _log.info("running session %s", argv[0])
    return run_session(argv[0])


if __name__ == "__main__":
    sys.exit(main())
