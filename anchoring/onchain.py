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


@dataclass(frozen=True)
class SigningKeyStatus:
    """An Ed25519 signing key's life in a registry: added in `added_block`, revoked in `revoked_block` (or 0)."""

    public_key: str
    added_block: int
    revoked_block: int
    revocation: RegistryEvent | None = None
    """The SigningKeyRevoked event (with its reason), when the key was revoked and the event was read."""

    def active_at(self, block: int) -> bool:
        return (
            self.added_block != 0
            and self.added_block <= block
            and (self.revoked_block == 0 or block < self.revoked_block)
        )


ROLE_EVENTS = ("RoleGranted", "RoleRevoked")


@dataclass
class RoleBook:
    """Who holds which role, replayed from RoleGranted / RoleRevoked events in chain order."""

    holders: dict[str, set[str]] = field(default_factory=dict)

    def apply(self, event: RegistryEvent) -> None:
        if event.name not in ROLE_EVENTS:
            return
        members = self.holders.setdefault(str(event.args["role"]), set())
        account = str(event.args["account"])
        if event.name == "RoleGranted":
            members.add(account)
        else:
            members.discard(account)

    def has(self, role: str, account: str) -> bool:
        return account in self.holders.get(role, set())

    def members(self, role: str) -> tuple[str, ...]:
        return tuple(sorted(self.holders.get(role, set())))
