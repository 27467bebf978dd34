"""Automatic resume after a reboot: restart strategies.

Before a ``noreturn`` job runs (one that reboots the machine), the session
*primes* a strategy: it arranges for a command, normally ``plainbox session
resume --auto``, to run by itself once the machine is back. After the resume
the session *diffuses* the strategy, removing what was primed.

Two strategies are built in:

* ``systemd``: a oneshot unit in the user's systemd unit directory, enabled
  for ``default.target``. The user manager starts at boot only when lingering
  is enabled for the user (``loginctl enable-linger``); otherwise at login.
* ``xdg-autostart``: a Desktop Entry in the user's autostart directory, run
  in a terminal when the graphical session starts.

Plugins offer more through the ``plainbox_restart_strategies`` hook.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from plainbox.errors import SessionError
from plainbox.errors import UsageError
from plainbox.paths import config_home


__all__ = [
    "RestartStrategy",
    "SystemdUserStrategy",
    "XdgAutostartStrategy",
    "detect_restart_strategy",
    "restart_strategies",
]

_log = logging.getLogger(__name__)

_SESSION_ID = re.compile(r"[A-Za-z0-9._-]+")
# File and unit names are limited to 255 bytes; leave room for the affixes.
_MAX_SESSION_ID = 200
_PREFIX = "plainbox-resume-"


class RestartStrategy(Protocol):
    """A way to run a command automatically after the machine reboots."""

    name: str

    def available(self) -> bool:
        """True when the strategy can work on this machine, for this user."""
        ...

    def prime(self, session_id: str, command: Sequence[str]) -> None:
        """Arrange for ``command`` to run after the next boot."""
        ...

    def diffuse(self, session_id: str) -> None:
        """Undo :meth:`prime`; does nothing when nothing was primed."""
        ...


def _check_session_id(session_id: str) -> None:
    # The id becomes part of a file name and a unit name: anything beyond
    # this set could leave the directory or need escaping.
    if not _SESSION_ID.fullmatch(session_id) or len(session_id) > _MAX_SESSION_ID:
        raise ValueError(
            f"invalid session id {session_id!r}: use 1 to {_MAX_SESSION_ID} "
            "characters from A-Z, a-z, 0-9, '.', '_' and '-'"
        )


def _check_command(command: Sequence[str]) -> list[str]:
    # A str is a Sequence[str] too; taking it letter by letter is never meant.
    if isinstance(command, str):
        raise TypeError("command must be a sequence of arguments, not a string")
    argv = list(command)
    if not argv or not argv[0]:
        raise ValueError("command must name a program")
    for argument in argv:
        if "\0" in argument:
            raise ValueError(f"command argument {argument!r} contains a NUL byte")
    return argv


def _resolve_program(argv: list[str]) -> list[str]:
    """``argv`` with its program as an absolute path.

    After a reboot the command runs with the login environment, whose
    ``PATH`` may differ from ours (systemd searches only a fixed path), so
    the program is looked up now, where the caller found it.
    """
    program = Path(argv[0])
    if program.is_absolute():
        return argv
    found = shutil.which(argv[0])
    if found is None:
        raise SessionError(f"cannot find the resume program {argv[0]!r} on PATH")
    return [str(Path(found).absolute()), *argv[1:]]


def _make_private_dirs(directory: Path) -> None:
    """Create ``directory`` and missing parents, each we create mode 0700."""
    missing: list[Path] = []
    current = directory
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            # Created meanwhile by someone else: its mode is theirs to choose.
            continue
        # mkdir's mode is filtered through the umask; make it exact.
        path.chmod(0o700)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text``, readable only by the user."""
    try:
        _write_private_file(path, text)
    except OSError as error:
        raise SessionError(f"cannot write {path}: {error}") from error


def _write_private_file(path: Path, text: str) -> None:
    _make_private_dirs(path.parent)
    # The suffix keeps a leftover temporary file from ever looking like a
    # unit or a desktop entry.
    fd, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            os.fchmod(stream.fileno(), 0o600)
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    # The next thing to happen is a reboot, possibly a forced one: the new
    # directory entry must be on disk, not only in the page cache.
    _fsync_dir(path.parent)


# -- systemd ------------------------------------------------------------------


