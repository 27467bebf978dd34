"""Device contexts through real OpenSSH: an sshd of the test's own on loopback."""

from __future__ import annotations

import getpass
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from plainbox.remote.transport import agent_command_for
from tests.remote.conftest import NAMESPACE


SSHD = Path("/usr/sbin/sshd")

pytestmark = pytest.mark.skipif(
    not SSHD.exists()
    or shutil.which("ssh") is None
    or shutil.which("ssh-keygen") is None,
    reason="OpenSSH server or client not installed (apt-get install openssh-server)",
)


def _free_port() -> int:
    # Only to pick a number for sshd; this socket never listens.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """An sshd on 127.0.0.1 accepting a throwaway key; yields (port, key)."""
    keys = tmp_path / "ssh"
    keys.mkdir(mode=0o700)
    for name in ("host", "client"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / name)],
            check=True,
        )
    authorized = keys / "authorized_keys"
    authorized.write_text((keys / "client.pub").read_text())
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
    port = _free_port()
    config = keys / "sshd_config"
    config.write_text(
        f"ListenAddress 127.0.0.1\nPort {port}\nHostKey {keys / 'host'}\n"
        f"AuthorizedKeysFile {authorized}\nStrictModes no\nUsePAM no\n"
        f"PasswordAuthentication no\nPidFile {keys / 'sshd.pid'}\n"
        "PermitRootLogin prohibit-password\n"
    )
    server = subprocess.Popen(
        [str(SSHD), "-D", "-e", "-f", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while True:
        with socket.socket() as client:
            if client.connect_ex(("127.0.0.1", port)) == 0:
                break
        if server.poll() is not None or time.monotonic() > deadline:
            _, err = server.communicate()
            pytest.fail(f"sshd did not start: {err.decode(errors='replace')}")
        time.sleep(0.05)
    yield port, keys / "client"
    server.terminate()
    server.communicate(timeout=10)


def test_control_over_real_ssh(sshd, start_control, remote_env, tmp_path):
    port, key = sshd
    device_state = tmp_path / "device-state"
    # The "device" is this machine: the agent must find this checkout's
    # plainbox and the test provider, which ssh's clean environment lacks.
    agent = agent_command_for(
        sys.executable,
        {
            "PLAINBOX_STATE_DIR": str(device_state),
            "PLAINBOX_PROVIDERPATH": remote_env["PLAINBOX_PROVIDERPATH"],
            "PLAINBOX_AGENT_LINGER": "20",
        },
    )
    report = tmp_path / "ssh.json"
    control = start_control(
        f"ssh://{getpass.getuser()}@127.0.0.1:{port}",
        "basic",
        "--non-interactive",
        "--agent-command",
        agent,
        "--ssh-option",
        f"IdentityFile={key}",
        "--ssh-option",
        "StrictHostKeyChecking=no",
        "--ssh-option",
        "UserKnownHostsFile=/dev/null",
        "--ssh-option",
        "LogLevel=ERROR",
        "--report",
        f"json:{report}",
    )
    code, out = control.wait()
    assert code == 1, out  # "fails" fails; everything else passes
    data = json.loads(report.read_text())
    device = f"127.0.0.1:{port}"
    assert sorted((r["device"], r["id"], r["outcome"]) for r in data["results"]) == [
        (device, f"{NAMESPACE}::fails", "fail"),
        (device, f"{NAMESPACE}::quick", "pass"),
    ]
    # The session ran on the device side, in the device's own state.
    assert list((device_state / "sessions").glob("pbox-*"))
    quick = next(r for r in data["results"] if r["id"].endswith("quick"))
    assert quick["stdout"] == "hello\n"
