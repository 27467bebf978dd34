"""Providers: declarations (manage.py, .provider, provider.toml), discovery, loading."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from plainbox import paths
from plainbox.units.model import Category
from plainbox.units.model import JobDefinition
from plainbox.units.problems import Problem
from plainbox.units.problems import Severity
from plainbox.units.provider import Provider
from plainbox.units.provider import discover_providers
from plainbox.units.provider import load_provider_units
from plainbox.units.provider import read_provider


IQN = "2013.com.canonical.certification:checkbox-provider-x"


def read(path: Path) -> tuple[Any, list[Problem]]:
    """The provider (None if unreadable) and the problems reading it."""
    problems: list[Problem] = []
    return read_provider(path, problems), problems


def write_manage_py(tmp_path: Path, source: str) -> Path:
    base = tmp_path / "src-provider"
    base.mkdir(exist_ok=True)
    (base / "manage.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return base


def by_severity(problems: list[Problem], severity: Severity) -> list[Problem]:
    return [p for p in problems if p.severity is severity]


# --- manage.py ---------------------------------------------------------------


def test_read_provider_manage_py_literal_kwargs(tmp_path):
    base = write_manage_py(
        tmp_path,
        """\
        #!/usr/bin/env python3
        from plainbox.provider_manager import setup, N_

        setup(
            name="checkbox-provider-disk",
            namespace="com.canonical.certification",
            version="1.2.3",
            description="Disk tests",
            gettext_domain="checkbox-provider-disk",
            strict=False,
            deprecated=False,
        )
        """,
    )
    (base / "units").mkdir()
    (base / "data").mkdir()
    provider, problems = read(base)
    assert problems == []
    assert provider.kind == "manage.py"
    assert provider.definition == base / "manage.py"
    assert provider.name == "checkbox-provider-disk"
    assert provider.namespace == "com.canonical.certification"
    assert provider.version == "1.2.3"
    assert provider.description == "Disk tests"
    assert provider.gettext_domain == "checkbox-provider-disk"
    assert provider.base_dir == base
    assert provider.units_dir == base / "units"
    assert provider.data_dir == base / "data"
    assert provider.jobs_dir is None
    assert provider.bin_dir is None


@pytest.mark.parametrize("marker", ["N_", "_"])
def test_read_provider_manage_py_gettext_marked_description(tmp_path, marker):
    base = write_manage_py(
        tmp_path,
        f'setup(name="p", namespace="com.example", version="1",'
        f' description={marker}("Some tests"))\n',
    )
    provider, problems = read(base)
    assert problems == []
    assert provider.description == "Some tests"


def test_read_provider_manage_py_setup_as_attribute(tmp_path):
    base = write_manage_py(
        tmp_path,
        "import plainbox.provider_manager as pm\n"
        'pm.setup(name="p", namespace="com.example", version="2")\n',
    )
    provider, _ = read(base)
    assert provider.version == "2"


def test_read_provider_manage_py_non_literal_version_warns(tmp_path):
    base = write_manage_py(
        tmp_path,
        """\
        import plainbox
        from plainbox.provider_manager import setup

        setup(
            name="p",
            namespace="com.example",
            version=plainbox.__version__,
        )
        """,
    )
    provider, problems = read(base)
    assert provider is not None
    assert provider.version is None
    [warning] = problems
    assert warning.severity is Severity.WARNING
    assert warning.origin.line == 7
    assert "version" in warning.message


def test_read_provider_manage_py_non_literal_name_uses_dir_name(tmp_path):
    base = write_manage_py(
        tmp_path,
        'NAME = "p"\nsetup(name=NAME, namespace="com.example", version="1")\n',
    )
    provider, problems = read(base)
    assert provider.name == base.name
    assert provider.namespace == "com.example"
    assert [p.severity for p in problems] == [Severity.WARNING] * 2


def test_read_provider_manage_py_other_calls_are_not_literals(tmp_path):
    base = write_manage_py(
        tmp_path,
        'setup(name="p", namespace="com.example", version="1",'
        ' description=read_file("README.md"))\n',
    )
    provider, problems = read(base)
    assert provider.description == ""
    assert [p.severity for p in problems] == [Severity.WARNING]


@pytest.mark.parametrize(
    "prelude",
    [
        "raise SystemExit(1)\n",
        "import nonexistent_module_for_plainbox_tests\n",
        "import os\nos._exit(3)\n",
        "open('/nonexistent/dir/file', 'w').write('x')\n",
    ],
    ids=["system-exit", "bad-import", "os-exit", "side-effect"],
)
def test_read_provider_manage_py_is_never_executed(tmp_path, prelude):
    base = write_manage_py(
        tmp_path,
        prelude + 'setup(name="p", namespace="com.example", version="1.0")\n',
    )
    provider, problems = read(base)
    assert problems == []
    assert (provider.name, provider.version) == ("p", "1.0")


def test_read_provider_manage_py_without_setup_is_problem(tmp_path):
    base = write_manage_py(tmp_path, "print('hello')\n")
    provider, problems = read(base)
    assert provider is None
    [problem] = problems
    assert problem.severity is Severity.ERROR
    assert "setup" in problem.message


def test_read_provider_manage_py_syntax_error_is_located(tmp_path):
    base = write_manage_py(tmp_path, 'import os\n\nsetup(name="p",\n    version=)\n')
    provider, problems = read(base)
    assert provider is None
    [problem] = problems
    assert problem.severity is Severity.ERROR
    assert problem.origin.path == str(base / "manage.py")
    assert problem.origin.line == 4


# --- names and namespaces ----------------------------------------------------


@pytest.mark.parametrize("kind", ["toml", "manage.py", ".provider"])
def test_read_provider_iqn_name_derives_namespace(make_provider, kind):
    provider, problems = read(make_provider(name=IQN, namespace=None, kind=kind))
    assert problems == []
    assert provider.name == IQN
    assert provider.namespace == "2013.com.canonical.certification"


@pytest.mark.parametrize("kind", ["toml", "manage.py", ".provider"])
def test_read_provider_explicit_namespace_wins(make_provider, kind):
    provider, _ = read(make_provider(name=IQN, namespace="org.other", kind=kind))
    assert provider.namespace == "org.other"


@pytest.mark.parametrize("kind", ["toml", "manage.py", ".provider"])
def test_read_provider_short_name_without_namespace_warns(make_provider, kind):
    provider, problems = read(
        make_provider(name="checkbox-provider-x", namespace=None, kind=kind)
    )
    assert provider.namespace == "checkbox-provider-x"
    [warning] = problems
    assert warning.severity is Severity.WARNING
    assert "namespace" in warning.message


@pytest.mark.parametrize("name", ["Bad Name", "UPPER", "under_score"])
def test_read_provider_malformed_name_warns(make_provider, name):
    provider, problems = read(make_provider(name=name))
    assert provider.name == name
    assert by_severity(problems, Severity.WARNING)
    assert not by_severity(problems, Severity.ERROR)


def test_read_provider_without_name_is_problem(tmp_path):
    (tmp_path / "provider.toml").write_text('[provider]\nversion = "1"\n')
    provider, problems = read(tmp_path)
    assert provider is None
    assert [p.severity for p in problems] == [Severity.ERROR]


# --- .provider files ---------------------------------------------------------


def test_read_provider_ini_with_location(make_provider):
    ini = make_provider(kind=".provider", units={"units/a.pxu": "id: a\n"})
    provider, problems = read(ini)
    assert problems == []
    base = ini.parent.parent / "providers" / "example"
    assert provider.kind == ".provider"
    assert provider.definition == ini
    assert provider.base_dir == base
    assert provider.units_dir == base / "units"
    assert provider.version == "1.0"


def test_read_provider_ini_with_explicit_dirs(tmp_path):
    units = tmp_path / "share" / "units"
    data = tmp_path / "share" / "data"
    units.mkdir(parents=True)
    data.mkdir()
    ini = tmp_path / "p.provider"
    ini.write_text(
        "[PlainBox Provider]\nname = com.example:p\nversion = 1.0\n"
        f"units_dir = {units}\ndata_dir = {data}\n"
        "description = An installed provider\ngettext_domain = p\n"
    )
    provider, problems = read(ini)
    assert problems == []
    assert provider.units_dir == units
    assert provider.data_dir == data
    assert provider.base_dir is None
    assert provider.description == "An installed provider"
    assert provider.gettext_domain == "p"


def test_read_provider_ini_explicit_dir_overrides_location(make_provider, tmp_path):
    ini = make_provider(kind=".provider", units={"units/a.pxu": "id: a\n"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with ini.open("a") as stream:
        stream.write(f"units_dir = {elsewhere}\n")
    provider, _ = read(ini)
    assert provider.units_dir == elsewhere


@pytest.mark.parametrize("value", ["True", "true", "yes", "1"])
def test_read_provider_ini_relocatable(tmp_path, value):
    """relocatable: the base is the .provider's dir and *_dir keys are ignored."""
    root = tmp_path / "prefix"
    (root / "units").mkdir(parents=True)
    ini = root / "p.provider"
    ini.write_text(
        "[PlainBox Provider]\nname = com.example:p\nversion = 1\n"
        f"relocatable = {value}\nlocation = /nonexistent\n"
        f"units_dir = {tmp_path}\n"
    )
    provider, problems = read(ini)
    assert problems == []
    assert provider.base_dir == root
    assert provider.units_dir == root / "units"


