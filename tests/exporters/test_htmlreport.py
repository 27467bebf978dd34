"""The HTML report: inert with hostile job text, self-contained, readable."""

from __future__ import annotations

import base64
import hashlib
import html
import io
import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import lxml.html
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from plainbox.errors import ExporterError
from plainbox.exporters.htmlreport import DEFAULT_MAX_OUTPUT
from plainbox.exporters.htmlreport import HtmlExporter
from plainbox.exporters.htmlreport import ansi_to_html
from plainbox.exporters.htmlreport import strip_controls
from plainbox.exporters.htmlreport import trim_output
from plainbox.session.results import JobResult
from plainbox.session.results import Outcome
from plainbox.session.view import SessionView
from tests.exporters.conftest import FakeJob


# Output written to break out of every context it could land in.
HOSTILE_OUTPUT = (
    b"<script>alert('out')</script>\n"
    b"</script><script>alert(2)</script>\n"
    b"<img src=x onerror=alert(3)>\n"
    b'"><svg onload=alert(4)>\n'
    b"' onmouseover='alert(5)\n"
    b"</pre></details></td></tr></table><iframe src=//evil.example/></iframe>\n"
    b"<!-- comment --> <![CDATA[ x ]]> &amp; &lt;\n"
    b"\x1b[31mred\x1b[0m \x1b]8;;https://evil.example/\x07link\x1b]8;;\x07"
    b" \x1b]52;c;Y2xpcGJvYXJk\x07 \x1b[2J\x1b[H\x1b[?25l\n"
    # C0, DEL and C1 (NEL, a C1 CSI) characters, the latter as UTF-8.
    b"ctl:\x00\x01\x07\x08\x0b\x0c\x0e\x1f\x7f\xc2\x85\xc2\x9b2J:end\r\n"
    b"bad utf-8: \xff\xfe\xc3\x28 done\n"
)
QUOTES = "\"'<>&"
ANSI_CLASSES = {f"a-f{n}" for n in range(16)} | {"a-b"}
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
LABELS = {
    Outcome.PASS: "Passed",
    Outcome.FAIL: "Failed",
    Outcome.CRASH: "Crashed",
    Outcome.UNDECIDED: "Undecided",
    Outcome.SKIP: "Skipped",
    Outcome.SKIPPED_DEPENDENCY: "Skipped: dependency",
    Outcome.SKIPPED_RESOURCE: "Skipped: resource",
    Outcome.SKIPPED_MANIFEST: "Skipped: manifest",
    Outcome.NOT_SUPPORTED: "Not supported",
    Outcome.NOT_IMPLEMENTED: "Not implemented",
}


def export(view: SessionView, *options: str) -> bytes:
    stream = io.BytesIO()
    HtmlExporter(options).export(view, stream)
    return stream.getvalue()


def parse(data: bytes) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(data)


def row_of(doc: lxml.html.HtmlElement, job_id: str) -> lxml.html.HtmlElement:
    (row,) = [r for r in doc.xpath("//tr[@data-job]") if r.get("data-job") == job_id]
    return row


def test_exporter_identity_and_options():
    assert HtmlExporter.id == "html"
    assert HtmlExporter.file_extension == "html"
    assert set(HtmlExporter.option_help) == {"max-output"}
    assert HtmlExporter().max_output == DEFAULT_MAX_OUTPUT == 64 * 1024
    assert HtmlExporter(["max-output=100"]).max_output == 100


@pytest.mark.parametrize("value", ["", "-1", "lots", "1.5", "0x10"])
def test_a_bad_max_output_is_an_error(value):
    with pytest.raises(ExporterError, match="max-output"):
        HtmlExporter([f"max-output={value}"])


def test_unknown_options_are_errors_only_when_strict():
    with pytest.raises(ExporterError, match="no option 'colour'"):
        HtmlExporter(["colour=no"])
    assert HtmlExporter(["colour=no"], strict=False).options == {}


