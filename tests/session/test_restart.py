"""Restart strategies: priming and diffusing an automatic resume after a reboot."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import stat
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import pytest

from plainbox.errors import SessionError
from plainbox.errors import UsageError
from plainbox.paths import config_home
from plainbox.plugins import get_plugin_manager
from plainbox.plugins import hookimpl
from plainbox.session.restart import RestartStrategy
from plainbox.session.restart import SystemdUserStrategy
from plainbox.session.restart import XdgAutostartStrategy
from plainbox.session.restart import detect_restart_strategy
from plainbox.session.restart import restart_strategies


SESSION = "2024-05-01T10.00.00_ab-12"
PROGRAM = "/usr/bin/plainbox"
RESUME = [PROGRAM, "session", "resume", "--auto", SESSION]

# Each is put through both strategies' quoting and must come back unchanged.
AWKWARD_ARGUMENTS = [
    "two words",
    "it's",
    'say "hi"',
    "$HOME",
    "${HOME}",
    "$$",
    "100%",
    "%h",
    "%%i",
    "back\\slash",
    "trailing\\",
    "\\\\",
    '\\"',
    "tab\there",
    "new\nline",
    "carriage\rreturn",
    "semi;colon",
    ";",
    "\\;",
    "",
    " ",
    "`uname`",
    "a=b",
    "ünïcødé",
    "#hash",
    "~tilde",
    "*?|&<>()",
    "-dash",
    "'single quoted'",
]


# -- a fake systemctl ---------------------------------------------------------


@dataclass
class FakeSystemctl:
    """A ``systemctl`` on PATH that logs its arguments, one call a line."""

    log: Path
    monkeypatch: pytest.MonkeyPatch

    def calls(self) -> list[str]:
        if not self.log.exists():
            return []
        return self.log.read_text().splitlines()

    def fail_on(self, *subcommands: str) -> None:
        self.monkeypatch.setenv("FAKE_SYSTEMCTL_FAIL", " ".join(subcommands))

    def hang(self, seconds: float) -> None:
        self.monkeypatch.setenv("FAKE_SYSTEMCTL_SLEEP", str(seconds))


_FAKE_SYSTEMCTL = """\
#!/bin/sh
printf '%s\\n' "$*" >> {log}
for word in "$@"; do
    case " ${{FAKE_SYSTEMCTL_FAIL-}} " in
        *" $word "*)
            echo "Failed to $word: Access denied" >&2
            exit 1
            ;;
    esac
done
if [ -n "${{FAKE_SYSTEMCTL_SLEEP-}}" ]; then
    exec sleep "$FAKE_SYSTEMCTL_SLEEP"
fi
exit 0
"""


@pytest.fixture
def bin_dir(tmp_path, monkeypatch):
    """A directory at the front of PATH, for fake programs."""
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ['PATH']}")
    return directory


@pytest.fixture
def systemctl(bin_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("FAKE_SYSTEMCTL_FAIL", raising=False)
    monkeypatch.delenv("FAKE_SYSTEMCTL_SLEEP", raising=False)
    log = tmp_path / "systemctl.log"
    script = bin_dir / "systemctl"
    script.write_text(_FAKE_SYSTEMCTL.format(log=shlex.quote(str(log))))
    script.chmod(0o755)
    return FakeSystemctl(log, monkeypatch)


@pytest.fixture
def no_restart_support(tmp_path, monkeypatch):
    """A machine where no built-in strategy works: no systemctl, no desktop."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(
        XdgAutostartStrategy, "system_autostart_dir", tmp_path / "no-such-dir"
    )
    return empty


@pytest.fixture
def umask():
    """Set the process umask for one test."""
    previous = os.umask(0o022)

    def set_umask(mask: int) -> None:
        os.umask(mask)

    yield set_umask
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- parsers for what the strategies write ------------------------------------


