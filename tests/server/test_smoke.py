from tests.helpers import MXT_GAIN, calfile_bytes, upload


def test_upload_then_search(client, uploader):
    response = upload(client, calfile_bytes(MXT_GAIN), "mxt_gain_v1.fits", headers=uploader)
    assert response.status_code == 201, response.get_json()
    found = client.get("/api/v1/search?instrument=mxt&codename=gain&date=2025-01-01").get_json()
    assert found["nfound"] == 1
    assert found["results"][0]["cal_file"] == "mxt_gain_v1.fits"
