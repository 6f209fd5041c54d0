"""Revoking one credential or a whole batch: on chain first, then in the database.

Invariants: a revocation is effective when its transaction has the configured confirmations, and only then
is it recorded in the database; the chain, not the database, is what verifiers read. A reason is required
(it is emitted in the event for everyone to read), so it must not contain personal data.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from anchoring.chain import Chain
from anchoring.errors import ChainUnavailable, InvalidInput, TransactionFailed
from anchoring.hashing import is_hash32
from anchoring.sender import TxSender, wait_for_depth
from issuer.config import ChainConfig
from issuer.store import Store, anchor_records, now

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
    """Revokes on one chain's registry (the home chain's, or an additional chain's) with one key."""

    def __init__(self, store: Store, chain: Chain, sender: TxSender, config: ChainConfig) -> None:
        self.store = store
        self.chain = chain
        self.sender = sender
        self.config = config
        self.registry = chain.registry(config.registry)

    def credential(self, credential_id: str, reason: str, *, record: bool = True) -> Revoked:
        """Revoke one credential here; `record` it in the database (the first chain to revoke it does)."""
        reason = check_reason(reason)
        key = credential_key(credential_id)
        credential = self.store.credential(key)
        if credential is None:
            raise InvalidInput(f"no credential {key} in this workspace")
        batch = self.store.batch(credential.batch_id)
        if self.registry.anchor_of(batch.root) is None:
            where = f" on chain {self.config.chain_id}" if batch.block_number is not None else ""
            raise InvalidInput(
                f"credential {key} is in batch {batch.id}, which is not anchored yet{where} ({batch.state})"
            )
        if self.registry.is_revoked(batch.root, credential.leaf):
            raise AlreadyRevoked(f"credential {key} is already revoked (on its own or with its batch)")
        call = self.registry.contract.functions.revokeCredential(
            bytes.fromhex(batch.root[2:]), bytes.fromhex(credential.leaf[2:]), reason
        )
        tx_hash, block = self._send(call)
        if record:
            self.store.mark_credential_revoked(key, reason, tx_hash)
        return Revoked(key, batch.root, credential.leaf, tx_hash, block)

    def batch(self, root: str, reason: str, *, record: bool = True) -> Revoked:
        reason = check_reason(reason)
        root = batch_root(root)
        anchor = self.registry.anchor_of(root)
        if anchor is None:
            raise InvalidInput(f"root {root} is not anchored in registry {self.registry.address}")
        if anchor.batch_revoked:
            raise AlreadyRevoked(f"batch {root} was revoked already, in block {anchor.revoked_block}")
        call = self.registry.contract.functions.revokeBatch(bytes.fromhex(root[2:]), reason)
        tx_hash, block = self._send(call)
        batch = self.store.batch_by_root(root)
        if batch is not None and record:
            self.store.update_batch(batch.id or 0, revoked_at=now(), revoke_reason=reason, revoke_tx=tx_hash)
        return Revoked(f"batch {root}", root, None, tx_hash, block)

    def _send(self, call: object) -> tuple[str, int]:
        config = self.config
        signed = self.sender.send(call)  # type: ignore[arg-type]
        mined = self.sender.wait_mined(signed.tx_hash, timeout=config.tx_timeout)
        wait_for_depth(self.chain, mined.block_number, config.confirmations, timeout=config.tx_timeout)
        return mined.tx_hash, mined.block_number


class AlreadyRevoked(InvalidInput):
    pass


def batch_root(root: str) -> str:
    root = root.strip().lower()
    if not is_hash32(root):
        raise InvalidInput(f"batch root {root!r} must be 32 bytes as 0x-hex (66 characters)")
    return root


def anchored_chains(store: Store, credential_id: str | None, root: str | None) -> list[int]:
    """The chains where the credential's (or the root's) batch is anchored, the home chain first; an unknown
    root is looked for on the home chain only (empty list: the caller's home chain)."""
    if credential_id is not None:
        found = store.credential(credential_key(credential_id))
        batch = store.batch(found.batch_id) if found is not None else None
    else:
        batch = store.batch_by_root(batch_root(root or ""))
    if batch is None:
        return []
    return [r.chain_id for r in anchor_records(store, batch) if r.block_number is not None]


@dataclass(frozen=True)
class Outcome:
    """What one chain did with a revocation: done now, done before, or not reachable (`problem`)."""

    chain_id: int
    revoked: Revoked | None = None
    already: str | None = None
    problem: str | None = None


def revoke_everywhere(
    revokers: Sequence[tuple[int, Callable[[], Revoker]]], credential_id: str | None, root: str | None, reason: str
) -> list[Outcome]:
    """Revoke on every chain given (home first). A chain that cannot be reached is reported, not fatal: the
    same command run again revokes there and skips the chains that have it already. Revoked nowhere new and
    already revoked everywhere reachable: AlreadyRevoked."""
    outcomes: list[Outcome] = []
    recorded = False
    for chain_id, connect in revokers:
        try:
            revoker = connect()
            if credential_id is not None:
                done = revoker.credential(credential_id, reason, record=not recorded)
            else:
                done = revoker.batch(root or "", reason, record=not recorded)
            recorded = True
            outcomes.append(Outcome(chain_id, revoked=done))
        except AlreadyRevoked as exc:
            outcomes.append(Outcome(chain_id, already=str(exc)))
        except (ChainUnavailable, TransactionFailed) as exc:
            if len(revokers) == 1:
                raise
            outcomes.append(Outcome(chain_id, problem=str(exc)))
        except InvalidInput as exc:
            if not outcomes:  # the home chain's answer: no such credential, not anchored, a bad root
                raise
            outcomes.append(Outcome(chain_id, problem=str(exc)))
    if all(o.already for o in outcomes):
        raise AlreadyRevoked(outcomes[0].already or "already revoked")
    return outcomes
