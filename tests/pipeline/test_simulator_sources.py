"""``pipeline-bricks simulate --extra-source``: more point sources in the simulated field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from pipeline_bricks.cli import main
from pipeline_bricks.simulator.source import expected_counts
from tests.pipeline.simulation import ATTITUDE, DATE, events_of, run_simulator, truth_of

FIELD = ["--rate", "3", "--duration", "200", "--seed", "4"]
EXTRAS = [("204.8665", "45.2037", "3"), ("204.72", "45.04", "1.5")]  # 5' north; 8' south-west
EXTRA_OPTIONS = [x for source in EXTRAS for x in ("--extra-source", ",".join(source))]


@pytest.fixture(scope="module")
def fields(
    demo_caldb: str, caldb_cache: None, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """The same observation (seed) with the two extra sources and without them."""
    with_extras, alone = tmp_path_factory.mktemp("extras"), tmp_path_factory.mktemp("alone")
    assert run_simulator(with_extras, demo_caldb, *FIELD, *EXTRA_OPTIONS) == 0
    assert run_simulator(alone, demo_caldb, *FIELD) == 0
    return with_extras, alone


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("204.8,45.2", "'204.8,45.2' is not RA,DEC,RATE (three finite numbers)"),
        ("204.8,45.2,1,2", "is not RA,DEC,RATE"),
        ("a,b,c", "is not RA,DEC,RATE"),
        ("204.8,45.2,nan", "is not RA,DEC,RATE (three finite numbers)"),
        ("400,45,1", "400,45,1: RA must be in 0-360 deg, DEC in -90-90 deg and RATE > 0"),
        ("204,-95,1", "DEC in -90-90 deg"),
        ("204,45,0", "RATE > 0 counts/s"),
        ("204,45,-1", "RATE > 0 counts/s"),
    ],
)
def test_bad_extra_sources_are_usage_errors(value, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["simulate", "--date", DATE, "--out", str(tmp_path), "--extra-source", value])
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("usage: pipeline-bricks simulate")
    assert "argument --extra-source: " in error
    assert message in error
    assert not any(tmp_path.iterdir())


def test_at_most_twenty_extra_sources(tmp_path, capsys):
    options = [x for _ in range(21) for x in ("--extra-source", "204.8,45.2,1")]
    with pytest.raises(SystemExit) as stop:
        main(["simulate", "--date", DATE, "--out", str(tmp_path), *options])
    assert stop.value.code == 2
    assert "argument --extra-source: at most 20 extra sources" in capsys.readouterr().err


def test_truth_lists_every_source(fields):
    truth = truth_of(fields[0])
    assert (truth["source"]["ra_deg"], truth["source"]["dec_deg"]) == (204.8665, 45.1204)
    assert len(truth["extra_sources"]) == 2
    rate_law = truth["rate_law"]
    t1, t2 = rate_law["start_offset_s"], rate_law["start_offset_s"] + rate_law["duration_s"]
    for item, (ra, dec, rate) in zip(truth["extra_sources"], EXTRAS, strict=True):
        assert (item["ra_deg"], item["dec_deg"], item["rate_cts_s"]) == tuple(
            map(float, (ra, dec, rate))
        )
        assert item["rawx_nominal"] is not None
        assert item["rawy_nominal"] is not None
        assert 0 < item["off_axis_arcmin"] < 20
        expected = expected_counts(float(rate), rate_law["decay_index"], t1, t2)
        assert item["counts"]["expected"] == pytest.approx(expected)
        # same spectrum: flux and normalisation in proportion to the rate
        main_flux = truth["spectrum"]["flux_erg_cm2_s_at_tstart"]
        assert item["flux_erg_cm2_s_at_tstart"] == pytest.approx(main_flux * float(rate) / 3)
        assert item["normalisation"] == pytest.approx(
            truth["spectrum"]["normalisation"] * float(rate) / 3
        )
    north = truth["extra_sources"][0]
    moved = np.hypot(
        north["detx_nominal"] - truth["source"]["detx_nominal"],
        north["dety_nominal"] - truth["source"]["dety_nominal"],
    )
    assert moved * 13.45 / 60 == pytest.approx(5.0, abs=0.05)  # 5 arcmin in DET pixels


def test_events_add_up_and_gather_at_each_source(fields):
    with_extras, alone = fields
    truth, events = truth_of(with_extras), events_of(with_extras)
    counts = truth["counts"]
    extra_events = [item["counts"]["events"] for item in truth["extra_sources"]]
    assert counts["total_events"] == len(events) == (
        counts["source"]["events"] + sum(extra_events) + counts["background"]["events"]
        + counts["noise"]["events"]
    )  # fmt: skip
    assert extra_events[0] > 1.5 * extra_events[1] > 100  # rates 3 and 1.5 counts/s
    x, y = events["RAWX"].astype(float), events["RAWY"].astype(float)
    x_alone, y_alone = (events_of(alone)[name].astype(float) for name in ("RAWX", "RAWY"))
    for item in [truth["source"], *truth["extra_sources"]]:
        x0, y0 = item["rawx_nominal"], item["rawy_nominal"]
        near = np.hypot(x - x0, y - y0) < 10  # about a quarter of the PSF
        events_of_source = item.get("counts", counts["source"])["events"]
        assert near.sum() > 0.18 * events_of_source
        assert abs(np.mean(x[near]) - x0) < 2.5  # 3 sigma of a mean of ~50 events
        assert abs(np.mean(y[near]) - y0) < 2.5
        if item is not truth["source"]:  # much less there without the extra sources
            assert np.count_nonzero(np.hypot(x_alone - x0, y_alone - y0) < 10) < 0.25 * near.sum()


def test_an_extra_source_leaves_the_main_source_and_attitude_alone(fields):
    with_extras, alone = (truth_of(out)["counts"]["source"] for out in fields)
    for key in ("expected", "photons_generated", "photons_lost_to_vignetting"):
        assert with_extras[key] == alone[key], key
    with fits.open(fields[0] / ATTITUDE) as one, fits.open(fields[1] / ATTITUDE) as two:
        assert one["ATTITUDE"].data.tobytes() == two["ATTITUDE"].data.tobytes()


def test_same_seed_same_field(fields, demo_caldb, tmp_path, capsys):
    assert run_simulator(tmp_path, demo_caldb, *FIELD, *EXTRA_OPTIONS) == 0
    assert " extra-source, " in capsys.readouterr().out
    first, again = events_of(fields[0]), events_of(tmp_path)
    for name in first.columns.names:
        assert np.array_equal(first[name], again[name]), name
    assert truth_of(tmp_path)["extra_sources"] == truth_of(fields[0])["extra_sources"]


def test_new_noisy_pixels_avoid_every_source(fields):
    truth = truth_of(fields[0])
    sources = [truth["source"], *truth["extra_sources"]]
    new = [p for p in truth["noisy_pixels"] if not p["in_badpix"]]
    assert new
    for pixel in new:
        for item in sources:
            distance = np.hypot(
                pixel["rawx"] - item["rawx_nominal"], pixel["rawy"] - item["rawy_nominal"]
            )
            assert distance > 10
