"""``plainbox startprovider`` and ``plainbox provider test``: for provider authors.

``startprovider`` renders the files under ``skeleton/`` (next to this module):
``@NAME@``-style markers in file names and contents are replaced, and a
trailing ``.in`` is dropped (it keeps linters and type checkers off the
template of the provider's Python test).

``provider test`` is a pre-commit check: strict validation, shellcheck on job
commands and ``bin/`` scripts, and the provider's own unit tests.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import string
import subprocess
import sys
import tempfile
from collections.abc import Callable
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from pathlib import PurePosixPath

from plainbox.cli.terminal import write_line
from plainbox.errors import PlainboxError
from plainbox.errors import UsageError
from plainbox.units.catalog import Catalog
from plainbox.units.model import JobDefinition
from plainbox.units.model import TemplateUnit
from plainbox.units.model import Unit
from plainbox.units.problems import Problem
from plainbox.units.problems import Severity
from plainbox.units.provider import Provider


__all__ = [
    "parse_provider_id",
    "provider_test_command",
    "render_skeleton",
    "startprovider_command",
]

SKELETON_DIR = Path(__file__).resolve().parent / "skeleton"

_NAMESPACE = re.compile(r"^[a-z0-9-]+(?:\.[a-z0-9-]+)+$")
# No leading hyphen: the name starts the bin/ script's name and could pass
# for an option on a command line.
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_MARKER = re.compile(r"@([A-Z_]+)@")

#: What stands in for template parameters in commands given to shellcheck:
#: a plain word draws no finding of its own.
PLACEHOLDER_WORD = "placeholder"
SHELLCHECK_MISSING = "shellcheck not found: shell checks skipped (install shellcheck)"
_FAILING_LEVELS = frozenset({"error", "warning"})
_STRICT_FAILING_LEVELS = frozenset({"error", "warning", "info", "style"})
# Files per shellcheck process: large enough that start-up costs vanish,
# small enough that two processes share the work of a big provider.
_BATCH = 100
_SHEBANGS = {"sh": "#!/bin/sh", "/bin/sh": "#!/bin/sh"}
_SHELL_INTERPRETERS = frozenset({"sh", "bash", "dash", "ksh"})
_JINJA_EXPRESSION = re.compile(r"\{\{.*?\}\}", re.DOTALL)
_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
# unittest's exit status when it found no tests (Python 3.12 and later).
_NO_TESTS_RAN = 5


# --- startprovider -----------------------------------------------------------


def parse_provider_id(text: str) -> tuple[str, str]:
    """Split ``NAMESPACE:NAME`` and check both parts.

    :raises UsageError: the text is not a valid ``NAMESPACE:NAME``.
    """
    namespace, colon, name = text.partition(":")
    if not colon:
        raise UsageError(
            f"{text!r} is not NAMESPACE:NAME; e.g. com.example:first "
            "(the unit namespace, then the provider name)"
        )
    if not _NAMESPACE.match(namespace):
        raise UsageError(
            f"invalid namespace {namespace!r}: use dot-separated parts of "
            "lower-case letters, digits and '-', with at least one dot "
            "(reverse domain style, e.g. com.example)"
        )
    if not _NAME.match(name):
        raise UsageError(
            f"invalid provider name {name!r}: use lower-case letters, digits "
            "and '-', starting with a letter or digit (e.g. first)"
        )
    return namespace, name


def _substitute(text: str, values: dict[str, str], where: str) -> str:
    def replace(match: re.Match[str]) -> str:
        try:
            return values[match.group(1)]
        except KeyError:
            # A marker the code does not know is a bug in the skeleton.
            raise RuntimeError(f"unknown marker {match.group(0)} in {where}") from None

    return _MARKER.sub(replace, text)


def render_skeleton(namespace: str, name: str) -> list[tuple[PurePosixPath, str, int]]:
    """The skeleton's files: ``(relative path, text, mode)``, sorted by path."""
    values = {
        "NAMESPACE": namespace,
        "NAME": name,
        # Python module names cannot hold '-', and unittest skips such files.
        "NAME_ID": name.replace("-", "_"),
    }
    rendered: list[tuple[PurePosixPath, str, int]] = []
    for source in sorted(SKELETON_DIR.rglob("*")):
        if not source.is_file() or "__pycache__" in source.parts:
            continue
        relative = source.relative_to(SKELETON_DIR).as_posix()
        relative = _substitute(relative, values, relative).removesuffix(".in")
        text = _substitute(source.read_text(encoding="utf-8"), values, relative)
        path = PurePosixPath(relative)
        # Set explicitly: a wheel or a checkout may not keep the exec bit.
        mode = 0o755 if path.parts[0] == "bin" else 0o644
        rendered.append((path, text, mode))
    return rendered


