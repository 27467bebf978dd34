"""Write a synthetic, realistic and valid provider for benchmarks and tests.

The provider imitates the shape of the Checkbox provider corpus: per-area
``jobs.pxu``, ``templates.pxu`` and ``test-plan.pxu`` files, one file of
resource jobs, one of categories and one of manifest entries, plus a ``bin/``
script, a ``data/`` file, ``provider.toml`` (for plainbox) and ``manage.py``
(so Checkbox itself can load the same tree). Unit types come in roughly the
proportions of the real corpus: about 45 % jobs, 14 % templates, 32 % test
plans, 5 % manifest entries and 2.5 % categories.

Everything written is meant to validate cleanly: ``depends`` only point at
jobs written earlier (so there is no cycle), ``requires`` only name generated
resource jobs (or the built-in ``manifest`` resource through ``imports``),
templates only use keys their resource job prints, and test plans only nest
plans written before them.

The output depends on ``units`` and ``seed`` only::

    python benchmarks/generate_provider.py /tmp/bench-provider --units 2500 --seed 1
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path


__all__ = [
    "NAME",
    "NAMESPACE",
    "GeneratedProvider",
    "generate_provider",
    "main",
    "unit_counts",
]

NAME = "plainbox-provider-bench"
NAMESPACE = "com.example.bench"
BUILTIN_NAMESPACE = "com.canonical.plainbox"

#: Shares of each unit type in the generated provider; jobs take the rest.
SHARES = {
    "template": 0.14,
    "test plan": 0.32,
    "manifest entry": 0.05,
    "category": 0.025,
}

#: Shares of job plugins among the non-resource jobs; shell takes the rest.
PLUGIN_SHARES = {
    "manual": 0.08,
    "user-interact-verify": 0.07,
    "user-interact": 0.02,
    "attachment": 0.05,
}
RESOURCE_SHARE = 0.05  # of all jobs

# Test areas; each has its own category in the built-in provider.
AREAS: dict[str, tuple[str, ...]] = {
    "audio": ("playback", "capture", "mixer", "hdmi-out", "headset", "loopback"),
    "bluetooth": ("pairing", "scan", "obex", "hid", "a2dp", "le-advert"),
    "cpu": ("frequency", "topology", "offlining", "cstates", "scaling", "microcode"),
    "disk": ("read", "write", "smart", "partition", "trim", "hotplug"),
    "ethernet": ("link", "ping", "iperf", "wol", "mtu", "multicast"),
    "graphics": ("resolution", "rotation", "glxgears", "vsync", "xrandr", "driver"),
    "usb": ("insert", "remove", "storage", "hub", "charging", "speed"),
}
VERBS = ("check", "detect", "probe", "stress", "measure", "verify", "list", "capture")
PLAN_FLAVOURS = ("cert-full", "cert-manual", "cert-automated", "stress", "smoke")
FLAGS = ("preserve-locale", "preserve-cwd", "fail-on-resource", "has-leftovers")

# What each kind of resource job prints: key -> sample values (all strings).
RESOURCE_SCHEMAS: dict[str, dict[str, tuple[str, ...]]] = {
    "device": {
        "name": ("sda", "nvme0n1", "card0", "hci0", "eth0", "wlan0"),
        "category": ("DISK", "AUDIO", "VIDEO", "NETWORK", "WIRELESS", "BLUETOOTH"),
        "bus": ("pci", "usb", "scsi", "platform"),
        "vendor": ("Intel Corporation", "Realtek", "Samsung", "NVIDIA"),
        "path": ("/devices/pci0000:00/0000:00:1f.3", "/devices/platform/serial8250"),
        "size": ("0", "128", "512", "2048"),
    },
    "package": {
        "name": ("fio", "alsa-utils", "bluez", "iperf3", "mesa-utils", "usbutils"),
        "version": ("1.0", "2.3.1", "3.16-1ubuntu2"),
    },
    "module": {
        "name": ("snd_hda_intel", "btusb", "e1000e", "i915", "xhci_hcd", "nvme"),
        "size": ("16384", "65536", "262144"),
    },
    "cpuinfo": {
        "name": ("cpu0", "cpu1"),
        "count": ("1", "2", "4", "8"),
        "platform": ("x86_64", "aarch64", "riscv64"),
        "type": ("GenuineIntel", "AuthenticAMD", "ARM"),
    },
    "interface": {
        "name": ("eth0", "enp3s0", "wlan0", "lo"),
        "type": ("ethernet", "wireless", "loopback"),
        "state": ("up", "down"),
        "mtu": ("1500", "9000"),
    },
}

SENTENCES = (
    "The device under test reports its state through sysfs and the kernel log.",
    "This job reads both before and after exercising the hardware.",
    "A mismatch between the two readings fails the job.",
    "The kernel log is attached so that the operator can see which driver failed.",
    "The system stays usable while the test runs.",
    "No data on the machine is changed by the test.",
    "Run it with the lid open and external displays unplugged.",
    "Results are written to the session share for later jobs.",
    "On failure the output lists the devices that did not respond.",
    "The test takes longer on machines with many devices of this kind.",
    "Firmware older than two years is known to make this test fail.",
    "See the provider documentation for the meaning of each exit code.",
)


@dataclass
class GeneratedProvider:
    """What :func:`generate_provider` wrote."""

    path: Path
    name: str
    namespace: str
    counts: dict[str, int] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    plugins: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class _Resource:
    id: str
    schema: str


@dataclass
class _Job:
    id: str
    area: str
    plugin: str
    verb: str


@dataclass
class _Template:
    id: str  # the template-id
    area: str
    resource: _Resource
    verb: str


@dataclass
class _Area:
    name: str
    jobs: list[_Job] = field(default_factory=list)
    templates: list[_Template] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    plans: list[str] = field(default_factory=list)
    job_records: list[str] = field(default_factory=list)
    template_records: list[str] = field(default_factory=list)
    plan_records: list[str] = field(default_factory=list)


def unit_counts(units: int) -> dict[str, int]:
    """How many units of each type a provider of ``units`` units has."""
    if units < 20:
        raise ValueError("a generated provider needs at least 20 units")
    counts = {kind: max(1, round(units * share)) for kind, share in SHARES.items()}
    counts["job"] = units - sum(counts.values())
    return {"job": counts.pop("job"), **counts}


def _record(fields: Sequence[tuple[str, str]], comment: str = "") -> str:
    """One PXU record; multi-line values are indented and blank lines dotted."""
    out: list[str] = []
    if comment:
        out.extend(f"# {line}".rstrip() for line in comment.splitlines())
    for key, value in fields:
        if "\n" not in value:
            out.append(f"{key}: {value}")
            continue
        out.append(f"{key}:")
        for line in value.splitlines():
            out.append(f" {line}" if line.strip() else " .")
    return "\n".join(out) + "\n"


class _Writer:
    """Makes the units; one instance per generated provider."""

    def __init__(self, units: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.counts = unit_counts(units)
        self.counter = 0
        self.areas = {name: _Area(name) for name in AREAS}
        self.resources: list[_Resource] = []
        self.resource_records: list[str] = []
        self.category_records: list[str] = []
        self.manifest_records: list[str] = []
        self.manifest_ids: list[tuple[str, str]] = []  # (id, value type)
        self.top_plan_records: list[str] = []
        self.plugins: dict[str, int] = {}

    # -- text ---------------------------------------------------------------

    def _number(self) -> str:
        self.counter += 1
        return f"{self.counter:04d}"

    def _sentence(self) -> str:
        return self.rng.choice(SENTENCES)

    def _paragraphs(self, count: int) -> str:
        paragraphs = []
        for _ in range(count):
            text = " ".join(self._sentence() for _ in range(self.rng.randint(2, 4)))
            paragraphs.append(textwrap.fill(text, width=72))
        # An empty line in a value is written as a "magic dot" by _record().
        return "\n\n".join(paragraphs)

    def _description(self) -> str:
        return self._paragraphs(self.rng.randint(2, 3))

    def _duration(self) -> str:
        if self.rng.random() < 0.15:
            return f"{self.rng.randint(1, 9)}m {self.rng.randint(0, 59)}s"
        return f"{self.rng.choice((0.1, 0.5, 1.0, 2.5, 5.0, 12.0, 30.0, 90.0))}"

    # -- categories and manifest entries -------------------------------------

    def categories(self) -> None:
        names = list(AREAS)
        for index in range(self.counts["category"]):
            area = names[index % len(names)]
            topic = AREAS[area][(index // len(names)) % len(AREAS[area])]
            category = f"{area}-{topic}-{self._number()}"
            self.areas[area].categories.append(category)
            self.category_records.append(
                _record(
                    [
                        ("unit", "category"),
                        ("id", category),
                        ("_name", f"{area.capitalize()} {topic} tests"),
                    ]
                )
            )

    def manifest_entries(self) -> None:
        names = list(AREAS)
        for index in range(self.counts["manifest entry"]):
            area = names[index % len(names)]
            topic = self.rng.choice(AREAS[area]).replace("-", "_")
            natural = self.rng.random() < 0.2
            hidden = not natural and index % 20 == 19
            entry = f"{'_' if hidden else ''}has_{area}_{topic}_{self._number()}"
            fields = [("unit", "manifest entry"), ("id", entry)]
            if natural:
                entry_name = f"Number of {area} {topic} ports"
                fields += [
                    ("_name", entry_name),
                    ("value-type", "natural"),
                    ("value-unit", "ports"),
                ]
            else:
                fields += [
                    ("_name", f"Does this machine have {area} {topic} support?"),
                    ("value-type", "bool"),
                ]
            if hidden:
                fields.append(
                    (
                        "_hidden-reason",
                        "Set by the lab configuration; operators are not asked.",
                    )
                )
            else:
                self.manifest_ids.append((entry, "natural" if natural else "bool"))
            self.manifest_records.append(_record(fields))

    # -- jobs -------------------------------------------------------------------

    def resource_jobs(self, count: int) -> None:
        schemas = list(RESOURCE_SCHEMAS)
        for index in range(count):
            schema = schemas[index % len(schemas)]
            job_id = f"{schema}_{index // len(schemas) + 1:02d}"
            self.resources.append(_Resource(job_id, schema))
            keys = RESOURCE_SCHEMAS[schema]
            if self.rng.random() < 0.5:
                # A fixed here-document of two records, separated by a magic dot.
                lines = ["cat <<'EOF'"]
                for record in range(2):
                    if record:
                        lines.append("")
                    lines += [
                        f"{key}: {values[(record + index) % len(values)]}"
                        for key, values in keys.items()
                    ]
                lines.append("EOF")
                command = "\n".join(lines)
            else:
                command = f"bench-resource {schema} --index {index}"
            fields = [
                ("id", job_id),
                ("_summary", f"Collect {schema} information ({job_id})"),
                ("_description", self._paragraphs(1)),
                ("plugin", "resource"),
                ("category_id", f"{BUILTIN_NAMESPACE}::info"),
                ("estimated_duration", self._duration()),
            ]
            if self.rng.random() < 0.3:
                fields.append(("flags", "cachable"))
            fields.append(("command", command))
            self.resource_records.append(_record(fields))
            self.plugins["resource"] = self.plugins.get("resource", 0) + 1

    def _requirement(self) -> tuple[list[str], bool]:
        """Lines of a ``requires`` program, and whether it uses the manifest."""
        lines = []
        for resource in self.rng.sample(self.resources, self.rng.randint(1, 2)):
            name = resource.id
            if resource.schema == "device":
                category = self.rng.choice(RESOURCE_SCHEMAS["device"]["category"])
                line = f"{name}.category == '{category}'"
                if self.rng.random() < 0.5:
                    line += f" and int({name}.size) > {self.rng.choice((0, 100))}"
            elif resource.schema == "package":
                package = self.rng.choice(RESOURCE_SCHEMAS["package"]["name"])
                line = f"{name}.name == '{package}'"
            elif resource.schema == "module":
                module = self.rng.choice(RESOURCE_SCHEMAS["module"]["name"])
                line = f"{name}.name in ('{module}', 'snd_usb_audio')"
            elif resource.schema == "cpuinfo":
                line = f"int({name}.count) > 1 or {name}.platform == 'x86_64'"
            else:
                line = f"{name}.state == 'up' and {name}.type != 'loopback'"
            lines.append(line)
        uses_manifest = bool(self.manifest_ids) and self.rng.random() < 0.12
        if uses_manifest:
            entry, value_type = self.rng.choice(self.manifest_ids)
            if value_type == "bool":
                lines.append(f"manifest.{entry} == 'True'")
            else:
                # No int() here: Checkbox 1.18 sees no resource in int(manifest.x).
                lines.append(f"manifest.{entry} != '0'")
        return lines, uses_manifest

    def _category(self, area: str) -> str:
        own = self.areas[area].categories
        if own and self.rng.random() < 0.5:
            return self.rng.choice(own)
        return f"{BUILTIN_NAMESPACE}::{area}"

    def _command(self, area: str, number: str, verb: str) -> str:
        body = [
            "set -e",
            f'echo "{verb} {area} item {number}"',
            f"bench-check --area {area} --item {number} --mode {verb}",
        ]
        if self.rng.random() < 0.4:
            body += [
                "for attempt in 1 2 3; do",
                f'    if grep -q "{area}" /proc/modules; then',
                "        break",
                "    fi",
                "    sleep 0.1",
                "done",
            ]
        if self.rng.random() < 0.3:
            body.append("awk '{print $1}' \"$PLAINBOX_PROVIDER_DATA/bench.conf\"")
        return "\n".join(body)

    def _interactive_fields(self, area: str, noun: str) -> list[tuple[str, str]]:
        return [
            (
                "_purpose",
                f"Check that {area} {noun} works as the user expects.\n"
                + self._paragraphs(1),
            ),
            (
                "_steps",
                f"1. Prepare the {area} {noun} hardware.\n"
                "2. Start the test and follow the prompts.\n"
                "3. Watch the result on the screen.",
            ),
            ("_verification", f"Did the {area} {noun} behave as described?"),
        ]

    def job(self, area: _Area, plugin: str) -> None:
        number = self._number()
        verb = self.rng.choice(VERBS)
        noun = self.rng.choice(AREAS[area.name])
        job_id = f"{area.name}/{verb}-{noun}-{number}"
        fields: list[tuple[str, str]] = [
            ("id", job_id),
            ("_summary", f"{verb.capitalize()} {area.name} {noun} ({number})"),
        ]
        interactive = plugin in {"manual", "user-interact", "user-interact-verify"}
        if interactive:
            fields += self._interactive_fields(area.name, noun)
            if plugin == "user-interact":
                fields = [item for item in fields if item[0] != "_verification"]
        else:
            fields.append(("_description", self._description()))
        fields += [
            ("plugin", plugin),
            ("category_id", self._category(area.name)),
            ("estimated_duration", self._duration()),
        ]
        if self.rng.random() < 0.08 and plugin not in {"manual"}:
            fields += [("user", "root"), ("environ", "LANG PLAINBOX_SESSION_SHARE")]
        earlier = area.jobs[-30:]
        if earlier and self.rng.random() < 0.35:
            targets = self.rng.sample(
                earlier, min(len(earlier), self.rng.randint(1, 2))
            )
            fields.append(("depends", " ".join(job.id for job in targets)))
        elif earlier and self.rng.random() < 0.1:
            fields.append(("after", self.rng.choice(earlier).id))
        if self.resources and plugin != "manual" and self.rng.random() < 0.35:
            lines, uses_manifest = self._requirement()
            if uses_manifest:
                fields.append(("imports", f"from {BUILTIN_NAMESPACE} import manifest"))
            fields.append(("requires", "\n".join(lines)))
        if self.rng.random() < 0.2:
            fields.append(("flags", self.rng.choice(FLAGS)))
        if self.rng.random() < 0.05:
            fields.append(("certification-status", "blocker"))
        if plugin == "attachment":
            fields.append(
                ("command", f"bench-check --area {area.name} --dump\ncat /proc/cpuinfo")
            )
        elif plugin != "manual":
            fields.append(("command", self._command(area.name, number, verb)))
        comment = ""
        if self.rng.random() < 0.1:
            comment = f"{verb} {noun}: keep in sync with bin/bench-check"
        area.job_records.append(_record(fields, comment))
        area.jobs.append(_Job(job_id, area.name, plugin, verb))
        self.plugins[plugin] = self.plugins.get(plugin, 0) + 1

    def template(self, area: _Area) -> None:
        number = self._number()
        resource = self.rng.choice(self.resources)
        verb = self.rng.choice(VERBS)
        jinja = self.rng.random() < 0.15
        keys = list(RESOURCE_SCHEMAS[resource.schema])
        other = self.rng.choice([key for key in keys if key != "name"])

        def ref(key: str) -> str:
            return f"{{{{ {key} }}}}" if jinja else f"{{{key}}}"

        raw_id = f"{area.name}/{verb}-{ref('name')}-{number}"
        template_id = f"{area.name}/{verb}-name-{number}"
        plugin = self.rng.choice(
            ("shell",) * 6 + ("attachment", "user-interact-verify")
        )
        fields: list[tuple[str, str]] = [
            ("unit", "template"),
            ("template-resource", resource.id),
        ]
        if self.rng.random() < 0.5:
            value = self.rng.choice(RESOURCE_SCHEMAS[resource.schema][other])
            fields.append(("template-filter", f"{resource.id}.{other} != '{value}'"))
        fields.append(("template-unit", "job"))
        if jinja:
            fields.append(("template-engine", "jinja2"))
        if self.rng.random() < 0.7:
            fields.append(("template-id", template_id))
        fields += [
            (
                "_template-summary",
                f"{verb.capitalize()} every {resource.schema} ({number})",
            ),
            ("id", raw_id),
            (
                "_summary",
                f"{verb.capitalize()} {area.name} {resource.schema} {ref('name')}",
            ),
        ]
        if plugin == "user-interact-verify":
            fields += self._interactive_fields(area.name, resource.schema)
        else:
            fields.append(
                (
                    "_description",
                    f"Generated for the {resource.schema} {ref('name')} "
                    f"({other}: {ref(other)}).\n\n" + self._paragraphs(1),
                )
            )
        fields += [
            ("plugin", plugin),
            ("category_id", self._category(area.name)),
            ("estimated_duration", self._duration()),
        ]
        if area.jobs and self.rng.random() < 0.2:
            fields.append(("depends", self.rng.choice(area.jobs[-20:]).id))
        if self.rng.random() < 0.2:
            lines, _ = self._requirement()
            lines = [line for line in lines if not line.startswith("manifest.")]
            if lines:
                fields.append(("requires", "\n".join(lines)))
        lines = [
            f'echo "{verb} {ref("name")} ({ref(other)})"',
            f'bench-check --area {area.name} --item "{ref("name")}" --mode {verb}',
        ]
        if jinja:
            lines += [
                f"{{% if {other} == 'x' %}}",
                'echo "special case"',
                "{% endif %}",
            ]
        else:
            # Literal braces are doubled for the default (str.format) engine.
            lines.append("awk '{{ print $1 }}' /proc/partitions")
        fields.append(("command", "\n".join(lines)))
        area.template_records.append(_record(fields))
        area.templates.append(_Template(template_id, area.name, resource, verb))

    # -- test plans -----------------------------------------------------------

    def plan(self, area: _Area) -> None:
        number = self._number()
        flavour = self.rng.choice(PLAN_FLAVOURS)
        plan_id = f"{area.name}-{flavour}-{number}"
        include: list[str] = []
        jobs = area.jobs
        if jobs:
            for job in self.rng.sample(jobs, min(len(jobs), self.rng.randint(2, 8))):
                line = job.id
                if self.rng.random() < 0.1:
                    line += " certification-status=blocker"
                include.append(line)
            if self.rng.random() < 0.4:
                verb = self.rng.choice(jobs).verb
                include.append(f"{area.name}/{verb}-.*")
        bootstrap: list[str] = []
        if area.templates and self.rng.random() < 0.6:
            for template in self.rng.sample(
                area.templates, min(len(area.templates), self.rng.randint(1, 3))
            ):
                include.append(template.id)
                if template.resource.id not in bootstrap:
                    bootstrap.append(template.resource.id)
        if not include:
            include.append(f"{area.name}/.*")
        # A pattern that also matches templates needs their resource jobs in
        # the bootstrap phase, or they make no jobs (the validator warns).
        for line in include:
            if line.endswith(".*"):
                for template in area.templates:
                    resource = template.resource.id
                    if template.id.startswith(line[:-2]) and resource not in bootstrap:
                        bootstrap.append(resource)
        fields: list[tuple[str, str]] = [
            ("unit", "test plan"),
            ("id", plan_id),
            ("_name", f"{area.name.capitalize()} tests: {flavour} ({number})"),
            ("_description", self._paragraphs(self.rng.randint(1, 2))),
            ("include", "\n".join(include)),
        ]
        if self.rng.random() < 0.05:
            fields.append(("mandatory_include", f"{BUILTIN_NAMESPACE}::manifest"))
        if bootstrap:
            fields.append(("bootstrap_include", "\n".join(bootstrap)))
        if area.plans and self.rng.random() < 0.3:
            nested = self.rng.sample(area.plans[-40:], min(len(area.plans), 2))
            fields.append(("nested_part", "\n".join(nested)))
        if self.rng.random() < 0.05:
            fields.append(
                (
                    "category_overrides",
                    f"apply {BUILTIN_NAMESPACE}::stress to {area.name}/stress-.*",
                )
            )
        if jobs and self.rng.random() < 0.05:
            fields.append(("exclude", f"{area.name}/list-.*"))
        fields.append(("estimated_duration", self._duration()))
        area.plan_records.append(_record(fields))
        area.plans.append(plan_id)

    def top_plan(self, index: int) -> None:
        nested = [
            plans[-1] for plans in (a.plans for a in self.areas.values()) if plans
        ]
        number = self._number()
        some_job = next(area.jobs[0].id for area in self.areas.values() if area.jobs)
        fields = [
            ("unit", "test plan"),
            ("id", f"client-cert-{number}"),
            ("_name", f"Client certification tests ({number})"),
            ("_description", self._paragraphs(1)),
            ("include", some_job),
            ("mandatory_include", f"{BUILTIN_NAMESPACE}::manifest"),
            (
                "nested_part",
                "\n".join(self.rng.sample(nested, min(len(nested), 4 + index % 3))),
            ),
            ("estimated_duration", "1h 30m"),
        ]
        self.top_plan_records.append(_record(fields))

    # -- everything -------------------------------------------------------------

    def build(self) -> None:
        self.categories()
        self.manifest_entries()
        resource_count = max(2, round(self.counts["job"] * RESOURCE_SHARE))
        self.resource_jobs(resource_count)
        other_jobs = self.counts["job"] - resource_count
        plugins: list[str] = []
        for plugin, share in PLUGIN_SHARES.items():
            plugins += [plugin] * round(other_jobs * share)
        plugins += ["shell"] * (other_jobs - len(plugins))
        self.rng.shuffle(plugins)
        names = list(AREAS)
        for index, plugin in enumerate(plugins):
            self.job(self.areas[names[index % len(names)]], plugin)
        for index in range(self.counts["template"]):
            self.template(self.areas[names[index % len(names)]])
        plans = self.counts["test plan"]
        top = max(1, plans // 40)
        for index in range(plans - top):
            self.plan(self.areas[names[index % len(names)]])
        for index in range(top):
            self.top_plan(index)


_HEADER = """\
# {title}
#
# Generated by benchmarks/generate_provider.py (seed {seed}); do not edit.

