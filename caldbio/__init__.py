"""CaDBIO: the client SDK of the SVOM CalDB (see issue 4; not built yet)."""
