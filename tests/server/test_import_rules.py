"""Importing a HEASARC index: rows are checked before anything is imported, names normalised."""

import dataclasses
import math

import pytest

from caldb_server.errors import ValidationFailed
from tests.helpers import SWIFT_XRT_GAIN_ROW, cif_row, import_index, write_index

ROW = SWIFT_XRT_GAIN_ROW
SEARCH = "/api/v1/search?mission=SWIFT&instrument=XRT&codename=GAIN&date=-"


BAD_ROWS = {
    "negative extension": ([dataclasses.replace(ROW, cal_xno=-1)], "CAL_XNO"),
    "negative quality": ([dataclasses.replace(ROW, cal_qual=-1)], "CAL_QUAL -1 is negative"),
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
        import_index(app, write_index(tmp_path, good, *rows))
    assert any(reason in error["reason"] for error in refused.value.errors), refused.value.errors
    assert client.get(SEARCH).get_json()["nfound"] == 0


def test_a_file_name_already_stored_elsewhere_in_the_index_is_refused(app, client, tmp_path):
    import_index(app, write_index(tmp_path, ROW))
    moved = dataclasses.replace(ROW, cal_dir="data/swift/xrt/bcf/moved")
    with pytest.raises(ValidationFailed, match="already stored in data/swift/xrt/bcf/gain"):
        import_index(app, write_index(tmp_path, moved))
    assert client.get(SEARCH).get_json()["nfound"] == 1


def test_names_are_upper_cased_so_every_search_path_agrees(app, client, tmp_path):
    import_index(app, write_index(tmp_path, cif_row(detnam="ccd1", cal_cnam="gain")))
    plain = client.get(f"{SEARCH}&detector=CCD1").get_json()
    explained = client.get(f"{SEARCH}&detector=CCD1&explain=true").get_json()
    assert [r["detnam"] for r in plain["results"]] == ["CCD1"]
    assert plain["results"] == explained["results"]
