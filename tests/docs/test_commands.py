"""Every command line of README.md and docs/*.md, run against a live demonstration CalDB.

The lines are extracted from the Markdown (``tests/docs/commands.py``) and run through bash
(``tests/docs/runner.py``) against ``caldb-server serve`` on an instance filled by
``caldb-server demo-data``. Each must exit 0. The tables below are the whole difference
between what the docs say and what runs: the documented hosts and placeholders replaced by
what the test made, the files the docs assume the reader has, and the lines not run here
with the reason. A line is either run or listed, and every listed line must still be in
the docs.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
import requests
import yaml

from tests.docs.commands import (
    COMMANDS,
    ROOT,
    CommandLine,
    code_lines,
    command_lines,
    documents,
    first_word,
    other_lines,
)
from tests.docs.conftest import DemoServer
from tests.docs.runner import Context, Shell, Tables
from tests.helpers import MXT_GAIN, calfile_bytes

_HOST = "installs into a production host's /opt/caldb (as root); not this machine's"
_ROOT = "changes the host's packages, users or system directories, as root"
# Lines not run here, with the reason (keyed by the line as extracted).
NOT_RUN = {
    "make demo": "the whole demonstration with its own server, rewriting demo-output/ in the "
    "repository; .ci/run runs it after `make test`",
    "make test": "this test runs inside `make test`",
    "CALDB_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/caldb_test make test": (
        "this test runs inside `make test`"
    ),
    "make serve-demo": "serves demo-output/instance until Ctrl-C; tests/ui runs the same server "
    "and pages in a browser",
    "pip install .": "run in a fresh virtualenv by tests/client/test_client_only_install.py "
    "(here it would reinstall the package into the virtualenv running the tests)",
    # docs/operations.md: the production host's own paths
    "git clone https://git.example.org/svom/caldb.git /opt/caldb/src": _HOST,
    "git -C /opt/caldb/src pull": _HOST,
    "python3 -m venv /opt/caldb/venv": _HOST,
    "/opt/caldb/venv/bin/pip install '/opt/caldb/src[server]'": _HOST,
    "set -a && . /etc/caldb/caldb.env && set +a && PATH=/opt/caldb/venv/bin:$PATH": (
        "loads the host's /etc/caldb/caldb.env; the lines after it run here with the "
        "demonstration instance's settings instead"
    ),
}
_BENCHMARK = "a benchmark (minutes of CPU); `make benchmarks` runs it"
NOT_RUN_PREFIXES = {
    # README: a webhook receiver must be on a public address, which CI has none of
    "curl -H \"Authorization: Bearer $CALDB_TOKEN\" -H 'Content-Type: application/json' "
    '-d \'{"url": "https://scheduler.example.org/caldb"': "subscribes a receiver on a public "
    "address (refused on loopback); tests/server/test_webhook_delivery.py subscribes a real "
    "receiver with CALDB_WEBHOOK_ALLOW_PRIVATE",
    "apt-get install ": _ROOT,
    "useradd ": _ROOT,
    "usermod ": _ROOT,
    "install ": _ROOT,
    "systemctl ": "systemd's units of a production host; there is no systemd in CI",
    "runuser -u caldb -- bash": "an interactive shell as the production user",
    "runuser -u postgres -- create": "creates the production role and database (as root); "
    "the PostgreSQL tests make their own databases",
    "runuser -u caldb -- pg_": "the production database; tests/server/test_backup_restore.py "
    "runs the same pg_dump and pg_restore on the test PostgreSQL",
    "rsync ": "copies the production tree under /srv and /backup; "
    "tests/server/test_backup_restore.py copies a tree the same way",
    ".venv/bin/python benchmarks/bench_": _BENCHMARK,
    "CALDB_BENCH_DATABASE_URL=": _BENCHMARK,  # the same benchmarks, on PostgreSQL too
}

# Commands that need a program this project does not install: run where it is installed.
EXTERNAL_TOOLS = {"quzcif": "HEASoft's quzcif is not installed", "jq": "jq is not installed"}


def _future_day(context: Context) -> dt.date:
    """A validity start of its own, after every date the docs search at."""
    return dt.date(2030, 1, 1) + dt.timedelta(days=context.serial())


def write_gain_file(context: Context, path: Path) -> None:
    """A real MXT GAIN calibration file (a validity start of its own: no duplicate)."""
    day = _future_day(context).isoformat()
    keywords = MXT_GAIN | {"CVSD0001": day, "CDES0001": f"MXT gain of the docs test {day}"}
    path.write_bytes(calfile_bytes(keywords))


def write_onboard_file(context: Context, path: Path) -> None:
    """An MXT event-threshold configuration: the demonstration one, re-described."""
    shipped = sorted(context.server.demo_files.glob("MXT_EVTTHR_*.yaml"))[-1]
    document = yaml.safe_load(shipped.read_text()) | {"description": f"docs test {path.name}"}
    path.write_text(yaml.safe_dump(document))


def new_gain_file(context: Context) -> str:
    name = f"mxt_gain_{context.new_name('docs')}.fits"
    write_gain_file(context, context.directory / name)
    return name


def new_onboard_file(context: Context) -> str:
    name = f"MXT_EVTTHR_{_future_day(context):%Y%m%d}T000000_V01.yaml"
    write_onboard_file(context, context.directory / name)
    return name


def served_index(context: Context, path: Path) -> None:
    """The MXT caldb.indx the test server publishes."""
    answer = requests.get(f"{context.server.url}/caldb/data/svom/mxt/caldb.indx", timeout=30)
    answer.raise_for_status()
    path.write_bytes(answer.content)


def simulated_job(context: Context, path: Path) -> None:
    """A job directory made by the simulator, whose runtime_data.json is ``path``."""
    context.server.run(
        "pipeline-bricks", "simulate", "--date", "2025-07-01T12:00:00", "--out", str(path.parent)
    )


# Documented host, token, password and placeholders -> what the test made (regex, value).
SUBSTITUTIONS = [
    (r"https?://(localhost|caldb\.example)(:\d+)?(?![\w.-])", lambda c: c.server.url),
    (r"CALDB_TOKEN=\.\.\.", lambda c: f"CALDB_TOKEN={c.server.token}"),
    (r'"password": "\.\.\."', lambda c: f'"password": "{c.server.password}"'),
    (r"\bJTI\b", lambda c: c.new_token_id()),
    (r"\bFILE\.fits\.\.\.|\bFILE\.\.\.", new_gain_file),
    (r"\bFILE\.yaml\.\.\.", new_onboard_file),
    (r"--files-root DIR\b", lambda c: f"--files-root {c.server.tree}"),
    (r"--download DIR\b", lambda c: "--download downloads"),
    (r"-o /here\b", lambda c: "-o here"),
    (r"\bYYYYMMDD\b", lambda c: "20250701"),
    (r"--port 5000\b", lambda c: f"--port {c.new_port()}"),
    # alice exists already: the fixture made her for the README's login example.
    (r"create-user alice\b", lambda c: f"create-user {c.new_name('alice')}"),
]
# Files the docs name as the reader's own: the test makes real ones where the line runs.
FILES = {
    "mxt_gain_20250601v001.fits": write_gain_file,
    "MXT_EVTTHR_20250301T120000_V02.yaml": write_onboard_file,
    "caldb.indx": served_index,
    "runtime_data.json": simulated_job,
}
TABLES = Tables(
    substitutions=SUBSTITUTIONS,
    files=FILES,
    # Shell variables the docs assume the reader has set.
    variables=lambda server: {"TOKEN": server.token, "PASSWORD": server.password},
    long_running=re.compile(r"(caldb-server serve|gunicorn)\b"),
    in_repository=re.compile(r"make\s|\.venv/"),
)

LINES = command_lines()


def not_run_reason(line: CommandLine) -> str | None:
    """Why the table says this line is not run here (None: it is run)."""
    if line.text in NOT_RUN:
        return NOT_RUN[line.text]
    return next(
        (why for start, why in NOT_RUN_PREFIXES.items() if line.text.startswith(start)), None
    )


def missing_tool(line: CommandLine) -> str | None:
    """Why the line's shell or an external program it calls is missing (None: all there)."""
    if not shutil.which(line.shell):
        return f"{line.shell} is not installed"
    words = re.findall(r"(?:^|[;|&(]\s*)([\w.-]+)", line.text)
    return next(
        (why for tool, why in EXTERNAL_TOOLS.items() if tool in words and not shutil.which(tool)),
        None,
    )