def test_hostile_output_is_inert_and_shown_as_text(make_session):
    view = make_session(
        [FakeJob("evil", outcome="fail", return_code=1, stdout=HOSTILE_OUTPUT)]
    )
    data = export(view)
    doc = parse(data)

    # Only the page's own elements: one script, one svg (the chart), the
    # head's five meta tags; nothing the output tried to open.
    assert len(doc.xpath("//script")) == 1
    assert len(doc.xpath("//svg")) == 1
    assert len(doc.xpath("//meta")) == 5
    assert doc.xpath("//img | //iframe | //object | //embed | //link | //base") == []
    assert doc.xpath("//@*[starts-with(name(), 'on')]") == []
    (pre,) = doc.xpath("//pre")
    assert [child.tag for child in pre] == ["span"]  # the red text, nothing else
    # Every hostile line is there, as text.
    text = pre.text_content()
    for line in (
        "<script>alert('out')</script>",
        "</script><script>alert(2)</script>",
        "<img src=x onerror=alert(3)>",
        '"><svg onload=alert(4)>',
        "' onmouseover='alert(5)",
        "</pre></details></td></tr></table><iframe src=//evil.example/></iframe>",
        "<!-- comment --> <![CDATA[ x ]]> &amp; &lt;",
    ):
        assert line in text
    # Colours survive as a span of a fixed class; every other sequence and
    # control character is gone, payload included.
    (red,) = pre.xpath("span")
    assert (red.get("class"), red.text) == ("a-f1", "red")
    assert "red link  \n" in text
    assert "ctl::end\n" in text
    assert b"\x1b" not in data
    assert CONTROL.search(data.decode("utf-8")) is None
    assert b"Y2xpcGJvYXJk" not in data
    assert b"https://evil.example" not in data
    # Invalid UTF-8 becomes replacement characters, not an error.
    assert "bad utf-8: \ufffd\ufffd\ufffd( done" in text


def test_hostile_metadata_is_escaped_in_text_and_attributes(make_session):
    job_id = f"id{QUOTES}x"
    view = make_session(
        [
            FakeJob(
                job_id,
                outcome="fail",
                return_code=1,
                summary=f"summary {QUOTES}<script>alert(1)</script>",
                comments=f"comment {QUOTES}<b onclick=x>",
                certification_status="blocker",
                category="com.example::evil",
                stdout=b"x\n",
            )
        ],
        title=f"title {QUOTES}</title><script>alert(1)</script>",
        test_plan=f"plan{QUOTES}",
        categories={"com.example::evil": f"category {QUOTES}<i>"},
    )
    data = export(view)
    doc = parse(data)
    full_id = f"com.example::{job_id}"

    assert len(doc.xpath("//script")) == 1
    assert doc.xpath("//b | //i") == []
    assert doc.xpath("//@*[starts-with(name(), 'on')]") == []
    assert QUOTES.encode() not in data  # always as entities
    # Attributes carry the exact text back (the parser decodes entities).
    row = row_of(doc, full_id)
    assert row.get("data-outcome") == "fail"
    assert row.xpath("string(.//a[@class='job-id'])") == full_id
    assert row.xpath("string(.//div[@class='job-summary'])") == (
        f"summary {QUOTES}<script>alert(1)</script>"
    )
    assert f"comment {QUOTES}<b onclick=x>" in row.text_content()
    assert doc.findtext(".//title") == (
        f"title {QUOTES}</title><script>alert(1)</script> — test report"
    )
    assert f"plan{QUOTES}" in doc.xpath("string(//dl[@class='meta'])")
    assert doc.xpath("string(//section[@class='category']/h2/span)") == (
        f"category {QUOTES}<i>"
    )
    # The failed blocker's link in the summary is escaped there too.
    (link,) = doc.xpath("//div[@class='blockers']//a")
    assert link.text_content() == full_id


def test_control_characters_are_removed_from_metadata(make_session):
    view = make_session(
        [
            FakeJob(
                "ctl",
                summary="sum\x1b[31mmary\x07",
                comments="com\x00ment \x1b]0;title\x07ok",
            )
        ]
    )
    doc = parse(export(view))
    row = row_of(doc, "com.example::ctl")
    assert row.xpath("string(.//div[@class='job-summary'])") == "summary"
    assert "comment ok" in row.text_content()


