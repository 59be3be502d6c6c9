"""Importing a HEASARC index: rows are checked before anything is imported, names normalised."""

import dataclasses
import math

import pytest

from caldb_server.errors import ValidationFailed
from caldb_server.heasarc.cif import CifRow, write_cif
from tests.helpers import import_index

ROW = CifRow(
    telescop="SWIFT",
    instrume="XRT",
    detnam="NONE",
    filter="NONE",
    cal_dev="ONLINE",
    cal_dir="data/swift/xrt/bcf/gain",
    cal_file="gain.fits",
    cal_clas="BCF",
    cal_dtyp="DATA",
    cal_cnam="GAIN",
    cal_cbd=("NONE",) * 9,
    cal_xno=1,
    cal_vsd="2020-01-01",
    cal_vst="00:00:00",
    ref_time=58849.0,
    cal_qual=0,
    cal_date="2020-01-02",
    cal_desc="gain",
)
SEARCH = "/api/v1/search?mission=SWIFT&instrument=XRT&codename=GAIN&date=-"


def cif(tmp_path, *rows):
    path = tmp_path / "caldb.indx"
    write_cif(rows, path, caldbver="20260101")
    return path


BAD_ROWS = {
    "negative extension": ([dataclasses.replace(ROW, cal_xno=-1)], "CAL_XNO"),
    "REF_TIME not a number": ([dataclasses.replace(ROW, ref_time=math.nan)], "REF_TIME"),
    "REF_TIME contradicts the validity date": (
        [dataclasses.replace(ROW, ref_time=58850.0)],
        "REF_TIME",
    ),
    "directory outside data/": (
        [dataclasses.replace(ROW, cal_dir="software/tools")],
        "not under data/",
    ),
    "bad validity time": ([dataclasses.replace(ROW, cal_vst="25:00:00")], "CAL_VSD/CAL_VST"),
    "one name in two directories": (
        [ROW, dataclasses.replace(ROW, cal_dir="data/swift/xrt/bcf/other", cal_xno=2)],
        "several directories",
    ),
}


@pytest.mark.parametrize(("rows", "reason"), BAD_ROWS.values(), ids=BAD_ROWS)
def test_bad_rows_are_refused_and_nothing_is_imported(app, client, tmp_path, rows, reason):
    good = dataclasses.replace(ROW, cal_file="other.fits", cal_dir="data/swift/xrt/bcf/gain")
    with pytest.raises(ValidationFailed) as refused:
        import_index(app, cif(tmp_path, good, *rows))
    assert any(reason in error["reason"] for error in refused.value.errors), refused.value.errors
    assert client.get(SEARCH).get_json()["nfound"] == 0


def test_a_file_name_already_stored_elsewhere_in_the_index_is_refused(app, client, tmp_path):
    import_index(app, cif(tmp_path, ROW))
    moved = dataclasses.replace(ROW, cal_dir="data/swift/xrt/bcf/moved")
    with pytest.raises(ValidationFailed, match="already stored in data/swift/xrt/bcf/gain"):
        import_index(app, cif(tmp_path, moved))
    assert client.get(SEARCH).get_json()["nfound"] == 1


def test_names_are_upper_cased_so_every_search_path_agrees(app, client, tmp_path):
    import_index(app, cif(tmp_path, dataclasses.replace(ROW, detnam="ccd1", cal_cnam="gain")))
    plain = client.get(f"{SEARCH}&detector=CCD1").get_json()
    explained = client.get(f"{SEARCH}&detector=CCD1&explain=true").get_json()
    assert [r["detnam"] for r in plain["results"]] == ["CCD1"]
    assert plain["results"] == explained["results"]
