"""The rule that makes one verdict of a receipt's anchors on several chains (verifier/anchors.py), as a table,
and the routing of each anchor to its own chain's session, driven with in-memory chains."""

import json
from dataclasses import replace
from typing import Any

import pytest

from anchoring.errors import InvalidInput
from anchoring.onchain import OnChainAnchor
from tests.unit.test_checks import BLOCK, NOW, REGISTRY, ROOT, TIMESTAMP, VALID, FakeReader, anchored_view
from verifier.anchors import AnchorOutcome, Standing, decide
from verifier.checks import RootView, Verdict
from verifier.multichain import ByChain, Verifier
from verifier.service import Session
from verifier.trust import TrustList, trusted

A, B, C = 31337, 31338, 31339
REG = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
V = Verdict


def anchor(chain: int, verdict: Verdict, reason: str = "", *, trusted_as: str | None = "Uni") -> AnchorOutcome:
    reason = reason or ("every check passed" if verdict == V.VALID else f"{verdict} on {chain}")
    return AnchorOutcome(chain, REG, 10, trusted_as, verdict, reason)


DEFAULT = "required: all checked, at least 1"
ALL_HOLD = f"2 of 2 anchors hold ({DEFAULT})"
ON_B = f"anchor on chain {B} (registry {REG})"
UNTRUSTED_B = f"; not on your trust list, not counted: chain {B} registry {REG}"

CASES: list[tuple[str, list[AnchorOutcome], int | None, Verdict, bool | None, str, int]] = [
    ("both hold", [anchor(A, V.VALID), anchor(B, V.VALID)], None, V.VALID, True, ALL_HOLD, 0),
    (
        "both hold, 2 required",
        [anchor(A, V.VALID), anchor(B, V.VALID)],
        2,
        V.VALID,
        True,
        "2 of 2 anchors hold (required 2)",
        0,
    ),
    (
        "B not checked, default",
        [anchor(A, V.VALID), anchor(B, V.UNAVAILABLE, "node down")],
        None,
        V.VALID,
        True,
        f"1 of 2 anchors hold ({DEFAULT}); not checked: chain {B}: node down",
        0,
    ),
    (
        "B not checked, 2 required",
        [anchor(A, V.VALID), anchor(B, V.UNAVAILABLE, "node down")],
        2,
        V.UNAVAILABLE,
        None,
        f"1 of 2 anchors hold (required 2); not checked: chain {B}: node down",
        0,
    ),
    (
        "A not checked, B holds",
        [anchor(A, V.UNAVAILABLE, "no node"), anchor(B, V.VALID)],
        None,
        V.VALID,
        True,
        f"1 of 2 anchors hold ({DEFAULT}); not checked: chain {A}: no node",
        1,
    ),
    (
        "none checked",
        [anchor(A, V.UNAVAILABLE, "x"), anchor(B, V.UNAVAILABLE, "y")],
        None,
        V.UNAVAILABLE,
        None,
        f"0 of 2 anchors hold ({DEFAULT}); not checked: chain {A}: x; chain {B}: y",
        0,
    ),
    (
        "revoked on B only",
        [anchor(A, V.VALID), anchor(B, V.REVOKED, "credential revoked in block 9")],
        None,
        V.REVOKED,
        False,
        f"{ON_B}: credential revoked in block 9",
        1,
    ),
    (
        "revoked beats not checked",
        [anchor(A, V.UNAVAILABLE), anchor(B, V.REVOKED, "revoked")],
        2,
        V.REVOKED,
        False,
        f"{ON_B}: revoked",
        1,
    ),
    (
        "invalid beats revoked",
        [anchor(A, V.REVOKED), anchor(B, V.INVALID, "wrong block")],
        None,
        V.INVALID,
        False,
        f"{ON_B}: wrong block",
        1,
    ),
    (
        "wrong issuer binding on B",
        [anchor(A, V.VALID), anchor(B, V.UNTRUSTED, "bound to another issuer")],
        None,
        V.UNTRUSTED,
        False,
        f"{ON_B}: bound to another issuer",
        1,
    ),
    (
        "untrusted B ignored",
        [anchor(A, V.VALID), anchor(B, V.INVALID, trusted_as=None)],
        None,
        V.VALID,
        True,
        f"1 of 2 anchors hold ({DEFAULT}){UNTRUSTED_B}",
        0,
    ),
    (
        "untrusted B cannot make 2",
        [anchor(A, V.VALID), anchor(B, V.VALID, trusted_as=None)],
        2,
        V.UNTRUSTED,
        False,
        f"2 anchors required, 1 of the receipt's 2 are on registries you trust{UNTRUSTED_B}",
        0,
    ),
    (
        "no trusted anchor",
        [anchor(A, V.VALID, trusted_as=None), anchor(B, V.VALID, trusted_as=None)],
        None,
        V.UNTRUSTED,
        False,
        f"no anchor is on a registry you trust: chain {A} registry {REG}, chain {B} registry {REG} (add one with "
        "--trust FILE)",
        0,
    ),
    (
        "no trusted anchor, one invalid",
        [anchor(A, V.VALID, trusted_as=None), anchor(B, V.INVALID, "forged", trusted_as=None)],
        None,
        V.INVALID,
        False,
        f"{ON_B}: forged",
        1,
    ),
    (
        "more required than anchors",
        [anchor(A, V.VALID)],
        2,
        V.UNTRUSTED,
        False,
        "2 anchors required, the receipt has 1",
        0,
    ),
    (
        "three required of two",
        [anchor(A, V.VALID), anchor(B, V.VALID)],
        3,
        V.UNTRUSTED,
        False,
        "3 anchors required, the receipt has 2",
        0,
    ),
    (
        "dates decide once enough hold",
        [anchor(A, V.EXPIRED), anchor(B, V.EXPIRED)],
        2,
        V.EXPIRED,
        True,
        "2 of 2 anchors hold (required 2)",
        0,
    ),
    (
        "one of three required",
        [anchor(A, V.UNAVAILABLE, "x"), anchor(B, V.VALID), anchor(C, V.UNAVAILABLE, "z")],
        1,
        V.VALID,
        True,
        f"1 of 3 anchors hold (required 1); not checked: chain {A}: x; chain {C}: z",
        1,
    ),
]


