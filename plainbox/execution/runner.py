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
    stdout and stderr are read concurrently (one ``poll`` over the two
    non-blocking pipes and a pidfd of the shell, which becomes readable when
    it exits; no threads, no polling on a timer) and split into lines that keep their
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
    runs as someone else). What the job left there is listed in
    ``CommandResult.leftovers`` (for the ``has-leftovers`` warning), then the
    directory is removed, read-only subdirectories included. Within a
    session (:class:`JobDirectories`) a directory the command left empty,
    still private, with nothing of its process group running, is handed to
    the next command: nothing tells it from a new one, and it saves the
    journalled ``mkdir``/``rmdir`` per job that slowed every ``fsync`` of the
    session journal.

Many jobs
    A session builds its jobs' environments with one
    :class:`EnvironmentBuilder` and takes their directories from one
    :class:`JobDirectories`: the process environment is then copied once, not
    once per job, and the directories are made and removed in batches (each
    is a journalled file-system update, slow while the journal is busy).
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import pwd
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

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
    "EnvironmentBuilder",
    "JobDirectories",
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
    :param base: the environment to start from (default: this process's).
    :param extra: launcher ``[environment]`` values; the process environment wins.

    A session running many jobs should build an :class:`EnvironmentBuilder`
    once and call its :meth:`~EnvironmentBuilder.build` instead: same result,
    without copying the whole environment again for every job.
    """
    builder = EnvironmentBuilder(
        providers, session_share=session_share, base=base, extra=extra
    )
    return builder.build(job)


class EnvironmentBuilder:
    """Builds the environments of a session's jobs from one snapshot.

    What :func:`build_environment` returns, but the starting environment
    (``base``, default the process environment, plus ``extra``) is read once,
    here, and each (namespace, provider) pair's variables are worked out on
    its first job; every :meth:`build` then only copies a ready dictionary.
    Changes to ``os.environ`` after construction are not seen.
    """

    __slots__ = ("_by_origin", "_providers", "_session_share", "_start")

    def __init__(
        self,
        providers: Sequence[Provider],
        *,
        session_share: Path,
        base: Mapping[str, str] | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        start = dict(os.environ if base is None else base)
        for key, value in (extra or {}).items():
            start.setdefault(key, value)
        self._start = start
        self._providers = tuple(providers)
        self._session_share = str(session_share)
        self._by_origin: dict[tuple[str, str], dict[str, str]] = {}

    def build(self, job: JobDefinition) -> dict[str, str]:
        """The environment of ``job``'s command: a new dictionary, the caller's to change."""
        origin = (job.namespace, job.provider)
        ready = self._by_origin.get(origin)
        if ready is None:
            ready = self._by_origin[origin] = self._for_origin(*origin)
        env = dict(ready)
        if "reset-locale" in job.flags:
            for key in [k for k in env if k == "LANGUAGE" or k.startswith("LC_")]:
                del env[key]
            env["LANG"] = "C.UTF-8"
        return env

    def _for_origin(self, namespace: str, provider: str) -> dict[str, str]:
        env = dict(self._start)
        own = next(
            (
                p
                for p in self._providers
                if p.name == provider and p.namespace == namespace
            ),
            None,
        )
        bins = [
            str(p.bin_dir)
            for p in self._providers
            if p.namespace == namespace and p.bin_dir
        ]
        env["PATH"] = os.pathsep.join([*bins, env.get("PATH", os.defpath)])
        env["PLAINBOX_SESSION_SHARE"] = self._session_share
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
    directories: JobDirectories | None = None,
    while_running: Callable[[], object] | None = None,
) -> CommandResult:
    """Run the job's command to completion (or until ``timeout`` seconds).

    :param cwd: where to run; default a fresh private directory (mode 0700)
        unless the job has ``preserve-cwd`` (then: here).
    :param on_output: called with each line as soon as it is read.
    :param io_log: file to write the io-log to (created or replaced, 0600,
        on the first output line: a silent command leaves no file);
        see :mod:`plainbox.execution.iolog`.
    :param memory_limit: bytes of output kept in the result at most.
    :param directories: the session's :class:`JobDirectories`, to take the
        private directory from (cheaper; see there). Without it the directory
        is a new temporary directory, removed before this returns. Jobs run
        as another user get such a directory in any case.
    :param while_running: called once the command has started, before its
        output is read: work that can be done while the command runs.
        What it raises stops the command, as Ctrl-C does.
    :raises ExecutionError: the command needs sudo and there is none.
    :raises KeyboardInterrupt: Ctrl-C while the command ran; the command's
        process group has been killed and the io-log written so far.

    See the module documentation for how the command's end, a timeout and
    background processes are handled.
    """
    argv, via_sudo = _command(job, env)
    if io_log is not None and not io_log.parent.is_dir():
        # Fail before running anything, not at the first line of output.
        raise FileNotFoundError(f"io-log directory {io_log.parent} does not exist")
    # A job run as another user needs a directory that user may enter: the
    # session's directories are in a parent private to this one.
    pool = directories if via_sudo is None else None
    workdir = cwd
    private: Path | None = None
    if cwd is None and "preserve-cwd" not in job.flags:
        if pool is not None:
            private = pool.take()
        else:
            private = _make_private_dir(job.user if via_sudo else None)
        workdir = private
    capture = _Capture(on_output, io_log, memory_limit)
    group = _Group(via_sudo)
    leftovers: tuple[str, ...] = ()
    try:
        return_code, duration, timed_out = _execute(
            argv, env, workdir, group, timeout, capture, while_running
        )
    finally:
        if private is not None:
            if pool is not None:
                leftovers = pool.give_back(private, reusable=group.empty())
            else:
                leftovers = _remove_private_dir(private)
    lines = tuple(capture.kept)
    if lines:
        stdout = b"".join([line.data for line in lines if line.stream == STDOUT])
        stderr = b"".join([line.data for line in lines if line.stream == STDERR])
    else:
        stdout = stderr = b""
    return CommandResult(
        return_code=return_code,
        stdout=stdout,
        stderr=stderr,
        duration=duration,
        timed_out=timed_out,
        lines=lines,
        truncated=capture.truncated,
        leftovers=leftovers,
    )


def _execute(
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: Path | None,
    group: _Group,
    timeout: float | None,
    capture: _Capture,
    while_running: Callable[[], object] | None = None,
) -> tuple[int, float, bool]:
    """Start the command and see it to its end: exit status, duration, timed out."""
    try:
        process, streams = _spawn(argv, env, cwd)
        start = capture.start = time.monotonic()
        group.pgid = process.pid
        fds = list(streams)
        pidfd = _open_pidfd(process.pid)
        try:
            if while_running is not None:
                while_running()
            timed_out = _pump(process, pidfd, streams, group, capture, timeout)
        except BaseException:
            # Ctrl-C (or on_output failed): stop the job, keep what it printed.
            group.signal(signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(KILL_GRACE)
            capture.on_output = None
            _drain_after_interruption(streams, capture)
            raise
        finally:
            for fd in fds:
                os.close(fd)
            if pidfd is not None:
                os.close(pidfd)
        return_code = process.wait()
        return return_code, time.monotonic() - start, timed_out
    finally:
        if capture.log is not None:
            capture.log.close()


def _spawn(
    argv: Sequence[str], env: Mapping[str, str], cwd: Path | None
) -> tuple[subprocess.Popen[bytes], dict[int, str]]:
    """Start ``argv`` in a new session; its stdout and stderr pipes, non-blocking.

    The pipes are plain descriptors, not the file objects ``Popen`` would wrap
    them in: they are only ever read with ``os.read``.
    """
    out_read, out_write = os.pipe()
    try:
        err_read, err_write = os.pipe()
    except BaseException:
        os.close(out_read)
        os.close(out_write)
        raise
    try:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=_devnull(),
            stdout=out_write,
            stderr=err_write,
            start_new_session=True,
        )
    except BaseException:
        os.close(out_read)
        os.close(err_read)
        raise
    finally:
        # The child has its copies; ours would keep the pipes open forever.
        os.close(out_write)
        os.close(err_write)
    os.set_blocking(out_read, False)
    os.set_blocking(err_read, False)
    return process, {out_read: STDOUT, err_read: STDERR}


@functools.cache
def _devnull() -> int:
    """A read-only descriptor on the null device, the commands' stdin.

    Opened once and kept (close-on-exec): ``subprocess.DEVNULL`` opens and
    closes one for every command, tens of microseconds each time.
    """
    return os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)


def _open_pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when ``pid`` exits; None without pidfds.

    The shell is not reaped before the end, so the pid cannot be reused meanwhile.
    """
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # Python or Linux (< 5.3) without pidfds
        return None


class _Capture:
    """Splits pipe data into lines and hands them to the log, memory and caller."""

    __slots__ = ("budget", "kept", "log", "on_output", "pending", "start", "truncated")

    def __init__(
        self,
        on_output: Callable[[OutputLine], object] | None,
        io_log: Path | None,
        memory_limit: int,
    ) -> None:
        self.start = time.monotonic()
        self.on_output = on_output
        self.log = None if io_log is None else IOLogWriter(io_log, lazy=True)
        self.budget = memory_limit
        self.kept: list[OutputLine] = []
        self.truncated = False
        self.pending = {STDOUT: bytearray(), STDERR: bytearray()}

    def feed(self, stream: str, chunk: bytes) -> None:
        buffer = self.pending[stream]
        pieces: list[bytes]
        if not buffer and chunk.endswith(b"\n") and len(chunk) <= LINE_CHUNK:
            # The usual case: whole lines, none too long. BytesIO splits at
            # "\n" only (unlike splitlines) and keeps it, in C.
            pieces = io.BytesIO(chunk).readlines()
        else:
            buffer += chunk
            pieces = []
            end = buffer.rfind(b"\n") + 1 if b"\n" in chunk else 0
            if end:
                complete = bytes(buffer[:end])
                del buffer[:end]
                for line in io.BytesIO(complete).readlines():
                    if len(line) <= LINE_CHUNK:
                        pieces.append(line)
                    else:
                        pieces.extend(_chunks(line))
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
        on_output = self.on_output
        if not self.truncated:
            kept = self.kept
            budget = self.budget
            for line in lines:
                budget -= len(line.data) + _LINE_OVERHEAD
                if budget < 0:
                    self.truncated = True
                    break
                kept.append(line)
            self.budget = budget
        if on_output is not None:
            for line in lines:
                on_output(line)


def _chunks(line: bytes) -> Iterator[bytes]:
    for start in range(0, len(line), LINE_CHUNK):
        yield line[start : start + LINE_CHUNK]


class _Group:
    """The job's process group, led by the shell (or sudo)."""

    __slots__ = ("pgid", "sudo")

    def __init__(self, sudo: str | None, pgid: int = 0) -> None:
        self.pgid = pgid  # set once the command has started
        self.sudo = sudo if sudo is not None and os.geteuid() != 0 else None

    def signal(self, signum: int) -> None:
        if self.pgid <= 0:
            return  # not started: nothing to signal (and killpg(0) is ourselves)
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

    def empty(self) -> bool:
        """True when no process is left in the group, zombies included (one
        system call; :meth:`alive` is the thorough, slower question)."""
        if self.pgid <= 0:
            return True  # never started
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

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


def _pump(
    process: subprocess.Popen[bytes],
    pidfd: int | None,
    streams: dict[int, str],
    group: _Group,
    capture: _Capture,
    timeout: float | None,
) -> bool:
    """Read the pipes until the command is over; True if it timed out.

    One ``poll`` waits for output on both pipes and for the shell's exit (its
    pidfd), so nothing is polled on a timer unless a deadline or grace period
    is running. ``streams`` loses each pipe that reached end of file.
    """
    poller = select.poll()
    for fd in streams:
        poller.register(fd, select.POLLIN)
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)
    deadline = None if timeout is None else capture.start + timeout
    term_sent: float | None = None
    kill_sent = False
    exited: float | None = None
    while True:
        now = time.monotonic()
        if exited is None and pidfd is None and process.poll() is not None:
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
        if exited is not None:
            if not streams and (term_sent is None or kill_sent):
                break
            if streams and now >= exited + DRAIN_GRACE:
                # A background process holds the pipes: stop it and us.
                group.signal(signal.SIGKILL)
                _drain(poller, streams, capture)
                break
        waits: list[float] = []
        if exited is None:
            if pidfd is None:
                waits.append(_POLL)  # no exit notification: look now and then
            if deadline is not None and term_sent is None:
                waits.append(deadline - now)
        elif streams:
            waits.append(exited + DRAIN_GRACE - now)
        if term_sent is not None and not kill_sent:
            waits.append(term_sent + KILL_GRACE - now)
            if exited is not None:
                waits.append(_POLL)  # until group.alive() says it is over
        wait = max(0.0, min(waits)) if waits else None
        if not streams and exited is None and pidfd is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(wait)
            continue
        for fd, _ in poller.poll(None if wait is None else wait * 1000):
            if fd == pidfd:
                poller.unregister(fd)
                exited = time.monotonic()
            else:
                _read(fd, poller, streams, capture)
    return term_sent is not None


