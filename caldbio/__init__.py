"""CaDBIO: the client SDK of the SVOM CalDB.

from caldbio import CaDBIO
client = CaDBIO(use_tokens=True, max_tries=5)
client.search("MXT", "teldef", download_path="/here")
"""

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
from caldbio.results import Dataset, SearchAnswer

__all__ = [
    "AuthError",
    "CaDBIO",
    "CaDBIOError",
    "Conflict",
    "Dataset",
    "Forbidden",
    "NotFound",
    "SearchAnswer",
    "ServerError",
    "TransportError",
    "UploadResult",
    "ValidationFailed",
]
