"""Time how fast plainbox parses, loads and validates a large provider.

A provider of ``--units`` units (2,500 by default) is generated into a
temporary directory with ``generate_provider.py``, then each step is timed
``--repeat`` times in a fresh Python process (imports included, nothing
cached in memory) and, for plainbox, also in this process after a warm-up:

(a) parse: every unit file read and split into records;
(b) load: providers discovered and read, records turned into units (the
    built-in provider included);
(c) load + validate: (b) then every check ``plainbox validate`` makes;
(d) startup: ``plainbox --help`` against ``python3 -c pass``;
(e) the whole validate command, as a user runs it.

With ``--baseline-python`` (the python of a virtual environment where
``checkbox-ng`` is installed) the same steps are timed with Checkbox's own
implementation on the same files. Nothing is installed by this script.

Usage::

    python benchmarks/load_units.py
    python benchmarks/load_units.py --baseline-python /tmp/checkbox-baseline/bin/python
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING


if TYPE_CHECKING:  # mypy sees benchmarks/ as a namespace package
    from benchmarks import generate_provider
    from benchmarks import timing
else:  # benchmarks/ is not a package: import the helpers beside this script
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import generate_provider
    import timing


TARGET_VALIDATE = 1.0  # seconds, fresh process, 2,500 units
TARGET_HELP = 0.15  # seconds

# Child programs. Each prints one JSON object: the time it measured itself
# (from before its first import) and what it produced.
_PLAINBOX_CHILD = r"""
import time
t0 = time.perf_counter()
import json, sys
from pathlib import Path
mode, provider = sys.argv[1], Path(sys.argv[2])
result = {}
if mode == "parse":
    from plainbox.units.pxu import decode_unit_text, parse_pxu
    records = 0
    for path in sorted((provider / "units").rglob("*.pxu")):
        text, _ = decode_unit_text(path.read_bytes(), str(path))
        records += len(parse_pxu(text, str(path))[0])
    result["count"] = records
else:
    from plainbox.paths import BUILTIN_PROVIDER_DIR
    from plainbox.units.catalog import load_catalog
    catalog = load_catalog([], builtin_dir=BUILTIN_PROVIDER_DIR, explicit=[provider])
    result["count"] = len(catalog.units)
    result["errors"] = sum(p.severity.value == "error" for p in catalog.problems)
    if mode == "validate":
        from plainbox.units.validation import validate
        problems = validate(catalog)
        result["errors"] += sum(p.severity.value == "error" for p in problems)
result["inner"] = time.perf_counter() - t0
print(json.dumps(result))
"""

_NAIVE_CHILD_BODY = r"""
records = 0
for path in sorted((Path(sys.argv[2]) / "units").rglob("*.pxu")):
    records += len(naive_parse(path.read_text(encoding="utf-8")))
print(json.dumps({"count": records, "inner": time.perf_counter() - t0}))
"""

# Drives checkbox-ng's own classes, as its ``manage.py validate`` does.
_CHECKBOX_CHILD = r"""
import time
t0 = time.perf_counter()
import json, logging, sys
from pathlib import Path
logging.disable(logging.WARNING)
mode, provider, definition = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
result = {}
if mode == "parse":
    from plainbox.impl.secure.rfc822 import load_rfc822_records
    records = 0
    for path in sorted((provider / "units").rglob("*.pxu")):
        with open(path, encoding="utf-8") as stream:
            records += len(load_rfc822_records(stream))
    result["count"] = records
else:
    from plainbox.impl.providers.special import get_categories, get_manifest
    from plainbox.impl.secure.providers.v1 import Provider1, Provider1Definition
    spec = Provider1Definition()
    spec.read([definition])
    bench = Provider1.from_definition(spec, secure=False, validate=False, check=False)
    builtins = [get_categories(), get_manifest()]
    units = list(bench.unit_list)
    for extra in builtins:
        units += extra.unit_list
    result["count"] = len(units)
    result["errors"] = len(bench.problem_list)
    if mode == "validate":
        from plainbox.impl.providers.v1 import InsecureProvider1PlugInCollection
        from plainbox.impl.unit.validators import UnitValidationContext
        from plainbox.impl.validation import Severity
        installed = InsecureProvider1PlugInCollection(validate=False, check=False)
        installed.load()
        providers = installed.get_all_plugin_objects()
        if all(p.name != bench.name for p in providers):
            providers.append(bench)
        context = UnitValidationContext(providers + builtins)
        for unit in bench.unit_list:
            for issue in unit.check(context=context, live=True):
                result["errors"] += issue.severity is Severity.error
