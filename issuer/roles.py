"""Roles on the issuer's registry: who may anchor, revoke and manage signing keys, the signing keys
themselves, and the two-step admin handover.

Invariants: every change is a transaction signed by the caller's key and checked by the contract (a call the
registry would refuse fails at estimation with the decoded reason, before any gas is spent); role holders
are read from the registry's own events, the same record an auditor reads.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from anchoring.chain import ANCHOR_ROLE, DEFAULT_ADMIN_ROLE, KEY_ADMIN_ROLE, REVOKE_ROLE, Chain, Registry
from anchoring.errors import InvalidInput
from anchoring.hashing import checksum_address, is_address, to_hex
from anchoring.multibase import decode_multikey, encode_multikey
from anchoring.onchain import RegistryEvent, RoleBook
from anchoring.receipt import utc_seconds
from anchoring.sender import TxSender

ROLES = {"anchor": ANCHOR_ROLE, "revoke": REVOKE_ROLE, "key-admin": KEY_ADMIN_ROLE}


@dataclass(frozen=True)
class KeyRecord:
    """One signing key as the registry's events tell it."""

    multikey: str
    added_block: int
    revoked_block: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class RoleStatus:
    admin: str
    pending_admin: str | None
    pending_after: str | None
    admin_delay: int
    anchor: tuple[str, ...]
    revoke: tuple[str, ...]
    key_admin: tuple[str, ...]
    issuer_id: str | None
    signing_keys: tuple[KeyRecord, ...]


def signing_keys(events: list[RegistryEvent]) -> tuple[KeyRecord, ...]:
    """Every signing key added, in order, with its revocation if any, from the registry's events."""
    keys: dict[str, KeyRecord] = {}
    for event in events:
        if event.name == "SigningKeyAdded":
            key = str(event.args["publicKey"])
            keys[key] = KeyRecord(encode_multikey(bytes.fromhex(key[2:])), event.block_number)
        elif event.name == "SigningKeyRevoked":
            key = str(event.args["publicKey"])
            if key in keys:
                added = keys[key]
                keys[key] = KeyRecord(added.multikey, added.added_block, event.block_number, str(event.args["reason"]))
    return tuple(keys.values())


def key_bytes(multikey: str) -> bytes:
    return decode_multikey(multikey)


def role_hash(name: str) -> str:
    if name == "admin":
        raise InvalidInput("the admin role changes hands only by `credanchor admin transfer` (two steps, delayed)")
    if name not in ROLES:
        raise InvalidInput(f"unknown role {name!r}: anchor, revoke or key-admin")
    return ROLES[name]


def account_address(value: str) -> str:
    if not is_address(value):
        raise InvalidInput(f"{value!r} is not an address (0x and 40 hex digits, EIP-55 if mixed case)")
    return checksum_address(value)


class Roles:
    def __init__(self, chain: Chain, registry: Registry, sender: TxSender | None, timeout: float) -> None:
        self.chain = chain
        self.registry = registry
        self.sender = sender
        self.timeout = timeout

    def _send(self, call: object) -> tuple[str, int]:
        if self.sender is None:
            raise InvalidInput("this needs a key")
        signed = self.sender.send(call)  # type: ignore[arg-type]
        mined = self.sender.wait_mined(signed.tx_hash, timeout=self.timeout)
        return mined.tx_hash, mined.block_number

    def grant(self, role: str, account: str) -> tuple[str, int]:
        fn = self.registry.contract.functions.grantRole(bytes.fromhex(role_hash(role)[2:]), account_address(account))
        return self._send(fn)

    def revoke(self, role: str, account: str) -> tuple[str, int]:
        fn = self.registry.contract.functions.revokeRole(bytes.fromhex(role_hash(role)[2:]), account_address(account))
        return self._send(fn)

    def begin_admin_transfer(self, new_admin: str) -> tuple[str, int]:
        return self._send(self.registry.contract.functions.beginDefaultAdminTransfer(account_address(new_admin)))

    def accept_admin_transfer(self) -> tuple[str, int]:
        return self._send(self.registry.contract.functions.acceptDefaultAdminTransfer())

    def cancel_admin_transfer(self) -> tuple[str, int]:
        return self._send(self.registry.contract.functions.cancelDefaultAdminTransfer())

    def add_key(self, multikey: str) -> tuple[str, int]:
        """Register a signing key (signed by a key-admin key); the contract refuses a key added before."""
        return self._send(self.registry.contract.functions.addSigningKey(key_bytes(multikey)))

    def revoke_key(self, multikey: str, reason: str) -> tuple[str, int]:
        if not reason.strip():
            raise InvalidInput("give the reason for revoking the key with --reason (it is public)")
        return self._send(self.registry.contract.functions.revokeSigningKey(key_bytes(multikey), reason))

    def key_active(self, multikey: str) -> bool:
        status = self.registry.signing_key(to_hex(key_bytes(multikey)))
        return status.added_block != 0 and status.revoked_block == 0

    def status(self) -> RoleStatus:
        functions = self.registry.contract.functions
        admin = str(self.chain.ask("defaultAdmin", functions.defaultAdmin().call))
        pending, schedule = self.chain.ask("pendingDefaultAdmin", functions.pendingDefaultAdmin().call)
        delay = int(self.chain.ask("defaultAdminDelay", functions.defaultAdminDelay().call))
        book = RoleBook()
        events = list(self.registry.events(self.registry.deployment_block(), self.chain.block_number()))
        for event in events:
            book.apply(event)
        no_pending = int(pending, 16) == 0
        return RoleStatus(
            admin=checksum_address(admin) if int(admin, 16) else "nobody",
            pending_admin=None if no_pending else checksum_address(pending),
            pending_after=None if no_pending else utc_seconds(datetime.fromtimestamp(schedule, UTC)),
            admin_delay=delay,
            anchor=book.members(ANCHOR_ROLE),
            revoke=book.members(REVOKE_ROLE),
            key_admin=book.members(KEY_ADMIN_ROLE),
            issuer_id=self.registry.issuer_id(),
            signing_keys=signing_keys(events),
        )

    def holds(self, role: str, account: str) -> bool:
        return self.registry.has_role(DEFAULT_ADMIN_ROLE if role == "admin" else role_hash(role), account)
