"""Resource records kept across sessions for ``cachable`` resource jobs."""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from plainbox import paths
from plainbox.session.resource_cache import FORMAT
from plainbox.session.resource_cache import ResourceCache
from plainbox.session.resource_cache import is_cachable
from plainbox.units.loader import load_record
from plainbox.units.model import JobDefinition
from plainbox.units.pxu import parse_pxu


RECORDS = [{"name": "eth0", "driver": "e1000e"}, {"name": "wlan0", "driver": "iwl"}]


def make_job(
    plugin: str = "resource", flags: str = "cachable", command: str = "lsnet"
) -> JobDefinition:
    """A job loaded from PXU text, so its checksum is a real one."""
    text = f"id: net\nplugin: {plugin}\ncommand: {command}\n"
    if flags:
        text += f"flags: {flags}\n"
    records, problems = parse_pxu(text, "jobs.pxu")
    assert not problems, problems
    unit, problem = load_record(records[0], namespace="com.example", provider="p")
    assert problem is None
    assert isinstance(unit, JobDefinition)
    return unit


@pytest.fixture
def job() -> JobDefinition:
    return make_job()


@pytest.fixture
def cache(tmp_path: Path) -> ResourceCache:
    return ResourceCache(tmp_path / "cache" / "resources")


def entry_path(cache: ResourceCache, job: JobDefinition) -> Path:
    return cache.root / f"{job.checksum}.json"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o002, 0o277], ids=["permissive-umask", "strict-umask"])
def umask(request: pytest.FixtureRequest) -> Iterator[None]:
    # The modes must not depend on the caller's umask, whether it would
    # leave more open (0o002) or take the owner's own bits away (0o277).
    previous = os.umask(request.param)
    yield
    os.umask(previous)


# -- round trip ---------------------------------------------------------------


@pytest.mark.parametrize(
    "records",
    [
        RECORDS,
        [],
        [{}],  # an empty resource output is one empty record
        [{"model": "Intel® Wi-Fi 6 AX201", "note": "line one\nline two"}],
    ],
)
def test_put_then_get_gives_the_records_back(cache, job, records):
    cache.put(job, records)

    assert cache.get(job) == records
    # A fresh cache object on the same root: it is kept on disk, not in memory.
    assert ResourceCache(cache.root).get(job) == records


def test_get_misses_before_any_put_without_creating_the_root(cache, job):
    assert cache.get(job) is None
    assert not cache.root.parent.exists()


def test_put_replaces_the_previous_records(cache, job):
    cache.put(job, RECORDS)
    cache.put(job, [{"name": "lo"}])

    assert cache.get(job) == [{"name": "lo"}]
    assert [path.name for path in cache.root.iterdir()] == [f"{job.checksum}.json"]


def test_entry_has_the_documented_format(cache, job):
    cache.put(job, RECORDS)

    data = json.loads(entry_path(cache, job).read_text(encoding="utf-8"))

    assert data == {
        "format": FORMAT,
        "job_id": "com.example::net",
        "checksum": job.checksum,
        "records": RECORDS,
    }


def test_default_root_is_resources_under_the_cache_dir(job):
    cache = ResourceCache()

    cache.put(job, RECORDS)

    assert cache.root == paths.cache_dir() / "resources"
    assert (paths.cache_dir() / "resources" / f"{job.checksum}.json").is_file()


# -- what is cachable ---------------------------------------------------------


@pytest.mark.parametrize(
    ("plugin", "flags", "cachable"),
    [
        ("resource", "cachable", True),
        ("resource", "preserve-locale cachable", True),
        ("resource", "", False),
        ("resource", "preserve-locale", False),
        ("shell", "cachable", False),  # only resource jobs have records
        ("attachment", "cachable", False),
    ],
)
def test_only_cachable_resource_jobs_are_kept(cache, plugin, flags, cachable):
    job = make_job(plugin=plugin, flags=flags)

    cache.put(job, RECORDS)

    assert is_cachable(job) is cachable
    assert (cache.get(job) == RECORDS) is cachable
    assert cache.root.exists() is cachable


def test_get_ignores_an_entry_once_the_job_is_no_longer_cachable(cache, job):
    cache.put(job, RECORDS)
    # Same checksum, flag gone: as if an override dropped the flag.
    uncached = replace(job, flags=frozenset())

    assert cache.get(uncached) is None