result["inner"] = time.perf_counter() - t0
print(json.dumps(result))
"""


@dataclass
class Row:
    """One timed thing: a step done by one implementation in one way."""

    step: str
    implementation: str
    times: list[float] = field(default_factory=list)
    result: str = ""
    available: bool = True

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else float("nan")

    @property
    def best(self) -> float:
        return min(self.times) if self.times else float("nan")


@dataclass
class Baseline:
    """Checkbox in its own virtual environment."""

    python: str
    version: str
    definition_dir: Path  # a PROVIDERPATH entry holding the .provider file
    definition: Path
    cache_dir: Path


def naive_parse(text: str) -> list[dict[str, str]]:
    """A straightforward RFC 822 split: no origins, no checks, no normalising.

    The floor any real parser is compared with: blank lines end records,
    ``#`` lines are skipped, a leading space continues the previous value.
    """
    records: list[dict[str, str]] = []
    record: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if record:
                records.append(record)
                record = {}
            continue
        if line.startswith(" ") and key:
            record[key] += "\n" + line[1:]
            continue
        key, _, value = line.partition(":")
        key = key.strip()
        record[key] = value.strip()
    if record:
        records.append(record)
    return records


def _naive_child() -> str:
    """The naive parser's program: its own source, then a loop over the files."""
    head = "import time\nt0 = time.perf_counter()\nimport json, sys\n"
    head += "from pathlib import Path\n"
    return head + inspect.getsource(naive_parse) + _NAIVE_CHILD_BODY


def _run_child(
    command: Sequence[str], env: dict[str, str], cwd: Path | None = None
) -> tuple[float, dict[str, object]]:
    """Run a command; its wall time and the JSON object it printed, if any.

    Children run in the temporary directory unless told otherwise: in the
    plainbox checkout, ``python -c`` would import its ``plainbox`` package
    even for the Checkbox baseline (whose engine has the same name).
    """
    if cwd is None:
        cwd = Path(env["PLAINBOX_STATE_DIR"]).parent
    start = time.perf_counter()
    done = subprocess.run(
        list(command),
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        shown = [arg if len(arg) < 80 else "<program>" for arg in command]
        raise RuntimeError(
            f"{' '.join(shown)} exited {done.returncode}:\n{done.stderr[-2000:]}"
        )
    last = done.stdout.strip().splitlines()[-1:] if done.stdout.strip() else []
    data: dict[str, object] = {}
    if last and last[0].startswith("{"):
        data = json.loads(last[0])
    return elapsed, data


def _describe(data: dict[str, object], what: str) -> str:
    text = f"{data.get('count', '?'):,} {what}" if "count" in data else ""
    if "errors" in data:
        text += f", {data['errors']} errors"
    return text


def _time_child(
    row: Row,
    command: Sequence[str],
    env: dict[str, str],
    repeat: int,
    what: str,
    cwd: Path | None = None,
) -> Row:
    _run_child(command, env, cwd)  # compile bytecode and fill the page cache
    for _ in range(repeat):
        elapsed, data = _run_child(command, env, cwd)
        row.times.append(elapsed)
        row.result = _describe(data, what)
    return row


def _time_in_process(row: Row, action: Callable[[], str], repeat: int) -> Row:
    try:
        action()
    except ImportError as exc:
        row.available = False
        row.result = f"not available ({exc})"
        return row
    for _ in range(repeat):
        start = time.perf_counter()
        row.result = action()
        row.times.append(time.perf_counter() - start)
    return row


def _warm_actions(provider: Path) -> dict[str, Callable[[], str]]:
    def parse() -> str:
        from plainbox.units.pxu import decode_unit_text
        from plainbox.units.pxu import parse_pxu

        count = 0
        for path in sorted((provider / "units").rglob("*.pxu")):
            text, _ = decode_unit_text(path.read_bytes(), str(path))
            count += len(parse_pxu(text, str(path))[0])
        return f"{count:,} records"

    def load() -> str:
        from plainbox.paths import BUILTIN_PROVIDER_DIR
        from plainbox.units.catalog import load_catalog

        catalog = load_catalog(
            [], builtin_dir=BUILTIN_PROVIDER_DIR, explicit=[provider]
        )
        return f"{len(catalog.units):,} units"

    def load_validate() -> str:
        from plainbox.paths import BUILTIN_PROVIDER_DIR
        from plainbox.units.catalog import load_catalog
        from plainbox.units.validation import validate

        catalog = load_catalog(
            [], builtin_dir=BUILTIN_PROVIDER_DIR, explicit=[provider]
        )
        problems = validate(catalog)
        errors = sum(problem.severity.value == "error" for problem in problems)
        return f"{len(catalog.units):,} units, {errors} errors"

    def naive() -> str:
        count = 0
        for path in sorted((provider / "units").rglob("*.pxu")):
            count += len(naive_parse(path.read_text(encoding="utf-8")))
        return f"{count:,} records"

    return {"parse": parse, "load": load, "validate": load_validate, "naive": naive}


def _plainbox_command() -> list[str]:
    script = Path(sys.executable).parent / "plainbox"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "plainbox"]


