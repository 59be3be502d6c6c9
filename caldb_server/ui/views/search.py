"""The search page ``/search``: the API's search as a form, its answer as a table.

The form is a GET form whose fields carry the API's parameter names, so the page URL holds
the query (to share it) and ``/api/v1/search`` with the same query string gives the same
answer as JSON. The parameters are read by the API's own parser and answered by the API's
own service. A field left empty means its default: the page redirects to the query without
it (a shorter URL to share). A refused search shows every problem above the form, kept
filled, with the status the API gives: 422 for bad parameters, 404 for an unknown mission,
instrument or codename (with links that search with each known name).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import Response, redirect, request, url_for
from werkzeug.datastructures import MultiDict

from caldb_server.auth.access import readable
from caldb_server.catalogue.quality import quality_words
from caldb_server.db import utcnow
from caldb_server.errors import NotFound, ValidationFailed
from caldb_server.instruments.service import describe_instruments
from caldb_server.search.names import check_known_names
from caldb_server.search.params import PARAMETERS, parse_search_params
from caldb_server.search.service import SearchAnswer, SearchRequest
from caldb_server.ui.blueprint import blueprint
from caldb_server.ui.commands import caldbio_command, quzcif_command
from caldb_server.ui.pages import page
from caldb_server.ui.reasons import instant_words, reason_words, utc_words
from caldb_server.web import db_session, extension, parse_flag, request_time

__all__ = ["search"]


@dataclass(frozen=True)
class Field:
    """A text field of the form: API parameter, label, hint, longest value, known names."""

    name: str
    label: str
    hint: str
    maxlength: int | None = None
    datalist: str | None = None
    required: bool = False


FIELDS = (
    Field("instrument", "Instrument", "e.g. MXT", 10, "known-instruments", required=True),
    Field("codename", "Codename", "e.g. GAIN", 20, "known-codenames", required=True),
    Field("date", "Date", "now (default), YYYY-MM-DD, an ISO date-time, dd/mm/yy, or - for all"),
    Field(
        "time", "Time", "hh:mm:ss (UTC); by default the current time with now, midnight with a day"
    ),
    Field("detector", "Detector", "DETNAM, or - for any (default)", 20),
    Field("filter", "Filter", "FILTER, or - for any (default)", 10),
    Field("expr", "Boundary expression", "e.g. energy.eq.1.5.and.grade.le.12, or -"),
    Field("as_of", "As of", "replay the answer given at this UTC instant (ISO 8601)"),
    Field("mission", "Mission", "SVOM (default)", 10, "known-missions"),
)
LABELS = {field.name: field.label for field in FIELDS} | {"explain": "Explain", "maxret": "maxret"}
ON_THE_FORM = frozenset({field.name for field in FIELDS} | {"explain"})


@dataclass(frozen=True)
class Outcome:
    """What the page shows of an answer."""

    nfound: int
    rows: list[dict[str, Any]]
    losers: list[dict[str, Any]]
    explain: bool
    epoch: str | None
    as_of: str | None
    answered_at: str
    replay_url: str
    json_url: str
    caldbio: str
    quzcif: str


def _known_names(mission_name: str, instrument_name: str) -> dict[str, list[tuple[str, str]]]:
    """Names for the fields' suggestions: missions, the mission's instruments, codenames."""
    described = describe_instruments(db_session(), extension().registry)["missions"]
    mission = next((m for m in described if m["name"] == mission_name), None)
    instruments = mission["instruments"] if mission else []
    chosen = [i for i in instruments if i["name"] == instrument_name] or instruments
    codenames = {c["name"]: c["description"] for i in chosen for c in i["codenames"] + i["onboard"]}
    aliases = [
        (alias, " + ".join(targets))
        for alias, targets in (mission or {}).get("aliases", {}).items()
    ]
    return {
        "known-missions": [(m["name"], m["description"]) for m in described],
        "known-instruments": [(i["name"], i["description"]) for i in instruments] + aliases,
        "known-codenames": sorted(codenames.items()),
    }


def _query(given: MultiDict[str, str]) -> dict[str, Any]:
    """The search parameters of ``given`` (only those: url_for reads ``_anchor`` & co.)."""
    return {name: value for name, value in given.items() if name in PARAMETERS}


def _problems(
    error: ValidationFailed | NotFound, given: MultiDict[str, str]
) -> list[dict[str, Any]]:
    """Each refused parameter with its label, and links that retry with each known name."""
    problems = []
    for item in error.errors:
        field = item.get("field", "")
        retry = [
            (name, url_for("ui.search", **{**_query(given), field: name}))
            for name in item.get("known", [])
        ]
        problems.append(
            {
                "field": field,
                "label": LABELS.get(field, field),
                "anchor": f"f-{field}" if field in ON_THE_FORM else None,
                "reason": item["reason"],
                "known": retry,
            }
        )
    return problems


def _values(candidate: Any) -> Any:
    """A losing candidate's columns (a result row, or a namespace for ``as_of``)."""
    return candidate._asdict() if hasattr(candidate, "_asdict") else vars(candidate)


