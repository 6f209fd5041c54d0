"""The issuer's store on both databases it runs on: SQLite (embedded) and a real PostgreSQL 15 server. Every
store function, the raw SQL among them (ON CONFLICT upserts, deletes, the address forgetting), numbers past
32 bits and timestamps read back as the instant written."""

import json
import multiprocessing
import platform
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

import issuer.store as store_module
from credanchor.web.context import HitCounter
from issuer.lookup import delivery_entries
from issuer.store import (
    CACHE_KIB,
    ISSUED_CHUNK,
    PAGE_BYTES,
    Attempt,
    Batch,
    BatchDocuments,
    Mailbox,
    MessageState,
    State,
    Store,
    StoreError,
    add_counts,
    anchor_attempts,
    anchor_records,
    chain_anchors,
    credential_digest,
    daily_counts,
    mark_delivered,
    page_withdrawal,
    record_anchor_attempt,
    reload_record,
    restore_page,
    return_freed_memory,
    update_record,
    withdraw_page,
)
from tests.integration.storerows import credential_rows, deliveries
from tests.pgserver import PostgresServer

BIG_CHAIN = 11_297_108_109  # a real chain id past 2**31
ACHIEVEMENT = "https://registrar.test.edu/achievements/example"


@pytest.fixture
def store(database: str | None, tmp_path: Path) -> Iterator[Store]:
    opened = Store(database or f"sqlite:///{tmp_path / 'credanchor.db'}")
    yield opened
    opened.close()


def new_batch(store: Store, n: int = 3, *, key: str = "a", also_on: tuple[tuple[int, str], ...] = ()) -> Batch:
    batch = Batch(
        input_key=key * 64,
        achievement="example",
        achievement_id=ACHIEVEMENT,
        root="0x" + key * 64,
        count=n,
        chain_id=31337,
        registry_address="0x" + "11" * 20,
        out_dir="/tmp/out",
    )
    rows: list[dict[str, Any]] = [
        {
            "id": f"urn:uuid:{key}{i:07d}-0000-4000-8000-000000000000",
            "position": i,
            "row": i + 2,
            "email": f"p{i}@{key}.example.org",
            "name": f"Person {i}",
            "digest": "0x" + key + f"{i:063x}",
            "leaf": "0x" + f"{i:064x}",
            "document": f'{{"id": {i}}}',
        }
        for i in range(n)
    ]
    return store.add_batch(batch, rows, also_on)


def attempt(batch_id: int, nonce: int, tag: str) -> Attempt:
    return Attempt(
        batch_id=batch_id,
        tx_hash="0x" + tag * 64,
        nonce=nonce,
        sender="0x" + "33" * 20,
        max_fee="1000",
        priority_fee="1",
        raw="0x00",
    )


def set_receipt_paths(store: Store, batch_id: int, paths: dict[str, str], *, chunk: int = 10_000) -> None:
    """Every receipt location of a batch given at once, as issuing gives them a chunk at a time."""
    with store.receipt_locations(batch_id, chunk=chunk) as located:
        located.add(paths)
        located.commit()