def _probe_baseline(python: str, work: Path, provider: Path) -> Baseline | str:
    """Check that checkbox-ng imports; returns the reason when it does not."""
    probe = (
        "import importlib.metadata as m, plainbox.impl.secure.providers.v1;"
        "print(m.version('checkbox-ng'))"
    )
    try:
        done = subprocess.run(
            [python, "-c", probe],
            capture_output=True,
            text=True,
            check=False,
            cwd=work,  # not the plainbox checkout: its 'plainbox' would shadow
        )
    except OSError as exc:
        return f"cannot run {python}: {exc}"
    if done.returncode != 0:
        return (
            f"checkbox-ng does not import with {python}: {done.stderr.strip()[-300:]}"
        )
    definitions = work / "checkbox-providers"
    definitions.mkdir()
    definition = definitions / f"{generate_provider.NAME}.provider"
    definition.write_text(
        "[PlainBox Provider]\n"
        f"name = {generate_provider.NAME}\n"
        f"namespace = {generate_provider.NAMESPACE}\n"
        "version = 1.0\n"
        f"location = {provider}\n",
        encoding="utf-8",
    )
    cache = work / "checkbox-cache"
    cache.mkdir()
    return Baseline(python, done.stdout.strip(), definitions, definition, cache)


def run(args: argparse.Namespace, work: Path) -> dict[str, object]:
    """Generate the provider, time everything; the report as plain data."""
    load_before = round(os.getloadavg()[0], 2)
    provider = work / "provider"
    generated = generate_provider.generate_provider(provider, args.units, args.seed)
    unit_files = sorted((provider / "units").rglob("*.pxu"))
    empty = work / "empty-providerpath"
    empty.mkdir()
    env = dict(os.environ)
    env.update(
        PLAINBOX_PROVIDERPATH=str(empty),
        PLAINBOX_STATE_DIR=str(work / "state"),
    )
    repeat = args.repeat
    baseline: Baseline | str | None = None
    if args.baseline_python:
        baseline = _probe_baseline(args.baseline_python, work, provider)
    rows: list[Row] = []
    steps = (
        ("parse", "(a) parse unit files", "records"),
        ("load", "(b) load catalog", "units"),
        ("validate", "(c) load + validate", "units"),
    )
    warm = _warm_actions(provider)
    for mode, label, what in steps:
        say = _progress(args)
        say(f"{label}: plainbox")
        rows.append(
            _time_child(
                Row(label, "plainbox, fresh process"),
                [sys.executable, "-c", _PLAINBOX_CHILD, mode, str(provider)],
                env,
                repeat,
                what,
            )
        )
        if isinstance(baseline, Baseline):
            say(f"{label}: checkbox-ng")
            cb_env = dict(env, PROVIDERPATH=str(baseline.definition_dir))
            cb_env["XDG_CACHE_HOME"] = str(baseline.cache_dir)
            rows.append(
                _time_child(
                    Row(label, f"checkbox-ng {baseline.version}, fresh process"),
                    [
                        baseline.python,
                        "-c",
                        _CHECKBOX_CHILD,
                        mode,
                        str(provider),
                        str(baseline.definition),
                    ],
                    cb_env,
                    repeat,
                    what,
                )
            )
        if mode == "parse":
            rows.append(
                _time_child(
                    Row(label, "naive RFC822 split (no validation), fresh process"),
                    [sys.executable, "-c", _naive_child(), mode, str(provider)],
                    env,
                    repeat,
                    what,
                )
            )
        rows.append(
            _time_in_process(
                Row(label, "plainbox, in-process warm"), warm[mode], repeat
            )
        )
        if mode == "parse":
            rows.append(
                _time_in_process(
                    Row(label, "naive RFC822 split (no validation), warm"),
                    warm["naive"],
                    repeat,
                )
            )

    _progress(args)("(d) startup")
    plainbox = _plainbox_command()
    help_row = _time_child(
        Row("(d) startup", f"{Path(plainbox[-1]).name} --help"),
        [*plainbox, "--help"],
        env,
        args.startup_repeat,
        "",
    )
    rows.append(help_row)
    rows.append(
        _time_child(
            Row("(d) startup", "python3 -c pass"),
            [sys.executable, "-c", "pass"],
            env,
            args.startup_repeat,
            "",
        )
    )

    _progress(args)("(e) validate command")
    rows.append(
        _time_child(
            Row("(e) validate command", "plainbox validate DIR"),
            [*plainbox, "validate", str(provider)],
            env,
            repeat,
            "",
        )
    )
    if isinstance(baseline, Baseline):
        cb_env = dict(env, PROVIDERPATH=str(baseline.definition_dir))
        cb_env["XDG_CACHE_HOME"] = str(baseline.cache_dir)
        rows.append(
            _time_child(
                Row("(e) validate command", "checkbox manage.py validate"),
                [baseline.python, "manage.py", "validate"],
                cb_env,
                repeat,
                "",
                cwd=provider,
            )
        )

    validate_row = next(
        row
        for row in rows
        if row.step.startswith("(c)")
        and row.implementation.startswith("plainbox, fresh")
    )
    targets = [
        {
            "target": f"load+validate {args.units:,} units < {TARGET_VALIDATE} s",
            "measured": validate_row.median,
            "pass": validate_row.median < TARGET_VALIDATE,
        },
        {
            "target": f"--help < {TARGET_HELP} s",
            "measured": help_row.median,
            "pass": help_row.median < TARGET_HELP,
        },
    ]
    if baseline is None:
        baseline_text = "not available (pass --baseline-python)"
    elif isinstance(baseline, str):
        baseline_text = f"not available ({baseline})"
    else:
        baseline_text = (
            f"checkbox-ng {baseline.version} ({baseline.python}); its validation also "
            "loads the provider through PROVIDERPATH, as after 'manage.py develop'"
        )
    return {
        "units": generated.total,
        "counts": generated.counts,
        "unit_files": len(unit_files),
        "seed": args.seed,
        "repeat": repeat,
        "startup_repeat": args.startup_repeat,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": load_before,
        "baseline": baseline_text,
        "rows": [
            {**asdict(row), "median": row.median, "min": row.best} for row in rows
        ],
        "targets": targets,
    }


