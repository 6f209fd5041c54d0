"""credanchor: the command-line entry, a thin Typer app over `issuer`, `verifier` and `anchoring`."""

__version__ = "0.1.0"
