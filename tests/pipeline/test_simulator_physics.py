"""The simulator's pure functions: rate law, spectrum, PSF, RMF, charge split, attitude, time."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from pipeline_bricks.mxt.caldata import EffectiveArea, EventThresholds, Psf, Redistribution
from pipeline_bricks.simulator.attitude import make_attitude
from pipeline_bricks.simulator.detector import charge_fractions, detect_events, redistribute
from pipeline_bricks.simulator.mission_time import (
    from_mission_time,
    parse_utc,
    to_mission_time,
)
from pipeline_bricks.simulator.source import (
    Spectrum,
    arrival_times,
    expected_counts,
    psf_offsets,
    sample_energies,
)

THRESHOLDS = EventThresholds(event_adu=26, split_adu=13, upper_adu=3200)


def flat_arf() -> EffectiveArea:
    lo = 0.2 + 0.01 * np.arange(980)
    return EffectiveArea(lo, lo + 0.01, np.full(980, 10.0))


@pytest.mark.parametrize("decay", [0.0, 1.0, 1.2, 3.5])
def test_arrival_times_follow_the_decaying_rate(decay):
    rng = np.random.default_rng(1)
    times = arrival_times(200_000, decay, 120.0, 1120.0, rng)
    assert times.min() >= 120.0
    assert times.max() < 1120.0
    assert np.all(np.diff(times) >= 0)
    total = expected_counts(1.0, decay, 120.0, 1120.0)
    first_half = expected_counts(1.0, decay, 120.0, 620.0) / total
    assert np.mean(times < 620.0) == pytest.approx(first_half, abs=0.005)


def test_expected_counts_of_simple_laws():
    assert expected_counts(2.0, 0.0, 100.0, 600.0) == pytest.approx(1000.0)
    assert expected_counts(1.0, 1.0, 100.0, 100.0 * np.e) == pytest.approx(100.0)
    assert expected_counts(1.0, 2.0, 100.0, 200.0) == pytest.approx(50.0)


def test_spectrum_normalisation_gives_the_rate_and_the_flux():
    arf = flat_arf()
    spectrum = Spectrum(gamma=2.0, nh_cm2=0.0)
    norm = spectrum.normalisation(5.0, arf)
    assert norm * spectrum.bin_weights(arf).sum() == pytest.approx(5.0)
    # Gamma 2, no absorption: energy flux = K ln(8 / 0.3) keV/cm2/s.
    expected = norm * np.log(8.0 / 0.3) * 1.602176634e-9
    assert spectrum.energy_flux(norm) == pytest.approx(expected, rel=1e-6)
    absorbed = Spectrum(gamma=2.0, nh_cm2=3e21)
    assert absorbed.shape(0.5) / spectrum.shape(0.5) == pytest.approx(
        np.exp(-3e21 * 2.4e-22 * 0.5**-2.5)
    )


def test_line_energies_are_exact_and_weighted_by_the_area():
    lo = 0.2 + 0.01 * np.arange(980)
    area = np.where(lo < 3.0, 40.0, 10.0)
    arf = EffectiveArea(lo, lo + 0.01, area)
    energies = sample_energies(
        Spectrum(lines_kev=(1.49, 5.9)), arf, 50_000, np.random.default_rng(2)
    )
    assert set(np.unique(energies)) == {1.49, 5.9}
    assert np.mean(energies == 1.49) == pytest.approx(0.8, abs=0.01)
    with pytest.raises(ValueError, match="outside the ARF"):
        Spectrum(lines_kev=(12.0,)).normalisation(1.0, arf)


def test_continuum_energies_follow_n_times_a():
    arf = flat_arf()
    energies = sample_energies(
        Spectrum(gamma=2.0, nh_cm2=0.0), arf, 100_000, np.random.default_rng(3)
    )
    # N(E) ~ E^-2 on 0.2-10 keV: P(E < 1) = (1/0.2 - 1) / (1/0.2 - 1/10).
    assert np.mean(energies < 1.0) == pytest.approx(4.0 / 4.9, abs=0.005)


def test_psf_offsets_follow_the_image():
    image = np.zeros((5, 5))
    image[2, 2], image[2, 4] = 0.75, 0.25  # centre and two pixels to +DETX
    dx, dy = psf_offsets(Psf(image, (2, 2), 0.2242), 40_000, np.random.default_rng(4))
    assert np.mean(np.rint(dx) == 2) == pytest.approx(0.25, abs=0.01)
    assert np.all(np.rint(dy) == 0)
    assert np.all(np.abs(dx - np.rint(dx)) <= 0.5)


def test_redistribution_keeps_a_line_at_its_energy():
    lo = 0.2 + 0.01 * np.arange(980)
    channels = 0.01 * np.arange(1024)
    centre = lo + 0.005
    sigma = 0.03
    matrix = np.exp(-0.5 * ((channels[None, :] + 0.005 - centre[:, None]) / sigma) ** 2)
    rmf = Redistribution(lo, lo + 0.01, matrix, channels, channels + 0.01)
    energy, valid = redistribute(np.full(50_000, 1.493), rmf, np.random.default_rng(5))
    assert np.all(valid)
    assert np.median(energy) == pytest.approx(1.493, abs=0.001)
    assert np.std(energy) == pytest.approx(np.sqrt(sigma**2 + 0.01**2 / 6), rel=0.03)
    _, outside = redistribute(np.array([0.1, 10.5]), rmf, np.random.default_rng(5))
    assert not outside.any()


def test_charge_fractions_sum_to_one_and_follow_the_cloud():
    sub = np.array([0.0, 0.45, -0.45])
    fractions = charge_fractions(sub, np.zeros(3), 0.1, half_width=2)
    assert fractions.shape == (3, 5, 5)
    assert np.allclose(fractions.sum(axis=(1, 2)), 1.0)
    assert fractions[0, 2, 2] > 0.99
    assert fractions[1, 2, 3] > 0.2
    assert fractions[2, 2, 1] > 0.2
    per_photon = charge_fractions(sub, np.zeros(3), np.array([0.0, 0.0, 1.0]), half_width=1)
    assert per_photon[1, 1, 1] == 1.0
    assert per_photon[2, 1, 1] < 0.5


def test_thresholds_apply_to_the_offset_subtracted_centre():
    found = detect_events(
        np.full(4, 100), np.full(4, 50), np.zeros(4), np.zeros(4),
        np.array([3000.0, 100.0, 20000.0, 3000.0]), gains=np.full(256, 5.0),
        offsets=np.full(256, 4.0), cloud_sigma_px=np.array([0.3, 0.0, 0.0, 0.0]),
        thresholds=THRESHOLDS,
    )  # fmt: skip
    assert found.kept.tolist() == [True, False, False, True]  # 20 ADU < 26; 4000 ADU > 3200
    assert found.phas[3].tolist() == [4, 4, 4, 4, 604, 4, 4, 4, 4]


@pytest.mark.parametrize(("gain_101", "centre"), [(5.0, 100), (4.5, 101)])
def test_the_event_is_centred_on_its_brightest_pixel(gain_101, centre):
    gains, offsets = np.full(256, 5.0), np.full(256, 4.0)
    gains[100] = gain_101  # column 101: fewer eV per ADU, so more ADU for the same charge
    found = detect_events(
        np.array([100]), np.array([50]), np.array([0.49]), np.zeros(1), np.array([3000.0]),
        gains=gains, offsets=offsets, cloud_sigma_px=0.3, thresholds=THRESHOLDS,
    )  # fmt: skip
    assert found.kept[0]
    assert (found.rawx[0], found.rawy[0]) == (centre, 50)
    columns = found.rawx[0] - 1 + np.tile([-1, 0, 1], 3)
    net = found.phas[0] - offsets[columns]
    assert net[4] == net.max()
    assert net[3 if centre == 101 else 5] > 100  # the other half of the charge


def test_events_at_the_ccd_edge_hold_zero_off_the_ccd():
    found = detect_events(
        np.array([1]), np.array([256]), np.zeros(1), np.zeros(1), np.array([1000.0]),
        gains=np.full(256, 5.0), offsets=np.full(256, 4.0), cloud_sigma_px=0.0,
        thresholds=THRESHOLDS,
    )  # fmt: skip
    assert found.kept[0]
    assert found.phas[0].tolist() == [0, 4, 4, 0, 204, 4, 0, 0, 0]


def test_attitude_rows_and_flags():
    table = make_attitude(
        1000.0, 1100.0, (10.0, 80.0, 287.0), jitter_arcsec=0.0, saa_s=((10.0, 20.5),),
        rng=np.random.default_rng(6),
    )  # fmt: skip
    assert table.time[0] == 990.0
    assert table.time[-1] >= 1110.0
    assert np.all(table.ra == 10.0)
    assert np.all(table.dec == 80.0)
    assert np.all(table.roll == 287.0)
    assert table.time[table.in_saa].tolist() == [1010.0 + k for k in range(11)]


def test_mission_time_conversions():
    assert to_mission_time(parse_utc("2017-01-01")) == 0.0
    assert to_mission_time(parse_utc("2017-01-02T00:00:00Z")) == 86400.0
    value = datetime(2025, 7, 1, 12, tzinfo=UTC)
    assert from_mission_time(to_mission_time(value)) == "2025-07-01T12:00:00.000"
    assert parse_utc("2025-07-01T14:00:00+02:00") == value
    with pytest.raises(ValueError, match="before the SVOM time epoch"):
        parse_utc("2016-12-31T23:59:59")
