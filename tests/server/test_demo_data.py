"""The demonstration calibration set: generation, file quality, and ``caldb-server demo-data``."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import yaml
from astropy.io import fits
from click.testing import CliRunner

from caldb_demodata import DEFAULT_SEED, generate
from caldb_demodata.mxt_optics import encircled_energy, psf_density
from caldb_server.cli import main
from caldb_server.heasarc.cif import read_cif
from caldb_server.ingest.headers import read_calibration_file
from caldb_server.onboard.content import schema_problems
from caldb_server.onboard.names import parse_onboard_name
from tests.helpers import assert_fitsverify_clean

FITS_SUFFIXES = (".fits", ".rmf", ".arf")
MXT_FITS = {
    "svmxt_teldef_20240622v001.fits",
    "svmxt_gain_20240622v001.fits",
    "svmxt_cti_20240622v001.fits",
    "svmxt_badpix_20240622v001.fits",
    "svmxt_psf_20240622v001.fits",
    "svmxt_vignet_20240622v001.fits",
    "svmxt_specresp_20240622v001.arf",
    "svmxt_matrix_20240622v001.rmf",
    "svmxt_teldef_20250601v001.fits",
    "svmxt_gain_20250601v001.fits",
    "svmxt_cti_20250601v001.fits",
}
SEARCH = "/api/v1/search"


@pytest.fixture
def registry_path():
    """The default registry (SVOM only): demo-data fills a plain SVOM CalDB."""
    return


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory):
    """One generated set, shared by the file checks."""
    return generate(tmp_path_factory.mktemp("demo"), DEFAULT_SEED)


@pytest.fixture
def cli_env(app_config):
    """The CALDB_* variables of the test app (its database and tree; default registry)."""
    return {f"CALDB_{key}": str(value) for key, value in app_config.items() if key != "TESTING"}


def run_cli(env, *args):
    return CliRunner().invoke(main, [str(arg) for arg in args], env=env, catch_exceptions=False)


def _fits(paths):
    return [path for path in paths if path.suffix in FITS_SUFFIXES]


def test_generation_is_deterministic(demo_files, tmp_path):
    again = generate(tmp_path / "again", DEFAULT_SEED)
    assert [p.name for p in again] == [p.name for p in demo_files]
    for first, second in zip(demo_files, again, strict=True):
        assert first.read_bytes() == second.read_bytes(), first.name
    other = {p.name: p for p in generate(tmp_path / "other", DEFAULT_SEED + 1)}
    assert other["svmxt_gain_20240622v001.fits"].read_bytes() != again[1].read_bytes()


def test_every_fits_file_passes_fitsverify(demo_files):
    for path in _fits(demo_files):
        assert_fitsverify_clean(path)


def test_the_set_is_small_and_complete(demo_files):
    assert sum(p.stat().st_size for p in demo_files) < 4_000_000
    names = {p.name for p in demo_files}
    assert names >= MXT_FITS
    indexed = {}
    for path in _fits(demo_files):
        reading = read_calibration_file(path)
        assert reading.checks == [], (path.name, reading.checks)
        for dataset in reading.datasets:
            assert dataset.telescop == "SVOM"
            assert dataset.cal_clas in ("BCF", "CPF")
            assert len(dataset.cal_desc) <= 70
            key = (dataset.instrume, dataset.cal_cnam, dataset.detnam)
            indexed.setdefault(key, []).append(dataset.cal_vsd)
    assert sorted(indexed[("MXT", "TELDEF", "NONE")]) == ["2024-06-22", "2025-06-01"]
    assert sorted(indexed[("MXT", "GAIN", "NONE")]) == ["2024-06-22", "2025-06-01"]
    assert sorted(indexed[("MXT", "CTI", "NONE")]) == ["2024-06-22", "2025-06-01"]
    for codename in ("BADPIX", "PSF", "VIGNET", "SPECRESP", "MATRIX", "EBOUNDS"):
        assert ("MXT", codename, "NONE") in indexed
    for codename in ("GAIN", "BADPIX", "MATRIX", "EBOUNDS"):
        assert ("ECL", codename, "NONE") in indexed
    for codename in ("BIAS", "FLAT"):
        assert {("VT", codename, ccd) for ccd in ("BLUE", "RED")} <= indexed.keys()
    assert ("VT", "ZEROPT", "NONE") in indexed


def test_onboard_files_are_well_named_and_follow_their_schemas(demo_files):
    uploads = [p for p in demo_files if p.suffix == ".yaml"]
    assert {parse_onboard_name(p.name).codename for p in uploads} == {
        "EVTTHR",
        "PIXMASK",
        "TRIGCFG",
        "EXPSEQ",
    }
    for path in uploads:
        content = yaml.safe_load(path.read_text())
        assert schema_problems(parse_onboard_name(path.name).codename, content) == [], path.name


def _open(demo_files, name):
    return fits.open(next(p for p in demo_files if p.name == name))


def test_mxt_epochs_differ_where_the_science_sees_it(demo_files):
    with (
        _open(demo_files, "svmxt_teldef_20240622v001.fits") as first,
        _open(demo_files, "svmxt_teldef_20250601v001.fits") as second,
    ):
        for header in (first[0].header, second[0].header):
            assert header["FOCALLEN"] == 1150.0
            assert header["DET_XSCL"] == header["DET_YSCL"] == 0.075
            assert header["DET_XSIZ"] == header["RAW_YSIZ"] == 256
        axes = [
            np.array([h[0].header[f"ALIGNM{row}3"] for row in (1, 2, 3)]) for h in (first, second)
        ]
        angle = math.degrees(math.acos(min(1.0, float(axes[0] @ axes[1])))) * 60
        assert 0.9 < angle < 1.1  # the boresight moved by 1 arcmin
    with (
        _open(demo_files, "svmxt_gain_20240622v001.fits") as first,
        _open(demo_files, "svmxt_gain_20250601v001.fits") as second,
    ):
        assert first["GAIN"].columns["GAIN"].unit == "eV/adu"
        ratio = second["GAIN"].data["GAIN"] / first["GAIN"].data["GAIN"]
        assert 1.01 < float(np.mean(ratio)) < 1.02
        assert list(first["GAIN"].data["RAWX"]) == list(range(1, 257))
    with (
        _open(demo_files, "svmxt_cti_20240622v001.fits") as first,
        _open(demo_files, "svmxt_cti_20250601v001.fits") as second,
    ):
        assert np.all(second["CTI"].data["CTI"] > 5 * first["CTI"].data["CTI"])


def test_mxt_responses_are_consistent(demo_files):
    with (
        _open(demo_files, "svmxt_matrix_20240622v001.rmf") as rmf,
        _open(demo_files, "svmxt_specresp_20240622v001.arf") as arf,
    ):
        matrix, ebounds, area = rmf["MATRIX"], rmf["EBOUNDS"], arf["SPECRESP"]
        assert matrix.header["HDUCLAS2"] == "RSP_MATRIX"
        assert area.header["HDUCLAS1"] == "RESPONSE"
        assert np.array_equal(matrix.data["ENERG_LO"], area.data["ENERG_LO"])
        assert np.array_equal(matrix.data["ENERG_HI"], area.data["ENERG_HI"])
        sums = np.array([row.sum() for row in matrix.data["MATRIX"]])
        assert np.allclose(sums, 1.0, atol=1e-3)
        assert len(ebounds.data) == ebounds.header["DETCHANS"] == 1024
        assert np.allclose(ebounds.data["E_MAX"] - ebounds.data["E_MIN"], 0.01, atol=1e-6)
        peak = float(area.data["SPECRESP"].max())
        assert 40 < peak < 50
    # The PSF model integrates to 1; the image holds nearly everything.
    grid = np.arange(-150, 150.01, 0.25)
    x, y = np.meshgrid(grid, grid)
    assert abs(psf_density(x, y).sum() * 0.0625 - 1.0) < 1e-3
    assert 0.99 < float(encircled_energy(np.array([100.0]))[0]) <= 1.0
    with _open(demo_files, "svmxt_psf_20240622v001.fits") as psf:
        assert 0.99 < psf["PSF"].header["PSFSUM"] < 1.0
        assert psf["PSF"].header["PSFFWHM"] == 4.2


def _search(client, **params):
    response = client.get(SEARCH, query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _files(answer):
    return [row["cal_file"] for row in answer["results"]]


def test_demo_data_fills_a_browsable_caldb(cli_env, client, tmp_path):
    kept = tmp_path / "kept"
    result = run_cli(cli_env, "demo-data", "--keep", kept)
    assert result.exit_code == 0, result.output
    assert "svmxt_matrix_20240622v001.rmf: indexed, 2 dataset(s): MXT/MATRIX[1] MXT/EBOUNDS[2]" in (
        result.stdout
    )
    assert "27 indexed, 0 already indexed, 0 refused" in result.stdout
    assert sorted(p.name for p in kept.iterdir()) == sorted(
        p.name for p in generate(tmp_path / "fresh", DEFAULT_SEED)
    )

    blue = _search(client, instrument="VT", codename="flat", detector="BLUE")
    red = _search(client, instrument="VT", codename="flat", detector="RED")
    assert _files(blue) == ["svvt_flat_blue_20240622v001.fits"]
    assert _files(red) == ["svvt_flat_red_20240622v001.fits"]

    before = _search(client, instrument="MXT", codename="TELDEF", date="2025-05-31")
    after = _search(client, instrument="MXT", codename="TELDEF", date="2025-06-01")
    assert _files(before) == ["svmxt_teldef_20240622v001.fits"]
    assert _files(after) == ["svmxt_teldef_20250601v001.fits"]

    gains = _search(client, instrument="MXT", codename="GAIN", date="-")["results"]
    first = next(row for row in gains if row["cal_vsd"] == "2024-06-22")
    assert _files(_search(client, instrument="MXT", codename="GAIN")) == [
        "svmxt_gain_20250601v001.fits"
    ]
    then = _search(client, instrument="MXT", codename="GAIN", as_of=first["indexed_at"])
    assert _files(then) == ["svmxt_gain_20240622v001.fits"]

    def evtthr(date, time="00:00:00"):
        return _files(_search(client, instrument="MXT", codename="EVTTHR", date=date, time=time))

    assert evtthr("2024-06-30") == []
    assert evtthr("2024-07-01") == ["MXT_EVTTHR_20240701T000000_V02.yaml"]
    assert evtthr("2025-03-01", "11:59:59") == ["MXT_EVTTHR_20240701T000000_V02.yaml"]
    assert evtthr("2025-03-01", "12:00:00") == ["MXT_EVTTHR_20250301T120000_V01.yaml"]
    every = _files(_search(client, instrument="MXT", codename="EVTTHR", date="-"))
    assert "MXT_EVTTHR_20240701T000000_V01.yaml" not in every  # superseded by V02
    assert len(every) == 2

    response = client.get("/caldb/data/svom/mxt/caldb.indx")
    assert response.status_code == 200
    index = read_cif(io.BytesIO(response.get_data()))
    response.close()
    listed = {row.cal_file for row in index.rows}
    assert listed == MXT_FITS
    assert not any(name.endswith(".yaml") for name in listed)

    again = run_cli(cli_env, "demo-data")
    assert again.exit_code == 0, again.output
    assert "0 indexed, 27 already indexed, 0 refused" in again.stdout
    assert "svmxt_teldef_20240622v001.fits: already indexed" in again.stdout


def test_demo_data_refuses_a_different_set_under_the_same_names(cli_env, client):
    assert run_cli(cli_env, "demo-data").exit_code == 0
    other = run_cli(cli_env, "demo-data", "--seed", DEFAULT_SEED + 1)
    assert other.exit_code == 4, other.output  # files are immutable: a conflict
    assert "svmxt_gain_20240622v001.fits: refused" in other.stderr
    assert "already exists with different content" in other.stderr
    found = _search(client, instrument="MXT", codename="GAIN", date="-")
    assert sorted(_files(found)) == ["svmxt_gain_20240622v001.fits", "svmxt_gain_20250601v001.fits"]


def test_demo_data_needs_an_initialised_database(tmp_path):
    env = {
        "CALDB_DATABASE_URL": f"sqlite:///{tmp_path / 'never' / 'caldb.sqlite'}",
        "CALDB_ROOT": str(tmp_path / "never" / "tree"),
        "CALDB_INSTANCE_PATH": str(tmp_path / "never" / "instance"),
        "CALDB_SECRET_KEY": "x" * 40,
    }
    result = run_cli(env, "demo-data", "--keep", tmp_path / "unused")
    assert result.exit_code == 6, result.output
    assert not (tmp_path / "unused").exists()


@pytest.mark.parametrize("seed", ["-1", "abc"])
def test_demo_data_seed_must_be_a_natural_number(seed):
    result = CliRunner().invoke(main, ["demo-data", "--seed", seed], env={})
    assert result.exit_code == 2
    assert "--seed" in result.output
