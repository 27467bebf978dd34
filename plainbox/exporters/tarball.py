"""The submission tarball: every report and every job's output in one file.

A ``tar.xz`` holding, in sorted name order::

    attachments/<n>-<slug>     stdout of attachment job n (when not empty)
    junit.xml                  the JUnit report (when that exporter exists)
    logs/<n>-<slug>.stderr     stderr of job n (when not empty)
    logs/<n>-<slug>.stdout     stdout of job n but attachments (when not empty)
    report.html                the HTML report
    submission.json            the Checkbox submission JSON

``n`` is the job's position in run order, zero-padded so names sort in run
order and make every name unique (the same job can run on several devices);
``slug`` is its partial id reduced to ``[A-Za-z0-9._-]`` with no ``..``, so
no job id can name a path outside the archive.  Output is exactly the bytes
printed.

The archive is reproducible: members carry the session's finish time (else
its creation time), uid/gid 0, empty owner names and mode 0644, and xz is
deterministic for a given preset, so the same session exports to the same
bytes.  Members are made one at a time: memory holds the largest member
(and the xz window), not the archive.
"""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import BinaryIO
from typing import ClassVar
from typing import Literal

from plainbox.errors import CorruptSessionError
from plainbox.errors import ExporterError
from plainbox.exporters.base import Exporter
from plainbox.exporters.htmlreport import HtmlExporter
from plainbox.exporters.submission import SubmissionExporter
from plainbox.session.view import ResultEntry
from plainbox.session.view import SessionView
from plainbox.session.view import read_output


__all__ = [
    "DEFAULT_PRESET",
    "MAX_SLUG",
    "TarballExporter",
    "member_slug",
    "member_stems",
]

#: xz preset used unless ``xz-preset`` says otherwise.  Measured on a
#: 10,000-job session: preset 6 (xz's own default) took 45 s and ~94 MiB of
#: compressor memory for a 9.7 MB archive; preset 1 takes 14 s and ~9 MiB for
#: 13.6 MB.  Devices are small and sessions big, so 1; 0 needs ~3 MiB
#: (Checkbox ran out of memory packing on an 832 MiB board).
DEFAULT_PRESET = 1

_Preset = Literal[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
# Spelled out so the type checker knows each value is a valid preset.
_PRESETS: Mapping[str, _Preset] = {
    "0": 0,
    "1": 1,
    "2": 2,
    "3": 3,
    "4": 4,
    "5": 5,
    "6": 6,
    "7": 7,
    "8": 8,
    "9": 9,
}

#: The longest slug: keeps every member name within ustar's 100 bytes, which
#: every tar reader handles without extensions.
MAX_SLUG = 64

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# A dot next to another dot or to a replaced character: "../", "a...b".
_DOT_RUN = re.compile(r"[._]*\.[._]*")


def _dot_run(match: re.Match[str]) -> str:
    return "." if len(match.group()) == 1 else "_"


def member_slug(job_id: str) -> str:
    """``job_id`` as one safe path component: never empty, ``.`` or ``..``.

    Every run of other characters than ``[A-Za-z0-9._-]`` (``/``, ``:``,
    spaces, controls, non-ASCII) becomes ``_``, and so does every run of
    dots and underscores holding more than a lone dot, so no ``..`` is left;
    leading and trailing dots and underscores go (no hidden files, and
    ``../../etc/passwd`` reads ``etc_passwd``).
    """
    slug = _DOT_RUN.sub(_dot_run, _UNSAFE.sub("_", job_id))
    slug = slug[:MAX_SLUG].strip("._")
    return slug or "job"


def _member_time(session: SessionView) -> int:
    moment = session.finished if session.finished is not None else session.created
    # Before the epoch would be a negative mtime, which ustar cannot store.
    return max(0, int(moment)) if moment is not None else 0


def _render(exporter: Exporter, session: SessionView) -> bytes:
    buffer = io.BytesIO()
    exporter.export(session, buffer)
    return buffer.getvalue()


def member_stems(session: SessionView) -> list[str]:
    """``<n>-<slug>`` of each entry, in run order.

    ``n`` is zero-padded to one width for the whole session, so sorting the
    names sorts them in run order, and it alone makes every stem unique.
    """
    width = max(4, len(str(len(session.entries))))
    return [
        f"{number:0{width}d}-{member_slug(entry.job.partial_id)}"
        for number, entry in enumerate(session.entries, start=1)
    ]


def _junit_exporter() -> Exporter | None:
    """The JUnit exporter, or None while the installed plainbox has none."""
    try:
        from plainbox.exporters.junitxml import JunitExporter
    except ImportError:
        return None
    return JunitExporter()


def _encode(text: str) -> bytes:
    try:
        # Undo a surrogateescape decoding: the bytes as printed.
        return text.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="replace")