def _read(
    fd: int, poller: select.poll, streams: dict[int, str], capture: _Capture
) -> bool:
    """Read once from a pipe; False when nothing more is to come right now."""
    try:
        chunk = os.read(fd, _READ_SIZE)
    except BlockingIOError:
        return False
    if not chunk:
        poller.unregister(fd)
        capture.flush(streams.pop(fd))
        return False
    capture.feed(streams[fd], chunk)
    return True


def _drain(poller: select.poll, streams: dict[int, str], capture: _Capture) -> None:
    """Read what the pipes already hold, then give up on them."""
    for fd in list(streams):
        while _read(fd, poller, streams, capture):
            pass
        if fd in streams:
            poller.unregister(fd)
            capture.flush(streams.pop(fd))


def _drain_after_interruption(streams: dict[int, str], capture: _Capture) -> None:
    """After an interruption: log what the (non-blocking) pipes still hold."""
    for fd, stream in list(streams.items()):
        with contextlib.suppress(OSError):
            while chunk := os.read(fd, _READ_SIZE):
                capture.feed(stream, chunk)
        capture.flush(stream)


class JobDirectories:
    """The private working directories of one session's jobs, made cheaply.

    Every command gets an empty directory, mode 0700, named by a counter
    inside one private (0700) parent, ``plainbox-jobs-*`` in ``root``
    (default: the temporary directory), made on first use.

    Making and removing a directory each cost a journalled file-system
    update: 0.05 to 0.1 ms on an idle ext4, milliseconds when other
    processes keep the journal busy, as ``fsync`` does -- and the session
    journal's ``fsync`` then has to commit them too. So directories are
    reused and made in batches:

    * :meth:`give_back` with ``reusable=True`` (the command's process group
      is gone) keeps a directory the command left empty, still a 0700
      directory of ours, for the next :meth:`take`. Nothing can tell it from
      a new one. (A process that left the group with ``setsid`` and kept the
      directory as its cwd could write into it later; it could write into
      any of the parent's directories anyway, as it runs as the same user.)
    * :meth:`take` hands out a kept directory only if it is still empty
      and private; otherwise it makes ``batch`` new ones at a time.
    * A directory left empty but not reusable is removed with the next
      ``batch`` of them, or by :meth:`close` (anything written into it later,
      by an escaped background process, goes too). A directory the command
      left files in is listed and removed at once.

    :meth:`close` (or the end of the ``with`` block) removes everything, the
    parent included; the object can be used again afterwards. An object
    never closed has its parent removed when it is garbage-collected or at
    exit.
    """

    def __init__(self, root: Path | None = None, *, batch: int = 32) -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self._root = root
        self._batch = batch
        self._parent: Path | None = None
        self._finalizer: weakref.finalize[[Path], JobDirectories] | None = None
        self._count = 0
        self._spares: list[Path] = []  # the next one last
        self._empty: list[Path] = []

    @property
    def parent(self) -> Path | None:
        """The directory holding the jobs' directories; None until first used."""
        return self._parent

    def take(self) -> Path:
        """An empty private directory for a command to run in."""
        while self._spares:
            spare = self._spares.pop()
            # A job (or an escaped process) could have removed, changed or
            # filled it since: hand out only what is as good as new.
            if _is_empty_private_dir(spare):
                return spare
            self._empty.append(spare)
        first = self._make()
        with contextlib.suppress(OSError):  # no spares is only slower
            self._spares = [self._make() for _ in range(self._batch - 1)][::-1]
        return first

    def give_back(self, path: Path, *, reusable: bool = False) -> tuple[str, ...]:
        """The names of what the command left in ``path`` (sorted).

        With files in it, it goes at once. Left empty, it is kept for the next
        command if ``reusable`` (nothing of the command is running any more)
        and it is still private; otherwise it is removed with the next batch,
        or by :meth:`close`.
        """
        names = _listing(path)
        if names:
            _remove_tree(path)
            return tuple(sorted(names))
        if reusable and _is_private_dir(path):
            self._spares.append(path)  # the next take() reuses it
            return ()
        self._empty.append(path)
        if len(self._empty) >= self._batch:
            empty, self._empty = self._empty, []
            for directory in empty:
                _remove_empty(directory)
        return ()

    def close(self) -> None:
        """Remove the parent directory and all in it."""
        self._spares = []
        self._empty = []
        self._parent = None
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None

    def __enter__(self) -> JobDirectories:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _make(self) -> Path:
        parent = self._parent or self._new_parent()
        while True:
            self._count += 1
            path = parent / str(self._count)
            try:
                path.mkdir(0o700)
            except FileExistsError:
                continue  # not ours (the parent is private, but the user is not)
            except FileNotFoundError:
                # The parent went away (a job removed it): start a new one.
                parent = self._new_parent()
                continue
            return path

    def _new_parent(self) -> Path:
        if self._finalizer is not None:
            self._finalizer()
        parent = Path(tempfile.mkdtemp(prefix="plainbox-jobs-", dir=self._root))
        # Removed at exit too, should the session never close this.
        self._finalizer = weakref.finalize(self, _remove_parent, parent)
        self._parent = parent
        return parent


