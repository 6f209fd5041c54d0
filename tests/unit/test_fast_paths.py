"""The fast paths for receipts of one batch answer exactly as the plain ones: `ReceiptReader` as
`Receipt.from_json`, the storage-proof walk as py-trie, a warm verification session as a cold one; and a
receipt that differs from its batch in any member is never given the batch's remembered answer."""

import copy
import json
import os
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import rfc8785
import rlp
from hypothesis import given, settings
from hypothesis import strategies as st
from sha3 import keccak_256
from trie.hexary import HexaryTrie

from anchoring import evidence as evidence_module
from anchoring import mpt
from anchoring.errors import InvalidReceipt
from anchoring.receipt import Receipt
from verifier.checkpoints import load_checkpoints
from verifier.checks import Report
from verifier.fastread import ReceiptReader
from verifier.service import Session
from verifier.trust import load_trust_list

ASSETS = Path(__file__).parent.parent / "assets"
EVIDENCE = ASSETS / "evidence" / "v2"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
BATCH = [(EVIDENCE / "receipt-0.json").read_bytes(), (EVIDENCE / "receipt-1.json").read_bytes()]
ALL_ASSETS = sorted((ASSETS / "receipts").glob("*.json")) + sorted(EVIDENCE.glob("receipt-*.json"))


def outcome(parse: Any, data: bytes) -> tuple[str, Any]:
    try:
        receipt = parse(data)
    except InvalidReceipt as exc:
        return "error", str(exc)
    view = receipt.view()
    return "receipt", (
        receipt,
        receipt.model_fields_set,
        receipt.computed_digest(),
        view,
        view.model_fields_set,
        view.credential_subject.model_fields_set,
    )


def slow(data: bytes) -> Any:
    return Receipt.from_json(data, source="r.json")


def warm_reader() -> ReceiptReader:
    reader = ReceiptReader()
    for data in BATCH * 2:
        reader.parse(data, "r.json")
    return reader


@pytest.mark.parametrize("path", ALL_ASSETS, ids=lambda p: p.name)
def test_reader_answers_as_from_json(path: Path) -> None:
    reader = warm_reader()
    data = path.read_bytes()
    for _ in range(2):  # the second time from what it remembered
        assert outcome(lambda d: reader.parse(d, "r.json"), data) == outcome(slow, data)


def test_compact_lines_and_indented_files_read_alike() -> None:
    reader = warm_reader()
    for data in BATCH:
        compact = json.dumps(json.loads(data), separators=(",", ":"), ensure_ascii=False).encode()
        assert outcome(lambda d: reader.parse(d, "r.json"), compact) == outcome(slow, compact)


