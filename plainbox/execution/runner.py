"""Run one job's command in a subprocess and turn what happens into a result.

The command runs as ``SHELL -c COMMAND`` in its own process group (so a
timeout or Ctrl-C can stop everything it started), in a fresh private
directory unless the job has ``preserve-cwd``, with the provider's ``bin/``
directories first on ``PATH`` and the documented ``PLAINBOX_*`` variables
(plus the Checkbox names providers rely on).

A job with ``user: NAME`` (in practice ``root``) runs through
``sudo --non-interactive --user NAME -- env [-u GONE]... K=V... SHELL -c
COMMAND`` unless plainbox already runs as that user; see :func:`build_command`.

Output
    stdout and stderr are read concurrently (one ``selectors`` loop over the
    two non-blocking pipes, no threads) and split into lines that keep their
    ``\\n``. A line longer than :data:`LINE_CHUNK` is passed on in pieces of
    that size, and a last line without ``\\n`` is passed on at end of file.
    Every line becomes an :class:`~plainbox.execution.iolog.OutputLine`,
    written to the io-log (when one is given) and then handed to
    ``on_output`` as soon as it is read. At most ``memory_limit`` bytes
    (output plus a small charge per line) are kept in the
    :class:`CommandResult`, which says when it is ``truncated``; the io-log
    gets everything.

End of the command
    The command is over when its shell has exited and both pipes are at end
    of file. A background process that inherited the pipes would keep them
    open forever, so once the shell has exited the runner drains the pipes
    for :data:`DRAIN_GRACE` seconds more, then kills the job's process group
    with SIGKILL, reads what is already in the pipes and stops (a process
    that left the group, e.g. with ``setsid``, survives, but is no longer
    waited for). Background processes that do not hold the pipes (their
    output redirected) are left alone, as in Checkbox -- unless the job
    timed out.

Timeout
    The process group gets SIGTERM, then SIGKILL :data:`KILL_GRACE` seconds
    later if any member is still alive (zombies do not count); ``timed_out``
    is set.

Ctrl-C
    A ``KeyboardInterrupt`` (or any exception, e.g. from ``on_output``) while
    the command runs kills the process group with SIGKILL, writes the partial
    last lines to the io-log, reaps the shell and is re-raised.

Signals reach a group running through sudo as another user by
``sudo --non-interactive kill`` as well (best effort, when plainbox is not
root).

Private directory
    Created 0700 (given to the job's user when plainbox is root and the job
    runs as someone else); what the job left there is listed in
    ``CommandResult.leftovers`` (for the ``has-leftovers`` warning), then the
    directory is removed, read-only subdirectories included.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pwd
import select
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from plainbox.errors import ExecutionError
from plainbox.execution.iolog import STDERR
from plainbox.execution.iolog import STDOUT
from plainbox.execution.iolog import IOLogWriter
from plainbox.execution.iolog import OutputLine
from plainbox.units.model import JobDefinition
from plainbox.units.provider import Provider


__all__ = [
    "DRAIN_GRACE",
    "KILL_GRACE",
    "LINE_CHUNK",
    "MEMORY_LIMIT",
    "CommandResult",
    "OutputLine",
    "build_command",
    "build_environment",
    "run_command",
]

_SHELLS = {"bash": "bash", "/bin/bash": "/bin/bash", "sh": "sh", "/bin/sh": "/bin/sh"}

#: Longest piece of a line passed on at once; longer lines come in pieces.
LINE_CHUNK = 64 * 1024
#: Output bytes (plus a small per-line charge) kept in a CommandResult.
MEMORY_LIMIT = 64 * 1024 * 1024
#: Seconds the pipes are still read after the shell exited.
DRAIN_GRACE = 0.5
#: Seconds between SIGTERM and SIGKILL when a command times out.
KILL_GRACE = 1.0

_READ_SIZE = 64 * 1024
_LINE_OVERHEAD = 64  # rough memory cost of one OutputLine besides its bytes
_POLL = 0.05  # how often the shell's exit is checked while pipes stay open

#: Variables kept for a job run through sudo inside a snap (besides SNAP*).
_SNAP_PRESERVED = frozenset(
    {
        "PYTHONHOME",
        "PYTHONUSERBASE",
        "LD_LIBRARY_PATH",
        "GI_TYPELIB_PATH",
        "PROVIDERPATH",
        "PYTHONPATH",
        "PERL5LIB",
        "QML2_IMPORT_PATH",
    }
)


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a command did: exit status (negative: killed by that signal) and output.

    ``stdout`` and ``stderr`` are the exact bytes; ``lines`` the same output
    as lines in arrival order. When the output exceeded the memory limit,
    ``truncated`` is set and all three hold only what came before (the
    io-log, if any, has everything). ``leftovers`` names the entries the
    command left in its private directory (already removed).
    """

    return_code: int
    stdout: bytes
    stderr: bytes
    duration: float
    timed_out: bool = False
    lines: tuple[OutputLine, ...] = ()
    truncated: bool = False
    leftovers: tuple[str, ...] = ()


