"""Hostile onboard uploads (``POST /api/v1/onboard``), on both backends.

The file name carries the indexing data and the content is YAML checked against the
codename's schema: both are attacker-controlled. Every case gets a 422 (413 past the size
limit) problem+json, and nothing is indexed or left in the tree.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.helpers import bearer
from tests.hostile.checks import assert_refused, snapshot
from tests.server.test_onboard import send

GOOD_NAME = "MXT_EVTTHR_20250301T120000_V01.yaml"
GOOD = b"event_threshold_adu: 20\nsplit_threshold_adu: 5\nupper_threshold_adu: 4000\n"


def _with(line: bytes) -> bytes:
    return GOOD + line + b"\n"


BAD_NAMES = {
    "year before 1000": "MXT_EVTTHR_09990101T000000_V01.yaml",
    "year 0": "MXT_EVTTHR_00000101T000000_V01.yaml",
    "month 13": "MXT_EVTTHR_20251301T000000_V01.yaml",
    "day 32": "MXT_EVTTHR_20250132T000000_V01.yaml",
    "30 February": "MXT_EVTTHR_20250230T000000_V01.yaml",
    "hour 24": "MXT_EVTTHR_20250301T240000_V01.yaml",
    "second 61": "MXT_EVTTHR_20250301T120061_V01.yaml",
    "version 3 digits": "MXT_EVTTHR_20250301T120000_V100.yaml",
    "yml": "MXT_EVTTHR_20250301T120000_V01.yml",
    "no extension": "MXT_EVTTHR_20250301T120000_V01",
    "double extension": "MXT_EVTTHR_20250301T120000_V01.yaml.exe",
    "traversal": "../../MXT_EVTTHR_20250301T120000_V01.yaml",
    "absolute": "/etc/MXT_EVTTHR_20250301T120000_V01.yaml",
    "backslash": "..\\MXT_EVTTHR_20250301T120000_V01.yaml",
    "NUL": "MXT_EVTTHR_20250301T120000_V01.yaml\x00.fits",
    "newline": "MXT_EVTTHR_20250301T120000_V01\n.yaml",
    "long": "MXT_" + "E" * 300 + "_20250301T120000_V01.yaml",
    "unicode digits": "MXT_EVTTHR_\uff12\uff10\uff12\uff150301T120000_V01.yaml",
    "empty": "",
    "unknown instrument": "ABC_EVTTHR_20250301T120000_V01.yaml",
    "not onboard codename": "MXT_GAIN_20250301T120000_V01.yaml",
}

BAD_CONTENT = {
    "invalid timestamp": _with(b"description: 2001-13-45"),
    "float tag on text": _with(b"note: !!float abc"),
    "int tag on text": _with(b"note: !!int abc"),
    "4301-digit integer": _with(b"note: " + b"9" * 4301),
    "bad timestamp tag": _with(b"note: !!timestamp 2001-13-45"),
    "binary tag": _with(b"note: !!binary '%%%'"),
    "python tag": _with(b"note: !!python/name:os.system"),
    "set tag": _with(b"note: !!set {a, b}"),
    "merge key": b"base: &b {event_threshold_adu: 20}\n<<: *b\n",
    "NUL escape": _with(b'description: "bad\\0value"'),
    "escape sequence": _with(b'description: "\\e[2J"'),
    "raw NUL": GOOD.replace(b"20", b"2\x000"),
    "raw escape": _with(b"description: a\x1bb"),
    "byte order marks": b"\xef\xbb\xbf\xef\xbb\xbf" + GOOD,
    "UTF-16": GOOD.decode().encode("utf-16"),
    "empty": b"",
    "only a comment": b"# nothing\n",
    "scalar": b"42\n",
    "null document": b"~\n",
    "two documents": GOOD + b"---\n" + GOOD,
    "threshold text": GOOD.replace(b"20", b"twenty"),
    "threshold infinite": GOOD.replace(b"20", b".inf"),
    "threshold NaN": GOOD.replace(b"20", b".nan"),
    "threshold fraction": GOOD.replace(b"20", b"20.5"),
    "threshold boolean": GOOD.replace(b"20", b"yes"),
    "key not text": _with(b"? [a, b]\n: 1"),
    "billion laughs": b'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
    + b"".join(
        b"%c: &%c [%s]\n" % (k, k, b",".join([b"*%c" % p] * 10))
        for p, k in zip(b"abcdefg", b"bcdefgh", strict=True)
    ),
}


def assert_refused_and_nothing_stored(app, client, make_token, name: str, content: bytes):
    """Uploading ``content`` as ``name`` gets a 422; the catalogue and tree are unchanged."""
    before = snapshot(app)
    response = send(client, name, content, bearer(make_token("uploader")))
    assert_refused(response, 422)
    assert snapshot(app) == before


@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_a_hostile_onboard_name_is_refused(app, client, make_token: Callable[..., str], name):
    assert_refused_and_nothing_stored(app, client, make_token, name, GOOD)


@pytest.mark.parametrize("content", BAD_CONTENT.values(), ids=BAD_CONTENT.keys())
def test_hostile_onboard_content_is_refused(app, client, make_token: Callable[..., str], content):
    assert_refused_and_nothing_stored(app, client, make_token, GOOD_NAME, content)


def test_the_good_file_of_the_corpus_is_accepted(client, make_token: Callable[..., str]):
    """The corpus changes one thing at a time in a file the server accepts."""
    assert send(client, GOOD_NAME, GOOD, bearer(make_token("uploader"))).status_code == 201
