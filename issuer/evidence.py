"""A batch's chain evidence, gathered when its anchor has its confirmations, before receipts are written.

Invariants: only a registry bound to an issuer (this build's contract, whose storage layout the verifier
computes slots from) gets evidence; an older registry's receipts stay version 1. The signing keys proven
are the ones the batch's credentials were signed with (read from their proofs), not whichever key the
workspace holds now: a batch resumed after a key change is still proven against its own key.
"""

import json
from collections.abc import Callable, Sequence

from anchoring.chain import Chain, Registry, redact_url
from anchoring.dataintegrity import ProofFailed, proofs_of
from anchoring.errors import ChainUnavailable, InvalidInput
from anchoring.evidencecollect import BatchEvidence, collect
from anchoring.hashing import to_hex
from anchoring.mpt import ProofInvalid
from anchoring.multibase import decode_multikey

COLLECT_TRIES = 3
"""Times the node is asked for a batch's evidence before it is deemed unfit: answers given while blocks are
being mined may disagree with each other once, never three times for an honest node."""


def signing_keys_of(document: str) -> list[str]:
    """The public keys (hex) that signed a stored credential, from its proofs' verification methods."""
    try:
        proofs = proofs_of(json.loads(document))
    except ProofFailed:
        return []
    keys = []
    for proof in proofs:
        method = str(proof.get("verificationMethod", ""))
        _, _, fragment = method.partition("#")
        try:
            keys.append(to_hex(decode_multikey(fragment)))
        except InvalidInput:
            continue
    return list(dict.fromkeys(keys))


def gather(
    chain: Chain,
    registry: Registry,
    root: str,
    leaves: Sequence[str],
    document: str,
    advance: Callable[[int], None],
) -> BatchEvidence | None:
    """Evidence at the current head for every leaf of the batch; `document` is one of its credentials (as the
    store keeps it), whose proofs name the signing keys to prove."""
    if registry.issuer_id() is None:
        return None
    keys = signing_keys_of(document)
    failed: list[str] = []
    for _ in range(COLLECT_TRIES):
        try:
            return collect(chain, registry.address, root, leaves, keys, chain.block_number(), on_progress=advance)
        except ProofInvalid as exc:  # the node's answers did not prove themselves: ask again, at its head now
            failed.append(str(exc))
    raise ChainUnavailable(
        f"node at {redact_url(chain.url)} gave state proofs for registry {registry.address} that do not prove "
        f"themselves, {COLLECT_TRIES} times (last: {failed[-1]}); nothing was written: run `credanchor resume`, "
        "or use another node",
        answered=True,
    )
