"""Committed JSON Schemas. `python -m anchoring.schemas` regenerates them from the models."""