def runnable(line: CommandLine) -> bool:
    return not_run_reason(line) is None and missing_tool(line) is None


@pytest.fixture(scope="module")
def shell(demo_server: DemoServer, tmp_path_factory: pytest.TempPathFactory) -> Shell:
    return Shell(demo_server, tmp_path_factory.mktemp("docs-lines"), TABLES, runnable)


@pytest.mark.slow
@pytest.mark.parametrize("line", LINES, ids=[line.id for line in LINES])
def test_documented_command_runs(line: CommandLine, shell: Shell) -> None:
    reason = not_run_reason(line) or missing_tool(line)
    if reason:
        pytest.skip(reason)
    block = [
        other for other in LINES if (other.document, other.block) == (line.document, line.block)
    ]
    outcome = shell.outcome(line, block)
    assert outcome.returncode == 0, f"{line.id}: {line.text}\n{outcome}"


def test_the_docs_have_command_lines_to_run() -> None:
    run = [line for line in LINES if not_run_reason(line) is None]
    assert len(run) >= 30, [line.text for line in LINES]
    assert {line.document for line in run} >= {"README.md", "docs/simulator.md"}


def test_every_not_run_entry_is_still_in_the_docs() -> None:
    texts = [line.text for line in LINES]
    assert [entry for entry in NOT_RUN if entry not in texts] == []
    assert [
        start for start in NOT_RUN_PREFIXES if not any(t.startswith(start) for t in texts)
    ] == []