def test_batches_and_their_credentials(store: Store) -> None:
    batch = new_batch(store, 3, key="a")
    other = new_batch(store, 2, key="b")
    assert batch.id is not None
    assert (store.batch_by_key("a" * 64), store.batch_by_root("0x" + "b" * 64)) == (batch, other)
    assert store.batch_by_key("c" * 64) is None
    assert [b.id for b in store.batches()] == [batch.id, other.id]
    assert [c.position for c in store.credentials(batch.id)] == [0, 1, 2]
    assert store.digests(batch.id) == ["0x" + "a" + f"{i:063x}" for i in range(3)]
    rows = credential_rows(store, batch.id)
    assert rows[1] == ("urn:uuid:a0000001-0000-4000-8000-000000000000", "0xa" + f"{1:063x}", f"0x{1:064x}", '{"id": 1}')
    assert [row[3] for row in credential_rows(store, other.id or 0)] == ['{"id": 0}', '{"id": 1}']  # each batch its own
    assert store.document("urn:uuid:b0000001-0000-4000-8000-000000000000") == '{"id": 1}'
    assert list(store.credential_chunks(batch.id, size=2)) == [rows[:2], rows[2:]]
    assert store.leaves(batch.id) == [(digest, leaf) for _, digest, leaf, _ in rows]
    assert store.leaves(other.id or 0) == [
        (digest, leaf) for _, digest, leaf, _ in credential_rows(store, other.id or 0)
    ]
    (first, second) = store.receipt_chunks(batch.id, size=2, documents=True)
    assert [r[:4] for r in first + second] == rows  # with each credential's people after its document
    assert [r[4:] for r in first] == [(2, "p0@a.example.org", "Person 0"), (3, "p1@a.example.org", "Person 1")]
    plain = [row for chunk in store.receipt_chunks(batch.id, size=2) for row in chunk]  # the workers read them
    assert plain == [(*row[:3], None, *row[4:]) for row in first + second]
    assert [d[:3] for d in deliveries(store, batch.id)] == [
        (2, "p0@a.example.org", "Person 0"),
        (3, "p1@a.example.org", "Person 1"),
        (4, "p2@a.example.org", "Person 2"),
    ]
    every = [(*d, None) for d in deliveries(store, batch.id)]
    assert list(store.delivery_chunks(batch.id, size=2)) == [every[:2], every[2:]]
    with_documents = [(*d[:5], f'{{"id": {i}}}') for i, d in enumerate(every)]
    assert list(store.delivery_chunks(batch.id, documents=True, size=2)) == [with_documents[:2], with_documents[2:]]
    assert list(store.delivery_chunks(other.id or 0, documents=True, size=1))[1][0][5] == '{"id": 1}'
    assert store.issued_emails(ACHIEVEMENT, ["p1@a.example.org", "p0@b.example.org", "nobody@x.org"]) == {
        "p1@a.example.org": "urn:uuid:a0000001-0000-4000-8000-000000000000",
        "p0@b.example.org": "urn:uuid:b0000000-0000-4000-8000-000000000000",
    }
    set_receipt_paths(store, batch.id, {"urn:uuid:a0000000-0000-4000-8000-000000000000": "/r/a0.json"})
    assert sorted(store.receipt_paths(batch.id)) == [
        ("urn:uuid:a0000000-0000-4000-8000-000000000000", "/r/a0.json"),
        ("urn:uuid:a0000001-0000-4000-8000-000000000000", None),
        ("urn:uuid:a0000002-0000-4000-8000-000000000000", None),
    ]
    store.mark_credential_revoked("urn:uuid:a0000001-0000-4000-8000-000000000000", "error", "0x" + "ee" * 32)
    assert store.revoked_leaves(batch.id) == [("urn:uuid:a0000001-0000-4000-8000-000000000000", f"0x{1:064x}")]
    assert "p1@a.example.org" not in store.issued_emails(ACHIEVEMENT, ["p1@a.example.org"])
    found = store.find_credentials(email="p1@a.example.org")
    assert [(f.id, f.revoke_reason, f.batch.id) for f in found] == [
        ("urn:uuid:a0000001-0000-4000-8000-000000000000", "error", batch.id)
    ]
    assert [f.id for f in store.find_credentials(batch_id=other.id)] == [
        "urn:uuid:b0000000-0000-4000-8000-000000000000",
        "urn:uuid:b0000001-0000-4000-8000-000000000000",
    ]
    assert credential_digest(store, "urn:uuid:b0000001-0000-4000-8000-000000000000") == ("0xb" + f"{1:063x}", other.id)
    assert credential_digest(store, "urn:uuid:nothing") is None


_INHERITED: list[BatchDocuments] = []
"""What a forked worker inherits (as the receipt writers inherit theirs): the reader is never pickled."""


def _read_inherited(position: int, count: int) -> list[str]:
    return _INHERITED[0](position, count)


def _documents_in_a_forked_process(documents: BatchDocuments, position: int, count: int) -> list[str]:
    _INHERITED[:] = [documents]
    try:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
            return pool.submit(_read_inherited, position, count).result()
    finally:
        _INHERITED.clear()