def _target_dir(directory: Path) -> None:
    """Refuse a directory that exists and is not empty (never overwrite)."""
    if directory.is_symlink() and not directory.exists():
        raise PlainboxError(f"{directory} is a dangling symbolic link")
    if not directory.exists():
        return
    if not directory.is_dir():
        raise PlainboxError(f"{directory} exists and is not a directory")
    try:
        empty = next(directory.iterdir(), None) is None
    except OSError as exc:
        raise PlainboxError(f"cannot read {directory}: {exc.strerror}") from exc
    if not empty:
        raise PlainboxError(
            f"{directory} exists and is not empty; nothing was written "
            "(name a new or empty directory)"
        )


def startprovider_command(args: argparse.Namespace) -> int:
    """Create a provider skeleton that validates, tests and runs green."""
    namespace, name = parse_provider_id(args.provider_id)
    directory = Path(args.directory) if args.directory else Path(name)
    _target_dir(directory)
    files = render_skeleton(namespace, name)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for relative, text, mode in files:
            path = directory.joinpath(*relative.parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            # "x": fail rather than overwrite a file that appeared meanwhile.
            with open(path, "x", encoding="utf-8") as stream:
                stream.write(text)
            path.chmod(mode)
    except OSError as exc:
        raise PlainboxError(
            f"cannot create the provider in {directory}: {exc.strerror or exc}"
            f"{f' ({exc.filename})' if exc.filename else ''}"
        ) from exc
    shown = shlex.quote(str(directory))
    write_line(f"Created provider {namespace}:{name} in {directory}:")
    for relative, _, _ in files:
        write_line(f"  {directory / relative}")
    write_line()
    write_line("Next:")
    write_line(f"  plainbox validate --strict {shown}")
    write_line(f"  plainbox provider test {shown}")
    write_line(f"  plainbox -P {shown} run {namespace}::smoke --non-interactive")
    return 0


# --- provider test: shell snippets -------------------------------------------


@dataclass(frozen=True, slots=True)
class Finding:
    """One shellcheck comment, located in the provider's own files."""

    path: str
    line: int
    level: str
    code: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.level}: SC{self.code} {self.message}"


@dataclass(slots=True)
class _Script:
    """A file given to shellcheck and how to locate its findings."""

    owner: int  # index of the provider it belongs to
    text: str | None  # what to write to a temporary file; None: check in place
    path: str  # the file shellcheck reads (set for temporary files on writing)
    display: str  # the path findings are reported at
    line_of: Callable[[int], int]


def _fill_format_placeholders(text: str) -> str | None:
    """A python-format command with every ``{param}`` made a plain word."""
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError:
        return None  # not a valid template: validation reports it
    # parse() also turns "{{" and "}}" into the single braces the shell sees.
    return "".join(
        literal + (PLACEHOLDER_WORD if name is not None else "")
        for literal, name, _, _ in parts
    )


def _keep_lines(replacement: str) -> Callable[[re.Match[str]], str]:
    # Keeping the newlines of a multi-line expression keeps the line numbers
    # of everything after it right.
    return lambda match: replacement + "\n" * match.group(0).count("\n")