def _progress(args: argparse.Namespace) -> Callable[[str], None]:
    def say(text: str) -> None:
        if not args.quiet:
            print(f"... {text}", file=sys.stderr, flush=True)

    return say


def _seconds(value: float) -> str:
    return "-" if value != value else f"{value:.3f} s"


def format_table(report: dict[str, object]) -> str:
    """The report as aligned plain-text columns."""
    rows = report["rows"]
    assert isinstance(rows, list)
    header = ("step", "implementation", "median", "min", "runs", "result")
    table = [header]
    for row in rows:
        table.append(
            (
                row["step"],
                row["implementation"],
                _seconds(row["median"]),
                _seconds(row["min"]),
                str(len(row["times"])),
                row["result"],
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    right = {2, 3, 4}
    lines = [
        f"{report['units']:,} generated units (seed {report['seed']}) in "
        f"{report['unit_files']} unit files; Python {report['python']}, "
        f"{report['cpus']} CPUs, load average {report['load_average']} at start",
        "fresh-process figures are wall time, interpreter start included",
    ]
    for index, line in enumerate(table):
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    lines.append(f"baseline: {report['baseline']}")
    targets = report["targets"]
    assert isinstance(targets, list)
    lines.append("target: load+validate 2,500 units < 1.0 s; --help < 0.15 s")
    for target in targets:
        verdict = "PASS" if target["pass"] else "FAIL"
        lines.append(
            f"  {target['target']:<40} {_seconds(target['measured']):>9}  {verdict}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=2500, help="units to generate")
    parser.add_argument("--seed", type=int, default=1, help="generator seed")
    parser.add_argument("--repeat", type=int, default=5, help="runs per step")
    parser.add_argument(
        "--startup-repeat", type=int, default=10, help="runs of the startup commands"
    )
    parser.add_argument(
        "--baseline-python",
        metavar="PATH",
        help="python of a virtual environment with checkbox-ng installed",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument(
        "--keep", metavar="DIR", type=Path, help="work in DIR and keep it"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.startup_repeat < 1:
        parser.error("--repeat and --startup-repeat must be at least 1")
    try:
        with timing.work_directory(args.keep, "plainbox-bench-") as work:
            report = run(args, work)
    except ValueError as exc:  # --keep names a directory that is not empty
        parser.error(str(exc))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