def test_a_batchs_documents_are_read_by_position_here_and_in_a_forked_worker(store: Store) -> None:
    """The workers that write a batch's receipts read each chunk's documents themselves, each on a connection
    of its own."""
    new_batch(store, 3, key="a")
    batch = new_batch(store, 5, key="b")
    documents = store.documents(batch.id or 0)
    assert documents(1, 3) == ['{"id": 1}', '{"id": 2}', '{"id": 3}']
    assert documents(0, 0) == []
    assert _documents_in_a_forked_process(documents, 2, 3) == ['{"id": 2}', '{"id": 3}', '{"id": 4}']
    assert documents(0, 5) == [f'{{"id": {i}}}' for i in range(5)]  # this process's engine still serves it
    with pytest.raises(StoreError) as missing:
        documents(3, 4)
    assert str(missing.value) == f"batch {batch.id}: 2 signed documents stored for positions 3 to 6, not 4"
    with pytest.raises(StoreError) as missing_there:
        _documents_in_a_forked_process(documents, 5, 1)
    assert str(missing_there.value) == f"batch {batch.id}: 0 signed documents stored for positions 5 to 5, not 1"


def test_receipt_paths_set_a_chunk_of_rows_at_a_time(store: Store) -> None:
    batch = new_batch(store, 5, key="a")
    ids = [f"urn:uuid:a000000{i}-0000-4000-8000-000000000000" for i in range(5)]
    set_receipt_paths(store, batch.id or 0, {cid: f"/r/receipts.jsonl#{i * 100}" for i, cid in enumerate(ids)}, chunk=2)
    assert sorted(store.receipt_paths(batch.id or 0)) == [
        (cid, f"/r/receipts.jsonl#{i * 100}") for i, cid in enumerate(ids)
    ]
    set_receipt_paths(store, batch.id or 0, {}, chunk=2)  # nothing to set: nothing sent
    assert len(store.receipt_paths(batch.id or 0)) == 5


def test_receipt_locations_given_chunk_by_chunk_are_recorded_only_by_the_commit(store: Store) -> None:
    batch = new_batch(store, 5, key="a")
    ids = [f"urn:uuid:a000000{i}-0000-4000-8000-000000000000" for i in range(5)]
    with store.receipt_locations(batch.id or 0, chunk=2) as located:
        located.add({cid: f"/r/receipts.jsonl#{i * 100}" for i, cid in enumerate(ids[:3])})
        located.add({})
        located.add({cid: f"/r/receipts.jsonl#{i * 100}" for i, cid in enumerate(ids[3:], start=3)})
        assert {path for _, path in store.receipt_paths(batch.id or 0)} == {None}  # not yet, for anyone else
        located.commit()
    assert sorted(store.receipt_paths(batch.id or 0)) == [
        (cid, f"/r/receipts.jsonl#{i * 100}") for i, cid in enumerate(ids)
    ]
    other = new_batch(store, 3, key="b")
    others = [f"urn:uuid:b000000{i}-0000-4000-8000-000000000000" for i in range(3)]
    with store.receipt_locations(other.id or 0) as located:
        located.add({others[0]: "/r/0.json"})  # then the run fails: left uncommitted
    assert {path for _, path in store.receipt_paths(other.id or 0)} == {None}
    with store.receipt_locations(other.id or 0) as located:
        located.add({others[0]: "/r/0.json", others[1]: "/r/1.json"})
        located.add({others[0]: "/r/0.json"})  # the third place holds another credential
        with pytest.raises(StoreError) as refused:
            located.commit()
    assert str(refused.value) == (
        f"batch {other.id}: 1 of 3 receipt locations name no credential at their place in the batch; none was recorded"
    )
    assert {path for _, path in store.receipt_paths(other.id or 0)} == {None}


@pytest.mark.parametrize(
    ("order", "wrong"),
    [([1, 0, 2, 3, 4], 2), ([0, 1, 2, 4], 1), ([1, 2, 3, 4], 4), ([0, 1, 2, 3, 4, 5], 1)],
    ids=["swapped", "gap", "late", "extra"],
)
def test_receipt_locations_out_of_batch_order_are_refused_and_none_recorded(
    store: Store, order: list[int], wrong: int
) -> None:
    batch, other = new_batch(store, 5, key="a"), new_batch(store, 6, key="b")
    ids = [f"urn:uuid:a000000{i}-0000-4000-8000-000000000000" for i in range(6)]  # the sixth is in no batch
    paths = {ids[i]: f"/r/{i}.json" for i in order}
    with pytest.raises(StoreError) as refused:
        set_receipt_paths(store, batch.id or 0, paths, chunk=2)
    assert str(refused.value) == (
        f"batch {batch.id}: {wrong} of {len(order)} receipt locations name no credential at their place in the "
        "batch; none was recorded"
    )
    assert {path for _, path in store.receipt_paths(batch.id or 0)} == {None}
    with pytest.raises(StoreError, match="^batch .*: 5 of 5 receipt locations name no credential"):  # another's
        set_receipt_paths(store, other.id or 0, {ids[i]: f"/r/{i}.json" for i in range(5)})
    assert {path for _, path in store.receipt_paths(other.id or 0)} == {None}


