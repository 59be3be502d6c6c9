"""The main job: a fresh embedded CalDB, a real server, uploads and quzcif searches over HTTP.

Run with ``make demo``. Everything lives in ``demo-output/`` (recreated each run):

1. ``caldb-server init`` on the embedded default (SQLite + local tree);
2. ``caldb-server serve`` on a free port; an uploader made with ``create-user`` logs in at
   ``POST /api/v1/auth/token``;
3. ``caldb-server demo-data`` (MXT, ECL, VT calibration and onboard files), then one more
   MXT GAIN epoch uploaded through ``POST /api/v1/files``;
4. searches: detectors, epochs, an alias, onboard versions, ``as_of``, ``explain``;
5. the HEASARC tree: ``caldb.indx`` read back by CFITSIO (``fitscopy``) when installed;
6. with ``../shared`` present, the real Swift XRT index imported and a worked quzcif example;
7. the MXT chain: a reader token (``caldb-server create-token``), a GRB simulated with the
   served calibration (``pipeline-bricks simulate``), ``mxt-pipeline`` run on it through
   CaDBIO, the position found against the truth, the products and the previews;
8. a user to sign in as in the web interface, which ``make serve-demo`` serves.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import requests
from astropy.io import fits

from pipeline_bricks.mxt.sky import separation_arcsec

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "demo-output"
SWIFT_CIF = ROOT.parent / "shared" / "fixtures" / "heasarc" / "cif" / "swift_xrt_caldb.indx20160609"
SERVER = [str(Path(sys.executable).parent / "caldb-server")]
BRICKS = str(Path(sys.executable).parent / "pipeline-bricks")
BROWSER_USER = "scientist"
BROWSER_LOGIN = OUTPUT / "browser-login.txt"
DEMO_URL = "http://127.0.0.1:5000"  # make serve-demo
GRB_DATE = "2025-07-01T12:00:00"  # after the 2025-06-01 TELDEF and GAIN epochs


def gain_file(valid_from: str, gain_ev_per_adu: float) -> bytes:
    """A small MXT GAIN calibration file (per-column gain and offset)."""
    columns = [
        fits.Column(name="RAWX", format="I", array=np.arange(256)),
        fits.Column(name="GAIN", format="E", unit="eV/adu", array=np.full(256, gain_ev_per_adu)),
        fits.Column(name="OFFSET", format="E", unit="adu", array=np.full(256, 12.0)),
    ]
    table = fits.BinTableHDU.from_columns(columns, name="GAIN")
    table.header.update(
        TELESCOP="SVOM",
        INSTRUME="MXT",
        CCLS0001="BCF",
        CDTP0001="DATA",
        CCNM0001="GAIN",
        CBD10001="ENERG(0.2-10)keV",
        CVSD0001=valid_from,
        CVST0001="00:00:00",
        CDES0001="MXT per-column gain and offset (demonstration)",
    )
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(buffer, checksum=True)
    return buffer.getvalue()


def free_port() -> int:
    """A free local TCP port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(*arguments: str, env: dict[str, str], stdin: str | None = None) -> str:
    """Run a caldb-server command and return its standard output."""
    return subprocess.run(
        [*SERVER, *arguments], env=env, check=True, capture_output=True, text=True, input=stdin
    ).stdout


def log_in(url: str, username: str, password: str) -> dict[str, str]:
    """Exchange a name and password for a token; the Authorization header to send."""
    answer = requests.post(
        f"{url}/api/v1/auth/token", json={"username": username, "password": password}, timeout=30
    )
    answer.raise_for_status()
    document = answer.json()
    lifetime = document["expires_in"]
    print(f"   {username} logged in: roles {document['roles']}, token valid {lifetime} s")
    return {"Authorization": f"Bearer {document['access_token']}"}


def wait_until_up(url: str) -> None:
    """Poll the health endpoint until the server answers."""
    for _ in range(100):
        try:
            if requests.get(f"{url}/api/v1/health", timeout=1).ok:
                return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit("the server did not start")


def show_search(url: str, title: str, **params: str) -> None:
    """Run a search and print what it selected (and, with explain, what it rejected)."""
    answer = requests.get(f"{url}/api/v1/search", params=params, timeout=10).json()
    files = [f"{r['cal_file']}[{r['cal_xno']}]" for r in answer["results"]]
    print(f"  {title:<46} nfound={answer['nfound']}  {' '.join(files) or '-'}")
    for item in answer.get("explain", []):
        where = f"{item['cal_file']}[{item['cal_xno']}]"
        print(f"      rejected {where}: {item['reason']}: {item['detail']}")


