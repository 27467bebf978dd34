"""From records to typed units: value parsers, each unit type, checksums."""

from __future__ import annotations

import textwrap

import pytest

from plainbox.units.loader import UNIT_TYPES
from plainbox.units.loader import default_template_id
from plainbox.units.loader import load_record
from plainbox.units.loader import parse_duration
from plainbox.units.loader import split_ids
from plainbox.units.model import DEFAULT_CATEGORY
from plainbox.units.model import Category
from plainbox.units.model import ExporterUnit
from plainbox.units.model import JobDefinition
from plainbox.units.model import ManifestEntry
from plainbox.units.model import PackagingMetaData
from plainbox.units.model import SetupJob
from plainbox.units.model import TemplateUnit
from plainbox.units.model import TestPlan
from plainbox.units.problems import Origin
from plainbox.units.problems import Severity
from plainbox.units.pxu import parse_pxu


NS = "com.example"


def load(text: str, namespace: str = NS):
    """Load the single record of a PXU snippet; it must build a unit."""
    [record], problems = parse_pxu(textwrap.dedent(text), "units/u.pxu")
    assert problems == []
    unit, problem = load_record(record, namespace=namespace, provider="example")
    assert problem is None
    assert unit is not None
    return unit


# --- value parsers -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, ()),
        ("", ()),
        ("a", ("a",)),
        ("a b  c", ("a", "b", "c")),
        ("a,b, c ,d", ("a", "b", "c", "d")),
        ("a\nb\n\nc", ("a", "b", "c")),
        ("  a\t,\n b  ", ("a", "b")),
        (", ,", ()),
        ("ns::a other::b", ("ns::a", "other::b")),
    ],
)
def test_split_ids(text, expected):
    assert split_ids(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", 12.0),
        ("1.5", 1.5),
        (" 30 ", 30.0),
        ("1h 2m 3s", 3723.0),
        ("2m", 120.0),
        ("90s", 90.0),
        ("1h", 3600.0),
        ("1h:30m", 5400.0),
        ("1h30m", 5400.0),
        ("1h 30s", 3630.0),
        (None, None),
        ("", None),
        ("   ", None),
        ("abc", None),
        ("1.5h", None),
        ("1 h", None),
        ("3s 2m", None),
        (":", None),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "-5"])
def test_parse_duration_rejects_non_durations(text):
    assert parse_duration(text) is None


@pytest.mark.parametrize(
    ("raw_id", "expected"),
    [
        ("plain/id", "plain/id"),
        ("disk/read_{name}", "disk/read_name"),
        ("foo_{{ name }}", "foo_name"),
        ("{a}-{b}.{c}", "a-b.c"),
        ("with space", "withspace"),
        ("a\\b:c", "a\\b:c"),
        ("cam/{__index__}_{product!r}", "cam/__index___productr"),
    ],
)
def test_default_template_id(raw_id, expected):
    assert default_template_id(raw_id) == expected


# --- jobs --------------------------------------------------------------------


def test_load_record_job_has_typed_attributes():
    job = load(
        """\
        id: disk/read
        _summary: Read the disk
        plugin: shell
        command: echo hi
        user: root
        depends: a other.ns::b
        after: c,d
        before: e
        salvages: f
        environ: FOO BAR
        estimated_duration: 1m 30s
        timeout: 10
        flags: also-after-suspend preserve-locale
        category_id: disk
        certification-status: blocker
        auto-retry: no
        requires: package.name == 'x'
        imports: from com.canonical.plainbox import manifest
        """
    )
    assert type(job) is JobDefinition
    assert job.unit_type == "job"
    assert job.partial_id == "disk/read"
    assert job.id == "com.example::disk/read"
    assert job.namespace == NS
    assert job.provider == "example"
    assert job.summary == "Read the disk"
    assert job.plugin == "shell"
    assert job.command == "echo hi"
    assert job.user == "root"
    assert job.depends == ("com.example::a", "other.ns::b")
    assert job.after == ("com.example::c", "com.example::d")
    assert job.before == ("com.example::e",)
    assert job.salvages == ("com.example::f",)
    assert job.environ == ("FOO", "BAR")
    assert job.estimated_duration == 90.0
    assert job.timeout == 10.0
    assert job.flags == frozenset({"also-after-suspend", "preserve-locale"})
    assert job.category_id == "com.example::disk"
    assert job.certification_status == "blocker"
    assert job.auto_retry == "no"
    assert job.requires == "package.name == 'x'"
    assert job.imports == "from com.canonical.plainbox import manifest"
    assert job.automated is True
    assert job.origin == Origin("units/u.pxu", 1)
    assert job.field_origin("command") == Origin("units/u.pxu", 4)
    assert job.field_origin("absent") == Origin("units/u.pxu", 1)


