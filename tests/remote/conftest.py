"""Fixtures for device-context tests: a provider, real controllers and agents."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from plainbox.session.journal import read_journal


NAMESPACE = "com.example.remote"

UNITS = """
id: quick
plugin: shell
summary: Quick
command: echo hello; echo oops >&2

id: fails
plugin: shell
summary: Fails
command: exit 3

id: long
plugin: shell
summary: Long
command: sleep {long}; echo long done

id: reboot
plugin: shell
summary: Reboots the device
flags: noreturn
command: sleep 60

id: after
plugin: shell
summary: After
depends: reboot
command: echo after reboot

id: nap1
plugin: shell
summary: Nap 1
command: sleep {nap}

id: nap2
plugin: shell
summary: Nap 2
command: sleep {nap}

id: nap3
plugin: shell
summary: Nap 3
command: sleep {nap}

id: ask
plugin: manual
summary: Look at the screen
purpose: Check the screen is on

unit: test plan
id: basic
name: Basic plan
include:
  quick
  fails

unit: test plan
id: longplan
name: Long plan
include:
  quick
  long

unit: test plan
id: rebootplan
name: Reboot plan
include:
  quick
  reboot
  after

unit: test plan
id: naps
name: Naps
include:
  nap1
  nap2
  nap3

unit: test plan
id: manual
name: Manual plan
include:
  ask
"""


@pytest.fixture
def remote_provider(tmp_path: Path) -> Path:
    """A provider with the plans these tests run."""
    directory = tmp_path / "remote-provider"
    (directory / "units").mkdir(parents=True)
    (directory / "provider.toml").write_text(
        f'[provider]\nname = "remote-test"\nnamespace = "{NAMESPACE}"\nversion = "1.0"\n'
    )
    (directory / "units" / "units.pxu").write_text(
        textwrap.dedent(UNITS).format(long=4, nap=2)
    )
    return directory


@pytest.fixture
def remote_env(remote_provider: Path, tmp_path: Path) -> dict[str, str]:
    """The environment of a controller (and its local agents)."""
    return {
        **os.environ,
        "PLAINBOX_STATE_DIR": str(tmp_path / "state"),
        "PLAINBOX_PROVIDERPATH": str(remote_provider),
        # A finished runner waits this long for its controller: keep tests tidy.
        "PLAINBOX_AGENT_LINGER": "20",
    }


@dataclass
class Control:
    """A ``plainbox control`` subprocess."""

    process: subprocess.Popen[str]
    state: Path

    def wait(self, timeout: float = 60) -> tuple[int, str]:
        out, _ = self.process.communicate(timeout=timeout)
        return self.process.returncode, out


@pytest.fixture
def start_control(remote_env: dict[str, str]) -> Iterator[Callable[..., Control]]:
    """Factory: start ``plainbox control ARGS`` (stdout and stderr together)."""
    started: list[Control] = []

    def factory(*args: str, env: dict[str, str] | None = None) -> Control:
        environment = env if env is not None else remote_env
        process = subprocess.Popen(
            [sys.executable, "-m", "plainbox", "control", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=environment,
        )
        control = Control(process, Path(environment["PLAINBOX_STATE_DIR"]))
        started.append(control)
        return control

    yield factory
    for control in started:
        if control.process.poll() is None:
            control.process.kill()
            control.process.communicate()
    # Runners are detached on purpose; a failed test must not leave them.
    for control in started:
        for pid in runner_pids(control.state):
            kill_group(pid)


def children(pid: int) -> list[int]:
    """Direct children of ``pid``, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("PPid:") and int(line.split()[1]) == pid:
                found.append(int(entry.name))
    return found


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def agent_pids(controller_pid: int) -> list[int]:
    """The controller's transport processes (``plainbox agent --stdio``)."""
    return [p for p in children(controller_pid) if "agent --stdio" in cmdline(p)]


def device_sessions(state: Path, device: str) -> list[Path]:
    return sorted((state / "devices" / device / "sessions").glob("pbox-*"))


def device_records(state: Path, device: str) -> list[dict[str, object]]:
    records = []
    for session in device_sessions(state, device):
        # The real reader: a running session's journal ends in preallocated
        # zeros.
        for record in read_journal(session / "journal.jsonl").records:
            records.append(
                {"seq": record.seq, "kind": record.kind, "data": record.data}
            )
    return records


def runner_pids(state: Path) -> list[int]:
    from plainbox.session.storage import SessionStorage

    pids = []
    for session in sorted(state.glob("devices/*/sessions/pbox-*")):
        holder = SessionStorage(session).lock_holder()
        if holder is not None and holder > 0:
            pids.append(holder)
    return pids


def kill_group(pid: int) -> None:
    """Kill a runner, its session's process group and its jobs' groups."""
    for child in children(pid):
        with contextlib.suppress(OSError):
            os.killpg(child, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)


def wait_for(
    condition: Callable[[], object], timeout: float = 30, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def job_started(state: Path, device: str, job: str) -> bool:
    return any(
        r["kind"] == "job-started" and r["data"]["job"] == f"{NAMESPACE}::{job}"  # type: ignore[index]
        for r in device_records(state, device)
    )
