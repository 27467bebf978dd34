"""Running one job's command: real subprocesses, directories and environment."""

from __future__ import annotations

import os
import signal
import textwrap
import time
from pathlib import Path

import pytest

from plainbox.execution.runner import build_environment
from plainbox.execution.runner import run_command
from plainbox.units.loader import load_record
from plainbox.units.model import JobDefinition
from plainbox.units.problems import Problem
from plainbox.units.provider import Provider
from plainbox.units.provider import read_provider
from plainbox.units.pxu import parse_pxu


NS = "com.example"
TOML = '[provider]\nname = "{name}"\nnamespace = "{namespace}"\nversion = "1.0"\n'


def make_job(command: str, **fields: str) -> JobDefinition:
    """A job of provider ``example`` in namespace ``com.example``."""
    text = "id: job\nplugin: shell\ncommand:\n" + textwrap.indent(command, " ") + "\n"
    text += "".join(f"{key}: {value}\n" for key, value in fields.items())
    (record,), problems = parse_pxu(text, "units.pxu")
    assert not problems, problems
    unit, _ = load_record(record, namespace=NS, provider="example")
    assert isinstance(unit, JobDefinition)
    return unit


def write_provider(
    root: Path, name: str = "example", namespace: str = NS, script: str = "hello"
) -> Provider:
    """A provider with units/, data/ and an executable bin/<script>."""
    root.mkdir(parents=True)
    (root / "provider.toml").write_text(TOML.format(name=name, namespace=namespace))
    (root / "units").mkdir()
    (root / "units" / "units.pxu").write_text("id: job\nplugin: shell\n")
    (root / "data").mkdir()
    (root / "bin").mkdir()
    tool = root / "bin" / script
    tool.write_text(f"#!/bin/sh\necho {script} from {name}\n")
    tool.chmod(0o755)
    problems: list[Problem] = []
    provider = read_provider(root, problems)
    assert provider is not None, problems
    return provider


@pytest.fixture
def share(tmp_path: Path) -> Path:
    path = tmp_path / "share"
    path.mkdir()
    return path


@pytest.fixture
def provider(tmp_path) -> Provider:
    return write_provider(tmp_path / "provider")


def run(command: str, timeout: float | None = None, cwd=None, **fields: str):
    job = make_job(command, **fields)
    return run_command(job, dict(os.environ), cwd=cwd, timeout=timeout)


def environment_of(job: JobDefinition, env: dict[str, str]) -> dict[str, str]:
    """The environment the job's process really saw (``env -0``)."""
    probe = make_job("env -0", **({"flags": " ".join(job.flags)} if job.flags else {}))
    result = run_command(probe, env)
    assert result.return_code == 0, result.stderr
    pairs = (item.partition("=") for item in result.stdout.decode().split("\0"))
    return {key: value for key, _, value in pairs if key}


