"""The controller: one session whose device contexts are remote devices.

Each device gets a thread that keeps an agent connection open (reconnecting
with bounded exponential backoff), starts or attaches to the device's
session and mirrors the device journal's records, by sequence number, into
the device's context here.  The device journal is the truth; the mirror
is a copy good enough to report from after the device is gone, and a
record is mirrored exactly once however often the link drops (records at
or below the last mirrored sequence number are dropped; each mirrored
record keeps its device number as ``mirror_seq``).
"""

from __future__ import annotations

import base64
import os
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from typing import TextIO

from plainbox import __version__
from plainbox.cli.terminal import sanitize
from plainbox.errors import RemoteError
from plainbox.execution.controller import session_jobs
from plainbox.remote.protocol import SUPPORTED_VERSIONS
from plainbox.remote.transport import Link
from plainbox.remote.transport import LinkLost
from plainbox.remote.transport import Transport
from plainbox.session.context import SessionDeviceContext
from plainbox.session.manager import SessionManager
from plainbox.session.state import SessionState
from plainbox.units.catalog import Catalog
from plainbox.units.model import TestPlan


__all__ = ["ControlOptions", "Controller", "DeviceRun", "TakenOver"]

# Record kinds a controller understands; others (a newer agent's) are
# counted as mirrored but not applied.
_KINDS = {
    "session-started",
    "metadata",
    "phase",
    "job-started",
    "job-abandoned",
    "job-finished",
    "session-finished",
}
_ANSWER_TIMEOUT = 120.0  # for hello/start/attach: a runner may take a while to load


class TakenOver(RemoteError):
    """Another controller attached to the device's session."""


@dataclass(slots=True)
class ControlOptions:
    """How the controller behaves."""

    non_interactive: bool = True
    title: str | None = None
    job_timeout: float | None = None
    # Attach to an unfinished agent session of the same plan (a takeover).
    reuse: bool = True
    reconnect_timeout: float = 300.0
    backoff_initial: float = 0.25
    backoff_max: float = 10.0
    # Show job output lines as they come.
    show_output: bool = True


@dataclass(slots=True)
class DeviceRun:
    """One device's part of the run."""

    transport: Transport
    context: SessionDeviceContext
    session: str | None = None  # the session id on the device
    seq: int = 0  # the last device record mirrored
    status: str = "pending"  # then: finished, setup-failed, error, lost, taken-over
    message: str = ""
    reconnects: int = 0

    @property
    def name(self) -> str:
        return self.context.device


def _safe_relative(path: str) -> Path | None:
    relative = Path(path)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        return None
    return relative


