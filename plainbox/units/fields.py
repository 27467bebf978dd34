"""What each unit type's fields mean and allow: one table for loader, validator and docs.

Keeping the rules as data means the unit reference in ``docs/`` is generated
from the same table the validator checks against, so they cannot drift.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


__all__ = [
    "FLAGS",
    "PLUGINS",
    "UNIT_FIELDS",
    "FieldSpec",
    "Kind",
    "fields_of",
]


class Kind(str, enum.Enum):
    """How a field's text is read."""

    TEXT = "text"  # free text, possibly several lines
    LINE = "line"  # one line of text
    ID = "id"  # a partial id (no '::')
    REF = "ref"  # one unit id, partial or full
    ID_LIST = "id-list"  # unit ids separated by white space or commas
    WORDS = "words"  # words separated by white space or commas
    CHOICE = "choice"  # one of ``choices``
    DURATION = "duration"  # seconds, or ``1h 2m 3s``
    PROGRAM = "program"  # a resource program, one expression per line
    IMPORTS = "imports"  # ``from NS import ID [as ALIAS]`` lines
    PATTERNS = "patterns"  # test-plan qualifier lines
    OVERRIDES = "overrides"  # ``apply X to PATTERN`` lines
    JSON = "json"  # JSON text


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """The rules of one field of one unit type."""

    name: str
    kind: Kind
    doc: str
    required: bool = False
    translatable: bool = False  # normally written as ``_name``
    short: bool = False  # one line of at most 80 characters
    choices: tuple[str, ...] = ()
    deprecated: str = ""  # why, and what to use instead
    # In templates: must the value differ between instances (reference a
    # parameter), or must it be the same for all of them?
    template_variant: bool = False
    template_invariant: bool = False


PLUGINS = (
    "shell",
    "resource",
    "attachment",
    "manual",
    "user-interact",
    "user-verify",
    "user-interact-verify",
)

FLAGS = {
    "simple": "plugin defaults to shell; description and duration become optional",
    "noreturn": "the job does not return (it reboots or powers off the machine)",
    "autorestart": "prime an automatic resume before the job runs",
    "preserve-cwd": "run in plainbox's working directory, not a fresh private one",
    "has-leftovers": "do not warn about files the job leaves in its directory",
    "reset-locale": "run with LANG=C.UTF-8 and no LANGUAGE or LC_* variables",
    "preserve-locale": "accepted for compatibility; has no effect",
    "explicit-fail": "accepted for compatibility; has no effect",
    "win32": "accepted for compatibility; has no effect",
    "cachable": "resource jobs: results may be reused across sessions",
    "fail-on-resource": "an unmet requirement fails the job instead of skipping it",
    "also-after-suspend": "also generate an after-suspend twin of the job",
    "also-after-suspend-manual": "also generate a manual after-suspend twin of the job",
    "suppress-output": "do not show the job's output live",
    "use-chunked-io": "show output in chunks rather than lines",
    "deprecated": "the job is deprecated",
}

_F = FieldSpec
_ID = _F(
    "id",
    Kind.ID,
    "Partial id, unique in the provider; the full id adds 'namespace::'.",
    required=True,
    template_variant=True,
)
_UNIT = _F("unit", Kind.LINE, "The unit type; 'job' when absent.")

