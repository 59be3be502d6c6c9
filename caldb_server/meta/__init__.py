"""Endpoints about the service itself: health and the OpenAPI document."""
