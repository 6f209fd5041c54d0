"""The self-check's shortcut (verifier.batchfast) never accepts a receipt that full verification would not:
a batch of eddsa-jcs-2022 receipts is checked both ways, untouched and after every kind of edit; the
evidence's per-leaf walk answers as `prove_state`."""

import copy
import dataclasses
import json
import random
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from anchoring.credential import credential_digest
from anchoring.dataintegrity import JCS, RDFC, Signer
from anchoring.evidence import leaf_walker, prove_state
from anchoring.hashing import to_hex
from anchoring.merkle import MerkleTree, native_walk_written
from anchoring.mpt import ProofInvalid
from anchoring.onchain import OnChainAnchor, RegistryEvent, SigningKeyStatus
from anchoring.receipt import MAX_PROOF_LENGTH, Receipt, hex_list, receipt_document
from tests.unit.ob3_docs import knob_credential
from tests.unit.test_dataintegrity import CREATED, METHOD, PUBLIC, SEED
from verifier import batchfast
from verifier.batchcheck import BatchReader, _same
from verifier.batchfast import _PATH, Revocation, Shortcut, _hashes, _path, shortcut_verify
from verifier.checks import Report, RootView, Verdict, walk_proof
from verifier.multichain import ByChain, Verifier
from verifier.service import Session
from verifier.trust import TrustList, trusted

REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
ISSUER = "https://registrar.test.edu"
BLOCK = 40
TIMESTAMP = 1_780_000_000
NOW = datetime(2027, 6, 1, tzinfo=UTC)
TRUST = TrustList((trusted(31337, REGISTRY, "Test University"),))
ACCEPTED = frozenset({Verdict.VALID, Verdict.EXPIRED, Verdict.NOT_YET_VALID, Verdict.REVOKED})
KNOBS = frozenset({"name", "credits", "result", "alignments"})
EVIDENCE = Path(__file__).parent.parent / "assets" / "evidence" / "v2"