def _row(values: Any) -> dict[str, Any]:
    """What the tables show of a dataset."""
    boundaries = [cbd for cbd in values["cal_cbd"] if cbd.upper() != "NONE"]
    return {
        "id": values["id"],
        "file": values["cal_file"],
        "xno": values["cal_xno"],
        "start": utc_words(values["ref_time"]),
        "detector": values["detnam"],
        "filter": values["filter"],
        "boundaries": boundaries,
        "quality": values["cal_qual"],
        "quality_words": quality_words(values["cal_qual"]),
        "description": values["cal_desc"],
    }


def _outcome(
    given: MultiDict[str, str], asked: SearchRequest, answer: SearchAnswer, answered_at: datetime
) -> Outcome:
    params = _query(given)
    losers = [
        _row(_values(rejection.candidate))
        | {"why": reason_words(rejection, asked.query, answer.epoch_mjd)}
        for rejection in answer.rejections
    ]
    root = extension().settings.public_url or request.url_root.rstrip("/")
    return Outcome(
        nfound=answer.nfound,
        rows=[_row(values) for values in answer.results],
        losers=losers,
        explain=asked.explain,
        epoch=utc_words(answer.epoch_mjd) if answer.epoch_mjd is not None else None,
        as_of=instant_words(asked.as_of) if asked.as_of else None,
        answered_at=instant_words(answered_at.replace(microsecond=0)),
        replay_url=url_for("ui.search", **{**params, "as_of": answered_at.isoformat()}),
        json_url=url_for("search.search_view", **params),
        caldbio=caldbio_command(params, root, explain=asked.explain),
        quzcif=quzcif_command(params),
    )


def _without_empty_fields(args: MultiDict[str, str]) -> Response:
    """Redirect to the same query without the fields left empty, a shorter URL to share."""
    given = [(name, value) for name, value in args.items(multi=True) if value != ""]
    target = f"{request.path}?{urlencode(given)}" if given else request.path
    return redirect(target)  # type: ignore[return-value]


def _form_context(args: MultiDict[str, str]) -> dict[str, Any]:
    """What the page shows with or without an answer: the form, filled, and known names."""
    form = {name: args.get(name, "") for name in LABELS}
    try:
        explain_checked = parse_flag(form["explain"] or "false")
    except ValueError:
        explain_checked = False
    return {
        "fields": FIELDS,
        "form": form,
        "explain_checked": explain_checked,
        "known": _known_names(form["mission"].upper() or "SVOM", form["instrument"].upper()),
        "problems": [],
        "invalid": set(),
        "outcome": None,
        "first_visit": not args,
    }


@blueprint.get("/search")
@readable
def search() -> Response:
    """The search form; with a query, its answer (and with Explain, why others lost)."""
    if any(value == "" for value in request.args.values()):
        return _without_empty_fields(request.args)
    context = _form_context(request.args)
    if context["first_visit"]:
        return page("search.html", **context)
    registry = extension().registry
    try:
        asked = parse_search_params(request.args, registry, request_time())
        check_known_names(db_session(), registry, asked)
    except (ValidationFailed, NotFound) as error:
        problems = _problems(error, request.args)
        invalid = {problem["field"] for problem in problems}
        return page(
            "search.html", error.status, **context | {"problems": problems, "invalid": invalid}
        )
    answered_at = utcnow()  # as the API: the catalogue at this instant is what is read
    answer = extension().search_cache.search(db_session(), asked)
    return page(
        "search.html", **context | {"outcome": _outcome(request.args, asked, answer, answered_at)}
    )
