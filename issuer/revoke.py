"""Revoking one credential or a whole batch: on chain first, then in the database.

Invariants: a revocation is effective when its transaction has the configured confirmations, and only then
is it recorded in the database; the chain, not the database, is what verifiers read. A reason is required
(it is emitted in the event for everyone to read), so it must not contain personal data.
"""

from dataclasses import dataclass

from anchoring.chain import Chain
from anchoring.errors import InvalidInput
from anchoring.hashing import is_hash32
from anchoring.sender import TxSender, wait_for_depth
from issuer.store import Store, now
from issuer.workspace import Workspace

MAX_REASON = 500


@dataclass(frozen=True)
class Revoked:
    what: str
    root: str
    leaf: str | None
    tx_hash: str
    block_number: int


def check_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise InvalidInput("a revocation needs a reason (--reason TEXT); it is public, so no personal data")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"the reason is {len(reason)} characters; at most {MAX_REASON}")
    return reason


def credential_key(credential_id: str) -> str:
    """Accept `urn:uuid:...` or the bare UUID (the receipt's file name)."""
    credential_id = credential_id.strip().removesuffix(".json")
    return credential_id if credential_id.startswith("urn:") else f"urn:uuid:{credential_id}"


class Revoker:
    def __init__(self, workspace: Workspace, store: Store, chain: Chain, sender: TxSender) -> None:
        self.workspace = workspace
        self.store = store
        self.chain = chain
        self.sender = sender
        self.registry = chain.registry(workspace.config.chain.registry)

    def credential(self, credential_id: str, reason: str) -> Revoked:
        reason = check_reason(reason)
        key = credential_key(credential_id)
        credential = self.store.credential(key)
        if credential is None:
            raise InvalidInput(f"no credential {key} in this workspace")
        batch = self.store.batch(credential.batch_id)
        if batch.block_number is None:
            raise InvalidInput(f"credential {key} is in batch {batch.id}, which is not anchored yet ({batch.state})")
        if self.registry.is_revoked(batch.root, credential.leaf):
            raise InvalidInput(f"credential {key} is already revoked (on its own or with its batch)")
        call = self.registry.contract.functions.revokeCredential(
            bytes.fromhex(batch.root[2:]), bytes.fromhex(credential.leaf[2:]), reason
        )
        tx_hash, block = self._send(call)
        self.store.mark_credential_revoked(key, reason, tx_hash)
        return Revoked(key, batch.root, credential.leaf, tx_hash, block)

    def batch(self, root: str, reason: str) -> Revoked:
        reason = check_reason(reason)
        root = root.strip().lower()
        if not is_hash32(root):
            raise InvalidInput(f"batch root {root!r} must be 32 bytes as 0x-hex (66 characters)")
        anchor = self.registry.anchor_of(root)
        if anchor is None:
            raise InvalidInput(f"root {root} is not anchored in registry {self.registry.address}")
        if anchor.batch_revoked:
            raise InvalidInput(f"batch {root} was revoked already, in block {anchor.revoked_block}")
        call = self.registry.contract.functions.revokeBatch(bytes.fromhex(root[2:]), reason)
        tx_hash, block = self._send(call)
        batch = self.store.batch_by_root(root)
        if batch is not None:
            self.store.update_batch(batch.id or 0, revoked_at=now(), revoke_reason=reason, revoke_tx=tx_hash)
        return Revoked(f"batch {root}", root, None, tx_hash, block)

    def _send(self, call: object) -> tuple[str, int]:
        config = self.workspace.config.chain
        signed = self.sender.send(call)  # type: ignore[arg-type]
        mined = self.sender.wait_mined(signed.tx_hash, timeout=config.tx_timeout)
        wait_for_depth(self.chain, mined.block_number, config.confirmations, timeout=config.tx_timeout)
        return mined.tx_hash, mined.block_number
