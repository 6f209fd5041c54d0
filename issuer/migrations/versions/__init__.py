"""Alembic revisions of the issuer database, oldest first (see issuer/migrations)."""
