"""The pure verification core, driven through `Session` with an in-memory chain (the integration tests
repeat the important cases on a real node)."""

import copy
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anchoring.hashing import to_hex
from anchoring.merkle import MerkleTree, native_walk, process_proof
from anchoring.onchain import OnChainAnchor, RegistryEvent, SigningKeyStatus
from verifier import checks
from verifier.checks import RootView, Verdict
from verifier.service import Session, exit_code
from verifier.trust import TrustList, trusted

RECEIPTS = Path(__file__).parent.parent / "assets" / "receipts"
VALID: dict[str, Any] = json.loads((RECEIPTS / "valid.json").read_text())
ROOT = VALID["merkle"]["root"]
REGISTRY = VALID["anchor"]["registry"]
BLOCK: int = VALID["anchor"]["blockNumber"]
TIMESTAMP = int(datetime.strptime(VALID["anchor"]["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())
SENDER = "0x7e30eac7208C88fe80740EE50e1Db8A44cEa3c46"
NOW = datetime.strptime(VALID["credential"]["validFrom"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) + timedelta(days=1)
TRUST = TrustList((trusted(31337, REGISTRY, "Test University"),))


def anchored_view(*, batch_revoked: bool = False, revoked_leaf: str | None = None) -> RootView:
    anchor = OnChainAnchor(
        ROOT, BLOCK, TIMESTAMP, 3, BLOCK + 1 if batch_revoked else 0, TIMESTAMP if batch_revoked else 0
    )
    event = RegistryEvent(
        "Anchored",
        BLOCK,
        "0x" + "bb" * 32,
        VALID["anchor"]["txHash"],
        0,
        {"root": ROOT, "leafCount": 3, "sender": SENDER},
    )
    revoked = {}
    if revoked_leaf:
        revoked[revoked_leaf] = RegistryEvent(
            "CredentialRevoked", BLOCK + 1, "0x" + "cc" * 32, "0x" + "dd" * 32, 0, {"reason": "Issued in error"}
        )
    batch_event = RegistryEvent(
        "BatchRevoked", BLOCK + 1, "0x" + "cc" * 32, "0x" + "ee" * 32, 0, {"reason": "Exam voided"}
    )
    return RootView(True, anchor, event, revoked, batch_event if batch_revoked else None)


class FakeReader:
    """An `AnchorReader` answering from a dict; counts how often each root is read."""

    def __init__(self, views: dict[tuple[str, str], RootView], chain_id: int = 31337) -> None:
        self.views = views
        self._chain_id = chain_id
        self.reads: list[tuple[str, str]] = []
        self.keys: dict[str, SigningKeyStatus] = {}

    def chain_id(self) -> int:
        return self._chain_id

    def head(self) -> int:
        return BLOCK + 5

    def root_view(self, registry: str, root: str, at_block: int) -> RootView:
        self.reads.append((registry, root))
        return self.views.get((registry, root), RootView(registry == REGISTRY, None, None))

    def leaf_revocation(self, registry: str, root: str, leaf: str, at_block: int) -> RegistryEvent | None:
        view = self.views.get((registry, root))
        return (view.revoked_leaves or {}).get(leaf) if view else None

    def signing_key(self, registry: str, public_key: str, at_block: int) -> SigningKeyStatus:
        return self.keys.get(public_key, SigningKeyStatus(public_key, 0, 0))

    def block_hash(self, number: int) -> str | None:
        return None  # version 1 receipts carry no evidence to check a hash against


def verify(
    doc: dict[str, Any],
    view: RootView | None = None,
    *,
    now: datetime = NOW,
    trust: TrustList = TRUST,
    chain_id: int = 31337,
) -> Any:
    reader = FakeReader({(REGISTRY, ROOT): view or anchored_view()}, chain_id)
    session = Session(lambda: reader, trust, now)
    return session.verify_bytes(json.dumps(doc).encode(), "r.json")


def test_valid_receipt_passes_every_step() -> None:
    report = verify(VALID)
    assert report.verdict == Verdict.VALID
    assert [s.name for s in report.steps] == [
        "schema",
        "digest",
        "proof",
        "signature",
        "chain",
        "anchor",
        "issuer",
        "revocation",
        "validity",
        "trust",
    ]
    # A receipt from before signatures and issuer binding: still valid, and reported as unsigned.
    by_name = {s.name: s for s in report.steps}
    assert by_name["signature"].ok is None
    assert by_name["signature"].detail == "credential is not signed (no proof)"
    assert by_name["issuer"].ok is None
    assert all(s.ok for s in report.steps if s.name not in ("signature", "issuer"))
    assert not report.signed
    assert report.anchored_by == SENDER
    assert report.trusted_as == "Test University"


def scalar_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from scalar_paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from scalar_paths(item, (*path, i))
    else:
        yield path


def tampered(doc: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    copy_ = copy.deepcopy(doc)
    target = copy_
    for part in path[:-1]:
        target = target[part]
    value = target[path[-1]]
    if isinstance(value, bool):
        target[path[-1]] = not value
    elif isinstance(value, int | float):
        target[path[-1]] = value + 1
    elif isinstance(value, str) and value.startswith("0x") and len(value) in (42, 66):
        target[path[-1]] = value[:-1] + ("1" if value[-1] != "1" else "2")
    else:
        target[path[-1]] = str(value) + "x"
    return copy_


@pytest.mark.parametrize("path", list(scalar_paths(VALID)), ids=lambda p: ".".join(map(str, p)))
def test_every_tampered_member_is_rejected(path: tuple[Any, ...]) -> None:
    report = verify(tampered(VALID, path))
    assert report.verdict in (Verdict.INVALID, Verdict.MALFORMED), report.reason


def test_tampered_subject_names_the_digest() -> None:
    doc = json.loads((RECEIPTS / "tampered_subject.json").read_text())
    report = verify(doc)
    assert report.verdict == Verdict.INVALID
    assert report.reason.startswith("credential hashes to 0x")
    assert ", receipt says 0x" in report.reason


def test_swapped_proof_names_where_it_leads() -> None:
    report = verify(json.loads((RECEIPTS / "swapped_proof.json").read_text()))
    assert report.verdict == Verdict.INVALID
    assert report.reason.startswith("proof leads to 0x")
    assert report.reason.endswith(f"receipt names root {ROOT[:6]}…{ROOT[-4:]}")


def test_wrong_root() -> None:
    report = verify(json.loads((RECEIPTS / "wrong_root.json").read_text()))
    assert report.verdict == Verdict.INVALID
    assert "receipt names root 0xabab…abab" in report.reason


def test_unknown_version_is_malformed() -> None:
    report = verify(json.loads((RECEIPTS / "unknown_version.json").read_text()))
    assert report.verdict == Verdict.MALFORMED
    assert report.reason == "r.json: version: must be 1, 2 or 3, got 99"


def test_revoked_credential() -> None:
    report = verify(VALID, anchored_view(revoked_leaf=VALID["merkle"]["leaf"]))
    assert report.verdict == Verdict.REVOKED
    assert report.reason == f"credential revoked in block {BLOCK + 1}: Issued in error"


def test_revoked_batch() -> None:
    report = verify(VALID, anchored_view(batch_revoked=True))
    assert report.verdict == Verdict.REVOKED
    assert report.reason == f"batch revoked in block {BLOCK + 1}: Exam voided"


def test_expired_and_not_yet_valid() -> None:
    until = datetime.strptime(VALID["credential"]["validUntil"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    expired = verify(VALID, now=until)
    assert expired.verdict == Verdict.EXPIRED
    assert expired.reason == f"expired at {VALID['credential']['validUntil']}"
    early = verify(VALID, now=NOW - timedelta(days=2))
    assert early.verdict == Verdict.NOT_YET_VALID
    assert early.reason == f"not valid until {VALID['credential']['validFrom']}"


def test_untrusted_registry_is_never_valid() -> None:
    report = verify(VALID, trust=TrustList())
    assert report.verdict == Verdict.UNTRUSTED
    assert report.reason == f"registry {REGISTRY} on chain 31337 is not on the trust list (add it with --trust FILE)"


def test_receipt_for_another_chain() -> None:
    untrusted = verify(VALID, chain_id=1, trust=TrustList())
    assert untrusted.verdict == Verdict.INVALID
    assert untrusted.reason == "receipt is for chain 31337, the node is chain 1"
    # A registry the verifier trusts, asked of the wrong node: it cannot be checked here, it is not invalid.
    trusted = verify(VALID, chain_id=1)
    assert trusted.verdict == Verdict.UNAVAILABLE
    assert trusted.reason == "receipt is for chain 31337, the node is chain 1: point --rpc-url at a node of chain 31337"
    assert exit_code([trusted]) == 3


def test_a_root_that_cannot_be_read_spoils_only_its_own_receipts() -> None:
    from anchoring.errors import ChainUnavailable

    class Flaky(FakeReader):
        def root_view(self, registry: str, root: str, at_block: int) -> RootView:
            if root != ROOT:
                raise ChainUnavailable("node at http://127.0.0.1:9 refused eth_getLogs: range too large")
            return super().root_view(registry, root, at_block)

    reader = Flaky({(REGISTRY, ROOT): anchored_view()})
    session = Session(lambda: reader, TRUST, NOW)
    other = json.loads((RECEIPTS / "wrong_root.json").read_text())
    other["merkle"]["proof"], other["merkle"]["leaf"] = [], other["merkle"]["root"]
    first = session.verify_bytes(json.dumps(other).encode(), "other.json")
    assert first.verdict == Verdict.INVALID  # its own proof fails regardless
    assert session.verify_bytes(json.dumps(VALID).encode(), "r.json").verdict == Verdict.VALID


def test_a_contract_that_is_not_a_registry() -> None:
    view = RootView(
        True,
        None,
        None,
        not_a_registry=f"contract at {REGISTRY} does not answer anchorOf as a CredentialRegistry (BadFunctionCallOutput)",
    )
    report = verify(VALID, view)
    assert report.verdict == Verdict.INVALID
    assert report.reason.endswith("does not answer anchorOf as a CredentialRegistry (BadFunctionCallOutput)")


def test_out_of_range_timestamps_from_a_hostile_registry_do_not_crash() -> None:
    view = anchored_view()
    hostile = RootView(True, OnChainAnchor(ROOT, BLOCK, 2**48 - 1, 3, 0, 0), view.anchored)
    report = verify(VALID, hostile)
    assert report.verdict == Verdict.INVALID
    assert (
        report.reason
        == f"block {BLOCK} is from timestamp {2**48 - 1} (out of range), receipt says {VALID['anchor']['timestamp']}"
    )


def test_root_not_anchored_or_at_another_block() -> None:
    assert (
        verify(VALID, RootView(True, None, None)).reason
        == f"root {ROOT[:6]}…{ROOT[-4:]} is not anchored in registry {REGISTRY}"
    )
    moved = anchored_view()
    moved = RootView(True, OnChainAnchor(ROOT, BLOCK + 7, TIMESTAMP, 3, 0, 0), moved.anchored)
    assert verify(VALID, moved).reason == f"root was anchored in block {BLOCK + 7}, receipt says block {BLOCK}"


def test_no_contract_at_the_registry() -> None:
    report = verify(VALID, RootView(False, None, None))
    assert report.reason == f"no contract at {REGISTRY} on chain 31337"


def test_chain_unavailable_still_reports_local_checks() -> None:
    from anchoring.errors import ChainUnavailable

    def broken() -> FakeReader:
        raise ChainUnavailable("node at http://127.0.0.1:9 did not answer (eth_chainId): connection refused or lost")

    report = Session(broken, TRUST, NOW).verify_bytes(json.dumps(VALID).encode(), "r.json")
    assert report.verdict == Verdict.UNAVAILABLE
    assert report.reason.startswith("node at http://127.0.0.1:9 did not answer")
    assert exit_code([report]) == 3
    tampered_report = Session(broken, TRUST, NOW).verify_bytes((RECEIPTS / "tampered_subject.json").read_bytes(), "t")
    assert tampered_report.verdict == Verdict.INVALID


def test_each_distinct_root_is_read_once() -> None:
    reader = FakeReader({(REGISTRY, ROOT): anchored_view()})
    session = Session(lambda: reader, TRUST, NOW)
    for _ in range(5):
        assert session.verify_bytes(json.dumps(VALID).encode(), "r.json").verdict == Verdict.VALID
    other = json.loads((RECEIPTS / "wrong_root.json").read_text())
    # A receipt whose own Merkle proof fails costs no node request at all.
    assert session.verify_bytes(json.dumps(other).encode(), "w.json").verdict == Verdict.INVALID
    assert reader.reads == [(REGISTRY, ROOT)]


def test_exit_codes() -> None:
    valid = verify(VALID)
    invalid = verify(json.loads((RECEIPTS / "wrong_root.json").read_text()))
    malformed = verify(json.loads((RECEIPTS / "unknown_version.json").read_text()))
    assert exit_code([valid, valid]) == 0
    assert exit_code([valid, invalid]) == 1
    assert exit_code([valid, invalid, malformed]) == 2
    assert exit_code([verify(VALID, trust=TrustList())]) == 1


def test_audit_flags_anchors_and_revocations_by_accounts_without_the_role() -> None:
    from anchoring.chain import ANCHOR_ROLE, REVOKE_ROLE
    from verifier.audit import assemble

    issuer, thief = "0x" + "11" * 20, "0x" + "22" * 20

    def event(name: str, block: int, **args: object) -> RegistryEvent:
        return RegistryEvent(name, block, "0x" + "bb" * 32, "0x" + f"{block:064x}", 0, dict(args))

    events = [
        event("RoleGranted", 1, role=ANCHOR_ROLE, account=issuer, sender=issuer),
        event("RoleGranted", 1, role=REVOKE_ROLE, account=issuer, sender=issuer),
        event("Anchored", 2, root="0x" + "01" * 32, leafCount=3, sender=issuer),
        event("RoleRevoked", 3, role=ANCHOR_ROLE, account=issuer, sender=issuer),
        event("Anchored", 4, root="0x" + "02" * 32, leafCount=3, sender=issuer),
        event("BatchRevoked", 5, root="0x" + "01" * 32, sender=thief, reason="x"),
    ]
    report = assemble("0x" + "33" * 20, 31337, events, {}, {}, 1, 5, None)
    assert report.problems == (
        f"block 4 tx 0x0000…0004: anchored by {issuer}, which did not hold the anchor role at block 4",
        f"block 5 tx 0x0000…0005: revoked by {thief}, which did not hold the revoke role at block 5",
    )
    assert report.notices == (f"block 3 tx 0x0000…0003: role change: anchor role revoked from {issuer} by {issuer}",)


@pytest.mark.parametrize("native", [True, False], ids=["c", "python"])
def test_the_remembered_walk_answers_as_process_proof_and_never_for_another_sibling(
    native: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert native_walk is not None, "anchoring._keccak is not built: `make setup` builds it"
    if not native:
        monkeypatch.setattr(checks, "native_walk", None)
    tree = MerkleTree.build([os.urandom(32) for _ in range(37)])
    proofs = [[to_hex(node) for node in proof] for proof in tree.proofs()]
    for _ in range(2):  # the second time, every level is remembered
        for at, proof in enumerate(proofs):
            leaf = tree.leaf(at)
            assert checks.walk_proof(leaf, proof) == process_proof(leaf, [bytes.fromhex(p[2:]) for p in proof])
            assert checks.walk_proof(leaf, proof) == tree.root
    proof = proofs[5]
    upper = [proof[0], proof[1].upper().replace("0X", "0x"), *proof[2:]]  # the same sibling written otherwise
    assert checks.walk_proof(tree.leaf(5), upper) == tree.root
    for level in range(len(proof)):
        wrong = [*proof[:level], to_hex(os.urandom(32)), *proof[level + 1 :]]
        assert checks.walk_proof(tree.leaf(5), wrong) != tree.root
        assert checks.walk_proof(tree.leaf(5), proof) == tree.root  # the remembered siblings were replaced
    assert checks.walk_proof(tree.leaf(5), proof[:-1]) != tree.root
    assert checks.walk_proof(tree.leaf(5), [*proof, proof[-1]]) != tree.root


def test_the_c_walk_leaves_any_other_form_to_python() -> None:
    """`native_walk` answers only for a 32-byte leaf and a list of "0x" + 64 hex digits; for anything else it gives
    None and `walk_proof` walks it in Python, so the answer (or the error) is the same as before."""
    walk = native_walk
    assert walk is not None
    tree = MerkleTree.build([os.urandom(32) for _ in range(9)])
    leaf, proof = tree.leaf(3), [to_hex(node) for node in tree.proof(3)]
    assert walk(leaf, proof) == tree.root
    for other in (
        (leaf[:31], proof),
        (leaf, tuple(proof)),
        (leaf, [*proof[:-1], proof[-1].replace("0x", "0X")]),
        (leaf, [*proof[:-1], proof[-1][:-1]]),
        (leaf, [*proof[:-1], proof[-1] + "0"]),
        (leaf, [*proof[:-1], proof[-1][:-1] + "g"]),
        (leaf, [*proof[:-1], proof[-1][:-1] + "é"]),
        (leaf, [*proof[:-1], bytes.fromhex(proof[-1][2:])]),
    ):
        assert walk(*other) is None
    spaced = [*proof[:-1], "0x" + " ".join(proof[-1][i : i + 2] for i in range(2, 66, 2))]  # bytes.fromhex reads it
    assert checks.walk_proof(leaf, spaced) == tree.root
    with pytest.raises(ValueError, match="non-hexadecimal number"):
        checks.walk_proof(leaf, [*proof[:-1], proof[-1][:-1] + "g"])


def test_the_c_walk_never_answers_for_another_child_in_the_same_slot() -> None:
    """The C table keeps one (child, sibling, parent) a slot, picked by the child's first eight bytes: children
    that share them, and one child with other siblings, each get their own parent."""
    walk = native_walk
    assert walk is not None
    prefix = os.urandom(8)
    children = [prefix + os.urandom(24) for _ in range(4)]
    siblings = [to_hex(os.urandom(32)) for _ in range(3)]
    pairs = [(child, sibling) for child in children for sibling in siblings]
    pairs += [(child, sibling) for sibling in siblings for child in children]  # a slot's sibling, another child
    for child, sibling in pairs * 2:
        assert walk(child, [sibling]) == process_proof(child, [bytes.fromhex(sibling[2:])])
        assert walk(child, [sibling, sibling]) == process_proof(child, [bytes.fromhex(sibling[2:])] * 2)


@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=200, unique=True))
@settings(max_examples=40, deadline=None)
def test_the_c_walk_is_process_proof(digests: list[bytes]) -> None:
    walk = native_walk
    assert walk is not None
    tree = MerkleTree.build(digests)
    for at in range(len(digests)):
        proof = tree.proof(at)
        assert walk(tree.leaf(at), [to_hex(node) for node in proof]) == process_proof(tree.leaf(at), proof) == tree.root
