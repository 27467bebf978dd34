"""Jobs generated from other jobs: ``siblings`` and after-suspend twins.

``siblings`` is a JSON list of objects; each makes a copy of the job with
those fields replaced. The flags ``also-after-suspend`` and
``also-after-suspend-manual`` add a twin that runs after the machine has
been suspended: its id and group are prefixed, its summary says so, and it
depends on the original job and on the suspend job.
"""

from __future__ import annotations

import json

from plainbox.units.loader import split_ids
from plainbox.units.loader import unit_from_fields
from plainbox.units.model import JobDefinition


__all__ = ["SUSPEND_JOBS", "generated_jobs"]

#: The suspend job each twin flag waits for (Checkbox's certification provider).
SUSPEND_JOBS = {
    "also-after-suspend": (
        "after-suspend-",
        "com.canonical.certification::suspend/suspend_advanced_auto",
    ),
    "also-after-suspend-manual": (
        "after-suspend-manual-",
        "com.canonical.certification::suspend/suspend_advanced",
    ),
}


def _copy(job: JobDefinition, fields: dict[str, str]) -> JobDefinition:
    unit = unit_from_fields(
        "job",
        fields,
        namespace=job.namespace,
        provider=job.provider,
        origin=job.origin,
        field_lines=dict(job.field_lines),
        translated=job.translated,
        line_maps=dict(job.line_maps),
    )
    assert isinstance(unit, JobDefinition)
    return unit


def _sibling_overrides(job: JobDefinition) -> list[dict[str, str]]:
    try:
        data = json.loads(job.siblings or "[]")
    except ValueError:
        return []  # reported by the validator
    if not isinstance(data, list):
        return []
    return [
        {key.removeprefix("_"): str(value) for key, value in item.items()}
        for item in data
        if isinstance(item, dict)
    ]


def generated_jobs(job: JobDefinition) -> list[JobDefinition]:
    """The jobs a job's ``siblings`` and after-suspend flags generate."""
    base = {k: v for k, v in job.fields.items() if k != "siblings"}
    twins = [
        _copy(job, {**base, **overrides})
        for overrides in _sibling_overrides(job)
        if overrides.get("id")
    ]
    for flag, (prefix, suspend_job) in SUSPEND_JOBS.items():
        if flag not in job.flags:
            continue
        fields = dict(base)
        fields["id"] = prefix + job.partial_id
        fields["summary"] = f"{job.summary} after suspend (S3)"
        fields["depends"] = " ".join(
            [*split_ids(base.get("depends")), job.id, suspend_job]
        )
        fields["flags"] = " ".join(sorted(job.flags - {flag}))
        if job.group:
            fields["group"] = prefix + job.group
        fields.pop("name", None)
        twins.append(_copy(job, fields))
    return twins
