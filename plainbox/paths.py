"""Where plainbox keeps and finds things; the only module that reads path variables.

* ``PLAINBOX_PROVIDERPATH``: colon-separated provider search path; when set
  it replaces the default locations (the plugin hook still adds its dirs).
* ``PLAINBOX_STATE_DIR``: where sessions are stored.
* ``PLAINBOX_CACHE_DIR``: where cached resource results are kept.
* ``PLAINBOX_CONFIG_DIR``: where automatic-resume entries are written
  (default: the user config dir, ``~/.config``).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


__all__ = [
    "BUILTIN_PROVIDER_DIR",
    "bundled_providers_dir",
    "cache_dir",
    "config_home",
    "default_provider_path",
    "provider_search_path",
    "sessions_dir",
    "state_dir",
]

_DIRS = platformdirs.PlatformDirs("plainbox", appauthor=False)
_PACKAGE_DIR = Path(__file__).resolve().parent

#: The provider every session loads: standard categories and the manifest jobs.
BUILTIN_PROVIDER_DIR = _PACKAGE_DIR / "builtin"

# Where Checkbox installs providers; plainbox reads them as they are.
_CHECKBOX_PROVIDER_DIRS = (
    Path("/usr/local/share/plainbox-providers-1"),
    Path("/usr/share/plainbox-providers-1"),
)


def bundled_providers_dir() -> Path | None:
    """The example providers shipped with plainbox, in a wheel or a checkout."""
    for candidate in (_PACKAGE_DIR / "_providers", _PACKAGE_DIR.parent / "providers"):
        if candidate.is_dir():
            return candidate
    return None


def default_provider_path() -> list[Path]:
    """The provider search path when ``PLAINBOX_PROVIDERPATH`` is not set."""
    path = [
        _DIRS.user_data_path / "providers",
        Path(platformdirs.user_data_dir("plainbox-providers-1", appauthor=False)),
        *_CHECKBOX_PROVIDER_DIRS,
    ]
    bundled = bundled_providers_dir()
    if bundled is not None:
        path.append(bundled)
    return path


def provider_search_path() -> list[Path]:
    """Directories searched for providers, in order."""
    configured = os.environ.get("PLAINBOX_PROVIDERPATH")
    if configured is not None:
        return [Path(entry).expanduser() for entry in configured.split(":") if entry]
    return default_provider_path()


def state_dir() -> Path:
    """The root of plainbox's state (sessions); not created here."""
    configured = os.environ.get("PLAINBOX_STATE_DIR")
    if configured:
        return Path(configured).expanduser()
    return _DIRS.user_state_path


def sessions_dir() -> Path:
    """Where session directories live."""
    return state_dir() / "sessions"


def cache_dir() -> Path:
    """plainbox's cache (cached resource results); not created here."""
    configured = os.environ.get("PLAINBOX_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    return _DIRS.user_cache_path


def config_home() -> Path:
    """The user's config home (``~/.config``), where autostart entries live."""
    configured = os.environ.get("PLAINBOX_CONFIG_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_config_dir())