@pytest.mark.parametrize(
    ("outcomes", "required", "verdict", "ok", "detail", "decisive"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_the_combining_rule(
    outcomes: list[AnchorOutcome], required: int | None, verdict: Verdict, ok: bool | None, detail: str, decisive: int
) -> None:
    decision = decide(outcomes, required)
    assert (decision.verdict, decision.step.ok, decision.step.detail, decision.decisive) == (
        verdict,
        ok,
        detail,
        decisive,
    )
    assert decision.step.name == "anchors"


def test_a_receipt_that_fails_on_its_own_is_invalid_whatever_its_anchors() -> None:
    decision = decide([anchor(A, V.INVALID), anchor(B, V.INVALID)], 2, offline_failed=True)
    assert (decision.verdict, decision.step.ok) == (V.INVALID, None)
    assert decision.step.detail == "not checked: the receipt fails without asking the chain"


@pytest.mark.parametrize("required", [0, -1])
def test_fewer_than_one_required_anchor_is_refused(required: int) -> None:
    with pytest.raises(InvalidInput, match=rf"^--require {required}: at least 1 anchor must hold \(give 1 or more\)$"):
        decide([anchor(A, V.VALID)], required)


def test_standing_of_each_outcome() -> None:
    assert [
        anchor(A, v, trusted_as=t).standing
        for v, t in ((V.VALID, "U"), (V.EXPIRED, "U"), (V.UNAVAILABLE, "U"), (V.REVOKED, "U"), (V.VALID, None))
    ] == [Standing.HOLDS, Standing.HOLDS, Standing.NOT_CHECKED, Standing.FAILS, Standing.NOT_TRUSTED]


# --- Routing: each anchor of a version 3 receipt checked by its own chain's session (in-memory chains). ---

SECOND_REGISTRY = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
TRUST = TrustList((trusted(A, REGISTRY, "Test University"), trusted(B, SECOND_REGISTRY, "Test University")))


def two_anchors(block: int = BLOCK + 2) -> dict[str, Any]:
    other = {**VALID["anchor"], "chainId": B, "registry": SECOND_REGISTRY, "blockNumber": block}
    return {**VALID, "version": 3, "additionalAnchors": [other]}


def second_view(block: int = BLOCK + 2) -> RootView:
    view = anchored_view()
    assert view.anchored is not None
    moved = OnChainAnchor(ROOT, block, TIMESTAMP, 3, 0, 0)
    return RootView(True, moved, replace(view.anchored, block_number=block))


def verify_two(doc: dict[str, Any], readers: dict[int, FakeReader], required: int | None = None) -> Any:
    other = Session(None, TRUST, NOW)
    sessions = {chain: Session((lambda r=r: r), TRUST, NOW) for chain, r in readers.items()}  # type: ignore[misc]
    verifier = Verifier(other, ByChain(sessions, other), required)
    return verifier.verify_bytes(json.dumps(doc).encode(), "r.json")


def test_each_anchor_is_asked_of_its_own_chain_only() -> None:
    first = FakeReader({(REGISTRY, ROOT): anchored_view()}, A)
    second = FakeReader({(SECOND_REGISTRY, ROOT): second_view()}, B)
    report = verify_two(two_anchors(), {A: first, B: second})
    assert (first.reads, second.reads) == ([(REGISTRY, ROOT)], [(SECOND_REGISTRY, ROOT)])
    assert report.verdict == V.VALID
    assert report.reason == f"every check passed; 2 of 2 anchors hold ({DEFAULT})"
    assert [(a.chain_id, a.registry, a.block, a.verdict) for a in report.anchors] == [
        (A, REGISTRY, BLOCK, V.VALID),
        (B, SECOND_REGISTRY, BLOCK + 2, V.VALID),
    ]
    assert report.steps[0].detail == "receipt matches the version 3 schema"
    assert report.steps[-1].name == "anchors"


def test_a_second_anchor_with_the_wrong_block_makes_the_receipt_invalid_and_no_node_for_it_is_not_checked() -> None:
    first = FakeReader({(REGISTRY, ROOT): anchored_view()}, A)
    second = FakeReader({(SECOND_REGISTRY, ROOT): second_view(BLOCK + 3)}, B)
    report = verify_two(two_anchors(), {A: first, B: second})
    assert report.verdict == V.INVALID
    assert report.reason == (
        f"anchor on chain {B} (registry {SECOND_REGISTRY}): root was anchored in block {BLOCK + 3}, receipt says "
        f"block {BLOCK + 2}"
    )
    alone = verify_two(two_anchors(), {A: first}, required=2)
    assert alone.verdict == V.UNAVAILABLE
    assert alone.reason == (f"1 of 2 anchors hold (required 2); not checked: chain {B}: no node configured (--rpc-url)")
    assert verify_two(two_anchors(), {A: first}).verdict == V.VALID


def test_a_single_anchor_receipt_is_reported_as_before_unless_more_anchors_are_required() -> None:
    reader = FakeReader({(REGISTRY, ROOT): anchored_view()}, A)
    before = Session(lambda: reader, TRUST, NOW).verify_bytes(json.dumps(VALID).encode(), "r.json")
    assert verify_two(VALID, {A: reader}) == before
    assert verify_two(VALID, {A: reader}, required=1) == before
    assert before.anchors == ()
    more = verify_two(VALID, {A: reader}, required=2)
    assert (more.verdict, more.reason) == (V.UNTRUSTED, "2 anchors required, the receipt has 1")
