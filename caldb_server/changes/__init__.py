"""The change feed: every catalogue event numbered in commit order (``/api/v1/changes``)."""
