"""The MXT calibration readers on the demonstration files, and on broken ones: every
defect is a CalibrationFormatError naming the file and the HDU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from pipeline_bricks.mxt import caldata
from pipeline_bricks.mxt.caldata import CalibrationFormatError


def test_the_demonstration_files_read_as_documented(demo):
    teldef = caldata.read_teldef(demo / "svmxt_teldef_20250601v001.fits", 0)
    assert teldef.alignm[0, 2] == pytest.approx(0.000232710561287817)
    gains = caldata.read_gain(demo / "svmxt_gain_20250601v001.fits")
    assert gains.gain_ev_per_adu.shape == (256,)
    assert 4.9 < np.median(gains.gain_ev_per_adu) / 1.015 < 5.1
    cti = caldata.read_cti(demo / "svmxt_cti_20250601v001.fits")
    assert (cti.norm, cti.e0_kev, cti.index, cti.n_offset) == (1.2e-4, 1.0, 0.3, 0)
    assert cti.at(1.0) == pytest.approx(1.2e-4)
    bad = caldata.read_badpix(demo / "svmxt_badpix_20240622v001.fits")
    assert bad.mask(caldata.DEAD_TYPE).sum() == 6
    assert bad.mask().sum() > 256  # a whole bad column and a partial one
    psf = caldata.read_psf(demo / "svmxt_psf_20240622v001.fits")
    assert psf.centre == (255, 255)
    assert psf.image.sum() == pytest.approx(0.999676, abs=1e-5)
    arf = caldata.read_specresp(demo / "svmxt_specresp_20240622v001.arf")
    assert arf.area_cm2.max() == pytest.approx(45.2, abs=0.1)
    rmf = caldata.read_rmf(demo / "svmxt_matrix_20240622v001.rmf")
    assert rmf.matrix.shape == (980, 1024)
    assert np.allclose(rmf.matrix.sum(axis=1), 1.0, atol=4e-4)
    assert rmf.channel_lo_kev[150] == pytest.approx(1.5)
    peak = rmf.matrix[np.searchsorted(rmf.energ_lo_kev, 5.9) - 1].argmax()
    assert rmf.channel_lo_kev[peak] == pytest.approx(5.89, abs=0.011)
    vignet = caldata.read_vignet(demo / "svmxt_vignet_20240622v001.fits")
    assert vignet.at(30.0, 1.0) == pytest.approx(0.90, abs=0.005)
    thresholds = caldata.read_evtthr(demo / "MXT_EVTTHR_20240701T000000_V02.yaml")
    assert thresholds == caldata.EventThresholds(24, 12, 3000, 0.1)


def rewrite(source: Path, target: Path, change) -> Path:
    with fits.open(source) as hdus:
        change(hdus)
        hdus.writeto(target)
    return target


def drop_column(name):
    def change(hdus):
        hdus[1] = fits.BinTableHDU.from_columns(
            [c for c in hdus[1].columns if c.name != name], header=hdus[1].header
        )

    return change


def set_keyword(hdu, keyword, value):
    def change(hdus):
        hdus[hdu].header[keyword] = value

    return change


def negative_gain(hdus):
    hdus[1].data["GAIN"][3] = -1.0


GAIN, CTI = "svmxt_gain_20250601v001.fits", "svmxt_cti_20250601v001.fits"
BADPIX = "svmxt_badpix_20240622v001.fits"
ARF = "svmxt_specresp_20240622v001.arf"


@pytest.mark.parametrize(
    ("name", "reader", "change", "message"),
    [
        (GAIN, caldata.read_gain, drop_column("OFFSET"), "no OFFSET"),
        (GAIN, caldata.read_gain, negative_gain, "GAIN must be"),
        (CTI, caldata.read_cti, set_keyword(1, "CTI_NORM", 0.5), "CTI_NORM"),
        (CTI, caldata.read_cti, set_keyword(1, "CTI_E0", "x"), "not a number"),
        (BADPIX, caldata.read_badpix, drop_column("YEXTENT"), "no YEXTENT"),
        ("svmxt_psf_20240622v001.fits", caldata.read_psf, set_keyword(1, "CRPIX1", 9999), "CRPIX"),
        (ARF, caldata.read_specresp, drop_column("SPECRESP"), "no SPECRESP"),
        ("svmxt_vignet_20240622v001.fits", caldata.read_vignet, drop_column("THETA"), "no THETA"),
    ],
)  # fmt: skip
def test_a_broken_file_is_named_with_its_defect(demo, tmp_path, name, reader, change, message):
    broken = rewrite(demo / name, tmp_path / name, change)
    with pytest.raises(CalibrationFormatError, match=message) as raised:
        reader(broken)
    assert name in str(raised.value)


def test_a_teldef_without_its_alignment_is_refused(demo, tmp_path):
    def change(hdus):
        del hdus[0].header["ALIGNM22"]

    broken = rewrite(demo / "svmxt_teldef_20250601v001.fits", tmp_path / "t.fits", change)
    with pytest.raises(CalibrationFormatError, match=r"t\.fits\[0\]: TELDEF keyword ALIGNM22"):
        caldata.read_teldef(broken, 0)


def test_a_missing_hdu_a_non_fits_file_and_a_bad_yaml_are_refused(demo, tmp_path):
    with pytest.raises(CalibrationFormatError, match="has no HDU 7"):
        caldata.read_gain(demo / "svmxt_gain_20250601v001.fits", 7)
    (tmp_path / "junk.fits").write_bytes(b"SIMPLE  = nonsense")
    with pytest.raises(CalibrationFormatError, match=r"cannot read junk\.fits"):
        caldata.read_cti(tmp_path / "junk.fits")
    (tmp_path / "thr.yaml").write_text("event_threshold_adu: [1, 2]\n")
    with pytest.raises(CalibrationFormatError, match="not an EVTTHR file"):
        caldata.read_evtthr(tmp_path / "thr.yaml")


def test_an_rmf_without_ebounds_is_refused(demo, tmp_path):
    def change(hdus):
        del hdus["EBOUNDS"]

    broken = rewrite(demo / "svmxt_matrix_20240622v001.rmf", tmp_path / "m.rmf", change)
    with pytest.raises(CalibrationFormatError, match="no EBOUNDS"):
        caldata.read_rmf(broken)