_JOB_COMMON = (
    _ID,
    _UNIT,
    _F(
        "summary",
        Kind.LINE,
        "One-line title shown in lists and reports.",
        translatable=True,
        short=True,
        template_variant=True,
    ),
    _F(
        "plugin",
        Kind.CHOICE,
        "How the job runs and how its outcome is decided.",
        required=True,
        choices=PLUGINS,
        template_invariant=True,
    ),
    _F("command", Kind.TEXT, "Shell script run by bash (or 'shell'); exit 0 passes."),
    _F(
        "description",
        Kind.TEXT,
        "Long description; for interactive jobs use purpose, steps and verification.",
        translatable=True,
    ),
    _F(
        "purpose",
        Kind.TEXT,
        "Interactive jobs: why the test is done.",
        translatable=True,
    ),
    _F(
        "steps",
        Kind.TEXT,
        "Interactive jobs: what the operator does.",
        translatable=True,
    ),
    _F(
        "verification",
        Kind.TEXT,
        "Interactive jobs: how the operator judges the result.",
        translatable=True,
    ),
    _F(
        "user",
        Kind.CHOICE,
        "Run the command as this user (through sudo when needed).",
        choices=("root",),
    ),
    _F("environ", Kind.WORDS, "Names of environment variables passed through sudo."),
    _F(
        "estimated_duration",
        Kind.DURATION,
        "Expected duration: seconds, or '1h 2m 3s'.",
    ),
    _F("timeout", Kind.DURATION, "plainbox: kill the job and fail it after this long."),
    _F("depends", Kind.ID_LIST, "Jobs that must pass before this one runs."),
    _F("after", Kind.ID_LIST, "Jobs that must run (with any outcome) before this one."),
    _F("before", Kind.ID_LIST, "Jobs that must not run before this one, if both run."),
    _F("salvages", Kind.ID_LIST, "Jobs that must have failed for this one to run."),
    _F("group", Kind.LINE, "Jobs of one group run together."),
    _F(
        "requires",
        Kind.PROGRAM,
        "Resource program: every line must hold for the job to run.",
    ),
    _F(
        "imports",
        Kind.IMPORTS,
        "'from NAMESPACE import ID [as ALIAS]' lines for requires.",
    ),
    _F(
        "shell",
        Kind.CHOICE,
        "The shell running the command.",
        choices=("bash", "/bin/bash", "/bin/sh", "sh"),
        template_invariant=True,
    ),
    _F(
        "flags",
        Kind.WORDS,
        "Behaviour switches: " + ", ".join(FLAGS) + ".",
        template_invariant=True,
    ),
    _F("category_id", Kind.REF, "The category the job is reported under."),
    _F(
        "certification-status",
        Kind.CHOICE,
        "Whether a failure blocks certification.",
        choices=("non-blocker", "blocker"),
    ),
    _F(
        "auto-retry",
        Kind.CHOICE,
        "'no' keeps the job out of automatic re-runs.",
        choices=("unspecified", "no"),
    ),
    _F(
        "siblings",
        Kind.JSON,
        "JSON list of field overrides, each making a copy of the job.",
        translatable=True,
    ),
    _F(
        "template-id",
        Kind.LINE,
        "Set on instances: the id of the template they came from.",
    ),
    _F(
        "template-engine",
        Kind.CHOICE,
        "Set on instances: the template engine used.",
        choices=("default", "jinja2"),
    ),
    _F("name", Kind.ID, "Old spelling of 'id'.", deprecated="use 'id'"),
)

_TEMPLATE = (
    *_JOB_COMMON[:-2],
    _F(
        "template-resource",
        Kind.REF,
        "Resource job whose records make the instances.",
        required=True,
    ),
    _F(
        "template-filter",
        Kind.PROGRAM,
        "Resource program run on each record; false drops the record.",
    ),
    _F("template-imports", Kind.IMPORTS, "An import statement for template-resource."),
    _F("template-unit", Kind.CHOICE, "Type of the units generated.", choices=("job",)),
    _F(
        "template-engine",
        Kind.CHOICE,
        "'default' (Python str.format) or 'jinja2'.",
        choices=("default", "jinja2"),
    ),
    _F(
        "template-id",
        Kind.ID,
        "The template's own id; by default the id without its braces.",
    ),
    _F(
        "template-summary",
        Kind.LINE,
        "One-line description of the template itself.",
        translatable=True,
        short=True,
    ),
    _F(
        "template-description",
        Kind.TEXT,
        "What the template generates.",
        translatable=True,
    ),
)

_SETUP_JOB = (
    *(spec for spec in _JOB_COMMON if spec.name not in {"siblings", "salvages"}),
    _F(
        "requires_manifest",
        Kind.TEXT,
        "Manifest ids that must be true (or 'id=false').",
    ),
)

