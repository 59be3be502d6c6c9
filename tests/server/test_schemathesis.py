"""The server and its OpenAPI document agree: schemathesis against a live server.

Every operation of ``schemas/openapi.yaml`` is exercised over real HTTP, on SQLite and on
PostgreSQL, with every schemathesis check (no server error; documented status codes,
content types, headers and bodies; valid data accepted and invalid data refused; no
ignored authentication; unsupported methods answered 405 with ``Allow``...), through its
examples, coverage and fuzzing phases, positive and negative. Requests carry an admin
token (admin holds every role), so that the authenticated operations are reached; the
checks also send them without it.

One rule is adapted rather than taken as is: "valid data is accepted". For five
operations, validity goes beyond what JSON Schema can state (the document says so in its
descriptions): a search's calendar dates, its ``time`` beside a date-time, its expression
terms and ``as_of`` range; an upload's file content; a usage record's selections (each a
search, of a dataset the catalogue holds); a webhook URL's host (it must resolve to
public addresses). A 422 that names only those is not a disagreement; any other refusal
of schema-valid data still fails.

A stateful run then chains operations by the links schemathesis infers from the document
(an upload's dataset id into a GET, PATCH or download; a created user into its GET and
PATCH), so that the checks about resources (use after free, availability) run too.

The figures (operations, examples, failures, time) are printed per backend at the end of
the run (tests/server/conftest.py), with or without pytest-xdist.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis import Case, CheckContext, Response
from schemathesis.openapi.checks import RejectedPositiveData

from caldb_common.resources import schema_path
from caldb_server.db import Base
from caldb_server.web import extension
from tests.helpers import MXT_GAIN, bearer, calfile_bytes, upload
from tests.server.test_onboard import EVTTHR, send

MAX_EXAMPLES = 30  # fuzzing examples per operation and mode: bounds the run per backend
MAX_SCENARIOS, MAX_STEPS = 25, 6  # stateful: sequences of calls linked by their answers
SEED = 20250301

# Fields whose rules JSON Schema cannot state, by operation (see the module docstring).
# Upload refusals name the file (or its HDUs and keywords, or YAML paths), never supersede.
BEYOND_SCHEMA: dict[str, Callable[[str | None], bool]] = {
    "GET /search": lambda name: name in {"date", "time", "expr", "as_of"},
    "POST /files": lambda name: name != "supersede",
    "POST /onboard": lambda name: True,
    # a usage record's instant, and each selection: a search's rules, and its dataset stored
    "POST /usage": lambda name: name == "finished_at" or str(name).startswith("selections/"),
    "POST /subscriptions": lambda name: name == "url",  # its host must resolve, publicly
}


@dataclass
class Figures:
    """What one test did on one backend: examples and failing ones, time taken."""

    backend: str
    stateful: bool = False
    examples: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)

    def record(self) -> dict[str, Any]:
        """A plain record for the test report (it crosses pytest-xdist's process boundary)."""
        return {
            "backend": self.backend,
            "stateful": self.stateful,
            "examples": dict(self.examples),
            "failures": dict(self.failures),
            "seconds": time.monotonic() - self.started,
        }


def summary(records: list[dict[str, Any]]) -> list[str]:
    """One line per backend: operations, examples, stateful calls, failures, time.

    Printed at the end of the run by ``pytest_terminal_summary`` in tests/server/conftest.py
    from the records of the test reports.
    """
    lines = []
    for backend in sorted({r["backend"] for r in records}):
        mine = [r for r in records if r["backend"] == backend]
        fuzzed = [r for r in mine if not r["stateful"]]
        stateful = sum(sum(r["examples"].values()) for r in mine if r["stateful"])
        failures: Counter[str] = Counter()
        for record in mine:
            failures.update(record["failures"])
        failing = ", ".join(f"{op}: {n}" for op, n in sorted(failures.items())) or "none"
        lines.append(
            f"schemathesis [{backend}]: {len({op for r in fuzzed for op in r['examples']})} "
            f"operations, {sum(sum(r['examples'].values()) for r in fuzzed)} examples + "
            f"{stateful} stateful calls, failing examples: {failing}; "
            f"{sum(r['seconds'] for r in mine):.0f} s"
        )
    return lines


def _config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True},
            "checks": {"enabled": True},
        }
    )


