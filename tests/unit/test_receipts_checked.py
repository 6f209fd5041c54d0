"""A batch's receipts checked by the workers that write them (`issuer.receipts.write_batch_receipts` with a
check), and the sample read back from their recorded locations."""

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from anchoring.errors import VerificationFailed
from anchoring.hashing import keccak256, to_hex
from anchoring.merkle import MerkleTree
from anchoring.progress import Silent
from anchoring.receipt import AnchorSection, utc_seconds
from anchoring.receiptfiles import read_receipt_at
from anchoring.receiptwrite import FORMS, Form
from issuer.receipts import (
    READ_BACK,
    Documents,
    Row,
    check_failed,
    check_sample_ids,
    read_back_sample,
    write_batch_receipts,
)

ANCHOR = AnchorSection(
    chainId=31337,
    registry="0x5FbDB2315678afecb367f032d93F642f64180aa3",
    txHash="0x" + "ab" * 32,
    blockNumber=2,
    timestamp=utc_seconds(datetime(2026, 12, 2, tzinfo=UTC)),
)


def batch(n: int) -> tuple[list[Row], Documents, MerkleTree]:
    """A batch's rows, its documents by position (slices of a list, which the workers inherit as they fork),
    and its tree."""
    texts = [
        json.dumps({"id": f"urn:uuid:00000000-0000-4000-8000-{i:012d}", "name": f"Earner {i}"}, separators=(",", ":"))
        for i in range(n)
    ]
    digests = [keccak256(text.encode()) for text in texts]
    tree = MerkleTree.build(digests)
    rows = [
        (json.loads(text)["id"], to_hex(digest), to_hex(tree.leaf(i)))
        for i, (text, digest) in enumerate(zip(texts, digests, strict=True))
    ]
    return rows, lambda position, count: texts[position : position + count], tree


def every_receipt_fails(receipts: list[tuple[str, bytes]]) -> list[tuple[str, str]]:
    """A check that fails each receipt, saying what bytes it was given (runs in the worker processes)."""
    return [(credential_id, f"invalid: sha256 {hashlib.sha256(data).hexdigest()}") for credential_id, data in receipts]


@pytest.mark.parametrize("form", FORMS)
def test_each_receipt_is_checked_from_the_bytes_a_reader_gets_at_its_location(tmp_path: Path, form: Form) -> None:
    rows, documents, tree = batch(2500)
    chunks = [rows[i : i + 700] for i in range(0, len(rows), 700)]  # more chunks than workers, one short
    root = to_hex(tree.root)
    written = write_batch_receipts(
        tmp_path, chunks, documents, tree, root, [ANCHOR], [], Silent(), form, every_receipt_fails
    )
    assert len(written.locations) == 2500
    # Every receipt, in batch order, named by where the store will record it.
    assert [where for where, _ in written.failures] == [written.locations[cid] for cid, *_ in rows]
    for where, why in written.failures:
        assert why == f"invalid: sha256 {hashlib.sha256(read_receipt_at(where)).hexdigest()}"


@pytest.mark.parametrize("form", FORMS)
def test_receipts_that_check_out_leave_no_failures(tmp_path: Path, form: Form) -> None:
    rows, documents, tree = batch(300)
    written = write_batch_receipts(
        tmp_path, [rows], documents, tree, to_hex(tree.root), [ANCHOR], [], Silent(), form, lambda r: []
    )
    assert (len(written.locations), written.failures) == (300, [])


def test_unchecked_writing_reports_no_failures(tmp_path: Path) -> None:
    rows, documents, tree = batch(10)
    written = write_batch_receipts(
        tmp_path, [rows], documents, tree, to_hex(tree.root), [ANCHOR], [], Silent(), "jsonl"
    )
    assert (len(written.locations), written.failures) == (10, [])


def test_the_check_failure_names_the_count_and_the_first() -> None:
    failed = check_failed([("/r/a.json", "invalid: bad proof"), ("/r/b.json", "revoked: no")], 7)
    assert str(failed) == "self-check failed for 2 of 7 receipts; first: /r/a.json: invalid: bad proof"