"""

_BENCH_CHECK = """\
#!/bin/sh
# bench-check: stand-in test helper of the generated benchmark provider.
echo "bench-check $*"
exit 0
"""

_BENCH_RESOURCE = """\
#!/bin/sh
# bench-resource: prints one record of the requested kind.
printf 'name: %s\\nindex: %s\\n' "$1" "${3:-0}"
"""

_MANAGE_PY = """\
#!/usr/bin/env python3
from plainbox.provider_manager import N_
from plainbox.provider_manager import setup


setup(
    name="{name}",
    namespace="{namespace}",
    version="1.0",
    description=N_("Synthetic provider for plainbox benchmarks"),
)
"""


def _write(path: Path, content: str, files: list[Path], mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    path.chmod(mode)
    files.append(path)


def _unit_file(title: str, seed: int, records: list[str]) -> str:
    return _HEADER.format(title=title, seed=seed) + "\n".join(records)


def generate_provider(
    directory: Path,
    units: int = 2500,
    seed: int = 1,
    *,
    manage_py: bool = True,
) -> GeneratedProvider:
    """Write a provider of ``units`` units into ``directory`` (created if needed).

    :param manage_py: also write a Checkbox ``manage.py`` (plainbox reads
        ``provider.toml`` first, so it only matters to Checkbox).
    :returns: what was written, with the number of units of each type.
    """
    writer = _Writer(units, seed)
    writer.build()
    files: list[Path] = []
    directory.mkdir(parents=True, exist_ok=True)
    _write(
        directory / "provider.toml",
        "[provider]\n"
        f'name = "{NAME}"\n'
        f'namespace = "{NAMESPACE}"\n'
        'version = "1.0"\n'
        'description = "Synthetic provider for plainbox benchmarks"\n',
        files,
    )
    if manage_py:
        _write(
            directory / "manage.py",
            _MANAGE_PY.format(name=NAME, namespace=NAMESPACE),
            files,
            0o755,
        )
    _write(directory / "bin" / "bench-check", _BENCH_CHECK, files, 0o755)
    _write(directory / "bin" / "bench-resource", _BENCH_RESOURCE, files, 0o755)
    _write(
        directory / "data" / "bench.conf",
        "# bench.conf: read by some generated jobs\nitems 1\n",
        files,
    )
    units_dir = directory / "units"
    _write(
        units_dir / "category.pxu",
        _unit_file("Categories", seed, writer.category_records),
        files,
    )
    _write(
        units_dir / "manifest.pxu",
        _unit_file("Manifest entries", seed, writer.manifest_records),
        files,
    )
    _write(
        units_dir / "resource" / "jobs.pxu",
        _unit_file("Resource jobs", seed, writer.resource_records),
        files,
    )
    for area in writer.areas.values():
        for name, records in (
            ("jobs", area.job_records),
            ("templates", area.template_records),
            ("test-plan", area.plan_records),
        ):
            _write(
                units_dir / area.name / f"{name}.pxu",
                _unit_file(f"{area.name}: {name}", seed, records),
                files,
            )
    _write(
        units_dir / "certification" / "test-plan.pxu",
        _unit_file("Certification test plans", seed, writer.top_plan_records),
        files,
    )
    return GeneratedProvider(
        path=directory,
        name=NAME,
        namespace=NAMESPACE,
        counts=dict(writer.counts),
        files=files,
        plugins=dict(sorted(writer.plugins.items())),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write a provider and print what it holds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="where to write the provider")
    parser.add_argument("--units", type=int, default=2500, help="number of units")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument(
        "--no-manage-py",
        dest="manage_py",
        action="store_false",
        help="do not write a Checkbox manage.py",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    args = parser.parse_args(argv)
    try:
        result = generate_provider(
            args.directory, args.units, args.seed, manage_py=args.manage_py
        )
    except ValueError as exc:
        parser.error(str(exc))
    summary = {
        "path": str(result.path),
        "units": result.total,
        "counts": result.counts,
        "plugins": result.plugins,
        "files": len(result.files),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"wrote {result.total} units in {len(result.files)} files to {result.path}"
        )
        for kind, count in result.counts.items():
            print(f"  {kind:<15} {count:>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
