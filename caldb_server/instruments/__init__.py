"""The registry and the catalogue's counts, as ``/api/v1/instruments`` shows them."""