def test_read_provider_ini_missing_section_is_problem(tmp_path):
    ini = tmp_path / "p.provider"
    ini.write_text("[Something Else]\nname = com.example:p\n")
    provider, problems = read(ini)
    assert provider is None
    [problem] = problems
    assert problem.severity is Severity.ERROR
    assert "PlainBox Provider" in problem.message


def test_read_provider_ini_syntax_error_is_located(tmp_path):
    ini = tmp_path / "p.provider"
    ini.write_text("name = com.example:p\n")
    provider, problems = read(ini)
    assert provider is None
    assert [(p.severity, p.origin.line) for p in problems] == [(Severity.ERROR, 1)]


def test_read_provider_ini_missing_location_warns(tmp_path):
    ini = tmp_path / "p.provider"
    ini.write_text(
        f"[PlainBox Provider]\nname = com.example:p\nversion = 1\n"
        f"location = {tmp_path / 'gone'}\n"
    )
    provider, problems = read(ini)
    assert provider is not None
    assert provider.units_dir is None
    assert [p.severity for p in problems] == [Severity.WARNING]


# --- provider.toml -----------------------------------------------------------


def test_read_provider_toml_valid(make_provider):
    base = make_provider(units={"units/a.pxu": "id: a\n"}, extra_files={"bin/x": ""})
    provider, problems = read(base)
    assert problems == []
    assert provider.kind == "toml"
    assert provider.definition == base / "provider.toml"
    assert (provider.name, provider.namespace) == ("example", "com.example")
    assert provider.units_dir == base / "units"
    assert provider.bin_dir == base / "bin"