def test_ten_megabytes_of_output_are_trimmed_to_head_and_tail(make_session):
    middle = b"the middle of the output\n" * (10 * 1024 * 1024 // 25)
    stdout = b"HEAD-START\n" + middle + b"TAIL-END\n"
    view = make_session([FakeJob("big", stdout=stdout)])
    data = export(view)
    doc = parse(data)

    assert len(data) < 3 * DEFAULT_MAX_OUTPUT  # the page, not ten megabytes
    (pre,) = doc.xpath("//pre")
    text = pre.text_content()
    assert text.startswith("HEAD-START\nthe middle")
    assert text.endswith("the middle of the output\nTAIL-END\n")
    (marker,) = pre.xpath("span[@class='trim']")
    match = re.fullmatch(r"… ([\d,]+) bytes trimmed …", marker.text)
    assert match is not None
    dropped = int(match[1].replace(",", ""))
    kept = len(text.encode()) - len(marker.text.encode())
    assert kept + dropped == len(stdout)
    assert DEFAULT_MAX_OUTPUT - 100 <= kept <= DEFAULT_MAX_OUTPUT
    assert "10.0 MiB, trimmed" in doc.xpath(
        "string(//details[@class='output']/summary)"
    )


@pytest.mark.parametrize(
    ("option", "kept_at_most"),
    [("max-output=1000", 1000), ("max-output=0", 300_000)],
)
def test_max_output_sets_what_is_kept(make_session, option, kept_at_most):
    stdout = b"".join(b"line %06d\n" % n for n in range(30_000))  # 330,000 bytes
    data = export(make_session([FakeJob("big", stdout=stdout)]), option)
    (pre,) = parse(data).xpath("//pre")
    marker = pre.xpath("span[@class='trim']")
    if option == "max-output=0":
        assert marker == []
        assert pre.text_content() == stdout.decode()
    else:
        kept = pre.text_content().replace(marker[0].text, "")
        assert len(kept) <= kept_at_most
        assert kept.startswith("line 000000\n")
        assert kept.endswith("line 029999\n")
        # Cuts fall at line ends: the kept lines are all whole.
        assert all(re.fullmatch(r"line \d{6}", line) for line in kept.split("\n")[:-1])


@pytest.mark.parametrize(
    ("text", "limit", "head", "tail", "dropped"),
    [
        ("short", 100, "short", "", 0),
        ("anything at all", 0, "anything at all", "", 0),
        ("abcdefghij", 4, "ab", "ij", 6),
        # Cuts inside a two-byte character drop that character entirely.
        ("éééééé", 5, "é", "é", 8),
        # A newline near a cut moves the cut to it.
        (
            "aaaaaaaaaaaaaaa\nbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\nccccccccccccccc",
            34,
            "aaaaaaaaaaaaaaa\n",
            "ccccccccccccccc",
            41,
        ),
    ],
)
def test_trim_output(text, limit, head, tail, dropped):
    trimmed = trim_output(text, limit)
    assert (trimmed.head, trimmed.tail, trimmed.dropped) == (head, tail, dropped)
    assert trimmed.size == len(text.encode())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain <b>&\"'", "plain &lt;b&gt;&amp;&#34;&#39;"),
        ("\x1b[31mred\x1b[0m plain", '<span class="a-f1">red</span> plain'),
        ("\x1b[91mbright\x1b[m", '<span class="a-f9">bright</span>'),
        (
            "\x1b[1;32mA\x1b[22mB\x1b[39mC",
            '<span class="a-f2 a-b">A</span><span class="a-f2">B</span>C',
        ),
        ("\x1b[1mbold to the end", '<span class="a-b">bold to the end</span>'),
        ("\x1b[31m\x1b[31mtwice\x1b[0m", '<span class="a-f1">twice</span>'),
        # Extended and background colours are not kept, and their
        # arguments are not read as colours of their own.
        ("\x1b[38;5;31mX\x1b[48;2;1;2;3mY\x1b[41mZ", "XYZ"),
        ("\x1b[2J\x1b[H\x1b[?25lscreen", "screen"),
        ("\x1b[<u\x1b[>1;2c<ok>", "&lt;ok&gt;"),
        ("\x1b]8;;https://x.example/\x07link\x1b]8;;\x1b\\", "link"),
        ("\x1b]52;c;cGF5bG9hZA==", ""),  # unterminated: the rest is payload
        ("\x1bPdevice control\x1b\\after", "after"),
        ("\x9b31mC1 CSI\x9b0m", '<span class="a-f1">C1 CSI</span>'),
        ("a\x00b\x07c\rd\x7fe\x85f\x1bg", "abcdef"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("cut short \x1b[3", "cut short "),
        ("\x1b(Bcharset", "charset"),
        ("\x1b[1\x1b[31mx", '<span class="a-f1">x</span>'),
    ],
)
def test_ansi_to_html(text, expected):
    assert str(ansi_to_html(text)) == expected


