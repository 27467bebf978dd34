"""docs/tutorial.rst is executable: run its commands and check what it claims.

The conventions (also written in a comment at the top of the page):

* in a ``.. code-block:: console`` block, each line starting with ``$ `` is
  a command (a trailing backslash continues it on the next line); the
  commands of the whole page run in order, through ``bash -c``, in one
  working directory;
* ``.. tutorial-skip`` right before a block: the block is not run;
* ``.. tutorial-expect-exit: N`` right before a console block: its commands
  exit with status N (every other command must exit with 0);
* a ``.. code-block:: pxu`` (or ``text``, or ``ini``) block with
  ``:caption: PATH`` is a file the reader creates: it is written to PATH in
  the working directory;
* ``.. tutorial-outcomes: REPORT.json`` right before a table: each row
  whose first column is a literal job id gives, in its second column, the
  outcome that the JSON report must record for that job.

The run uses a fresh ``HOME`` and ``PLAINBOX_STATE_DIR``, no
``PLAINBOX_PROVIDERPATH`` (the bundled example provider is found the way an
installed plainbox finds it) and the ``plainbox`` console script of the
Python running the tests.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import pytest


TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial.rst"
COMMAND_TIMEOUT = 300.0
# What the tutorial's last sections are about: the user's own plan and reports.
PROVIDER_DIR = "first"
FIRST_STEPS_FILE = "first/units/first-steps.pxu"
FIRST_STEPS_HTML = "first-steps.html"
FIRST_STEPS_JSON = "first-steps.json"

_DIRECTIVE = re.compile(r"^\.\. code-block::\s*(?P<language>\S+)\s*$")
_OPTION = re.compile(r"^\s+:(?P<name>[\w-]+):\s*(?P<value>.*)$")
_SKIP = re.compile(r"^\.\. tutorial-skip\s*$")
_EXPECT_EXIT = re.compile(r"^\.\. tutorial-expect-exit:\s*(?P<status>\d+)\s*$")
_OUTCOMES = re.compile(r"^\.\. tutorial-outcomes:\s*(?P<report>\S+)\s*$")
_TABLE_ROW = re.compile(r"^``(?P<job>[^`]+)``\s+(?P<outcome>[a-z-]+)(?:\s|$)")
_TABLE_BORDER = re.compile(r"^=+(?:\s+=+)*\s*$")
FILE_LANGUAGES = frozenset({"pxu", "text", "ini"})


@dataclass(frozen=True)
class Command:
    """A ``$ `` command of a console block."""

    text: str
    line: int
    expect_exit: int


@dataclass(frozen=True)
class WriteFile:
    """A file the reader creates (a captioned text block)."""

    path: str
    content: str
    line: int


@dataclass(frozen=True)
class OutcomeClaim:
    """A row of an outcomes table: this job ends with this outcome."""

    report: str
    job: str
    outcome: str
    line: int


@dataclass
class Tutorial:
    """The executable parts of the page, in order."""

    steps: list[Command | WriteFile] = field(default_factory=list)
    claims: list[OutcomeClaim] = field(default_factory=list)
    skipped_blocks: list[int] = field(default_factory=list)
    console_blocks: int = 0

    @property
    def commands(self) -> list[Command]:
        return [step for step in self.steps if isinstance(step, Command)]

    @property
    def files(self) -> list[WriteFile]:
        return [step for step in self.steps if isinstance(step, WriteFile)]


def _block(lines: list[str], start: int) -> tuple[dict[str, str], list[str], int]:
    """The options and the content lines of the directive at ``start``.

    Returns the index of the first line after the block.
    """
    options: dict[str, str] = {}
    index = start + 1
    while index < len(lines) and (match := _OPTION.match(lines[index])):
        options[match["name"]] = match["value"].strip()
        index += 1
    content: list[str] = []
    while index < len(lines) and (
        not lines[index].strip() or lines[index][:1].isspace()
    ):
        content.append(lines[index])
        index += 1
    while content and not content[-1].strip():
        content.pop()
    while content and not content[0].strip():
        content.pop(0)
    indent = min(
        (len(line) - len(line.lstrip()) for line in content if line.strip()),
        default=0,
    )
    return options, [line[indent:] for line in content], index


def _commands(content: list[str], first_line: int, expect_exit: int) -> list[Command]:
    commands: list[Command] = []
    pending: list[str] | None = None
    start = 0
    for offset, line in enumerate(content):
        if pending is not None:
            text = line.strip()
            pending.append(text.removesuffix("\\").rstrip())
            if not text.endswith("\\"):
                commands.append(Command(" ".join(pending), start, expect_exit))
                pending = None
            continue
        if line.startswith("$ "):
            start = first_line + offset
            text = line[2:].strip()
            if text.endswith("\\"):
                pending = [text.removesuffix("\\").rstrip()]
            else:
                commands.append(Command(text, start, expect_exit))
    if pending is not None:
        raise AssertionError(f"tutorial.rst:{start}: the command never ends")
    return commands


def parse_tutorial(text: str) -> Tutorial:
    """Read the executable parts of the tutorial (see the module docstring)."""
    lines = text.splitlines()
    tutorial = Tutorial()
    skip = False
    expect_exit = 0
    outcomes_report: str | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        number = index + 1
        if _SKIP.match(line):
            skip = True
        elif match := _EXPECT_EXIT.match(line):
            expect_exit = int(match["status"])
        elif match := _OUTCOMES.match(line):
            outcomes_report = match["report"]
            index = _read_outcomes(lines, index + 1, outcomes_report, tutorial)
            outcomes_report = None
            continue
        elif match := _DIRECTIVE.match(line):
            options, content, after = _block(lines, index)
            first_content_line = index + 2 + len(options)
            while (
                first_content_line <= len(lines)
                and not lines[first_content_line - 1].strip()
            ):
                first_content_line += 1
            language = match["language"]
            if skip:
                tutorial.skipped_blocks.append(number)
            elif language == "console":
                tutorial.console_blocks += 1
                tutorial.steps.extend(
                    _commands(content, first_content_line, expect_exit)
                )
            elif language in FILE_LANGUAGES and "caption" in options:
                tutorial.steps.append(
                    WriteFile(options["caption"], "\n".join(content) + "\n", number)
                )
            skip = False
            expect_exit = 0
            index = after
            continue
        elif line.strip() and not line.startswith("..") and (skip or expect_exit):
            # Prose between a marker and its block: the marker would be lost.
            raise AssertionError(
                f"tutorial.rst:{number}: a tutorial marker is not right before "
                "its block"
            )
        index += 1
    return tutorial


def _read_outcomes(
    lines: list[str], index: int, report: str, tutorial: Tutorial
) -> int:
    """Read the simple table after a ``tutorial-outcomes`` marker."""
    borders = 0
    while index < len(lines) and borders < 3:
        line = lines[index]
        if _TABLE_BORDER.match(line):
            borders += 1
        elif borders == 2 and (match := _TABLE_ROW.match(line)):
            tutorial.claims.append(
                OutcomeClaim(report, match["job"], match["outcome"], index + 1)
            )
        elif line.strip() and borders == 0:
            raise AssertionError(
                f"tutorial.rst:{index + 1}: expected a table after tutorial-outcomes"
            )
        index += 1
    return index


# -- running it ------------------------------------------------------------


@dataclass(frozen=True)
class Ran:
    """What one command did."""

    command: Command
    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class TutorialRun:
    workdir: Path
    env: dict[str, str]
    ran: list[Ran]
    tutorial: Tutorial


def _plainbox_bin_dir(scratch: Path) -> Path:
    """A directory with a ``plainbox`` that runs this Python's plainbox."""
    scripts = Path(sys.executable).parent
    if (scripts / "plainbox").is_file() and os.access(scripts / "plainbox", os.X_OK):
        return scripts
    shim_dir = scratch / "shim-bin"
    shim_dir.mkdir()
    shim = shim_dir / "plainbox"
    shim.write_text(
        f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m plainbox "$@"\n',
        encoding="utf-8",
    )
    shim.chmod(0o755)
    return shim_dir


