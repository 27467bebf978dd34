"""End-to-end runs of small test plans: phases, outcomes, skips and overrides."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from plainbox.execution.controller import RunOptions
from plainbox.execution.controller import run_test_plan
from plainbox.paths import BUILTIN_PROVIDER_DIR
from plainbox.session.results import JobResult
from plainbox.session.results import Outcome
from plainbox.units.catalog import load_catalog
from plainbox.units.model import JobDefinition
from plainbox.units.model import TestPlan


NS = "com.example"
TUTORIAL = Path(__file__).parents[2] / "providers" / "tutorial"
TOML = '[provider]\nname = "{name}"\nnamespace = "{namespace}"\nversion = "1.0"\n'

Results = list[tuple[JobDefinition, JobResult]]


def write_provider(
    root: Path,
    units: str,
    *,
    name: str = "example",
    namespace: str = NS,
    data: dict[str, str] | None = None,
) -> Path:
    """A provider directory with ``units/units.pxu`` (and ``data/`` files)."""
    root.mkdir(parents=True)
    (root / "provider.toml").write_text(TOML.format(name=name, namespace=namespace))
    (root / "units").mkdir()
    (root / "units" / "units.pxu").write_text(textwrap.dedent(units))
    for relative, text in (data or {}).items():
        path = root / "data" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def run_plan(
    tmp_path: Path, providers: list[Path], plan: str, **options: object
) -> Results:
    catalog = load_catalog([], explicit=providers, builtin_dir=BUILTIN_PROVIDER_DIR)
    assert [str(problem) for problem in catalog.problems] == []
    share = tmp_path / "share"
    share.mkdir(exist_ok=True)
    return run_test_plan(
        catalog,
        catalog.resolve(plan, TestPlan),
        RunOptions(session_share=share, **options),  # type: ignore[arg-type]
    )


@pytest.fixture
def run_units(tmp_path):
    """Run plan ``tp`` of a one-provider catalog built from PXU text."""

    def run(units: str, plan: str = f"{NS}::tp", **options: object) -> Results:
        provider = write_provider(tmp_path / "provider", units)
        return run_plan(tmp_path, [provider], plan, **options)

    return run


def outcomes(results: Results) -> dict[str, str]:
    """Partial id -> outcome, in run order (dicts keep insertion order)."""
    return {job.partial_id: result.outcome.value for job, result in results}


def result_of(results: Results, partial_id: str) -> tuple[JobDefinition, JobResult]:
    (found,) = [pair for pair in results if pair[0].partial_id == partial_id]
    return found


def plan(body: str) -> str:
    return f"\nunit: test plan\nid: tp\n_name: Test plan\n{textwrap.dedent(body)}"


# -- outcomes from exit status ------------------------------------------------


OUTCOMES = """\
id: passes
plugin: shell
command: echo hello; echo oops >&2

id: fails
plugin: shell
command: exit 3

id: crashes
plugin: shell
command: kill -KILL $$

id: attaches
plugin: attachment
command: printf 'attached\\n'

id: no-command
plugin: shell
""" + plan("include: .*\n")


def test_run_test_plan_decides_outcomes_from_exit_status(run_units):
    results = run_units(OUTCOMES)

    assert outcomes(results) == {
        "passes": "pass",
        "fails": "fail",
        "crashes": "crash",
        "attaches": "pass",
        "no-command": "fail",
    }
    assert [result.job_id for _, result in results] == [job.id for job, _ in results]
    _, passed = result_of(results, "passes")
    assert (passed.return_code, passed.stdout, passed.stderr) == (
        0,
        "hello\n",
        "oops\n",
    )
    assert passed.started is not None
    assert result_of(results, "fails")[1].return_code == 3
    _, crashed = result_of(results, "crashes")
    assert crashed.return_code == -9
    assert "9" in crashed.comments
    assert "command" in result_of(results, "no-command")[1].comments


def test_run_test_plan_decodes_non_utf8_output(run_units):
    results = run_units(
        "id: binary\nplugin: shell\ncommand: printf 'a\\377b'\n" + plan("include: .*")
    )

    assert result_of(results, "binary")[1].stdout == "a\ufffdb"


class FakeOperator:
    """Answers every question the same way, and remembers what it saw."""

    def __init__(self, ready: bool = True, outcome: Outcome = Outcome.PASS) -> None:
        self._ready = ready
        self._outcome = outcome
        self.seen: dict[str, JobResult | None] = {}

    def ready(self, job: JobDefinition) -> bool:
        return self._ready

    def verdict(self, job: JobDefinition, result: JobResult | None):
        self.seen[job.partial_id] = result
        return self._outcome, f"judged {job.partial_id}"


@pytest.mark.parametrize("operator", [None, FakeOperator()])
def test_run_test_plan_unsupported_plugin_crashes(run_units, operator):
    results = run_units(
        "id: legacy\nplugin: local\ncommand: true\n" + plan("include: .*"),
        operator=operator,
    )

    assert outcomes(results) == {"legacy": "crash"}


# -- order ----------------------------------------------------------------------


ORDERED = """\
id: first
plugin: shell
command: echo first >> "$PLAINBOX_SESSION_SHARE/log"

