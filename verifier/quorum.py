"""Several nodes, trusted only together: block hashes count when `quorum` of them agree; state is proven.

Invariants: no single node's word decides anything. A block hash is accepted only when at least `quorum`
nodes give the same one; state (the anchor, revocations, keys) is never taken from a node's answer but
proven from `eth_getProof` against a header whose hash the quorum agreed on, so a node that lies about
state is caught by the proof and the next node is asked. A node that cannot be reached counts as absent,
not as a vote.
"""

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from anchoring.chain import Chain, redact_url
from anchoring.errors import ChainMismatch, ChainUnavailable, InvalidInput
from anchoring.evidence import ProvenState, prove_state
from anchoring.evidencecollect import collect
from anchoring.hashing import short, to_hex
from anchoring.receipt import Evidence

T = TypeVar("T")


@dataclass
class Quorum:
    """The verifier's nodes of one chain and how many must agree."""

    chains: Sequence[Chain]
    quorum: int
    _hashes: dict[int, tuple[str | None, str]] = field(default_factory=dict)
    _head: tuple[int, str] | None = None
    _chain_id: int | None = None
    _bad: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not 1 <= self.quorum <= len(self.chains):
            raise InvalidInput(f"--quorum {self.quorum} needs 1 to {len(self.chains)} (the --rpc-url count)")

    def chain_id(self) -> int | None:
        """The chain id `quorum` nodes agree on (None if they do not)."""
        if self._chain_id is None:
            ids = Counter(i for i in (self._ask(c, lambda c: c.chain_id) for c in self.chains) if i is not None)
            agreed = [i for i, n in ids.items() if n >= self.quorum]
            self._chain_id = agreed[0] if len(agreed) == 1 else 0
        return self._chain_id or None

    def block_hash(self, number: int) -> tuple[str | None, str]:
        """The hash of block `number` if `quorum` nodes agree on it, and how it was decided."""
        if number not in self._hashes:
            answers = [self._ask(c, lambda c: to_hex(bytes(c.block(number)["hash"]))) for c in self.chains]
            self._hashes[number] = self._decide(answers, f"block {number}")
        return self._hashes[number]

    def head(self) -> tuple[int, str] | None:
        """A recent block whose hash `quorum` nodes agree on: the lowest head among the nodes that answer."""
        if self._head is None:
            heads = [h for h in (self._ask(c, lambda c: c.block_number()) for c in self.chains) if h is not None]
            if len(heads) < self.quorum:
                return None
            number = sorted(heads, reverse=True)[self.quorum - 1]
            agreed, _ = self.block_hash(number)
            self._head = (number, agreed) if agreed else None
        return self._head

    def fresh_evidence(
        self, registry: str, root: str, leaf: str, keys: Sequence[str]
    ) -> tuple[Evidence | None, ProvenState | None, str]:
        """Evidence of the registry's state at the agreed head, from the first node whose proofs hold."""
        head = self.head()
        if head is None:
            return None, None, f"fewer than {self.quorum} nodes agree on a recent block"
        number, agreed = head
        problems = []
        for chain in self.chains:
            if chain.url in self._bad:
                continue
            try:
                gathered = collect(chain, registry, root, [leaf], keys, number)
                proof = Evidence.model_validate(gathered.for_leaf(leaf))
                state = prove_state(proof, root=root, leaf=leaf, public_keys=keys)
            except (ChainUnavailable, ChainMismatch, InvalidInput) as exc:
                problems.append(f"{redact_url(chain.url)}: {exc}")
                continue
            if state.block_number != number or state.block_hash != agreed:
                self._bad.add(chain.url)
                problems.append(
                    f"{redact_url(chain.url)} gave a header for block {state.block_number} hashing to "
                    f"{short(state.block_hash)}, not the agreed {short(agreed)}"
                )
                continue
            return proof, state, f"state of block {number} proven from {redact_url(chain.url)}'s answers"
        return None, None, "no node gave state proofs that hold: " + "; ".join(problems)

    def fresh_state(
        self, evidence: Evidence, root: str, leaf: str, keys: Sequence[str]
    ) -> tuple[ProvenState | None, str]:
        """The registry's state at the agreed head, proven (see `fresh_evidence`)."""
        _, state, how = self.fresh_evidence(evidence.registry, root, leaf, keys)
        return state, how

    def _decide(self, answers: Sequence[str | None], what: str) -> tuple[str | None, str]:
        votes = Counter(a.lower() for a in answers if a is not None)
        answered = sum(votes.values())
        if not votes:
            return None, f"no node answered for {what}"
        best, count = votes.most_common(1)[0]
        rivals = sum(1 for answer, n in votes.items() if answer != best and n >= self.quorum)
        if rivals:
            # With a quorum of half the nodes or less, two answers can each reach it: then nothing is agreed.
            return None, f"nodes disagree on {what}: {rivals + 1} different hashes each have {self.quorum} or more"
        if count >= self.quorum:
            dissent = answered - count
            extra = f", {dissent} disagreeing" if dissent else ""
            return best, f"{count} of {len(self.chains)} nodes{extra}"
        return None, (
            f"nodes disagree on {what}: {count} of {len(self.chains)} give the most common hash, "
            f"{self.quorum} required (--quorum)"
        )

    @staticmethod
    def _ask(chain: Chain, question: Callable[[Chain], T]) -> T | None:
        try:
            return question(chain)
        except (ChainUnavailable, ChainMismatch):
            return None
