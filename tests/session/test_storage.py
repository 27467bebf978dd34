"""Session directories: layout, modes, ids, listing, locking and the header."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from plainbox.errors import CorruptSessionError
from plainbox.errors import IncompatibleSessionError
from plainbox.errors import SessionError
from plainbox.errors import SessionLockedError
from plainbox.session.storage import FORMAT_VERSION
from plainbox.session.storage import SessionStorage
from plainbox.session.storage import SessionStorageRepository
from plainbox.session.storage import temporary_repository
from plainbox.session.storage import write_atomically


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def repo(tmp_path: Path) -> SessionStorageRepository:
    return SessionStorageRepository(tmp_path / "sessions")


@pytest.fixture
def storage(repo: SessionStorageRepository) -> Iterator[SessionStorage]:
    made = repo.create_storage()
    yield made
    made.unlock()


@pytest.fixture
def open_umask() -> Iterator[None]:
    # With umask 0 nothing hides a mode the code forgot to restrict.
    previous = os.umask(0)
    yield
    os.umask(previous)


# -- layout and modes ------------------------------------------------------------


@pytest.mark.usefixtures("open_umask")
def test_layout_and_modes(repo):
    storage = repo.create_storage(header={"title": "t"})
    try:
        assert mode(repo.root) == 0o700
        # Built under a hidden name and renamed: nothing else is left behind.
        assert list(repo.root.iterdir()) == [storage.path]
        assert sorted(p.name for p in storage.path.iterdir()) == [
            "attachments",
            "io-logs",
            "journal.jsonl",
            "lock",
            "session.json",
            "share",
        ]
        assert mode(storage.path) == 0o700
        for directory in (
            storage.io_log_dir,
            storage.attachments_dir,
            storage.share_dir,
        ):
            assert directory.is_dir()
            assert mode(directory) == 0o700, directory
        for name in ("session.json", "journal.jsonl", "lock"):
            assert mode(storage.path / name) == 0o600, name
        assert storage.journal_path.read_bytes() == b""
        # A new session is locked by its creator.
        assert storage.locked
        assert storage.lock_holder() == os.getpid()
        assert (storage.path / "lock").read_text() == f"{os.getpid()}\n"
    finally:
        storage.unlock()


@pytest.mark.usefixtures("open_umask")
def test_repository_root_made_private_even_if_it_exists(tmp_path):
    root = tmp_path / "state" / "sessions"
    root.mkdir(parents=True, mode=0o755)
    root.chmod(0o755)
    repo = SessionStorageRepository(root)
    repo.create_storage().unlock()
    assert mode(root) == 0o700


def test_default_root_is_under_the_state_dir():
    # conftest points PLAINBOX_STATE_DIR at a temporary directory.
    root = SessionStorageRepository().root
    assert root == Path(os.environ["PLAINBOX_STATE_DIR"]) / "sessions"


def test_header_of_a_new_session(repo):
    storage = repo.create_storage(header={"title": "hello", "created": 12.5})
    storage.unlock()
    header = storage.read_header()
    assert header == {
        "format": "plainbox-session",
        "version": FORMAT_VERSION,
        "id": storage.id,
        "title": "hello",
        "created": 12.5,
    }


# -- ids ---------------------------------------------------------------------------


def test_ids_are_unique_and_valid(repo):
    made = [repo.create_storage() for _ in range(20)]
    for storage in made:
        storage.unlock()
    ids = [storage.id for storage in made]

    assert len(set(ids)) == len(ids)
    for session_id in ids:
        assert re.fullmatch(r"pbox-\d{8}-\d{6}-[0-9a-f]{6}", session_id), session_id
        assert repo.get(session_id).path == repo.root / session_id
    assert {s.id for s in repo.get_storage_list()} == set(ids)


@pytest.mark.parametrize("prefix", ["", "x", "my-app.", "A_b-1."])
def test_valid_prefixes_make_listable_sessions(repo, prefix):
    storage = repo.create_storage(prefix=prefix)
    storage.unlock()
    assert storage.id.startswith(prefix)
    assert repo.get(storage.id) == storage
    assert repo.get_storage_list() == [storage]


@pytest.mark.parametrize(
    "prefix",
    [".hidden", "-dash", "a/b", "../up", "é", "x" * 65, "a b", "x\n"],
)
def test_invalid_prefixes(repo, prefix):
    # ".hidden" and "-dash" would make ids that listing and get() reject.
    with pytest.raises(ValueError, match="invalid session id prefix"):
        repo.create_storage(prefix=prefix)
    assert not repo.root.exists() or list(repo.root.iterdir()) == []


def test_leftover_from_a_crash_mid_creation_does_not_block_a_fixed_id(repo):
    leftover = repo.root / ".legacy.new"
    leftover.mkdir(parents=True)
    storage = repo.create_storage(fixed_id="legacy")
    storage.unlock()
    assert repo.get_storage_list() == [storage]


def test_fixed_id(repo):
    storage = repo.create_storage(fixed_id="legacy")
    assert storage.id == "legacy"
    with pytest.raises(SessionError, match="cannot create session 'legacy'"):
        repo.create_storage(fixed_id="legacy")
    storage.unlock()
    assert repo.get("legacy") == storage


@pytest.mark.parametrize(
    "fixed_id", ["", "../x", "a/b", ".hidden", "-x", "x\n", "x" * 202, "."]
)
def test_invalid_fixed_ids(repo, fixed_id):
    with pytest.raises(SessionError, match="cannot create session"):
        repo.create_storage(fixed_id=fixed_id)
    assert list(repo.root.iterdir()) == []


# -- listing and lookup -----------------------------------------------------------


def test_listing_skips_hidden_and_non_session_entries(repo, tmp_path):
    real = repo.create_storage()
    real.unlock()
    # A session still being built, left behind by a crash mid-creation.
    building = repo.root / ".pbox-20240101-000000-abcdef.new"
    building.mkdir()
    (building / "session.json").write_text("{}")
    (repo.root / "a-file").write_text("not a directory")
    (repo.root / "trailing-newline\n").mkdir()  # "$" would let it through
    (repo.root / "link").symlink_to(real.path)

    assert repo.get_storage_list() == [real]
    assert list(repo.sessions()) == [real]


def test_listing_a_missing_repository(tmp_path):
    assert SessionStorageRepository(tmp_path / "nowhere").get_storage_list() == []


def test_newest_first_by_creation_time_in_the_header(repo):
    made = {}
    for created in (100.0, 300.0, 200.0):
        storage = repo.create_storage(header={"created": created})
        storage.unlock()
        made[created] = storage

    assert repo.get_storage_list() == [made[300.0], made[200.0], made[100.0]]


def test_ordering_falls_back_to_the_directory_time(repo):
    # Without a usable "created", the directory's mtime decides.
    old = repo.create_storage(header={"created": "yesterday"})
    new = repo.create_storage()
    for storage in (old, new):
        storage.unlock()
    new.header_path.write_text("not json")
    os.utime(old.path, (1_000, 1_000))
    os.utime(new.path, (2_000, 2_000))

    assert repo.get_storage_list() == [new, old]


@pytest.mark.parametrize(
    "session_id", ["../outside", "a/b", "", ".", "..", "/etc", "x\n", ".hidden"]
)
def test_get_rejects_invalid_ids(repo, tmp_path, session_id):
    # Something that would be found if the id were joined to the root blindly.
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "session.json").write_text("{}")
    real = repo.create_storage(fixed_id="x")
    real.unlock()
    for name in ("a/b", "x\n"):
        (repo.root / name).mkdir(parents=True)
        (repo.root / name / "session.json").write_text("{}")

    with pytest.raises(LookupError, match="no session"):
        repo.get(session_id)


def test_get_needs_a_header(repo):
    (repo.root / "empty").mkdir(parents=True)
    with pytest.raises(LookupError):
        repo.get("empty")
    with pytest.raises(LookupError):
        repo.get("never-made")


def test_storage_identity(tmp_path):
    first, second = SessionStorage(tmp_path / "s"), SessionStorage(tmp_path / "s")
    assert first == second
    assert hash(first) == hash(second)
    assert first != SessionStorage(tmp_path / "t")
    assert first != tmp_path / "s"
    assert first.id == "s"
    assert repr(first) == f"SessionStorage({str(tmp_path / 's')!r})"


def test_temporary_repository_is_removed():
    with temporary_repository() as repo:
        storage = repo.create_storage()
        storage.unlock()
        assert storage.path.is_dir()
    assert not repo.root.exists()
    assert not repo.root.parent.exists()


# -- locking ------------------------------------------------------------------------

_HOLDER = """
import os, sys
from pathlib import Path
from plainbox.session.storage import SessionStorage
SessionStorage(Path(sys.argv[1])).lock()
print(os.getpid(), flush=True)
sys.stdin.read()
"""


@pytest.fixture
def other_process(storage: SessionStorage) -> Iterator[subprocess.Popen[str]]:
    """Another process holding ``storage``'s lock until it is killed."""
    storage.unlock()
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(storage.path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert int(process.stdout.readline()) == process.pid
    yield process
    if process.poll() is None:
        process.kill()
    process.communicate(timeout=30)


def test_lock_held_by_another_process(storage, other_process):
    with pytest.raises(SessionLockedError) as caught:
        storage.lock()
    assert caught.value.pid == other_process.pid
    assert f"process {other_process.pid}" in str(caught.value)
    assert not storage.locked
    assert storage.lock_holder() == other_process.pid
    with pytest.raises(SessionError, match="must be locked"):
        storage.open_journal()

    # The kernel drops the lock of a killed process: no stale lock to clean.
    other_process.send_signal(signal.SIGKILL)
    other_process.wait(timeout=30)
    assert storage.lock_holder() is None
    storage.lock()
    assert storage.lock_holder() == os.getpid()
    assert (storage.path / "lock").read_text() == f"{os.getpid()}\n"


def test_holder_that_wrote_no_pid(storage):
    # A lock file without a pid (the holder died before writing it, or an
    # older writer): the error still says the session is in use.
    second = SessionStorage(storage.path)
    (storage.path / "lock").write_text("")
    with pytest.raises(SessionLockedError, match="in use by another process") as caught:
        second.lock()
    assert caught.value.pid is None
    assert second.lock_holder() == -1


def test_two_storages_in_one_process_exclude_each_other(storage):
    second = SessionStorage(storage.path)
    with pytest.raises(SessionLockedError) as caught:
        second.lock()
    assert caught.value.pid == os.getpid()
    storage.unlock()
    second.lock()
    assert second.locked
    second.unlock()


def test_lock_unlock_and_lock_holder(storage):
    storage.lock()  # already held: nothing changes
    assert storage.locked
    storage.unlock()
    storage.unlock()  # twice is harmless
    assert not storage.locked
    assert storage.lock_holder() is None
    storage.lock()
    assert storage.lock_holder() == os.getpid()


def test_lock_holder_without_a_lock_file(tmp_path):
    assert SessionStorage(tmp_path).lock_holder() is None


def test_locking_a_missing_session(tmp_path):
    with pytest.raises(SessionError, match="no such session"):
        SessionStorage(tmp_path / "gone").lock()


def test_open_journal_appends_to_the_session_journal(storage):
    journal = storage.open_journal()
    journal.append("session-started", {"created": 1.0})
    journal.close()
    assert [r.kind for r in storage.read_journal().records] == ["session-started"]


# -- header ----------------------------------------------------------------------


def test_header_round_trip(storage):
    header = {"id": storage.id, "title": "Ünïcode ✓", "flags": ["a"], "n": {"x": 1}}
    storage.write_header(header, durable=False)
    assert storage.read_header() == {
        **header,
        "format": "plainbox-session",
        "version": FORMAT_VERSION,
    }
    assert mode(storage.header_path) == 0o600


def test_write_header_keeps_format_and_version(storage):
    # A header read back from an older version must be written as current.
    storage.write_header({"format": "other", "version": 0, "title": "t"})
    header = storage.read_header()
    assert (header["format"], header["version"]) == ("plainbox-session", FORMAT_VERSION)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "missing"),
        (b"{not json", "session.json: "),
        (b"\xff\xfe", "session.json: "),
        (b"[1, 2]", "not a JSON object"),
        (b'{"version": 1}', "not a plainbox session header"),
        (b'{"format": "plainbox-session"}', "no valid format version"),
        (b'{"format": "plainbox-session", "version": 0}', "no valid format version"),
        (b'{"format": "plainbox-session", "version": "1"}', "no valid format version"),
    ],
    ids=[
        "missing",
        "not-json",
        "not-utf8",
        "list",
        "no-format",
        "no-version",
        "version-0",
        "version-str",
    ],
)
def test_corrupt_header(storage, content, message):
    if content is None:
        storage.header_path.unlink()
    else:
        storage.header_path.write_bytes(content)
    with pytest.raises(CorruptSessionError, match=re.escape(message)):
        storage.read_header()


def test_header_from_a_newer_version(storage):
    newer = FORMAT_VERSION + 1
    storage.header_path.write_text(
        json.dumps({"format": "plainbox-session", "version": newer})
    )
    with pytest.raises(IncompatibleSessionError, match=f"format {newer}"):
        storage.read_header()


# -- write_atomically and remove ---------------------------------------------------


@pytest.mark.parametrize("durable", [True, False])
def test_write_atomically_replaces_and_leaves_no_temporary_file(tmp_path, durable):
    target = tmp_path / "file"
    target.write_bytes(b"old")
    data = os.urandom(3 * 1024 * 1024)
    write_atomically(target, data, durable=durable)
    assert target.read_bytes() == data
    assert mode(target) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_failed_write_atomically_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "inside").write_text("a directory with content cannot be replaced")
    with pytest.raises(OSError, match="taken"):
        write_atomically(target, b"data")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_remove(repo, storage):
    other = repo.create_storage()
    other.unlock()
    storage.remove()
    assert not storage.path.exists()
    assert not storage.locked
    assert repo.get_storage_list() == [other]
    storage.remove()  # removing twice is harmless