def _command_text(unit: Unit) -> tuple[str | None, str | None]:
    """``(shell text, note)``: text to check, or a note on why it is not."""
    if isinstance(unit, JobDefinition):
        command = unit.command
        engine = unit.template_engine or "default"
        is_template = engine == "jinja2"  # plain jobs may be jinja2-rendered
    elif isinstance(unit, TemplateUnit):
        command = unit.fields.get("command")
        engine = unit.template_engine
        is_template = True
    else:
        return None, None
    if not command:
        return None, None
    if not is_template:
        return command, None
    if engine == "jinja2":
        if "{%" in command:
            return None, (
                "command uses jinja2 {% %} blocks: shellcheck skipped "
                "(check an instance by hand)"
            )
        command = _JINJA_COMMENT.sub(_keep_lines(""), command)
        return _JINJA_EXPRESSION.sub(_keep_lines(PLACEHOLDER_WORD), command), None
    filled = _fill_format_placeholders(command)
    if filled is None:
        return None, "command is not a valid template: shellcheck skipped"
    return filled, None


def _snippet_line(unit: Unit) -> Callable[[int], int]:
    # Line 1 of the file is the added "#!" line; line 2 is the command's first.
    def line_of(line: int) -> int:
        if line < 2:
            return unit.field_origin("command").line
        return unit.value_origin("command", line - 2).line

    return line_of


def _shell_of(unit: Unit) -> str:
    shell = unit.shell if isinstance(unit, JobDefinition) else unit.fields.get("shell")
    return _SHEBANGS.get(shell or "bash", "#!/bin/bash")


def _is_shell_script(path: Path) -> bool:
    """A ``*.sh`` file, or one whose ``#!`` line names a POSIX-like shell."""
    if path.name.endswith(".sh"):
        return True
    try:
        with open(path, "rb") as stream:
            first = stream.readline(256)
    except OSError:
        return False
    if not first.startswith(b"#!"):
        return False
    words = first[2:].decode("utf-8", "replace").split()
    if words and Path(words[0]).name == "env":
        # "#!/usr/bin/env -S bash -e": the first word that is not an option.
        words = [word for word in words[1:] if not word.startswith("-")]
    return bool(words) and Path(words[0]).name in _SHELL_INTERPRETERS


def _in_place_line(line: int) -> int:
    return line


def _collect_scripts(
    owner: int, provider: Provider, units: Iterable[Unit]
) -> tuple[list[_Script], list[str]]:
    """Every command and bin/ shell script of a provider, plus skip notes."""
    scripts: list[_Script] = []
    notes: list[str] = []
    for unit in units:
        text, note = _command_text(unit)
        origin = unit.field_origin("command")
        if note is not None:
            notes.append(f"{origin}: note: {unit.id}: {note}")
        if text is None:
            continue
        scripts.append(
            _Script(
                owner=owner,
                text=f"{_shell_of(unit)}\n{text}\n",
                path="",
                display=origin.path,
                line_of=_snippet_line(unit),
            )
        )
    if provider.bin_dir is not None and provider.bin_dir.is_dir():
        for path in sorted(provider.bin_dir.iterdir()):
            if path.is_file() and _is_shell_script(path):
                scripts.append(
                    _Script(owner, None, str(path), str(path), _in_place_line)
                )
    return scripts, notes