def paths_of(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [at]
    if isinstance(value, dict):
        for key, member in value.items():
            found += paths_of(member, (*at, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += paths_of(item, (*at, i))
    return found


DOCUMENT = json.loads(BATCH[0])
PATHS = paths_of(DOCUMENT)[1:]
replacements = st.sampled_from(
    [1, 1.0, 2.5, 0, -1, True, False, None, "", "x", "0x" + "00" * 32, [], {}, [1], {"a": 1}, 2**70, 10**30,
     "2026-01-01T00:00:00Z", "urn:uuid:1", "é", "\u2028", "@context", "https://www.w3.org/ns/credentials/v2"]
)  # fmt: skip
edits = given(
    where=st.integers(0, len(PATHS) - 1),
    action=st.sampled_from(["replace", "delete", "add", "string-edit"]),
    new=replacements,
    indent=st.sampled_from([None, 2]),
)
"""One member of a batch's receipt replaced, deleted, added to or edited, as JSON written compact or indented."""


@settings(max_examples=400, deadline=None)
@edits
def test_a_receipt_differing_from_its_batch_anywhere_is_read_as_from_json_reads_it(
    where: int, action: str, new: Any, indent: int | None
) -> None:
    assert_read_alike(warm_reader(), where, action, new, indent)


@settings(max_examples=400, deadline=None)
@edits
def test_a_first_receipt_differing_anywhere_is_read_as_from_json_reads_it(
    where: int, action: str, new: Any, indent: int | None
) -> None:
    """A reader that has seen nothing checks every member itself (no model validator is built for it)."""
    assert_read_alike(ReceiptReader(), where, action, new, indent)


def assert_read_alike(reader: ReceiptReader, where: int, action: str, new: Any, indent: int | None) -> None:
    document = copy.deepcopy(DOCUMENT)
    path = PATHS[where]
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == "replace":
        parent[last] = new
    elif action == "delete":
        del parent[last]
    elif action == "add" and isinstance(parent, dict):
        parent["extra" if not isinstance(new, str) or not new else new] = new
    elif action == "add":
        parent.insert(last, new)
    elif isinstance(parent[last], str) and parent[last]:
        text = parent[last]
        parent[last] = text[:-1] + ("0" if text[-1] != "0" else "1")
    data = json.dumps(document, indent=indent, ensure_ascii=False).encode()
    assert outcome(lambda d: reader.parse(d, "r.json"), data) == outcome(slow, data)


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t.replace(b'"digest"', b'"digest": "0x' + b"00" * 32 + b'",\n  "digest"', 1),  # duplicate member
        lambda t: t.replace(b'"name": "', b'"name": "\\u0041', 1),  # an escape
        lambda t: b"\xef\xbb\xbf" + t,  # byte-order mark
        lambda t: t + b"\x0c",  # not JSON white space
        lambda t: t.replace(b'"evidence"', b'"evidence": [], "evidence"', 1),  # evidence twice
        lambda t: t.replace(b'"hashed": true', b'"hashed": true, "hashed": false', 1),  # deep duplicate
        lambda t: t.replace(b'"version": 2', b'"version": 123456789012345678901234567890', 1),
        lambda t: t.replace(b'"type": "CredentialReceipt"', b'"type": "BatchManifest"', 1),
        lambda t: t[:-3],  # cut off
        lambda t: b"[" * 40 + t + b"]" * 40,
    ],
)
def test_text_level_tricks_are_read_as_from_json_reads_them(edit: Any) -> None:
    data = edit(BATCH[0])
    assert data != BATCH[0]
    for reader in (warm_reader(), ReceiptReader()):
        assert outcome(lambda d, r=reader: r.parse(d, "r.json"), data) == outcome(slow, data)


@pytest.mark.parametrize("path", ALL_ASSETS, ids=lambda p: p.name)
def test_a_cold_reader_answers_as_from_json(path: Path) -> None:
    data = path.read_bytes()
    assert outcome(lambda d: ReceiptReader().parse(d, "r.json"), data) == outcome(slow, data)


def clear_caches() -> None:
    for cache in (mpt._proven, mpt._hashed, mpt._decoded, mpt._parsed, evidence_module._shared):
        cache.clear()


def session() -> Session:
    checkpoints = load_checkpoints(EVIDENCE / "checkpoints.toml")
    return Session(None, load_trust_list(EVIDENCE / "trust.toml"), NOW, checkpoints=checkpoints)


def steps_of(report: Report) -> tuple[Any, ...]:
    return (report.verdict, report.steps, report.notes, report.credential_id)


@settings(max_examples=60, deadline=None)
@given(where=st.integers(0, len(PATHS) - 1), new=replacements)
def test_a_warm_session_gives_every_receipt_the_report_a_cold_one_gives(where: int, new: Any) -> None:
    document = copy.deepcopy(DOCUMENT)
    parent = document
    path = PATHS[where]
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = new
    data = json.dumps(document, indent=2).encode()
    clear_caches()
    cold = steps_of(session().verify_bytes(data, "r.json"))
    warm = session()
    for good in BATCH:
        warm.verify_bytes(good, "r.json")
    assert steps_of(warm.verify_bytes(data, "r.json")) == cold


# The storage-proof walk: ours where the trie is plain, py-trie's where it is not, one answer.
keys = st.lists(st.binary(min_size=1, max_size=8), min_size=1, max_size=40, unique=True)


@settings(max_examples=150, deadline=None)
@given(stored=keys, asked=st.binary(min_size=1, max_size=8), value_size=st.integers(1, 40), damage=st.integers(0, 3))
def test_the_walk_answers_as_py_trie(stored: list[bytes], asked: bytes, value_size: int, damage: int) -> None:
    trie = HexaryTrie({})
    for key in stored:
        trie.set(keccak_256(key).digest(), rlp.encode(key.ljust(value_size, b"v")))  # type: ignore[no-untyped-call]
    proof = trie.get_proof(keccak_256(asked).digest())  # type: ignore[no-untyped-call]
    nodes = [rlp.encode(node) for node in proof]
    if damage == 1 and len(nodes) > 1:
        nodes.pop()  # a node missing
    elif damage == 2:
        nodes[-1] = nodes[-1][:-1] + bytes([nodes[-1][-1] ^ 1])  # a node changed
    mpt._proven.clear()
    try:
        pool = mpt.NodePool(["0x" + n.hex() for n in nodes], "proof", limit=512)
    except mpt.ProofInvalid:
        return  # not RLP: refused before any walk, by both

    def reference() -> tuple[str, Any]:
        try:
            value = HexaryTrie(dict(pool.db), trie.root_hash).get(keccak_256(asked).digest())
        except Exception as exc:
            return "error", type(exc).__name__
        return ("value", value) if isinstance(value, bytes) else ("error", "not bytes")

    try:
        ours: tuple[str, Any] = ("value", pool.get(trie.root_hash, asked, "proof"))
    except mpt.ProofInvalid:
        ours = ("error", None)
    expected = reference()
    assert ours[0] == expected[0]
    if ours[0] == "value":
        assert ours == expected


def test_orjson_writes_strings_as_rfc8785() -> None:
    import orjson

    texts = [chr(c) for c in range(0x3000) if not 0xD800 <= c < 0xE000] + ["\U0001f600", "\ue000", os.urandom(8).hex()]
    assert [orjson.dumps(t) for t in texts] == [rfc8785.dumps(t) for t in texts]


# The collector's remembered walks: a proof found by a walk the first bytes of a key decided, given again for
# every key that starts with those bytes, is the proof a walk of that key finds, which is py-trie's.
prefixed = st.tuples(st.integers(0, 7), st.integers(0, 32), st.binary(min_size=32, max_size=32))
"""A 32-byte key: the first 0-32 bytes of one of eight seeds, the rest random (keys sharing prefixes make
extension nodes and deep branches)."""


@settings(max_examples=200, deadline=None)
@given(
    seeds=st.lists(st.binary(min_size=32, max_size=32), min_size=8, max_size=8),
    stored=st.lists(prefixed, min_size=1, max_size=40),
    asked=st.lists(prefixed, max_size=60),
    value_size=st.integers(1, 40),
)
def test_remembered_walks_give_the_proof_a_walk_gives(
    seeds: list[bytes],
    stored: list[tuple[int, int, bytes]],
    asked: list[tuple[int, int, bytes]],
    value_size: int,
) -> None:
    from anchoring.evidencecollect import _Nodes

    def key(which: int, shared: int, noise: bytes) -> bytes:
        return seeds[which][:shared] + noise[shared:]

    trie = HexaryTrie({})
    stored_keys = [key(*k) for k in stored]
    for stored_key in stored_keys:
        trie.set(stored_key, rlp.encode(stored_key[:8].ljust(value_size, b"v")))  # type: ignore[no-untyped-call]
    remembering = _Nodes(["0x" + node.hex() for node in trie.db.values()])
    for asked_key in [key(*k) for k in asked] + stored_keys:
        walked, _ = mpt.proof_path_decided(remembering.raw, trie.root_hash, asked_key)
        expected = None if walked is None else tuple(remembering.text[h] for h in walked)
        assert remembering.proof(trie.root_hash, asked_key) == expected
        if expected is not None:
            given_by_py_trie = trie.get_proof(asked_key)  # type: ignore[no-untyped-call]
            assert expected == tuple("0x" + rlp.encode(node).hex() for node in given_by_py_trie)


@settings(max_examples=150, deadline=None)
@given(
    seeds=st.lists(st.binary(min_size=32, max_size=32), min_size=8, max_size=8),
    stored=st.lists(prefixed, min_size=1, max_size=40),
    asked=st.lists(prefixed, min_size=1, max_size=60),
)
def test_a_walk_decided_by_its_first_nibbles_is_decided_so_for_every_key_starting_so(
    seeds: list[bytes], stored: list[tuple[int, int, bytes]], asked: list[tuple[int, int, bytes]]
) -> None:
    """Where `_whole_decided` says n nibbles decide a key's walk, every key that starts with those nibbles is
    walked over the same nodes, and gets no value or a word (stored keys among them)."""

    def key(which: int, shared: int, noise: bytes) -> bytes:
        return seeds[which][:shared] + noise[shared:]

    trie = HexaryTrie({})
    stored_keys = [key(*k) for k in stored]
    for i, stored_key in enumerate(stored_keys):
        value = rlp.encode(b"\x01" + stored_key[:4]) if i % 3 else b"\x00\x01"  # some not a word
        trie.set(stored_key, value)  # type: ignore[no-untyped-call]
    db = dict(trie.db)
    keys = [key(*k) for k in asked] + stored_keys
    for one in keys:
        decided = mpt._whole_decided(db, trie.root_hash, one)
        if decided is None:
            continue
        _, read, _ = mpt._walk(db, trie.root_hash, one)
        prefix = one[: (decided + 1) // 2]
        for other in keys:
            if other.startswith(prefix):
                value, other_read, _ = mpt._walk(db, trie.root_hash, other)
                assert other_read == read
                mpt._word(value, other)  # no error


@settings(max_examples=150, deadline=None)
@given(
    count=st.integers(1, 60),
    drops=st.integers(0, 4),
    asked=st.lists(st.binary(min_size=31, max_size=33), max_size=20),
    seed=st.integers(0, 2**32),
)
def test_remembered_storage_walks_answer_as_the_pool(count: int, drops: int, asked: list[bytes], seed: int) -> None:
    """`StorageWalks` says a slot's word is proven exactly where `NodePool.storage` gives it without an error,
    for a pool missing some nodes too, stored slots and others asked in any order (2,000 at random, so that
    many keys share their first byte, and walks end at every depth)."""
    chosen = random.Random(seed)
    stored = [chosen.randbytes(32) for _ in range(count)]
    trie = HexaryTrie({}, prune=True)  # only the nodes of the trie as it ends, some of which are dropped
    for i, slot in enumerate(stored):  # every third value not a word (a leading zero byte)
        word = slot[:5].lstrip(b"\0") or b"\x01" if i % 3 else b"\x00\x01"
        trie.set(keccak_256(slot).digest(), rlp.encode(word))  # type: ignore[no-untyped-call]
    every = ["0x" + raw.hex() for raw in trie.db.values()]
    dropped = set(chosen.sample(range(len(every)), min(drops, len(every) - 1)))
    mpt._proven.clear()
    pool = mpt.NodePool([node for i, node in enumerate(every) if i not in dropped], "evidence", limit=512)
    walks = mpt.StorageWalks(pool, trie.root_hash)

    def answers(slot: bytes) -> bool:
        try:
            pool.storage(trie.root_hash, slot)
        except mpt.ProofInvalid:
            return False
        return True

    for slot in [chosen.randbytes(32) for _ in range(2000)] + asked + stored:
        assert walks(slot) == answers(slot)