def build_environment(
    job: JobDefinition,
    providers: Sequence[Provider],
    *,
    session_share: Path,
    base: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment a job's command receives.

    :param providers: all loaded providers; those sharing the job's namespace
        contribute their ``bin/`` directories to ``PATH``.
    :param extra: launcher ``[environment]`` values; the process environment wins.
    """
    env = dict(os.environ if base is None else base)
    for key, value in (extra or {}).items():
        env.setdefault(key, value)
    own = next(
        (
            p
            for p in providers
            if p.name == job.provider and p.namespace == job.namespace
        ),
        None,
    )
    bins = [
        str(p.bin_dir) for p in providers if p.namespace == job.namespace and p.bin_dir
    ]
    env["PATH"] = os.pathsep.join([*bins, env.get("PATH", os.defpath)])
    env["PLAINBOX_SESSION_SHARE"] = str(session_share)
    env["SYSTEMD_IGNORE_CHROOT"] = "1"
    if env.get("SNAP"):
        env["CHECKBOX_RUNTIME"] = env["SNAP"]
    if own is not None:
        if own.data_dir is not None:
            env["PLAINBOX_PROVIDER_DATA"] = str(own.data_dir)
        if own.units_dir is not None:
            env["PLAINBOX_PROVIDER_UNITS"] = str(own.units_dir)
        if own.base_dir is not None:
            env["CHECKBOX_SHARE"] = str(own.base_dir)
    if "reset-locale" in job.flags:
        for key in [k for k in env if k == "LANGUAGE" or k.startswith("LC_")]:
            del env[key]
        env["LANG"] = "C.UTF-8"
    return env


def current_user_name() -> str:
    """The name of the effective user plainbox runs as (its uid if unnamed)."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def build_command(
    job: JobDefinition,
    env: Mapping[str, str],
    *,
    current_user: str | None = None,
    parent_env: Mapping[str, str] | None = None,
) -> list[str]:
    """The argv that runs the job's command.

    ``[SHELL, "-c", COMMAND]``, or, when the job has a ``user`` other than
    ``current_user`` (default: the effective user)::

        sudo --non-interactive --user USER -- env [-u NAME]... K=V... SHELL -c COMMAND

    sudo resets the environment, so ``env`` passes on what the job needs:
    every variable of ``env`` that is new or differs from ``parent_env``
    (default: this process's environment) -- the provider ``PATH``, the
    ``PLAINBOX_*`` variables, launcher values --, the variables named in the
    job's ``environ`` field, and inside a snap (``SNAP`` set) the snap's
    runtime variables; ``-u`` removes what ``env`` removed (``reset-locale``).
    ``--non-interactive`` makes sudo fail at once (the job fails with sudo's
    message) rather than wait for a password nobody will type.

    :param env: the job's environment; its ``PATH`` is searched for the
        shell and for sudo.
    :raises ExecutionError: the job needs another user and sudo is not on
        ``PATH``.
    """
    return _command(job, env, current_user, parent_env)[0]


@functools.lru_cache(maxsize=64)
def _find_shell(name: str, path: str) -> str:
    """The shell's full path; looked up once per PATH, not once per job."""
    return shutil.which(name, path=path) or "/bin/sh"


