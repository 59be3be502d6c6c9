"""mxt-products science: constant-S/N bins, Bayesian blocks, gaps, the OGIP light curve."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from pipeline_bricks.mxt.gti import gti_from_attitude
from pipeline_bricks.mxt.products import gaps as gp
from pipeline_bricks.mxt.products import lightcurve as lc
from pipeline_bricks.mxt.products.lightcurve_file import write_lightcurve_hdus

FRAME = 0.1  # s
TIME_KEYWORDS = {"TIMESYS": "TT", "MJDREFI": 57754, "MJDREFF": 0.00080074074}


def poisson_times(rng: np.random.Generator, rate: float, start: float, stop: float) -> np.ndarray:
    """Event times of a constant source, at MXT frame centres (several may share one)."""
    n = rng.poisson(rate * (stop - start))
    frames = np.floor(rng.uniform(start, stop, n) / FRAME)
    return np.sort((frames + 0.5) * FRAME)


def inside_one_gti(bins: lc.LightCurveBins, gti: tuple) -> bool:
    index = np.searchsorted(gti[0], bins.start, side="right") - 1
    return bool(np.all(index >= 0) and np.all(bins.stop <= np.asarray(gti[1])[index]))


GTI = (np.array([0.0, 600.0, 1500.0]), np.array([400.0, 1300.0, 1530.0]))


# --- constant S/N -----------------------------------------------------------------------


def test_constant_snr_bins_reach_the_target_and_respect_the_gaps() -> None:
    rng = np.random.default_rng(42)
    times = np.concatenate([poisson_times(rng, 2.0, a, b) for a, b in zip(*GTI, strict=True)])
    bins = lc.constant_snr_bins(rng.permutation(times), GTI, 5.0)
    assert int(bins.counts.sum()) == times.size
    assert inside_one_gti(bins, GTI)
    # The bins tile the GTIs exactly.
    assert float(np.sum(bins.exposure)) == pytest.approx(float(np.sum(GTI[1] - GTI[0])))
    np.testing.assert_allclose(bins.fracexp, 1.0)
    in_bin = np.searchsorted(times, bins.stop) - np.searchsorted(times, bins.start)
    np.testing.assert_array_equal(bins.counts, in_bin)
    assert np.all(bins.snr[bins.complete] >= 5.0)
    assert np.all(bins.counts[bins.complete] >= 25)
    # The last GTI (30 s, ~60 events) gives complete bins; unfinished tails were merged.
    assert np.all(bins.complete)
    for edge in GTI[1]:
        assert edge in bins.stop  # each GTI end closes a bin


def test_constant_snr_bins_with_background() -> None:
    rng = np.random.default_rng(5)
    gti = (np.array([0.0]), np.array([2000.0]))
    source = poisson_times(rng, 1.0, 0.0, 2000.0)
    background = poisson_times(rng, 0.5, 0.0, 2000.0)  # in the source region
    times = np.sort(np.concatenate([source, background]))
    model = lc.Background(rate_per_s=5.0, area_ratio=0.1, rate_error_per_s=0.05)
    bins = lc.constant_snr_bins(times, gti, 4.0, background=model)
    assert np.all(bins.snr[bins.complete] >= 4.0)
    np.testing.assert_allclose(bins.backv, 0.5)
    np.testing.assert_allclose(bins.backe, 0.005)
    assert int(bins.counts.sum()) == times.size
    mean_rate = np.sum(bins.rate * bins.exposure) / np.sum(bins.exposure)
    assert mean_rate == pytest.approx(1.0, abs=0.1)
    assert np.all(bins.error_hi > bins.error_lo)


def test_constant_source_has_no_drop_at_the_gap() -> None:
    rng = np.random.default_rng(2024)
    rate = 3.0
    gti = (np.array([0.0, 1000.0]), np.array([500.0, 1500.0]))
    times = np.concatenate([poisson_times(rng, rate, a, b) for a, b in zip(*gti, strict=True)])
    bins = lc.constant_snr_bins(times, gti, 6.0)
    pulls = (bins.rate - rate) / bins.error_hi
    assert np.all(np.abs(pulls) < 3.5)
    # Bins touching the gap (the merged one before it, the first one after it).
    before = int(np.flatnonzero(bins.stop == 500.0)[0])
    after = int(np.flatnonzero(bins.start == 1000.0)[0])
    for k in (before, after):
        assert abs(bins.rate[k] - rate) < 3 * bins.error_hi[k]
    # Each side of the gap averages to the true rate.
    for side in (bins.stop <= 500.0, bins.start >= 1000.0):
        mean = np.sum(bins.counts[side]) / np.sum(bins.exposure[side])
        assert mean == pytest.approx(rate, rel=0.06)


def test_unfinished_bins_are_merged_or_kept_and_flagged() -> None:
    gti = (np.array([0.0, 100.0]), np.array([50.0, 110.0]))
    times = np.concatenate([np.arange(0.05, 50.0, 1.0), [101.0, 105.0]])  # 50 + 2 events
    merged = lc.constant_snr_bins(times, gti, 4.0)  # 16 events per bin
    assert merged.counts.tolist() == [16, 16, 18, 2]
    assert merged.complete.tolist() == [True, True, True, False]  # the 10 s GTI is short
    kept = lc.constant_snr_bins(times, gti, 4.0, incomplete="keep")
    assert kept.counts.tolist() == [16, 16, 16, 2, 2]
    assert kept.complete.tolist() == [True, True, True, False, False]
    assert kept.stop[3] == 50.0
    # A GTI without any event is one empty, flagged bin (its exposure still counts).
    empty = lc.constant_snr_bins(times[:50], (np.array([0.0, 60.0]), np.array([50.0, 70.0])), 4.0)
    assert (empty.counts[-1], empty.exposure[-1], empty.complete[-1]) == (0, 10.0, False)
    assert empty.rate[-1] == 0.0
    assert empty.error_hi[-1] == pytest.approx((1 + np.sqrt(0.75)) / 10.0)


def test_bins_never_cut_between_events_of_the_same_frame() -> None:
    times = np.repeat(np.arange(0.05, 10.0, 0.1), 3)  # three events in every frame
    bins = lc.constant_snr_bins(times, (np.array([0.0]), np.array([10.0])), 2.0)  # 4 events
    assert np.all(bins.counts % 3 == 0)
    assert int(bins.counts.sum()) == times.size


# --- Bayesian blocks --------------------------------------------------------------------


def test_bayesian_blocks_find_a_step_and_nothing_in_a_constant_rate() -> None:
    rng = np.random.default_rng(7)
    gti = (np.array([0.0]), np.array([400.0]))
    step = np.concatenate(
        [poisson_times(rng, 2.0, 0.0, 200.0), poisson_times(rng, 8.0, 200.0, 400.0)]
    )
    blocks = lc.bayesian_block_bins(step, gti)
    assert len(blocks) >= 2
    assert blocks.start[0] == 0.0
    assert blocks.stop[-1] == 400.0
    assert np.min(np.abs(blocks.start[1:] - 200.0)) < 5.0
    assert int(blocks.counts.sum()) == step.size
    assert blocks.rate[0] == pytest.approx(2.0, rel=0.2)
    assert blocks.rate[-1] == pytest.approx(8.0, rel=0.1)
    # A constant rate: p0 = 0.05 is only indicative for event data (~1.5 % of 1000-event
    # light curves get a false change point); seeded trials, at most 2 of 20 split.
    short = (np.array([0.0]), np.array([200.0]))
    split = [
        len(lc.bayesian_block_bins(poisson_times(np.random.default_rng(seed), 5.0, 0, 200), short))
        for seed in range(100, 120)
    ]
    assert sum(n > 1 for n in split) <= 2
    assert split[0] == 1


def test_bayesian_blocks_stay_inside_each_gti() -> None:
    rng = np.random.default_rng(11)
    times = np.concatenate([poisson_times(rng, 1.0, a, b) for a, b in zip(*GTI, strict=True)])
    blocks = lc.bayesian_block_bins(times, GTI, p0=0.01)
    assert len(blocks) == 3  # a constant source: one block per GTI
    np.testing.assert_array_equal(blocks.start, GTI[0])
    np.testing.assert_array_equal(blocks.stop, GTI[1])
    assert int(blocks.counts.sum()) == times.size
    with_prior = lc.bayesian_block_bins(times, GTI, ncp_prior=50.0)
    assert len(with_prior) == 3
    background = lc.Background(rate_per_s=5.0, area_ratio=0.1)
    subtracted = lc.bayesian_block_bins(times, GTI, p0=0.01, background=background)
    np.testing.assert_allclose(subtracted.rate, blocks.rate - 0.5)


def test_binning_refuses_bad_input() -> None:
    gti = (np.array([0.0]), np.array([10.0]))
    for function in (lc.constant_snr_bins, lc.bayesian_block_bins):
        arguments = (3.0,) if function is lc.constant_snr_bins else ()
        with pytest.raises(ValueError, match="no event"):
            function([], gti, *arguments)
        with pytest.raises(ValueError, match="GTI list is empty"):
            function([1.0], ([], []), *arguments)
        with pytest.raises(ValueError, match="outside the GTIs"):
            function([1.0, 11.0], gti, *arguments)
        with pytest.raises(ValueError, match="finite"):
            function([1.0, np.nan], gti, *arguments)
        with pytest.raises(ValueError, match="pair"):
            function([1.0], [0.0, 1.0, 2.0], *arguments)
    with pytest.raises(ValueError, match="target_snr"):
        lc.constant_snr_bins([1.0], gti, 0.0)
    with pytest.raises(ValueError, match="incomplete"):
        lc.constant_snr_bins([1.0], gti, 3.0, incomplete="drop")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="p0"):
        lc.bayesian_block_bins([1.0], gti, p0=1.5)
    with pytest.raises(ValueError, match="ncp_prior"):
        lc.bayesian_block_bins([1.0], gti, ncp_prior=np.nan)
    with pytest.raises(ValueError, match="background rate"):
        lc.Background(rate_per_s=-1.0)
    with pytest.raises(ValueError, match="area_ratio"):
        lc.Background(rate_per_s=1.0, area_ratio=0.0)
    with pytest.raises(ValueError, match="error"):
        lc.Background(rate_error_per_s=-0.1)
    one = np.array([0.0])
    with pytest.raises(ValueError, match="exposures must be positive"):
        lc.LightCurveBins(one, one + 1, -one - 1, one.astype(int), one, one, one > 0)
    with pytest.raises(ValueError, match="at least one bin"):
        lc.LightCurveBins(*(np.array([]),) * 7)
    with pytest.raises(ValueError, match="sorted"):
        lc.LightCurveBins(one, one, one + 1, one.astype(int), one, one, one > 0)


# --- Gaps -------------------------------------------------------------------------------


def attitude_flags() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1 s rows 0..2999: slewing before 100 s, SAA 1000..1399 s, slew 2000..2059 then SAA
    2060..2199 s, rows 2500..2519 missing."""
    time = np.arange(3000.0)
    settled = ~((time < 100) | ((time >= 2000) & (time < 2060)))
    in_saa = ((time >= 1000) & (time < 1400)) | ((time >= 2060) & (time < 2200))
    keep = (time < 2500) | (time >= 2520)
    return time[keep], settled[keep], in_saa[keep]


