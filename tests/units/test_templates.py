"""Template instantiation with the default (str.format) and jinja2 engines."""

from __future__ import annotations

import textwrap

import pytest

from plainbox.errors import UnitError
from plainbox.units.loader import load_record
from plainbox.units.model import JobDefinition
from plainbox.units.model import SetupJob
from plainbox.units.model import TemplateUnit
from plainbox.units.pxu import parse_pxu
from plainbox.units.templates import instantiate
from plainbox.units.templates import placeholder_record
from plainbox.units.templates import template_parameters


NS = "com.example"

DEFAULT = """\
unit: template
template-resource: disks
template-filter: disks.size != '0'
template-imports: from com.example import disks
template-unit: job
template-id: disk-read
_template-summary: Read every disk
_template-description: One job per disk.
id: disk-read-{name}
_summary: Read {name} ({__index__})
plugin: shell
flags: also-after-suspend
command:
 echo {{literal braces}} {name}
 dd if=/dev/{name} bs={size} count=1
"""

JINJA = """\
unit: template
template-resource: mounts
template-engine: jinja2
template-id: fs-usage
id: fs-usage-{{ name }}
_summary: Free space on {{ mount_point }} (#{{ __index__ }})
plugin: shell
command:
 echo "{{ mount_point }}" {literal}
 {% if fs_type == 'tmpfs' %}
 echo tmpfs
 {% endif %}
 {% for word in ['x', 'y'] %}{{ word }}{% endfor %}
"""


def load_template(text: str) -> TemplateUnit:
    (record,), problems = parse_pxu(textwrap.dedent(text), "templates.pxu")
    assert not problems, problems
    unit, problem = load_record(record, namespace=NS, provider="example")
    assert isinstance(unit, TemplateUnit), problem
    return unit


def minimal(engine: str, command: str, job_id: str = "job-{x}") -> TemplateUnit:
    """A template whose command (line 5) is the given text."""
    return load_template(
        f"unit: template\ntemplate-resource: res\ntemplate-engine: {engine}\n"
        f"id: {job_id}\ncommand: {command}\nplugin: shell\n"
    )


@pytest.fixture
def default_template() -> TemplateUnit:
    return load_template(DEFAULT)


@pytest.fixture
def jinja_template() -> TemplateUnit:
    return load_template(JINJA)


# -- default engine -----------------------------------------------------------


def test_instantiate_default_engine_formats_every_field(default_template):
    instance = instantiate(default_template, {"name": "sda", "size": "512"}, 2)

    assert instance.id == f"{NS}::disk-read-sda"
    assert instance.summary == "Read sda (2)"
    assert instance.command == (
        "echo {literal braces} sda\ndd if=/dev/sda bs=512 count=1"
    )


@pytest.mark.parametrize(
    ("command", "record", "expected"),
    [
        ("echo {x}", {"x": "1"}, "echo 1"),
        ("echo {{x}}", {"x": "1"}, "echo {x}"),
        ("echo {{{x}}}", {"x": "1"}, "echo {1}"),
        ("awk '{{ print $1 }}'", {"x": "1"}, "awk '{ print $1 }'"),
        ("echo {x!r:>5}", {"x": "1"}, "echo   '1'"),
        ("echo {__index__}", {"x": "1"}, "echo 7"),
    ],
)
def test_instantiate_default_engine_formats_like_str_format(command, record, expected):
    instance = instantiate(minimal("default", command), record, 7)

    assert instance.command == expected


@pytest.mark.parametrize(
    ("record", "missing"),
    [({"x": "1"}, "y"), ({"y": "1"}, "x")],
)
def test_instantiate_default_engine_missing_key_is_located_error(record, missing):
    template = minimal("default", "echo {y}")

    with pytest.raises(UnitError) as caught:
        instantiate(template, record, 1)

    assert caught.value.path == "templates.pxu"
    line = 4 if missing == "x" else 5  # id: is line 4, command: line 5
    assert caught.value.line == line
    assert repr(missing) in caught.value.message


