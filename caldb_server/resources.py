"""Where the project's data directories are: ``schemas/`` and ``migrations/``.

The lookup is shared with the pipeline bricks, which must not import the server: it lives
in ``caldb_selection.resources`` (the pure package of the base install).
"""

from caldb_selection.resources import project_dir, schema_path

__all__ = ["project_dir", "schema_path"]
