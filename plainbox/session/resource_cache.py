"""Resource records kept across sessions for jobs flagged ``cachable``.

A resource job with the ``cachable`` flag may have its parsed records reused
by a later session instead of running again. Entries are keyed by the job's
checksum, which changes whenever its definition does, so an edited job never
gets stale records. Layout: one file per checksum under the cache root::

    <root>/<checksum>.json  {"format": 1, "job_id": ..., "checksum": ...,
                             "records": [{"key": "value", ...}, ...]}

The cache is an optimisation: a missing, unreadable, corrupt or foreign entry
is a miss, never an error. Entries are written atomically (a temporary file,
fsync, then ``os.replace``), so readers and concurrent writers of the same key
only ever see whole entries. The root and its missing parents are created on
first write with mode 0700, entries with 0600: resource records describe the
machine and are nobody else's business.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path

from plainbox import paths
from plainbox.units.model import JobDefinition


__all__ = ["FORMAT", "ResourceCache", "is_cachable"]

#: Version of the entry format; entries of any other version are misses.
FORMAT = 1

# A checksum names a file, so only plain hex is allowed: no separators, no
# dots, nothing a crafted definition could use to leave the cache root.
_CHECKSUM = re.compile(r"[0-9a-f]{8,128}")
_SUFFIX = ".json"
_TEMP_SUFFIX = ".tmp"


def is_cachable(job: JobDefinition) -> bool:
    """True when the job's records may be reused across sessions."""
    return job.plugin == "resource" and "cachable" in job.flags


class ResourceCache:
    """Parsed records of ``cachable`` resource jobs, by job checksum."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else paths.cache_dir() / "resources"

    def get(self, job: JobDefinition) -> list[dict[str, str]] | None:
        """The records cached for this exact definition, or None on a miss.

        A job that is not cachable, has no entry, or whose entry cannot be
        read or is not a well-formed entry for this job, is a miss.
        """
        path = self._entry(job)
        if path is None:
            return None
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError):
            # ValueError covers bad JSON and bytes that are not UTF-8.
            return None
        return _records_of(data, job)

    def put(self, job: JobDefinition, records: Sequence[Mapping[str, str]]) -> None:
        """Keep the records of a cachable job; other jobs are ignored.

        :raises OSError: the entry could not be written; nothing is left
            behind and an earlier entry for the key stays as it was.
        """
        path = self._entry(job)
        if path is None:
            return
        entry = {
            "format": FORMAT,
            "job_id": job.id,
            "checksum": job.checksum,
            "records": [dict(record) for record in records],
        }
        data = json.dumps(entry, ensure_ascii=False, sort_keys=True).encode()
        self._make_root()
        # mkstemp creates the file 0600 with a unique name, so concurrent
        # writers of one key never share a temporary file.
        fd, temp_name = tempfile.mkstemp(
            prefix=f".{job.checksum}.", suffix=_TEMP_SUFFIX, dir=self.root
        )
        temp = Path(temp_name)
        try:
            # mkstemp's 0600 is filtered by the umask; set it exactly.
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            temp.replace(path)
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise
        self._sync_root()

    def clear(self) -> int:
        """Remove every entry (and leftover temporary files); how many entries went.

        Files in the root that are not entries are left alone.

        :raises OSError: an entry could not be removed.
        """
        try:
            children = list(self.root.iterdir())
        except FileNotFoundError:
            return 0
        removed = 0
        for child in children:
            name = child.name
            is_entry = name.endswith(_SUFFIX) and _CHECKSUM.fullmatch(
                name[: -len(_SUFFIX)]
            )
            is_temp = name.startswith(".") and name.endswith(_TEMP_SUFFIX)
            if not (is_entry or is_temp):
                continue  # not ours: leave it alone
            try:
                child.unlink()
            except FileNotFoundError:
                continue  # a concurrent clear got there first
            removed += bool(is_entry)
        return removed

    def _entry(self, job: JobDefinition) -> Path | None:
        if not is_cachable(job) or not _CHECKSUM.fullmatch(job.checksum):
            return None
        return self.root / f"{job.checksum}{_SUFFIX}"

    def _make_root(self) -> None:
        missing = []
        directory = self.root
        while not directory.exists():
            missing.append(directory)
            directory = directory.parent
        for directory in reversed(missing):
            try:
                directory.mkdir(mode=0o700)
            except FileExistsError:
                continue  # created concurrently; its creator set the mode
            # mkdir's mode is filtered by the umask; set it exactly.
            directory.chmod(0o700)

    def _sync_root(self) -> None:
        # Make the rename itself durable; a filesystem that cannot sync a
        # directory still has the whole entry, so failure here is harmless.
        with contextlib.suppress(OSError):
            fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _records_of(data: object, job: JobDefinition) -> list[dict[str, str]] | None:
    """The records of a decoded entry, or None when it is not one for ``job``."""
    if not isinstance(data, dict):
        return None
    if (
        data.get("format") != FORMAT
        or data.get("checksum") != job.checksum
        or data.get("job_id") != job.id
    ):
        return None
    records = data.get("records")
    if not isinstance(records, list):
        return None
    result: list[dict[str, str]] = []
    for record in records:
        if not isinstance(record, dict) or not all(
            isinstance(key, str) and isinstance(value, str)
            for key, value in record.items()
        ):
            return None
        result.append(record)
    return result
