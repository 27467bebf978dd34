"""Running one job's command: real subprocesses, directories and environment."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from unittest.mock import ANY

import pytest

import plainbox
from plainbox.errors import ExecutionError
from plainbox.execution.iolog import OutputLine
from plainbox.execution.iolog import iter_io_log
from plainbox.execution.iolog import read_io_log
from plainbox.execution.runner import DRAIN_GRACE
from plainbox.execution.runner import KILL_GRACE
from plainbox.execution.runner import LINE_CHUNK
from plainbox.execution.runner import EnvironmentBuilder
from plainbox.execution.runner import JobDirectories
from plainbox.execution.runner import build_command
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
    assert result.leftovers == ("leftover",)
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
    assert result.return_code in {-signal.SIGTERM, -signal.SIGKILL}
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


# -- line-by-line capture -----------------------------------------------------


def by_stream(lines: tuple[OutputLine, ...], stream: str) -> list[bytes]:
    return [line.data for line in lines if line.stream == stream]


@pytest.mark.parametrize(
    ("command", "stdout", "stderr"),
    [
        ("echo one; echo two", [b"one\n", b"two\n"], []),
        ("echo e1 >&2; echo o1; echo e2 >&2", [b"o1\n"], [b"e1\n", b"e2\n"]),
        ("printf 'a\\n\\nb'", [b"a\n", b"\n", b"b"], []),
        ("printf 'x\\r\\ny\\rz\\n'", [b"x\r\n", b"y\rz\n"], []),
        ("printf 'last' >&2", [], [b"last"]),
        ("true", [], []),
    ],
)
def test_run_command_splits_output_into_lines(command, stdout, stderr):
    result = run(command)

    assert by_stream(result.lines, "stdout") == stdout
    assert by_stream(result.lines, "stderr") == stderr
    assert result.stdout == b"".join(stdout)
    assert result.stderr == b"".join(stderr)
    assert result.truncated is False


def test_run_command_lines_arrive_in_order_with_increasing_offsets():
    result = run("for i in 1 2 3 4 5; do echo $i; sleep 0.02; done")

    assert [line.data for line in result.lines] == [b"%d\n" % i for i in range(1, 6)]
    offsets = [line.offset for line in result.lines]
    assert offsets == sorted(offsets)
    assert 0 <= offsets[0] < offsets[-1] <= result.duration
    assert offsets[-1] - offsets[0] >= 0.06


def test_run_command_keeps_the_interleaving_of_stdout_and_stderr():
    result = run(
        "for i in 1 2 3; do echo out$i; sleep 0.05; echo err$i >&2; sleep 0.05; done"
    )

    assert [(line.stream, line.data) for line in result.lines] == [
        (stream, b"%s%d\n" % (prefix, i))
        for i in (1, 2, 3)
        for stream, prefix in (("stdout", b"out"), ("stderr", b"err"))
    ]


def test_run_command_passes_lines_on_while_the_command_runs():
    seen: list[tuple[float, OutputLine]] = []

    result = run_command(
        make_job("echo first; sleep 0.3; echo second >&2"),
        dict(os.environ),
        on_output=lambda line: seen.append((time.monotonic(), line)),
    )
    finished = time.monotonic()

    assert [line for _, line in seen] == list(result.lines)
    assert [line.data for _, line in seen] == [b"first\n", b"second\n"]
    assert finished - seen[0][0] >= 0.25
    assert result.lines[1].offset - result.lines[0].offset >= 0.25


@pytest.mark.parametrize("length", [1, LINE_CHUNK - 1, LINE_CHUNK, 3 * LINE_CHUNK + 5])
@pytest.mark.parametrize("newline", [True, False])
def test_run_command_passes_long_lines_on_in_chunks(length, newline):
    command = f"head -c {length} /dev/zero | tr '\\0' x" + ("; echo" if newline else "")
    data = b"x" * length + (b"\n" if newline else b"")

    result = run(command)

    pieces = [data[i : i + LINE_CHUNK] for i in range(0, len(data), LINE_CHUNK)]
    assert [line.data for line in result.lines] == pieces
    assert result.stdout == data


def test_run_command_keeps_at_most_the_memory_limit_but_logs_everything(tmp_path):
    log = tmp_path / "io.jsonl"
    size = 20_000_000
    command = f"yes \"$(printf '%0999d' 0)\" | head -c {size}"
    limit = 1024 * 1024

    tracemalloc.start()
    try:
        result = run_command(
            make_job(command), dict(os.environ), io_log=log, memory_limit=limit
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert result.return_code == 0
    assert result.truncated is True
    assert len(result.stdout) <= limit
    assert result.stdout == b"0" * 999 + b"\n" + result.stdout[1000:]
    assert len(result.lines) == len(result.stdout) // 1000
    assert peak < 8 * limit
    assert sum(len(line.data) for line in iter_io_log(log)) == size


def test_run_command_without_io_log_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    run("echo hi", flags="preserve-cwd")

    assert sorted(path.name for path in tmp_path.iterdir()) == []


# -- io-log ---------------------------------------------------------------------


def test_run_command_writes_the_io_log(tmp_path):
    log = tmp_path / "io.jsonl"

    result = run_command(
        make_job(
            r"echo out; printf 'caf\303\251\n' >&2; printf '\377\376\n'; printf x"
        ),
        dict(os.environ),
        io_log=log,
    )

    logged = read_io_log(log)
    assert [(line.stream, line.data) for line in logged] == [
        (line.stream, line.data) for line in result.lines
    ]
    assert by_stream(tuple(logged), "stdout") == [b"out\n", b"\xff\xfe\n", b"x"]
    assert by_stream(tuple(logged), "stderr") == [b"caf\xc3\xa9\n"]
    for mine, theirs in zip(logged, result.lines, strict=True):
        assert mine.offset == pytest.approx(theirs.offset, abs=0.001)
    records = [json.loads(text) for text in log.read_text().splitlines()]
    assert {"t": records[0]["t"], "s": "stdout", "d": "out\n"} in records
    assert {"t": ANY, "s": "stderr", "d": "café\n"} in records
    assert {"t": ANY, "s": "stdout", "b": "//4K"} in records
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_run_command_io_log_replaces_an_old_file(tmp_path):
    log = tmp_path / "io.jsonl"
    log.write_text("old junk that is not JSON\n")
    log.chmod(0o644)

    run_command(make_job("echo new"), dict(os.environ), io_log=log)

    assert [line.data for line in read_io_log(log)] == [b"new\n"]
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


# -- end of the command: background processes --------------------------------


def wait_gone(pids: list[int], seconds: float = 3) -> list[int]:
    """The pids still running after waiting up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while not all(gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    return [pid for pid in pids if not gone(pid)]


def test_run_command_does_not_wait_for_a_child_holding_the_pipes():
    started = time.monotonic()

    result = run("sleep 30 & echo $!; echo done")

    assert time.monotonic() - started < 3
    assert result.return_code == 0
    pid, done = result.stdout.decode().split()
    assert done == "done"
    assert wait_gone([int(pid)]) == []


def test_run_command_reads_what_a_child_prints_within_the_grace_period():
    started = time.monotonic()

    result = run("(sleep 0.1; echo late) & echo early")

    assert time.monotonic() - started < 3
    assert result.stdout == b"early\nlate\n"


def test_run_command_leaves_alone_children_that_do_not_hold_the_pipes():
    result = run("sleep 30 >/dev/null 2>&1 & echo $!")

    pid = int(result.stdout)
    try:
        assert not gone(pid)
    finally:
        os.kill(pid, signal.SIGKILL)
    assert wait_gone([pid]) == []


def test_run_command_stops_reading_when_a_child_escaped_the_group():
    started = time.monotonic()

    result = run("setsid sleep 30 & echo $!")

    pid = int(result.stdout)
    try:
        assert time.monotonic() - started < 3
        assert result.return_code == 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# -- timeout: SIGTERM then SIGKILL -------------------------------------------------


@pytest.mark.parametrize(
    ("command", "return_code", "least", "most"),
    [
        ("exec sleep 30", -signal.SIGTERM, 0.3, 0.3 + KILL_GRACE - 0.1),
        ("trap '' TERM; sleep 30", -signal.SIGKILL, 0.3 + KILL_GRACE, 5),
        ("trap 'echo bye; exit 7' TERM; sleep 30 & wait", 7, 0.3, 0.3 + KILL_GRACE),
    ],
)
def test_run_command_timeout_terminates_then_kills(command, return_code, least, most):
    result = run(command, timeout=0.3)

    assert result.timed_out is True
    assert result.return_code == return_code
    assert least <= result.duration < most


def test_run_command_timeout_kills_children_that_outlive_the_shell():
    result = run(
        "trap '' TERM; sleep 30 >/dev/null 2>&1 & echo $!; sleep 0.5; exit 0",
        timeout=0.2,
    )

    assert result.timed_out is True
    assert result.return_code == 0
    assert 0.2 + KILL_GRACE <= result.duration < 0.2 + KILL_GRACE + 1
    assert wait_gone([int(result.stdout)]) == []


# -- Ctrl-C ---------------------------------------------------------------------


def test_keyboard_interrupt_kills_the_group_and_propagates(tmp_path):
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT is not turned into KeyboardInterrupt here")
    log = tmp_path / "io.jsonl"
    seen: list[bytes] = []
    printed = threading.Event()

    def on_output(line: OutputLine) -> None:
        seen.append(line.data)
        if len(seen) == 2:
            printed.set()

    def interrupt() -> None:
        if printed.wait(5):
            time.sleep(0.3)  # let the partial line arrive too
            main = threading.main_thread().ident
            assert main is not None
            signal.pthread_kill(main, signal.SIGINT)

    job = make_job("sleep 30 & echo $!; echo $$; printf partial; sleep 30")
    timer = threading.Thread(target=interrupt)
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_command(job, dict(os.environ), on_output=on_output, io_log=log)
    finally:
        printed.set()
        timer.join()

    assert time.monotonic() - started < 5
    pids = [int(data) for data in seen[:2]]
    assert wait_gone(pids) == []
    assert [line.data for line in read_io_log(log)][2:] == [b"partial"]


def test_an_exception_in_on_output_kills_the_group_and_propagates():
    def on_output(line: OutputLine) -> None:
        raise RuntimeError(line.data.decode().strip())

    started = time.monotonic()
    with pytest.raises(RuntimeError) as caught:
        run_command(
            make_job("echo $$; sleep 30"), dict(os.environ), on_output=on_output
        )

    assert time.monotonic() - started < 3
    assert wait_gone([int(str(caught.value))]) == []


# -- user: sudo -----------------------------------------------------------------


def fake_sudo(directory: Path) -> Path:
    """A sudo that runs its command with a wiped environment, like env_reset."""
    directory.mkdir(exist_ok=True)
    sudo = directory / "sudo"
    sudo.write_text(
        '#!/bin/sh\nwhile [ "$1" != "--" ]; do shift; done\nshift\n'
        'exec /usr/bin/env -i "$@"\n'
    )
    sudo.chmod(0o755)
    return sudo


PARENT = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/root",
    "SAME": "unchanged",
    "LC_ALL": "fr_FR.UTF-8",
}