id: second
plugin: shell
after: third
command: echo second >> "$PLAINBOX_SESSION_SHARE/log"

id: third
plugin: shell
command: echo third >> "$PLAINBOX_SESSION_SHARE/log"

id: mandatory
plugin: shell
command: echo mandatory >> "$PLAINBOX_SESSION_SHARE/log"
""" + plan(
    """\
    include:
     second
     first
     third
    mandatory_include: mandatory
    """
)


def test_run_test_plan_returns_results_in_execution_order(run_units, tmp_path):
    started: list[str] = []
    finished: list[str] = []

    results = run_units(
        ORDERED,
        on_start=lambda job: started.append(job.partial_id),
        on_result=lambda job, result: finished.append(result.job_id),
    )

    # Plan order, except that "second" needs "third" first (depth first, as
    # Checkbox orders the run list).
    expected = ["mandatory", "third", "second", "first"]
    assert list(outcomes(results)) == expected
    assert (tmp_path / "share" / "log").read_text().split() == expected
    assert started == expected
    assert finished == [f"{NS}::{name}" for name in expected]


# The progress callbacks of one job and the next are made while the next
# command runs (they cost the run no time); their order never changes.
PROGRESS = """\
id: first
plugin: shell
command: true

id: skipped
plugin: shell
depends: broken
command: true

id: broken
plugin: shell
command: exit 1

id: asks
plugin: user-interact
command: true

id: last
plugin: shell
depends: broken
command: true
""" + plan("include: first\n broken\n skipped\n asks\n last\n")


def test_progress_callbacks_come_in_run_order_and_all_by_the_end(run_units):
    events: list[str] = []

    class Asked(FakeOperator):
        def ready(self, job: JobDefinition) -> bool:
            events.append(f"ask {job.partial_id}")
            return True

    run_units(
        PROGRESS,
        operator=Asked(),
        on_start=lambda job: events.append(f"start {job.partial_id}"),
        on_result=lambda job, result: events.append(f"result {job.partial_id}"),
    )

    expected = []
    for name in ["first", "broken", "skipped", "asks", "last"]:
        expected.append(f"start {name}")
        if name == "asks":
            # The operator hears of a job after the progress of the ones before.
            expected.append("ask asks")
        expected.append(f"result {name}")
    # "last" is blocked: its callbacks are still made before the run returns.
    assert events == expected


def test_a_failing_progress_callback_stops_the_command_it_ran_beside(
    run_units, tmp_path
):
    units = """\
id: one
plugin: shell
command: true

id: two
plugin: shell
command: sleep 5; touch "$PLAINBOX_SESSION_SHARE/two-finished"
""" + plan("include: one\n two\n")

    def on_result(job: JobDefinition, result: JobResult) -> None:
        raise RuntimeError("the display went away")

    began = time.monotonic()
    with pytest.raises(RuntimeError, match="display went away"):
        run_units(units, on_result=on_result)

    assert time.monotonic() - began < 4
    assert not (tmp_path / "share" / "two-finished").exists()


# -- dependencies -------------------------------------------------------------


DEPENDS = """\
id: broken
plugin: shell
command: exit 1

id: needs-broken
plugin: shell
depends: broken
command: touch "$PLAINBOX_SESSION_SHARE/needs-broken-ran"

id: needs-needs-broken
plugin: shell
depends: needs-broken
command: true