@given(
    st.text(
        st.one_of(
            st.sampled_from(list("\x1b\x9b\x9c\x07[]P();:?<>=m&\"'#\\019 \n")),
            st.characters(codec="utf-8"),
        )
    )
)
@settings(deadline=None, max_examples=400)
def test_ansi_to_html_only_adds_fixed_spans(text):
    out = str(ansi_to_html(text))
    tags = re.findall(r"<[^>]*>", out)
    assert all(
        tag == "</span>" or re.fullmatch(r'<span class="[a-f0-9 -]+">', tag)
        for tag in tags
    )
    classes = {c for tag in tags for c in re.findall(r"a-[a-z0-9]+", tag)}
    assert classes <= ANSI_CLASSES
    assert out.count("<span") == out.count("</span>")
    # What is shown is exactly the text without its control sequences.
    assert html.unescape(re.sub(r"<[^>]*>", "", out)) == strip_controls(text)
    assert CONTROL.search(strip_controls(text)) is None


def test_exports_are_byte_identical(make_session):
    view = make_session(
        [
            FakeJob("a", stdout=b"\x1b[32mok\x1b[0m\n"),
            FakeJob("b", outcome="fail", return_code=1, stderr=b"boom\n"),
            FakeJob(
                "c", outcome="skip", return_code=None, category="com.example::cat-b"
            ),
        ]
    )
    first = export(view)
    assert export(view) == first
    assert export(view, "max-output=65536") == first


def test_the_page_fetches_nothing(make_session):
    view = make_session([FakeJob("a", stdout=b"out\n")])
    data = export(view)
    doc = parse(data)

    assert b"http:" not in data
    assert b"https:" not in data
    for attribute in (
        "src",
        "href",
        "action",
        "formaction",
        "srcset",
        "poster",
        "data",
    ):
        for value in doc.xpath(f"//@{attribute}"):
            assert value.startswith("#"), (attribute, value)
    (style,) = doc.xpath("//style")
    assert "url(" not in style.text
    assert "@import" not in style.text
    (csp,) = doc.xpath("//meta[@http-equiv='Content-Security-Policy']/@content")
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["img-src"] == "data:"
    assert directives["style-src"] == "'unsafe-inline'"


def test_the_csp_allows_exactly_the_page_script(make_session):
    # Browsers that know hashes run only a script with this hash (and
    # ignore 'unsafe-inline'): an injected script would not run there.
    doc = parse(export(make_session([FakeJob("a")])))
    (script,) = doc.xpath("//script")
    digest = hashlib.sha256(script.text.encode()).digest()
    (csp,) = doc.xpath("//meta[@http-equiv='Content-Security-Policy']/@content")
    assert (
        f"script-src 'unsafe-inline' 'sha256-{base64.b64encode(digest).decode()}'"
        in csp
    )


def test_every_result_is_in_the_static_page(make_session):
    jobs = [
        FakeJob(
            f"job-{n}",
            outcome=outcome,
            stdout=f"output {n}\n".encode(),
            return_code=None if outcome == "skip" else 0,
        )
        for n, outcome in enumerate(["pass", "fail", "skip", "pass", "crash"])
    ]
    doc = parse(export(make_session(jobs)))

    rows = doc.xpath("//tr[@data-job]")
    assert [r.get("data-job") for r in rows] == [
        f"com.example::job-{n}" for n in range(5)
    ]
    assert [r.get("data-outcome") for r in rows] == [
        "pass",
        "fail",
        "skip",
        "pass",
        "crash",
    ]
    # Nothing is hidden without the script; only its own controls are.
    assert doc.xpath("//*[@hidden]") == doc.xpath("//form[@id='filters']")
    assert doc.xpath("//noscript")
    # Output is in the page, collapsible without the script; failures open.
    details = doc.xpath("//details[@class='output']")
    assert [d.xpath("string(pre)") for d in details] == [
        f"output {n}\n" for n in range(5)
    ]
    assert [d.get("open") is not None for d in details] == [
        False,
        True,
        False,
        False,
        True,
    ]