def test_earners_holding_the_achievement_are_found_across_chunks_of_addresses(store: Store) -> None:
    held = new_batch(store, ISSUED_CHUNK + 2, key="a")  # p0..p901@a.example.org hold ACHIEVEMENT
    elsewhere = new_batch(store, 3, key="c")
    store.update_batch(elsewhere.id or 0, achievement_id="https://registrar.test.edu/achievements/other")
    asked = [f"new{i}@x.org" for i in range(ISSUED_CHUNK - 1)]
    asked += ["p0@a.example.org", f"p{ISSUED_CHUNK}@a.example.org", "o'brien@x.org", "p0@c.example.org"]
    asked += [f"new{i}@y.org" for i in range(ISSUED_CHUNK)] + [f"p{ISSUED_CHUNK + 1}@a.example.org"]
    expected = {
        f"p{i}@a.example.org": f"urn:uuid:a{i:07d}-0000-4000-8000-000000000000"
        for i in (0, ISSUED_CHUNK, ISSUED_CHUNK + 1)
    }
    assert store.issued_emails(ACHIEVEMENT, asked) == expected  # found in the first, second and third chunks
    assert store.issued_emails(ACHIEVEMENT, []) == {}
    store.update_batch(held.id or 0, revoked_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert store.issued_emails(ACHIEVEMENT, asked) == {}  # a withdrawn batch holds nothing


def test_the_same_records_make_one_batch(store: Store) -> None:
    first = new_batch(store, key="a")
    with pytest.raises(StoreError, match=f"^batch {first.id} for these records exists already; run the command again$"):
        new_batch(store, key="a")
    with pytest.raises(StoreError, match="^no batch 99$"):
        store.batch(99)


def test_states_numbers_past_32_bits_and_times_read_back(store: Store) -> None:
    batch = new_batch(store)
    assert batch.id is not None
    signed = store.record_attempt(batch.id, attempt(batch.id, 2**40, "c"))
    assert (signed.state, signed.tx_hash) == (State.SUBMITTED, "0x" + "c" * 64)
    confirmed_at = datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC)
    store.update_batch(
        batch.id,
        state=State.CONFIRMED,
        chain_id=BIG_CHAIN,
        block_number=2**33,
        block_timestamp=2**31 + 1,
        confirmed_at=confirmed_at,
    )
    again = store.batch(batch.id)
    assert (again.state, again.chain_id, again.block_number, again.block_timestamp) == (
        State.CONFIRMED,
        BIG_CHAIN,
        2**33,
        2**31 + 1,
    )
    assert again.confirmed_at == confirmed_at
    assert again.created_at.utcoffset() is not None
    assert abs((datetime.now(UTC) - again.created_at).total_seconds()) < 3600
    assert [(a.nonce, a.tx_hash) for a in store.attempts(batch.id)] == [(2**40, "0x" + "c" * 64)]
    assert [b.id for b in store.batches(unfinished=True)] == [batch.id]
    store.update_batch(batch.id, state=State.DELIVERED)  # receipts not written yet (delivered_at unset)
    assert [b.id for b in store.batches(unfinished=True)] == [batch.id]
    store.update_batch(batch.id, delivered_at=datetime.now(UTC))
    assert store.batches(unfinished=True) == []