id: after-broken
plugin: shell
after: broken
command: true
""" + plan("include: needs-needs-broken\n after-broken\n")


def test_run_test_plan_skips_jobs_whose_dependency_did_not_pass(run_units, tmp_path):
    results = run_units(DEPENDS)

    assert outcomes(results) == {
        "broken": "fail",
        "needs-broken": "skipped-dependency",
        "needs-needs-broken": "skipped-dependency",
        "after-broken": "pass",
    }
    _, skipped = result_of(results, "needs-broken")
    assert skipped.skip_reason == {"related_dependencies": [f"{NS}::broken"]}
    assert f"{NS}::broken" in skipped.comments
    _, transitive = result_of(results, "needs-needs-broken")
    assert transitive.skip_reason == {"related_dependencies": [f"{NS}::needs-broken"]}
    assert not (tmp_path / "share" / "needs-broken-ran").exists()


EXCLUDED = """\
id: wanted
plugin: shell
depends: banned
command: true

id: ordered
plugin: shell
after: banned
command: true

id: banned
plugin: shell
command: touch "$PLAINBOX_SESSION_SHARE/banned-ran"
""" + plan("include: wanted\n ordered\n banned\nexclude: banned\n")


def test_run_test_plan_exclude_wins_over_dependencies(run_units, tmp_path):
    results = run_units(EXCLUDED)

    assert outcomes(results) == {"wanted": "skipped-dependency", "ordered": "pass"}
    _, skipped = result_of(results, "wanted")
    assert skipped.skip_reason == {"related_dependencies": [f"{NS}::banned"]}
    assert not (tmp_path / "share" / "banned-ran").exists()


def test_run_test_plan_exclude_cannot_deselect_mandatory_jobs(run_units):
    results = run_units(
        "id: must\nplugin: shell\ncommand: true\n\n"
        "id: other\nplugin: shell\ncommand: true\n"
        + plan("mandatory_include: must\ninclude: other\nexclude: .*\n")
    )

    assert outcomes(results) == {"must": "pass"}


def test_run_test_plan_pulls_dependencies_not_in_the_plan(run_units):
    results = run_units(
        "id: a\nplugin: shell\ndepends: b\ncommand: true\n\n"
        "id: b\nplugin: shell\nafter: c\ncommand: true\n\n"
        "id: c\nplugin: shell\ncommand: true\n" + plan("include: a\n")
    )

    assert outcomes(results) == {"c": "pass", "b": "pass", "a": "pass"}


def test_run_test_plan_salvaging_job_runs_only_after_a_failure(run_units, tmp_path):
    results = run_units(
        "id: fine\nplugin: shell\ncommand: true\n\n"
        "id: rescue\nplugin: shell\nafter: fine\nsalvages: fine\n"
        'command: touch "$PLAINBOX_SESSION_SHARE/rescued"\n' + plan("include: .*\n")
    )

    assert outcomes(results)["fine"] == "pass"
    assert result_of(results, "rescue")[1].outcome.is_skip
    assert not (tmp_path / "share" / "rescued").exists()


# -- resources ----------------------------------------------------------------


RESOURCES = """\
id: widgets
plugin: resource
command:
 echo "kind: widget"
 echo "level: 3"
 echo
 echo "kind: gadget"
 echo "level: 0"

id: has-widget
plugin: shell
requires: widgets.kind == 'widget'
command: true

id: has-flux
plugin: shell
requires:
 widgets.kind == 'widget'
 widgets.kind == 'flux'
command: touch "$PLAINBOX_SESSION_SHARE/flux-ran"

id: must-have-flux
plugin: shell
flags: fail-on-resource
requires: widgets.kind == 'flux'
command: true