@pytest.mark.parametrize("current_user", [None, "root"])
def test_build_command_uses_no_sudo_for_the_current_user(current_user):
    if current_user is None and os.geteuid() != 0:
        pytest.skip("only meaningful as root")
    job = make_job("id -un", user="root")

    argv = build_command(job, {"PATH": "/usr/bin:/bin"}, current_user=current_user)

    assert argv == [shutil.which("bash", path="/usr/bin:/bin"), "-c", "id -un"]


def test_build_command_without_user_uses_the_shell():
    argv = build_command(make_job("true", shell="/bin/sh"), {}, current_user="nobody")

    assert argv == ["/bin/sh", "-c", "true"]


def test_build_command_runs_another_user_through_sudo(tmp_path):
    sudo = fake_sudo(tmp_path / "bin")
    env = {
        **PARENT,
        "PATH": f"{sudo.parent}:/usr/bin:/bin",
        "PLAINBOX_SESSION_SHARE": "/share",
        "ODD": "a=b c\nd",
    }
    del env["LC_ALL"]
    job = make_job("id -un", user="root", environ="HOME SAME")

    argv = build_command(job, env, current_user="nobody", parent_env=PARENT)

    shell = shutil.which("bash", path=env["PATH"])
    assert argv == [
        str(sudo),
        "--non-interactive",
        "--user",
        "root",
        "--",
        "env",
        "-u",
        "LC_ALL",
        f"PATH={env['PATH']}",
        "HOME=/root",
        "SAME=unchanged",
        "PLAINBOX_SESSION_SHARE=/share",
        "ODD=a=b c\nd",
        shell,
        "-c",
        "id -un",
    ]