def _command(
    job: JobDefinition,
    env: Mapping[str, str],
    current_user: str | None = None,
    parent_env: Mapping[str, str] | None = None,
) -> tuple[list[str], str | None]:
    """:func:`build_command`'s argv and the path of sudo if it is used."""
    path = env.get("PATH", os.defpath)
    shell = _find_shell(_SHELLS.get(job.shell, "bash"), path)
    argv = [shell, "-c", job.command or ""]
    user = job.user
    if not user or user == (current_user or current_user_name()):
        return argv, None
    sudo = shutil.which("sudo", path=path)
    if sudo is None:
        raise ExecutionError(
            f"job {job.id} needs user {user!r} but sudo is not installed"
        )
    parent = os.environ if parent_env is None else parent_env
    keep = set(job.environ)
    if env.get("SNAP"):
        keep |= _SNAP_PRESERVED
        keep |= {k for k in env if k.startswith(("SNAP", "QT_"))}
    removed = [
        option
        for key in parent
        if key not in env and _settable(key)
        for option in ("-u", key)
    ]
    assignments = [
        f"{key}={value}"
        for key, value in env.items()
        if _settable(key) and (key in keep or parent.get(key) != value)
    ]
    sudo_argv = [
        sudo,
        "--non-interactive",
        "--user",
        user,
        "--",
        "env",
        *removed,
        *assignments,
        *argv,
    ]
    return sudo_argv, sudo


def _settable(name: str) -> bool:
    """True when ``env NAME=VALUE`` can set ``name`` unambiguously."""
    return bool(name) and "=" not in name and not name.startswith("-")


