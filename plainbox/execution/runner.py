"""Run one job's command in a subprocess and turn what happens into a result.

The command runs as ``SHELL -c COMMAND`` in its own process group (so a
timeout or Ctrl-C can stop everything it started), in a fresh private
directory unless the job has ``preserve-cwd``, with the provider's ``bin/``
directories first on ``PATH`` and the documented ``PLAINBOX_*`` variables
(plus the Checkbox names providers rely on).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from plainbox.units.model import JobDefinition
from plainbox.units.provider import Provider


__all__ = ["CommandResult", "build_environment", "run_command"]

_SHELLS = {"bash": "bash", "/bin/bash": "/bin/bash", "sh": "sh", "/bin/sh": "/bin/sh"}


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a command did: exit status (negative: killed by that signal) and output."""

    return_code: int
    stdout: bytes
    stderr: bytes
    duration: float
    timed_out: bool = False


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


def run_command(
    job: JobDefinition,
    env: Mapping[str, str],
    *,
    cwd: Path | None = None,
    timeout: float | None = None,
) -> CommandResult:
    """Run the job's command to completion (or until ``timeout`` seconds).

    On timeout the whole process group is killed and ``timed_out`` is set.
    """
    shell = (
        shutil.which(_SHELLS.get(job.shell, "bash"), path=env.get("PATH")) or "/bin/sh"
    )
    private_dir = None
    if cwd is None and "preserve-cwd" not in job.flags:
        private_dir = tempfile.mkdtemp(prefix="plainbox-job-")  # mode 0700
        cwd = Path(private_dir)
    start = time.monotonic()
    try:
        process = subprocess.Popen(
            [shell, "-c", job.command or ""],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        timed_out = False
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(process.pid)
            stdout, stderr = process.communicate()
        return CommandResult(
            process.returncode, stdout, stderr, time.monotonic() - start, timed_out
        )
    finally:
        if private_dir is not None:
            shutil.rmtree(private_dir, ignore_errors=True)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
