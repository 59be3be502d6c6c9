"""A new instrument is a registry edit and a restart: no code, no migration (issue 5)."""

from __future__ import annotations

import io

import pytest
import yaml
from astropy.io import fits

from caldb_server import create_app
from caldb_server.config import DEFAULT_REGISTRY
from caldb_server.web import extension
from tests.helpers import MXT_GAIN, assert_problem, calfile_bytes, upload
from tests.server.uploads import BOUNDARY, multipart

GRM_GAIN = MXT_GAIN | {"INSTRUME": "GRM", "CCNM0001": "GAIN", "CDES0001": "GRM gain"}


@pytest.fixture
def grm_registry(tmp_path):
    document = yaml.safe_load(DEFAULT_REGISTRY.read_text())
    document["missions"][0]["instruments"].append(
        {
            "name": "GRM",
            "dir": "data/svom/grm",
            "description": "Gamma-Ray burst Monitor",
            "codenames": {"GAIN": "Gain per detector"},
            "onboard": {"TRIGCFG": "Trigger thresholds"},
        }
    )
    path = tmp_path / "grm.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_a_fourth_instrument_needs_only_a_registry_edit_and_a_restart(
    app_config, grm_registry, uploader
):
    before = create_app(app_config)
    try:
        client = before.test_client()
        refused = assert_problem(
            upload(client, calfile_bytes(GRM_GAIN), "grm_gain.fits", headers=uploader), 422
        )
        assert "unknown instrument GRM" in str(refused)
    finally:
        extension(before).database.dispose()
    restarted = create_app(app_config | {"REGISTRY": grm_registry})  # same database, no migration
    try:
        client = restarted.test_client()
        response = upload(client, calfile_bytes(GRM_GAIN), "grm_gain.fits", headers=uploader)
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["datasets"][0]["cal_dir"] == "data/svom/grm/bcf/gain"
        found = client.get("/api/v1/search?instrument=GRM&codename=GAIN&date=-").get_json()
        assert [r["cal_file"] for r in found["results"]] == ["grm_gain.fits"]
        instruments = client.get("/api/v1/instruments").get_json()["missions"][0]["instruments"]
        grm = next(i for i in instruments if i["name"] == "GRM")
        assert (grm["dir"], grm["datasets"], [o["name"] for o in grm["onboard"]]) == (
            "data/svom/grm",
            1,
            ["TRIGCFG"],
        )
        with client.get("/caldb/software/tools/caldb.config") as config:
            assert "SVOM GRM CALDB data/svom/grm caldb.indx" in " ".join(config.text.split())
        with (
            client.get("/caldb/data/svom/grm/caldb.indx") as index,
            fits.open(io.BytesIO(index.data)) as cif,
        ):
            assert list(cif["CIF"].data["CAL_FILE"]) == ["grm_gain.fits"]
        trigger = b"count_rate_sigma: 6\nimage_sigma: 6\ntimescales_s: [1]\n"
        with client.post(
            "/api/v1/onboard",
            data=multipart([("file", "GRM_TRIGCFG_20250101T000000_V01.yaml", trigger)]),
            content_type=f"multipart/form-data; boundary={BOUNDARY}",
            headers=uploader,
        ) as onboard:
            assert onboard.status_code == 201, onboard.get_json()
    finally:
        extension(restarted).database.dispose()
