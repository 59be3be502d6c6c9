"""The CaDBIO client: search, download, upload and curate calibration in the SVOM CalDB.

    from caldbio import CaDBIO
    client = CaDBIO(use_tokens=True, max_tries=5)
    gains = client.search("MXT", "gain", date="2025-07-01", download_path="/here")

The server URL comes from ``url=``, ``CALDB_URL``, the ``caldb.url`` of ``RUNTIME_DATA``,
else ``http://127.0.0.1:5000``. Tokens are found as :mod:`caldbio.tokens` describes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import requests
import urllib3

from caldbio.cache import CHUNK, Cache, CorruptDownload, default_cache_dir
from caldbio.errors import AuthError, NotFound, TransportError
from caldbio.feeds import FeedMethods
from caldbio.multipart import MultipartUpload
from caldbio.offline import OfflineIndex, load_index, offline_search, sync_instrument
from caldbio.progress import progress_bar
from caldbio.results import Dataset, SearchAnswer, UploadResult, json_object
from caldbio.tokens import Token, TokenProvider, read_runtime_data
from caldbio.transport import Transport

__all__ = ["DEFAULT_URL", "CaDBIO", "UploadResult"]

log = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:5000"
DEFAULT_MAXRET = 50
_BODY_ERRORS = (
    TransportError,
    CorruptDownload,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    urllib3.exceptions.HTTPError,  # a body broken off or stalled, read from urllib3 directly
)


def _offline_mode(offline: bool | str | None) -> str:
    """``"on"``, ``"off"`` or ``"auto"`` from the argument, else ``CALDBIO_OFFLINE``."""
    if offline is None:
        offline = os.environ.get("CALDBIO_OFFLINE", "off")
    if isinstance(offline, bool):
        return "on" if offline else "off"
    mode = {"1": "on", "true": "on", "on": "on", "0": "off", "false": "off", "off": "off"}.get(
        offline.strip().lower(), offline.strip().lower()
    )
    if mode not in ("on", "off", "auto"):
        raise ValueError(f"offline must be true, false or 'auto', got {offline!r}")
    return mode


def _when(value: str | date | datetime | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat()


class CaDBIO(FeedMethods):
    """A client of one CalDB server (thread-safe for searches and downloads)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        use_tokens: bool = True,
        max_tries: int = 5,
        token: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        timeout: float | tuple[float, float] = (5.0, 60.0),
        offline: bool | str | None = None,
        progress: bool | None = None,
        backoff_s: float = 0.5,
    ) -> None:
        runtime = (
            read_runtime_data(os.environ["RUNTIME_DATA"]) if "RUNTIME_DATA" in os.environ else {}
        )
        self.url = (url or os.environ.get("CALDB_URL") or runtime.get("url") or DEFAULT_URL).rstrip(
            "/"
        )
        self.default_as_of = runtime.get("as_of")
        self.offline_mode = _offline_mode(offline)
        self.transport = Transport(
            self.url,
            max_tries=max_tries,
            timeout=timeout,
            backoff_s=backoff_s,
            # auto: a refused connection falls back to the offline copy at once
            give_up_when_refused=self.offline_mode == "auto",
        )
        self.cache = Cache(Path(cache_dir) if cache_dir else default_cache_dir())
        self.tokens = (
            TokenProvider(self.url, explicit=token, exchange=self._exchange) if use_tokens else None
        )
        self.progress = progress

    # -- plumbing -------------------------------------------------------------------------

    def _exchange(self, username: str, password: str) -> dict[str, Any]:
        response = self.transport.request(
            "POST", "auth/token", json={"username": username, "password": password}
        )
        return json_object(response)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A request with the bearer token, if any; a refused token names its source."""
        token: Token | None = self.tokens.token() if self.tokens else None
        headers = dict(kwargs.pop("headers", None) or {})
        if token:
            headers["Authorization"] = f"Bearer {token.value}"
        try:
            return self.transport.request(method, path, headers=headers, **kwargs)
        except AuthError as error:
            if self.tokens is not None and token is not None:
                self.tokens.forget_exchanged()
            error.token_source = token.source if token else None
            source = f"the token from {token.source}" if token else "no token was found"
            error.detail = f"{error.detail} ({source})"
            raise

    # -- reading --------------------------------------------------------------------------

    def search_answer(
        self,
        instrument: str,
        codename: str,
        date: str | date | datetime | None = "now",
        time: str | None = None,
        *,
        detector: str = "-",
        filter: str = "-",
        expr: str = "-",
        mission: str = "SVOM",
        as_of: str | datetime | None = None,
        maxret: int = DEFAULT_MAXRET,
        explain: bool = False,
    ) -> SearchAnswer:
        """Like :meth:`search`, with ``nfound`` and the server's ``answered_at``.

        With ``explain``, the answer's ``explain`` lists every other candidate (same
        instrument and codename) and why it was not selected.
        """
        params = {
            "mission": mission,
            "instrument": instrument,
            "codename": codename,
            "detector": detector,
            "filter": filter,
            "date": _when(date) or "-",
            "expr": expr,
            "maxret": str(maxret),
        }
        if time is not None:
            params["time"] = time
        if explain:
            params["explain"] = "true"
        as_of = _when(as_of) or self.default_as_of
        if as_of:
            params["as_of"] = as_of
        if self.offline_mode == "on":
            return self._offline_answer(params, as_of)
        try:
            document = json_object(self.request("GET", "search", params=params))
        except TransportError as error:
            if self.offline_mode != "auto":
                raise
            log.warning("%s; answering from the offline copy", error.detail)
            return self._offline_answer(params, as_of)
        return SearchAnswer.from_json(document)

    def search(
        self,
        instrument: str,
        codename: str,
        date: str | date | datetime | None = "now",
        time: str | None = None,
        *,
        detector: str = "-",
        filter: str = "-",
        expr: str = "-",
        mission: str = "SVOM",
        download_path: str | os.PathLike[str] | None = None,
        as_of: str | datetime | None = None,
        maxret: int = DEFAULT_MAXRET,
    ) -> list[Dataset]:
        """The datasets quzcif would select; with ``download_path``, their files there too.

        Parameters
        ----------
        instrument, codename : str
            e.g. ``"MXT"``, ``"teldef"`` (any case).
        date, time : str or datetime
            The instant the calibration must be valid at: ``now``, ``YYYY-MM-DD``, an ISO
            datetime, or ``-`` (any); ``time`` is ``hh:mm:ss`` when ``date`` is a day.
        detector, filter, expr : str
            quzcif's ``DETNAM``, ``FILTER`` and boundary expression (``-``: anything).
        as_of : str or datetime, optional
            Replay the answer the CalDB gave at that UTC instant.
        maxret : int
            At most this many results.
        """
        answer = self.search_answer(
            instrument,
            codename,
            date,
            time,
            detector=detector,
            filter=filter,
            expr=expr,
            mission=mission,
            as_of=as_of,
            maxret=maxret,
        )
        if download_path is not None:
            self.download_all(answer.results, download_path)
        return answer.results

    def _offline_answer(self, params: dict[str, str], as_of: str | None) -> SearchAnswer:
        if as_of:
            raise NotFound("as_of cannot be replayed offline: the copy holds no quality history")
        index = load_index(self.cache.root, params["mission"], params["instrument"])
        # The server's parameters, typed as offline_search reads them (time may be absent).
        return offline_search(
            index,
            params
            | {
                "time": params.get("time"),
                "maxret": int(params["maxret"]),
                "explain": "explain" in params,
            },
        )

    def sync(
        self,
        instrument: str,
        codenames: Iterable[str] = (),
        *,
        mission: str = "SVOM",
        download: bool = True,
    ) -> OfflineIndex:
        """Copy an instrument's catalogue (and its good files) into the cache for offline use.

        Parameters
        ----------
        instrument : str
            The instrument (or an alias such as ``ECLAIRS``).
        codenames : iterable of str
            Only these codenames (default: all).
        download : bool
            Also fetch the files of every good dataset (a calibration bundle).
        """
        return sync_instrument(self, instrument, codenames, mission=mission, download=download)

    def health(self) -> dict[str, Any]:
        """The server's liveness and database state (no token needed)."""
        return json_object(self.transport.request("GET", "health"))

    def whoami(self) -> dict[str, Any]:
        """What the client's token stands for on this server (subject, roles, expiry)."""
        return json_object(self.request("GET", "auth/whoami"))

    def login(self, username: str, password: str) -> dict[str, Any]:
        """Exchange a name and password for a token (``caldbio login`` saves it)."""
        return self._exchange(username, password)

    def download(self, dataset: Dataset, path: str | os.PathLike[str]) -> Path:
        """Put the dataset's file in directory ``path`` (from the cache when it is there).

        Raises
        ------
        NotFound
            If the CalDB holds only the metadata of this dataset (an imported index).
        TransportError
            If every attempt failed or delivered corrupt bytes.
        """
        if dataset.sha256 is None or dataset.file_id is None:
            raise NotFound(f"the CalDB holds no file for dataset {dataset.id} ({dataset.cal_file})")
        self.fetch_to_cache(dataset)
        dataset.local_path = self.cache.materialize(dataset.sha256, Path(path), dataset.cal_file)
        return dataset.local_path

    def download_all(self, datasets: Iterable[Dataset], path: str | os.PathLike[str]) -> None:
        """Download each dataset's file once (several datasets may share a file)."""
        for dataset in datasets:
            self.download(dataset, path)

    def fetch_to_cache(self, dataset: Dataset) -> None:
        """Make sure the cache holds the dataset's file, downloading it if needed."""
        sha256 = dataset.sha256
        assert sha256 is not None  # callers check that the CalDB holds the file
        if self.cache.lookup(sha256) is not None:
            return
        if self.offline_mode == "on":
            raise NotFound(f"{dataset.cal_file} is not in the offline cache {self.cache.root}")

        def fill(writer: Any) -> None:
            with (
                self.request("GET", f"files/{dataset.file_id}/content", stream=True) as response,
                progress_bar(self.progress, total=dataset.size, desc=dataset.cal_file) as bar,
            ):
                for chunk in response.raw.stream(CHUNK, decode_content=True):
                    writer.write(chunk)
                    bar.update(len(chunk))

        try:
            self.transport.with_retries(
                lambda: self.cache.store(sha256, fill, size=dataset.size),
                _BODY_ERRORS,
            )
        except (CorruptDownload, requests.RequestException, urllib3.exceptions.HTTPError) as error:
            raise TransportError(
                f"could not download {dataset.cal_file} intact after "
                f"{self.transport.max_tries} attempt(s): {error}"
            ) from error

    def instruments(self) -> dict[str, Any]:
        """The registry: missions, instruments, codenames and dataset counts."""
        return json_object(self.request("GET", "instruments"))

    def dataset(self, dataset_id: int) -> dict[str, Any]:
        """One dataset with its uploader and quality history."""
        return json_object(self.request("GET", f"datasets/{int(dataset_id)}"))

    # -- writing --------------------------------------------------------------------------

    def upload(self, path: str | os.PathLike[str], supersede: bool = False) -> UploadResult:
        """Upload a calibration FITS file (safe to retry: the server is idempotent by content)."""
        return self._upload("files", Path(path), {"supersede": "true" if supersede else "false"})

    def upload_onboard(self, path: str | os.PathLike[str]) -> UploadResult:
        """Upload an onboard configuration file ``<INST>_<CODE>_<date>T<time>_V<NN>.yaml``."""
        return self._upload("onboard", Path(path), {})

    def _upload(self, endpoint: str, path: Path, fields: dict[str, str]) -> UploadResult:
        # The body is read from disk as it is sent, and rewound by each retry.
        size = path.stat().st_size
        with (
            progress_bar(self.progress, total=size, desc=path.name) as bar,
            MultipartUpload(path, fields, bar=bar) as body,
        ):
            bar.total = len(body)
            response = self.request(
                "POST", endpoint, data=body, headers={"Content-Type": body.content_type}
            )
        return UploadResult.from_json(json_object(response))

    def set_quality(self, dataset_id: int, quality: int, reason: str) -> Dataset:
        """Change a dataset's CAL_QUAL (0 good, 5 bad), saying why (``uploader`` role)."""
        response = self.request(
            "PATCH", f"datasets/{int(dataset_id)}", json={"cal_qual": quality, "reason": reason}
        )
        return Dataset.from_json(json_object(response))

    def close(self) -> None:
        """Close the connections."""
        self.transport.close()

    def __enter__(self) -> CaDBIO:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