def test_a_changed_definition_misses(cache, job):
    cache.put(job, RECORDS)
    edited = make_job(command="lsnet --all")

    assert edited.checksum != job.checksum
    assert cache.get(edited) is None
    assert cache.get(job) == RECORDS


@pytest.mark.parametrize(
    "checksum",
    [
        "",
        "../../etc/passwd",
        "abc/def0",
        "ABCDEF0123",
        "deadbeef.json",
        "12 34",
        "x" * 64,
    ],
)
def test_a_checksum_that_is_not_hex_is_never_a_path(cache, job, checksum):
    odd = replace(job, checksum=checksum)

    odd_put = cache.put(odd, RECORDS)

    assert odd_put is None
    assert cache.get(odd) is None
    assert not cache.root.exists()


# -- bad entries are misses ---------------------------------------------------


def valid_entry(job: JobDefinition, **changes: object) -> bytes:
    entry: dict[str, object] = {
        "format": FORMAT,
        "job_id": job.id,
        "checksum": job.checksum,
        "records": RECORDS,
    }
    entry.update(changes)
    return json.dumps(entry).encode()


BAD_ENTRIES = {
    "empty file": lambda job: b"",
    "not json": lambda job: b"records: eth0\n",
    "not utf-8": lambda job: b'{"format": 1, "records": "\xff\xfe"}',
    "json list": lambda job: b"[]",
    "json string": lambda job: b'"records"',
    "newer format": lambda job: valid_entry(job, format=FORMAT + 1),
    "no format": lambda job: valid_entry(job, format=None),
    "foreign checksum": lambda job: valid_entry(job, checksum="0" * 64),
    "foreign job": lambda job: valid_entry(job, job_id="com.example::other"),
    "records not a list": lambda job: valid_entry(job, records={"name": "eth0"}),
    "record not a dict": lambda job: valid_entry(job, records=["name: eth0"]),
    "value not a string": lambda job: valid_entry(job, records=[{"count": 2}]),
    "nested value": lambda job: valid_entry(job, records=[{"a": ["b"]}]),
}


@pytest.mark.parametrize("content", BAD_ENTRIES.values(), ids=BAD_ENTRIES.keys())
def test_a_corrupt_or_foreign_entry_is_a_miss(cache, job, content):
    cache.put(job, RECORDS)
    entry_path(cache, job).write_bytes(content(job))

    assert cache.get(job) is None


def test_the_valid_entry_helper_is_a_hit(cache, job):
    # Guards the table above: its entries are misses for the reason named,
    # not because the helper writes something the cache never accepts.
    cache.put(job, [])
    entry_path(cache, job).write_bytes(valid_entry(job))

    assert cache.get(job) == RECORDS


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(min_value=0, max_value=1, exclude_max=True))
def test_every_truncated_entry_is_a_miss(cache, job, cut):
    cache.put(job, RECORDS)
    path = entry_path(cache, job)
    whole = path.read_bytes()

    path.write_bytes(whole[: int(len(whole) * cut)])

    assert cache.get(job) is None


def test_an_entry_that_is_a_directory_is_a_miss(cache, job):
    entry_path(cache, job).mkdir(parents=True)

    assert cache.get(job) is None