def test_ci_runs_the_demonstration_this_test_leaves_out() -> None:
    assert re.search(r"^make demo$", (ROOT / ".ci" / "run").read_text(), re.MULTILINE)


def test_every_code_line_that_names_a_program_is_run_or_listed() -> None:
    """A code line left out as "not a command" must not start with a program on PATH.

    Otherwise a new command line whose first word is missing from ``COMMANDS`` (a new tool
    in the docs) would silently never run.
    """
    programs = [
        f"{code.document}:{code.line}: {code.text}"
        for code in other_lines()
        if first_word(code.text) and shutil.which(first_word(code.text).rsplit("/", 1)[-1])
    ]
    assert programs == [], f"add their first word to COMMANDS ({len(COMMANDS)} known)"


def test_every_substitution_and_file_is_used() -> None:
    """A table entry no documented line needs any more is stale: remove it."""
    texts = [line.text for line in LINES]
    unused = [p for p, _ in SUBSTITUTIONS if not any(re.search(p, t) for t in texts)]
    unused += [name for name in FILES if not any(name in t for t in texts)]
    assert unused == []


def test_extraction_of_a_sample_document(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text(SAMPLE, encoding="utf-8")
    assert documents(tmp_path) == [tmp_path / "README.md"]
    found = [(line.line, line.block, line.text) for line in command_lines(tmp_path)]
    assert found == [
        (5, 0, "caldbio search MXT gain --date 2025-07-01 --json"),
        (6, 0, 'TOKEN=$(curl -s -d \'{"a": "#x"}\' http://localhost:5000 | jq -r .t)'),
        (12, 1, "export CALDB_URL=http://localhost:5000"),
        (13, 1, ".venv/bin/python -c 'print(1)'"),
        (25, 4, "pipeline-bricks list"),
        (31, 5, "autoload -U compinit && compinit"),
    ]
    lines = command_lines(tmp_path)
    assert [line.shell for line in lines] == ["bash"] * 5 + ["zsh"]
    assert [line.sets_state for line in lines] == [False, True, True, False, False, True]
    assert [c.text for c in code_lines(tmp_path / "README.md", tmp_path)][-2:] == [
        "ALIGNM11 = 0.99",
        "caldbio ─ HTTP ─▶ caldb_server",
    ]


SAMPLE = """\
# Title

Some text.

    caldbio search MXT gain --date 2025-07-01 --json   # a comment
    TOKEN=$(curl -s -d '{"a": "#x"}' \\
        http://localhost:5000 | jq -r .t)

- a list item

  ```sh
  export CALDB_URL=http://localhost:5000
  $ .venv/bin/python -c 'print(1)'
  ```

```json
{"caldbio": "search"}
```

```python
caldbio = CaDBIO()
```

```console
$ pipeline-bricks list
mxt-calibrate  calibrates
caldbio 0.1.0
```

```zsh
autoload -U compinit && compinit
```

```
ALIGNM11 = 0.99
caldbio ─ HTTP ─▶ caldb_server
```
"""
