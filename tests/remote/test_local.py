"""Device contexts through the ``local`` transport: real agents, real runners."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from plainbox.errors import UsageError
from plainbox.remote.protocol import ProtocolError
from plainbox.remote.protocol import decode
from plainbox.remote.protocol import encode
from plainbox.remote.transport import LocalTransport
from plainbox.remote.transport import SshTransport
from plainbox.remote.transport import TransportOptions
from plainbox.remote.transport import parse_destination
from tests.remote.conftest import NAMESPACE
from tests.remote.conftest import agent_pids
from tests.remote.conftest import job_started
from tests.remote.conftest import kill_group
from tests.remote.conftest import runner_pids
from tests.remote.conftest import wait_for


def _report(path: Path) -> list[tuple[str, str, str]]:
    data = json.loads(path.read_text())
    return [(r["device"], r["id"], r["outcome"]) for r in data["results"]]


# -- protocol and destinations --------------------------------------------------


def test_messages_round_trip_as_one_ascii_line():
    message = {"type": "output", "text": "née\nline two"}
    line = encode(message)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1  # an embedded newline can never split a message
    assert decode(line) == message


@pytest.mark.parametrize(
    "line", [b"not json", b"[1, 2]", b'{"no": "type"}', b'{"type": 3}']
)
def test_non_messages_are_protocol_errors(line):
    with pytest.raises(ProtocolError):
        decode(line)


@pytest.mark.parametrize(
    ("dest", "kind", "device"),
    [
        ("local", LocalTransport, "local"),
        ("local:dut-1", LocalTransport, "dut-1"),
        ("ubuntu@dut", SshTransport, "dut"),
        ("dut.example.com", SshTransport, "dut.example.com"),
        ("ssh://ubuntu@10.0.0.2:2222", SshTransport, "10.0.0.2:2222"),
    ],
)
def test_destinations_pick_transports(dest, kind, device):
    transport = parse_destination(dest, TransportOptions())
    assert isinstance(transport, kind)
    assert transport.device == device


@pytest.mark.parametrize(
    "dest",
    [
        "-oProxyCommand=touch /tmp/x",
        "local:../escape",
        "ssh://a@b:99999",
        "u;rm@host",
        "ho st",
    ],
)
def test_hostile_destinations_are_refused(dest):
    with pytest.raises(UsageError):
        parse_destination(dest, TransportOptions())


def test_ssh_destination_cannot_become_an_option():
    transport = parse_destination("ssh://me@dut:2200", TransportOptions())
    argv, _ = transport.command()
    # "--" ends ssh's options before the destination and the remote command.
    assert argv[argv.index("--") + 1 :] == ["me@dut", "plainbox agent --stdio"]
    assert argv[argv.index("-p") + 1] == "2200"


# -- the agent on its own -----------------------------------------------------------


def _agent(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "plainbox", "agent", "--stdio"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def _exchange(
    agent: subprocess.Popen[bytes], message: dict[str, object]
) -> dict[str, Any]:
    assert agent.stdin is not None
    assert agent.stdout is not None
    agent.stdin.write(encode(message))
    agent.stdin.flush()
    return decode(agent.stdout.readline())


def test_agent_refuses_a_controller_without_a_common_version(remote_env):
    agent = _agent(remote_env)
    reply = _exchange(agent, {"type": "hello", "id": 1, "versions": [99]})
    assert reply["type"] == "error"
    assert reply["code"] == "version"
    agent.communicate(timeout=10)
    assert agent.returncode == 2


def test_agent_lists_test_plans_after_hello(remote_env):
    agent = _agent(remote_env)
    hello = _exchange(agent, {"type": "hello", "id": 1, "versions": [1, 2]})
    assert (hello["type"], hello["version"]) == ("hello", 1)
    listing = _exchange(agent, {"type": "list", "id": 2, "what": "test-plans"})
    assert f"{NAMESPACE}::basic" in {item["id"] for item in listing["items"]}
    bad = _exchange(agent, {"type": "start", "id": 3, "test_plan": "no-such-plan"})
    assert bad["type"] == "error"
    assert bad["id"] == 3
    agent.communicate(timeout=10)  # closing stdin ends the agent
    assert agent.returncode == 0


# -- whole runs -------------------------------------------------------------------


def test_control_runs_a_plan_and_reports_each_device(
    start_control, tmp_path, remote_env
):
    report = tmp_path / "out.json"
    control = start_control(
        "local:a", "basic", "--non-interactive", "--report", f"json:{report}"
    )
    code, out = control.wait()
    assert code == 1, out  # the plan has a failing job
    assert sorted(_report(report)) == [
        ("a", f"{NAMESPACE}::fails", "fail"),
        ("a", f"{NAMESPACE}::quick", "pass"),
    ]
    results = json.loads(report.read_text())["results"]
    quick = next(r for r in results if r["id"].endswith("quick"))
    # The io-log was fetched from the device: the output is in the report.
    assert quick["stdout"] == "hello\n"
    assert "[a] pass" in out
    # The controller session works with the ordinary session tools.
    session_id = out.split("Session: ")[1].split()[0]
    merged = tmp_path / "merged.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "plainbox",
            "merge",
            session_id,
            "--report",
            f"json:{merged}",
        ],
        env=remote_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(_report(merged)) == sorted(_report(report))


def test_dropped_connection_does_not_interrupt_the_job(start_control, tmp_path):
    report = tmp_path / "out.json"
    control = start_control(
        "local:a", "longplan", "--non-interactive", "--report", f"json:{report}"
    )
    state = control.state
    wait_for(lambda: job_started(state, "a", "long"), what="the long job")
    agent_dir = state / "devices" / "a" / "agent"
    sockets = list(agent_dir.glob("*.sock"))
    # Private rendezvous: only the owner can reach the runner.
    assert stat.S_IMODE(agent_dir.stat().st_mode) == 0o700
    assert [stat.S_IMODE(s.stat().st_mode) for s in sockets] == [0o600]
    runners = runner_pids(state)
    agents = agent_pids(control.process.pid)
    assert len(agents) == 1
    os.kill(agents[0], signal.SIGKILL)  # the transport dies mid-job
    code, out = control.wait()
    assert code == 0, out
    assert "connection lost" in out
    assert "reconnected" in out
    results = _report(report)
    assert sorted(results) == [
        ("a", f"{NAMESPACE}::long", "pass"),
        ("a", f"{NAMESPACE}::quick", "pass"),
    ]
    # The same runner finished the job: it never noticed the drop (a new
    # runner would have logged a second start and settled the job as crash).
    (log,) = agent_dir.glob("*.log")
    assert log.read_text().count("running session") == 1
    assert runners
    data = json.loads(report.read_text())
    long = next(r for r in data["results"] if r["id"].endswith("::long"))
    assert long["stdout"] == "long done\n"


def test_device_reboot_resumes_after_noreturn_job(start_control, tmp_path):
    report = tmp_path / "out.json"
    control = start_control(
        "local:a", "rebootplan", "--non-interactive", "--report", f"json:{report}"
    )
    state = control.state
    wait_for(lambda: job_started(state, "a", "reboot"), what="the noreturn job")
    # A reboot: the runner, its job and the agent all die at once.
    for pid in runner_pids(state):
        kill_group(pid)
    for pid in agent_pids(control.process.pid):
        os.kill(pid, signal.SIGKILL)
    code, out = control.wait()
    assert code == 0, out
    results = _report(report)
    assert sorted(results) == [
        ("a", f"{NAMESPACE}::after", "pass"),
        ("a", f"{NAMESPACE}::quick", "pass"),
        ("a", f"{NAMESPACE}::reboot", "pass"),
    ]
    assert len(results) == len(set(results))


def test_second_controller_takes_over_and_first_is_told(start_control, tmp_path):
    first = start_control("local:a", "longplan", "--non-interactive")
    wait_for(lambda: job_started(first.state, "a", "long"), what="the long job")
    report = tmp_path / "second.json"
    second = start_control(
        "local:a", "longplan", "--non-interactive", "--report", f"json:{report}"
    )
    code_first, out_first = first.wait()
    code_second, out_second = second.wait()
    assert code_first == 1
    assert "took over the session" in out_first
    assert code_second == 0, out_second
    assert "attached to running session" in out_second
    # The second controller mirrored the whole device session, once.
    assert sorted(_report(report)) == [
        ("a", f"{NAMESPACE}::long", "pass"),
        ("a", f"{NAMESPACE}::quick", "pass"),
    ]


def _timed(start_control, devices: list[str], report: Path) -> float:
    begin = time.monotonic()
    control = start_control(
        *devices, "naps", "--non-interactive", "--report", f"json:{report}"
    )
    code, out = control.wait()
    elapsed = time.monotonic() - begin
    assert code == 0, out
    results = _report(report)
    expected = {
        (d.partition(":")[2], f"{NAMESPACE}::nap{i}")
        for d in devices
        for i in (1, 2, 3)
    }
    assert {(device, job) for device, job, _ in results} == expected
    assert len(results) == len(expected)
    return elapsed


def test_devices_run_concurrently(start_control, tmp_path):
    one = _timed(start_control, ["local:solo"], tmp_path / "one.json")
    two = _timed(start_control, ["local:d1", "local:d2"], tmp_path / "two.json")
    four = _timed(
        start_control,
        ["local:q1", "local:q2", "local:q3", "local:q4"],
        tmp_path / "four.json",
    )
    print(
        f"wall time: 1 device {one:.2f}s, 2 devices {two:.2f}s, 4 devices {four:.2f}s"
    )
    assert four < 1.5 * one
    assert two < 1.5 * one


def test_operator_answers_prompts_for_a_device(
    remote_env, remote_provider, monkeypatch
):
    """An interactive job on the device is answered at the controller."""
    import io

    from plainbox.remote.controller import Controller
    from plainbox.remote.controller import ControlOptions
    from plainbox.session.context import SessionDeviceContext
    from plainbox.session.manager import SessionManager
    from plainbox.session.state import SessionState
    from plainbox.units.catalog import load_catalog
    from plainbox.units.model import TestPlan

    for name in (
        "PLAINBOX_STATE_DIR",
        "PLAINBOX_PROVIDERPATH",
        "PLAINBOX_AGENT_LINGER",
    ):
        monkeypatch.setenv(name, remote_env[name])
    catalog = load_catalog([remote_provider])
    plan = catalog.resolve(f"{NAMESPACE}::manual", TestPlan)
    manager = SessionManager.create()
    manager.add_device_context(
        SessionDeviceContext(SessionState(), device="controller")
    )
    answers = iter(["", "f", "too dark"])
    asked: list[str] = []

    def ask(question: str) -> str:
        asked.append(question)
        return next(answers)

    out = io.StringIO()
    with manager:
        controller = Controller(
            manager,
            catalog,
            plan,
            [parse_destination("local:op", TransportOptions())],
            ControlOptions(non_interactive=False),
            out=out,
            ask=ask,
        )
        (device,) = controller.run()
        assert device.status == "finished", out.getvalue()
        results = device.context.state.results_in_order()
    assert [(s.job_id, r.outcome.value, r.comments) for s, r in results] == [
        (f"{NAMESPACE}::ask", "fail", "too dark")
    ]
    assert all(q.startswith(("[op]", "Comment")) for q in asked)
    assert "Check the screen is on" in out.getvalue()
    assert Counter(q.split()[1] for q in asked if q.startswith("[op]"))["Outcome?"] == 1