def test_build_command_passes_snap_variables_through_sudo(tmp_path):
    sudo = fake_sudo(tmp_path / "bin")
    snap = {"SNAP": "/snap/x/1", "SNAP_NAME": "x", "PYTHONPATH": "/p", "QT_X": "1"}
    env = {**PARENT, **snap, "PATH": f"{sudo.parent}:/usr/bin"}

    argv = build_command(
        make_job("true", user="root"),
        env,
        current_user="nobody",
        parent_env={**PARENT, **snap},
    )

    assert {f"{key}={value}" for key, value in snap.items()} <= set(argv)
    assert "SAME=unchanged" not in argv


def test_run_command_through_sudo_passes_the_job_environment(tmp_path, share, provider):
    sudo = fake_sudo(tmp_path / "bin")
    job = make_job(
        'echo "$PLAINBOX_SESSION_SHARE|${KEPT-}|${DROPPED-unset}"; hello',
        user="plainbox-no-such-user",
        environ="KEPT",
    )
    base = {"PATH": f"{sudo.parent}:/usr/bin:/bin", "KEPT": "k", "DROPPED": "d"}

    with patch_environ(base):
        env = build_environment(job, [provider], session_share=share)
        result = run_command(job, env)

    assert result.stdout.decode().splitlines() == [
        f"{share}|k|unset",
        "hello from example",
    ]


