"""The benchmark provider generator writes what it says, and it is valid."""

from __future__ import annotations

import collections
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from plainbox.paths import BUILTIN_PROVIDER_DIR
from plainbox.units.catalog import load_catalog
from plainbox.units.problems import Severity


@pytest.fixture(scope="module")
def generator(benchmark_script: Callable[[str], ModuleType]) -> ModuleType:
    return benchmark_script("generate_provider")


def _load(path: Path):
    return load_catalog([], builtin_dir=BUILTIN_PROVIDER_DIR, explicit=[path])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_unit_counts_match_what_the_generator_reports(generator, tmp_path, seed):
    generated = generator.generate_provider(tmp_path / "provider", 200, seed)
    catalog = _load(tmp_path / "provider")

    assert catalog.problems == []
    own = [unit for unit in catalog.units if unit.namespace == generated.namespace]
    counts = collections.Counter(unit.unit_type for unit in own)
    assert dict(counts) == generated.counts
    assert generated.total == 200
    assert {provider.name for provider in catalog.providers} >= {generated.name}


def test_proportions_follow_the_checkbox_corpus(generator):
    counts = generator.unit_counts(2500)
    assert sum(counts.values()) == 2500
    assert counts["template"] == 350
    assert counts["test plan"] == 800
    assert counts["manifest entry"] == 125
    assert counts["category"] in {62, 63}
    with pytest.raises(ValueError, match="at least"):
        generator.unit_counts(10)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_provider_validates_without_errors(generator, tmp_path, seed):
    validation = pytest.importorskip("plainbox.units.validation")
    generator.generate_provider(tmp_path / "provider", 200, seed)
    problems = validation.validate(_load(tmp_path / "provider"))

    errors = [
        str(problem) for problem in problems if problem.severity is Severity.ERROR
    ]
    assert errors == []


def test_generated_provider_uses_the_features_benchmarked(generator, tmp_path):
    generated = generator.generate_provider(tmp_path / "provider", 200, 1)
    text = "\n".join(
        path.read_text(encoding="utf-8")
        for path in generated.files
        if path.suffix == ".pxu"
    )
    for needle in (
        "template-engine: jinja2",
        "{{ name }}",
        "-{name}-",
        "nested_part:",
        "bootstrap_include:",
        "requires:",
        "depends:",
        "\n .\n",  # magic dot
        "plugin: resource",
        "plugin: manual",
        "plugin: user-interact-verify",
        "plugin: attachment",
        "unit: manifest entry",
        "unit: category",
        "from com.canonical.plainbox import manifest",
    ):
        assert needle in text, needle
    assert 20 <= len([p for p in generated.files if p.suffix == ".pxu"]) <= 30
    assert (tmp_path / "provider" / "bin" / "bench-check").stat().st_mode & 0o111
    assert (tmp_path / "provider" / "data" / "bench.conf").is_file()


def test_same_seed_same_files_other_seed_other_files(generator, tmp_path):
    def contents(path: Path) -> dict[str, bytes]:
        return {
            str(file.relative_to(path)): file.read_bytes()
            for file in sorted(path.rglob("*"))
            if file.is_file()
        }

    generator.generate_provider(tmp_path / "a", 200, 7)
    generator.generate_provider(tmp_path / "b", 200, 7)
    generator.generate_provider(tmp_path / "c", 200, 8)

    assert contents(tmp_path / "a") == contents(tmp_path / "b")
    assert contents(tmp_path / "a") != contents(tmp_path / "c")


def test_command_line_prints_a_summary(generator, tmp_path, capsys):
    assert generator.main([str(tmp_path / "p"), "--units", "100", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["units"] == 100
    assert sum(summary["counts"].values()) == 100
    assert (tmp_path / "p" / "provider.toml").is_file()
