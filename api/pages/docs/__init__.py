"""The OpenAPI documentation, Swagger UI at ``/docs`` and ReDoc at ``/redoc``, from the
vendored assets (no CDN)."""