@pytest.mark.parametrize(
    ("command", "line"),
    [("echo {x", 5), ("echo }", 5), ("echo {}", 5), ("echo {0}", 5)],
)
def test_instantiate_default_engine_bad_format_is_located_error(command, line):
    with pytest.raises(UnitError) as caught:
        instantiate(minimal("default", command), {"x": "1"}, 1)

    assert (caught.value.path, caught.value.line) == ("templates.pxu", line)


# -- jinja2 engine ------------------------------------------------------------


def test_instantiate_jinja2_renders_values_and_blocks(jinja_template):
    record = {"name": "tmp", "mount_point": "/tmp", "fs_type": "tmpfs"}

    instance = instantiate(jinja_template, record, 3)

    assert instance.id == f"{NS}::fs-usage-tmp"
    assert instance.summary == "Free space on /tmp (#3)"
    assert instance.command is not None
    lines = [line for line in instance.command.splitlines() if line.strip()]
    assert lines == ['echo "/tmp" {literal}', "echo tmpfs", "xy"]


def test_instantiate_jinja2_leaves_out_false_blocks(jinja_template):
    record = {"name": "root", "mount_point": "/", "fs_type": "ext4"}

    instance = instantiate(jinja_template, record, 1)

    assert instance.command is not None
    assert "tmpfs" not in instance.command


@pytest.mark.parametrize(
    "expression",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ x.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ ().__class__.__base__.__subclasses__() }}",
        "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
        "{{ x.__len__() }}",
    ],
)
def test_instantiate_jinja2_sandbox_refuses_attribute_escapes(expression):
    template = minimal("jinja2", expression, job_id="job-{{ x }}")

    with pytest.raises(UnitError) as caught:
        instantiate(template, {"x": "1"}, 1)

    assert (caught.value.path, caught.value.line) == ("templates.pxu", 5)
    assert "unsafe" in caught.value.message


@pytest.mark.parametrize(
    "expression",
    [
        "{{ x.__class__ }}",
        "{{ x|attr('__class__') }}",
        "{{ x.format.__func__ }}",
        "{{ self._TemplateReference__context }}",
    ],
)
def test_instantiate_jinja2_sandbox_renders_unsafe_reads_as_nothing(expression):
    template = minimal("jinja2", f"[{expression}]", job_id="job-{{ x }}")

    assert instantiate(template, {"x": "1"}, 1).command == "[]"


@pytest.mark.parametrize("command", ["{{ x", "{% if x %}", "{{ x | nosuchfilter }}"])
def test_jinja2_syntax_errors_are_located_errors(command):
    template = minimal("jinja2", command, job_id="job-{{ x }}")

    with pytest.raises(UnitError) as caught:
        template_parameters(template)

    assert (caught.value.path, caught.value.line) == ("templates.pxu", 5)
    assert "command" in caught.value.message


# -- parameters and placeholders ----------------------------------------------


def test_template_parameters_default_engine(default_template):
    assert template_parameters(default_template) == {"name", "size"}


def test_template_parameters_jinja2(jinja_template):
    # Loop variables and __index__ are not record keys.
    assert template_parameters(jinja_template) == {"name", "mount_point", "fs_type"}


@pytest.mark.parametrize(
    ("engine", "command", "expected"),
    [
        ("default", "echo {a.real} {b[0]} {c!r} {d:>3}", {"x", "a", "b", "c", "d"}),
        ("default", "echo {{not_a_key}} {__index__}", {"x"}),
        (
            "jinja2",
            "{{ a | upper }} {% set b = 1 %}{{ b }} {{ __index__ }}",
            {"x", "a"},
        ),
    ],
)
def test_template_parameters_reads_only_referenced_keys(engine, command, expected):
    job_id = "job-{x}" if engine == "default" else "job-{{ x }}"
    template = minimal(engine, command, job_id=job_id)

    assert template_parameters(template) == expected


