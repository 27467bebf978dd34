"""Finding plugin entry points without importing importlib.metadata when there are none."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from plainbox import plugins


def _dist_info(site: Path, name: str, entry_points: str | None) -> None:
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"
    )
    if entry_points is not None:
        (info / "entry_points.txt").write_text(entry_points)


@pytest.fixture
def only_site(tmp_path, monkeypatch):
    """sys.path is one empty directory, as if nothing else were installed."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.setattr(sys, "path", [str(site)])
    return site


@pytest.mark.parametrize(
    "entry_points",
    [
        "[console_scripts]\nplainbox = plainbox.cli.main:console_main\n",
        "[pytest11]\nplainbox_thing = thing\n",
        None,
    ],
)
def test_no_plainbox_section_means_no_plugins(only_site, entry_points):
    _dist_info(only_site, "other", entry_points)

    assert not plugins._may_declare_plugins()
    assert plugins.plugin_entry_points() == []


@pytest.mark.parametrize("header", ["[plainbox]", "  [ plainbox ]  ", "[plainbox]\r"])
def test_anything_like_a_plainbox_section_is_left_to_importlib_metadata(
    only_site, header
):
    _dist_info(only_site, "ext", f"[console_scripts]\next = ext:main\n\n{header}\n")

    assert plugins._may_declare_plugins()


def test_a_plainbox_section_is_read_by_importlib_metadata(only_site):
    _dist_info(
        only_site,
        "ext",
        "[console_scripts]\next = ext:main\n\n[plainbox]\nmine = ext_plugin\n",
    )

    found = plugins.plugin_entry_points()

    assert [(ep.name, ep.value) for ep in found] == [("mine", "ext_plugin")]


def test_a_file_on_the_path_is_left_to_importlib_metadata(
    only_site, tmp_path, monkeypatch
):
    archive = tmp_path / "plugins.zip"
    archive.write_bytes(b"")
    monkeypatch.setattr(sys, "path", [str(only_site), str(archive)])

    assert plugins._may_declare_plugins()


def test_a_finder_of_its_own_is_left_to_importlib_metadata(only_site, monkeypatch):
    class Finder:
        def find_spec(self, *args):
            return None

        def find_distributions(self, *args):
            return iter(())

    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Finder()])

    assert plugins._may_declare_plugins()


def test_a_missing_path_entry_is_skipped(only_site, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", [str(tmp_path / "gone"), str(only_site)])

    assert not plugins._may_declare_plugins()


def test_a_run_without_plugins_never_imports_importlib_metadata(tmp_path):
    script = textwrap.dedent(
        """
        import sys
        from plainbox.plugins import get_plugin_manager
        get_plugin_manager()
        print("importlib.metadata" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )

    # The plainbox installation itself declares only a console script.
    assert done.stdout.strip() == "False"