def expand_systemd_specifiers(line: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(1) != "%":
            raise AssertionError(f"specifier %{match.group(1)} in {line!r}")
        return "%"

    return re.sub(r"%(.|$)", replace, line)


def expand_systemd_variables(word: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(1) != "$":
            raise AssertionError(f"variable reference in {word!r}")
        return "$"

    return re.sub(r"\$(.|$)", replace, word, flags=re.DOTALL)


_C_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "s": " ",
    "\\": "\\",
    '"': '"',
    "'": "'",
}


def parse_exec_start(line: str) -> list[str]:
    """argv from an ``ExecStart=`` value, as systemd.service and systemd.syntax say.

    Specifiers are expanded on the line, then words are split on whitespace,
    unquoted and C-unescaped; then ``$`` references are expanded in each word.
    """
    line = expand_systemd_specifiers(line)
    words: list[str] = []
    i = 0
    while i < len(line):
        if line[i] in " \t":
            i += 1
            continue
        quote = line[i] if line[i] in "\"'" else None
        if quote is None and line[i] == ";" and line[i + 1 : i + 2] in ("", " "):
            raise AssertionError(f"command separator in {line!r}")
        if quote is not None:
            i += 1
        chars: list[str] = []
        closed = quote is None
        while i < len(line):
            char = line[i]
            if quote is not None and char == quote:
                i += 1
                assert line[i : i + 1] in ("", " ", "\t"), line
                closed = True
                break
            if quote is None and char in " \t":
                break
            if char == "\\":
                escape = line[i + 1]
                if escape == "x":
                    chars.append(chr(int(line[i + 2 : i + 4], 16)))
                    i += 4
                else:
                    chars.append(_C_ESCAPES[escape])
                    i += 2
                continue
            chars.append(char)
            i += 1
        assert closed, f"unterminated quote in {line!r}"
        words.append(expand_systemd_variables("".join(chars)))
    return words


_DESKTOP_STRING_ESCAPES = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
_DESKTOP_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def expand_field_codes(word: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(1) != "%":
            raise AssertionError(f"field code %{match.group(1)} in {word!r}")
        return "%"

    return re.sub(r"%(.|$)", replace, word, flags=re.DOTALL)


def parse_desktop_exec(value: str) -> list[str]:
    """argv from an ``Exec`` value, per the Desktop Entry specification.

    String escapes are undone first, then the quoting, then field codes.
    """
    value = re.sub(r"\\(.)", lambda m: _DESKTOP_STRING_ESCAPES[m.group(1)], value)
    words: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == " ":
            i += 1
            continue
        chars: list[str] = []
        if value[i] == '"':
            i += 1
            while True:
                assert i < len(value), f"unterminated quote in {value!r}"
                char = value[i]
                if char == "\\":
                    assert value[i + 1] in '"`$\\', value
                    chars.append(value[i + 1])
                    i += 2
                elif char == '"':
                    i += 1
                    assert value[i : i + 1] in ("", " "), value
                    break
                else:
                    assert char not in "`$", f"unescaped {char!r} in {value!r}"
                    chars.append(char)
                    i += 1
        else:
            while i < len(value) and value[i] != " ":
                assert value[i] not in _DESKTOP_RESERVED, f"unquoted in {value!r}"
                chars.append(value[i])
                i += 1
        words.append(expand_field_codes("".join(chars)))
    return words


def read_unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser


def read_desktop_entry(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "[Desktop Entry]"
    entry: dict[str, str] = {}
    for line in lines[1:]:
        if not line or line.startswith("#"):
            continue
        key, separator, value = line.partition("=")
        assert separator, line
        assert key not in entry, f"duplicate key {key}"
        entry[key] = value
    return entry


@pytest.mark.parametrize(
    ("line", "argv"),
    [
        ('"/bin/a b" c', ["/bin/a b", "c"]),
        (
            "/bin/x \"it's\" '\"' \\x41 %%a $$b",
            ["/bin/x", "it's", '"', "A", "%a", "$b"],
        ),
    ],
)
def test_the_exec_start_parser_follows_systemd(line, argv):
    assert parse_exec_start(line) == argv


@pytest.mark.parametrize("line", ["/bin/x %h", "/bin/x $HOME", "/bin/x ;", '"/bin/x'])
def test_the_exec_start_parser_rejects_what_systemd_would_change(line):
    with pytest.raises(AssertionError):
        parse_exec_start(line)


@pytest.mark.parametrize(
    ("value", "argv"),
    [
        ('"/bin/a b" c', ["/bin/a b", "c"]),
        ('x "\\\\$" "\\\\\\\\" 100%% a\\sb', ["x", "$", "\\", "100%", "a", "b"]),
    ],
)
def test_the_desktop_exec_parser_follows_the_specification(value, argv):
    assert parse_desktop_exec(value) == argv


@pytest.mark.parametrize("value", ["x $HOME", "x %f", 'x "$"', "x it's"])
def test_the_desktop_exec_parser_rejects_invalid_values(value):
    with pytest.raises(AssertionError):
        parse_desktop_exec(value)


# -- systemd ------------------------------------------------------------------


def test_systemd_prime_writes_and_enables_a_oneshot_unit(systemctl):
    strategy = SystemdUserStrategy()
    strategy.prime(SESSION, RESUME)

    unit_dir = config_home() / "systemd" / "user"
    path = unit_dir / f"plainbox-resume-{SESSION}.service"
    assert strategy.path_for(SESSION) == path
    assert mode(path) == 0o600
    assert mode(unit_dir) == 0o700
    assert mode(unit_dir.parent) == 0o700
    unit = read_unit(path)
    assert unit["Service"]["Type"] == "oneshot"
    assert parse_exec_start(unit["Service"]["ExecStart"]) == RESUME
    assert unit["Install"]["WantedBy"] == "default.target"
    assert SESSION in unit["Unit"]["Description"]
    assert systemctl.calls() == [
        "--user daemon-reload",
        f"--user enable plainbox-resume-{SESSION}.service",
    ]


def test_systemd_diffuse_disables_and_removes_the_unit(systemctl):
    strategy = SystemdUserStrategy()
    strategy.prime(SESSION, RESUME)
    path = strategy.path_for(SESSION)

    strategy.diffuse(SESSION)

    assert not path.exists()
    assert list(path.parent.iterdir()) == []
    assert systemctl.calls()[2:] == [
        f"--user disable plainbox-resume-{SESSION}.service",
        "--user daemon-reload",
    ]


def test_systemd_diffuse_cleans_up_even_when_disable_fails(systemctl):
    strategy = SystemdUserStrategy()
    strategy.prime(SESSION, RESUME)
    path = strategy.path_for(SESSION)
    # What a real enable leaves, which a failed disable would not remove.
    wants = path.parent / "default.target.wants"
    wants.mkdir()
    (wants / path.name).symlink_to(path)
    systemctl.fail_on("disable", "daemon-reload")

    strategy.diffuse(SESSION)

    assert not path.exists()
    assert not (wants / path.name).is_symlink()


def test_systemd_diffuse_is_idempotent_and_quiet_when_nothing_was_primed(systemctl):
    strategy = SystemdUserStrategy()
    strategy.diffuse(SESSION)
    assert systemctl.calls() == []

    strategy.prime(SESSION, RESUME)
    strategy.diffuse(SESSION)
    calls = len(systemctl.calls())
    strategy.diffuse(SESSION)
    assert len(systemctl.calls()) == calls


@pytest.mark.parametrize("failing", ["daemon-reload", "enable"])
def test_systemd_prime_reports_systemctl_errors_and_leaves_nothing(systemctl, failing):
    systemctl.fail_on(failing)
    strategy = SystemdUserStrategy()

    with pytest.raises(SessionError, match=f"Failed to {failing}: Access denied"):
        strategy.prime(SESSION, RESUME)

    assert not strategy.path_for(SESSION).exists()


def test_systemd_prime_without_systemctl_raises_session_error(no_restart_support):
    with pytest.raises(SessionError, match="not on PATH"):
        SystemdUserStrategy().prime(SESSION, RESUME)


def test_systemd_prime_gives_up_on_a_hanging_systemctl(systemctl):
    systemctl.hang(10)
    with pytest.raises(SessionError, match="no answer"):
        SystemdUserStrategy(timeout=0.2).prime(SESSION, RESUME)


def test_systemd_prime_again_replaces_the_unit_without_leftovers(systemctl):
    strategy = SystemdUserStrategy()
    strategy.prime(SESSION, [*RESUME, "--first"])
    strategy.prime(SESSION, [*RESUME, "--second"])

    path = strategy.path_for(SESSION)
    assert [entry.name for entry in path.parent.iterdir()] == [path.name]
    exec_start = read_unit(path)["Service"]["ExecStart"]
    assert parse_exec_start(exec_start) == [*RESUME, "--second"]


@pytest.mark.parametrize("argument", AWKWARD_ARGUMENTS)
def test_systemd_exec_start_keeps_every_argument_intact(systemctl, argument):
    argv = [PROGRAM, argument, "--after"]
    strategy = SystemdUserStrategy()
    strategy.prime(SESSION, argv)
    exec_start = read_unit(strategy.path_for(SESSION))["Service"]["ExecStart"]
    assert parse_exec_start(exec_start) == argv


def test_systemd_exec_start_keeps_an_awkward_program_path(systemctl):
    argv = ["/opt/100% sure/$bin's \\ dir/plain box", *AWKWARD_ARGUMENTS]
    strategy = SystemdUserStrategy()
    strategy.prime(SESSION, argv)
    exec_start = read_unit(strategy.path_for(SESSION))["Service"]["ExecStart"]
    assert parse_exec_start(exec_start) == argv


def test_systemd_exec_start_escapes_percent_and_dollar_by_doubling(systemctl):
    strategy = SystemdUserStrategy()
    strategy.prime(SESSION, [PROGRAM, "50%", "$USER"])
    exec_start = read_unit(strategy.path_for(SESSION))["Service"]["ExecStart"]
    assert "50%%" in exec_start
    assert "$$USER" in exec_start


def test_systemd_available_asks_the_user_manager(systemctl):
    assert SystemdUserStrategy().available()
    assert systemctl.calls() == ["--user show-environment"]


def test_systemd_unavailable_when_the_user_manager_does_not_answer(systemctl):
    systemctl.fail_on("show-environment")
    assert not SystemdUserStrategy().available()


def test_systemd_unavailable_when_systemctl_hangs(systemctl):
    systemctl.hang(10)
    started = time.monotonic()
    assert not SystemdUserStrategy(probe_timeout=0.2).available()
    assert time.monotonic() - started < 5


def test_systemd_unavailable_without_systemctl(no_restart_support):
    assert not SystemdUserStrategy().available()


# -- XDG autostart ------------------------------------------------------------


def test_xdg_prime_writes_a_desktop_entry_and_diffuse_removes_it():
    strategy = XdgAutostartStrategy()
    strategy.prime(SESSION, RESUME)

    autostart = config_home() / "autostart"
    path = autostart / f"plainbox-resume-{SESSION}.desktop"
    assert strategy.path_for(SESSION) == path
    assert mode(path) == 0o600
    assert mode(autostart) == 0o700
    entry = read_desktop_entry(path)
    assert entry["Type"] == "Application"
    assert SESSION in entry["Name"]
    assert entry["Terminal"] == "true"
    assert entry["X-GNOME-Autostart-enabled"] == "true"
    assert parse_desktop_exec(entry["Exec"]) == RESUME

    strategy.diffuse(SESSION)
    assert not path.exists()
    strategy.diffuse(SESSION)  # a second time: nothing left, no error
    assert list(autostart.iterdir()) == []


def test_xdg_diffuse_without_prime_is_harmless():
    XdgAutostartStrategy().diffuse(SESSION)
    assert not (config_home() / "autostart").exists()


@pytest.mark.parametrize("argument", AWKWARD_ARGUMENTS)
def test_xdg_exec_keeps_every_argument_intact(argument):
    argv = [PROGRAM, argument, "--after"]
    strategy = XdgAutostartStrategy()
    strategy.prime(SESSION, argv)
    entry = read_desktop_entry(strategy.path_for(SESSION))
    assert parse_desktop_exec(entry["Exec"]) == argv


def test_xdg_exec_keeps_an_awkward_program_path():
    argv = ["/opt/100% sure/$bin's \\ dir/plain box", *AWKWARD_ARGUMENTS]
    strategy = XdgAutostartStrategy()
    strategy.prime(SESSION, argv)
    entry = read_desktop_entry(strategy.path_for(SESSION))
    assert parse_desktop_exec(entry["Exec"]) == argv


def test_xdg_exec_leaves_plain_arguments_unquoted():
    strategy = XdgAutostartStrategy()
    strategy.prime(SESSION, RESUME)
    entry = read_desktop_entry(strategy.path_for(SESSION))
    assert entry["Exec"] == " ".join(RESUME)


@pytest.mark.parametrize(
    "argv",
    [
        ["/opt/a=b/plainbox", "resume"],  # '=' is forbidden in the program
        [PROGRAM, "bell\a"],  # no escape exists for other control characters
    ],
)
def test_xdg_prime_rejects_commands_a_desktop_entry_cannot_carry(argv):
    strategy = XdgAutostartStrategy()
    with pytest.raises(ValueError, match=r"contains '='|control character"):
        strategy.prime(SESSION, argv)
    assert not strategy.path_for(SESSION).exists()


@pytest.mark.parametrize(
    ("display", "wayland", "system_dir", "expected"),
    [
        (":0", None, False, True),
        (None, "wayland-0", False, True),
        (None, None, True, True),
        (None, None, False, False),
        ("", "", False, False),
    ],
)
def test_xdg_available_when_a_desktop_is_plausible(
    monkeypatch, tmp_path, display, wayland, system_dir, expected
):
    for name, value in (("DISPLAY", display), ("WAYLAND_DISPLAY", wayland)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    directory = tmp_path / "etc-xdg-autostart"
    if system_dir:
        directory.mkdir()
    assert XdgAutostartStrategy(system_autostart_dir=directory).available() is expected


# -- what both share ------------------------------------------------------------


def make_strategy(name: str) -> SystemdUserStrategy | XdgAutostartStrategy:
    return SystemdUserStrategy() if name == "systemd" else XdgAutostartStrategy()


@pytest.mark.parametrize("kind", ["systemd", "xdg-autostart"])
@pytest.mark.parametrize(
    "session_id",
    ["", "../escape", "x/../y", "a/b", "/abs", "a b", "ü", "id\n", "x" * 201, "a%b"],
)
def test_hostile_session_ids_are_refused(systemctl, kind, session_id):
    strategy = make_strategy(kind)
    with pytest.raises(ValueError, match="invalid session id"):
        strategy.prime(session_id, RESUME)
    with pytest.raises(ValueError, match="invalid session id"):
        strategy.diffuse(session_id)
    assert systemctl.calls() == []
    assert list(config_home().iterdir()) == []


@pytest.mark.parametrize("kind", ["systemd", "xdg-autostart"])
def test_existing_directories_keep_their_mode(systemctl, kind):
    strategy = make_strategy(kind)
    directory = strategy.path_for(SESSION).parent
    directory.mkdir(parents=True)
    directory.chmod(0o755)

    strategy.prime(SESSION, RESUME)

    assert mode(directory) == 0o755
    assert mode(strategy.path_for(SESSION)) == 0o600


@pytest.mark.parametrize("kind", ["systemd", "xdg-autostart"])
@pytest.mark.parametrize("mask", [0o000, 0o022, 0o277])
def test_modes_do_not_depend_on_the_umask(systemctl, umask, kind, mask):
    strategy = make_strategy(kind)
    umask(mask)
    strategy.prime(SESSION, RESUME)
    path = strategy.path_for(SESSION)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700


@pytest.mark.parametrize("kind", ["systemd", "xdg-autostart"])
def test_a_program_found_on_path_is_written_with_its_full_path(
    systemctl, bin_dir, kind
):
    program = bin_dir / "plainbox-under-test"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    strategy = make_strategy(kind)

    strategy.prime(SESSION, ["plainbox-under-test", "session", "resume"])

    text = strategy.path_for(SESSION).read_text()
    if kind == "systemd":
        exec_line = read_unit(strategy.path_for(SESSION))["Service"]["ExecStart"]
        argv = parse_exec_start(exec_line)
    else:
        argv = parse_desktop_exec(
            read_desktop_entry(strategy.path_for(SESSION))["Exec"]
        )
    assert argv == [str(program), "session", "resume"], text


@pytest.mark.parametrize("kind", ["systemd", "xdg-autostart"])
def test_a_program_not_found_is_an_error(systemctl, kind):
    strategy = make_strategy(kind)
    with pytest.raises(SessionError, match="no-such-plainbox"):
        strategy.prime(SESSION, ["no-such-plainbox", "session", "resume"])
    assert not strategy.path_for(SESSION).exists()


@pytest.mark.parametrize("kind", ["systemd", "xdg-autostart"])
@pytest.mark.parametrize(
    ("command", "error"),
    [
        ([], ValueError),
        ([""], ValueError),
        ([PROGRAM, "nul\0byte"], ValueError),
        ("/usr/bin/plainbox session resume", TypeError),
    ],
)
def test_malformed_commands_are_refused(systemctl, kind, command, error):
    strategy = make_strategy(kind)
    with pytest.raises(error):
        strategy.prime(SESSION, command)
    assert not strategy.path_for(SESSION).exists()


def test_prime_reports_an_unwritable_config_home_as_a_session_error(
    systemctl, tmp_path, monkeypatch
):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("PLAINBOX_CONFIG_DIR", str(blocker))
    with pytest.raises(SessionError, match="cannot write"):
        XdgAutostartStrategy().prime(SESSION, RESUME)


# -- choosing a strategy ----------------------------------------------------------


@dataclass
class FakeStrategy:
    """A plugin's strategy whose availability the test decides."""

    name: str
    usable: bool = True
    primed: list[tuple[str, list[str]]] = field(default_factory=list)

    def available(self) -> bool:
        return self.usable

    def prime(self, session_id: str, command: Sequence[str]) -> None:
        self.primed.append((session_id, list(command)))

    def diffuse(self, session_id: str) -> None:
        self.primed = [entry for entry in self.primed if entry[0] != session_id]


class StrategyPlugin:
    def __init__(self, *strategies: RestartStrategy) -> None:
        self.strategies = list(strategies)

    @hookimpl
    def plainbox_restart_strategies(self) -> list[RestartStrategy]:
        return self.strategies


@pytest.fixture
def register_plugin():
    """Register plugin objects on the shared plugin manager, for one test."""
    manager = get_plugin_manager()
    registered: list[object] = []

    def register(plugin: object) -> None:
        manager.register(plugin)
        registered.append(plugin)

    yield register
    for plugin in registered:
        manager.unregister(plugin)


def names(strategies: Sequence[RestartStrategy]) -> list[str]:
    return [strategy.name for strategy in strategies]


def test_built_in_strategies():
    assert names(restart_strategies()) == ["systemd", "xdg-autostart"]


def test_plugin_strategies_come_first(register_plugin):
    register_plugin(StrategyPlugin(FakeStrategy("lab-bmc"), FakeStrategy("pxe")))
    assert names(restart_strategies()) == ["lab-bmc", "pxe", "systemd", "xdg-autostart"]


def test_nothing_detected_when_nothing_works(no_restart_support):
    assert detect_restart_strategy() is None
    assert detect_restart_strategy("systemd") is None
    assert detect_restart_strategy("xdg-autostart") is None


def test_the_first_available_strategy_is_detected(no_restart_support, systemctl):
    assert isinstance(detect_restart_strategy(), SystemdUserStrategy)


def test_xdg_detected_when_systemd_is_not_usable(no_restart_support, monkeypatch):
    monkeypatch.setenv("DISPLAY", ":0")
    assert isinstance(detect_restart_strategy(), XdgAutostartStrategy)


def test_a_preferred_strategy_wins_over_an_earlier_one(
    no_restart_support, systemctl, monkeypatch
):
    monkeypatch.setenv("DISPLAY", ":0")
    assert isinstance(detect_restart_strategy("xdg-autostart"), XdgAutostartStrategy)


def test_a_preferred_strategy_that_cannot_work_gives_none(
    no_restart_support, monkeypatch
):
    # Another strategy would work, but the launcher asked for this one.
    monkeypatch.setenv("DISPLAY", ":0")
    assert detect_restart_strategy("systemd") is None


def test_an_unknown_preferred_strategy_is_a_usage_error(register_plugin):
    register_plugin(StrategyPlugin(FakeStrategy("lab-bmc")))
    with pytest.raises(UsageError) as caught:
        detect_restart_strategy("sytemd")
    message = str(caught.value)
    assert "'sytemd'" in message
    assert "lab-bmc, systemd, xdg-autostart" in message


def test_an_available_plugin_strategy_is_detected_first(
    no_restart_support, systemctl, register_plugin
):
    bmc = FakeStrategy("lab-bmc")
    register_plugin(StrategyPlugin(FakeStrategy("broken", usable=False), bmc))
    assert detect_restart_strategy() is bmc
    assert detect_restart_strategy("lab-bmc") is bmc


def test_a_plugin_strategy_replaces_the_built_in_of_the_same_name(
    no_restart_support, systemctl, register_plugin
):
    replacement = FakeStrategy("systemd", usable=False)
    register_plugin(StrategyPlugin(replacement))
    # The built-in one would work, but the plugin's takes its name.
    assert detect_restart_strategy("systemd") is None
    replacement.usable = True
    assert detect_restart_strategy("systemd") is replacement


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="needs systemd-analyze"
)
def test_systemd_accepts_the_unit(systemctl, tmp_path):
    # The parser above is ours; this asks systemd itself whether the quoting
    # parses. verify wants the program to exist, so /bin/true stands in.
    strategy = SystemdUserStrategy()
    strategy.prime(SESSION, ["/bin/true", *AWKWARD_ARGUMENTS])
    unit = tmp_path / strategy.path_for(SESSION).name
    shutil.copyfile(strategy.path_for(SESSION), unit)

    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert unit.name not in result.stderr, result.stderr