def run_command(
    job: JobDefinition,
    env: Mapping[str, str],
    *,
    cwd: Path | None = None,
    timeout: float | None = None,
    on_output: Callable[[OutputLine], object] | None = None,
    io_log: Path | None = None,
    memory_limit: int = MEMORY_LIMIT,
) -> CommandResult:
    """Run the job's command to completion (or until ``timeout`` seconds).

    :param cwd: where to run; default a fresh private directory (mode 0700,
        removed afterwards) unless the job has ``preserve-cwd`` (then: here).
    :param on_output: called with each line as soon as it is read.
    :param io_log: file to write the io-log to (created or replaced, 0600,
        on the first output line: a silent command leaves no file);
        see :mod:`plainbox.execution.iolog`.
    :param memory_limit: bytes of output kept in the result at most.
    :raises ExecutionError: the command needs sudo and there is none.
    :raises KeyboardInterrupt: Ctrl-C while the command ran; the command's
        process group has been killed and the io-log written so far.

    See the module documentation for how the command's end, a timeout and
    background processes are handled.
    """
    argv, via_sudo = _command(job, env)
    private_dir = None
    if cwd is None and "preserve-cwd" not in job.flags:
        private_dir = _make_private_dir(job.user if via_sudo else None)
        cwd = private_dir
    log: IOLogWriter | None = None
    leftovers: tuple[str, ...] = ()
    try:
        if io_log is not None:
            if not io_log.parent.is_dir():
                # Fail before running anything, not at the first line of output.
                raise FileNotFoundError(
                    f"io-log directory {io_log.parent} does not exist"
                )
            log = IOLogWriter(io_log, lazy=True)
        capture = _Capture(on_output, log, memory_limit)
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        capture.start = time.monotonic()
        for pipe in (process.stdout, process.stderr):
            assert pipe is not None
            os.set_blocking(pipe.fileno(), False)
        group = _Group(process.pid, via_sudo)
        try:
            timed_out = _pump(process, group, capture, timeout)
        except BaseException:
            # Ctrl-C (or on_output failed): stop the job, keep what it printed.
            group.signal(signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(KILL_GRACE)
            capture.on_output = None
            _drain_pipes(process, capture)
            raise
        finally:
            for pipe in (process.stdout, process.stderr):
                if pipe is not None:
                    pipe.close()
        return_code = process.wait()
        duration = time.monotonic() - capture.start
    finally:
        if log is not None:
            log.close()
        if private_dir is not None:
            with contextlib.suppress(OSError):  # the job may have removed it
                leftovers = tuple(sorted(entry.name for entry in private_dir.iterdir()))
            _remove_tree(private_dir)
    lines = tuple(capture.kept)
    return CommandResult(
        return_code=return_code,
        stdout=b"".join(line.data for line in lines if line.stream == STDOUT),
        stderr=b"".join(line.data for line in lines if line.stream == STDERR),
        duration=duration,
        timed_out=timed_out,
        lines=lines,
        truncated=capture.truncated,
        leftovers=leftovers,
    )


class _Capture:
    """Splits pipe data into lines and hands them to the log, memory and caller."""

    def __init__(
        self,
        on_output: Callable[[OutputLine], object] | None,
        log: IOLogWriter | None,
        memory_limit: int,
    ) -> None:
        self.start = time.monotonic()
        self.on_output = on_output
        self.log = log
        self.budget = memory_limit
        self.kept: list[OutputLine] = []
        self.truncated = False
        self.pending = {STDOUT: bytearray(), STDERR: bytearray()}

    def feed(self, stream: str, chunk: bytes) -> None:
        buffer = self.pending[stream]
        buffer += chunk
        pieces: list[bytes] = []
        end = buffer.rfind(b"\n") + 1 if b"\n" in chunk else 0
        if end:
            complete = bytes(buffer[:end])
            del buffer[:end]
            for line in complete.split(b"\n")[:-1]:
                if len(line) < LINE_CHUNK:
                    pieces.append(line + b"\n")
                else:
                    pieces.extend(_chunks(line + b"\n"))
        while len(buffer) >= LINE_CHUNK:
            pieces.append(bytes(buffer[:LINE_CHUNK]))
            del buffer[:LINE_CHUNK]
        self._emit(stream, pieces)

    def flush(self, stream: str) -> None:
        """Pass on the stream's last line, which has no ``\\n``."""
        buffer = self.pending[stream]
        if buffer:
            pieces = [bytes(buffer)]
            buffer.clear()
            self._emit(stream, pieces)

    def _emit(self, stream: str, pieces: list[bytes]) -> None:
        if not pieces:
            return
        offset = time.monotonic() - self.start
        lines = [OutputLine(stream, data, offset) for data in pieces]
        if self.log is not None:
            self.log.write(lines)
        for line in lines:
            if not self.truncated:
                self.budget -= len(line.data) + _LINE_OVERHEAD
                if self.budget >= 0:
                    self.kept.append(line)
                else:
                    self.truncated = True
            if self.on_output is not None:
                self.on_output(line)


def _chunks(line: bytes) -> Iterator[bytes]:
    for start in range(0, len(line), LINE_CHUNK):
        yield line[start : start + LINE_CHUNK]


class _Group:
    """The job's process group, led by the shell (or sudo)."""

    def __init__(self, pgid: int, sudo: str | None) -> None:
        self.pgid = pgid
        self.sudo = sudo if os.geteuid() != 0 else None

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signum)
        if self.sudo is not None:
            # Members running as another user: only sudo can signal them.
            name = signal.Signals(signum).name.removeprefix("SIG")
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(
                    [
                        self.sudo,
                        "--non-interactive",
                        "kill",
                        "-s",
                        name,
                        "--",
                        f"-{self.pgid}",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=5,
                    check=False,
                )

    def alive(self) -> bool:
        """True while a member of the group is running (zombies do not count)."""
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        try:
            entries = os.scandir("/proc")
        except OSError:
            return True
        with entries:
            for entry in entries:
                if entry.name.isdigit() and _running_in_group(entry.path, self.pgid):
                    return True
        return False


def _running_in_group(proc_dir: str, pgid: int) -> bool:
    try:
        with open(f"{proc_dir}/stat", "rb") as stat_file:
            fields = stat_file.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return False
    # After the command name: state, ppid, pgrp, ...
    return len(fields) > 2 and fields[2] == str(pgid).encode() and fields[0] != b"Z"


def _wait_for_exit(process: subprocess.Popen[bytes], timeout: float) -> None:
    """Block until the process exits or ``timeout`` passes, without polling.

    A pidfd becomes readable the moment the process exits; where pidfds are
    missing (old kernels) Popen.wait's backing-off sleeps are the fallback.
    """
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
        return
    try:
        select.select([pidfd], [], [], timeout)
    finally:
        os.close(pidfd)


def _pump(
    process: subprocess.Popen[bytes],
    group: _Group,
    capture: _Capture,
    timeout: float | None,
) -> bool:
    """Read the pipes until the command is over; True if it timed out."""
    with selectors.DefaultSelector() as selector:
        for stream, pipe in ((STDOUT, process.stdout), (STDERR, process.stderr)):
            assert pipe is not None
            selector.register(pipe.fileno(), selectors.EVENT_READ, stream)
        deadline = None if timeout is None else capture.start + timeout
        term_sent: float | None = None
        kill_sent = False
        exited: float | None = None
        while True:
            now = time.monotonic()
            if exited is None and process.poll() is not None:
                exited = now
            if (
                exited is None
                and term_sent is None
                and deadline is not None
                and now >= deadline
            ):
                group.signal(signal.SIGTERM)
                term_sent = now
            if term_sent is not None and not kill_sent:
                if now >= term_sent + KILL_GRACE:
                    group.signal(signal.SIGKILL)
                    kill_sent = True
                elif exited is not None and not group.alive():
                    kill_sent = True  # everything died of SIGTERM
            reading = bool(selector.get_map())
            if exited is not None:
                if not reading and (term_sent is None or kill_sent):
                    break
                if reading and now >= exited + DRAIN_GRACE:
                    # A background process holds the pipes: stop it and us.
                    group.signal(signal.SIGKILL)
                    _drain(selector, capture)
                    break
            waits = [_POLL]
            if deadline is not None and term_sent is None:
                waits.append(deadline - now)
            if term_sent is not None and not kill_sent:
                waits.append(term_sent + KILL_GRACE - now)
            if exited is not None:
                waits.append(exited + DRAIN_GRACE - now)
            wait = max(0.0, min(waits))
            if reading:
                for key, _ in selector.select(wait):
                    _read(selector, key, capture)
            elif exited is None:
                # The pipes are closed; wake as soon as the shell exits rather
                # than after a sleep (that sleep was most of a job's cost).
                _wait_for_exit(process, wait)
            else:
                time.sleep(wait)
    return term_sent is not None


def _read(
    selector: selectors.BaseSelector, key: selectors.SelectorKey, capture: _Capture
) -> bool:
    """Read once from a pipe; False when nothing more is to come right now."""
    try:
        chunk = os.read(key.fd, _READ_SIZE)
    except BlockingIOError:
        return False
    if not chunk:
        selector.unregister(key.fd)
        capture.flush(key.data)
        return False
    capture.feed(key.data, chunk)
    return True


def _drain(selector: selectors.BaseSelector, capture: _Capture) -> None:
    """Read what the pipes already hold, then give up on them."""
    for key in list(selector.get_map().values()):
        while _read(selector, key, capture):
            pass
        if key.fd in selector.get_map():
            selector.unregister(key.fd)
            capture.flush(key.data)


def _drain_pipes(process: subprocess.Popen[bytes], capture: _Capture) -> None:
    """After an interruption: log what the (non-blocking) pipes still hold."""
    for stream, pipe in ((STDOUT, process.stdout), (STDERR, process.stderr)):
        if pipe is None or pipe.closed:
            continue
        with contextlib.suppress(OSError):
            while chunk := os.read(pipe.fileno(), _READ_SIZE):
                capture.feed(stream, chunk)
        capture.flush(stream)


def _make_private_dir(user: str | None) -> Path:
    """A fresh 0700 directory; usable by ``user`` when the job runs as them."""
    path = Path(tempfile.mkdtemp(prefix="plainbox-job-"))
    if user is not None:
        with contextlib.suppress(KeyError, OSError):
            entry = pwd.getpwnam(user)
            if os.geteuid() == 0:
                os.chown(path, entry.pw_uid, entry.pw_gid)
            elif entry.pw_uid != 0:
                path.chmod(0o1777)  # neither user can give it to the other
    return path


def _remove_tree(path: Path, depth: int = 0) -> None:
    """Remove ``path`` even where the job made directories read-only.

    Best effort: what cannot be removed (files of another user when not
    root) stays; ``depth`` bounds the retries on unreadable directories.
    """

    def retry(function: Callable[..., object], name: str, _: object) -> None:
        failed = Path(name)
        if function is os.rmdir and not os.path.lexists(failed):
            return
        for directory in {failed.parent, failed}:
            with contextlib.suppress(OSError):
                mode = directory.lstat().st_mode
                if stat.S_ISDIR(mode):
                    directory.chmod(stat.S_IMODE(mode) | stat.S_IRWXU)
        with contextlib.suppress(OSError):
            if failed.is_dir() and not failed.is_symlink():
                if depth < 8:
                    _remove_tree(failed, depth + 1)
                else:
                    shutil.rmtree(failed, ignore_errors=True)
            else:
                failed.unlink()

    with contextlib.suppress(FileNotFoundError):
        if sys.version_info >= (3, 12):
            shutil.rmtree(path, onexc=retry)
        else:
            shutil.rmtree(path, onerror=retry)
