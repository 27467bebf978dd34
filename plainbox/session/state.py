"""What a session knows: pure in-memory state, changed only by records.

Every change goes through :meth:`SessionState.record`, which applies a
journal record and hands it to the state's sink (the session manager, which
appends it to the journal).  Replaying a journal calls :meth:`apply` with the
same records, so a resumed state is the state that was written, by
construction: there is no second code path to drift.

Record kinds and their data:

=================  ==========================================================
kind               data
=================  ==========================================================
session-started    ``created`` (epoch s), ``title``, ``test_plan``, ``app_id``,
                   ``options`` (how the run was started, for resume)
metadata           any of ``title``, ``test_plan``, ``app_id``, ``app_blob``
                   (base64), ``flags`` (the full list)
phase              ``name`` and ``jobs``: the ids a phase will run, in order;
                   ``mandatory``: the mandatory ones among them
job-started        ``job``, ``checksum``, ``started``
job-abandoned      ``job``: it was stopped (Ctrl-C) and runs again on resume
job-finished       ``job``, ``checksum``, ``result`` (:meth:`JobResult.to_record`),
                   ``resources`` (a resource job's parsed records)
session-finished   ``finished`` (epoch s)
=================  ==========================================================

A record may carry ``device``: the name of the device context it belongs to
(absent for the first, local, context).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from plainbox.session.results import FAILING_OUTCOMES
from plainbox.session.results import JobResult
from plainbox.session.results import Outcome
from plainbox.units.model import JobDefinition
from plainbox.units.model import Unit


__all__ = [
    "FLAG_BOOTSTRAPPING",
    "FLAG_INCOMPLETE",
    "FLAG_SUBMITTED",
    "JobState",
    "SessionMetadata",
    "SessionState",
]

FLAG_INCOMPLETE = "incomplete"
FLAG_BOOTSTRAPPING = "bootstrapping"
FLAG_SUBMITTED = "submitted"

Sink = Callable[[str, dict[str, Any]], None]


@dataclass(slots=True)
class JobState:
    """One job's history in the session."""

    job_id: str
    job: JobDefinition | None = None  # None: not among the current units
    results: list[JobResult] = field(default_factory=list)
    # Checksum of the definition that produced the latest result (or that was
    # running): resume compares it with the current definition.
    checksum: str | None = None

    @property
    def result(self) -> JobResult | None:
        """The latest result, or None if the job has not finished yet."""
        return self.results[-1] if self.results else None

    @property
    def changed(self) -> bool:
        """True when the job's definition differs from the one that ran."""
        return (
            self.job is not None
            and self.checksum is not None
            and bool(self.job.checksum)
            and self.job.checksum != self.checksum
        )


@dataclass(slots=True)
class SessionMetadata:
    """Facts about the session as a whole."""

    title: str = ""
    test_plan: str | None = None
    app_id: str | None = None
    app_blob: bytes | None = None
    flags: set[str] = field(default_factory=set)
    created: float | None = None
    finished: float | None = None
    running_job: str | None = None
    last_job_start_time: float | None = None
    options: dict[str, Any] = field(default_factory=dict)