_TEST_PLAN = (
    _ID,
    _UNIT,
    _F(
        "name",
        Kind.LINE,
        "One-line title of the test plan.",
        required=True,
        translatable=True,
        short=True,
    ),
    _F("description", Kind.TEXT, "What the test plan is for.", translatable=True),
    _F(
        "include",
        Kind.PATTERNS,
        "Jobs to run: an id or regular expression per line, with optional field=value overrides.",
    ),
    _F(
        "mandatory_include",
        Kind.PATTERNS,
        "Jobs always run first; cannot be deselected.",
    ),
    _F(
        "bootstrap_include",
        Kind.PATTERNS,
        "Resource jobs run first, to generate template instances.",
    ),
    _F("setup_include", Kind.PATTERNS, "Setup jobs run before everything else."),
    _F("exclude", Kind.PATTERNS, "Jobs removed from the selection; exclusion wins."),
    _F(
        "nested_part",
        Kind.ID_LIST,
        "Test plans whose selections are merged into this one.",
    ),
    _F("category_overrides", Kind.OVERRIDES, "'apply CATEGORY to PATTERN' lines."),
    _F(
        "category-overrides",
        Kind.OVERRIDES,
        "Old spelling of category_overrides.",
        deprecated="use 'category_overrides'",
    ),
    _F(
        "certification_status_overrides",
        Kind.OVERRIDES,
        "'apply blocker|non-blocker to PATTERN' lines.",
    ),
    _F("estimated_duration", Kind.DURATION, "Expected duration of the whole plan."),
    _F("icon", Kind.LINE, "Icon name for graphical front-ends."),
)

_CATEGORY = (
    _ID,
    _UNIT,
    _F(
        "name",
        Kind.LINE,
        "One-line category name.",
        required=True,
        translatable=True,
        short=True,
    ),
)

_EXPORTER = (
    _ID,
    _UNIT,
    _F("summary", Kind.LINE, "One-line description.", translatable=True, short=True),
    _F(
        "entry_point",
        Kind.LINE,
        "The exporter plugin that renders the report.",
        required=True,
    ),
    _F("file_extension", Kind.LINE, "Extension of the report file.", required=True),
    _F(
        "options", Kind.WORDS, "Exporter options, separated by white space, ',' or ';'."
    ),
    _F("data", Kind.JSON, "JSON object passed to the exporter."),
)

_MANIFEST_ENTRY = (
    _ID,
    _UNIT,
    _F(
        "name",
        Kind.LINE,
        "The question asked about the machine.",
        required=True,
        translatable=True,
        short=True,
    ),
    _F(
        "value-type",
        Kind.CHOICE,
        "Kind of answer.",
        required=True,
        choices=("bool", "natural"),
    ),
    _F("value-unit", Kind.LINE, "Unit of a natural value (e.g. 'devices')."),
    _F(
        "value-units",
        Kind.LINE,
        "Old spelling of value-unit.",
        deprecated="use 'value-unit'",
    ),
    _F(
        "resource-key",
        Kind.LINE,
        "Key of the answer in the manifest resource; the id by default.",
    ),
    _F("prompt", Kind.LINE, "Prompt shown to the operator.", translatable=True),
    _F(
        "hidden-reason",
        Kind.TEXT,
        "Why a hidden entry ('_' id) is not asked.",
        translatable=True,
    ),
)

_PACKAGING = (
    _UNIT,
    _F(
        "os-id",
        Kind.LINE,
        "The ID of /etc/os-release these packages are for.",
        required=True,
    ),
    _F("os-version-id", Kind.LINE, "VERSION_ID, optionally with >= or <=."),
    _F("Depends", Kind.TEXT, "Debian packages the provider depends on."),
    _F("Recommends", Kind.TEXT, "Debian packages the provider recommends."),
    _F("Suggests", Kind.TEXT, "Debian packages the provider suggests."),
)

UNIT_FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "job": _JOB_COMMON,
    "setup job": _SETUP_JOB,
    "template": _TEMPLATE,
    "test plan": _TEST_PLAN,
    "category": _CATEGORY,
    "exporter": _EXPORTER,
    "manifest entry": _MANIFEST_ENTRY,
    "packaging meta-data": _PACKAGING,
}

_BY_NAME = {
    unit: {spec.name: spec for spec in specs} for unit, specs in UNIT_FIELDS.items()
}


def fields_of(unit_type: str) -> dict[str, FieldSpec]:
    """The field rules of a unit type, by field name."""
    return _BY_NAME[unit_type]