def make_batch(
    count: int = 8,
    suite: str = JCS,
    shared: dict[str, Any] | None = None,
    edit: Callable[[int, dict[str, Any]], dict[str, Any]] | None = None,
) -> tuple[list[bytes], str]:
    """`count` signed receipts of one batch (version 1), compact, as the JSON Lines writer makes them; `shared`:
    more members every credential has; `edit(serial, credential)`: the credential to sign instead."""
    signer = Signer(SEED, suite, METHOD, CREATED)
    credentials = []
    for serial in range(0, 2 * count, 2):  # even serials: no issue date of their own, one validFrom for all
        credential = knob_credential(KNOBS, serial) | (shared or {})
        if edit is not None:
            credential = edit(serial, credential)
        credential["proof"] = [signer.sign(credential)]
        credentials.append(credential)
    digests = [credential_digest(c) for c in credentials]
    tree = MerkleTree.build(digests)
    root = to_hex(tree.root)
    anchor = {
        "chainId": 31337,
        "registry": REGISTRY,
        "txHash": "0x" + "ab" * 32,
        "blockNumber": BLOCK,
        "timestamp": datetime.fromtimestamp(TIMESTAMP, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    receipts = [
        json.dumps(
            receipt_document(c, to_hex(d), to_hex(tree.leaf(i)), tree.proof(i), root, anchor), separators=(",", ":")
        ).encode()
        for i, (c, d) in enumerate(zip(credentials, digests, strict=True))
    ]
    return receipts, root


RECEIPTS, ROOT = make_batch()
RDF_RECEIPTS, RDF_ROOT = make_batch(4, RDFC)


def view(revoked: dict[str, RegistryEvent] | None = None, root: str = ROOT) -> RootView:
    anchor = OnChainAnchor(root, BLOCK, TIMESTAMP, len(RECEIPTS), 0, 0)
    event = RegistryEvent("Anchored", BLOCK, "0x" + "bb" * 32, "0x" + "ab" * 32, 0, {"sender": "0x" + "11" * 20})
    return RootView(True, anchor, event, revoked or {}, issuer_id=ISSUER)


def full(revoked: dict[str, RegistryEvent] | None = None, root: str = ROOT) -> Callable[[bytes], Report]:
    """Full verification, as the self-check makes it (a fresh session each time: nothing remembered)."""
    keys = {to_hex(PUBLIC): SigningKeyStatus(to_hex(PUBLIC), 1, 0)}
    reader = BatchReader(31337, BLOCK + 3, REGISTRY, root, view(revoked, root), keys)

    def verify(data: bytes) -> Report:
        session = Session(partial(_same, reader), TRUST, NOW)
        other = Session(None, TRUST, NOW, no_node="none")
        return Verifier(other, ByChain({31337: session}, other), 1).verify_bytes(data, "r.jsonl#0")

    return verify


def not_revoked(chain_id: int, registry: str, root: str, leaf: str) -> bool | None:
    return False


def learnt(
    verify: Callable[[bytes], Report],
    revocation: Revocation = not_revoked,
    accepted: frozenset[Verdict] = ACCEPTED,
    *,
    reading: str = "fine",
) -> Shortcut:
    """A shortcut learnt from the batch's first receipt, reading the others as it reads those laid out as the
    issuer writes them (`reading="fine"`), those whose subjects differ in more than their strings
    ("laid-out"), or those laid out otherwise ("parsed": each parsed whole)."""
    shortcut = Shortcut(accepted, revocation)
    shortcut.learn(RECEIPTS[0], verify(RECEIPTS[0]))
    if reading != "fine" and shortcut.template is not None:
        shortcut.template = dataclasses.replace(shortcut.template, fine=None)
    if reading == "parsed" and shortcut.template is not None:
        shortcut.template = dataclasses.replace(shortcut.template, layout=None)
    return shortcut


def holds(shortcut: Shortcut, data: bytes) -> bool:
    return shortcut.check(data, "r.jsonl#0") is not None


READINGS = pytest.mark.parametrize("reading", ["fine", "laid-out", "parsed"])
WALKS = pytest.mark.parametrize("walk", ["c", "python"])
"""A written path read and walked in C (`merkle.native_walk_written`), or read by `_path` and walked by
`walk_proof`, as where the C part is not built."""


def walking(walk: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert native_walk_written is not None, "anchoring._keccak is not built: `make setup` builds it"
    if walk == "python":
        monkeypatch.setattr("verifier.batchfast.native_walk_written", None)


@READINGS
@WALKS
def test_the_batch_verifies_in_full_and_every_other_receipt_gets_its_full_report(
    reading: str, walk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    walking(walk, monkeypatch)
    verify = full()
    assert {verify(data).verdict for data in RECEIPTS} == {Verdict.VALID}
    shortcut = learnt(verify, reading=reading)
    assert shortcut.template is not None
    for data in RECEIPTS[1:]:
        report = shortcut.check(data, "r.jsonl#0")
        expected = verify(data)
        assert report == expected  # every step's text, the credential id, the notes (not the parsed receipt)
        assert report is not None
        assert report.receipt is None
        # Made without the dataclass's __init__, it is still a whole Report: every field, its hash, its text.
        assert report.__dict__.keys() == {field.name for field in dataclasses.fields(Report)}
        assert (hash(report), report.reason) == (hash(expected), expected.reason)
        assert dataclasses.replace(report, source="other").source == "other"


REVOKED_EVENT = RegistryEvent("CredentialRevoked", BLOCK + 1, "0x" + "cc" * 32, "0x" + "dd" * 32, 0, {})


def test_a_leaf_revoked_on_its_own_or_not_known_to_stand_is_verified_in_full() -> None:
    leaf = json.loads(RECEIPTS[3])["merkle"]["leaf"]
    verify = full({leaf: REVOKED_EVENT})
    assert verify(RECEIPTS[3]).verdict == Verdict.REVOKED
    assert not holds(learnt(verify, lambda c, r, root, asked: asked == leaf), RECEIPTS[3])
    assert holds(learnt(verify, lambda c, r, root, asked: asked == leaf), RECEIPTS[4])
    assert not holds(learnt(verify, lambda c, r, root, asked: None), RECEIPTS[4])


def test_a_revoked_receipt_is_not_learnt_from() -> None:
    leaf = json.loads(RECEIPTS[0])["merkle"]["leaf"]
    shortcut = learnt(full({leaf: REVOKED_EVENT}))
    assert shortcut.template is None
    assert not holds(shortcut, RECEIPTS[1])


def test_a_receipt_that_failed_teaches_nothing() -> None:
    shortcut = Shortcut(ACCEPTED, not_revoked)
    bad = RECEIPTS[0].replace(b"Student 0", b"Student 9")
    shortcut.learn(bad, full()(bad))
    assert shortcut.template is None


def test_a_record_of_its_own_date_is_checked_in_full() -> None:
    other = json.loads(RECEIPTS[1])
    other["credential"]["validFrom"] = "2026-01-15T00:00:00Z"
    assert not holds(learnt(full()), json.dumps(other).encode())


def test_the_session_knows_a_leafs_revocation_only_from_its_own_read_of_the_root() -> None:
    leaf = json.loads(RECEIPTS[3])["merkle"]["leaf"]
    keys = {to_hex(PUBLIC): SigningKeyStatus(to_hex(PUBLIC), 1, 0)}
    reader = BatchReader(31337, BLOCK + 3, REGISTRY, ROOT, view({leaf: REVOKED_EVENT}), keys)
    session = Session(partial(_same, reader), TRUST, NOW)
    assert session.known_revocation(REGISTRY, ROOT, leaf) is None  # the root is not read yet
    session.verify_bytes(RECEIPTS[0], "r.json")
    assert session.known_revocation(REGISTRY, ROOT, leaf) is True
    assert session.known_revocation(REGISTRY, ROOT, json.loads(RECEIPTS[4])["merkle"]["leaf"]) is False
    assert session.known_revocation(REGISTRY, "0x" + "00" * 32, leaf) is None
    offline = Session(None, TRUST, NOW)
    offline.verify_bytes(RECEIPTS[0], "r.json")
    assert offline.known_revocation(REGISTRY, ROOT, leaf) is None


def edited(data: bytes, path: list[Any], value: Any) -> bytes:
    document = json.loads(data)
    target = document
    for step in path[:-1]:
        target = target[step]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return json.dumps(document, separators=(",", ":")).encode()


_DELETE = object()


def paths(value: Any, prefix: list[Any]) -> list[list[Any]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, member in value.items():
            found += paths(member, [*prefix, key])
    elif isinstance(value, list):
        for at, item in enumerate(value):
            found += paths(item, [*prefix, at])
    return found


EVERY_PATH = paths(json.loads(RECEIPTS[1]), [])
OTHER = json.loads(RECEIPTS[2])
VALUES = st.one_of(
    st.sampled_from([None, True, False, 0, 1, 1.0, -1, 2**60, "", "x", [], {}, _DELETE]),
    st.sampled_from(EVERY_PATH).map(lambda p: _at(OTHER, p)),  # the same place in another receipt of the batch
    st.text(max_size=20),
    st.floats(allow_nan=False, allow_infinity=False),
)


def _at(document: Any, path: list[Any]) -> Any:
    for step in path:
        try:
            document = document[step]
        except (KeyError, IndexError, TypeError):
            return None
    return copy.deepcopy(document)


@READINGS
@settings(max_examples=300, deadline=None)
@given(st.sampled_from(EVERY_PATH), VALUES)
def test_an_edited_receipt_is_accepted_only_where_full_verification_accepts_it(
    reading: str, path: list[Any], value: Any
) -> None:
    verify = full()
    changed = edited(RECEIPTS[1], path, value)
    report = learnt(verify, reading=reading).check(changed, "r.jsonl#0")
    if report is not None:
        assert report == verify(changed)


def _after_subject() -> bytes:
    """The literal that follows the subject in the layout learnt from the batch's first receipt."""
    template = learnt(full()).template
    assert template is not None
    assert template.layout is not None
    return template.layout.literals[template.layout.kinds.index("subject") + 1]


@pytest.mark.parametrize(
    "edit",
    [
        lambda b: b.replace(b'"Student 4"', b'"Student 4 "'),  # a changed subject, not signed again
        lambda b: b.replace(b'"proofValue":"z', b'"proofValue":"z1'),  # a damaged signature
        lambda b: b[:-1] + b',"type":"CredentialReceipt"}',  # a duplicate member
        lambda b: b.replace(b"Student", b"\\u0053tudent"),  # an escape: same text, not the same bytes
        lambda b: b"\xef\xbb\xbf" + b,  # a byte-order mark
        lambda b: b.replace(b'"version":1', b'"version":1.0'),
        lambda b: b.replace(b'"chainId":31337', b'"chainId":31337.0'),
        lambda b: json.dumps(json.loads(b), indent=2).encode(),  # the same receipt indented: still its own
        # Against the layout: text that reads as the literal after the subject, inside the subject.
        lambda b: b.replace(b'"Student 4"', b'"Student 4\\",\\"credentialSchema\\":"'),
        lambda b: b.replace(b'"Student 4"', b'"Student 4"' + _after_subject() + b'"z1"}]'),  # as members
        lambda b: b.replace(b'"identityType":"name"', b'"identityType":"name","identityType":"name"'),
        # Against the fine layout: bytes a parser refuses inside a string; a string's own member names and values.
        lambda b: b.replace(b'"Student 4"', b'"Student \xff4"'),
        lambda b: b.replace(b'"Student 4"', b'"Student 4","identityType":"name"'),
        lambda b: b.replace(b'"identityType":"name"', b'"identityType":["name"]'),
        lambda b: b.replace(b'"type":"DataIntegrityProof"', b'"type": "DataIntegrityProof"'),  # a space
        lambda b: b.replace(b'"id":"urn:', b'"id":"urn\\u003a'),  # an escape in the own id
        lambda b: b.replace(b'"id":"urn:', b'"id" :"urn:'),
        lambda b: b.replace(b'"proof":["0x', b'"proof":[ "0x'),
        lambda b: re.sub(rb'"proof":\["0x([0-9a-f]{64})', lambda m: b'"proof":["0x' + m[1].upper(), b),
        lambda b: b.replace(b'"proof":["', b'"proof":[' + b'"0x' + b"00" * 32 + b'",' * 65 + b'"'),
        lambda b: b.replace(b'"leaf":"0x', b'"leaf":"0X'),
        lambda b: b.replace(b'","0x', b'", "0x', 1),  # a space between two hashes of the path
        lambda b: b.replace(b'","0x', b'",,"0x', 1),
        lambda b: b.replace(b'"],"root"', b'",],"root"'),  # a comma after the path's last hash
        lambda b: re.sub(rb'"proof":\[("0x[0-9a-f]{64}",?)+\]', b'"proof":[]', b, count=1),  # no path at all
        lambda b: re.sub(rb'("proof":\["0x[0-9a-f]{64})', rb"\1]", b, count=1),  # a bracket inside a hash
        lambda b: re.sub(rb'("proof":\["0x[0-9a-f]{63})[0-9a-f]', rb"\1", b, count=1),  # a hash one digit short
        lambda b: b.replace(b'"proofValue":"z', b'"proofValue":"\\u007a'),
        lambda b: b + b" ",
        lambda b: b + b"\n\n",
        lambda b: b[:-1] + b',"extra":1}',
    ],
)
@READINGS
@WALKS
def test_text_level_edits_are_never_accepted_wrongly(
    edit: Callable[[bytes], bytes], reading: str, walk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    walking(walk, monkeypatch)
    verify = full()
    changed = edit(RECEIPTS[2])
    assert changed != RECEIPTS[2]
    report = learnt(verify, reading=reading).check(changed, "r.jsonl#0")
    if report is not None:
        assert report == verify(changed)


def test_a_subject_value_that_reads_as_a_placeholder_is_verified_in_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared members are canonicalised once and spliced in at their placeholders; a receipt's own value
    equal to a placeholder (were its random token known) makes that placeholder appear twice: no splice."""
    monkeypatch.setattr("verifier.batchfast.secrets.token_hex", lambda size: "ab" * size)
    verify = full()
    shortcut = learnt(verify)
    assert shortcut.template is not None
    for mark in [*shortcut.template.marks.values(), shortcut.template.achievement_mark]:
        document = json.loads(RECEIPTS[2])
        document["credential"]["credentialSubject"]["name"] = mark
        changed = json.dumps(document, separators=(",", ":")).encode()
        assert not holds(shortcut, changed)
        assert verify(changed).verdict == Verdict.INVALID
    assert holds(shortcut, RECEIPTS[2])


def test_a_proof_value_taken_from_another_receipt_fails() -> None:
    mine, theirs = json.loads(RECEIPTS[1]), json.loads(RECEIPTS[2])
    mine["credential"]["proof"] = theirs["credential"]["proof"]
    changed = json.dumps(mine, separators=(",", ":")).encode()
    assert not holds(learnt(full()), changed)
    assert full()(changed).verdict == Verdict.INVALID


def test_the_leaf_walk_answers_as_prove_state() -> None:
    receipt = Receipt.from_json((EVIDENCE / "receipt-0.json").read_bytes())
    [evidence] = receipt.evidence or []
    keys = tuple(hex_list([bytes.fromhex("ab" * 32)]))
    walks = leaf_walker(evidence, root=receipt.merkle.root, public_keys=keys)
    leaves = [receipt.merkle.leaf, *(to_hex(bytes([n]) * 32) for n in range(64))]
    for leaf in leaves:
        try:
            prove_state(evidence, root=receipt.merkle.root, leaf=leaf, public_keys=keys)
            proven = True
        except ProofInvalid:
            proven = False
        if walks(leaf):
            assert proven, leaf
    assert walks(receipt.merkle.leaf)


def test_an_rdf_signed_batch_takes_the_shortcut_too() -> None:
    verify = full(root=RDF_ROOT)
    shortcut = Shortcut(ACCEPTED, not_revoked)
    shortcut.learn(RDF_RECEIPTS[0], verify(RDF_RECEIPTS[0]))
    for data in RDF_RECEIPTS[1:]:
        report = shortcut.check(data, "r.jsonl#0")
        assert report is not None
        assert report == verify(data)
        assert report.verdict == Verdict.VALID
    changed = RDF_RECEIPTS[1].replace(b'"Student 2"', b'"Student 3"')
    assert shortcut.check(changed, "r.jsonl#0") is None
    assert verify(changed).verdict == Verdict.INVALID


def test_verifying_many_receipts_of_several_batches_gives_every_full_report() -> None:
    leaf = json.loads(RECEIPTS[5])["merkle"]["leaf"]
    views = {ROOT: view({leaf: REVOKED_EVENT}), RDF_ROOT: view(root=RDF_ROOT)}
    keys = {to_hex(PUBLIC): SigningKeyStatus(to_hex(PUBLIC), 1, 0)}

    class Reader(BatchReader):
        def root_view(self, registry: str, root: str, at_block: int) -> RootView:
            return views.get(root, RootView(True, None, None))

    reader = Reader(31337, BLOCK + 3, REGISTRY, ROOT, views[ROOT], keys)
    session = Session(partial(_same, reader), TRUST, NOW)
    verifier = Verifier(session, ByChain({31337: session}, session), None)
    cold = Verifier(session, ByChain({31337: session}, session), None)
    mixed = [x for pair in zip(RECEIPTS, [*RDF_RECEIPTS, *RDF_RECEIPTS], strict=True) for x in pair]
    mixed.append(RECEIPTS[2].replace(b'"Student 4"', b'"Student 5"'))
    checked = shortcut_verify(verifier.verify_bytes, verifier.known_revocation)
    reports = [checked(data, f"r.jsonl#{i}") for i, data in enumerate(mixed)]
    assert reports == [cold.verify_bytes(data, f"r.jsonl#{i}") for i, data in enumerate(mixed)]
    verdicts = [report.verdict for report in reports]
    assert verdicts.count(Verdict.REVOKED) == 1
    assert verdicts[-1] == Verdict.INVALID
    assert sum(report.receipt is None for report in reports) >= len(mixed) - 6  # most took the shortcut


def parsed_whole(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The receipts the shortcut parses whole from now on (those not read by their layout), as it meets them."""
    parse_whole = batchfast._read_parsed
    parsed: list[bytes] = []

    def counted(template: batchfast.Template, data: bytes) -> Any:
        parsed.append(data)
        return parse_whole(template, data)

    monkeypatch.setattr(batchfast, "_read_parsed", counted)
    return parsed


def test_receipts_as_the_issuer_writes_them_are_read_by_their_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    shortcut = learnt(full())
    assert shortcut.template is not None
    assert shortcut.template.layout is not None
    assert shortcut.template.layout.kinds == ("id", "subject", "value", "digest", "leaf", "path")
    parsed = parsed_whole(monkeypatch)
    for data in RECEIPTS[1:]:
        assert holds(shortcut, data)
        assert holds(shortcut, data + b"\n")  # a line as a file holds it
    assert parsed == []
    indented = json.dumps(json.loads(RECEIPTS[3]), indent=2).encode()
    assert holds(shortcut, indented)  # laid out otherwise: parsed whole, and still its own
    assert parsed == [indented]


def test_the_fine_layout_assembles_each_receipts_canonical_credential_from_its_strings() -> None:
    shortcut = learnt(full())
    template = shortcut.template
    assert template is not None
    assert template.fine is not None
    kinds = template.fine.layout.kinds
    assert (kinds[0], kinds[-4:]) == ("id", ("value", "digest", "leaf", "path"))
    assert all(kind.startswith("text") for kind in kinds[1:-4])
    assert sorted(template.fine.canonical_kinds) == sorted(kinds[:-4])
    for data in RECEIPTS[1:]:
        own = batchfast._read_fine(template, data)
        assert own is not None
        credential = {key: value for key, value in json.loads(data)["credential"].items() if key != "proof"}
        assert own.canonical == rfc8785.dumps(credential)  # the reference implementation's bytes


def _odd_subjects(serial: int, credential: dict[str, Any]) -> dict[str, Any]:
    """Serial 2: a name that needs an escape; serial 4: credits of its own (a number)."""
    if serial == 2:
        return dict(json.loads(json.dumps(credential).replace("Student 2", 'Student \\"2\\"')))
    if serial == 4:
        credential["credentialSubject"]["creditsEarned"] = 1.5
    return credential


def test_subjects_that_differ_in_more_than_plain_strings_are_read_by_the_layout_that_parses_them() -> None:
    receipts, root = make_batch(4, edit=_odd_subjects)
    assert b'Student \\"2\\"' in receipts[1]
    assert b'"creditsEarned":1.5' in receipts[2]
    verify = full(root=root)
    shortcut = Shortcut(ACCEPTED, not_revoked)
    shortcut.learn(receipts[0], verify(receipts[0]))
    template = shortcut.template
    assert template is not None
    assert [batchfast._read_fine(template, data) is not None for data in receipts] == [True, False, False, True]
    assert all(batchfast._read_laid_out(template, data) is not None for data in receipts)
    for data in receipts[1:]:
        report = shortcut.check(data, "r.jsonl#0")
        assert report is not None
        assert report == verify(data)
        assert report.verdict == Verdict.VALID


def test_an_rdf_signed_batch_has_no_fine_layout() -> None:
    """eddsa-rdfc-2022 signs the credential's RDF, made from the parsed credential: its subject is parsed."""
    shortcut = Shortcut(ACCEPTED, not_revoked)
    shortcut.learn(RDF_RECEIPTS[0], full(root=RDF_ROOT)(RDF_RECEIPTS[0]))
    assert shortcut.template is not None
    assert (shortcut.template.fine, shortcut.template.layout is not None) == (None, True)


def test_a_receipt_not_laid_out_as_the_issuer_writes_teaches_no_layout() -> None:
    spaced = json.dumps(json.loads(RECEIPTS[0]), separators=(", ", ": ")).encode()
    shortcut = Shortcut(ACCEPTED, not_revoked)
    shortcut.learn(spaced, full()(spaced))
    assert shortcut.template is not None
    assert (shortcut.template.layout, shortcut.template.fine) == (None, None)
    assert holds(shortcut, RECEIPTS[1])


def test_a_shared_value_orjson_reads_otherwise_than_json_teaches_nothing() -> None:
    """orjson reads an integer beyond 64 bits as a float: a receipt's 100000000000000000000 would compare equal
    to the learnt receipt's 1e+20, where the verifier's `json` reads an integer RFC 8785 refuses."""
    receipts, root = make_batch(4, shared={"weight": 1e20})
    verify = full(root=root)
    assert verify(receipts[0]).verdict == Verdict.VALID
    shortcut = Shortcut(ACCEPTED, not_revoked)
    shortcut.learn(receipts[0], verify(receipts[0]))
    assert shortcut.template is None
    changed = receipts[1].replace(b'"weight":1e+20', b'"weight":100000000000000000000')
    assert changed != receipts[1]
    assert shortcut.check(changed, "r.jsonl#0") is None
    assert verify(changed).verdict == Verdict.MALFORMED


def edited_paths(rng: random.Random, count: int) -> Iterator[bytes]:
    """`count` Merkle paths as the issuer writes them, of 0 to 4 hashes, each with up to two edits (a byte
    changed, added or taken out) drawn from bytes that matter to the path's form."""
    edits = b'"x0aAfgG],[ \\\n9X'
    for _ in range(count):
        text = bytearray(
            ("[" + ",".join(f'"0x{rng.randbytes(32).hex()}"' for _ in range(rng.randrange(5))) + "]").encode()
        )
        for _ in range(rng.randrange(3)):
            kind = rng.randrange(3)
            if kind == 0 and text:
                text[rng.randrange(len(text))] = rng.choice(edits)
            elif kind == 1:
                text.insert(rng.randrange(len(text) + 1), rng.choice(edits))
            elif text:
                del text[rng.randrange(len(text))]
        yield bytes(text)


def test_a_path_is_read_by_position_as_its_pattern_reads_it() -> None:
    """`_path` checks a path's form by where a hash's quotes, 0x and commas must be, not by `_PATH`: the same
    answer for valid paths of 0 to 4 hashes and for every edit of them (a byte changed, added or taken out)."""
    valid = 0
    for path in edited_paths(random.Random(20261201), 20_000):
        expected = None if _PATH.fullmatch(path) is None else _hashes(path)
        assert _path(path) == expected, path
        valid += expected is not None
    assert 5_000 < valid < 15_000  # both answers were given many times
    longest = ("[" + ",".join([f'"0x{"ab" * 32}"'] * MAX_PROOF_LENGTH) + "]").encode()
    assert _path(longest) == [f"0x{'ab' * 32}"] * MAX_PROOF_LENGTH
    assert _path(longest[:-1] + f',"0x{"ab" * 32}"]'.encode()) is None  # longer than any path the shortcut takes


def test_a_written_path_is_walked_in_c_exactly_where_path_reads_it() -> None:
    """`native_walk_written` answers for the paths `_path` reads (and `walk_proof` walks) and for no other text:
    valid paths of 0 to 4 hashes and every edit of them (a byte changed, added or taken out), the longest path
    the shortcut takes and one hash more, a leaf of another length."""
    walk = native_walk_written
    assert walk is not None, "anchoring._keccak is not built: `make setup` builds it"
    rng = random.Random(20261202)
    leaf = rng.randbytes(32)
    valid = 0
    for path in edited_paths(rng, 20_000):
        hashes = _path(path)
        expected = None if hashes is None else (walk_proof(leaf, hashes), len(hashes))
        assert walk(leaf, path, MAX_PROOF_LENGTH) == expected, path
        valid += expected is not None
    assert 5_000 < valid < 15_000  # both answers were given many times
    longest = ("[" + ",".join([f'"0x{"ab" * 32}"'] * MAX_PROOF_LENGTH) + "]").encode()
    assert walk(leaf, longest, MAX_PROOF_LENGTH) == (
        walk_proof(leaf, [f"0x{'ab' * 32}"] * MAX_PROOF_LENGTH),
        MAX_PROOF_LENGTH,
    )
    assert walk(leaf, longest, MAX_PROOF_LENGTH - 1) is None
    assert walk(leaf, longest[:-1] + f',"0x{"ab" * 32}"]'.encode(), MAX_PROOF_LENGTH) is None
    assert walk(leaf, b"[]", MAX_PROOF_LENGTH) == (leaf, 0)
    assert walk(leaf[:31], b"[]", MAX_PROOF_LENGTH) is None
    assert walk(leaf, b"", MAX_PROOF_LENGTH) is None
    with pytest.raises(TypeError):
        walk(leaf, "[]", MAX_PROOF_LENGTH)  # type: ignore[arg-type]