def test_anchors_on_other_chains(store: Store) -> None:
    batch = new_batch(store, also_on=((BIG_CHAIN, "0x" + "22" * 20),))
    home, other = anchor_records(store, batch)
    assert (home.anchor_id, other.chain_id, other.state, other.label) == (
        None,
        BIG_CHAIN,
        State.PREPARED,
        f"batch {batch.id} on chain {BIG_CHAIN}",
    )
    other = record_anchor_attempt(store, other, attempt(batch.id or 0, 5, "d"))
    assert (other.state, other.tx_hash) == (State.SUBMITTED, "0x" + "d" * 64)
    assert [(a.nonce, a.batch_id) for a in anchor_attempts(store, other)] == [(5, batch.id)]
    other = update_record(store, other, state=State.CONFIRMED, block_number=2**35, block_hash="0x" + "e" * 64)
    assert reload_record(store, other) == other
    store.update_batch(batch.id or 0, state=State.DELIVERED, block_number=7, delivered_at=datetime.now(UTC))
    assert [b.id for b in store.batches(unfinished=True)] == [batch.id]  # confirmed, not in the receipts yet
    mark_delivered(store, [other.anchor_id or 0])
    assert [a.delivered for a in chain_anchors(store, batch.id or 0)] == [True]
    assert store.batches(unfinished=True) == []


def test_discarding_only_what_never_left(store: Store) -> None:
    prepared = new_batch(store, key="a", also_on=((31338, "0x" + "22" * 20),))
    assert store.discard(prepared.id or 0).id == prepared.id
    assert store.batches() == []
    assert store.credential("urn:uuid:a0000000-0000-4000-8000-000000000000") is None
    assert store.document("urn:uuid:a0000000-0000-4000-8000-000000000000") is None
    with store.session() as s:  # its documents went with it
        assert s.execute(text("SELECT count(*) FROM credentialdocument")).scalar_one() == 0
    signed = new_batch(store, key="b")
    store.record_attempt(signed.id or 0, attempt(signed.id or 0, 1, "f"))
    with pytest.raises(StoreError, match=f"^batch {signed.id} is submitted: a transaction was signed for it"):
        store.discard(signed.id or 0)
    elsewhere = new_batch(store, key="c", also_on=((31338, "0x" + "22" * 20),))
    (_, other) = anchor_records(store, elsewhere)
    record_anchor_attempt(store, other, attempt(elsewhere.id or 0, 2, "9"))
    with pytest.raises(StoreError, match=f"^batch {elsewhere.id} was sent to another chain"):
        store.discard(elsewhere.id or 0)
    again = new_batch(store, key="d")
    assert (again.id or 0) > (prepared.id or 0)  # a discarded batch's number is not given out again


def test_page_withdrawals_and_daily_counts(store: Store) -> None:
    batch = new_batch(store)
    cid = "urn:uuid:a0000000-0000-4000-8000-000000000000"
    withdrawn = withdraw_page(store, cid, "asked")
    assert page_withdrawal(store, cid) == withdrawn
    with pytest.raises(StoreError, match=f"^the page of {cid} was withdrawn already on "):
        withdraw_page(store, cid, "again")
    with pytest.raises(StoreError, match="^no credential urn:uuid:none$"):
        withdraw_page(store, "urn:uuid:none", "x")
    restore_page(store, cid)
    assert page_withdrawal(store, cid) is None
    with pytest.raises(StoreError, match=f"^the page of {cid} is not withdrawn$"):
        restore_page(store, cid)
    add_counts(store, {("2026-11-29", "view", cid, batch.id or 0): 2, ("2026-11-30", "verify", cid, batch.id or 0): 1})
    add_counts(store, {("2026-11-29", "view", cid, batch.id or 0): 3})  # ON CONFLICT adds
    assert [(c.day, c.kind, c.count) for c in daily_counts(store, "2026-11-01")] == [
        ("2026-11-29", "view", 5),
        ("2026-11-30", "verify", 1),
    ]
    assert [c.day for c in daily_counts(store, "2026-11-30", batch_id=batch.id)] == ["2026-11-30"]