def test_read_provider_toml_relative_units_dir(tmp_path):
    (tmp_path / "src" / "my-units").mkdir(parents=True)
    (tmp_path / "provider.toml").write_text(
        '[provider]\nname = "p"\nnamespace = "com.example"\nversion = "1"\n'
        'units_dir = "src/my-units"\n'
    )
    provider, _ = read(tmp_path)
    assert provider.units_dir == (tmp_path / "src" / "my-units").resolve()


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('[provider]\nname = "p"\nversion = \n', 3),
        ('[provider]\nname = "p"\nname = "q"\n', 3),
        ('\n\n[provider\nname = "p"\n', 3),
    ],
)
def test_read_provider_toml_error_is_located(tmp_path, text, line):
    (tmp_path / "provider.toml").write_text(text)
    provider, problems = read(tmp_path)
    assert provider is None
    assert [(p.severity, p.origin.line) for p in problems] == [(Severity.ERROR, line)]


def test_read_provider_toml_missing_table_is_problem(tmp_path):
    (tmp_path / "provider.toml").write_text('name = "p"\n')
    provider, problems = read(tmp_path)
    assert provider is None
    assert "[provider]" in problems[0].message


def test_read_provider_prefers_toml_over_manage_py(make_provider):
    base = make_provider(extra_files={"manage.py": "raise SystemExit\n"})
    provider, _ = read(base)
    assert provider.kind == "toml"


