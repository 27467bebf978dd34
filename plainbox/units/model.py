"""The unit model: frozen dataclasses built from records by the loader.

Every unit keeps its normalized ``fields`` (what checksums and templates work
on), where each field was written (``field_lines``), and typed attributes for
what the engine uses. References are stored as full ids (``namespace::id``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import ClassVar

from plainbox.units.problems import Origin


__all__ = [
    "DEFAULT_CATEGORY",
    "Category",
    "ExporterUnit",
    "JobDefinition",
    "ManifestEntry",
    "PackagingMetaData",
    "SetupJob",
    "TemplateUnit",
    "TestPlan",
    "Unit",
    "compute_checksum",
    "qualify",
]

DEFAULT_CATEGORY = "com.canonical.plainbox::uncategorised"
AUTOMATED_PLUGINS = frozenset({"shell", "resource", "attachment"})
INTERACTIVE_PLUGINS = frozenset({"manual", "user-interact", "user-interact-verify"})


def qualify(ref: str, namespace: str) -> str:
    """Make a reference a full id, relative to the referencing unit's namespace."""
    return ref if "::" in ref else f"{namespace}::{ref}"


def compute_checksum(
    fields: Mapping[str, str],
    namespace: str,
    parameters: Mapping[str, str] | None = None,
) -> str:
    """SHA-256 of the normalized fields and namespace: a definition's identity.

    Template instances add the parameters they were made from.
    """
    data = json.dumps(dict(sorted(fields.items())), separators=(",", ":"))
    if parameters:
        data += json.dumps(dict(sorted(parameters.items())), separators=(",", ":"))
    return hashlib.sha256(f"{data}{namespace}".encode()).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class Unit:
    """What every unit has: identity, origin and its fields."""

    unit_type: ClassVar[str] = "unit"

    partial_id: str
    namespace: str
    provider: str
    origin: Origin
    fields: Mapping[str, str]
    field_lines: Mapping[str, int]
    checksum: str
    # Fields written translatable (``_summary``), and the file line of each
    # line of each value: what lets problems point at the exact line.
    translated: frozenset[str] = frozenset()
    line_maps: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    #: The full id, ``namespace::partial_id``: made once, as a session asks
    #: for it dozens of times per job.
    id: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", self._full_id())

    def _full_id(self) -> str:
        return f"{self.namespace}::{self.partial_id}"

    @property
    def display_name(self) -> str:
        """The one-line human name of the unit."""
        return self.fields.get("summary") or self.fields.get("name") or self.partial_id

    def field_origin(self, name: str) -> Origin:
        """Where a field was written (the unit's origin when it is absent)."""
        return self.origin.at(self.field_lines.get(name, self.origin.line))

    def value_origin(self, name: str, offset: int = 0) -> Origin:
        """Where line ``offset`` (from 0) of a field's normalized value is written."""
        lines = self.line_maps.get(name, ())
        if 0 <= offset < len(lines):
            return self.origin.at(lines[offset])
        return self.field_origin(name)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobDefinition(Unit):
    """A job: a command or an operator's task, with an outcome."""

    unit_type: ClassVar[str] = "job"

    summary: str
    plugin: str
    command: str | None = None
    description: str | None = None
    purpose: str | None = None
    steps: str | None = None
    verification: str | None = None
    user: str | None = None
    environ: tuple[str, ...] = ()
    estimated_duration: float | None = None
    timeout: float | None = None
    depends: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    before: tuple[str, ...] = ()
    salvages: tuple[str, ...] = ()
    group: str | None = None
    requires: str | None = None
    imports: str | None = None
    shell: str = "bash"
    flags: frozenset[str] = frozenset()
    category_id: str = DEFAULT_CATEGORY
    certification_status: str = "non-blocker"
    auto_retry: str = "unspecified"
    siblings: str | None = None
    template_id: str | None = None
    template_engine: str | None = None

    @property
    def automated(self) -> bool:
        """True when no operator is needed to run or judge the job."""
        return self.plugin in AUTOMATED_PLUGINS

    @property
    def interactive(self) -> bool:
        """True when an operator must act before or while the job runs."""
        return self.plugin in INTERACTIVE_PLUGINS or self.plugin == "user-verify"

    @property
    def full_description(self) -> str:
        """The description, or one made of purpose, steps and verification."""
        if self.description:
            return self.description
        parts = [
            f"{title}:\n{text}"
            for title, text in (
                ("PURPOSE", self.purpose),
                ("STEPS", self.steps),
                ("VERIFICATION", self.verification),
            )
            if text
        ]
        return "\n".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class SetupJob(JobDefinition):
    """An automated shell job run before bootstrapping (``setup_include``)."""

    unit_type: ClassVar[str] = "setup job"

    requires_manifest: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateUnit(Unit):
    """A template: instantiated once per record of a resource job."""

    unit_type: ClassVar[str] = "template"

    template_resource: str
    template_filter: str | None = None
    template_imports: str | None = None
    template_unit: str = "job"
    template_engine: str = "default"
    template_id: str
    template_summary: str | None = None

    @property
    def display_name(self) -> str:
        return self.template_summary or self.fields.get("summary") or self.template_id


@dataclass(frozen=True, slots=True, kw_only=True)
class TestPlan(Unit):
    """A selection of jobs with overrides, possibly built from nested parts."""

    unit_type: ClassVar[str] = "test plan"
    __test__: ClassVar[bool] = False  # not a pytest test class despite the name

    name: str
    description: str | None = None
    include: str = ""
    mandatory_include: str = ""
    bootstrap_include: str = ""
    setup_include: str = ""
    exclude: str = ""
    nested_part: tuple[str, ...] = ()
    category_overrides: str = ""
    certification_status_overrides: str = ""
    estimated_duration: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Category(Unit):
    """A named group that jobs are reported under."""

    unit_type: ClassVar[str] = "category"

    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ExporterUnit(Unit):
    """Binds an exporter id to an exporter plugin, with options and data."""

    unit_type: ClassVar[str] = "exporter"

    summary: str
    entry_point: str
    file_extension: str
    options: tuple[str, ...] = ()
    data: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ManifestEntry(Unit):
    """A fact about the machine the operator states (or configuration sets)."""

    unit_type: ClassVar[str] = "manifest entry"

    name: str
    value_type: str
    value_unit: str | None = None
    resource_key: str
    prompt: str | None = None
    hidden_reason: str | None = None

    @property
    def is_hidden(self) -> bool:
        """Hidden entries (id starting with '_') are set only by configuration."""
        return self.partial_id.startswith("_")


@dataclass(frozen=True, slots=True, kw_only=True)
class PackagingMetaData(Unit):
    """Distribution packages a provider needs on one operating system."""

    unit_type: ClassVar[str] = "packaging meta-data"

    os_id: str
    os_version_id: str | None = None

    def _full_id(self) -> str:
        # Packaging units have no id of their own; name them by what they target.
        version = f"-{self.os_version_id}" if self.os_version_id else ""
        return f"{self.namespace}::packaging-{self.os_id}{version}"

    @property
    def display_name(self) -> str:
        return f"packages for {self.os_id} {self.os_version_id or ''}".rstrip()
