"""Session directories on disk.

A repository (``<state dir>/sessions``) holds one directory per session::

    <session id>/
      session.json   small header, replaced atomically; a cache for listing
      journal.jsonl  the record of everything that happened (the truth)
      lock           held (fcntl) by the one process writing the session
      io-logs/       one JSON-lines log per job attempt
      attachments/
      share/         $PLAINBOX_SESSION_SHARE

Directories are 0700 and files 0600.  A session directory is built under a
hidden temporary name and renamed into place once its header and journal
exist, so a listing never meets a half-created session.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from plainbox import paths
from plainbox.errors import CorruptSessionError
from plainbox.errors import IncompatibleSessionError
from plainbox.errors import SessionError
from plainbox.errors import SessionLockedError
from plainbox.session.journal import Journal
from plainbox.session.journal import JournalContents
from plainbox.session.journal import read_journal


__all__ = [
    "FORMAT_VERSION",
    "SessionStorage",
    "SessionStorageRepository",
    "write_atomically",
]

#: Version of the on-disk format (header and journal records).  Readers
#: accept every version up to this one; ``_MIGRATIONS`` upgrades older ones.
FORMAT_VERSION = 1
_FORMAT_NAME = "plainbox-session"
# Used with fullmatch: "$" alone also matches before a trailing newline.
_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")

HEADER_NAME = "session.json"
JOURNAL_NAME = "journal.jsonl"
LOCK_NAME = "lock"
IO_LOGS = "io-logs"
ATTACHMENTS = "attachments"
SHARE = "share"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` so readers see the old or the new file.

    ``durable`` also fsyncs the file and its directory, so the new content
    survives power loss; without it the rename is still atomic.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        try:
            # os.write may write less than asked (a signal, a full disk);
            # renaming a short file into place would lose the rest.
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)  # a failed write leaves nothing behind
        raise
    if durable:
        _fsync_dir(path.parent)


def _upgrade_header(header: dict[str, Any], path: Path) -> dict[str, Any]:
    if header.get("format") != _FORMAT_NAME:
        raise CorruptSessionError(f"{path}: not a plainbox session header")
    version = header.get("version")
    if not isinstance(version, int) or version < 1:
        raise CorruptSessionError(f"{path}: the header has no valid format version")
    if version > FORMAT_VERSION:
        raise IncompatibleSessionError(
            f"{path}: written in session format {version} by a newer plainbox;"
            f" this one reads formats up to {FORMAT_VERSION}"
        )
    # Each future format bump adds one step here: header = _MIGRATIONS[v](header).
    return header


class SessionStorage:
    """One session's directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_fd = -1

    def __repr__(self) -> str:
        return f"SessionStorage({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SessionStorage) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    @property
    def id(self) -> str:
        """The session id: the directory's name."""
        return self.path.name

    @property
    def header_path(self) -> Path:
        return self.path / HEADER_NAME

    @property
    def journal_path(self) -> Path:
        return self.path / JOURNAL_NAME

    @property
    def io_log_dir(self) -> Path:
        return self.path / IO_LOGS

    @property
    def attachments_dir(self) -> Path:
        return self.path / ATTACHMENTS

    @property
    def share_dir(self) -> Path:
        return self.path / SHARE

    # -- header ---------------------------------------------------------------

    def read_header(self) -> dict[str, Any]:
        """The header, upgraded to the current format.

        :raises CorruptSessionError: missing or unreadable header.
        :raises IncompatibleSessionError: written by a newer plainbox.
        """
        try:
            header = json.loads(self.header_path.read_bytes())
        except FileNotFoundError as exc:
            raise CorruptSessionError(f"{self.header_path}: missing") from exc
        except (OSError, ValueError) as exc:
            raise CorruptSessionError(f"{self.header_path}: {exc}") from exc
        if not isinstance(header, dict):
            raise CorruptSessionError(f"{self.header_path}: not a JSON object")
        return _upgrade_header(header, self.header_path)

    def write_header(self, header: dict[str, Any], *, durable: bool = True) -> None:
        """Replace the header atomically."""
        # Format and version last: a header read back (perhaps upgraded from
        # an older version) must not write its old version over the new one.
        header = {**header, "format": _FORMAT_NAME, "version": FORMAT_VERSION}
        data = json.dumps(header, indent=1, sort_keys=True).encode("utf-8") + b"\n"
        write_atomically(self.header_path, data, durable=durable)

    # -- journal --------------------------------------------------------------

    def read_journal(self) -> JournalContents:
        """Every record (read-only; no lock needed)."""
        return read_journal(self.journal_path)

    def open_journal(self, contents: JournalContents | None = None) -> Journal:
        """The journal, open for appending; the caller must hold the lock."""
        if self._lock_fd < 0:
            raise SessionError(f"{self.path}: the session must be locked to write")
        return Journal(self.journal_path, contents)

    # -- lock -----------------------------------------------------------------

    @property
    def locked(self) -> bool:
        """True while this object holds the session's lock."""
        return self._lock_fd >= 0

    def lock(self) -> None:
        """Take the session's exclusive lock.

        :raises SessionLockedError: another process holds it; ``pid`` names it.
        """
        if self._lock_fd >= 0:
            return
        path = self.path / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except FileNotFoundError as exc:
            raise SessionError(f"{self.path}: no such session") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"process {holder}" if holder else "another process"
            raise SessionLockedError(
                f"session {self.id} is in use by {who}", holder
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def unlock(self) -> None:
        """Release the lock (the kernel also releases it if the process dies)."""
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def lock_holder(self) -> int | None:
        """The pid of the process holding the lock, or None if it is free."""
        if self._lock_fd >= 0:
            return os.getpid()
        try:
            fd = os.open(self.path / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd) or -1
        finally:
            os.close(fd)
        return None

    # -- lifetime -------------------------------------------------------------

    def populate(self) -> None:
        """Create the well-known directories (idempotent)."""
        for directory in (self.io_log_dir, self.attachments_dir, self.share_dir):
            directory.mkdir(mode=0o700, exist_ok=True)

    def remove(self) -> None:
        """Delete the whole session directory."""
        self.unlock()
        shutil.rmtree(self.path, ignore_errors=True)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _creation_time(storage: SessionStorage) -> float:
    # The header records when the session was made; the directory's times
    # change whenever the header is replaced, so they are only a fallback.
    try:
        created = json.loads(storage.header_path.read_bytes()).get("created")
        if isinstance(created, (int, float)):
            return float(created)
    except (OSError, ValueError, AttributeError):
        pass
    try:
        return storage.path.stat().st_mtime
    except OSError:
        return 0.0


class SessionStorageRepository:
    """The directory holding every session."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else paths.sessions_dir()

    def __repr__(self) -> str:
        return f"SessionStorageRepository({str(self.root)!r})"

    def _ensure_root(self) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        # The state dir may have been made by someone else; keep it private.
        if self.root.stat().st_mode & 0o077:
            self.root.chmod(0o700)

    def create_storage(
        self,
        prefix: str = "pbox-",
        header: dict[str, Any] | None = None,
        *,
        fixed_id: str | None = None,
        initial_records: Sequence[tuple[str, dict[str, Any]]] = (),
    ) -> SessionStorage:
        """Make a new, locked session directory with a header and an empty journal.

        The id is ``<prefix><UTC date>-<UTC time>-<random>``, or ``fixed_id``.
        """
        # The id must be a valid one: a prefix starting with "." or "-" would
        # make a session that is never listed and that get() rejects.
        if not re.fullmatch(r"(?:[A-Za-z0-9][A-Za-z0-9._-]{0,63})?", prefix):
            raise ValueError(f"invalid session id prefix {prefix!r}")
        self._ensure_root()
        if fixed_id is not None:
            if not _ID_PATTERN.fullmatch(fixed_id) or (self.root / fixed_id).exists():
                raise SessionError(f"{self.root}: cannot create session {fixed_id!r}")
            session_id, final = fixed_id, self.root / fixed_id
        else:
            session_id, final = self._new_id(prefix)
        # A unique hidden name: one left by a crash mid-creation must not
        # block creating the same fixed id (the legacy session) ever again.
        building = self.root / f".{session_id}.{secrets.token_hex(4)}.new"
        building.mkdir(mode=0o700)
        storage = SessionStorage(building)
        storage.populate()
        storage.write_header({"id": session_id, **(header or {})}, durable=False)
        # The first records go in before the rename: a session is never seen
        # without them.
        journal = Journal(storage.journal_path, JournalContents())
        try:
            for kind, data in initial_records:
                journal.append(kind, data)
            os.fsync(journal.fileno())
        finally:
            journal.close()
        building.rename(final)
        _fsync_dir(self.root)
        storage = SessionStorage(final)
        storage.lock()
        return storage

    def _new_id(self, prefix: str) -> tuple[str, Path]:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        for _ in range(100):
            session_id = f"{prefix}{stamp}-{secrets.token_hex(3)}"
            final = self.root / session_id
            if not final.exists():
                return session_id, final
        raise SessionError(  # pragma: no cover - 100 collisions of 24 random bits
            f"{self.root}: cannot find a free session id"
        )

    def get_storage_list(self) -> list[SessionStorage]:
        """Every session, newest first (by the header's creation time, else mtime)."""
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return []
        sessions = [
            entry
            for entry in entries
            if not entry.name.startswith(".")
            and _ID_PATTERN.fullmatch(entry.name)
            and entry.is_dir(follow_symlinks=False)
        ]
        storages = [SessionStorage(Path(entry.path)) for entry in sessions]
        storages.sort(key=_creation_time, reverse=True)
        return storages

    def get(self, session_id: str) -> SessionStorage:
        """The session with this id.

        :raises LookupError: no such session (or not a valid id).
        """
        if not _ID_PATTERN.fullmatch(session_id):
            raise LookupError(f"no session {session_id!r}")
        path = self.root / session_id
        if not (path / HEADER_NAME).is_file():
            raise LookupError(f"no session {session_id!r}")
        return SessionStorage(path)

    def sessions(self) -> Iterator[SessionStorage]:
        """Iterate over :meth:`get_storage_list`."""
        yield from self.get_storage_list()


@contextlib.contextmanager
def temporary_repository() -> Iterator[SessionStorageRepository]:
    """A repository in a temporary directory, removed with everything in it."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="plainbox-throwaway-") as root:
        yield SessionStorageRepository(Path(root) / "sessions")