@pytest.mark.parametrize("name", ["empty-dir", "README.md"])
def test_read_provider_not_a_provider(tmp_path, name):
    target = tmp_path / name
    if name.endswith(".md"):
        target.write_text("hi")
    else:
        target.mkdir()
    provider, problems = read(target)
    assert provider is None
    assert [p.severity for p in problems] == [Severity.ERROR]


# --- discovery ---------------------------------------------------------------


def discover(*entries: Path) -> tuple[list[Provider], list[Problem]]:
    problems: list[Problem] = []
    found = discover_providers([Path(e) for e in entries], problems)
    return found, problems


def test_discover_providers_in_a_provider_dir(make_provider):
    base = make_provider()
    found, problems = discover(base)
    assert problems == []
    assert [p.definition for p in found] == [base / "provider.toml"]


def test_discover_providers_in_a_dir_of_provider_files(make_provider):
    first = make_provider(name="one", kind=".provider")
    second = make_provider(name="two", kind=".provider")
    assert first.parent == second.parent
    (first.parent / "not-a-provider.txt").write_text("ignored")
    found, problems = discover(first.parent)
    assert problems == []
    assert sorted(p.name for p in found) == ["one", "two"]


def test_discover_providers_in_a_dir_of_provider_dirs(make_provider):
    first = make_provider(name="one", kind="toml")
    second = make_provider(name="two", kind="manage.py")
    (first.parent / "just-a-dir").mkdir()
    found, problems = discover(first.parent)
    assert problems == []
    assert [p.name for p in found] == ["one", "two"]
    assert second == first.parent / "two"


def test_discover_providers_accepts_a_provider_file_entry(make_provider):
    ini = make_provider(kind=".provider")
    found, _ = discover(ini)
    assert [p.definition for p in found] == [ini]


def test_discover_providers_deduplicates(make_provider, tmp_path):
    base = make_provider()
    link = tmp_path / "link"
    link.symlink_to(base)
    found, _ = discover(base, base.parent, base, link)
    assert [p.definition.resolve() for p in found] == [base / "provider.toml"]


def test_discover_providers_deduplicates_provider_files(make_provider):
    ini = make_provider(kind=".provider")
    found, _ = discover(ini.parent, ini, ini.parent)
    assert [p.definition for p in found] == [ini]


def test_discover_providers_deduplicates_dir_and_its_declaration(make_provider):
    base = make_provider()
    found, _ = discover(base, base / "provider.toml")
    assert [p.definition for p in found] == [base / "provider.toml"]


def test_discover_providers_skips_missing_entries(tmp_path):
    found, problems = discover(tmp_path / "missing", tmp_path)
    assert found == []
    assert problems == []


def test_discover_providers_reports_broken_declarations(make_provider):
    make_provider(name="good")
    broken = make_provider(name="broken")
    (broken / "provider.toml").write_text("[provider\n")
    found, problems = discover(broken.parent)
    assert [p.name for p in found] == ["good"]
    assert [p.severity for p in problems] == [Severity.ERROR]


# --- unit files --------------------------------------------------------------


def test_provider_unit_files_finds_unit_sources(make_provider):
    files = {
        "units/a.pxu": "",
        "units/sub/deeper/b.pxu": "",
        "units/c.txt": "",
        "units/d.txt.in": "",
        "units/e.yaml": "",
        "units/f.yml": "",
        "jobs/g.txt": "",
        "jobs/h.pxu": "",
        "jobs/i.yaml": "",
    }
    ignored = {
        "units/.hidden.pxu": "",
        "units/.hidden-dir/x.pxu": "",
        "units/README.md": "",
        "units/a.pxu~": "",
        "units/notes.rst": "",
        "data/x.pxu": "",
        "bin/y.txt": "",
    }
    base = make_provider(units=files | ignored)
    provider, _ = read(base)
    found = [path.relative_to(base).as_posix() for path in provider.unit_files()]
    assert sorted(found) == sorted(files)
    assert found == sorted(found, key=lambda p: (not p.startswith("units/"), p))


