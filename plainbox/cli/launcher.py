"""Checkbox launcher files (INI): the parts plainbox applies, kept for the run.

Sections and keys read (see ``checkbox-compat.md`` §6.1)::

    [launcher]        launcher_version (int), app_id, stock_reports (list),
                      session_title
    [test plan]       unit (a test plan id), forced (bool)
    [test selection]  forced (bool), exclude, match (regular expressions)
    [ui]              type = interactive | silent
    [environment]     KEY = value, passed to every job (keys keep their case)
    [manifest]        namespace::id = value (kept for the manifest)

Other sections and keys Checkbox knows are accepted with a warning that
plainbox ignores them; unknown ones get an "unknown" warning. Both name
``path:line``. A file that is not valid INI is a :class:`UsageError`.

Selection patterns are regular expressions anchored to the whole job id (or
template id). A pattern without ``::`` may match in any namespace:
``wireless/.*`` matches ``com.canonical.certification::wireless/scan``.
"""

from __future__ import annotations

import configparser
import difflib
import re
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from pathlib import Path

from plainbox.errors import UsageError
from plainbox.units.model import TestPlan
from plainbox.units.problems import Origin
from plainbox.units.testplan import Qualifier
from plainbox.units.testplan import parse_qualifiers


__all__ = [
    "STOCK_REPORTS",
    "Launcher",
    "anchored_pattern",
    "load_launcher",
    "pattern_qualifiers",
    "with_exclusions",
]

STOCK_REPORTS = frozenset(
    {
        "text",
        "certification",
        "certification-staging",
        "submission_files",
        "submission_json",
        "none",
    }
)
_UI_TYPES = {
    "interactive": "interactive",
    "silent": "silent",
    "converged": "interactive",
    "converged-silent": "silent",
}
# What plainbox applies, per section; None: free keys.
_APPLIED: dict[str, frozenset[str] | None] = {
    "launcher": frozenset(
        {"launcher_version", "app_id", "stock_reports", "session_title"}
    ),
    "test plan": frozenset({"unit", "forced"}),
    "test selection": frozenset({"forced", "exclude", "match"}),
    "ui": frozenset({"type"}),
    "restart": frozenset({"strategy"}),
    "environment": None,
    "manifest": None,
}
# What Checkbox knows but plainbox does not do (yet): accepted, with a warning.
_IGNORED: dict[str, frozenset[str]] = {
    "config": frozenset({"config_filename"}),
    "launcher": frozenset({"app_version", "local_submission", "session_desc"}),
    "test plan": frozenset({"filter"}),
    "features": frozenset({"strict_template_expansion", "systemd_based_job_runner"}),
    "ui": frozenset(
        {
            "output",
            "dont_suppress_output",
            "verbosity",
            "auto_retry",
            "max_attempts",
            "delay_before_retry",
        }
    ),
    "agent": frozenset({"normal_user"}),
    "daemon": frozenset({"normal_user"}),
}
_IGNORED_SECTION_PREFIXES = ("report:", "transport:", "exporter:")
_NO_DEFAULT_SECTION = "\x00plainbox: no DEFAULT section\x00"
_SECTION = re.compile(r"\[(?P<name>.+)\]")


@dataclass(frozen=True, slots=True)
class Launcher:
    """What a launcher file asks for, with where it came from."""

    path: Path
    launcher_version: int = 1
    app_id: str | None = None
    stock_reports: tuple[str, ...] = ()
    session_title: str | None = None
    test_plan: str | None = None
    test_plan_forced: bool = False
    selection_forced: bool = False
    #: ``[test selection] exclude``: jobs (and templates) to leave out.
    exclude: tuple[Qualifier, ...] = ()
    #: ``[test selection] match``: when given, only these jobs are kept.
    match: tuple[Qualifier, ...] = ()
    ui_type: str = "interactive"
    environment: Mapping[str, str] = field(default_factory=dict)
    #: ``[manifest]``: manifest entry id -> the value the launcher presets.
    manifest: Mapping[str, str] = field(default_factory=dict)
    #: ``[restart] strategy``: how to resume after a reboot (a restart
    #: strategy name; Checkbox's ``XDG`` and ``Snappy`` are understood).
    restart_strategy: str | None = None
    #: ``path:line: message`` for what was ignored or not understood.
    warnings: tuple[str, ...] = ()

    @property
    def silent(self) -> bool:
        """True when nobody is expected at the terminal."""
        return self.ui_type == "silent"