id: high-level
plugin: shell
requires: int(widgets.level) > 2
command: true
""" + plan("include: has-.*\n must-have-flux\n high-level\n")


def test_run_test_plan_checks_resource_requirements(run_units, tmp_path):
    results = run_units(RESOURCES)

    assert outcomes(results) == {
        "widgets": "pass",
        "has-widget": "pass",
        "has-flux": "skipped-resource",
        "must-have-flux": "fail",
        "high-level": "pass",
    }
    _, skipped = result_of(results, "has-flux")
    assert skipped.skip_reason == {"related_resources": ["widgets.kind == 'flux'"]}
    assert "widgets.kind == 'flux'" in skipped.comments
    assert result_of(results, "must-have-flux")[1].return_code is None
    assert not (tmp_path / "share" / "flux-ran").exists()


def test_run_test_plan_failed_resource_job_records_still_count(run_units):
    # As in Checkbox: what a resource job printed is used whatever its exit status.
    results = run_units(
        "id: res\nplugin: resource\ncommand: echo 'k: v'; exit 1\n\n"
        "id: user\nplugin: shell\nrequires: res.k == 'v'\ncommand: true\n\n"
        "id: other\nplugin: shell\nrequires: res.k == 'w'\ncommand: true\n"
        + plan("include: user\n other\n")
    )

    assert outcomes(results) == {
        "res": "fail",
        "user": "pass",
        "other": "skipped-resource",
    }


def test_run_test_plan_silent_resource_job_leaves_one_empty_record(run_units):
    # One record, so a template over it makes exactly one instance.
    results = run_units(
        "id: res\nplugin: resource\ncommand: true\n\n"
        "unit: template\ntemplate-resource: res\ntemplate-id: tpl\n"
        "id: tpl-{__index__}\nplugin: shell\ncommand: true\n"
        + plan("bootstrap_include: res\ninclude: tpl\n")
    )

    assert outcomes(results) == {"res": "pass", "tpl-1": "pass"}


def test_run_test_plan_excluded_resource_fails_requirements(run_units):
    results = run_units(
        "id: res\nplugin: resource\ncommand: echo 'k: v'\n\n"
        "id: user\nplugin: shell\nrequires: res.k == 'v'\ncommand: true\n"
        + plan("include: user\nexclude: res\n")
    )

    assert outcomes(results) == {"user": "skipped-resource"}


# -- interactive jobs ---------------------------------------------------------


INTERACTIVE = """\
id: manual-job
plugin: manual
_purpose: Look at it.

id: interact
plugin: user-interact
command: touch "$PLAINBOX_SESSION_SHARE/interact-ran"

id: verify
plugin: user-verify
command: touch "$PLAINBOX_SESSION_SHARE/verify-ran"

id: interact-verify
plugin: user-interact-verify
command: touch "$PLAINBOX_SESSION_SHARE/interact-verify-ran"

id: automated
plugin: shell
command: true
""" + plan("include: .*\n")


def test_run_test_plan_skips_interactive_jobs_when_non_interactive(run_units, tmp_path):
    results = run_units(INTERACTIVE)

    assert outcomes(results) == {
        "manual-job": "skip",
        "interact": "skip",
        "verify": "skip",
        "interact-verify": "skip",
        "automated": "pass",
    }
    for job, result in results:
        if job.partial_id != "automated":
            assert "interactive" in result.comments
    assert list((tmp_path / "share").iterdir()) == []


@pytest.mark.parametrize("outcome", [Outcome.PASS, Outcome.FAIL])
def test_run_test_plan_operator_judges_manual_and_verify_jobs(
    run_units, tmp_path, outcome
):
    operator = FakeOperator(outcome=outcome)
    results = run_units(INTERACTIVE, operator=operator)

    for partial_id in ("manual-job", "verify", "interact-verify"):
        _job, result = result_of(results, partial_id)
        assert result.outcome is outcome
        assert result.comments == f"judged {partial_id}"
    # A manual job runs nothing; verify jobs are judged after their command ran.
    assert operator.seen["manual-job"] is None
    assert operator.seen["verify"] is not None
    assert operator.seen["verify"].return_code == 0
    assert result_of(results, "interact")[1].outcome is Outcome.PASS
    ran = {path.name for path in (tmp_path / "share").iterdir()}
    assert ran == {"interact-ran", "verify-ran", "interact-verify-ran"}


def test_run_test_plan_operator_may_skip_interactive_jobs(run_units, tmp_path):
    results = run_units(INTERACTIVE, operator=FakeOperator(ready=False))

    assert outcomes(results)["interact"] == "skip"
    assert result_of(results, "interact")[1].comments == "skipped by the operator"
    assert list((tmp_path / "share").iterdir()) == []


# -- bootstrap and templates --------------------------------------------------


DISKS = """\
id: disks
plugin: resource
command:
 echo "name: sda"
 echo "size: 10"
 echo
 echo "name: sdb"
 echo "size: 0"
 echo
 echo "name: sdc"
 echo "size: 5"