def upload_gain_epoch(url: str, headers: dict[str, str]) -> str:
    """Upload a new GAIN epoch through the API; return a search's answered_at from before."""
    before = requests.get(
        f"{url}/api/v1/search",
        timeout=10,
        params={"instrument": "MXT", "codename": "GAIN", "date": "2026-02-01"},
    ).json()["answered_at"]
    name = "mxt_gain_20260101v001.fits"
    reply = requests.post(
        f"{url}/api/v1/files",
        headers=headers,
        timeout=30,
        files={"file": (name, gain_file("2026-01-01", 5.08))},
    )
    ids = [d["id"] for d in reply.json()["datasets"]]
    print(f"   {name}: HTTP {reply.status_code}, dataset ids {ids}")
    return before


def searches(url: str, before: str) -> None:
    """Three instruments, epochs, detectors, onboard versions, as_of, boundaries, explain."""
    show_search(url, "VT FLAT, detector BLUE", instrument="VT", codename="FLAT", detector="BLUE")
    show_search(url, "VT FLAT, detector RED", instrument="VT", codename="FLAT", detector="RED")
    teldef = {"instrument": "MXT", "codename": "TELDEF"}
    show_search(url, "MXT TELDEF on 2024-12-01", **teldef, date="2024-12-01")
    show_search(url, "MXT TELDEF on 2025-07-01 (realigned)", **teldef, date="2025-07-01")
    show_search(url, "ECLAIRS GAIN (alias of ECL)", instrument="ECLAIRS", codename="GAIN")
    onboard = {"instrument": "MXT", "codename": "EVTTHR"}
    show_search(url, "MXT EVTTHR onboard on 2024-08-01", **onboard, date="2024-08-01")
    show_search(url, "MXT EVTTHR onboard on 2025-04-01", **onboard, date="2025-04-01")
    gain = {"instrument": "MXT", "codename": "GAIN"}
    show_search(url, "MXT GAIN on 2026-02-01", **gain, date="2026-02-01")
    show_search(
        url,
        "MXT GAIN on 2026-02-01 as_of before the upload",
        **gain,
        date="2026-02-01",
        as_of=before,
    )
    show_search(
        url,
        "MXT MATRIX energ.eq.12 (outside 0.2-10)",
        instrument="MXT",
        codename="MATRIX",
        expr="energ.eq.12",
    )
    show_search(url, "MXT GAIN on 2026-02-01, explain", **gain, date="2026-02-01", explain="true")


def heasarc_tree(url: str) -> None:
    """The served index as astropy and CFITSIO read it."""
    index = requests.get(f"{url}/caldb/data/svom/mxt/caldb.indx", timeout=10)
    with fits.open(io.BytesIO(index.content)) as cif:
        header = cif[1].header
        print(
            f"   caldb.indx: EXTNAME={cif[1].name} CIFVERSN='{header['CIFVERSN']}' "
            f"rows={len(cif[1].data)} TFORM11={header['TFORM11']}"
        )
    probe = requests.get(
        f"{url}/caldb/data/svom/mxt/caldb.indx.gz", timeout=10, allow_redirects=False
    )
    print(f"   CFITSIO probe caldb.indx.gz -> HTTP {probe.status_code}")
    if shutil.which("fitscopy"):
        copy = OUTPUT / "caldb.indx.fitscopy"
        subprocess.run(
            ["fitscopy", f"{url}/caldb/data/svom/mxt/caldb.indx", f"!{copy}"], check=True
        )
        with fits.open(copy) as cif:
            print(f"   CFITSIO fitscopy read the served index: {len(cif[1].data)} rows")


def swift_example(url: str, env: dict[str, str]) -> None:
    """Import the real Swift XRT index and answer a worked example of the reference."""
    print("   " + run("import-cif", str(SWIFT_CIF), env=env).strip())
    show_search(
        url,
        "XRT MATRIX 2014-03-01 12:00 (reference 4.10 #5)",
        mission="SWIFT",
        instrument="XRT",
        codename="MATRIX",
        date="2014-03-01",
        time="12:00:00",
        expr="datamode.eq.PHOTON.and.grade.eq.G0:12.and.xrtvsub.eq.6",
    )