def test_messages_claimed_once_and_addresses_forgotten(
    store: Store, database: str | None, request: pytest.FixtureRequest
) -> None:
    batch = new_batch(store, 3)
    batch_id = batch.id or 0
    store.update_batch(batch_id, state=State.DELIVERED)
    ids = [c.id for c in store.credentials(batch_id)]
    mailbox = Mailbox(store)
    mailbox.queue(batch_id, {cid: f"<{n}@test.edu>" for n, cid in enumerate(ids)})
    mailbox.queue(batch_id, {ids[0]: "<other@test.edu>"})  # known already: kept as it was
    assert mailbox.messages(batch_id)[ids[0]].message_id == "<0@test.edu>"
    assert mailbox.unsent() == {batch_id: 3}
    assert mailbox.move(ids[0], MessageState.SENDING, only_from=(MessageState.QUEUED,))
    assert not mailbox.move(ids[0], MessageState.SENDING, only_from=(MessageState.QUEUED,))  # claimed once
    assert mailbox.move(ids[1], MessageState.SENDING, only_from=(MessageState.QUEUED,))
    assert mailbox.move(
        ids[0],
        MessageState.FAILED,
        only_from=(MessageState.SENDING,),
        reply_code=550,
        reply="550 p0@a.example.org unknown",
    )
    assert mailbox.interrupted(batch_id, "interrupted") == 1
    assert {cid: m.state for cid, m in mailbox.messages(batch_id).items()} == {
        ids[0]: MessageState.FAILED,
        ids[1]: MessageState.UNKNOWN,
        ids[2]: MessageState.QUEUED,
    }
    emails = [f"p{i}@a.example.org" for i in range(3)]
    assert mailbox.forget_addresses(batch_id, emails) == 3
    assert [d[1] for d in deliveries(store, batch_id)] == ["", "", ""]
    assert mailbox.messages(batch_id)[ids[0]].reply == "550 <address forgotten> unknown"
    assert mailbox.unsent() == {}
    if database is None:
        files = b"".join(
            p.read_bytes() for p in Path(store.url.removeprefix("sqlite:///")).parent.glob("credanchor.db*")
        )
    else:  # the table files of this database (not the server's write-ahead log: see forget_addresses)
        server: PostgresServer = request.getfixturevalue("postgres")
        with store.engine.connect() as connection:
            connection.execute(text("CHECKPOINT"))
            oid = connection.execute(text("SELECT oid FROM pg_database WHERE datname = current_database()")).scalar()
        files = b"".join(p.read_bytes() for p in (server.data / "base" / str(oid)).iterdir() if p.is_file())
    assert [email for email in emails if email.encode() in files] == []


def test_the_delivery_list_is_read_a_chunk_at_a_time_with_its_links(store: Store) -> None:
    # A million-credential batch's list (documents and all, for the LinkedIn links) is never whole in memory:
    # read across several chunks, it is the list read at once.
    batch = new_batch(store, 5)
    with store.session() as s:
        for i in range(5):
            document: dict[str, Any] = {"id": f"urn:uuid:a{i:07d}-0000-4000-8000-000000000000", "name": f"Badge {i}"}
            document |= {"validFrom": f"2026-0{i + 1}-01T00:00:00Z", "issuer": {"name": "Registrar"}}
            s.execute(
                text("UPDATE credentialdocument SET document = :d WHERE batch_id = :b AND position = :p"),
                {"d": json.dumps(document), "b": batch.id, "p": i},
            )
        s.commit()
    entries = list(delivery_entries(store, batch.id or 0, "https://verify.test.edu/"))
    assert [e.row for e in entries] == [2, 3, 4, 5, 6]
    assert entries[3].verification_url == "https://verify.test.edu/credentials/a0000003-0000-4000-8000-000000000000"
    assert "issueMonth=4" in (entries[3].linkedin_url or "")
    assert "name=Badge+3" in (entries[3].linkedin_url or "")
    assert list(delivery_entries(store, batch.id or 0, "https://verify.test.edu/", chunk=2)) == entries
    assert {e.verification_url for e in delivery_entries(store, batch.id or 0, None)} == {None}


def test_a_batch_is_copied_into_the_sqlite_file_behind_the_caller(tmp_path: Path) -> None:
    # SQLite copies its write-ahead log into the database file only once the log passes 1,000 pages; a batch's
    # insert (2.4 GB of log at a million) has it copied on a thread while issuing goes on, so anchoring does not
    # wait for the copy. A batch this small would otherwise stay in the log alone.
    path = tmp_path / "credanchor.db"
    store = Store(f"sqlite:///{path}")
    try:
        before = path.stat().st_size
        batch = new_batch(store, 50)
        store.settle()
        assert path.stat().st_size > before  # copied into the file, with connections still open (no close)
        assert store.batch(batch.id or 0).count == 50
        with store.session() as s:  # and the automatic checkpoint and foreign keys are on again for every other commit
            assert s.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 1000
            assert s.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert s.execute(text("PRAGMA cache_size")).scalar() == CACHE_KIB  # the batch's larger cache given back
            # the insert made without looking references up made none that fails them
            assert s.execute(text("PRAGMA foreign_key_check")).all() == []
            with pytest.raises(IntegrityError, match="FOREIGN KEY constraint failed"):
                s.execute(
                    text("INSERT INTO credentialdocument (batch_id, position, document) VALUES (:b, 99, '{}')"),
                    {"b": batch.id},
                )
    finally:
        store.close()