class SessionState:
    """Units, job states, results and metadata of one device's session."""

    def __init__(self, unit_list: Iterable[Unit] = ()) -> None:
        self.unit_list: list[Unit] = []
        self.job_state_map: dict[str, JobState] = {}
        self.metadata = SessionMetadata()
        self.resource_map: dict[str, list[dict[str, str]]] = {}
        # The jobs each phase planned to run, in order, and the mandatory ones.
        self.phases: dict[str, list[str]] = {}
        self.mandatory_job_list: list[str] = []
        # Job ids in the order their results arrived (first result only).
        self.execution_order: list[str] = []
        # Job starts so far: numbers each attempt's io-log.
        self.attempts = 0
        # Records made while no sink was attached, waiting for one.
        self.unsaved: list[tuple[str, dict[str, Any]]] = []
        self._sink: Sink | None = None
        for unit in unit_list:
            self.add_unit(unit)

    # -- units ----------------------------------------------------------------

    def add_unit(self, unit: Unit) -> None:
        """Know one more unit (jobs get a job state)."""
        self.unit_list.append(unit)
        if isinstance(unit, JobDefinition):
            state = self.job_state_map.get(unit.id)
            if state is None:
                self.job_state_map[unit.id] = JobState(unit.id, unit)
            else:
                state.job = unit

    def set_job(self, job: JobDefinition) -> None:
        """Give a job state its definition (a generated job, or overrides applied)."""
        self._job_state(job.id).job = job

    @property
    def job_list(self) -> list[JobDefinition]:
        """Every known job definition."""
        return [s.job for s in self.job_state_map.values() if s.job is not None]

    @property
    def run_list(self) -> list[str]:
        """Every job the session planned to run, phase after phase."""
        seen: dict[str, None] = {}
        for ids in self.phases.values():
            seen.update(dict.fromkeys(ids))
        return list(seen)

    @property
    def desired_job_list(self) -> list[str]:
        """The jobs of the main phase (what the test plan asked for)."""
        return list(self.phases.get("main", ()))

    # -- the one way to change state ---------------------------------------

    def attach(self, sink: Sink | None) -> None:
        """Send every record (the unsaved ones first) to ``sink``."""
        self._sink = sink
        if sink is not None:
            pending, self.unsaved = self.unsaved, []
            for kind, data in pending:
                sink(kind, data)

    def record(self, kind: str, data: dict[str, Any]) -> None:
        """Apply a change and pass it on to be journaled."""
        self.apply(kind, data)
        if self._sink is not None:
            self._sink(kind, data)
        else:
            self.unsaved.append((kind, data))

    def apply(self, kind: str, data: dict[str, Any]) -> None:
        """Apply one record, live or replayed.

        :raises ValueError: the record is malformed.
        """
        handler = _HANDLERS.get(kind)
        if handler is None:
            raise ValueError(f"unknown record kind {kind!r}")
        try:
            handler(self, data)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed {kind} record: {exc}") from exc

    # Each handler reads and checks all of its record before it changes
    # anything, so a malformed record raises with the state untouched: the
    # live state then still equals what replaying the journal gives.

    def _session_started(self, data: dict[str, Any]) -> None:
        created = float(data["created"])
        options = dict(data.get("options") or {})
        meta = self.metadata
        meta.created = created
        meta.title = str(data.get("title") or "")
        meta.test_plan = data.get("test_plan")
        meta.app_id = data.get("app_id")
        meta.options = options
        meta.flags = {FLAG_INCOMPLETE}

    def _metadata(self, data: dict[str, Any]) -> None:
        changes: dict[str, Any] = {}
        if "title" in data:
            changes["title"] = str(data["title"] or "")
        if "test_plan" in data:
            changes["test_plan"] = data["test_plan"]
        if "app_id" in data:
            changes["app_id"] = data["app_id"]
        if "app_blob" in data:
            blob = data["app_blob"]
            changes["app_blob"] = None if blob is None else base64.b64decode(blob)
        if "flags" in data:
            changes["flags"] = set(data["flags"])
        for name, value in changes.items():
            setattr(self.metadata, name, value)

    def _phase(self, data: dict[str, Any]) -> None:
        name = str(data["name"])
        jobs = [str(i) for i in data["jobs"]]
        mandatory = [str(i) for i in data.get("mandatory", ())]
        self.phases[name] = jobs
        for job_id in mandatory:
            if job_id not in self.mandatory_job_list:
                self.mandatory_job_list.append(job_id)

    def _job_started(self, data: dict[str, Any]) -> None:
        job_id = str(data["job"])
        state = self._job_state(job_id)
        state.checksum = data.get("checksum")
        self.attempts += 1
        self.metadata.running_job = job_id
        self.metadata.last_job_start_time = data.get("started")

    def _job_abandoned(self, data: dict[str, Any]) -> None:
        if self.metadata.running_job == data["job"]:
            self.metadata.running_job = None

    def _job_finished(self, data: dict[str, Any]) -> None:
        job_id = str(data["job"])
        result = JobResult.from_record(job_id, data["result"])
        resources = (
            [dict(r) for r in data["resources"]] if "resources" in data else None
        )
        state = self._job_state(job_id)
        state.checksum = data.get("checksum")
        state.results.append(result)
        if len(state.results) == 1:
            self.execution_order.append(job_id)
        if resources is not None:
            self.resource_map[job_id] = resources
        if self.metadata.running_job == job_id:
            self.metadata.running_job = None

    def _session_finished(self, data: dict[str, Any]) -> None:
        self.metadata.finished = float(data["finished"])
        self.metadata.flags.discard(FLAG_INCOMPLETE)
        self.metadata.flags.discard(FLAG_BOOTSTRAPPING)
        self.metadata.running_job = None

    def _job_state(self, job_id: str) -> JobState:
        state = self.job_state_map.get(job_id)
        if state is None:
            state = self.job_state_map[job_id] = JobState(job_id)
        return state

    # -- conveniences built on record() -------------------------------------

    def update_job_result(
        self,
        job: JobDefinition,
        result: JobResult,
        resources: Sequence[dict[str, str]] | None = None,
    ) -> None:
        """Record a finished attempt at ``job``."""
        data: dict[str, Any] = {
            "job": job.id,
            "checksum": job.checksum,
            "result": result.to_record(),
        }
        if resources is not None:
            data["resources"] = [dict(r) for r in resources]
        self.record("job-finished", data)

    def set_title(self, title: str) -> None:
        self.record("metadata", {"title": title})

    def set_flags(self, flags: Iterable[str]) -> None:
        self.record("metadata", {"flags": sorted(set(flags))})

    def set_app_blob(self, blob: bytes | None) -> None:
        encoded = None if blob is None else base64.b64encode(blob).decode("ascii")
        self.record("metadata", {"app_blob": encoded})

    # -- questions --------------------------------------------------------------

    def result_of(self, job_id: str) -> JobResult | None:
        state = self.job_state_map.get(job_id)
        return state.result if state is not None else None

    def results_in_order(self) -> list[tuple[JobState, JobResult]]:
        """Every job with a result and its latest result, in execution order."""
        pairs = []
        for job_id in self.execution_order:
            state = self.job_state_map[job_id]
            if state.result is not None:
                pairs.append((state, state.result))
        return pairs

    def changed_jobs(self) -> list[str]:
        """Jobs with results whose definition changed since they ran."""
        return [
            s.job_id
            for s in self.job_state_map.values()
            if (s.results or s.job_id == self.metadata.running_job) and s.changed
        ]

    def outcome_counts(self) -> dict[Outcome, int]:
        counts: dict[Outcome, int] = {}
        for _, result in self.results_in_order():
            counts[result.outcome] = counts.get(result.outcome, 0) + 1
        return counts

    @property
    def failed(self) -> bool:
        """True when some job's latest result is a failure or a crash."""
        return any(r.outcome in FAILING_OUTCOMES for _, r in self.results_in_order())


_HANDLERS: dict[str, Callable[[SessionState, dict[str, Any]], None]] = {
    "session-started": SessionState._session_started,
    "metadata": SessionState._metadata,
    "phase": SessionState._phase,
    "job-started": SessionState._job_started,
    "job-abandoned": SessionState._job_abandoned,
    "job-finished": SessionState._job_finished,
    "session-finished": SessionState._session_finished,
}
