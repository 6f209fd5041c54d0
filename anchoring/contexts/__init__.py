"""JSON-LD contexts bundled with credanchor, byte for byte as published (see README.md here)."""