@dataclass(slots=True)
class _ShellcheckRun:
    findings: list[tuple[_Script, Finding]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def _run_batch(executable: str, batch: list[_Script], timeout: float) -> _ShellcheckRun:
    by_path = {script.path: script for script in batch}
    result = _ShellcheckRun()
    argv = [executable, "--format=json1", "--", *by_path]
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        result.failures.append(
            f"shellcheck timed out after {timeout:g} s on {len(batch)} file(s)"
        )
        return result
    except OSError as exc:
        result.failures.append(f"cannot run shellcheck: {exc.strerror or exc}")
        return result
    try:
        comments = json.loads(done.stdout)["comments"]
    except (ValueError, KeyError, TypeError):
        comments = None
    # 0: no findings, 1: findings; anything else means it could not check.
    if comments is None or done.returncode not in (0, 1):
        reason = done.stderr.strip().splitlines()
        result.failures.append(
            f"shellcheck failed (exit status {done.returncode})"
            + (f": {reason[0]}" if reason else "")
        )
    for comment in comments or []:
        script = by_path.get(comment.get("file", ""))
        if script is None:
            continue
        line = int(comment.get("line", 1))
        finding = Finding(
            script.display,
            script.line_of(line),
            str(comment.get("level", "error")),
            int(comment.get("code", 0)),
            str(comment.get("message", "")),
        )
        result.findings.append((script, finding))
    return result


def _run_shellcheck(
    executable: str, scripts: list[_Script], timeout: float
) -> _ShellcheckRun:
    """Check every script with few shellcheck processes, two at a time."""
    combined = _ShellcheckRun()
    if not scripts:
        return combined
    with tempfile.TemporaryDirectory(prefix="plainbox-shellcheck-") as temp:
        for index, script in enumerate(scripts):
            if script.text is not None:
                path = Path(temp, f"command-{index}.sh")
                path.write_text(script.text, encoding="utf-8")
                script.path = str(path)
        batches = [
            scripts[start : start + _BATCH] for start in range(0, len(scripts), _BATCH)
        ]
        workers = max(1, min(2, len(batches), os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for result in pool.map(
                lambda batch: _run_batch(executable, batch, timeout), batches
            ):
                combined.findings.extend(result.findings)
                combined.failures.extend(result.failures)
    return combined


# --- provider test: the command ----------------------------------------------


@dataclass(slots=True)
class _Report:
    """What one provider's checks found, printed as its block and summary."""

    label: str
    failed: bool = False
    parts: list[str] = field(default_factory=list)


def _load(args: argparse.Namespace, directories: list[Path]) -> Catalog:
    from plainbox import paths
    from plainbox.cli.common import search_path
    from plainbox.units.catalog import load_catalog

    # Named providers, -P ones and the search path, as 'plainbox validate'
    # loads them: references to other providers resolve as they will at run
    # time.
    explicit = [Path(entry) for entry in args.provider] + directories
    return load_catalog(
        search_path(), builtin_dir=paths.BUILTIN_PROVIDER_DIR, explicit=explicit
    )


def _provider_for(catalog: Catalog, directory: Path) -> Provider | None:
    named = directory.resolve()
    for provider in catalog.providers:
        if named in (
            provider.definition.resolve(),
            provider.definition.parent.resolve(),
        ):
            return provider
    return None


def _validation(catalog: Catalog, provider: Provider, report: _Report) -> None:
    from plainbox.units.validation import validate

    problems = validate(catalog, [provider])
    for problem in problems:
        write_line(str(problem))
    counts = {
        severity: sum(1 for p in problems if p.severity is severity)
        for severity in Severity
    }
    if counts[Severity.ERROR] or counts[Severity.WARNING]:
        report.failed = True
    if problems:
        summary = ", ".join(
            f"{count} {severity.value}{'s' if count != 1 else ''}"
            for severity, count in counts.items()
            if count
        ).replace("advices", "advice")
        report.parts.append(f"validation: {summary}")
    else:
        report.parts.append("validation: no problems")


def _unit_tests(provider: Provider, timeout: float, report: _Report) -> None:
    base = provider.base_dir
    if base is None or not (base / "tests").is_dir():
        report.parts.append("unit tests: none (no tests/ directory)")
        return
    argv = [sys.executable, "-m", "unittest", "discover", "-s", "tests"]
    write_line(f"{base}: running {shlex.join(['python3', *argv[1:]])}")
    sys.stdout.flush()
    # No __pycache__ left in the provider's tree by a check meant for commits.
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        done = subprocess.run(
            argv,
            cwd=base,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        # TimeoutExpired keeps what was read so far, as bytes even in text mode.
        partial = exc.stdout
        output = (
            partial.decode("utf-8", "replace")
            if isinstance(partial, bytes)
            else partial or ""
        )
        if output:
            write_line(output.rstrip("\n"))
        report.failed = True
        report.parts.append(f"unit tests: timed out after {timeout:g} s")
        return
    if done.stdout:
        write_line(done.stdout.rstrip("\n"))
    if done.returncode == 0:
        report.parts.append("unit tests: passed")
    elif done.returncode == _NO_TESTS_RAN:
        report.parts.append("unit tests: none found in tests/")
    else:
        report.failed = True
        report.parts.append(f"unit tests: failed (exit status {done.returncode})")


def _label(provider: Provider) -> str:
    name = provider.name
    return name if ":" in name else f"{provider.namespace}:{name}"


def provider_test_command(args: argparse.Namespace) -> int:
    """Validate strictly, shellcheck and unit-test providers; 1 if any failed."""
    if not args.timeout > 0:
        raise UsageError(f"--timeout must be positive, not {args.timeout:g}")
    directories = [Path(entry) for entry in args.providers] or [Path.cwd()]
    for directory in directories:
        if not directory.exists():
            raise UsageError(f"no such provider directory: {directory}")
    directories = list({d.resolve(): d for d in directories}.values())
    catalog = _load(args, directories)
    providers = [_provider_for(catalog, directory) for directory in directories]
    failing_levels = _STRICT_FAILING_LEVELS if args.strict else _FAILING_LEVELS

    # Every provider's scripts are checked together: fewer, fuller batches.
    shell = _ShellChecks(shutil.which("shellcheck"), failing_levels)
    for owner, provider in enumerate(providers):
        if provider is None:
            continue
        files = {str(path) for path in provider.unit_files()}
        units = [unit for unit in catalog.units if unit.origin.path in files]
        found, shell.notes[owner] = _collect_scripts(owner, provider, units)
        shell.scripts.extend(found)
    if shell.executable is None:
        write_line(SHELLCHECK_MISSING)
    else:
        shell.checked = _run_shellcheck(shell.executable, shell.scripts, args.timeout)

    any_failed = False
    for owner, (directory, provider) in enumerate(
        zip(directories, providers, strict=True)
    ):
        if provider is None:
            _not_a_provider(catalog, directory)
            any_failed = True
            continue
        report = _Report(_label(provider))
        _validation(catalog, provider, report)
        shell.report(owner, report)
        _unit_tests(provider, args.timeout, report)
        any_failed = any_failed or report.failed
        status = "FAIL" if report.failed else "PASS"
        write_line(f"{status} {report.label} ({directory}): {'; '.join(report.parts)}")
        sys.stdout.flush()
    return 1 if any_failed else 0


def _not_a_provider(catalog: Catalog, directory: Path) -> None:
    named = directory.resolve()
    problems: list[Problem] = [
        p
        for p in catalog.problems
        if Path(p.origin.path).resolve() == named
        or Path(p.origin.path).resolve().parent == named
    ]
    for problem in problems:
        write_line(str(problem))
    write_line(f"FAIL {directory}: not a provider that can be read")


@dataclass(slots=True)
class _ShellChecks:
    """The scripts of every provider and what shellcheck said about them."""

    executable: str | None
    failing_levels: frozenset[str]
    scripts: list[_Script] = field(default_factory=list)
    notes: dict[int, list[str]] = field(default_factory=dict)
    checked: _ShellcheckRun = field(default_factory=_ShellcheckRun)

    def report(self, owner: int, report: _Report) -> None:
        """Print one provider's findings and add its summary part."""
        for note in self.notes.get(owner, []):
            write_line(note)
        if self.executable is None:
            report.parts.append("shellcheck: skipped (not installed)")
            return
        checked = self.checked
        own = [f for script, f in checked.findings if script.owner == owner]
        own.sort(key=lambda f: (f.path, f.line, f.code))
        for finding in own:
            write_line(str(finding))
        count = sum(1 for script in self.scripts if script.owner == owner)
        failing = sum(1 for f in own if f.level in self.failing_levels)
        # A shellcheck that could not run leaves every provider unchecked.
        for failure in checked.failures:
            write_line(f"error: {failure}")
        if failing or checked.failures:
            report.failed = True
        text = f"shellcheck: {count} script{'s' if count != 1 else ''}, "
        if not own:
            text += "no findings"
        else:
            text += f"{failing} failing, {len(own) - failing} other finding(s)"
        if checked.failures:
            text += ", shellcheck failed"
        report.parts.append(text)