def patch_environ(values: dict[str, str]) -> contextlib.AbstractContextManager[None]:
    @contextlib.contextmanager
    def patched() -> Iterator[None]:
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(values)
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)

    return patched()


def test_a_missing_sudo_is_an_execution_error(tmp_path):
    job = make_job("true", user="root")

    with pytest.raises(ExecutionError, match=r"job \S+ needs user 'root' but sudo is"):
        build_command(job, {"PATH": str(tmp_path)}, current_user="nobody")


def test_run_command_without_sudo_raises_before_running(tmp_path):
    job = make_job("touch ran", user="plainbox-no-such-user", flags="preserve-cwd")

    with pytest.raises(ExecutionError, match="'plainbox-no-such-user' but sudo"):
        run_command(job, {"PATH": str(tmp_path)}, cwd=tmp_path)

    assert not (tmp_path / "ran").exists()


# -- leftovers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "leftovers"),
    [
        ("true", ()),
        ("touch b a; mkdir c; touch c/d", ("a", "b", "c")),
        ("touch .hidden", (".hidden",)),
        ("touch f; rm f", ()),
    ],
)
def test_run_command_lists_leftovers(command, leftovers):
    result = run(command + "; pwd")

    assert result.leftovers == leftovers
    assert not Path(result.stdout.decode().splitlines()[-1]).exists()


def test_run_command_copes_with_a_job_removing_its_directory():
    result = run('rm -rf "$PWD"; echo gone')

    assert result.return_code == 0
    assert result.leftovers == ()


def test_run_command_io_log_in_a_missing_directory_fails_before_running(tmp_path):
    with pytest.raises(FileNotFoundError):
        run_command(
            make_job(f"touch {tmp_path}/ran"),
            dict(os.environ),
            io_log=tmp_path / "missing" / "io.jsonl",
        )

    assert not (tmp_path / "ran").exists()


def test_run_command_reports_no_leftovers_outside_a_private_directory(tmp_path):
    result = run("touch kept", cwd=tmp_path)

    assert result.leftovers == ()
    assert (tmp_path / "kept").exists()