def test_the_sample_read_back_has_the_first_and_last_and_is_in_batch_order() -> None:
    locations = [(f"c{i}", f"/r/{i}.json") for i in range(10_000)]
    for _ in range(20):
        sample = read_back_sample(locations)
        assert len(sample) == READ_BACK
        assert sample[0] == locations[0]
        assert sample[-1] == locations[-1]
        assert sample == sorted(sample, key=lambda pair: int(pair[0][1:]))
        assert len(set(sample)) == READ_BACK
    assert len({tuple(read_back_sample(locations)) for _ in range(5)}) > 1  # at random, not the same places
    small = locations[:READ_BACK]
    assert read_back_sample(small) == small
    assert read_back_sample([]) == []


@pytest.mark.parametrize("form", FORMS)
def test_a_location_holding_another_credentials_receipt_is_refused(tmp_path: Path, form: Form) -> None:
    rows, documents, tree = batch(20)
    written = write_batch_receipts(tmp_path, [rows], documents, tree, to_hex(tree.root), [ANCHOR], [], Silent(), form)
    pairs = list(written.locations.items())
    check_sample_ids(pairs)  # each where the store records it
    (first, at_first), (second, at_second) = pairs[3], pairs[4]
    with pytest.raises(VerificationFailed) as refused:
        check_sample_ids([*pairs[:3], (first, at_second)])
    assert str(refused.value) == f"self-check: {at_second} holds the receipt of {second}, not of {first}"
    gone = tmp_path / "elsewhere.json"
    with pytest.raises(VerificationFailed, match=r"^self-check: .*elsewhere\.json cannot be read back: "):
        check_sample_ids([(first, str(gone))])
    assert at_first != at_second


@pytest.mark.parametrize("form", ["jsonl", "zip"])
def test_a_chunk_that_cannot_be_made_fails_the_batch_without_keeping_the_others_waiting(
    tmp_path: Path, form: Form
) -> None:
    """A worker that fails to make its chunk gives up its range: the chunks after it fail instead of waiting
    for it forever, the error is the first chunk's own, and no container is left, whole or temporary."""
    rows, documents, tree = batch(2500)
    broken = list(documents(0, 2500))
    broken[800] = '{"id":\n'  # in the second chunk: not JSON, on two lines: made again, and fails
    chunks = [rows[i : i + 700] for i in range(0, len(rows), 700)]
    with pytest.raises(json.JSONDecodeError):
        write_batch_receipts(
            tmp_path,
            chunks,
            lambda at, count: broken[at : at + count],
            tree,
            to_hex(tree.root),
            [ANCHOR],
            [],
            Silent(),
            form,
            lambda r: [],
        )
    assert list(tmp_path.iterdir()) == []


def failing_check(receipts: list[tuple[str, bytes]]) -> list[tuple[str, str]]:
    """A check that breaks down on the second chunk (runs in the worker processes, as the chunk is written)."""
    if any(credential_id.endswith("000000000800") for credential_id, _ in receipts):
        raise RuntimeError("the check broke down")
    return []


@pytest.mark.parametrize("form", ["jsonl", "zip"])
def test_a_check_that_breaks_down_fails_the_batch_without_keeping_the_others_waiting(
    tmp_path: Path, form: Form
) -> None:
    """A check that raises after its chunk took its range: the error is the check's, the chunks after it do
    not wait forever, and no container is left, whole or temporary."""
    rows, documents, tree = batch(2500)
    chunks = [rows[i : i + 700] for i in range(0, len(rows), 700)]
    with pytest.raises(RuntimeError, match="^the check broke down$"):
        write_batch_receipts(
            tmp_path, chunks, documents, tree, to_hex(tree.root), [ANCHOR], [], Silent(), form, failing_check
        )
    assert list(tmp_path.iterdir()) == []