def mxt_chain(url: str, env: dict[str, str]) -> None:
    """Simulate a GRB with the served calibration and run mxt-pipeline on it through CaDBIO."""
    token = run("create-token", "--role", "reader", "--sub", "mxt-pipeline", env=env).strip()
    chain_env = {
        **env,
        "CALDB_URL": url,
        "CALDB_TOKEN": token,
        "CALDBIO_CACHE": str(OUTPUT / "cache"),
    }
    grb = OUTPUT / "grb"
    print("   reader token created for mxt-pipeline (caldb-server create-token --role reader)")
    simulate = [BRICKS, "simulate", "--date", GRB_DATE, "--seed", "7", "--out", str(grb)]
    said = subprocess.run(simulate, env=chain_env, check=True, capture_output=True, text=True)
    print(f"   {said.stdout.strip()}")
    started = time.perf_counter()
    ran = subprocess.run(
        [BRICKS, "run", "mxt-pipeline", "runtime_data.json"],
        check=False, cwd=grb, env=chain_env, capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    status = json.loads((grb / "pipeline" / "processing_status.json").read_text())
    print(f"   mxt-pipeline: {status['status']} in {seconds:.1f} s (exit code {ran.returncode})")
    if status["status"] != "SUCCESS":
        raise SystemExit(f"mxt-pipeline did not succeed: {status['messages']}")
    truth = json.loads((grb / "truth.json").read_text())["source"]
    found = status["results"]["mxt-detect"]["sources"][0]
    offset = separation_arcsec(truth["ra_deg"], truth["dec_deg"], found["ra_deg"], found["dec_deg"])
    print(
        f"   position found: RA {found['ra_deg']:.5f} Dec {found['dec_deg']:+.5f} deg, "
        f"90% error radius {found['err_r90_arcsec']:.1f} arcsec, {found['counts']:.0f} counts, "
        f"DETML {found['detml']:.0f}"
    )
    print(
        f"   truth:          RA {truth['ra_deg']:.5f} Dec {truth['dec_deg']:+.5f} deg; "
        f"offset {offset:.1f} arcsec ({offset / found['err_r90_arcsec']:.2f} x R90)"
    )
    used = ", ".join(f"{c['codename']}={c['file']}" for c in status["calibration"])
    print(f"   calibration used: {used}")
    print(f"   products in {grb / 'pipeline'}:")
    for kind, names in status["outputs"].items():
        print(f"     {kind:<18} {' '.join(names)}")
    for name in status["outputs"].get("preview", []):
        print(f"   preview: {grb / 'pipeline' / name}")


def browser_login(env: dict[str, str]) -> None:
    """A user to sign in as in a browser; its password in a private file, never printed."""
    password = secrets.token_urlsafe(12)
    run("create-user", BROWSER_USER, "--role", "uploader", env=env, stdin=password + "\n")
    BROWSER_LOGIN.touch(mode=0o600)
    BROWSER_LOGIN.write_text(f"user name: {BROWSER_USER}\npassword:  {password}\n")
    print("   serve this instance for a browser with:  make serve-demo")
    print(f"   then open {DEMO_URL}/ and sign in as {BROWSER_USER!r}")
    print(f"   (its password is in {BROWSER_LOGIN.relative_to(ROOT)}, readable by you only)")


def main() -> None:
    """Run the demonstration (see the module docstring)."""
    shutil.rmtree(OUTPUT, ignore_errors=True)
    OUTPUT.mkdir()
    env = {**os.environ, "CALDB_INSTANCE_PATH": str(OUTPUT / "instance")}
    print("1. caldb-server init (embedded default: SQLite + local tree)")
    print("   " + run("init", env=env).replace("\n", "\n   ").rstrip())
    url = f"http://127.0.0.1:{free_port()}"
    log = (OUTPUT / "server.log").open("w")
    server = subprocess.Popen(
        [*SERVER, "serve", "--port", url.rsplit(":", 1)[1], "--workers", "2"],
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        wait_until_up(url)
        print(f"2. server at {url}; caldb-server create-user calib --role uploader")
        password = secrets.token_urlsafe(16)  # a demo password, never printed
        run("create-user", "calib", "--role", "uploader", env=env, stdin=password + "\n")
        headers = log_in(url, "calib", password)
        loaded = run("demo-data", env=env).strip().splitlines()
        print(f"3. caldb-server {loaded[-1]}")
        print("   then one more MXT GAIN epoch uploaded through the API")
        before = upload_gain_epoch(url, headers)
        print("4. searches (quzcif semantics)")
        searches(url, before)
        print("5. the HEASARC tree")
        heasarc_tree(url)
        if SWIFT_CIF.is_file():
            print("6. importing the real Swift XRT index (HEASARC, CALDBVER 20160609)")
            swift_example(url, env)
        print("7. the MXT chain on a simulated GRB, calibration through CaDBIO")
        mxt_chain(url, env)
        print("8. the web interface")
        browser_login(env)
        print(f"\nDone. Instance, tree and server log: {OUTPUT}")
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


if __name__ == "__main__":
    main()