def tutorial_env(scratch: Path) -> dict[str, str]:
    """A fresh user: own HOME and state directory, default provider search."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PLAINBOX_", "XDG_"))
    }
    home = scratch / "home"
    home.mkdir()
    env.update(
        {
            "HOME": str(home),
            "PLAINBOX_STATE_DIR": str(scratch / "state"),
            "NO_COLOR": "1",
        }
    )
    bin_dir = _plainbox_bin_dir(scratch)
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", os.defpath)])
    return env


def _run(command: str, workdir: Path, env: dict[str, str]) -> Ran | None:
    """Run a command; None if it did not finish in time."""
    try:
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None
    return Ran(Command(command, 0, 0), done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def tutorial() -> Tutorial:
    return parse_tutorial(TUTORIAL.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tutorial_run(
    tutorial: Tutorial, tmp_path_factory: pytest.TempPathFactory
) -> TutorialRun:
    """Follow the whole tutorial once, as a reader would."""
    scratch = tmp_path_factory.mktemp("tutorial")
    workdir = scratch / "work"
    workdir.mkdir()
    env = tutorial_env(scratch)
    ran: list[Ran] = []
    for step in tutorial.steps:
        if isinstance(step, WriteFile):
            target = workdir / step.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(step.content, encoding="utf-8")
            continue
        result = _run(step.text, workdir, env)
        if result is None:
            pytest.fail(
                f"tutorial.rst:{step.line}: {step.text!r} did not finish within "
                f"{COMMAND_TIMEOUT:g} s"
            )
        ran.append(Ran(step, result.returncode, result.stdout, result.stderr))
    return TutorialRun(workdir, env, ran, tutorial)


# -- the page itself -------------------------------------------------------


def test_tutorial_has_the_expected_shape(tutorial: Tutorial) -> None:
    texts = [command.text for command in tutorial.commands]
    assert any(text.startswith("plainbox startprovider") for text in texts)
    assert any("validate --strict" in text for text in texts)
    assert any(text.startswith("plainbox provider test") for text in texts)
    assert any(
        "run com.example::first-steps" in text
        and f"html:{FIRST_STEPS_HTML}" in text
        and f"json:{FIRST_STEPS_JSON}" in text
        for text in texts
    )
    assert [file.path for file in tutorial.files] == [FIRST_STEPS_FILE]
    assert {claim.report for claim in tutorial.claims} >= {FIRST_STEPS_JSON}
    # pip install and opening a browser are the only blocks not run.
    assert tutorial.skipped_blocks


def test_every_console_block_is_run_or_marked(tutorial: Tutorial) -> None:
    """No block escapes the test silently: indented blocks are not read."""
    text = TUTORIAL.read_text(encoding="utf-8")
    indented = [
        number
        for number, line in enumerate(text.splitlines(), start=1)
        if line.startswith((" ", "\t")) and line.strip().startswith(".. code-block::")
    ]
    assert indented == [], "code blocks must start at column 0"
    directives = sum(
        1 for line in text.splitlines() if _DIRECTIVE.match(line) is not None
    )
    captioned_files = len(tutorial.files)
    assert directives == (
        tutorial.console_blocks + len(tutorial.skipped_blocks) + captioned_files
    )


def test_created_files_stay_in_the_working_directory(tutorial: Tutorial) -> None:
    for file in tutorial.files:
        path = Path(file.path)
        assert not path.is_absolute(), file
        assert ".." not in path.parts, file


def test_parser_reads_the_conventions() -> None:
    page = "\n".join(
        [
            ".. tutorial-skip",
            "",
            ".. code-block:: console",
            "",
            "   $ pip install .",
            "",
            ".. tutorial-expect-exit: 1",
            "",
            ".. code-block:: console",
            "",
            "   $ false \\",
            "         --flag",
            "   output line",
            "   $ true",
            "",
            ".. code-block:: text",
            "   :caption: dir/file.txt",
            "",
            "   one",
            "    two",
            "",
            ".. tutorial-outcomes: r.json",
            "",
            "=======  ====",
            "job      out",
            "=======  ====",
            "``a/b``  pass   because",
            "         more",
            "=======  ====",
            "",
            "``c``  fail",
        ]
    )
    parsed = parse_tutorial(page)
    assert parsed.skipped_blocks == [3]
    assert [(c.text, c.expect_exit, c.line) for c in parsed.commands] == [
        ("false --flag", 1, 11),
        ("true", 1, 14),
    ]
    assert parsed.files == [WriteFile("dir/file.txt", "one\n two\n", 16)]
    assert [(c.report, c.job, c.outcome) for c in parsed.claims] == [
        ("r.json", "a/b", "pass")
    ]


# -- following it ----------------------------------------------------------


@pytest.mark.slow
def test_every_command_exits_as_documented(tutorial_run: TutorialRun) -> None:
    wrong = [
        f"tutorial.rst:{r.command.line}: {r.command.text!r} exited with "
        f"{r.returncode}, expected {r.command.expect_exit}\n"
        f"--- stdout\n{r.stdout}--- stderr\n{r.stderr}"
        for r in tutorial_run.ran
        if r.returncode != r.command.expect_exit
    ]
    assert not wrong, "\n".join(wrong)


def _report(run: TutorialRun, name: str) -> dict[str, Any]:
    path = run.workdir / name
    assert path.is_file(), f"the tutorial should have written {name}"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _outcome(report: dict[str, Any], job: str) -> str:
    found = [
        result["outcome"]
        for result in report["results"]
        if result["id"] == job or result["id"].split("::", 1)[-1] == job
    ]
    assert len(found) == 1, f"{job}: {len(found)} results in the report"
    return str(found[0])


@pytest.mark.slow
def test_reports_have_the_outcomes_the_tutorial_claims(
    tutorial_run: TutorialRun,
) -> None:
    claims = tutorial_run.tutorial.claims
    assert claims
    wrong = []
    for claim in claims:
        actual = _outcome(_report(tutorial_run, claim.report), claim.job)
        if actual != claim.outcome:
            wrong.append(
                f"tutorial.rst:{claim.line}: {claim.job} is {actual} in "
                f"{claim.report}, the tutorial says {claim.outcome}"
            )
    assert not wrong, "\n".join(wrong)


def _unit_ids(pxu: str) -> list[str]:
    return re.findall(r"^id:\s*(\S+)\s*$", pxu, flags=re.MULTILINE)


@pytest.mark.slow
def test_first_steps_report_shows_the_users_jobs(tutorial_run: TutorialRun) -> None:
    html_path = tutorial_run.workdir / FIRST_STEPS_HTML
    assert html_path.is_file()
    html = html_path.read_text(encoding="utf-8")
    report = _report(tutorial_run, FIRST_STEPS_JSON)
    assert report["session"]["test_plan"] == "com.example::first-steps"
    pxu = (tutorial_run.workdir / FIRST_STEPS_FILE).read_text(encoding="utf-8")
    plain_ids = [i for i in _unit_ids(pxu) if "{" not in i and i != "first-steps"]
    assert plain_ids
    ran_ids = {result["id"] for result in report["results"]}
    for partial in plain_ids:
        assert f"com.example::{partial}" in ran_ids
        assert partial in html, f"{partial} is not in {FIRST_STEPS_HTML}"
    # The template made one job per tool found, and the report shows them.
    instances = [
        result for result in report["results"] if result["template_id"] is not None
    ]
    assert {r["template_id"] for r in instances} == {
        "com.example::first-steps/tool-works"
    }
    assert len(instances) >= 2
    for result in instances:
        assert result["id"].split("::", 1)[1] in html


@pytest.mark.slow
def test_every_created_file_is_used(tutorial_run: TutorialRun) -> None:
    """Each file belongs to the provider, validates clean and is loaded."""
    workdir, env = tutorial_run.workdir, tutorial_run.env
    validated = _run(
        f"plainbox validate --strict --advice --format json {PROVIDER_DIR}",
        workdir,
        env,
    )
    assert validated is not None
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert json.loads(validated.stdout) == []
    listed: set[str] = set()
    for group in ("jobs", "templates", "test-plans"):
        done = _run(
            f"plainbox -P {PROVIDER_DIR} list {group} --format json", workdir, env
        )
        assert done is not None
        assert done.returncode == 0, done.stderr
        listed.update(unit["id"] for unit in json.loads(done.stdout))
    for file in tutorial_run.tutorial.files:
        assert Path(file.path).parts[0] == PROVIDER_DIR, file.path
        ids = _unit_ids(file.content)
        assert ids, f"{file.path} defines no unit"
        for partial in ids:
            if "{" in partial:
                continue  # a template's instance id; the template-id is listed
            assert f"com.example::{partial}" in listed, partial


@pytest.mark.slow
def test_permanent_provider_is_found_without_p(tutorial_run: TutorialRun) -> None:
    """The last listing, after the symlink, shows the user's plan without -P."""
    listings = [
        r for r in tutorial_run.ran if r.command.text == "plainbox list test-plans"
    ]
    assert len(listings) >= 2
    assert "com.example::first-steps" not in listings[0].stdout
    assert "com.example::first-steps" in listings[-1].stdout
    assert "io.plainbox.tutorial::tutorial" in listings[-1].stdout
