"""What `credanchor serve` was told, handed to every worker process through one environment variable.

Invariants: the settings name files and URLs only (never a secret), so they can travel in the environment of
uvicorn's worker processes; the stats token is read from its own variable, never stored here.
"""

import json
import os
from dataclasses import asdict, dataclass

ENV_SETTINGS = "CREDANCHOR_WEB_SETTINGS"
ENV_STATS_TOKEN = "CREDANCHOR_STATS_TOKEN"  # noqa: S105  (the variable's name, not a token)
MIB = 1024 * 1024


@dataclass(frozen=True)
class WebSettings:
    workspace: str | None = None
    """The issuer's workspace: its registry is trusted, its node used, its credentials get pages."""
    rpc_url: str | None = None
    trust_file: str | None = None
    max_upload: int = 8 * MIB
    time_limit: float = 15.0
    cache_seconds: float = 5.0
    min_confirmations: int | None = None
    flush_seconds: float = 10.0
    """How often counted page views and verifications are written to the workspace database."""

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> "WebSettings":
        text = os.environ.get(ENV_SETTINGS)
        return cls(**json.loads(text)) if text else cls()