def test_gaps_are_labelled_with_their_causes() -> None:
    time, settled, in_saa = attitude_flags()
    start, stop = gti_from_attitude(time, settled, in_saa)
    # telemetry loss 1700..1750 s while settled and out of the SAA
    start, stop = np.sort(np.append(start, 1750.0)), np.sort(np.append(stop, 1700.0))
    found = gp.find_gaps((start, stop), time, settled, in_saa, tstart=0.0, tstop=2999.0)
    assert [g.cause for g in found] == [
        "slew/not settled", "SAA", "no data", "slew/not settled", "SAA", "no data",
    ]  # fmt: skip
    assert found[0] == (0.0, 100.0, "slew/not settled")
    assert found[1] == (999.0, 1400.0, "SAA")
    assert found[2] == (1700.0, 1750.0, "no data")
    assert (found[3].start, found[4].stop) == (1999.0, 2200.0)
    assert found[3].stop == found[4].start  # slew then SAA: one gap split in two
    assert found[3].stop == pytest.approx(2059.5, abs=0.5)
    assert (found[5].start, found[5].stop) == (2499.0, 2520.0)  # the missing attitude rows
    assert all(isinstance(g, tuple) and len(g) == 3 for g in found)


def test_gaps_without_attitude_or_without_gaps() -> None:
    gti = (np.array([0.0, 50.0]), np.array([40.0, 100.0]))
    assert gp.find_gaps(gti) == [(40.0, 50.0, "no data")]
    assert gp.find_gaps(gti, tstart=-10.0, tstop=120.0) == [
        (-10.0, 0.0, "no data"), (40.0, 50.0, "no data"), (100.0, 120.0, "no data"),
    ]  # fmt: skip
    assert gp.find_gaps((np.array([0.0]), np.array([100.0]))) == []