def test_a_new_database_has_16_kib_pages_and_an_older_one_keeps_its_own(tmp_path: Path) -> None:
    # A signed document (2.3-3.5 KB) takes a 4 KiB page nearly to itself; a database SQLite creates now
    # has pages four times that size. One made before (here: 4 KiB pages, a table in it) keeps its pages and
    # takes a batch all the same.
    new, old = tmp_path / "new.db", tmp_path / "old.db"
    made = sqlite3.connect(old)
    made.execute("PRAGMA page_size=4096")
    made.execute("PRAGMA journal_mode=WAL")
    made.execute("CREATE TABLE made_before (x INTEGER)")
    made.close()
    for path, size in ((new, PAGE_BYTES), (old, 4096)):
        store = Store(f"sqlite:///{path}")
        try:
            batch = new_batch(store, 20)
            assert [row[0] for row in store.leaves(batch.id or 0)] == ["0xa" + f"{i:063x}" for i in range(20)]
            assert store.document("urn:uuid:a0000019-0000-4000-8000-000000000000") == '{"id": 19}'
            with store.session() as s:
                assert s.execute(text("PRAGMA page_size")).scalar() == size
                assert s.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        finally:
            store.close()
    assert PAGE_BYTES == 16384


def test_a_failed_batch_insert_leaves_the_automatic_checkpoint_and_foreign_keys_on(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'credanchor.db'}")

    def chunks() -> Iterator[list[dict[str, Any]]]:
        raise OSError("the signing workers died")
        yield []

    try:
        with pytest.raises(OSError, match="^the signing workers died$"):
            store.add_batch_chunks(new_batch_row(), chunks())
        assert store.batches() == []
        with store.session() as s:
            assert s.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 1000
            assert s.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert s.execute(text("PRAGMA cache_size")).scalar() == CACHE_KIB
    finally:
        store.close()


def new_batch_row() -> Batch:
    return Batch(
        input_key="f" * 64,
        achievement="example",
        achievement_id=ACHIEVEMENT,
        root="0x" + "f" * 64,
        count=1,
        chain_id=31337,
        registry_address="0x" + "11" * 20,
        out_dir="/tmp/out",
    )


def test_the_freed_heap_is_given_back_on_glibc() -> None:
    """A batch's larger page cache, freed at check-in, goes back to the system (glibc's malloc_trim), not only to
    the heap (measured at a million credentials: the issuing process's peak 190 MB higher without it)."""
    assert return_freed_memory() is (platform.libc_ver()[0] == "glibc")


def test_web_counts_stay_in_memory_while_another_process_holds_the_write_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A large batch holds SQLite's write lock while it is stored and while its receipts are written; the web
    # verifier's counts wait in memory meanwhile instead of being lost (or stopping the thread that flushes them).
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "credanchor.db"
    store = Store(f"sqlite:///{path}")
    try:
        batch = new_batch(store, 2)
        counter = HitCounter(store)
        credential = "urn:uuid:a0000001-0000-4000-8000-000000000000"
        counter.count("page", credential, batch.id or 0)
        holder = sqlite3.connect(path, timeout=0, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process's write transaction
        assert counter.flush() is False
        counter.count("page", credential, batch.id or 0)
        holder.execute("ROLLBACK")
        holder.close()
        assert counter.flush() is True
        assert [(c.kind, c.credential_id, c.count) for c in daily_counts(store, "2000-01-01")] == [
            ("page", credential, 2)
        ]
        assert counter.flush() is True  # nothing left to add
        assert [c.count for c in daily_counts(store, "2000-01-01")] == [2]
    finally:
        store.close()