unit: template
template-resource: disks
template-id: disk-check
template-filter: disks.size != '0'
id: disk-check-{name}
_summary: Check {name}
plugin: shell
command: echo "checking {name} #{__index__}"

id: other
plugin: shell
command: true
"""


def test_run_test_plan_bootstrap_instantiates_templates(run_units):
    results = run_units(DISKS + plan("bootstrap_include: disks\ninclude: disk-check\n"))

    assert outcomes(results) == {
        "disks": "pass",
        "disk-check-sda": "pass",
        "disk-check-sdc": "pass",
    }
    job, result = result_of(results, "disk-check-sdc")
    assert result.stdout == "checking sdc #2\n"
    assert job.template_id == "disk-check"
    assert job.summary == "Check sdc"


def test_run_test_plan_selects_instances_by_their_own_ids(run_units):
    results = run_units(
        DISKS
        + plan(
            "bootstrap_include: disks\ninclude: disk-check-sdc\n other\n"
            "exclude: disk-check-sda\n"
        )
    )

    assert outcomes(results) == {
        "disks": "pass",
        "disk-check-sdc": "pass",
        "other": "pass",
    }


def test_run_test_plan_without_bootstrap_makes_no_instances(run_units):
    results = run_units(DISKS + plan("include: disk-check\n other\n"))

    assert outcomes(results) == {"other": "pass"}


IMPORTED_RESOURCE = """\
unit: template
template-resource: {resource}
template-imports: from com.other import things{alias}
template-filter: {name}.k == 'x'
template-id: tpl
id: tpl-{{k}}
plugin: shell
command: echo {{k}}
""" + plan("bootstrap_include: com.other::things\ninclude: tpl\n")


@pytest.mark.parametrize(
    ("resource", "alias", "name"),
    [
        ("com.other::things", "", "things"),
        ("things", "", "things"),
        ("r", " as r", "r"),
    ],
)
def test_run_test_plan_template_resource_from_another_namespace(
    tmp_path, resource, alias, name
):
    other = write_provider(
        tmp_path / "other",
        "id: things\nplugin: resource\ncommand: echo 'k: x'; echo; echo 'k: y'\n",
        name="other",
        namespace="com.other",
    )
    units = IMPORTED_RESOURCE.format(resource=resource, alias=alias, name=name)
    example = write_provider(tmp_path / "example", units)

    results = run_plan(tmp_path, [other, example], f"{NS}::tp")

    assert outcomes(results) == {"things": "pass", "tpl-x": "pass"}


BROKEN_TEMPLATE = """\
id: disks
plugin: resource
command: echo "name: sda"

unit: template
template-resource: disks
template-id: broken
id: broken-{name}
plugin: shell
command: echo {size}

id: other
plugin: shell
command: true
"""


def test_run_test_plan_invalid_instance_fails_with_the_reason(run_units):
    results = run_units(
        BROKEN_TEMPLATE + plan("bootstrap_include: disks\ninclude: broken\n other\n")
    )

    ((job, result),) = [pair for pair in results if pair[1].outcome is Outcome.FAIL]
    assert job.template_id == "broken"
    assert "size" in result.comments
    assert "invalid" in result.comments
    assert outcomes(results)["other"] == "pass"


def test_run_test_plan_invalid_instance_of_unselected_template_is_ignored(run_units):
    results = run_units(
        BROKEN_TEMPLATE + plan("bootstrap_include: disks\ninclude: other\n")
    )

    assert outcomes(results) == {"disks": "pass", "other": "pass"}


# -- setup --------------------------------------------------------------------


SETUP = """\
unit: setup job
id: prepare
plugin: shell
command: echo ready > "$PLAINBOX_SESSION_SHARE/stamp"

id: res
plugin: resource
command: echo "ready: $(cat "$PLAINBOX_SESSION_SHARE/stamp")"

id: check
plugin: shell
requires: res.ready == 'ready'
command: cat "$PLAINBOX_SESSION_SHARE/stamp"
""" + plan("include: check\nbootstrap_include: res\nsetup_include: prepare\n")


def test_run_test_plan_runs_setup_then_bootstrap_then_tests(run_units):
    results = run_units(SETUP)

    assert outcomes(results) == {"prepare": "pass", "res": "pass", "check": "pass"}
    assert result_of(results, "check")[1].stdout == "ready\n"


def test_run_test_plan_include_does_not_select_setup_jobs(run_units):
    results = run_units(SETUP.split("\nunit: test plan")[0] + plan("include: .*\n"))

    assert "prepare" not in outcomes(results)


# -- overrides ----------------------------------------------------------------


OVERRIDDEN = """\
unit: category
id: special
_name: Special