def test_load_record_job_defaults():
    job = load("id: minimal\n")
    assert job.summary == "minimal"
    assert job.plugin == ""
    assert (
        job.category_id == DEFAULT_CATEGORY == "com.canonical.plainbox::uncategorised"
    )
    assert job.certification_status == "non-blocker"
    assert job.auto_retry == "unspecified"
    assert job.shell == "bash"
    assert job.depends == ()
    assert job.flags == frozenset()
    assert job.estimated_duration is None
    assert job.command is None


@pytest.mark.parametrize(
    ("text", "plugin"),
    [
        ("id: a\nflags: simple\n", "shell"),
        ("id: a\nflags: preserve-locale, simple\n", "shell"),
        ("id: a\nflags: simple\nplugin: manual\n", "manual"),
        ("id: a\nplugin: resource\n", "resource"),
    ],
)
def test_load_record_simple_flag_makes_plugin_shell(text, plugin):
    assert load(text).plugin == plugin


def test_load_record_job_legacy_name_is_partial_id():
    assert load("name: legacy/job\nplugin: shell\n").id == "com.example::legacy/job"


def test_load_record_job_full_description_from_parts():
    job = load("id: m\nplugin: manual\n_purpose: P\n_steps: S\n_verification: V\n")
    assert job.interactive is True
    assert job.full_description == "PURPOSE:\nP\nSTEPS:\nS\nVERIFICATION:\nV"


def test_load_record_setup_job():
    job = load(
        """\
        unit: setup job
        id: setup/a
        flags: simple
        command: true
        requires_manifest:
         has_tpm
         has_wifi=false
        """
    )
    assert type(job) is SetupJob
    assert isinstance(job, JobDefinition)
    assert job.plugin == "shell"
    assert job.requires_manifest == ("has_tpm", "has_wifi=false")


# --- templates ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "template_id"),
    [
        ("id: disk/read_{name}\n", "disk/read_name"),
        ("id: disk/read_{{ name }}\ntemplate-engine: jinja2\n", "disk/read_name"),
        ("id: disk/read_{name}\ntemplate-id: disk/read\n", "disk/read"),
    ],
)
def test_load_record_template_id(text, template_id):
    template = load(f"unit: template\ntemplate-resource: device\n{text}")
    assert type(template) is TemplateUnit
    assert template.template_id == template_id
    assert template.partial_id == template_id
    assert template.id == f"com.example::{template_id}"


def test_load_record_template_attributes():
    template = load(
        """\
        unit: template
        template-resource: other.ns::device
        template-filter: device.category == 'DISK'
        template-imports: from other.ns import device
        template-unit: job
        template-summary: Read disks
        id: disk/read_{name}
        plugin: shell
        """
    )
    assert template.template_resource == "other.ns::device"
    assert template.template_filter == "device.category == 'DISK'"
    assert template.template_imports == "from other.ns import device"
    assert template.template_unit == "job"
    assert template.template_engine == "default"
    assert template.display_name == "Read disks"
    # the fields to instantiate are kept untouched
    assert template.fields["id"] == "disk/read_{name}"


def test_load_record_template_resource_is_qualified():
    template = load("unit: template\nid: t_{x}\ntemplate-resource: device\n")
    assert template.template_resource == "com.example::device"
    assert template.template_unit == "job"


# --- test plans --------------------------------------------------------------


def test_load_record_test_plan():
    plan = load(
        """\
        unit: test plan
        id: full
        _name: Full
        _description: Everything
        include:
         disk/.* certification-status=blocker
         cpu/a
        mandatory_include: mandatory/a
        bootstrap_include: res/a
        setup_include: setup/a
        exclude: disk/slow
        nested_part:
         part-a
         other.ns::part-b
        category-overrides: apply disk to disk/.*
        certification_status_overrides: apply blocker to cpu/.*
        estimated_duration: 1h
        """
    )
    assert type(plan) is TestPlan
    assert plan.id == "com.example::full"
    assert plan.name == "Full"
    assert plan.description == "Everything"
    assert plan.include == "disk/.* certification-status=blocker\ncpu/a"
    assert plan.mandatory_include == "mandatory/a"
    assert plan.bootstrap_include == "res/a"
    assert plan.setup_include == "setup/a"
    assert plan.exclude == "disk/slow"
    assert plan.nested_part == ("com.example::part-a", "other.ns::part-b")
    assert plan.category_overrides == "apply disk to disk/.*"
    assert plan.certification_status_overrides == "apply blocker to cpu/.*"
    assert plan.estimated_duration == 3600.0


# --- other unit types --------------------------------------------------------


