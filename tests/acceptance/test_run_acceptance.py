"""Acceptance: run the acceptance provider's plans exactly as a user would.

``python -m plainbox run PLAN --non-interactive --report json:PATH`` runs as
a real subprocess, finding ``provider/`` through ``PLAINBOX_PROVIDERPATH``;
the tests then judge the JSON report alone. Every job of the provider has a
known outcome (``EXPECTED``), so any change in behaviour shows up here as a
named job with the wrong outcome, field or position.

Where plainbox disagrees with ``/work/shared/reference/checkbox-compat.md``
the test states what the spec says and is marked ``xfail(strict=True)``;
the reason names the section.

The ordering checks read the dependency fields from the unit files with a
deliberately small reader of their own, so that they do not trust the parser
under test.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml


HERE = Path(__file__).parent
PROVIDER = HERE / "provider"
NS = "io.plainbox.acceptance"
UNCATEGORISED = "com.canonical.plainbox::uncategorised"
SKIP_OUTCOMES = frozenset(
    {"skip", "skipped-dependency", "skipped-resource", "skipped-manifest"}
)
REPORT_FIELDS = frozenset(
    {
        "id",
        "outcome",
        "return_code",
        "duration",
        "certification_status",
        "category_id",
        "comments",
        "skip_reason",
        "started_at",
        "finished_at",
    }
)

# Every job the acc-full plan runs, by partial id, with its outcome. Jobs
# that must NOT be in the report are in ABSENT instead.
EXPECTED: dict[str, str] = {
    # bootstrap_include, then mandatory_include
    "disks": "pass",
    "gadgets": "pass",
    "mand-first": "pass",
    "mand-excluded": "pass",  # mandatory: an exclude pattern cannot remove it
    # depends / after / before / chains
    "dep-pass": "pass",
    "dep-fail": "fail",
    "dep-on-pass": "pass",
    "dep-on-fail": "skipped-dependency",
    "dep-on-both": "skipped-dependency",
    "after-fail": "pass",  # after: ordering only, the outcome does not matter
    "after-skipped": "pass",
    "chain-1": "fail",
    "chain-2": "skipped-dependency",
    "chain-3": "skipped-dependency",
    "chain-ok-1": "pass",
    "chain-ok-2": "pass",
    "chain-ok-3": "pass",
    "before-first": "pass",
    "before-second": "pass",  # fails unless before-first ran earlier
    "before-lonely": "pass",
    # not in the plan: pulled in by depends / after / requires
    "puller-depends": "pass",
    "pulled-by-depends": "pass",
    "puller-after": "pass",
    "pulled-by-after": "fail",
    "puller-requires": "pass",
    "env_facts": "pass",
    # exclusion wins: excl-target is absent, so its dependent cannot run
    "excl-dependent": "skipped-dependency",
    "excl-after": "pass",
    # requires
    "req-true": "pass",
    "req-false": "skipped-resource",
    "req-multi-true": "pass",
    "req-multi-false": "skipped-resource",
    "req-int-cast": "pass",
    "req-int-cast-false": "skipped-resource",
    "req-arithmetic": "pass",
    "req-bad-cast": "skipped-resource",
    "req-split-and": "pass",
    "req-parenthesised-and": "skipped-resource",
    "req-alias": "pass",
    "broken-res": "fail",
    "req-broken-res": "skipped-resource",
    "req-broken-res-record": "pass",  # a failed resource job's records count
    "empty_res": "pass",
    "req-empty-res": "skipped-resource",
    "req-fail-on-resource": "fail",
    "req-fail-on-resource-met": "pass",
    "req-and-failed-dep": "skipped-dependency",  # a failed dep outranks resources
    "yaml-job": "pass",
    "yaml-unmet": "skipped-resource",
    # templates
    "tpl-disk-sda": "pass",
    "tpl-disk-sdb": "pass",
    "tpl-jinja-sdb": "pass",
    "tpl-x-sdb": "pass",
    "gadget-m1": "pass",
    "gadget-check#2": "fail",  # the invalid instance (record without "model")
    # selection and overrides
    "rx-abc-ok": "pass",
    "rx-xyz-ok": "pass",
    "nested-one": "pass",
    "nested-two": "pass",
    "ovr-inline": "pass",
    "ovr-cat": "pass",
    "ovr-both": "pass",
    "ovr-fail-blocker": "fail",
    "ovr-cso-one": "pass",
    "ovr-co-one": "pass",
    "ovr-none": "pass",
    # nobody is there to answer
    "ask-manual": "skip",
    "ask-interact": "skip",
    "ask-verify": "skip",
    "ask-interact-verify": "skip",
    "ask-dependent": "skip",  # its dependency was skipped, not failed
    # awkward output and endings
    "out-non-utf8": "pass",
    "out-long-line": "pass",
    "out-no-newline": "pass",
    "out-lots": "pass",
    "out-interleaved": "pass",
    "out-ansi": "pass",
    "out-nul": "pass",
    "out-background": "pass",
    "out-sigkill": "crash",
    "out-sigterm": "crash",
    "out-exit-1": "fail",
    "out-exit-255": "fail",
    "out-timeout": "fail",
    "out-timeout-ignores-term": "fail",
    "out-salvage-failure": "pass",
    "out-salvage-success": "skipped-dependency",
    "out-salvage-crash": "skipped-dependency",  # spec; see DIVERGENCES
    "out-attachment": "pass",
    "out-attachment-fail": "fail",
    "out-suppressed": "pass",
}

ABSENT = (
    "excl-target",  # excluded although excl-dependent depends on it
    "before-absent",  # "before" never pulls a job in
    "tpl-x-sda",  # an instance excluded by id
    "tpl-jinja-sda",  # dropped by template-filter
    "rx-abc-ok-extra",  # patterns are anchored at the end...
    "pre-rx-abc-ok",  # ...and at the start
    "rx-9-ok",
)
EXCLUDED = frozenset({"excl-target"})

# Jobs whose spec outcome differs from what plainbox does: the reason says
# what each side does and where the spec says so.
# Where plainbox knowingly differs from the reference outcomes (none now):
# job id -> the reason, making the job's check an expected failure.
DIVERGENCES: dict[str, str] = {}

# Full ids (or expressions) each blocked job's skip_reason must name.
DEPENDENCY_BLOCKERS: dict[str, list[str]] = {
    "dep-on-fail": ["dep-fail"],
    "dep-on-both": ["dep-fail"],  # dep-pass passed: not a blocker
    "chain-2": ["chain-1"],
    "chain-3": ["chain-2"],  # the direct blocker, not the root cause
    "excl-dependent": ["excl-target"],
    "req-and-failed-dep": ["dep-fail"],
    "out-salvage-success": ["dep-pass"],
}
RESOURCE_BLOCKERS: dict[str, list[str]] = {
    "req-false": ["disks.name == 'sdz'"],
    "req-multi-false": ["int(disks.size) > 1000"],  # only the false line
    "req-int-cast-false": ["int(disks.size) > 250"],
    "req-bad-cast": ["int(disks.model) > 0"],
    "req-parenthesised-and": ["(disks.name == 'sda' and disks.rotational == '0')"],
    "req-broken-res": ["broken.state == 'complete'"],
    "req-empty-res": ["empty_res.kind == 'anything'"],
    "req-fail-on-resource": ["disks.name == 'nvme0n1'"],
    "yaml-unmet": ["disks.model == 'Tape 1'"],
}

# (certification_status, category) after the plan's overrides; every other
# job keeps non-blocker and its own category acc-cat-a.
OVERRIDDEN: dict[str, tuple[str, str]] = {
    "ovr-inline": ("blocker", f"{NS}::acc-cat-a"),
    "ovr-cat": ("non-blocker", f"{NS}::acc-cat-b"),
    "ovr-both": ("blocker", f"{NS}::acc-cat-b"),
    "ovr-fail-blocker": ("blocker", f"{NS}::acc-cat-a"),
    "ovr-cso-one": ("blocker", f"{NS}::acc-cat-a"),
    "ovr-co-one": ("non-blocker", f"{NS}::acc-cat-c"),
    "ovr-none": ("blocker", UNCATEGORISED),  # its own values, no override
    "nested-two": ("blocker", f"{NS}::acc-cat-b"),  # from two levels down
}

# Exit statuses of failed and crashed jobs; passes are 0, skips None.
RETURN_CODES: dict[str, int | None] = {
    "dep-fail": 1,
    "chain-1": 3,
    "pulled-by-after": 1,
    "broken-res": 1,
    "ovr-fail-blocker": 1,
    "out-exit-1": 1,
    "out-exit-255": 255,
    "out-attachment-fail": 2,
    "out-sigkill": -9,
    "out-sigterm": -15,
    "req-fail-on-resource": None,  # failed by its requirement, never ran
    "gadget-check#2": None,  # an invalid instance has nothing to run
}
TIMED_OUT = ("out-timeout", "out-timeout-ignores-term")

GREEN = (
    "disks",
    "dep-pass",
    "dep-on-pass",
    "chain-ok-1",
    "chain-ok-2",
    "chain-ok-3",
    "req-true",
    "req-int-cast",
    "tpl-disk-sda",
    "tpl-disk-sdb",
    "out-attachment",
)


def full(partial: str) -> str:
    return f"{NS}::{partial}"


@dataclass(frozen=True)
class Run:
    """One ``plainbox run`` and its JSON report, results keyed by partial id."""

    exit_status: int
    output: str
    report: dict[str, Any]
    order: list[str]
    by_id: dict[str, dict[str, Any]]


def run_plan(plan: str, workdir: Path) -> Run:
    report_path = workdir / "report.json"
    env = dict(os.environ)
    # The autouse isolation fixture is function-scoped and these runs are
    # shared by the module, so the isolation is spelled out here.
    env.update(
        PLAINBOX_PROVIDERPATH=str(HERE),
        PLAINBOX_STATE_DIR=str(workdir / "state"),
        PLAINBOX_CACHE_DIR=str(workdir / "cache"),
        PLAINBOX_CONFIG_DIR=str(workdir / "config"),
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "plainbox",
            "run",
            plan,
            "--non-interactive",
            "--report",
            f"json:{report_path}",
        ],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=120,
        check=False,
    )
    output = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    assert report_path.is_file(), output
    report = json.loads(report_path.read_text(encoding="utf-8"))
    order = []
    for result in report["results"]:
        namespace, _, partial = result["id"].partition("::")
        assert namespace == NS, result["id"]
        order.append(partial)
    by_id = dict(zip(order, report["results"], strict=True))
    return Run(done.returncode, output, report, order, by_id)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return run_plan("acc-full", tmp_path_factory.mktemp("acc-full"))


@pytest.fixture(scope="module")
def green_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    # By full id, where acc-full goes by its partial id: users write both.
    return run_plan(full("acc-green"), tmp_path_factory.mktemp("acc-green"))


# -- an independent reader of the dependency fields ------------------------


@dataclass(frozen=True)
class Edges:
    """What one job (or template) says about its place in the run, as full ids."""

    depends: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    before: tuple[str, ...] = ()
    salvages: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()


def _pxu_records(text: str) -> Iterator[dict[str, str]]:
    record: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if record:
                yield record
            record, key = {}, ""
        elif line.startswith(" ") and key:
            record[key] += "\n" + line[1:]
        else:
            key, _, value = line.partition(":")
            key = key.strip().lstrip("_")
            record[key] = value.strip()
    if record:
        yield record


def _yaml_records(text: str) -> Iterator[dict[str, str]]:
    for document in yaml.safe_load_all(text):
        if document:
            yield {
                key: "\n".join(map(str, value))
                if isinstance(value, list)
                else str(value)
                for key, value in document.items()
            }


def _ids(text: str | None) -> tuple[str, ...]:
    words = re.split(r"[\s,]+", (text or "").strip())
    return tuple(word if "::" in word else full(word) for word in words if word)


def _resources(record: dict[str, str]) -> tuple[str, ...]:
    aliases = {}
    for line in record.get("imports", "").splitlines():
        match = re.match(r"\s*from\s+(\S+)\s+import\s+(\S+)(?:\s+as\s+(\S+))?", line)
        if match:
            namespace, partial, alias = match.groups()
            aliases[alias or partial] = f"{namespace}::{partial}"
    names = re.findall(r"\b([A-Za-z_]\w*)\s*\.\s*[A-Za-z_]", record.get("requires", ""))
    return tuple(dict.fromkeys(aliases.get(name, full(name)) for name in names))


def read_edges() -> dict[str, Edges]:
    """Edges of every job, and of every template under its template-id."""
    edges: dict[str, Edges] = {}
    for path in sorted((PROVIDER / "units").iterdir()):
        text = path.read_text(encoding="utf-8")
        records = _yaml_records(text) if path.suffix == ".yaml" else _pxu_records(text)
        for record in records:
            unit = record.get("unit", "job")
            if unit not in {"job", "template"}:
                continue
            key = record["template-id"] if unit == "template" else record["id"]
            edges[full(key)] = Edges(
                depends=_ids(record.get("depends")),
                after=_ids(record.get("after")),
                before=_ids(record.get("before")),
                salvages=_ids(record.get("salvages")),
                resources=_resources(record),
            )
    return edges


def edges_of(result: dict[str, Any], edges: dict[str, Edges]) -> Edges:
    """A template instance has the edges of its template."""
    return edges.get(result["id"]) or edges[result["template_id"]]


# -- the full plan ---------------------------------------------------------


def test_exit_status_is_1_because_jobs_fail(full_run: Run) -> None:
    assert full_run.exit_status == 1, full_run.output
    assert "Traceback" not in full_run.output


def test_report_has_exactly_one_result_per_job_of_the_run(full_run: Run) -> None:
    assert len(full_run.order) == len(set(full_run.order))
    assert sorted(full_run.order) == sorted(EXPECTED)
    assert not set(ABSENT) & set(full_run.order)
    report = full_run.report
    assert report["schema_version"] == 2
    assert report["session"]["test_plan"] == full("acc-full")
    assert report["summary"]["total"] == len(EXPECTED)


def _outcome_params() -> Iterator[Any]:
    for job, outcome in EXPECTED.items():
        marks = []
        if job in DIVERGENCES:
            marks.append(pytest.mark.xfail(strict=True, reason=DIVERGENCES[job]))
        yield pytest.param(job, outcome, marks=marks, id=job)


@pytest.mark.parametrize(("job", "outcome"), list(_outcome_params()))
def test_outcome(full_run: Run, job: str, outcome: str) -> None:
    result = full_run.by_id[job]
    assert result["outcome"] == outcome, result


def test_summary_counts_the_outcomes(full_run: Run) -> None:
    counts: dict[str, int] = {}
    for result in full_run.report["results"]:
        counts[result["outcome"]] = counts.get(result["outcome"], 0) + 1
    assert full_run.report["summary"]["outcomes"] == counts


def test_every_result_has_the_documented_fields(full_run: Run) -> None:
    for job, result in full_run.by_id.items():
        assert result.keys() >= REPORT_FIELDS, job
        assert isinstance(result["duration"], float | int), job
        assert result["duration"] >= 0, job
        assert isinstance(result["comments"], str), job
        assert result["skip_reason"] is None or isinstance(result["skip_reason"], dict)
        if result["outcome"] == "pass":
            assert result["comments"] == "", job


def _utc(text: str) -> datetime.datetime:
    assert text.endswith("Z"), text
    moment = datetime.datetime.fromisoformat(text)
    assert moment.utcoffset() == datetime.timedelta(0), text
    return moment


def test_times_are_iso_utc_and_follow_the_report_order(full_run: Run) -> None:
    session = full_run.report["session"]
    previous_end = _utc(session["started_at"])
    session_end = _utc(session["finished_at"])
    for job, result in full_run.by_id.items():
        if result["outcome"] in SKIP_OUTCOMES:
            # Skipped before starting: nothing ran, so there are no times.
            assert result["started_at"] is None, job
            assert result["finished_at"] is None, job
            continue
        started, finished = _utc(result["started_at"]), _utc(result["finished_at"])
        # Jobs run one at a time, in report order.
        assert previous_end <= started <= finished <= session_end, job
        slack = datetime.timedelta(seconds=0.05)
        assert (
            datetime.timedelta(seconds=result["duration"]) <= finished - started + slack
        )
        previous_end = finished


def test_order_respects_every_edge(full_run: Run) -> None:
    edges = read_edges()
    position = {full(job): index for index, job in enumerate(full_run.order)}
    for job in full_run.order:
        result = full_run.by_id[job]
        mine = edges_of(result, edges)
        for earlier in (*mine.depends, *mine.after, *mine.resources, *mine.salvages):
            if earlier in position:
                assert position[earlier] < position[result["id"]], (job, earlier)
        for later in mine.before:
            if later in position:
                assert position[result["id"]] < position[later], (job, later)


def test_needed_jobs_are_pulled_in_unless_excluded(full_run: Run) -> None:
    edges = read_edges()
    present = {full(job) for job in full_run.order}
    excluded = {full(job) for job in EXCLUDED}
    for job in full_run.order:
        mine = edges_of(full_run.by_id[job], edges)
        for needed in (*mine.depends, *mine.after, *mine.resources):
            assert needed in present or needed in excluded, (job, needed)


def test_bootstrap_then_mandatory_jobs_run_first(full_run: Run) -> None:
    assert full_run.order[:4] == ["disks", "gadgets", "mand-first", "mand-excluded"]


def test_pulled_in_jobs_run_where_the_plan_needs_them(full_run: Run) -> None:
    order = full_run.order
    for puller, pulled in (
        ("puller-depends", "pulled-by-depends"),
        ("puller-after", "pulled-by-after"),
        ("puller-requires", "env_facts"),
    ):
        assert order.index(pulled) == order.index(puller) - 1
        # excl-dependent comes from the include line after the pullers.
        assert order.index(puller) < order.index("excl-dependent")


# A divergent job's return code follows its outcome, which test_outcome judges.
@pytest.mark.parametrize("job", sorted(EXPECTED.keys() - DIVERGENCES.keys()))
def test_return_code(full_run: Run, job: str) -> None:
    result = full_run.by_id[job]
    if job in RETURN_CODES:
        assert result["return_code"] == RETURN_CODES[job]
    elif job in TIMED_OUT:
        assert result["return_code"] not in (None, 0)
    elif EXPECTED[job] == "pass":
        assert result["return_code"] == 0
    else:
        assert EXPECTED[job] in SKIP_OUTCOMES, "a failure without a known code"
        assert result["return_code"] is None


@pytest.mark.parametrize(("job", "blockers"), DEPENDENCY_BLOCKERS.items())
def test_skip_reason_names_the_blocking_jobs(
    full_run: Run, job: str, blockers: list[str]
) -> None:
    result = full_run.by_id[job]
    assert result["skip_reason"]["related_dependencies"] == [full(b) for b in blockers]
    for blocker in blockers:
        assert full(blocker) in result["comments"]


@pytest.mark.parametrize(("job", "expressions"), RESOURCE_BLOCKERS.items())
def test_skip_reason_names_the_false_expression(
    full_run: Run, job: str, expressions: list[str]
) -> None:
    result = full_run.by_id[job]
    assert result["skip_reason"]["related_resources"] == expressions
    for expression in expressions:
        assert expression in result["comments"]


@pytest.mark.parametrize(
    "job", ["ask-manual", "ask-interact", "ask-verify", "ask-interact-verify"]
)
def test_interactive_jobs_are_skipped_with_a_reason(full_run: Run, job: str) -> None:
    result = full_run.by_id[job]
    assert "non-interactive" in result["comments"]
    assert result["stdout"] == ""  # the command did not run


@pytest.mark.parametrize("job", sorted(EXPECTED))
def test_overrides(full_run: Run, job: str) -> None:
    result = full_run.by_id[job]
    status, category = OVERRIDDEN.get(job, ("non-blocker", full("acc-cat-a")))
    assert (result["certification_status"], result["category_id"]) == (status, category)


@pytest.mark.parametrize("job", TIMED_OUT)
def test_timeout_fails_the_job_and_says_so(full_run: Run, job: str) -> None:
    result = full_run.by_id[job]
    assert "timed out" in result["comments"]
    # timeout: 1, and the command would sleep 30 s; SIGKILL comes 1 s after
    # SIGTERM for the job that ignores SIGTERM.
    assert 1.0 <= result["duration"] < 10.0


@pytest.mark.parametrize(("job", "signal"), [("out-sigkill", 9), ("out-sigterm", 15)])
def test_crash_names_the_signal(full_run: Run, job: str, signal: int) -> None:
    assert f"signal {signal}" in full_run.by_id[job]["comments"]


def _expected_output() -> Iterator[Any]:
    notes = (PROVIDER / "data" / "notes.txt").read_text(encoding="utf-8")
    cases = [
        ("out-non-utf8", "stdout", "caf\ufffd \ufffd\ufffd end\n"),
        ("out-no-newline", "stdout", "first\nlast without newline"),
        ("out-long-line", "stdout", "x" * 300_000 + "\n"),
        ("out-lots", "stdout", "".join(f"{n}\n" for n in range(1, 100_001))),
        ("out-interleaved", "stdout", "".join(f"out {n}\n" for n in range(1, 51))),
        ("out-interleaved", "stderr", "".join(f"err {n}\n" for n in range(1, 51))),
        ("out-background", "stdout", "started a sleeper\n"),
        ("out-sigkill", "stdout", "about to die\n"),
        ("out-exit-1", "stderr", "exit 1 coming\n"),
        ("out-timeout", "stdout", "started\n"),
        ("out-salvage-failure", "stdout", "salvaging\n"),
        ("out-attachment", "stdout", notes),
        ("out-attachment-fail", "stdout", "partial attachment\n"),
        ("out-suppressed", "stdout", "recorded anyway\n"),
        ("tpl-disk-sda", "stdout", "sda ok\n"),
        ("tpl-disk-sdb", "stdout", "sdb ok\n"),
        ("tpl-jinja-sdb", "stdout", "sdb is solid state\n"),
        ("tpl-x-sdb", "stdout", "Flash 200\n"),
        ("gadget-m1", "stdout", "g1 is a m1\n"),
        ("yaml-job", "stdout", "written in YAML\n"),
    ]
    for job, stream, text in cases:
        yield pytest.param(job, stream, text, id=f"{job}-{stream}")


@pytest.mark.parametrize(("job", "stream", "text"), list(_expected_output()))
def test_output_is_captured(full_run: Run, job: str, stream: str, text: str) -> None:
    assert full_run.by_id[job][stream] == text


@pytest.mark.parametrize(
    ("job", "pieces"),
    [("out-ansi", ["red", "plain"]), ("out-nul", ["before", "after"])],
)
def test_control_characters_do_not_lose_text(
    full_run: Run, job: str, pieces: list[str]
) -> None:
    # Whether escapes and NULs are kept or cleaned is the exporter's choice;
    # the text around them must survive either way.
    stdout = full_run.by_id[job]["stdout"]
    assert all(piece in stdout for piece in pieces)


def test_attachment_jobs_are_marked(full_run: Run) -> None:
    marked = {job for job, result in full_run.by_id.items() if result["attachment"]}
    assert marked == {"out-attachment", "out-attachment-fail"}


@pytest.mark.parametrize(
    ("job", "template"),
    [
        ("tpl-disk-sda", "tpl-disk"),
        ("tpl-disk-sdb", "tpl-disk"),
        ("tpl-jinja-sdb", "tpl-jinja"),
        ("tpl-x-sdb", "tpl-x"),
        ("gadget-m1", "gadget-check"),
        ("gadget-check#2", "gadget-check"),
        ("dep-pass", None),
    ],
)
def test_instances_name_their_template(
    full_run: Run, job: str, template: str | None
) -> None:
    expected = full(template) if template else None
    assert full_run.by_id[job]["template_id"] == expected


def test_invalid_instance_fails_with_the_missing_key(full_run: Run) -> None:
    result = full_run.by_id["gadget-check#2"]
    assert "invalid template instance" in result["comments"]
    assert "model" in result["comments"]


# -- the plan that only passes ---------------------------------------------


def test_green_plan_exits_0_and_everything_passes(green_run: Run) -> None:
    assert green_run.exit_status == 0, green_run.output
    assert sorted(green_run.order) == sorted(GREEN)
    assert {r["outcome"] for r in green_run.by_id.values()} == {"pass"}
    assert green_run.report["summary"] == {
        "total": len(GREEN),
        "outcomes": {"pass": len(GREEN)},
    }