def test_gaps_refuse_bad_input() -> None:
    gti = (np.array([0.0, 50.0]), np.array([40.0, 100.0]))
    time = np.arange(0.0, 100.0)
    ok = np.ones(100, dtype=bool)
    with pytest.raises(ValueError, match="GTI list is empty"):
        gp.find_gaps(([], []))
    with pytest.raises(ValueError, match="together"):
        gp.find_gaps(gti, time, ok)
    with pytest.raises(ValueError, match="differ in length"):
        gp.find_gaps(gti, time, ok[:10], ok)
    with pytest.raises(ValueError, match="boolean"):
        gp.find_gaps(gti, time, ok.astype(int), ok)
    with pytest.raises(ValueError, match="increasing"):
        gp.find_gaps(gti, time[::-1], ok, ok)
    with pytest.raises(ValueError, match="tstart"):
        gp.find_gaps(gti, tstart=10.0, tstop=5.0)
    with pytest.raises(ValueError, match="max_step_s"):
        gp.find_gaps(gti, time, ok, ~ok, max_step_s=0.0)


# --- OGIP light curve -------------------------------------------------------------------


def test_lightcurve_file_has_rate_gti_and_gaps(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    times = np.concatenate([poisson_times(rng, 2.0, a, b) for a, b in zip(*GTI, strict=True)])
    background = lc.Background(rate_per_s=1.0, area_ratio=0.05, rate_error_per_s=0.02)
    bins = lc.constant_snr_bins(times, GTI, 5.0, background=background)
    gaps = gp.find_gaps(GTI, tstart=-50.0, tstop=1600.0)
    extras = {**TIME_KEYWORDS, "OBS_ID": "sb25070101", "SNRTARG": (5.0, "target S/N")}
    hdus = write_lightcurve_hdus(bins, GTI, gaps, header_extras=extras)
    path = tmp_path / "src.lc"
    hdus.writeto(path)
    with fits.open(path) as read:
        assert [h.name for h in read] == ["PRIMARY", "RATE", "GTI", "GAPS"]
        rate = read["RATE"]
        assert rate.columns.names == [
            "TIME", "TIMEDEL", "RATE", "ERROR", "FRACEXP", "COUNTS", "BACKV", "BACKE",
        ]  # fmt: skip
        header = rate.header
        assert (header["HDUCLASS"], header["HDUCLAS1"], header["HDUCLAS2"]) == (
            "OGIP", "LIGHTCURVE", "NET",
        )  # fmt: skip
        assert (header["TIMESYS"], header["MJDREFI"], header["TIMEPIXR"]) == ("TT", 57754, 0.5)
        assert header["SNRTARG"] == 5.0
        assert header["EXPOSURE"] == pytest.approx(1130.0)
        assert header["TSTART"] == 0.0
        assert header["TSTOP"] == 1530.0
        np.testing.assert_allclose(rate.data["TIME"], bins.time)
        np.testing.assert_allclose(rate.data["RATE"], bins.rate, rtol=1e-6)
        np.testing.assert_allclose(rate.data["ERROR"], bins.error_hi, rtol=1e-6)
        np.testing.assert_array_equal(rate.data["COUNTS"], bins.counts)
        np.testing.assert_allclose(rate.data["BACKV"], 0.05)
        np.testing.assert_array_equal(read["GTI"].data["START"], GTI[0])
        assert read["GTI"].header["TIMESYS"] == "TT"
        assert read["GAPS"].data["CAUSE"].tolist() == ["no data"] * 4
        np.testing.assert_array_equal(read["GAPS"].data["START"], [-50.0, 400.0, 1300.0, 1530.0])
    if shutil.which("fitsverify") is None:
        pytest.skip("fitsverify (HEASoft/CFITSIO utility) is not installed on this machine")
    result = subprocess.run(
        ["fitsverify", "-q", str(path)], capture_output=True, text=True, check=False
    )
    assert "verification OK" in result.stdout, result.stdout


def test_lightcurve_file_without_gaps_or_background() -> None:
    times = np.arange(0.5, 100.0, 1.0)
    gti = (np.array([0.0]), np.array([100.0]))
    blocks = lc.bayesian_block_bins(times, gti)
    hdus = write_lightcurve_hdus(
        blocks, gti, [], header_extras={"TIMESYS": "TT", "MJDREF": 57754.0}
    )
    assert hdus["RATE"].header["HDUCLAS2"] == "TOTAL"
    assert hdus["RATE"].header["BACKAPP"] is False
    assert len(hdus["GAPS"].data) == 0


def test_lightcurve_file_refuses_bad_input() -> None:
    times = np.arange(0.5, 100.0, 1.0)
    gti = (np.array([0.0]), np.array([100.0]))
    bins = lc.constant_snr_bins(times, gti, 3.0)
    with pytest.raises(ValueError, match="TIMESYS"):
        write_lightcurve_hdus(bins, gti, [], header_extras={"MJDREF": 57754.0})
    with pytest.raises(ValueError, match="TIMESYS"):
        write_lightcurve_hdus(bins, gti, [], header_extras=None)
    extras = {"TIMESYS": "TT", "MJDREF": 57754.0}
    with pytest.raises(ValueError, match="TSTART is set by the product writer"):
        write_lightcurve_hdus(bins, gti, [], header_extras={**extras, "TSTART": 0.0})
    with pytest.raises(ValueError, match="inside one GTI"):
        write_lightcurve_hdus(bins, (np.array([0.0]), np.array([50.0])), [], header_extras=extras)
    with pytest.raises(ValueError, match="cause"):
        write_lightcurve_hdus(bins, gti, [(100.0, 110.0, "eclipse")], header_extras=extras)
    with pytest.raises(ValueError, match="cause"):
        write_lightcurve_hdus(bins, gti, [(110.0, 100.0, "SAA")], header_extras=extras)