def test_template_parameters_ignores_template_only_fields():
    template = load_template(
        "unit: template\ntemplate-resource: res\ntemplate-id: t\n"
        "_template-summary: {not_a_key}\ntemplate-filter: res.k == '{x}'\n"
        "id: job-{x}\nplugin: shell\n"
    )

    assert template_parameters(template) == {"x"}


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("default_template", {"name": "NAME", "size": "SIZE"}),
        (
            "jinja_template",
            {"name": "NAME", "mount_point": "MOUNT_POINT", "fs_type": "FS_TYPE"},
        ),
    ],
)
def test_placeholder_record_maps_keys_to_upper_case(request, fixture, expected):
    template = request.getfixturevalue(fixture)

    record = placeholder_record(template)

    assert record == expected
    assert instantiate(template, record, 1).partial_id.endswith("-NAME")


# -- instance fields and checksums --------------------------------------------


def test_instance_fields_drop_template_fields(default_template):
    instance = instantiate(default_template, {"name": "sda", "size": "1"}, 1)

    assert isinstance(instance, JobDefinition)
    assert instance.unit_type == "job"
    assert instance.template_id == "disk-read"
    assert instance.template_engine == "default"
    assert instance.fields["template-id"] == "disk-read"
    assert instance.fields["template-engine"] == "default"
    assert {name for name in instance.fields if name.startswith("template-")} == {
        "template-id",
        "template-engine",
    }
    assert instance.flags == frozenset({"also-after-suspend"})
    assert instance.namespace == NS
    assert instance.provider == "example"
    assert instance.origin == default_template.origin
    assert instance.field_origin("command") == default_template.field_origin("command")


def test_instance_fields_set_unit_from_template_unit(default_template):
    instance = instantiate(default_template, {"name": "sda", "size": "1"}, 1)

    assert instance.fields["unit"] == "job"


def test_instance_of_setup_job_template_is_a_setup_job():
    template = load_template(
        "unit: template\ntemplate-resource: res\ntemplate-unit: setup job\n"
        "id: setup-{x}\nplugin: shell\ncommand: echo {x}\n"
    )

    instance = instantiate(template, {"x": "a"}, 1)

    assert isinstance(instance, SetupJob)
    assert instance.partial_id == "setup-a"


def test_instance_default_template_id_comes_from_the_raw_id():
    template = load_template(
        "unit: template\ntemplate-resource: res\nid: disk/{name}-read\nplugin: shell\n"
    )

    instance = instantiate(template, {"name": "sda"}, 1)

    assert template.template_id == "disk/name-read"
    assert instance.template_id == "disk/name-read"


@pytest.mark.parametrize("fixture", ["default_template", "jinja_template"])
def test_instance_checksum_depends_only_on_the_referenced_record(request, fixture):
    template = request.getfixturevalue(fixture)
    base = {"name": "a", "size": "1", "mount_point": "/a", "fs_type": "ext4"}

    first = instantiate(template, base, 1)
    again = instantiate(template, dict(base), 1)
    extra_key = instantiate(template, {**base, "unused": "x"}, 1)
    other = instantiate(template, {**base, "name": "b"}, 1)

    assert first.checksum == again.checksum == extra_key.checksum
    assert other.checksum != first.checksum
    assert first.id != other.id


def test_instance_index_counts_from_the_argument(default_template):
    record = {"name": "sda", "size": "1"}

    summaries = [instantiate(default_template, record, i).summary for i in (1, 2)]

    assert summaries == ["Read sda (1)", "Read sda (2)"]


def test_instance_jinja2_sees_the_environment(monkeypatch):
    monkeypatch.setenv("PLAINBOX_TEST_VALUE", "from-env")
    template = minimal(
        "jinja2",
        "{{ __system_env__['PLAINBOX_TEST_VALUE'] }} {{ __on_ubuntucore__ }}",
        job_id="job-{{ x }}",
    )

    instance = instantiate(template, {"x": "1"}, 1)

    assert instance.command == "from-env False"