def test_an_unreadable_entry_is_a_miss(cache, job, monkeypatch):
    cache.put(job, RECORDS)

    # Simulated: file modes do not stop root, who may run the suite.
    def deny(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", deny)

    assert cache.get(job) is None


# -- permissions and atomic writes --------------------------------------------


@pytest.mark.usefixtures("umask")
def test_root_and_missing_parents_are_private_and_entries_0600(tmp_path, job):
    tmp_path.chmod(0o755)
    cache = ResourceCache(tmp_path / "a" / "b" / "resources")

    cache.put(job, RECORDS)

    assert mode(tmp_path) == 0o755  # existing directories are not touched
    assert mode(tmp_path / "a") == 0o700
    assert mode(tmp_path / "a" / "b") == 0o700
    assert mode(cache.root) == 0o700
    assert mode(entry_path(cache, job)) == 0o600


@pytest.mark.usefixtures("umask")
def test_an_existing_root_keeps_its_mode(tmp_path, job):
    root = tmp_path / "shared"
    root.mkdir()
    root.chmod(0o755)

    ResourceCache(root).put(job, RECORDS)

    assert mode(root) == 0o755
    assert mode(root / f"{job.checksum}.json") == 0o600


def test_put_writes_a_synced_temporary_file_then_renames_it(cache, job, monkeypatch):
    calls: list[str] = []
    renames: list[tuple[Path, bytes, Path]] = []
    real_fsync = os.fsync
    real_replace = Path.replace

    def fsync(fd: int) -> None:
        calls.append("fsync")
        real_fsync(fd)

    def rename(self: Path, target: Path) -> Path:
        # What the entry will hold must be complete before it gets its name.
        calls.append("replace")
        renames.append((self.parent, self.read_bytes(), target))
        return real_replace(self, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(Path, "replace", rename)

    cache.put(job, RECORDS)

    assert "fsync" in calls[: calls.index("replace")]
    ((directory, content, target),) = renames
    assert directory == cache.root  # same filesystem, so the rename is atomic
    assert target == entry_path(cache, job)
    assert content == entry_path(cache, job).read_bytes()


def test_put_leaves_no_temporary_file(cache, job):
    cache.put(job, RECORDS)
    cache.put(job, RECORDS)

    assert sorted(path.name for path in cache.root.iterdir()) == [
        f"{job.checksum}.json"
    ]


def test_a_failed_put_keeps_the_old_entry_and_no_temporary_file(
    cache, job, monkeypatch
):
    cache.put(job, RECORDS)

    def fail(self, target):
        raise OSError("disk full")

    monkeypatch.setattr(Path, "replace", fail)

    with pytest.raises(OSError, match="disk full"):
        cache.put(job, [{"name": "lo"}])

    monkeypatch.undo()
    assert cache.get(job) == RECORDS
    assert len(list(cache.root.iterdir())) == 1


def test_put_on_an_unusable_root_raises_oserror(tmp_path, job):
    root = tmp_path / "file"
    root.write_text("not a directory")

    with pytest.raises(NotADirectoryError):
        ResourceCache(root).put(job, RECORDS)


def test_concurrent_puts_of_one_key_leave_one_whole_entry(cache, job):
    writers = 8
    versions = [[{"writer": str(n), "pad": "x" * 20000}] for n in range(writers)]
    start = threading.Barrier(writers + 1)
    seen: list[list[dict[str, str]] | None] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def write(records: list[dict[str, str]]) -> None:
        try:
            start.wait()
            for _ in range(20):
                cache.put(job, records)
        except BaseException as exc:  # report in the main thread
            errors.append(exc)

    def read() -> None:
        start.wait()
        while not done.is_set():
            seen.append(cache.get(job))

    threads = [threading.Thread(target=write, args=(v,)) for v in versions]
    reader = threading.Thread(target=read)
    for thread in [*threads, reader]:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    reader.join()

    assert not errors
    # Readers see nothing yet or one writer's whole records, never a mix.
    assert all(records is None or records in versions for records in seen)
    assert any(records is not None for records in seen)
    assert cache.get(job) in versions
    assert [path.name for path in cache.root.iterdir()] == [f"{job.checksum}.json"]


# -- clear --------------------------------------------------------------------


def test_clear_removes_every_entry_and_counts_them(cache):
    jobs = [make_job(command=f"lsnet {n}") for n in range(3)]
    for job in jobs:
        cache.put(job, RECORDS)
    leftover = cache.root / f".{jobs[0].checksum}.abc123.tmp"
    leftover.write_text("{")  # a writer that died mid-put
    foreign = cache.root / "README"
    foreign.write_text("not an entry")

    removed = cache.clear()

    assert removed == 3
    assert all(cache.get(job) is None for job in jobs)
    assert not leftover.exists()
    assert foreign.exists()


def test_clear_counts_corrupt_entries_too(cache, job):
    cache.put(job, RECORDS)
    entry_path(cache, job).write_bytes(b"{")

    assert cache.clear() == 1
    assert not entry_path(cache, job).exists()


def test_clear_without_a_root_removes_nothing(cache):
    assert cache.clear() == 0
    assert not cache.root.exists()


def test_cache_works_again_after_clear(cache, job):
    cache.put(job, RECORDS)
    cache.clear()

    assert cache.clear() == 0
    cache.put(job, [{}])
    assert cache.get(job) == [{}]
