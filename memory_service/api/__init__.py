"""HTTP API: thin FastAPI routes over the plain functions of the package."""