@dataclass(slots=True)
class _Lines:
    """Where each section, key and value line is written in the file."""

    sections: dict[str, int] = field(default_factory=dict)
    keys: dict[tuple[str, str], int] = field(default_factory=dict)
    values: dict[tuple[str, str], list[tuple[int, str]]] = field(default_factory=dict)


def _scan_lines(text: str) -> _Lines:
    """Locate sections, keys and value lines (configparser does not keep lines)."""
    found = _Lines()
    section: str | None = None
    key: tuple[str, str] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if key is not None and line[:1].isspace():
            found.values[key].append((number, stripped))
            continue
        header = _SECTION.match(stripped)
        if header is not None:
            section = header.group("name")
            found.sections.setdefault(section, number)
            key = None
            continue
        if section is None:
            continue
        name, _, value = stripped.partition("=")
        key = (section, name.strip())
        found.keys.setdefault(key, number)
        found.values[key] = [(number, value.strip())] if value.strip() else []
    return found


def _parse_ini(path: Path, text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(
        delimiters=("=",),  # manifest keys are namespace::id
        interpolation=None,
        default_section=_NO_DEFAULT_SECTION,
        strict=True,
    )
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text, source=str(path))
    except configparser.MissingSectionHeaderError as exc:
        raise UsageError(
            f"{path}:{exc.lineno}: expected a [section] header before {exc.line.strip()!r}"
        ) from None
    except configparser.ParsingError as exc:
        lineno, line = exc.errors[0] if exc.errors else (0, "")
        raise UsageError(f"{path}:{lineno}: cannot parse {line.strip()}") from None
    except configparser.DuplicateSectionError as exc:
        raise UsageError(
            f"{path}:{exc.lineno}: section [{exc.section}] is written twice"
        ) from None
    except configparser.DuplicateOptionError as exc:
        raise UsageError(
            f"{path}:{exc.lineno}: key {exc.option!r} is written twice in [{exc.section}]"
        ) from None
    except configparser.Error as exc:
        raise UsageError(f"{path}: {exc}") from None
    return parser


def anchored_pattern(text: str) -> str:
    """A selection pattern as a test-plan pattern valid in any namespace.

    Anchors are dropped (patterns match whole ids anyway); a pattern
    without ``::`` gets ``.*::`` in front, so it matches in every namespace.
    """
    text = text.removeprefix("^").removesuffix("$") or text
    return text if "::" in text else f".*::(?:{text})"


def pattern_qualifiers(patterns: Iterable[tuple[Origin, str]]) -> list[Qualifier]:
    """Qualifiers for selection patterns written at the given places.

    :raises UsageError: a pattern is not a valid regular expression.
    """
    qualifiers: list[Qualifier] = []
    for origin, text in patterns:
        parsed, problems = parse_qualifiers(anchored_pattern(text), "", origin)
        if problems:
            problem = problems[0]
            raise UsageError(f"{problem.origin}: invalid pattern {text!r}")
        # Keep what the user wrote as the text, for messages.
        qualifiers.extend(replace(qualifier, text=text) for qualifier in parsed)
    return qualifiers


def with_exclusions(plan: TestPlan, exclude: Iterable[Qualifier]) -> TestPlan:
    """The plan with more ``exclude`` patterns (what ``[test selection]`` removes).

    Excludes apply to the bootstrap and main phases and keep excluded jobs
    from being pulled in as dependencies, like the plan's own excludes.
    """
    extra = "\n".join(qualifier.pattern for qualifier in exclude)
    if not extra:
        return plan
    text = f"{plan.exclude}\n{extra}" if plan.exclude.strip() else extra
    return replace(plan, exclude=text, fields={**plan.fields, "exclude": text})