def _beyond_schema_only(case: Case, response: Response) -> bool:
    """Whether a 422 names only rules the document states in prose (BEYOND_SCHEMA)."""
    allowed = BEYOND_SCHEMA.get(case.operation.label)
    if allowed is None or response.status_code != 422:
        return False
    errors = response.json().get("errors") or [{}]
    return all(allowed(error.get("field")) for error in errors)


def positive_data_acceptance(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """schemathesis's own check, but for refusals by rules beyond JSON Schema."""
    try:
        return schemathesis.checks.positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if _beyond_schema_only(case, response):
            return None
        raise


def _seed(app: Flask, headers: dict[str, str]) -> None:
    """What the document's examples name: datasets 1 (FITS) and 2 (onboard), user alice."""
    client = app.test_client()
    assert upload(client, calfile_bytes(MXT_GAIN), "mxt_gain.fits", headers=headers).status_code
    assert send(client, "MXT_EVTTHR_20250301T120000_V01.yaml", EVTTHR, headers).status_code
    user = {"name": "alice", "role": "reader", "password": "a password for the examples"}
    assert client.post("/api/v1/users", json=user, headers=headers).status_code == 201


@pytest.fixture
def figures(backend: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[Figures]:
    """The figures of one test, put in its report for the end-of-run summary."""
    record = Figures(backend["name"])
    yield record
    request.node.user_properties.append(("schemathesis", record.record()))


@dataclass(frozen=True)
class LiveApi:
    base_url: str
    headers: dict[str, str]


@pytest.fixture
def live_api(app: Flask, live_server: str, make_token: Callable[..., str]) -> LiveApi:
    """The live server with a seeded catalogue, and an admin's headers."""
    headers = bearer(make_token("admin", subject="fuzzer"))
    _seed(app, headers)
    return LiveApi(f"{live_server}/api/v1", headers)


schema = schemathesis.openapi.from_path(schema_path("openapi.yaml"), config=_config())


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,  # the same examples on every run
    deadline=None,
    database=None,
    # One live server per operation serves all its examples, on purpose (a fresh one per
    # example would cost a database each), and one figures record counts them.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_the_server_answers_as_its_openapi_document_says(
    case: Case, live_api: LiveApi, figures: Figures
) -> None:
    figures.examples[case.operation.label] += 1
    try:
        case.call_and_validate(
            base_url=live_api.base_url,
            headers=live_api.headers,
            excluded_checks=[schemathesis.checks.positive_data_acceptance],
            additional_checks=[positive_data_acceptance],
        )
    except BaseException:  # schemathesis' FailureGroup is a BaseExceptionGroup
        figures.failures[case.operation.label] += 1
        raise


def _reset(app: Flask, headers: dict[str, str]) -> None:
    """Empty catalogue, users and tree, ids from 1 again, then the seed: a known start.

    Hypothesis replays the choices of a scenario and requires the same outcome; the
    server's answers depend on what earlier scenarios stored, so each starts afresh.
    """
    services = extension(app)
    with services.database.unit_of_work() as session:
        if session.bind.dialect.name == "postgresql":
            tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
            session.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        else:  # without AUTOINCREMENT, SQLite numbers rows from 1 in an empty table
            for table in reversed(Base.metadata.sorted_tables):
                session.execute(table.delete())
    for path in sorted((services.storage.root / "data").rglob("*"), reverse=True):
        if path.is_file():
            path.unlink()
    _seed(app, headers)


def test_chained_operations_answer_as_the_document_says(
    app: Flask, live_api: LiveApi, figures: Figures
):
    api = live_api
    figures.stateful = True

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            _reset(app, api.headers)

        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            return {"base_url": api.base_url, "headers": api.headers}

        def validate_response(
            self, response: Response, case: Case, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            figures.examples[case.operation.label] += 1
            try:
                case.validate_response(
                    response,
                    excluded_checks=[schemathesis.checks.positive_data_acceptance],
                    additional_checks=[positive_data_acceptance],
                    transport_kwargs=kwargs,
                    recorder=self.recorder,
                )
            except BaseException:  # schemathesis' FailureGroup is a BaseExceptionGroup
                figures.failures[case.operation.label] += 1
                raise

    run_state_machine_as_test(
        Workflow,
        settings=settings(
            max_examples=MAX_SCENARIOS,
            stateful_step_count=MAX_STEPS,
            derandomize=True,
            deadline=None,
            database=None,
        ),
    )