@pytest.mark.parametrize("outcome", list(Outcome))
def test_outcome_badge(make_session, outcome):
    ran = not outcome.is_skip
    view = make_session(
        [FakeJob("a", outcome=outcome.value, return_code=0 if ran else None)]
    )
    doc = parse(export(view))

    (badge,) = doc.xpath("//tr[@data-job]//span[contains(@class, 'badge')]")
    classes = set(badge.get("class").split())
    assert f"o-{outcome.value}" in classes
    # Skips are drawn outlined, a difference that needs no colour vision.
    assert ("skipish" in classes) == outcome.is_skip
    assert badge.text_content().strip().endswith(LABELS[outcome])
    (count,) = doc.xpath("//table[@class='counts']//tr")
    assert count.get("data-count") == outcome.value
    assert count.text_content().startswith(badge.text_content())
    (bar,) = doc.xpath("//svg/g")
    assert f"o-{outcome.value}" in bar.get("class")
    assert LABELS[outcome] in bar.xpath("string(text)")
    (checkbox,) = doc.xpath("//input[@name='outcome']")
    assert checkbox.get("value") == outcome.value
    problem = outcome in {Outcome.FAIL, Outcome.CRASH, Outcome.UNDECIDED}
    assert (checkbox.get("data-problem") is not None) == problem


def test_summary_counts_and_chart(make_session):
    outcomes = ["pass"] * 4 + ["fail"] * 2 + ["skip"]
    jobs = [
        FakeJob(f"j{n}", outcome=o, return_code=None if o == "skip" else 0)
        for n, o in enumerate(outcomes)
    ]
    doc = parse(export(make_session(jobs)))

    assert doc.xpath("string(//p[@class='total'])") == "7 jobs"
    counts = {
        row.get("data-count"): [td.text_content() for td in row.xpath("td")]
        for row in doc.xpath("//table[@class='counts']//tr")
    }
    assert counts == {
        "pass": ["4", "57.1%"],
        "fail": ["2", "28.6%"],
        "skip": ["1", "14.3%"],
    }
    # Bars are scaled to the largest count.
    widths = [float(w) for w in doc.xpath("//svg/g/rect/@width")]
    assert widths == [330.0, 165.0, 82.5]


def test_results_are_grouped_by_category(make_session):
    jobs = [
        FakeJob("z1", category="com.example::zeta"),
        FakeJob("a1", outcome="fail", return_code=1, category="com.example::alpha"),
        FakeJob("z2", outcome="fail", return_code=1, category="com.example::zeta"),
        FakeJob("a2", category="com.example::alpha"),
        FakeJob("z3", category="com.example::zeta"),
    ]
    view = make_session(
        jobs, categories={"com.example::zeta": "Zeta", "com.example::alpha": "alpha"}
    )
    doc = parse(export(view))

    sections = doc.xpath("//section[@class='category']")
    # Sorted by name, whatever its case; rows keep the run order.
    assert [s.xpath("string(h2/span[1])") for s in sections] == ["alpha", "Zeta"]
    assert [
        [r.get("data-job").split("::")[1] for r in s.xpath(".//tr[@data-job]")]
        for s in sections
    ] == [
        ["a1", "a2"],
        ["z1", "z2", "z3"],
    ]
    assert [s.xpath("string(h2/span[@class='cat-counts'])") for s in sections] == [
        "1 passed · 1 failed",
        "2 passed · 1 failed",
    ]


def test_a_category_without_a_name_shows_its_id(make_session):
    view = make_session([FakeJob("a", category="com.example::unnamed")])
    doc = parse(export(view))
    assert (
        doc.xpath("string(//section[@class='category']/h2/span[1])")
        == "com.example::unnamed"
    )


def test_device_column_only_with_more_than_one_device(make_session):
    view = make_session([FakeJob("a"), FakeJob("b")])
    single = parse(export(view))
    assert single.xpath("//th[@class='c-device'] | //td[@class='device']") == []

    entries = tuple(
        replace(e, device=d)
        for e, d in zip(view.entries, ["local", "dut-1"], strict=True)
    )
    many = parse(export(replace(view, entries=entries, devices=("local", "dut-1"))))
    assert len(many.xpath("//th[@class='c-device']")) == 1
    assert [td.text_content() for td in many.xpath("//td[@class='device']")] == [
        "local",
        "dut-1",
    ]
    assert "dut-1" in many.xpath("string(//dl[@class='meta'])")


