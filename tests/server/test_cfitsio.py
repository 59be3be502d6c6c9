"""CFITSIO itself (HEASoft's FITS library) reads the CalDB over HTTP, as remote-CALDB users do."""

import io
import shutil
import subprocess

import pytest
from astropy.io import fits

from caldb_server.heasarc.cif import read_cif
from tests.helpers import MXT_GAIN, calfile_bytes, import_index, upload

SWIFT_INDEX = "/caldb/data/swift/xrt/caldb.indx"


@pytest.fixture
def fitscopy():
    path = shutil.which("fitscopy")
    if path is None:
        pytest.skip("CFITSIO's fitscopy is not installed (Debian package libcfitsio-bin)")
    return path


def _fitscopy(fitscopy, url, destination):
    result = subprocess.run(
        [fitscopy, url, f"!{destination}"], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfitsio_reads_the_index_over_http(app, live_server, heasarc_dir, tmp_path, fitscopy):
    import_index(app, heasarc_dir / "cif" / "swift_xrt_caldb.indx20160609")
    copy = tmp_path / "copy.fits"
    # CFITSIO asks for caldb.indx.gz and caldb.indx.Z first; their 404s must not stop it.
    _fitscopy(fitscopy, f"{live_server}{SWIFT_INDEX}", copy)
    with app.test_client().get(SWIFT_INDEX) as response:
        served = read_cif(io.BytesIO(response.get_data()))
    copied = read_cif(copy)
    assert copied.rows == served.rows
    assert len(copied.rows) == 699
    assert copied.caldbver == served.caldbver


def test_cfitsio_reads_a_calibration_file_over_http(
    client, uploader, live_server, tmp_path, fitscopy
):
    content = calfile_bytes(MXT_GAIN)
    assert upload(client, content, "mxt_gain_v1.fits", headers=uploader).status_code == 201
    copy = tmp_path / "gain.fits"
    path = "/caldb/data/svom/mxt/bcf/gain/mxt_gain_v1.fits"
    _fitscopy(fitscopy, f"{live_server}{path}[1]", copy)
    with fits.open(copy) as copied, fits.open(io.BytesIO(content)) as original:
        assert copied[1].header["CCNM0001"] == "GAIN"
        assert list(copied[1].data["RAWX"]) == list(original[1].data["RAWX"])
