"""The catalog: every provider's units, looked up by id."""

from __future__ import annotations

import pytest

from plainbox.errors import PlainboxError
from plainbox.errors import UnknownUnitError
from plainbox.paths import BUILTIN_PROVIDER_DIR
from plainbox.units.catalog import load_catalog
from plainbox.units.model import Category
from plainbox.units.model import JobDefinition
from plainbox.units.model import TestPlan
from plainbox.units.model import Unit
from plainbox.units.provider import read_provider


JOBS = """\
id: disk/read
plugin: shell
command: true

id: shared
plugin: shell
command: true

unit: test plan
id: disk/read
_name: A plan sharing a job's id

unit: category
id: disk
_name: Disks
"""


@pytest.fixture
def search_path(make_provider, tmp_path):
    """Three providers (toml, manage.py, .provider); two share a namespace."""
    make_provider(name="one", namespace="com.example.one", units={"units/a.pxu": JOBS})
    make_provider(
        name="two",
        namespace="com.example.two",
        kind="manage.py",
        units={"units/b.pxu": "id: shared\nplugin: shell\n\nid: only-two\n"},
    )
    make_provider(
        name="three",
        namespace="com.example.one",
        kind=".provider",
        units={"units/c.pxu": "id: third\nplugin: manual\n"},
    )
    return [tmp_path / "providers", tmp_path / "installed"]


@pytest.fixture
def loaded(search_path):
    return load_catalog(search_path)


def test_load_catalog_without_builtin(loaded):
    assert loaded.problems == []
    assert sorted(p.name for p in loaded.providers) == ["one", "three", "two"]
    assert "com.canonical.plainbox::uncategorised" not in [u.id for u in loaded.units]
    assert len(loaded.units) == 7


def test_load_catalog_with_builtin(search_path):
    result = load_catalog(search_path, builtin_dir=BUILTIN_PROVIDER_DIR)
    assert result.providers[0].namespace == "com.canonical.plainbox"
    assert result.resolve("com.canonical.plainbox::uncategorised", Category)


def test_load_catalog_empty_search_path():
    result = load_catalog([])
    assert (result.providers, result.units, result.problems) == ([], [], [])


def test_load_catalog_explicit_provider_loaded_once(make_provider, tmp_path):
    base = make_provider(units={"units/a.pxu": "id: a\n"})
    result = load_catalog([tmp_path / "providers"], explicit=[base])
    assert [p.name for p in result.providers] == ["example"]
    assert [u.id for u in result.units] == ["com.example::a"]


def test_load_catalog_explicit_non_provider_is_problem(tmp_path):
    result = load_catalog([], explicit=[tmp_path])
    assert result.providers == []
    assert len(result.problems) == 1


def test_load_catalog_quarantines_files_with_syntax_errors(make_provider, tmp_path):
    """As in Checkbox, a file that does not parse contributes no units."""
    make_provider(
        units={"units/a.pxu": "id: a\nbroken\n\nid: b\n", "units/ok.pxu": "id: c\n"}
    )
    result = load_catalog([tmp_path / "providers"])
    assert [u.partial_id for u in result.units] == ["c"]
    # The records that did parse are still there for the validator.
    assert [u.partial_id for u in result.quarantined] == ["b"]
    assert [p.origin.line for p in result.problems] == [2, 0]
    assert "no units loaded" in result.problems[1].message


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("com.example.one::disk/read", JobDefinition, "com.example.one::disk/read"),
        ("com.example.one::disk/read", TestPlan, "com.example.one::disk/read"),
        ("com.example.two::shared", Unit, "com.example.two::shared"),
        ("only-two", Unit, "com.example.two::only-two"),
        ("third", JobDefinition, "com.example.one::third"),
        ("disk", Category, "com.example.one::disk"),
    ],
)
def test_catalog_resolve(loaded, text, kind, expected):
    unit = loaded.resolve(text, kind)
    assert unit.id == expected
    assert isinstance(unit, kind)


def test_catalog_resolve_partial_id_filters_by_kind(loaded):
    """A job and a plan share a partial id; asking for a kind disambiguates."""
    assert isinstance(loaded.resolve("disk/read", TestPlan), TestPlan)
    assert isinstance(loaded.resolve("disk/read", JobDefinition), JobDefinition)


def test_catalog_resolve_ambiguous_partial_id_lists_choices(loaded):
    with pytest.raises(UnknownUnitError, match="ambiguous") as info:
        loaded.resolve("shared")
    assert "com.example.one::shared" in str(info.value)
    assert "com.example.two::shared" in str(info.value)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("nope", Unit),
        ("com.example.one::nope", Unit),
        ("other.ns::disk/read", Unit),
        ("com.example.one::disk", JobDefinition),
        ("only-two", TestPlan),
    ],
)
def test_catalog_resolve_unknown_raises(loaded, text, kind):
    with pytest.raises(UnknownUnitError, match="no "):
        loaded.resolve(text, kind)


def test_unknown_unit_error_is_lookup_error(loaded):
    with pytest.raises(LookupError):
        loaded.resolve("nope")
    assert issubclass(UnknownUnitError, PlainboxError)


def test_catalog_of_kind(loaded):
    jobs = loaded.of_kind(JobDefinition)
    assert sorted(j.id for j in jobs) == [
        "com.example.one::disk/read",
        "com.example.one::shared",
        "com.example.one::third",
        "com.example.two::only-two",
        "com.example.two::shared",
    ]
    assert loaded.jobs == jobs
    assert [p.id for p in loaded.of_kind(TestPlan)] == ["com.example.one::disk/read"]
    assert loaded.test_plans == loaded.of_kind(TestPlan)
    assert [c.id for c in loaded.categories] == ["com.example.one::disk"]
    assert loaded.templates == []
    assert len(loaded.of_kind(Unit)) == len(loaded.units)


def test_catalog_all_and_find(loaded):
    both = loaded.all("com.example.one::disk/read")
    assert sorted(type(u).__name__ for u in both) == ["JobDefinition", "TestPlan"]
    assert loaded.find("com.example.one::disk/read", TestPlan) is not None
    assert loaded.find("com.example.one::disk", JobDefinition) is None
    assert loaded.all("missing::x") == []


def test_catalog_add_reindexes(loaded, make_provider):
    assert loaded.all("com.example::late") == []
    base = make_provider(name="late", units={"units/l.pxu": "id: late\n"})
    loaded.add(read_provider(base, []))
    assert [u.id for u in loaded.all("com.example::late")] == ["com.example::late"]