class Controller:
    """Runs a test plan on several devices at once, into one session."""

    def __init__(
        self,
        manager: SessionManager,
        catalog: Catalog,
        plan: TestPlan,
        transports: Sequence[Transport],
        options: ControlOptions,
        *,
        out: TextIO | None = None,
        ask: Callable[[str], str] | None = None,
    ) -> None:
        self.manager = manager
        self.catalog = catalog
        self.plan = plan
        self.options = options
        self._out = out if out is not None else sys.stdout
        self._ask = ask if ask is not None else input
        # The journal, the terminal and prompts are shared by device threads.
        self._journal_lock = threading.Lock()
        self._print_lock = threading.Lock()
        self._operator_lock = threading.Lock()
        self.identity = f"controller {socket.gethostname()} pid {os.getpid()}"
        self.devices: list[DeviceRun] = []
        known = {c.device: c for c in manager.device_context_list}
        for transport in transports:
            context = known.get(transport.device)
            if context is None:
                context = SessionDeviceContext(
                    SessionState(catalog.units),
                    device=transport.device,
                    kind=transport.kind,
                )
                manager.add_device_context(context)
            self.devices.append(DeviceRun(transport, context))

    # -- the run -------------------------------------------------------------------

    def run(self) -> list[DeviceRun]:
        """Drive every device to the end of its session (or failure)."""
        threads = [
            threading.Thread(target=self._drive, args=(device,), name=device.name)
            for device in self.devices
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with self._journal_lock:
            for device in self.devices:
                # Template instances and overrides, for the reports.
                session_jobs(self.catalog, self.plan, device.context.state)
            if all(d.status == "finished" for d in self.devices):
                self.manager.state.record("session-finished", {"finished": time.time()})
            self.manager.checkpoint()
        return self.devices

    def say(self, device: DeviceRun, text: str) -> None:
        """One sanitized line, prefixed by the device."""
        with self._print_lock:
            self._out.write(sanitize(f"[{device.name}] {text}") + "\n")
            self._out.flush()

    def _drive(self, device: DeviceRun) -> None:
        lost_since: float | None = None
        attempt = 0
        while True:
            link: Link | None = None
            try:
                link = device.transport.open(
                    lambda line: self.say(device, f"agent: {line}")
                )
                self._attach(device, link)
                if lost_since is not None:
                    device.reconnects += 1
                    self.say(device, f"reconnected after {attempt} attempt(s)")
                lost_since, attempt = None, 0
                self._pump(device, link)
                return
            except TakenOver as exc:
                device.status, device.message = "taken-over", str(exc)
                self.say(device, f"stopped: {exc}")
                return
            except LinkLost as exc:
                now = time.monotonic()
                if lost_since is None:
                    lost_since = now
                    # One line per loss, not per attempt: a reboot takes
                    # minutes and must not flood the terminal.
                    self.say(
                        device,
                        f"connection lost ({exc}); reconnecting for up to "
                        f"{self.options.reconnect_timeout:g}s",
                    )
                if now - lost_since > self.options.reconnect_timeout:
                    device.status, device.message = "lost", str(exc)
                    self.say(device, f"gave up reconnecting: {exc}")
                    return
                delay = min(
                    self.options.backoff_initial * 2**attempt, self.options.backoff_max
                )
                attempt += 1
                time.sleep(delay)
            except RemoteError as exc:
                device.status, device.message = "error", str(exc)
                self.say(device, f"error: {exc}")
                return
            finally:
                if link is not None:
                    link.close(timeout=1.0)

    def _expect(self, link: Link, kind: str, request: int) -> dict[str, Any]:
        deadline = time.monotonic() + _ANSWER_TIMEOUT
        while True:
            message = link.receive(max(0.0, deadline - time.monotonic()))
            if message is None:
                raise LinkLost(f"no {kind} from the agent in {_ANSWER_TIMEOUT:g}s")
            if message["type"] == "error" and message.get("id") in (request, None):
                raise RemoteError(f"the agent refused: {message.get('message')}")
            if message["type"] == kind and message.get("id") == request:
                return message

    def _attach(self, device: DeviceRun, link: Link) -> None:
        link.send(
            {
                "type": "hello",
                "id": 1,
                "versions": list(SUPPORTED_VERSIONS),
                "controller": f"plainbox {__version__}",
            }
        )
        self._expect(link, "hello", 1)
        if device.session is None:
            link.send(
                {
                    "type": "start",
                    "id": 2,
                    "test_plan": self.plan.id,
                    "non_interactive": self.options.non_interactive,
                    "title": self.options.title,
                    "job_timeout": self.options.job_timeout,
                    "reuse": self.options.reuse,
                }
            )
        else:
            link.send({"type": "attach", "id": 2, "session": device.session})
        attached = self._expect(link, "attached", 2)
        if device.session is None:
            device.session = str(attached["session"])
            how = "attached to running" if attached.get("resumed") else "started"
            self.say(device, f"{how} session {device.session}")
            with self._journal_lock:
                device.context.state.record(
                    "metadata", {"agent_session": device.session}
                )
        link.send(
            {"type": "subscribe", "since": device.seq, "controller": self.identity}
        )

    def _pump(self, device: DeviceRun, link: Link) -> None:
        pending: deque[dict[str, Any]] = deque()
        while True:
            message = pending.popleft() if pending else link.receive()
            if message is None:
                continue
            kind = message["type"]
            if kind == "record":
                self._mirror(device, link, message, pending)
            elif kind == "output":
                if self.options.show_output:
                    self.say(device, f"  | {str(message.get('text', '')).rstrip()}")
            elif kind == "prompt":
                self._answer(device, link, message)
            elif kind == "run-ended":
                if message.get("last_seq") != device.seq:
                    raise LinkLost("the run ended before every record arrived")
                device.status = str(message.get("status"))
                device.message = str(message.get("message") or "")
                link.send({"type": "finish"})
                # The bye is a courtesy: the run is mirrored either way.
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline:
                    reply = link.receive(0.5)
                    if reply is not None and reply["type"] == "bye":
                        break
                return
            elif kind == "taken-over":
                raise TakenOver(
                    str(message.get("reason") or "another controller attached")
                )
            elif kind == "error":
                self.say(device, f"agent error: {message.get('message')}")

    def _mirror(
        self,
        device: DeviceRun,
        link: Link,
        message: dict[str, Any],
        pending: deque[dict[str, Any]],
    ) -> None:
        seq = int(message["seq"])
        if seq <= device.seq:
            return  # already mirrored before a reconnect
        if seq != device.seq + 1:
            raise LinkLost(f"record {seq} arrived after {device.seq}; asking again")
        kind = str(message["kind"])
        data = dict(message["data"])
        if kind == "job-finished":
            data = self._with_local_io_log(device, link, data, pending)
        if kind == "session-started":
            # The controller's own session-started names its first device;
            # a device's start is only metadata about that device.
            kind = "metadata"
            data = {k: data.get(k) for k in ("title", "test_plan", "app_id")}
        if kind in _KINDS:
            with self._journal_lock:
                device.context.state.record(kind, {**data, "mirror_seq": seq})
                self.manager.refresh_header()
        device.seq = seq
        if kind == "job-started":
            self.say(device, f"running {data.get('job')}")
        elif kind == "job-finished":
            outcome = (data.get("result") or {}).get("outcome")
            self.say(device, f"{outcome:<8} {data.get('job')}")

    def _with_local_io_log(
        self,
        device: DeviceRun,
        link: Link,
        data: dict[str, Any],
        pending: deque[dict[str, Any]],
    ) -> dict[str, Any]:
        """The record with its io-log copied here and its path made local."""
        result = dict(data.get("result") or {})
        remote = result.get("io_log")
        if not isinstance(remote, str):
            return data
        relative = _safe_relative(remote)
        local_dir = self.manager.storage.path / "devices" / device.name
        if relative is None:
            result.pop("io_log")
            return {**data, "result": result}
        target = local_dir / relative
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        offset = 0
        fd = os.open(
            target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600
        )
        try:
            while True:
                request = f"fetch-{device.seq + 1}-{offset}"
                link.send(
                    {"type": "fetch", "id": request, "path": remote, "offset": offset}
                )
                reply = self._reply(link, request, pending)
                if reply["type"] == "error":
                    # The device lost the file: keep the result, without output.
                    result.pop("io_log")
                    return {**data, "result": result}
                chunk = base64.b64decode(reply.get("data") or "")
                os.write(fd, chunk)
                offset += len(chunk)
                if reply.get("eof") or not chunk:
                    break
        finally:
            os.close(fd)
        result["io_log"] = str(target.relative_to(self.manager.storage.path))
        return {**data, "result": result}

    def _reply(
        self, link: Link, request: str, pending: deque[dict[str, Any]]
    ) -> dict[str, Any]:
        while True:
            message = link.receive()
            if message is None:
                continue
            if message.get("id") == request and message["type"] in ("fetched", "error"):
                return message
            if message["type"] == "taken-over":
                raise TakenOver(str(message.get("reason")))
            pending.append(message)  # records and output wait their turn

    # -- the operator -------------------------------------------------------------

    def _answer(self, device: DeviceRun, link: Link, prompt: dict[str, Any]) -> None:
        # One device at a time: the operator answers one question at once.
        with self._operator_lock, self._print_lock:
            value = self._question(device, prompt)
        link.send({"type": "answer", "prompt": prompt.get("prompt"), "value": value})

    def _question(self, device: DeviceRun, prompt: dict[str, Any]) -> Any:
        write = self._out.write
        write(
            sanitize(
                f"\n[{device.name}] == {prompt.get('summary')} ({prompt.get('job')})"
            )
            + "\n"
        )
        for title in ("purpose", "steps", "verification"):
            if prompt.get(title):
                write(sanitize(f"{title.capitalize()}:\n{prompt[title]}") + "\n")
        self._out.flush()
        ask = self._ask
        if prompt.get("kind") == "ready":
            answer = ask(f"[{device.name}] Press Enter to start, or type s to skip: ")
            return answer.strip().lower() != "s"
        if prompt.get("stdout"):
            write(sanitize(str(prompt["stdout"])) + "\n")
        verdicts = {"p": "pass", "f": "fail", "s": "skip"}
        while True:
            choice = ask(f"[{device.name}] Outcome? [p]ass, [f]ail, [s]kip: ")
            outcome = verdicts.get(choice.strip().lower()[:1])
            if outcome is not None:
                break
            write("Please answer p, f or s.\n")
        needs_comment = bool(prompt.get("blocker")) and outcome != "pass"
        comment = ask(
            "Comment" + (" (required): " if needs_comment else " (optional): ")
        )
        while needs_comment and not comment.strip():
            comment = ask("Comment (required for a blocker): ")
        return {"outcome": outcome, "comment": comment.strip()}


def fetched_io_log_dir(manager: SessionManager, device: str) -> Path:
    """Where the controller keeps a device's io-logs."""
    return manager.storage.path / "devices" / device
