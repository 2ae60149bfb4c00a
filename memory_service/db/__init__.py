"""Database access: typed models, engine and the embedded PostgreSQL server."""
