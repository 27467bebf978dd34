"""The HTML report: one self-contained page a person reads in a browser.

The page fetches nothing (CSS and JS are inlined, a Content-Security-Policy
forbids every fetch) and is fully readable with JavaScript disabled: every
result is in the static markup and output sits in ``<details>`` elements;
the script only adds filtering by outcome and a text search.

Job text (ids, summaries, comments, output) is untrusted: it only reaches
the page through jinja2's autoescaping, or through :func:`ansi_to_html`,
which escapes the text first and then adds nothing but ``<span>`` tags with
classes from a fixed list.  Output is deterministic: the same
session exports to the same bytes (times come from the session, element
ids from positions).
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import json
import re
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from typing import BinaryIO
from typing import ClassVar

import jinja2
from markupsafe import Markup
from markupsafe import escape

from plainbox import __version__
from plainbox.exporters.base import Exporter
from plainbox.session.results import FAILING_OUTCOMES
from plainbox.session.results import JobResult
from plainbox.session.results import Outcome
from plainbox.session.view import ResultEntry
from plainbox.session.view import SessionView


__all__ = [
    "DEFAULT_MAX_OUTPUT",
    "HtmlExporter",
    "Trimmed",
    "ansi_to_html",
    "strip_controls",
    "trim_output",
]

#: Bytes of each output stream kept by default: enough for any useful log,
#: small enough that thousands of jobs still make a page a browser can open.
DEFAULT_MAX_OUTPUT = 64 * 1024

# Display order, label and glyph of each outcome.  The label is the real
# information (colour alone fails colour-blind readers); the glyph helps
# scanning a long list.
_OUTCOMES: dict[Outcome, tuple[str, str]] = {
    Outcome.PASS: ("Passed", "✓"),
    Outcome.FAIL: ("Failed", "✗"),
    Outcome.CRASH: ("Crashed", "‼"),
    Outcome.UNDECIDED: ("Undecided", "?"),
    Outcome.SKIP: ("Skipped", "–"),
    Outcome.SKIPPED_DEPENDENCY: ("Skipped: dependency", "–"),
    Outcome.SKIPPED_RESOURCE: ("Skipped: resource", "–"),
    Outcome.SKIPPED_MANIFEST: ("Skipped: manifest", "–"),
    Outcome.NOT_SUPPORTED: ("Not supported", "⊘"),
    Outcome.NOT_IMPLEMENTED: ("Not implemented", "⊘"),
}


def _control_pattern(escaped: bool) -> re.Pattern[str]:
    """What is not plain text: escape sequences and control characters.

    CSI sequences (SGR among them), OSC/DCS/SOS/PM/APC strings, other escape
    sequences, and lone control characters (C0 but newline and tab, DEL,
    C1).  An unterminated string runs to the end, so a truncated OSC cannot
    leak its payload.  ``escaped``: match in text already HTML-escaped,
    where the ``< > & " '`` bytes of a sequence have become entities.
    """
    if escaped:
        # Each entity is matched whole or not at all, and "&" matches
        # nothing else: removing a match never leaves a broken entity.
        params = r"(?:[0-;=?]|&lt;|&gt;)*"
        inter = r"(?:[ !#-%(-/]|&amp;|&#34;|&#39;)*"
        final = r"(?:[0-;=?-~]|&lt;|&gt;)"
    else:
        params, inter, final = r"[0-?]*", r"[ -/]*", r"[0-~]"
    return re.compile(
        # A CSI cut short, by the end of the text (trimmed output) or by
        # another control character (as a terminal would abort it), goes too.
        rf"(?:\x1b\[|\x9b)(?P<params>{params})(?P<inter>{inter})"
        r"(?:(?P<final>[@-~])|(?=[\x00-\x1f\x7f-\x9f])|\Z)"
        r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
        rf"|\x1b{inter}{final}?"
        r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
    )


_CONTROL = _control_pattern(escaped=False)
_ESCAPED_CONTROL = _control_pattern(escaped=True)
_SGR_PARAMS = re.compile(r"[0-9;]*")

# SGR codes that are kept, and nothing else: the classes are fixed, so no
# job output can choose a class name.
_FOREGROUND = {code: f"a-f{code - 30}" for code in range(30, 38)} | {
    code: f"a-f{code - 90 + 8}" for code in range(90, 98)
}

# The SGR state of a piece of output: a foreground class and boldness.
_Style = tuple[str | None, bool]
_PLAIN: _Style = (None, False)


def strip_controls(text: str) -> str:
    """``text`` without escape sequences and control characters (but ``\\n \\t``).

    For single-line or prose fields (ids, comments...), where even colours
    have no place and a bare ESC would leave ``[31m`` residue behind.
    """
    return _CONTROL.sub("", text)


def _classes(style: _Style) -> str:
    colour, bold = style
    if colour and bold:
        return f"{colour} a-b"
    return colour or ("a-b" if bold else "")


@functools.lru_cache(maxsize=1024)
def _sgr(style: _Style, params: str) -> tuple[_Style, str]:
    """The style after an SGR sequence, and the tags that switch to it.

    Cached: output repeats the same few colour changes many times over.
    """
    colour, bold = style
    codes = [int(code) if code else 0 for code in params.split(";")]
    position = 0
    while position < len(codes):
        code = codes[position]
        position += 1
        if code == 0:
            colour, bold = None, False
        elif code == 1:
            bold = True
        elif code == 22:
            bold = False
        elif code == 39:
            colour = None
        elif code in _FOREGROUND:
            colour = _FOREGROUND[code]
        elif code in (38, 48, 58) and position < len(codes):
            # Extended colours carry their arguments in the next codes
            # (5;N or 2;R;G;B): skip them, or "38;5;31" would read as red.
            position += 2 if codes[position] == 5 else 4
    new = (colour, bold)
    before, after = _classes(style), _classes(new)
    if before == after:
        return new, ""
    tags = "</span>" if before else ""
    if after:
        tags += f'<span class="{after}">'
    return new, tags


def ansi_to_html(text: str) -> Markup:
    """Output as safe HTML: escaped text, SGR colours as ``<span class=...>``.

    The text is escaped first, whole; then escape sequences are removed from
    it (matching entities whole, see :func:`_control_pattern`) and SGR ones
    replaced by spans with fixed classes, so nothing from ``text`` ever
    becomes markup.  Every span is closed at the end.
    """
    escaped = str(escape(text))
    if not _ESCAPED_CONTROL.search(escaped):
        return Markup(escaped)  # the common case: no colours, no controls
    style = _PLAIN

    def replace(match: re.Match[str]) -> str:
        nonlocal style
        params = match.group("params")
        if (
            match.group("final") != "m"
            or match.group("inter")
            or not _SGR_PARAMS.fullmatch(params)
        ):
            return ""  # any other sequence or control character is dropped
        style, tags = _sgr(style, params)
        return tags

    html = _ESCAPED_CONTROL.sub(replace, escaped)
    if _classes(style):
        html += "</span>"
    return Markup(html)


@dataclass(frozen=True, slots=True)
class Trimmed:
    """An output stream cut to a byte budget: its head, its tail, what's gone."""

    head: str
    tail: str
    dropped: int  # bytes left out between head and tail; 0: nothing was
    size: int  # bytes of the whole stream (UTF-8)


def trim_output(text: str, limit: int) -> Trimmed:
    """Keep about ``limit`` UTF-8 bytes of ``text``: half from each end.

    Cuts move to a line boundary when one is near, so the marker stands on
    its own line and no escape sequence is cut in half; otherwise they fall
    between characters (never inside one).  ``limit`` 0 keeps everything.
    """
    data = text.encode("utf-8", errors="surrogatepass")
    size = len(data)
    if limit <= 0 or size <= limit:
        return Trimmed(text, "", 0, size)
    head_end = limit // 2
    tail_start = size - (limit - head_end)
    slack = max(limit // 8, 1)
    newline = data.rfind(b"\n", head_end - slack, head_end)
    if newline != -1:
        head_end = newline + 1
    newline = data.find(b"\n", tail_start, tail_start + slack)
    if newline != -1:
        tail_start = newline + 1
    # A cut inside a multi-byte character leaves a few bytes of it at the
    # end of the head or the start of the tail: they are dropped with the
    # rest, never shown as a replacement character.
    head = data[:head_end].decode("utf-8", errors="ignore")
    tail = data[tail_start:].decode("utf-8", errors="ignore")
    kept = len(head.encode("utf-8")) + len(tail.encode("utf-8"))
    return Trimmed(head, tail, size - kept, size)


def _size_label(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"


def _duration_label(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.2f} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min {secs:02d} s"
    return f"{minutes} min {secs:02d} s"


def _time_label(timestamp: float | None) -> tuple[str, str]:
    """``(machine, human)`` forms of a time, or empty strings for None."""
    if timestamp is None:
        return "", ""
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)
    return (
        moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        moment.strftime("%Y-%m-%d %H:%M:%S UTC"),
    )


def _css(outcome: Outcome) -> str:
    # Skips get a second class: they are drawn outlined, not filled.
    return f"o-{outcome.value} skipish" if outcome.is_skip else f"o-{outcome.value}"


# Outcomes the "Problems only" filter keeps: failures, and jobs nobody judged.
_PROBLEMS = FAILING_OUTCOMES | {Outcome.UNDECIDED}


@dataclass(frozen=True, slots=True)
class _Output:
    name: str  # stdout or stderr
    head: Markup
    tail: Markup
    dropped: str  # "" when nothing was trimmed, else the marker's count
    size: str


@dataclass(frozen=True, slots=True)
class _Row:
    anchor: str
    job_id: str
    summary: str
    description: str
    outcome: str
    css: str
    label: str
    glyph: str
    failing: bool
    certification: str
    blocker: bool
    duration: str
    device: str
    attempts: tuple[str, ...]  # outcomes of every attempt, when more than one
    return_code: int | None
    comments: str
    skip_reason: tuple[tuple[str, tuple[str, ...]], ...]
    outputs: tuple[_Output, ...]


@dataclass(frozen=True, slots=True)
class _Count:
    outcome: str
    css: str
    label: str
    glyph: str
    problem: bool
    count: int
    percent: str


@dataclass(frozen=True, slots=True)
class _Category:
    name: str
    category_id: str
    rows: tuple[_Row, ...]
    counts: tuple[_Count, ...]


@dataclass(frozen=True, slots=True)
class _Bar:
    outcome: str
    css: str
    label: str
    glyph: str
    count: int
    percent: str
    y: int
    width: str
    text_x: str


def _skip_reason(
    reason: dict[str, Any] | None,
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The skip reason as ``(heading, items)`` lines, known keys first."""
    if not reason:
        return ()
    known = {
        "related_dependencies": "Blocked by jobs",
        "related_resources": "Resource requirement not met",
    }
    lines = []
    for key, heading in known.items():
        if key in reason:
            value = reason[key]
            items = value if isinstance(value, list | tuple) else [value]
            lines.append((heading, tuple(strip_controls(str(item)) for item in items)))
    for key in sorted(set(reason) - set(known)):
        value = reason[key]
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        lines.append((strip_controls(key), (strip_controls(text),)))
    return tuple(lines)


def _outputs(entry: ResultEntry, limit: int) -> tuple[_Output, ...]:
    outputs = []
    for name, text in zip(("stdout", "stderr"), entry.output(), strict=True):
        if not text:
            continue
        trimmed = trim_output(text, limit)
        outputs.append(
            _Output(
                name=name,
                head=ansi_to_html(trimmed.head),
                tail=ansi_to_html(trimmed.tail),
                dropped=f"{trimmed.dropped:,}" if trimmed.dropped else "",
                size=_size_label(trimmed.size),
            )
        )
    return tuple(outputs)


def _attempts(attempts: Sequence[JobResult]) -> tuple[str, ...]:
    if len(attempts) < 2:
        return ()
    return tuple(attempt.outcome.value for attempt in attempts)


def _row(number: int, entry: ResultEntry, limit: int) -> _Row:
    job, result = entry.job, entry.result
    label, glyph = _OUTCOMES[result.outcome]
    ran = not (result.outcome.is_skip and result.return_code is None)
    return _Row(
        anchor=f"job-{number}",
        job_id=strip_controls(job.id),
        summary=strip_controls(job.summary),
        description=strip_controls(job.full_description),
        outcome=result.outcome.value,
        css=_css(result.outcome),
        label=label,
        glyph=glyph,
        failing=result.outcome in FAILING_OUTCOMES,
        certification=strip_controls(job.certification_status),
        blocker=job.certification_status == "blocker",
        duration=_duration_label(result.duration) if ran else "",
        device=strip_controls(entry.device),
        attempts=_attempts(entry.attempts),
        return_code=result.return_code,
        comments=strip_controls(result.comments),
        skip_reason=_skip_reason(result.skip_reason),
        outputs=_outputs(entry, limit),
    )


def _counts(rows: Sequence[_Row]) -> tuple[_Count, ...]:
    """How many rows have each outcome, in display order, zeros left out."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.outcome] = counts.get(row.outcome, 0) + 1
    return tuple(
        _Count(
            outcome=outcome.value,
            css=_css(outcome),
            label=label,
            glyph=glyph,
            problem=outcome in _PROBLEMS,
            count=counts[outcome.value],
            percent=f"{100 * counts[outcome.value] / len(rows):.1f}",
        )
        for outcome, (label, glyph) in _OUTCOMES.items()
        if outcome.value in counts
    )


def _categories(session: SessionView, rows: Sequence[_Row]) -> list[_Category]:
    """Rows grouped by category, categories sorted by name, rows in run order."""
    groups: dict[str, list[_Row]] = {}
    for entry, row in zip(session.entries, rows, strict=True):
        groups.setdefault(entry.job.category_id, []).append(row)
    categories = [
        _Category(
            name=strip_controls(session.category_name(category_id)),
            category_id=strip_controls(category_id),
            rows=tuple(members),
            counts=_counts(members),
        )
        for category_id, members in groups.items()
    ]
    categories.sort(
        key=lambda category: (category.name.casefold(), category.category_id)
    )
    return categories


# Geometry of the summary chart (SVG user units): a row per outcome, its
# label, then its bar (scaled to the largest count), then the count.
_CHART_LABEL = 170
_CHART_BAR = 330
_CHART_ROW = 28
_CHART_WIDTH = _CHART_LABEL + _CHART_BAR + 110


def _bars(counts: Sequence[_Count]) -> list[_Bar]:
    largest = max((item.count for item in counts), default=0)
    bars = []
    for index, item in enumerate(counts):
        # A sliver stays visible for a count of one next to thousands.
        width = max(_CHART_BAR * item.count / largest, 2.0) if largest else 0.0
        bars.append(
            _Bar(
                outcome=item.outcome,
                css=item.css,
                label=item.label,
                glyph=item.glyph,
                count=item.count,
                percent=item.percent,
                y=index * _CHART_ROW,
                width=f"{width:.2f}",
                text_x=f"{_CHART_LABEL + width + 8:.2f}",
            )
        )
    return bars


@functools.cache
def _environment() -> jinja2.Environment:
    # autoescape=True for every template, not select_autoescape(): that one
    # matches file names, and "report.html.j2" would not match.
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("plainbox.exporters", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    return environment


@functools.cache
def _template() -> jinja2.Template:
    return _environment().get_template("report.html.j2")


@functools.cache
def _static(name: str) -> Markup:
    """A static file of ours to inline (CSS or JS), trusted as is."""
    environment = _environment()
    assert environment.loader is not None
    source, _, _ = environment.loader.get_source(environment, name)
    if "</" in source:
        # An end tag would end the <style> or <script> element early.
        raise RuntimeError(f"{name} must not contain '</'")
    return Markup(source)


def _csp_hash(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


class HtmlExporter(Exporter):
    """The HTML report: a single page, readable offline and without JavaScript."""

    id = "html"
    file_extension = "html"
    summary = "HTML: one self-contained page for people, with filters and output"
    option_help: ClassVar[Mapping[str, str]] = {
        "max-output": (
            "bytes of each job's stdout and of its stderr to keep (default "
            f"{DEFAULT_MAX_OUTPUT}); longer output keeps its head and tail "
            "around a '… N bytes trimmed …' marker; 0 keeps everything"
        ),
    }

    def __init__(self, option_list: Sequence[str] = (), strict: bool = True) -> None:
        super().__init__(option_list, strict)
        self.max_output = self.whole_number_option(
            "max-output", DEFAULT_MAX_OUTPUT, "bytes"
        )

    def export(self, session: SessionView, stream: BinaryIO) -> None:
        for chunk in self._render(session):
            stream.write(chunk.encode("utf-8", errors="replace"))

    def _render(self, session: SessionView) -> Iterator[str]:
        rows = [
            _row(number, entry, self.max_output)
            for number, entry in enumerate(session.entries, start=1)
        ]
        counts = _counts(rows)
        devices = {strip_controls(name) for name in session.devices}
        devices.update(row.device for row in rows)
        script = _static("report.js")
        duration = None
        if session.created is not None and session.finished is not None:
            duration = max(session.finished - session.created, 0.0)
        context = {
            "version": __version__,
            "title": strip_controls(session.title) or "Test session",
            "session_id": strip_controls(session.id),
            "test_plan": strip_controls(session.test_plan or ""),
            "started": _time_label(session.created),
            "finished": _time_label(session.finished),
            "duration": _duration_label(duration),
            "flags": sorted(strip_controls(flag) for flag in session.flags),
            "devices": sorted(devices),
            "many_devices": len(devices) > 1,
            "total": len(rows),
            "counts": counts,
            "bars": _bars(counts),
            "chart": {
                "label": _CHART_LABEL,
                "width": _CHART_WIDTH,
                "height": max(len(counts), 1) * _CHART_ROW,
            },
            "blockers": [row for row in rows if row.blocker and row.failing],
            "categories": _categories(session, rows),
            "css": _static("report.css"),
            "script": script,
            "script_hash": _csp_hash(str(script)),
        }
        # Rendering in pieces keeps a big report from being one huge string;
        # joining a few hundred pieces keeps writes few.
        buffer: list[str] = []
        for piece in _template().generate(**context):
            buffer.append(piece)
            if len(buffer) >= 512:
                yield "".join(buffer)
                buffer.clear()
        yield "".join(buffer)
