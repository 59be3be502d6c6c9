"""CaDBIO: the client SDK of the SVOM CalDB.

from caldbio import CaDBIO
client = CaDBIO(use_tokens=True, max_tries=5)
client.search("MXT", "teldef", download_path="/here")
"""

from importlib import metadata

from caldbio.client import CaDBIO, UploadResult
from caldbio.errors import (
    AuthError,
    CaDBIOError,
    Conflict,
    Forbidden,
    NotFound,
    ServerError,
    TransportError,
    ValidationFailed,
)
from caldbio.results import Dataset, Rejection, SearchAnswer

try:  # the distribution's version (setup.cfg reads it from the server package's source)
    __version__ = metadata.version("svom-caldb")
except metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "AuthError",
    "CaDBIO",
    "CaDBIOError",
    "Conflict",
    "Dataset",
    "Forbidden",
    "NotFound",
    "Rejection",
    "SearchAnswer",
    "ServerError",
    "TransportError",
    "UploadResult",
    "ValidationFailed",
    "__version__",
]
