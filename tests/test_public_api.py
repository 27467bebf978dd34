"""The curated public API and the hook specifications."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import plainbox
from plainbox import hookspecs


ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", plainbox.__all__)
def test_every_public_name_resolves(name):
    assert getattr(plainbox, name) is not None


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = plainbox.no_such_thing


def test_hookspecs_are_prefixed_and_documented():
    specs = [
        (name, obj)
        for name, obj in vars(hookspecs).items()
        if inspect.isfunction(obj) and hasattr(obj, "plainbox_spec")
    ]
    assert specs
    for name, function in specs:
        assert name.startswith("plainbox_")
        assert function.__doc__
        # What a hook gives back is part of its contract; events give nothing.
        returns = inspect.signature(function).return_annotation not in (None, "None")
        assert (":return:" in function.__doc__) == returns, name


def test_ci_runs_the_readme_test_command():
    """.ci/run must run the README's test command, not a private variant."""
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- test-command -->\n```sh\n(.+)\n```", readme)
    assert match is not None
    ci = (ROOT / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in ci
    # The README opens with exactly two set-up commands.
    head = readme.split("---")[0]
    assert head.count("```sh") == 2