def test_load_record_category():
    category = load("unit: category\nid: audio\n_name: Audio tests\n")
    assert type(category) is Category
    assert category.id == "com.example::audio"
    assert category.name == "Audio tests"
    assert category.display_name == "Audio tests"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("with-io-log", ("with-io-log",)),
        ("a; b,c d", ("a", "b", "c", "d")),
        ("a;;b,,c\n d", ("a", "b", "c", "d")),
        ("", ()),
    ],
)
def test_load_record_exporter_options_split(options, expected):
    exporter = load(
        f"unit: exporter\nid: json\nentry_point: jinja2\nfile_extension: json\n"
        f"options: {options}\n"
    )
    assert type(exporter) is ExporterUnit
    assert exporter.options == expected


def test_load_record_exporter_attributes():
    exporter = load(
        """\
        unit: exporter
        id: html
        entry_point: jinja2
        file_extension: html
        data: {"template": "checkbox.html"}
        """
    )
    assert exporter.summary == "html"
    assert exporter.entry_point == "jinja2"
    assert exporter.file_extension == "html"
    assert exporter.data == '{"template": "checkbox.html"}'


@pytest.mark.parametrize(
    ("extra", "resource_key"),
    [("", "has_tpm"), ("resource-key: tpm\n", "tpm")],
)
def test_load_record_manifest_entry_resource_key(extra, resource_key):
    entry = load(
        f"unit: manifest entry\nid: has_tpm\n_name: TPM\nvalue-type: bool\n{extra}"
    )
    assert type(entry) is ManifestEntry
    assert entry.resource_key == resource_key
    assert entry.value_type == "bool"
    assert entry.name == "TPM"
    assert entry.is_hidden is False


def test_load_record_manifest_entry_hidden_and_units():
    entry = load(
        "unit: manifest entry\nid: _ports\n_name: Ports\nvalue-type: natural\n"
        "value-units: ports\nhidden-reason: set by config\n"
    )
    assert entry.is_hidden is True
    assert entry.value_unit == "ports"
    assert entry.hidden_reason == "set by config"


@pytest.mark.parametrize(
    ("extra", "unit_id"),
    [
        ("os-version-id: 22.04\n", "com.example::packaging-ubuntu-22.04"),
        ("", "com.example::packaging-ubuntu"),
    ],
)
def test_load_record_packaging_meta_data_id(extra, unit_id):
    unit = load(f"unit: packaging meta-data\nos-id: ubuntu\n{extra}Depends: fwts\n")
    assert type(unit) is PackagingMetaData
    assert unit.os_id == "ubuntu"
    assert unit.id == unit_id
    assert unit.fields["Depends"] == "fwts"


@pytest.mark.parametrize(
    ("unit_type", "cls"),
    [(name, cls) for name, (cls, _) in UNIT_TYPES.items()],
)
def test_load_record_every_unit_type_builds_its_class(unit_type, cls):
    unit = load(f"unit: {unit_type}\nid: x\nos-id: ubuntu\n")
    assert type(unit) is cls
    assert cls.unit_type == unit_type


# --- unknown unit type -------------------------------------------------------


def test_load_record_unknown_unit_type_is_error_at_unit_line():
    records, _ = parse_pxu("id: a\n\n# c\nid: b\nplugin: shell\nunit: bogus\n", "f.pxu")
    unit, problem = load_record(records[1], namespace=NS, provider="example")
    assert unit is None
    assert problem is not None
    assert problem.severity is Severity.ERROR
    assert problem.origin == Origin("f.pxu", 6)
    assert problem.field == "unit"
    assert "bogus" in problem.message


# --- checksums ---------------------------------------------------------------

BASE = "id: a\nplugin: shell\ncommand: echo 1\n"


@pytest.mark.parametrize(
    "same",
    [
        BASE,
        "# a comment\n" + BASE,
        "command: echo 1\nplugin: shell\nid: a\n",
        "id:    a\nplugin: shell\ncommand:\n echo 1\n",
    ],
    ids=["identical", "comment", "field-order", "whitespace"],
)
def test_checksum_stable_for_same_fields(same):
    assert load(same).checksum == load(BASE).checksum


@pytest.mark.parametrize(
    "other",
    [
        "id: a\nplugin: shell\ncommand: echo 2\n",
        "id: b\nplugin: shell\ncommand: echo 1\n",
        BASE + "user: root\n",
        "id: a\nplugin: shell\n",
    ],
    ids=["value", "id", "added-field", "removed-field"],
)
def test_checksum_changes_with_fields(other):
    assert load(other).checksum != load(BASE).checksum


def test_checksum_changes_with_namespace():
    assert load(BASE, "com.example").checksum != load(BASE, "org.other").checksum


def test_checksum_is_sha256_hex():
    checksum = load(BASE).checksum
    assert len(checksum) == 64
    assert int(checksum, 16) >= 0
