"""What the chain says about a registry, as plain values: the shared vocabulary of the chain client and the
pure verification and audit code (which must not import the client)."""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class OnChainAnchor:
    root: str
    block_number: int
    timestamp: int
    leaf_count: int
    revoked_block: int
    revoked_timestamp: int

    @property
    def batch_revoked(self) -> bool:
        return self.revoked_block != 0


@dataclass(frozen=True)
class RegistryEvent:
    """One log of the registry, decoded; `args` holds hashes as hex and addresses checksummed."""

    name: str
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    args: dict[str, Any] = field(default_factory=dict)
