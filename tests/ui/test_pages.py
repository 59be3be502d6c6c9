"""The web interface in real Chromium, as a calibration scientist uses it.

One walk per concern, on the live demonstration server of ``conftest.py``: browse from the
home page down to a file and its comparison with the previous epoch, search with Explain,
upload a bad and a good file, curate a quality, manage API tokens, sign out, and private
reads. Every page visited passes the accessibility check, and the README's screenshots are
written on the way.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.helpers import MXT_GAIN, calfile_bytes
from tests.ui.browser import (
    EVERY_IMPACT,
    assert_accessible,
    axe_check,
    screenshot,
    sign_in,
    sign_out_control,
)
from tests.ui.conftest import LiveServer


def test_browse_home_instrument_codename_file_and_its_comparison(page: Page, live_server):
    page.goto("/")
    expect(page.get_by_role("link", name="Search", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Sign in", exact=True)).to_be_visible()
    assert_accessible(page)
    screenshot(page, "home")

    page.get_by_role("link", name="MXT", exact=True).click()
    expect(page).to_have_url(re.compile(r"/instruments/MXT$"))
    expect(page.locator("svg a").first).to_be_attached()  # the timeline's epochs are links
    assert_accessible(page)
    screenshot(page, "instrument")

    page.get_by_role("link", name="TELDEF", exact=True).click()
    expect(page).to_have_url(re.compile(r"/instruments/MXT/TELDEF$"))
    assert_accessible(page)
    # The newest epoch: the demonstration set has two, so it has a previous version.
    page.locator("table a[href^='/datasets/']").first.click()
    expect(page).to_have_url(re.compile(r"/datasets/\d+$"))
    expect(page.get_by_role("link", name="Download", exact=True)).to_be_visible()
    expect(page.get_by_text(re.compile("previous version", re.IGNORECASE)).first).to_be_visible()
    assert_accessible(page)
    screenshot(page, "dataset")


def test_search_with_explain_gives_each_loser_its_reason(page: Page, live_server):
    page.goto("/search")
    page.get_by_label("Instrument", exact=True).fill("MXT")
    page.get_by_label("Codename", exact=True).fill("GAIN")
    page.get_by_label("Date", exact=True).fill("2025-07-01")
    page.get_by_label("Explain").check()
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"instrument=MXT"))
    expect(page.locator("table a[href^='/datasets/']").first).to_be_visible()
    reasons = page.locator("td.why")
    expect(reasons.first).to_be_visible()
    assert all(text.strip() for text in reasons.all_inner_texts())
    expect(page.get_by_text(re.compile(r"^caldbio ")).first).to_be_visible()
    expect(page.get_by_text(re.compile(r"^quzcif ")).first).to_be_visible()
    assert_accessible(page)
    screenshot(page, "search")


def test_upload_a_bad_then_a_good_file_then_curate_its_quality(
    page: Page, live_server: LiveServer, tmp_path
):
    sign_in(page, live_server.users["uploader"])
    page.get_by_role("link", name="Upload", exact=True).click()
    bad = tmp_path / "mxt_gain_bad.fits"
    bad.write_bytes(calfile_bytes({k: v for k, v in MXT_GAIN.items() if k != "CCNM0001"}))
    page.get_by_label("Calibration file").set_input_files(bad)
    page.get_by_role("button", name="Upload", exact=True).click()
    problems = page.locator("ol li, ul.problems li")
    expect(problems.first).to_be_visible()
    assert any("CCNM0001" in text for text in problems.all_inner_texts())
    assert_accessible(page)

    good = tmp_path / "mxt_gain_browser.fits"
    good.write_bytes(calfile_bytes(MXT_GAIN | {"CVSD0001": "2031-01-01"}))
    page.get_by_label("Calibration file").set_input_files(good)
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page).to_have_url(re.compile(r"/datasets/\d+$"))
    expect(page.get_by_text("mxt_gain_browser.fits").first).to_be_visible()

    page.get_by_label("Quality").select_option("5")
    page.get_by_label("Reason").fill("bad gain fit found by the browser test")
    page.get_by_role("button", name="Set quality").click()
    expect(page.get_by_text("bad gain fit found by the browser test").first).to_be_visible()
    assert_accessible(page)


def test_create_and_revoke_an_api_token_then_sign_out(page: Page, live_server: LiveServer):
    sign_in(page, live_server.users["reader"])
    page.goto("/account")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("[data-copy]").first
    expect(token).to_be_visible()
    assert token.inner_text().count(".") == 2  # a JWT, shown once
    assert_accessible(page)
    page.goto("/account")
    # The API tokens, not this session's own (revoking that one would sign us out).
    revoke = page.locator("tr", has_not_text="(this session)").get_by_role(
        "button", name=re.compile(r"^Revoke token ")
    )
    before = revoke.count()
    assert before >= 1
    revoke.first.click()
    expect(revoke).to_have_count(before - 1)
    expect(page.get_by_text("(this session)")).to_be_visible()  # still signed in

    sign_out_control(page).click()
    expect(page.get_by_role("link", name="Sign in", exact=True)).to_be_visible()


def test_a_reader_is_refused_the_upload_page(page: Page, live_server: LiveServer):
    sign_in(page, live_server.users["reader"])
    expect(page.get_by_role("link", name="Upload", exact=True)).to_have_count(0)
    response = page.goto("/upload")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert "Traceback" not in page.content()


def test_private_reads_need_a_signed_in_reader(private_page: Page, private_server: LiveServer):
    private_page.goto("/instruments/MXT")
    expect(private_page).to_have_url(re.compile(r"/sign-in\?next="))
    private_page.get_by_label("User name").fill(private_server.users["reader"].username)
    private_page.get_by_label("Password").fill(private_server.users["reader"].password)
    private_page.get_by_role("button", name="Sign in").click()
    expect(private_page).to_have_url(re.compile(r"/instruments/MXT$"))
    expect(private_page.get_by_role("link", name="GAIN", exact=True)).to_be_visible()


# Every page of the interface, as the admin sees it (the one role that sees them all).
PAGES = [
    "/",
    "/instruments/MXT",
    "/instruments/MXT/GAIN",
    "/instruments/ECL/EVTTHR",
    "/search?instrument=MXT&codename=TELDEF&explain=true",
    "/search?instrument=MXT&codename=NOSUCH",
    "/upload",
    "/account",
    "/admin/users",
    "/caldb/",
    "/caldb/data/svom/mxt/bcf/gain/",
    "/no-such-page",
]


def test_every_page_passes_the_accessibility_check(page: Page, live_server: LiveServer):
    sign_in(page, live_server.users["admin"])
    for path in PAGES:
        page.goto(path)
        assert "Traceback" not in page.content(), path
        assert_accessible(page)
    page.goto("/instruments/MXT/GAIN")
    page.locator("table a[href^='/datasets/']").first.click()
    assert_accessible(page)


def test_the_api_documentation_passes_the_accessibility_check(page: Page):
    """Swagger UI drawn, then an operation opened and tried: no axe violation of any impact.

    The sweep of ``PAGES`` cannot take this page: it is drawn by script after the document is
    fetched, so axe must wait for the operations, or it would check an empty page.
    """
    page.goto("/api/v1/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    assert axe_check(page, EVERY_IMPACT) == []
    page.locator("#operations-default-health button.opblock-summary-control").click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    status = page.locator(".live-responses-table tbody .response-col_status").first
    expect(status).to_have_text("200")  # "Try it out" reached the API
    assert axe_check(page, EVERY_IMPACT) == []


def test_the_sign_in_page_passes_the_accessibility_check(page: Page):
    page.goto("/sign-in")
    assert_accessible(page)
