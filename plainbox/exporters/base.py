"""The exporter contract: an id, a file extension, options, and ``export``."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import BinaryIO
from typing import ClassVar

from plainbox.errors import ExporterError
from plainbox.session.view import SessionView


__all__ = ["Exporter"]


class Exporter:
    """Base class of exporters: renders a :class:`SessionView` to a byte stream.

    Options are strings, ``name`` or ``name=value``; ``option_help`` lists
    the names an exporter understands (and documents them).  An unknown
    option is an :class:`ExporterError` in strict mode and is dropped
    otherwise, so one superset of options can be given to every exporter.
    """

    id: ClassVar[str]
    file_extension: ClassVar[str]
    summary: ClassVar[str] = ""
    option_help: ClassVar[Mapping[str, str]] = {}

    def __init__(self, option_list: Sequence[str] = (), strict: bool = True) -> None:
        self.options: dict[str, str] = {}
        for option in option_list:
            name, _, value = option.partition("=")
            if name not in self.option_help:
                if strict:
                    known = ", ".join(sorted(self.option_help)) or "none"
                    raise ExporterError(
                        f"exporter {self.id!r} has no option {name!r} (known: {known})"
                    )
                continue
            self.options[name] = value

    def whole_number_option(self, name: str, default: int, unit: str) -> int:
        """The value of option ``name`` as a whole number >= 0 (``default`` if unset).

        Checked when the exporter is made, so a bad option fails before a run.

        :raises ExporterError: the value is not a whole number >= 0.
        """
        raw = self.options.get(name)
        if raw is None:
            return default
        try:
            number = int(raw)
        except ValueError:
            number = -1
        if number < 0:
            raise ExporterError(
                f"exporter {self.id!r}: {name} must be a whole number of {unit}"
                f" (0 or more), not {raw!r}"
            )
        return number

    def export(self, session: SessionView, stream: BinaryIO) -> None:
        """Write the report of ``session`` to ``stream``."""
        raise NotImplementedError