def _output(entry: ResultEntry) -> tuple[bytes, bytes]:
    """The exact bytes a job printed; a note on stderr when they are lost."""
    result = entry.result
    if result.stdout or result.stderr:
        return _encode(result.stdout), _encode(result.stderr)
    try:
        return read_output(entry.session_dir, result)
    except (OSError, ValueError, CorruptSessionError) as exc:
        return b"", f"(the io-log cannot be read: {exc})\n".encode(errors="replace")


class TarballExporter(Exporter):
    """A reproducible ``tar.xz`` of the reports and output (see the module doc)."""

    id = "tar"
    file_extension = "tar.xz"
    summary = "tar.xz of submission.json, report.html, junit.xml and every log"
    option_help: ClassVar[Mapping[str, str]] = {
        "xz-preset": (
            f"xz-preset=0..9: compression preset (default {DEFAULT_PRESET});"
            " 0 packs with a few MiB of memory, for small devices"
        ),
    }

    def __init__(self, option_list: Sequence[str] = (), strict: bool = True) -> None:
        super().__init__(option_list, strict)
        raw = self.options.get("xz-preset", str(DEFAULT_PRESET))
        # Checked here, not in export(), so a bad option fails before a run.
        if raw not in _PRESETS:
            raise ExporterError(
                f"exporter 'tar': xz-preset must be a number from 0 to 9, not {raw!r}"
            )
        self.preset: _Preset = _PRESETS[raw]

    def members(self, session: SessionView) -> Iterator[tuple[str, bytes]]:
        """Each member's name and content, one at a time, in sorted name order.

        Written out in that order rather than sorted afterwards, so each
        job's output is read once (twice for attachments) and only one
        member is in memory at a time.  The order holds because the
        prefixes sort "attachments/" < "junit.xml" < "logs/" <
        "report.html" < "submission.json", stems sort in run order, and
        ".stderr" < ".stdout".
        """
        stems = member_stems(session)
        for stem, entry in zip(stems, session.entries, strict=True):
            if entry.job.plugin == "attachment":
                stdout, _ = _output(entry)
                if stdout:
                    yield f"attachments/{stem}", stdout
        junit = _junit_exporter()
        if junit is not None:
            yield "junit.xml", _render(junit, session)
        for stem, entry in zip(stems, session.entries, strict=True):
            stdout, stderr = _output(entry)
            if stderr:
                yield f"logs/{stem}.stderr", stderr
            if stdout and entry.job.plugin != "attachment":
                yield f"logs/{stem}.stdout", stdout
        yield "report.html", _render(HtmlExporter(), session)
        yield "submission.json", _render(SubmissionExporter(), session)

    def export(self, session: SessionView, stream: BinaryIO) -> None:
        mtime = _member_time(session)
        with tarfile.open(
            fileobj=stream, mode="w:xz", preset=self.preset, format=tarfile.PAX_FORMAT
        ) as archive:
            for name, data in self.members(session):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mtime = mtime
                info.mode = 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                archive.addfile(info, io.BytesIO(data))
