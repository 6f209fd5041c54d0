"""Verifying receipts and auditing registries. Never imports `issuer` or the database: a verifier runs on a
machine that has neither."""
