"""``caldbio info`` against a real server: labelled text for people, JSON with ``--json``."""

from __future__ import annotations

import json
import socket

from caldbio.display import info_text
from tests.client.cli_run import caldbio


def _labelled(out: str) -> dict[str, str]:
    """``label  value`` lines as a dict (a ``label:`` heading maps to "")."""
    rows = {}
    for line in out.splitlines():
        label, _, value = line.strip().partition("  ")
        rows[label.removesuffix(":")] = value.strip()
    return rows


def test_info_prints_labelled_lines_with_the_token_and_the_offline_copies(env, capsys):
    caldbio(capsys, "upload", env / "gain_v1.fits")
    caldbio(capsys, "sync", "MXT", "--no-download")
    code, out, err = caldbio(capsys, "info")
    assert (code, err) == (0, "")
    _, machine, _ = caldbio(capsys, "info", "--json")
    document = json.loads(machine)
    rows = _labelled(out)
    assert out.splitlines()[0].split() == ["server", document["url"]]
    assert rows["cache"] == document["cache"]
    assert "server state:" in out.splitlines()
    assert rows["status"] == rows["database"] == "ok"
    assert rows["token from"] == "the CALDB_TOKEN environment variable"
    assert "token stands for:" in out.splitlines()
    assert rows["subject"] == document["whoami"]["subject"]
    assert rows["roles"] == "uploader"
    assert rows["expires"] == document["whoami"]["expires_at"]
    assert rows["offline copies"] == "index/svom/mxt.json"
    for raw in ("None", "{", "[", '"'):
        assert raw not in out


def test_info_without_token_or_server_says_not_set_and_unreachable(
    capsys, clean_environment, tmp_path
):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    code, out, _ = caldbio(capsys, "info", "--url", url, "--max-tries", "1")
    assert code == 0
    rows = _labelled(out)
    assert rows["status"] == "unreachable"
    assert rows["detail"].startswith(f"no answer from {url}")
    assert rows["token from"] == "not set"
    assert rows["offline copies"] == "none"
    assert "token stands for" not in rows
    assert "None" not in out


def test_info_text_indents_nested_values_and_never_prints_python_or_json():
    text = info_text(
        {
            "url": "http://caldb",
            "whoami": {"roles": ["reader", "uploader"], "expires_at": None},
            "offline_copies": ["index/svom/mxt.json", "index/svom/ecl.json"],
            "health": {"status": "ok", "checks": [{"name": "db", "ok": True}]},
            "empty": {},
        }
    )
    assert text.splitlines() == [
        "server               http://caldb",
        "token stands for:",
        "  roles              reader, uploader",
        "  expires            not set",
        "offline copies       index/svom/mxt.json, index/svom/ecl.json",
        "server state:",
        "  status             ok",
        "  checks:",
        "    - name db, ok yes",
        "empty                not set",
    ]
