"""The CALDB selection rules (quzcif semantics), shared by the server and the client.

Pure Python with no dependency: the server applies it to catalogue rows, the CaDBIO
client's offline mode to its cached copy of the index, so both always answer alike.
"""

from caldb_selection.boundaries import (
    Boundary,
    BoundaryError,
    boundaries_overlap,
    format_boundary,
    parse_boundary,
)
from caldb_selection.expression import ANY, Expression, ExpressionError, parse_expression
from caldb_selection.select import Candidate, Query, Reason, Rejection, Selection, select
from caldb_selection.timespec import (
    AS_OF_PATTERN,
    TimeSpecError,
    normalise_validity_date,
    parse_as_of,
    parse_time_of_day,
    ref_time,
    requested_mjd,
)

__all__ = [
    "ANY",
    "AS_OF_PATTERN",
    "Boundary",
    "BoundaryError",
    "Candidate",
    "Expression",
    "ExpressionError",
    "Query",
    "Reason",
    "Rejection",
    "Selection",
    "TimeSpecError",
    "boundaries_overlap",
    "format_boundary",
    "normalise_validity_date",
    "parse_as_of",
    "parse_boundary",
    "parse_expression",
    "parse_time_of_day",
    "ref_time",
    "requested_mjd",
    "select",
]
