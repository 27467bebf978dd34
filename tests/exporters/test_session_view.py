"""SessionView: what exporters see of a session loaded from disk."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from plainbox.errors import CorruptSessionError
from plainbox.execution.iolog import OutputLine
from plainbox.execution.iolog import iter_io_log
from plainbox.execution.iolog import write_io_log
from plainbox.session.results import JobResult
from plainbox.session.results import Outcome
from plainbox.session.view import read_output
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


_chunks = st.lists(
    st.tuples(
        st.sampled_from(["stdout", "stderr"]), st.binary(min_size=1, max_size=40)
    ),
    max_size=20,
)


@given(chunks=_chunks, tail=st.binary(max_size=30))
@settings(max_examples=200, deadline=None)
def test_fast_output_reading_agrees_with_the_careful_reader(chunks, tail):
    # One json.loads per file (the fast path) must give exactly what the
    # record-by-record reader gives, and fall back to it for anything odd.
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "io.log"
        write_io_log(path, [OutputLine(s, data, 0.5) for s, data in chunks])
        with path.open("ab") as stream:
            stream.write(tail)  # a torn or damaged end, sometimes
        result = JobResult(job_id="j", outcome=Outcome.PASS, io_log="io.log")
        try:
            careful = list(iter_io_log(path))
        except CorruptSessionError:
            with pytest.raises(CorruptSessionError):
                read_output(Path(directory), result)
            return
        expected = (
            b"".join(line.data for line in careful if line.stream == "stdout"),
            b"".join(line.data for line in careful if line.stream == "stderr"),
        )
        assert read_output(Path(directory), result) == expected
