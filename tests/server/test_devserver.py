"""The development server closes downloads whose client dropped the connection."""

import gc
import io
import socket
import struct
import threading
import warnings

import numpy as np
import requests
from astropy.io import fits
from werkzeug.serving import make_server

from caldb_server.devserver import closing_responses
from tests.helpers import MXT_GAIN


def large_calfile():
    """A valid calibration file larger than the socket buffers (about 1 MB)."""
    table = fits.BinTableHDU.from_columns(
        [fits.Column(name="RAWX", format="J", array=np.arange(250_000))],
        header=fits.Header(MXT_GAIN),
    )
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(buffer)
    return buffer.getvalue()


def drop_after_headers(base_url, path):
    """Ask for a file, read the status line, then reset the connection (as CFITSIO does)."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as connection:
        connection.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        assert connection.recv(12).startswith(b"HTTP/1.")
        connection.sendall(b"unexpected trailing bytes")  # the server drains these...
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # ...and finds the connection reset


def test_dropped_downloads_close_their_files(app, uploader):
    server = make_server("127.0.0.1", 0, closing_responses(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    # Upload over HTTP: Flask's test client leaves its own spooled body open above 500 kB.
    reply = requests.post(
        f"{url}/api/v1/files",
        headers=uploader,
        timeout=30,
        files={"file": ("g.fits", large_calfile())},
    )
    path = f"/api/v1/files/{reply.json()['file_id']}/content"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for _ in range(10):
            drop_after_headers(url, path)
        server.shutdown()
        server.server_close()  # joins every request thread (socketserver's block_on_close)
        thread.join()
        gc.collect()
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert unclosed == []