def test_attempts_are_counted_when_there_are_several(make_session):
    view = make_session([FakeJob("once"), FakeJob("thrice")])
    once, thrice = view.entries
    earlier = [
        JobResult(job_id=thrice.job.id, outcome=o)
        for o in (Outcome.FAIL, Outcome.CRASH)
    ]
    thrice = replace(thrice, attempts=(*earlier, thrice.result))
    doc = parse(export(replace(view, entries=(once, thrice))))

    assert row_of(doc, once.job.id).xpath(".//span[@class='tag']") == []
    (tag,) = row_of(doc, thrice.job.id).xpath(".//span[@class='tag']")
    assert tag.text_content() == "3 attempts: fail → crash → pass"


def test_failed_blockers_stand_out(make_session):
    view = make_session(
        [
            FakeJob("blocker-ok", certification_status="blocker"),
            FakeJob(
                "blocker-bad",
                outcome="fail",
                return_code=1,
                certification_status="blocker",
            ),
            FakeJob("other-bad", outcome="fail", return_code=1),
        ]
    )
    doc = parse(export(view))

    links = doc.xpath("//div[@class='blockers']//a")
    assert [a.text_content() for a in links] == ["com.example::blocker-bad"]
    target = links[0].get("href")[1:]
    assert row_of(doc, "com.example::blocker-bad").get("id") == target
    assert "blocker" in row_of(doc, "com.example::blocker-bad").get("class").split()
    for job_id in ("blocker-ok", "blocker-bad"):
        assert (
            row_of(doc, f"com.example::{job_id}").xpath(
                "string(.//span[@class='cert-blocker'])"
            )
            == "blocker"
        )
    assert (
        row_of(doc, "com.example::other-bad").xpath("string(td[@class='cert'])")
        == "non-blocker"
    )


def test_no_blocker_list_when_every_blocker_passed(make_session):
    doc = parse(export(make_session([FakeJob("b", certification_status="blocker")])))
    assert doc.xpath("//div[@class='blockers']") == []


def test_skip_reasons_name_what_blocked_the_job(make_session):
    view = make_session(
        [
            FakeJob(
                "dep",
                outcome="skipped-dependency",
                return_code=None,
                comments="required job did not pass: com.example::a, com.example::b",
                skip_reason={
                    "related_dependencies": ["com.example::a", "com.example::b"]
                },
            ),
            FakeJob(
                "res",
                outcome="skipped-resource",
                return_code=None,
                skip_reason={
                    "related_resources": ["cpu.arch == 'riscv'"],
                    "zz-other": {"n": 1},
                },
            ),
        ]
    )
    doc = parse(export(view))

    def reasons(job_id: str) -> list[tuple[str, list[str]]]:
        return [
            (div.xpath("string(span[@class='k'])"), [c.text for c in div.xpath("code")])
            for div in row_of(doc, job_id).xpath(".//div[contains(@class, 'reason')]")
        ]

    assert reasons("com.example::dep") == [
        ("Blocked by jobs", ["com.example::a", "com.example::b"])
    ]
    assert reasons("com.example::res") == [
        ("Resource requirement not met", ["cpu.arch == 'riscv'"]),
        ("zz-other", ['{"n": 1}']),
    ]
    assert "required job did not pass" in row_of(doc, "com.example::dep").text_content()
    # A job that never ran has no duration.
    assert row_of(doc, "com.example::dep").xpath("string(td[@class='dur'])") == "—"


@pytest.mark.parametrize(
    ("duration", "label"),
    [
        (0.5, "0.50 s"),
        (59.994, "59.99 s"),
        (75.0, "1 min 15 s"),
        (3725.0, "1 h 02 min 05 s"),
    ],
)
def test_job_durations(make_session, duration, label):
    doc = parse(export(make_session([FakeJob("a", duration=duration)])))
    assert doc.xpath("string(//td[@class='dur'])") == label


def test_session_metadata_is_shown(make_session):
    view = make_session(
        [FakeJob("a")], title="Nightly run", test_plan="com.example::nightly"
    )
    view = replace(view, created=1_800_000_000.0, finished=1_800_003_665.0)
    doc = parse(export(view))

    assert doc.findtext(".//h1") == "Nightly run"
    meta = {
        div.findtext("dt"): div.xpath("string(dd)")
        for div in doc.xpath("//dl[@class='meta']/div")
    }
    assert meta == {
        "Session": view.id,
        "Test plan": "com.example::nightly",
        "Started": "2027-01-15 08:00:00 UTC",
        "Finished": "2027-01-15 09:01:05 UTC",
        "Duration": "1 h 01 min 05 s",
    }
    assert doc.xpath("//time/@datetime") == [
        "2027-01-15T08:00:00Z",
        "2027-01-15T09:01:05Z",
    ]