def _is_private_dir(path: Path) -> bool:
    """True when ``path`` is a directory (not a link) of ours, mode 0700."""
    try:
        info = os.lstat(path)  # not Path.lstat: this runs twice per job
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and stat.S_IMODE(info.st_mode) == stat.S_IRWXU
        and info.st_uid == os.geteuid()
    )


def _is_empty_private_dir(path: Path) -> bool:
    """True when ``path`` is an empty directory (not a link) of ours, mode 0700."""
    if not _is_private_dir(path):
        return False
    try:
        with os.scandir(path) as entries:
            return next(entries, None) is None
    except OSError:
        return False


def _remove_parent(path: Path) -> None:
    _remove_tree(path)


def _listing(path: Path) -> list[str]:
    """What a directory holds, even if the job took away our permission to list it."""
    try:
        return _names(path)
    except FileNotFoundError:
        return []  # the job removed it
    except OSError:
        pass
    with contextlib.suppress(OSError):
        path.chmod(stat.S_IRWXU)
        return _names(path)
    return []


def _names(path: Path) -> list[str]:
    # os.scandir, not Path.iterdir: no Path object per entry, twice per job.
    with os.scandir(path) as entries:
        return [entry.name for entry in entries]


def _remove_empty(path: Path) -> None:
    """Remove a directory found empty earlier (whatever it holds by now)."""
    try:
        path.rmdir()
    except FileNotFoundError:
        pass
    except OSError:
        _remove_tree(path)


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


def _remove_private_dir(path: Path) -> tuple[str, ...]:
    """Remove ``path``; the names of what the command left in it (sorted).

    One ``rmdir`` when it is empty, as it usually is; listing it only when
    that fails.
    """
    try:
        path.rmdir()
    except FileNotFoundError:
        return ()  # the job removed it
    except OSError:
        pass
    else:
        return ()
    leftovers = tuple(sorted(_listing(path)))
    _remove_tree(path)
    return leftovers


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
