"""What the dataset page shows of a stored file: its content, and what changed.

Plain functions over paths and texts, for the web interface; no Flask, no database.

- :func:`describe_file`: each HDU of a FITS file, its header cards and a summary of its data
  (table columns with units and ranges, an image's range and a PNG thumbnail);
- :func:`compare_files`: a FITS file against its previous version (astropy's FITSDiff),
  header cards added, removed and changed, and data differences, per HDU;
- :func:`compare_yaml`: an onboard YAML file against its previous version, a unified diff.

A file that cannot be read raises :class:`InspectionError`, whose message is one sentence
for the page.
"""

from caldb_server.inspect.cards import Card
from caldb_server.inspect.compare import (
    IGNORED_KEYWORDS,
    Comparison,
    HduComparison,
    HduRef,
    compare_files,
)
from caldb_server.inspect.data_changes import (
    ColumnAttributeChange,
    ColumnChange,
    ImageChanges,
    TableChanges,
)
from caldb_server.inspect.describe import (
    MAX_CARDS,
    MAX_SCANNED_PIXELS,
    MAX_SCANNED_ROWS,
    ColumnSummary,
    FileDescription,
    HduDescription,
    ImageSummary,
    TableSummary,
    describe_file,
)
from caldb_server.inspect.header_changes import HeaderChanges, KeywordChange
from caldb_server.inspect.reading import InspectionError
from caldb_server.inspect.values import ValueRange
from caldb_server.inspect.yaml_diff import DiffLine, compare_yaml

__all__ = [
    "IGNORED_KEYWORDS",
    "MAX_CARDS",
    "MAX_SCANNED_PIXELS",
    "MAX_SCANNED_ROWS",
    "Card",
    "ColumnAttributeChange",
    "ColumnChange",
    "ColumnSummary",
    "Comparison",
    "DiffLine",
    "FileDescription",
    "HduComparison",
    "HduDescription",
    "HduRef",
    "HeaderChanges",
    "ImageChanges",
    "ImageSummary",
    "InspectionError",
    "KeywordChange",
    "TableChanges",
    "TableSummary",
    "ValueRange",
    "compare_files",
    "compare_yaml",
    "describe_file",
]