def test_an_unfinished_session_says_so(make_session):
    view = replace(make_session([FakeJob("a")], test_plan=None), finished=None)
    doc = parse(export(view))
    meta = {
        div.findtext("dt"): div.xpath("string(dd)")
        for div in doc.xpath("//dl[@class='meta']/div")
    }
    assert meta["Finished"] == "not finished"
    assert "Duration" not in meta
    assert "Test plan" not in meta


def test_an_empty_session(make_session):
    doc = parse(export(make_session([])))
    assert doc.xpath("string(//p[@class='total'])") == "0 jobs"
    assert doc.xpath("//form | //section[@class='category'] | //svg") == []
    assert "no results" in doc.xpath("string(//p[contains(@class, 'empty')])")


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_script_is_valid_javascript(make_session, tmp_path):
    (script,) = parse(export(make_session([FakeJob("a")]))).xpath("//script")
    path = tmp_path / "report.js"
    path.write_text(script.text)
    subprocess.run(["node", "--check", str(path)], check=True, timeout=60)


def _chromium_dom(path: Path, tmp_path: Path) -> lxml.html.HtmlElement:
    command = [
        "chromium",
        "--headless",
        "--disable-gpu",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--dump-dom",
        path.as_uri(),
    ]
    if os.geteuid() == 0:
        command.insert(1, "--no-sandbox")  # chromium refuses to run as root otherwise
    done = subprocess.run(command, capture_output=True, check=True, timeout=120)
    return lxml.html.document_fromstring(done.stdout)


@pytest.mark.skipif(
    shutil.which("chromium") is None, reason="chromium is not installed"
)
def test_a_real_browser_runs_the_filters(make_session, tmp_path):
    jobs = [
        FakeJob("alpha", summary="first <b>job</b>", stdout=HOSTILE_OUTPUT),
        FakeJob("beta", outcome="fail", return_code=1, category="com.example::cat-b"),
        FakeJob(
            "gamma", summary="another alpha-ish one", category="com.example::cat-b"
        ),
    ]
    data = export(make_session(jobs))
    report = tmp_path / "report.html"
    report.write_bytes(data)

    # As exported: the script ran (its hash matched the CSP), nothing ran
    # from job output, every row shows.
    dom = _chromium_dom(report, tmp_path)
    assert dom.xpath("//form[@id='filters']/@hidden") == []
    assert dom.xpath("string(//output[@id='filter-status'])") == "3 of 3 jobs shown"
    assert len(dom.xpath("//tr[@data-job][not(@hidden)]")) == 3
    assert len(dom.xpath("//script")) == 1

    # Driven like a reader would: a test-only copy adds a script (and drops
    # the CSP, which would rightly block it) that searches and unticks "fail".
    driver = (
        "<script>var q=document.querySelector('input[type=search]');q.value='ALPHA';"
        "q.dispatchEvent(new Event('input',{bubbles:true}));</script>"
    )
    driven = tmp_path / "driven.html"
    driven.write_bytes(
        re.sub(rb'<meta http-equiv="Content-Security-Policy"[^>]*>', b"", data).replace(
            b"</body>", driver.encode() + b"</body>"
        )
    )
    dom = _chromium_dom(driven, tmp_path)
    shown = [r.get("data-job") for r in dom.xpath("//tr[@data-job][not(@hidden)]")]
    assert shown == ["com.example::alpha", "com.example::gamma"]
    assert dom.xpath("string(//output[@id='filter-status'])") == "2 of 3 jobs shown"

    driver = "<script>document.querySelector('button[data-select=problems]').click();</script>"
    driven.write_bytes(
        re.sub(rb'<meta http-equiv="Content-Security-Policy"[^>]*>', b"", data).replace(
            b"</body>", driver.encode() + b"</body>"
        )
    )
    dom = _chromium_dom(driven, tmp_path)
    shown = [r.get("data-job") for r in dom.xpath("//tr[@data-job][not(@hidden)]")]
    assert shown == ["com.example::beta"]
    # The category left with no visible row is hidden as a whole.
    assert [
        s.get("hidden") is not None for s in dom.xpath("//section[@class='category']")
    ] == [True, False]
