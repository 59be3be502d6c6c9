"""A URL that answers 200 with something other than a CalDB JSON object is one clear error."""

from __future__ import annotations

import pytest

from caldbio import CaDBIO, TransportError
from tests.client.flaky import Answer, flaky_server

NOT_A_CALDB = [
    Answer(200, b"<html><body>Welcome</body></html>", {"Content-Type": "text/html"}),
    Answer.json(["a", "list"]),
    Answer.json("a string"),
    Answer(200, b""),
]


CALLS = {
    "health": lambda client: client.health(),
    "instruments": lambda client: client.instruments(),
    "search": lambda client: client.search("MXT", "gain"),
}


@pytest.mark.parametrize("answer", NOT_A_CALDB, ids=["html", "list", "string", "empty"])
@pytest.mark.parametrize("call", sorted(CALLS))
def test_an_answer_that_is_not_a_json_object_is_a_transport_error(tmp_path, answer, call):
    with flaky_server() as flaky:
        flaky.plan = [answer]
        client = CaDBIO(flaky.url, cache_dir=tmp_path / "cache", use_tokens=False, max_tries=1)
        with pytest.raises(TransportError) as raised:
            CALLS[call](client)
    message = str(raised.value)
    assert message == f"{flaky.url}/api/v1/{call} did not answer as a CalDB (no JSON object)"
    assert "\n" not in message


def test_a_json_object_passes_through(tmp_path):
    with flaky_server() as flaky:
        flaky.plan = [Answer.json({"status": "ok", "database": "ok"})]
        client = CaDBIO(flaky.url, cache_dir=tmp_path / "cache", use_tokens=False, max_tries=1)
        assert client.health() == {"status": "ok", "database": "ok"}