class _Reader:
    """Turns the parsed INI into a :class:`Launcher`, collecting warnings."""

    def __init__(
        self, path: Path, parser: configparser.ConfigParser, lines: _Lines
    ) -> None:
        self.path = path
        self.parser = parser
        self.lines = lines
        self.warnings: list[str] = []

    def where(self, section: str, key: str | None = None) -> Origin:
        if key is None:
            return Origin(str(self.path), self.lines.sections.get(section, 0))
        line = self.lines.keys.get((section, key)) or self.lines.sections.get(
            section, 0
        )
        return Origin(str(self.path), line)

    def warn(self, origin: Origin, message: str) -> None:
        self.warnings.append(f"{origin}: {message}")

    def get(self, section: str, key: str) -> str | None:
        value = self.parser.get(section, key, fallback=None)
        if value is None or not value.strip():
            return None
        return value.strip()

    def boolean(self, section: str, key: str) -> bool:
        if self.get(section, key) is None:
            return False
        try:
            return self.parser.getboolean(section, key)
        except ValueError:
            raise UsageError(
                f"{self.where(section, key)}: [{section}] {key} must be yes or no, "
                f"not {self.get(section, key)!r}"
            ) from None

    def words(self, section: str, key: str) -> list[tuple[Origin, str]]:
        """Whitespace-separated words of a value, each with its line."""
        return [
            (Origin(str(self.path), number), word)
            for number, text in self.lines.values.get((section, key), [])
            for word in text.split()
        ]

    def check_known(self) -> None:
        for section in self.parser.sections():
            if section.startswith(_IGNORED_SECTION_PREFIXES):
                self.warn(
                    self.where(section),
                    f"section [{section}] is not supported by plainbox; ignored",
                )
                continue
            if section not in _APPLIED and section not in _IGNORED:
                known = [*_APPLIED, *_IGNORED]
                self.warn(
                    self.where(section),
                    f"unknown section [{section}]{_suggest(section, known)}; ignored",
                )
                continue
            applied = _APPLIED.get(section, frozenset())
            if applied is None:
                continue
            ignored = _IGNORED.get(section, frozenset())
            for key in self.parser.options(section):
                if key in applied:
                    continue
                origin = self.where(section, key)
                if key in ignored:
                    self.warn(
                        origin,
                        f"[{section}] {key} is not supported by plainbox; ignored",
                    )
                else:
                    suggestion = _suggest(key, [*applied, *ignored])
                    self.warn(
                        origin,
                        f"unknown key {key!r} in [{section}]{suggestion}; ignored",
                    )

    def read(self) -> Launcher:
        self.check_known()
        version_text = self.get("launcher", "launcher_version")
        version = 1
        if version_text is not None:
            try:
                version = int(version_text)
            except ValueError:
                raise UsageError(
                    f"{self.where('launcher', 'launcher_version')}: "
                    f"launcher_version must be a number, not {version_text!r}"
                ) from None
            if version != 1:
                self.warn(
                    self.where("launcher", "launcher_version"),
                    f"launcher_version {version} is not known; reading it as version 1",
                )
        reports = []
        for origin, word in self.words("launcher", "stock_reports"):
            for name in filter(None, word.split(",")):
                if name not in STOCK_REPORTS:
                    self.warn(origin, f"unknown stock report {name!r}; ignored")
                else:
                    reports.append(name)
        ui_text = self.get("ui", "type") or "interactive"
        if ui_text not in _UI_TYPES:
            raise UsageError(
                f"{self.where('ui', 'type')}: [ui] type must be interactive or "
                f"silent, not {ui_text!r}"
            )
        return Launcher(
            path=self.path,
            launcher_version=version,
            app_id=self.get("launcher", "app_id"),
            stock_reports=tuple(reports),
            session_title=self.get("launcher", "session_title"),
            test_plan=self.get("test plan", "unit"),
            test_plan_forced=self.boolean("test plan", "forced"),
            selection_forced=self.boolean("test selection", "forced"),
            exclude=tuple(pattern_qualifiers(self.words("test selection", "exclude"))),
            match=tuple(pattern_qualifiers(self.words("test selection", "match"))),
            ui_type=_UI_TYPES[ui_text],
            environment=self.free_keys("environment"),
            manifest=self.free_keys("manifest"),
            restart_strategy=_restart_strategy(self.get("restart", "strategy")),
            warnings=tuple(self.warnings),
        )

    def free_keys(self, section: str) -> dict[str, str]:
        if not self.parser.has_section(section):
            return {}
        return dict(self.parser.items(section, raw=True))


# Checkbox's strategy names, and the plainbox strategy doing that job.
_CHECKBOX_STRATEGIES = {"xdg": "xdg-autostart", "snappy": "systemd"}


def _restart_strategy(name: str | None) -> str | None:
    if not name:
        return None
    return _CHECKBOX_STRATEGIES.get(name.strip().lower(), name.strip())


def _suggest(word: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load_launcher(path: Path) -> Launcher:
    """Read a launcher file.

    :raises UsageError: the file cannot be read, is not INI, or a value is
        invalid (``path:line: message``).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: the launcher is not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the launcher: {exc.strerror}") from None
    parser = _parse_ini(path, text)
    return _Reader(path, parser, _scan_lines(text)).read()