def gone(pid: int) -> bool:
    """True when the process no longer exists (a zombie counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in {"Z", "X"}


# -- exit status and output ---------------------------------------------------


@pytest.mark.parametrize(
    ("command", "return_code"),
    [
        ("true", 0),
        ("exit 0", 0),
        ("false", 1),
        ("exit 3", 3),
        ("kill -TERM $$", -signal.SIGTERM),
        ("kill -KILL $$", -signal.SIGKILL),
        ("kill -SEGV $$", -signal.SIGSEGV),
    ],
)
def test_run_command_reports_exit_status_and_signals(command, return_code):
    result = run(command)

    assert result.return_code == return_code
    assert result.timed_out is False
    assert result.duration >= 0


def test_run_command_captures_stdout_and_stderr_separately():
    result = run("echo out; echo err >&2; printf 'no newline'")

    assert result.stdout == b"out\nno newline"
    assert result.stderr == b"err\n"


def test_run_command_keeps_non_utf8_bytes():
    result = run(r"printf 'a\377\376b\n'; printf '\351t\351\n' >&2")

    assert result.stdout == b"a\xff\xfeb\n"
    assert result.stderr == b"\xe9t\xe9\n"


def test_run_command_gives_no_stdin():
    result = run("cat; echo rc=$?")

    assert result.stdout == b"rc=0\n"


def test_run_command_captures_large_output():
    result = run("head -c 1000000 /dev/zero; head -c 300000 /dev/zero >&2")

    assert len(result.stdout) == 1_000_000
    assert len(result.stderr) == 300_000


# -- working directory --------------------------------------------------------


def test_run_command_uses_a_private_directory_removed_afterwards(tmp_path):
    result = run("pwd; stat -c %a .; touch leftover; ls")

    directory, mode, listing = result.stdout.decode().splitlines()
    assert mode == "700"
    assert listing == "leftover"
    assert Path(directory) != Path.cwd()
    assert not Path(directory).exists()


def test_run_command_gives_each_job_a_fresh_directory():
    first = run("pwd").stdout
    second = run("pwd").stdout

    assert first != second


def test_run_command_removes_the_directory_after_a_failure():
    result = run("pwd; mkdir -p deep/er; touch deep/er/file; exit 4")

    assert result.return_code == 4
    directory = result.stdout.decode().strip()
    assert not Path(directory).exists()


def test_run_command_preserve_cwd_runs_in_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    result = run("pwd; touch kept", flags="preserve-cwd")

    assert Path(result.stdout.decode().strip()) == tmp_path
    assert (tmp_path / "kept").exists()


def test_run_command_runs_in_the_given_directory(tmp_path):
    result = run("pwd; touch kept", cwd=tmp_path)

    assert Path(result.stdout.decode().strip()) == tmp_path
    assert (tmp_path / "kept").exists()


# -- timeout ------------------------------------------------------------------


def test_run_command_timeout_kills_the_whole_process_group():
    started = time.monotonic()

    result = run(
        "sleep 30 & echo $!; (sleep 30; echo late) & echo $!; sleep 30", timeout=0.5
    )

    assert time.monotonic() - started < 10
    assert result.timed_out is True
    assert result.return_code == -signal.SIGKILL
    pids = [int(line) for line in result.stdout.decode().split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 5
    while not all(gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in pids if not gone(pid)] == []


def test_run_command_within_the_timeout_is_not_timed_out():
    result = run("echo quick", timeout=5)

    assert result.timed_out is False
    assert result.return_code == 0


# -- shell --------------------------------------------------------------------


@pytest.mark.parametrize("shell", ["/bin/sh", "/bin/bash", "bash"])
def test_run_command_uses_the_job_shell(shell):
    result = run('exe=$(readlink /proc/$$/exe); echo "$exe"', shell=shell)

    expected = os.path.realpath(shell if shell.startswith("/") else "/bin/bash")
    assert os.path.realpath(result.stdout.decode().strip()) == expected


def test_run_command_defaults_to_bash():
    result = run('echo "${BASH_VERSION:+bash}"')

    assert result.stdout == b"bash\n"


# -- environment --------------------------------------------------------------


def test_build_environment_puts_provider_bins_first_on_path(tmp_path, share):
    own = write_provider(tmp_path / "own", script="own-tool")
    sibling = write_provider(tmp_path / "sib", name="sibling", script="sib-tool")
    other = write_provider(
        tmp_path / "oth", name="other", namespace="com.other", script="oth-tool"
    )
    job = make_job("own-tool; sib-tool; command -v oth-tool || echo no oth-tool")

    env = build_environment(
        job,
        [own, sibling, other],
        session_share=share,
        base={"PATH": "/usr/bin:/bin"},
    )
    result = run_command(job, env)

    path = env["PATH"].split(os.pathsep)
    assert path == [str(own.bin_dir), str(sibling.bin_dir), "/usr/bin", "/bin"]
    assert result.stdout.decode().splitlines() == [
        "own-tool from example",
        "sib-tool from sibling",
        "no oth-tool",
    ]


def test_build_environment_sets_plainbox_variables(tmp_path, share, provider):
    other = write_provider(tmp_path / "oth", name="other", namespace="com.other")
    job = make_job("true")

    env = environment_of(
        job, build_environment(job, [other, provider], session_share=share)
    )

    assert env["PLAINBOX_SESSION_SHARE"] == str(share)
    assert env["PLAINBOX_PROVIDER_DATA"] == str(provider.data_dir)
    assert env["PLAINBOX_PROVIDER_UNITS"] == str(provider.units_dir)
    assert env["CHECKBOX_SHARE"] == str(provider.base_dir)
    assert env["SYSTEMD_IGNORE_CHROOT"] == "1"
    assert Path(env["PLAINBOX_PROVIDER_DATA"]).is_dir()


def test_build_environment_starts_from_the_process_environment(
    share, provider, monkeypatch
):
    monkeypatch.setenv("PLAINBOX_TEST_INHERITED", "yes")
    job = make_job("true")

    env = build_environment(job, [provider], session_share=share)

    assert env["PLAINBOX_TEST_INHERITED"] == "yes"


def test_build_environment_without_own_provider_sets_no_provider_dirs(share):
    job = make_job("true")

    env = build_environment(job, [], session_share=share, base={})

    assert env["PLAINBOX_SESSION_SHARE"] == str(share)
    assert not {"PLAINBOX_PROVIDER_DATA", "CHECKBOX_SHARE"} & set(env)
    assert env["PATH"] == os.defpath


def test_build_environment_extra_never_overrides_the_process(share, provider):
    base = {"PATH": "/usr/bin:/bin", "FROM_ENV": "process", "LANG": "C"}
    extra = {"FROM_ENV": "launcher", "ONLY_LAUNCHER": "launcher"}
    job = make_job("true")

    env = environment_of(
        job,
        build_environment(job, [provider], session_share=share, base=base, extra=extra),
    )

    assert env["FROM_ENV"] == "process"
    assert env["ONLY_LAUNCHER"] == "launcher"


def test_build_environment_extra_cannot_replace_plainbox_variables(share, provider):
    extra = {"PLAINBOX_SESSION_SHARE": "/elsewhere"}

    env = build_environment(
        make_job("true"), [provider], session_share=share, base={}, extra=extra
    )

    assert env["PLAINBOX_SESSION_SHARE"] == str(share)


LOCALE = {
    "PATH": "/usr/bin:/bin",
    "LANG": "fr_FR.UTF-8",
    "LANGUAGE": "fr:en",
    "LC_ALL": "fr_FR.UTF-8",
    "LC_MESSAGES": "fr_FR.UTF-8",
    "LC_TIME": "de_DE.UTF-8",
}


def test_build_environment_reset_locale_uses_c_utf8(share, provider):
    job = make_job("true", flags="reset-locale")

    env = environment_of(
        job, build_environment(job, [provider], session_share=share, base=LOCALE)
    )

    assert env["LANG"] == "C.UTF-8"
    assert [key for key in env if key.startswith("LC_") or key == "LANGUAGE"] == []


def test_build_environment_keeps_the_locale_without_the_flag(share, provider):
    job = make_job("true")

    env = build_environment(job, [provider], session_share=share, base=LOCALE)

    assert {key: env[key] for key in LOCALE if key != "PATH"} == {
        key: value for key, value in LOCALE.items() if key != "PATH"
    }
