"""The line ``pipeline-bricks run`` prints, from a processing_status.json."""

from pipeline_bricks.summary import result_line

SOURCE = {"ra_deg": 204.86651, "dec_deg": 45.120412, "err_r90_arcsec": 3.214, "rate_cps": 1.234}


def test_detect_gives_the_count_and_the_brightest_source():
    status = {
        "brick": "mxt-detect",
        "status": "SUCCESS",
        "results": {"n_sources": 2, "sources": [SOURCE, {}]},
        "outputs": {"srclist": ["x_mxt_srclist.fits"]},
    }
    assert result_line(status, directory="/out") == (
        "mxt-detect: SUCCESS; 2 sources found; brightest at RA 204.86651 Dec +45.12041 deg, "
        "R90 3.2 arcsec, 1.23 counts/s; 1 file written (srclist) in /out"
    )


def test_no_source_and_no_output():
    status = {"brick": "mxt-detect", "status": "SUCCESS", "results": {"n_sources": 0}}
    line = result_line(status, directory="/out")
    assert line == "mxt-detect: SUCCESS; no source found; status in /out"


def test_a_pipeline_ended_early_says_what_its_last_stages_found():
    status = {
        "brick": "mxt-pipeline",
        "status": "NO_DATA",
        "results": {
            "mxt-calibrate": {"events": 10},
            "mxt-coordinates": {"events": 10, "without_attitude": 2},
            "mxt-screen": {"events_in": 10, "events_kept": 0, "exposure_s": 0.0},
        },
        "outputs": {"calibrated_events": ["a"], "sky_events": ["b"]},
    }
    assert result_line(status, directory="d") == (
        "mxt-pipeline: NO_DATA; 10 events on the sky (2 outside the attitude); "
        "0 of 10 events kept, exposure 0 s; 2 files written (calibrated_events, sky_events) in d"
    )


def test_a_failed_brick_without_results():
    status = {"brick": "mxt-calibrate", "status": "FAILED", "outputs": {}}
    assert result_line(status, directory="d") == "mxt-calibrate: FAILED; status in d"
