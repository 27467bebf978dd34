"""SessionView: what exporters see of a session loaded from disk."""

from __future__ import annotations

from tests.exporters.conftest import FakeJob


def test_view_reads_results_and_output_back_from_disk(make_session):
    view = make_session(
        [
            FakeJob("a", stdout=b"hi\n"),
            FakeJob("b", outcome="fail", return_code=1, stderr=b"\xff oops\n"),
            FakeJob(
                "c",
                outcome="skipped-dependency",
                return_code=None,
                skip_reason={"related_dependencies": ["com.example::b"]},
            ),
        ]
    )
    assert [e.job.id for e in view.entries] == [
        "com.example::a",
        "com.example::b",
        "com.example::c",
    ]
    assert view.entries[0].output() == ("hi\n", "")
    assert view.entries[1].output()[1] == "\ufffd oops\n"
    assert view.category_name("com.example::cat-a") == "Category A"
    assert view.entries[2].result.skip_reason == {
        "related_dependencies": ["com.example::b"]
    }