id: a
plugin: shell
command: true

id: b
plugin: shell
certification-status: blocker
command: true
""" + plan(
    """\
    include:
     a certification-status=blocker, auto-retry=no
     b
    category_overrides: apply special to a
    certification_status_overrides: apply non-blocker to b
    """
)


def test_run_test_plan_applies_plan_overrides_to_jobs(run_units):
    results = run_units(OVERRIDDEN)

    a, _ = result_of(results, "a")
    b, _ = result_of(results, "b")
    assert (a.certification_status, a.auto_retry, a.category_id) == (
        "blocker",
        "no",
        f"{NS}::special",
    )
    assert (b.certification_status, b.category_id) == (
        "non-blocker",
        "com.canonical.plainbox::uncategorised",
    )


# -- timeouts and environment -------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "options"),
    [
        ("", {"job_timeout": 0.5}),
        ("timeout: 0.5\n", {}),
        ("timeout: 0.5\n", {"job_timeout": 60}),
    ],
)
def test_run_test_plan_job_timeout_fails_the_job(run_units, fields, options):
    results = run_units(
        f"id: hangs\nplugin: shell\n{fields}command: echo started; sleep 30\n\n"
        "id: next\nplugin: shell\ncommand: true\n" + plan("include: hangs\n next\n"),
        **options,
    )

    assert outcomes(results) == {"hangs": "fail", "next": "pass"}
    _, result = result_of(results, "hangs")
    assert "timed out" in result.comments
    assert "0.5" in result.comments
    assert result.stdout == "started\n"
    assert result.duration < 10


def test_run_test_plan_passes_launcher_environment(run_units, monkeypatch):
    monkeypatch.setenv("PLAINBOX_TEST_FROM_PROCESS", "process")
    results = run_units(
        'id: env\nplugin: shell\ncommand: echo "$A $PLAINBOX_TEST_FROM_PROCESS"\n'
        + plan("include: env\n"),
        environment={"A": "launcher", "PLAINBOX_TEST_FROM_PROCESS": "launcher"},
    )

    assert result_of(results, "env")[1].stdout == "launcher process\n"


def test_run_test_plan_provider_given_by_relative_path(tmp_path, monkeypatch):
    write_provider(
        tmp_path / "example",
        'id: read\nplugin: shell\ncommand: cat "$PLAINBOX_PROVIDER_DATA/f"\n'
        + plan("include: read\n"),
        data={"f": "data\n"},
    )
    monkeypatch.chdir(tmp_path)

    results = run_plan(tmp_path, [Path("example")], f"{NS}::tp")

    assert outcomes(results) == {"read": "pass"}


# -- the tutorial provider ----------------------------------------------------


def test_run_test_plan_tutorial_passes(tmp_path):
    results = run_plan(tmp_path, [TUTORIAL], "io.plainbox.tutorial::tutorial")

    found = outcomes(results)
    assert [job for job, outcome in found.items() if outcome in {"fail", "crash"}] == []
    assert found["requires-flux-capacitor"] == "skipped-resource"
    assert found["calibrate-flux-capacitor"] == "skipped-dependency"
    assert found["prepare-workspace"] == "pass"
    assert next(iter(found)) == "prepare-workspace"
    assert found["workspace-ready"] == "pass"
    assert "check-config-retries-in-bounds" not in found
    assert any(job.template_id == "mount-point" for job, _ in results)
    ready, _ = result_of(results, "workspace-ready")
    assert ready.certification_status == "blocker"
    requires, _ = result_of(results, "requires-widget-feature")
    assert requires.category_id == "io.plainbox.tutorial::tutorial-resources"


def test_run_test_plan_tutorial_failures_has_one_failure(tmp_path):
    results = run_plan(tmp_path, [TUTORIAL], "io.plainbox.tutorial::tutorial-failures")

    found = outcomes(results)
    assert [job for job, outcome in found.items() if outcome == "fail"] == [
        "check-config-retries-in-bounds"
    ]
    assert found["use-config-retries"] == "skipped-dependency"
    assert "crash" not in found.values()