def test_load_provider_units_loads_pxu_and_yaml(make_provider):
    base = make_provider(
        units={
            "units/jobs.pxu": """\
                id: a
                plugin: shell
                command: true

                unit: category
                id: cat
                _name: Cat
                """,
            "units/more.yaml": "id: b\nplugin: shell\ndepends: [a]\n",
        }
    )
    provider, _ = read(base)
    loaded = load_provider_units(provider)
    assert loaded.problems == []
    assert loaded.provider is provider
    assert sorted(u.id for u in loaded.units) == [
        "com.example::a",
        "com.example::b",
        "com.example::cat",
    ]
    [job_b] = [u for u in loaded.units if u.partial_id == "b"]
    assert isinstance(job_b, JobDefinition)
    assert job_b.depends == ("com.example::a",)
    assert job_b.provider == "example"
    assert job_b.origin.path == str(base / "units" / "more.yaml")
    assert [type(u) for u in loaded.units if u.partial_id == "cat"] == [Category]


def test_load_provider_units_never_raises_on_garbage(make_provider, tmp_path):
    base = make_provider(
        units={
            "units/binary.pxu": bytes(range(256)) * 4,
            "units/binary.yaml": b"\x00\xff\xfe garbage \x01",
            "units/invalid.yaml": "id: [\n",
            "units/shape.yaml": "- 1\n- 2\n",
            "units/latin1.pxu": "id: caf\xe9\n".encode("latin-1"),
            "units/unknown.pxu": "unit: nonsense\nid: x\n",
            "units/syntax.pxu": "id: broken\nno colon here\n",
            "units/zz-good.pxu": "id: good\nplugin: shell\n",
        }
    )
    (base / "units" / "dangling.pxu").symlink_to(tmp_path / "nowhere")
    provider, _ = read(base)
    loaded = load_provider_units(provider)
    assert "com.example::good" in [u.id for u in loaded.units]
    files_with_problems = {Path(p.origin.path).name for p in loaded.problems}
    assert files_with_problems >= {
        "binary.pxu",
        "binary.yaml",
        "invalid.yaml",
        "shape.yaml",
        "latin1.pxu",
        "unknown.pxu",
        "syntax.pxu",
        "dangling.pxu",
    }
    assert all(p.severity is Severity.ERROR for p in loaded.problems)


def test_load_provider_units_without_unit_dirs(make_provider):
    provider, _ = read(make_provider())
    loaded = load_provider_units(provider)
    assert (loaded.units, loaded.problems) == ([], [])


# --- paths -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/a", ["/a"]),
        ("/a:/b", ["/a", "/b"]),
        ("/a::/b:", ["/a", "/b"]),
        (":/a", ["/a"]),
        ("", []),
    ],
)
def test_provider_search_path_honours_env(monkeypatch, value, expected):
    monkeypatch.setenv("PLAINBOX_PROVIDERPATH", value)
    assert paths.provider_search_path() == [Path(e) for e in expected]


def test_provider_search_path_expands_user(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PLAINBOX_PROVIDERPATH", "~/providers")
    assert paths.provider_search_path() == [tmp_path / "providers"]


def test_provider_search_path_default_when_unset(monkeypatch):
    monkeypatch.delenv("PLAINBOX_PROVIDERPATH")
    assert paths.provider_search_path() == paths.default_provider_path()
    assert Path("/usr/share/plainbox-providers-1") in paths.provider_search_path()


def test_state_dir_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("PLAINBOX_STATE_DIR", str(tmp_path / "state"))
    assert paths.state_dir() == tmp_path / "state"
    assert paths.sessions_dir() == tmp_path / "state" / "sessions"


def test_state_dir_default_when_unset(monkeypatch):
    monkeypatch.delenv("PLAINBOX_STATE_DIR")
    assert paths.state_dir() != Path.cwd()
    assert "plainbox" in paths.state_dir().parts


def test_isolated_env_fixture_is_active():
    assert paths.provider_search_path()[0].is_dir()
    assert list(paths.provider_search_path()[0].iterdir()) == []
    assert paths.state_dir().is_dir()
