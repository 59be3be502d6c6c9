"""HEASARC CALDB file formats: the Calibration Index File and the CALDB configuration files.

These are the files HEASoft tools (quzcif, HDgtcalf, udcif) read, so a CALDB published by
this server can be used with ``$CALDB``, ``$CALDBCONFIG`` and ``$CALDBALIAS`` unchanged.
"""

from caldb_server.heasarc.cif import (
    CBD_SLOTS,
    CBD_WIDTH,
    CIF_COLUMNS,
    CifFormatError,
    CifIndex,
    CifProblem,
    CifRow,
    read_cif,
    write_cif,
)
from caldb_server.heasarc.config_files import (
    format_caldb_config,
    parse_caldb_config,
    read_alias_config,
    write_alias_config,
)

__all__ = [
    "CBD_SLOTS",
    "CBD_WIDTH",
    "CIF_COLUMNS",
    "CifFormatError",
    "CifIndex",
    "CifProblem",
    "CifRow",
    "format_caldb_config",
    "parse_caldb_config",
    "read_alias_config",
    "read_cif",
    "write_alias_config",
    "write_cif",
]