def _systemd_exec_word(argument: str) -> str:
    """``argument`` as one word of a systemd ``ExecStart=`` command line.

    Every word is double-quoted, with C-style escapes for backslash, the
    double quote and control characters. Specifiers are expanded on the
    whole line and environment variables in every word, quoted or not, so
    ``%`` and ``$`` are doubled as well.
    """
    pieces = ['"']
    for char in argument:
        if char == "\\":
            pieces.append("\\\\")
        elif char == '"':
            pieces.append('\\"')
        elif char == "%":
            pieces.append("%%")
        elif char == "$":
            pieces.append("$$")
        elif char == "\n":
            pieces.append("\\n")
        elif char == "\t":
            pieces.append("\\t")
        elif char == "\r":
            pieces.append("\\r")
        elif ord(char) < 0x20 or char == "\x7f":
            pieces.append(f"\\x{ord(char):02x}")
        else:
            pieces.append(char)
    pieces.append('"')
    return "".join(pieces)


class SystemdUserStrategy:
    """Resume through a oneshot unit of the user's systemd instance."""

    name = "systemd"

    def __init__(self, probe_timeout: float = 2.0, timeout: float = 30.0) -> None:
        #: How long :meth:`available` waits for the user manager to answer.
        self.probe_timeout = probe_timeout
        #: How long a ``daemon-reload`` or ``enable`` may take.
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    @staticmethod
    def unit_name(session_id: str) -> str:
        """The name of the unit that resumes ``session_id``."""
        _check_session_id(session_id)
        return f"{_PREFIX}{session_id}.service"

    def path_for(self, session_id: str) -> Path:
        """Where the unit resuming ``session_id`` is written."""
        return config_home() / "systemd" / "user" / self.unit_name(session_id)

    def available(self) -> bool:
        systemctl = shutil.which("systemctl")
        if systemctl is None:
            return False
        # show-environment answers whenever the user manager is reachable;
        # is-system-running fails on a merely "degraded" manager, which is
        # common and does not stop a unit from being enabled.
        try:
            result = subprocess.run(
                [systemctl, "--user", "show-environment"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=self.probe_timeout,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return False
        return result.returncode == 0

    def _unit_text(self, session_id: str, command: Sequence[str]) -> str:
        """The unit file that runs ``command`` at boot to resume ``session_id``."""
        _check_session_id(session_id)
        argv = _resolve_program(_check_command(command))
        exec_start = " ".join(_systemd_exec_word(argument) for argument in argv)
        return (
            "# Written by plainbox before a reboot; removed once the session resumed.\n"
            "[Unit]\n"
            f"Description=Resume plainbox session {session_id} after a reboot\n"
            "\n"
            "[Service]\n"
            "Type=oneshot\n"
            f"ExecStart={exec_start}\n"
            "\n"
            "[Install]\n"
            "WantedBy=default.target\n"
        )

    def prime(self, session_id: str, command: Sequence[str]) -> None:
        text = self._unit_text(session_id, command)
        path = self.path_for(session_id)
        unit = path.name
        _write_private(path, text)
        try:
            self._systemctl("daemon-reload")
            self._systemctl("enable", unit)
        except BaseException:
            # A unit that is written but not enabled would never run: leave
            # nothing behind, so the caller's error is the whole story.
            path.unlink(missing_ok=True)
            raise

    def diffuse(self, session_id: str) -> None:
        path = self.path_for(session_id)
        unit = path.name
        wants = path.parent / "default.target.wants" / unit
        if not path.exists() and not wants.is_symlink():
            return
        try:
            self._systemctl("disable", unit)
        except SessionError as error:
            _log.info("ignored: %s", error)
        # disable cannot work without a reachable manager; a link left behind
        # would point at a deleted file and make systemd complain every boot.
        if wants.is_symlink():
            wants.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        try:
            self._systemctl("daemon-reload")
        except SessionError as error:
            # The unit is gone from disk, so it cannot run again at boot.
            _log.info("ignored: %s", error)

    def _systemctl(self, *arguments: str) -> None:
        systemctl = shutil.which("systemctl")
        shown = " ".join(["systemctl", "--user", *arguments])
        if systemctl is None:
            raise SessionError(f"{shown}: systemctl is not on PATH")
        try:
            result = subprocess.run(
                [systemctl, "--user", *arguments],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise SessionError(
                f"{shown}: no answer within {self.timeout:g} s"
            ) from None
        except OSError as error:
            raise SessionError(f"{shown}: {error}") from error
        if result.returncode != 0:
            detail = result.stderr.strip() or "(no message)"
            raise SessionError(
                f"{shown} failed with exit status {result.returncode}: {detail}"
            )


# -- XDG autostart ------------------------------------------------------------

# Arguments made only of these need no quoting in an Exec key. Quoting is
# always allowed, so anything else is quoted rather than matched against the
# specification's list of reserved characters.
_DESKTOP_PLAIN = re.compile(r"[A-Za-z0-9_./:,+=@-]+")
_DESKTOP_QUOTED_ESCAPES = re.compile(r'(["`$\\])')
_DESKTOP_STRING_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _desktop_exec_word(argument: str) -> str:
    """``argument`` as one word of a Desktop Entry ``Exec=`` value, as written.

    Three layers, innermost first: the argument is double-quoted (with ``"``,
    `````, ``$`` and ``\\`` backslash-escaped) unless it is plain; ``%``
    becomes ``%%`` so it is not taken for a field code; then the string-value
    escapes apply to the result (``\\`` to ``\\\\``, newline to ``\\n``...).
    """
    for char in argument:
        if (ord(char) < 0x20 and char not in "\n\t\r") or char == "\x7f":
            raise ValueError(
                f"command argument {argument!r} holds a control character "
                "that a desktop entry cannot carry"
            )
    if _DESKTOP_PLAIN.fullmatch(argument):
        word = argument
    else:
        word = '"' + _DESKTOP_QUOTED_ESCAPES.sub(r"\\\1", argument) + '"'
    word = word.replace("%", "%%")
    return "".join(_DESKTOP_STRING_ESCAPES.get(char, char) for char in word)


class XdgAutostartStrategy:
    """Resume through an XDG autostart entry when the desktop session starts."""

    name = "xdg-autostart"

    #: Its presence suggests a desktop that honours autostart entries.
    system_autostart_dir = Path("/etc/xdg/autostart")

    def __init__(self, system_autostart_dir: Path | None = None) -> None:
        if system_autostart_dir is not None:
            self.system_autostart_dir = system_autostart_dir

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def path_for(self, session_id: str) -> Path:
        """Where the entry resuming ``session_id`` is written."""
        _check_session_id(session_id)
        return config_home() / "autostart" / f"{_PREFIX}{session_id}.desktop"

    def available(self) -> bool:
        if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
            return True
        return self.system_autostart_dir.is_dir()

    def _entry_text(self, session_id: str, command: Sequence[str]) -> str:
        """The desktop entry that runs ``command`` to resume ``session_id``."""
        _check_session_id(session_id)
        argv = _resolve_program(_check_command(command))
        if "=" in argv[0]:
            # The specification forbids it in the program of an Exec key.
            raise ValueError(f"program {argv[0]!r} contains '='")
        exec_line = " ".join(_desktop_exec_word(argument) for argument in argv)
        return (
            "[Desktop Entry]\n"
            "Type=Application\n"
            "Version=1.5\n"
            f"Name=Resume plainbox session {session_id}\n"
            "Comment=Written by plainbox before a reboot; removed once the session resumed\n"
            f"Exec={exec_line}\n"
            "Terminal=true\n"
            "X-GNOME-Autostart-enabled=true\n"
        )

    def prime(self, session_id: str, command: Sequence[str]) -> None:
        text = self._entry_text(session_id, command)
        _write_private(self.path_for(session_id), text)

    def diffuse(self, session_id: str) -> None:
        self.path_for(session_id).unlink(missing_ok=True)


# -- choosing one -------------------------------------------------------------


def restart_strategies() -> list[RestartStrategy]:
    """Every known strategy: those from plugins first, then the built-ins."""
    from plainbox.plugins import get_plugin_manager

    strategies: list[RestartStrategy] = []
    for contributed in get_plugin_manager().hook.plainbox_restart_strategies():
        strategies.extend(contributed)
    strategies.append(SystemdUserStrategy())
    strategies.append(XdgAutostartStrategy())
    return strategies


def detect_restart_strategy(preferred: str | None = None) -> RestartStrategy | None:
    """The strategy to prime before a reboot, or ``None`` when none can work.

    :param preferred: a strategy name, as given in a launcher's ``[restart]
        strategy``. That strategy is returned when it is available and
        ``None`` when it is not: the launcher chose it, so no other is
        tried behind its back. A plugin strategy named like a built-in one
        takes its place.
    :raises UsageError: ``preferred`` names no known strategy.
    """
    strategies = restart_strategies()
    if preferred is not None:
        for strategy in strategies:
            if strategy.name == preferred:
                return strategy if strategy.available() else None
        known = ", ".join(dict.fromkeys(strategy.name for strategy in strategies))
        raise UsageError(
            f"unknown restart strategy {preferred!r}; known strategies: {known}"
        )
    for strategy in strategies:
        if strategy.available():
            return strategy
    return None