UNPRIVILEGED_RUN = """
import json, os, sys
from plainbox.execution.runner import run_command
from plainbox.units.loader import load_record
from plainbox.units.pxu import parse_pxu
(record,), _ = parse_pxu("id: j\\nplugin: shell\\ncommand: " + sys.argv[1], "u.pxu")
job, _ = load_record(record, namespace="ns", provider="p")
result = run_command(job, dict(os.environ))
where = result.stdout.decode().strip()
print(json.dumps([result.leftovers, os.path.exists(where), where]))
"""


def test_run_command_removes_read_only_leftovers_without_privileges(tmp_path):
    """Even when permissions matter (root without capabilities, as setpriv makes)."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to drop the capabilities")
    command = "mkdir -p ro/sub; touch ro/sub/f; chmod 000 ro/sub; chmod 500 ro; pwd"
    unprivileged = [
        setpriv,
        "--bounding-set=-all",
        "--inh-caps=-all",
        "--securebits=+noroot,+noroot_locked",
    ]
    probe = subprocess.run(
        [*unprivileged, "sh", "-c", "mkdir -p d/e; touch d/e/f; chmod 0 d/e; rm -rf d"],
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    if probe.returncode == 0:
        pytest.skip("setpriv could not drop the capabilities here")

    done = subprocess.run(
        [*unprivileged, sys.executable, "-c", UNPRIVILEGED_RUN, command],
        env={"PATH": os.defpath, "PYTHONPATH": str(Path(plainbox.__file__).parents[1])},
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    leftovers, exists, where = json.loads(done.stdout)
    assert leftovers == ["ro"]
    assert exists is False, where


# -- environment: CHECKBOX_RUNTIME ---------------------------------------------


@pytest.mark.parametrize(
    ("snap", "runtime"),
    [
        ({"SNAP": "/snap/checkbox22/7"}, "/snap/checkbox22/7"),
        ({}, None),
        ({"SNAP": ""}, None),
    ],
)
def test_build_environment_sets_checkbox_runtime_only_in_a_snap(share, snap, runtime):
    env = build_environment(make_job("true"), [], session_share=share, base=snap)

    assert env.get("CHECKBOX_RUNTIME") == runtime


# -- a session's environments: EnvironmentBuilder -------------------------------


def job_of(namespace: str, provider: str, **fields: str) -> JobDefinition:
    """A job running ``true`` of the given provider."""
    text = "id: job\nplugin: shell\ncommand: true\n"
    text += "".join(f"{key}: {value}\n" for key, value in fields.items())
    (record,), _ = parse_pxu(text, "units.pxu")
    unit, _ = load_record(record, namespace=namespace, provider=provider)
    assert isinstance(unit, JobDefinition)
    return unit


@pytest.mark.parametrize(
    "job",
    [
        job_of(NS, "example"),
        job_of(NS, "example", flags="reset-locale"),
        job_of(NS, "sibling"),
        job_of("com.other", "other", flags="reset-locale"),
        job_of("com.nobody", "nobody"),
    ],
    ids=["own", "reset-locale", "sibling", "other-namespace", "no-provider"],
)
def test_environment_builder_builds_what_build_environment_builds(tmp_path, share, job):
    providers = [
        write_provider(tmp_path / "oth", name="other", namespace="com.other"),
        write_provider(tmp_path / "own"),
        write_provider(tmp_path / "sib", name="sibling"),
    ]
    base = {**LOCALE, "SNAP": "/snap/x/1", "HOME": "/root"}
    extra = {"FROM_LAUNCHER": "yes", "LANG": "ignored: the process wins"}
    builder = EnvironmentBuilder(providers, session_share=share, base=base, extra=extra)

    built = [builder.build(job) for _ in range(2)]

    expected = build_environment(
        job, providers, session_share=share, base=base, extra=extra
    )
    # Same variables in the same order (the order reaches sudo's command line).
    assert [list(env.items()) for env in built] == [list(expected.items())] * 2


def test_environment_builder_gives_every_job_its_own_dictionary(share):
    builder = EnvironmentBuilder([], session_share=share, base={"PATH": "/bin"})
    first = builder.build(make_job("true"))

    first["CHANGED_BY_THE_CALLER"] = "1"
    first["PATH"] = "/elsewhere"

    second = builder.build(make_job("true"))
    assert "CHANGED_BY_THE_CALLER" not in second
    assert second["PATH"] == "/bin"


def test_environment_builder_reads_the_process_environment_once(share, monkeypatch):
    monkeypatch.setenv("PLAINBOX_TEST_SNAPSHOT", "at construction")
    builder = EnvironmentBuilder([], session_share=share)
    monkeypatch.setenv("PLAINBOX_TEST_SNAPSHOT", "later")

    env = environment_of(make_job("true"), builder.build(make_job("true")))

    assert env["PLAINBOX_TEST_SNAPSHOT"] == "at construction"


# -- a session's directories: JobDirectories ----------------------------------------


@pytest.fixture
def directories(tmp_path: Path) -> Iterator[JobDirectories]:
    with JobDirectories(tmp_path) as made:
        yield made


def run_in(directories: JobDirectories, command: str, **fields: str):
    return run_command(make_job(command, **fields), os.environ, directories=directories)


def cwd_of(result) -> Path:
    """The directory the command ran in: the last line it printed."""
    return Path(result.stdout.decode().splitlines()[-1])


def test_job_directories_give_every_command_an_empty_private_directory(directories):
    results = [run_in(directories, "stat -c %a .; ls -A; pwd") for _ in range(4)]

    places = [cwd_of(result) for result in results]
    assert {place.parent for place in places} == {directories.parent}
    assert [result.stdout.decode().splitlines()[:-1] for result in results] == [
        ["700"]
    ] * 4
    assert directories.parent is not None
    assert stat.S_IMODE(directories.parent.stat().st_mode) == 0o700


def test_job_directories_reuse_a_directory_left_empty_by_a_finished_command(
    directories,
):
    places = [cwd_of(run_in(directories, "pwd")) for _ in range(3)]

    assert len(set(places)) == 1


@pytest.mark.parametrize(
    "command",
    [
        "touch left; pwd",  # files left: listed and removed
        "chmod 755 .; pwd",  # no longer private
        "(sleep 0.3 >/dev/null 2>&1 &); pwd",  # its process group still runs
    ],
    ids=["leftovers", "mode-changed", "group-running"],
)
def test_job_directories_do_not_reuse_a_directory_that_is_not_as_new(
    directories, command
):
    first = cwd_of(run_in(directories, command))

    following = run_in(directories, "stat -c %a .; ls -A; pwd")

    assert cwd_of(following) != first
    assert following.stdout.decode().splitlines()[:-1] == ["700"]


def test_job_directories_check_a_kept_directory_again_before_handing_it_out(
    tmp_path,
):
    directories = JobDirectories(tmp_path, batch=2)
    kept = directories.take()
    directories.give_back(kept, reusable=True)
    (kept / "late").write_text("written by an escaped process")

    given = directories.take()

    assert given != kept
    assert list(given.iterdir()) == []
    directories.close()
    assert not kept.exists()


@pytest.mark.parametrize("batch", [1, 3])
def test_job_directories_remove_empty_directories_in_batches_and_at_close(
    tmp_path, batch
):
    directories = JobDirectories(tmp_path, batch=batch)
    places = [directories.take() for _ in range(4)]
    for place in places:
        assert directories.give_back(place) == ()
    parent = directories.parent
    assert parent is not None

    removed = 4 // batch * batch
    assert [place.exists() for place in places] == [False] * removed + [True] * (
        4 - removed
    )
    directories.close()
    assert not places[-1].exists()
    assert not parent.exists()


def test_job_directories_need_a_positive_batch(tmp_path):
    with pytest.raises(ValueError, match="batch"):
        JobDirectories(tmp_path, batch=0)


def test_job_directories_list_and_remove_leftovers_at_once(directories):
    result = run_in(directories, "touch b a; mkdir c; touch c/d; chmod 500 c; pwd")

    assert result.leftovers == ("a", "b", "c")
    assert not cwd_of(result).exists()


@pytest.mark.parametrize(
    "removal",
    ['rm -rf "$PWD"', 'rm -rf "$(dirname "$PWD")"'],
    ids=["own-directory", "parent-directory"],
)
def test_job_directories_cope_with_a_job_removing_them(directories, removal):
    gone_with = run_in(directories, f"pwd; {removal}")

    after = [run_in(directories, "stat -c %a .; pwd") for _ in range(2)]

    assert gone_with.return_code == 0
    assert gone_with.leftovers == ()
    assert [result.return_code for result in after] == [0, 0]
    assert [result.stdout.decode().split()[0] for result in after] == ["700"] * 2
    assert cwd_of(gone_with) not in {cwd_of(result) for result in after}


def test_job_directories_remove_what_an_escaped_process_writes_later(tmp_path):
    directories = JobDirectories(tmp_path, batch=2)
    escaped = run_in(directories, "(sleep 0.3; touch late) >/dev/null 2>&1 & pwd")
    first = cwd_of(escaped)
    deadline = time.monotonic() + 5
    while not (first / "late").exists() and time.monotonic() < deadline:
        time.sleep(0.02)

    following = run_in(directories, "ls -A; pwd")

    assert escaped.leftovers == ()
    assert cwd_of(following) != first
    assert following.stdout.decode().splitlines()[:-1] == []
    directories.close()
    assert not first.exists()


def test_job_directories_are_removed_when_never_closed(tmp_path):
    directories = JobDirectories(tmp_path)
    run_in(directories, "pwd")
    parent = directories.parent
    assert parent is not None
    assert parent.exists()

    del directories
    gc.collect()

    assert not parent.exists()


def test_a_job_run_as_another_user_gets_a_directory_outside_the_session(
    tmp_path, share, provider, directories
):
    sudo = fake_sudo(tmp_path / "bin")
    job = make_job("pwd", user="plainbox-no-such-user")
    with patch_environ({"PATH": f"{sudo.parent}:/usr/bin:/bin"}):
        env = build_environment(job, [provider], session_share=share)
        result = run_command(job, env, directories=directories)

    place = cwd_of(result)
    assert result.return_code == 0, result.stderr
    assert place.parent != directories.parent
    assert not place.exists()


# -- waiting without spinning, with and without pidfds --------------------------------


def test_run_command_does_not_spin_while_a_background_process_holds_the_pipes():
    cpu = time.process_time()
    started = time.monotonic()

    # The deadline passes during the drain grace period: nothing to wake up for.
    result = run("sleep 30 & echo $!; exit 0", timeout=0.05)

    assert time.monotonic() - started >= DRAIN_GRACE
    assert time.process_time() - cpu < 0.15
    assert result.timed_out is False
    assert result.return_code == 0
    assert wait_gone([int(result.stdout)]) == []


@pytest.mark.parametrize("pidfds", [True, False], ids=["pidfd", "no-pidfd"])
@pytest.mark.parametrize(
    ("command", "timeout", "return_code", "timed_out", "least"),
    [
        ("echo out; echo err >&2; exit 3", None, 3, False, 0),
        ("exec >&- 2>&-; sleep 0.2; exit 4", None, 4, False, 0.2),
        ("exec >&- 2>&-; sleep 30", 0.2, -signal.SIGTERM, True, 0.2),
        ("sleep 30", 0.2, -signal.SIGTERM, True, 0.2),
    ],
)
def test_run_command_waits_for_the_shell_with_or_without_pidfds(
    monkeypatch, pidfds, command, timeout, return_code, timed_out, least
):
    if not pidfds:

        def no_pidfd(pid: int, flags: int = 0) -> int:
            raise OSError(38, "Function not implemented")

        monkeypatch.setattr(os, "pidfd_open", no_pidfd)

    result = run(command, timeout=timeout)

    assert result.return_code == return_code
    assert result.timed_out is timed_out
    assert least <= result.duration < least + KILL_GRACE
    if return_code == 3:
        assert (result.stdout, result.stderr) == (b"out\n", b"err\n")
