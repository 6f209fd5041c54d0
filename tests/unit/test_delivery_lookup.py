"""The delivery list and the credential lookups, as pure functions over store rows and documents."""

import csv
import io
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from anchoring.errors import InvalidInput
from issuer.delivery import (
    COLUMNS,
    Delivery,
    cell,
    deliveries,
    delivery_csv,
    delivery_csv_lines,
    delivery_csv_parts,
    delivery_json,
)
from issuer.lookup import Standing, batch_ref, fold, human_date, listing_json, matching_name, person_view, standing
from issuer.store import Batch, Issued, State

ROOT = "0x" + "ab" * 32


def batch(**changes: Any) -> Batch:
    fields: dict[str, Any] = {
        "id": 3,
        "input_key": "k",
        "achievement": "example",
        "achievement_id": "https://r.edu/achievements/example",
        "state": State.DELIVERED,
        "root": ROOT,
        "count": 2,
        "chain_id": 31337,
        "registry_address": "0x" + "00" * 20,
        "out_dir": "/w/receipts/x",
        "block_number": 12,
        "tx_hash": "0x" + "cd" * 32,
    }
    return Batch(**(fields | changes))


def issued(name: str = "Ada Lovelace", **changes: Any) -> Issued:
    fields: dict[str, Any] = {
        "id": "urn:uuid:1",
        "row": 2,
        "email": "ada@example.org",
        "name": name,
        "receipt_path": "/w/receipts/x/1.json",
        "revoked_at": None,
        "revoke_reason": None,
        "revoke_tx": None,
        "batch": batch(),
    }
    return Issued(**(fields | changes))


def test_delivery_list_keeps_the_records_order_and_quotes_what_needs_it() -> None:
    entries = deliveries(
        [
            (2, "ada@example.org", "Lovelace, Ada", "urn:uuid:1", "/w/receipts/x/1.json"),
            (5, "zoe@example.org", 'Zoë "Z" Ångström', "urn:uuid:2", None),
        ]
    )
    assert entries[0] == Delivery(2, "ada@example.org", "Lovelace, Ada", "urn:uuid:1", "1.json")
    text = delivery_csv(entries)
    assert text.splitlines()[0] == ",".join(COLUMNS)
    assert "\r\n" in text
    assert list(csv.reader(io.StringIO(text, newline="")))[1:] == [
        ["2", "ada@example.org", "Lovelace, Ada", "urn:uuid:1", "1.json", "", ""],
        ["5", "zoe@example.org", 'Zoë "Z" Ångström', "urn:uuid:2", "", "", ""],
    ]
    assert delivery_json(entries)[1] == {
        "row": 5,
        "email": "zoe@example.org",
        "name": 'Zoë "Z" Ångström',
        "credentialId": "urn:uuid:2",
        "receiptFile": "",
        "verificationUrl": None,
        "linkedinUrl": None,
    }


def test_state_is_the_batch_state_unless_revoked() -> None:
    assert standing(issued()) == Standing("delivered")
    assert standing(issued(batch=batch(state=State.SUBMITTED))).describe() == "submitted"
    on_its_own = issued(revoked_at=datetime(2026, 11, 29, 18, 4), revoke_reason="Issued in error")
    assert standing(on_its_own).describe() == "revoked on 29 November 2026, 18:04 UTC: Issued in error"
    with_batch = issued(batch=batch(revoked_at=datetime(2026, 12, 1), revoke_reason="Exam voided"))
    assert standing(with_batch).describe() == "revoked with its batch on 1 December 2026: Exam voided"
    assert listing_json(with_batch) | {"receiptPath": None} == {
        "credentialId": "urn:uuid:1",
        "batch": 3,
        "row": 2,
        "email": "ada@example.org",
        "name": "Ada Lovelace",
        "achievement": "example",
        "state": "revoked",
        "revokedAt": "2026-12-01T00:00:00+00:00",
        "revokeReason": "Exam voided",
        "revokedWith": "batch",
        "receiptPath": None,
    }


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        ("2026-06-30T00:00:00Z", "30 June 2026"),
        ("2029-01-05T09:30:00Z", "5 January 2029, 09:30 UTC"),
        (datetime(2026, 6, 30, 23, 0, tzinfo=UTC), "30 June 2026, 23:00 UTC"),
    ],
)
def test_human_dates(moment: str | datetime, text: str) -> None:
    assert human_date(moment) == text


def test_names_match_in_part_without_case_accents_or_extra_spaces() -> None:
    assert fold("  Zoë   ÅNGSTRÖM ") == "zoe angstrom"
    found = [issued("Zoë Ångström"), issued("Ada Lovelace"), issued("Zoey Adams")]
    assert [i.name for i in matching_name(found, "zoe")] == ["Zoë Ångström", "Zoey Adams"]
    assert [i.name for i in matching_name(found, "ZOE  ang")] == ["Zoë Ångström"]


@pytest.mark.parametrize(("text", "ref"), [("3", 3), (" 12 ", 12), (ROOT.upper().replace("0X", "0x"), ROOT)])
def test_batches_by_number_or_root(text: str, ref: int | str) -> None:
    assert batch_ref(text) == ref


def test_a_batch_named_otherwise() -> None:
    with pytest.raises(InvalidInput) as caught:
        batch_ref("0xabc")
    assert str(caught.value) == (
        "batch '0xabc': give its number (see `credanchor batches`) or its root (0x + 64 hex digits)"
    )


def test_a_credential_as_a_person_reads_it() -> None:
    document = {
        "name": "Foundations of Data Literacy",
        "issuer": {"id": "https://r.edu", "name": "Example University Registrar"},
        "validFrom": "2026-06-30T00:00:00Z",
        "validUntil": "2029-06-30T00:00:00Z",
        "credentialSubject": {
            "identifier": [{"identityType": "emailAddress"}, {"identityType": "name"}],
            "achievement": {
                "name": "Foundations of Data Literacy",
                "achievementType": "Certificate",
                "description": "30 hours.",
                "creditsAvailable": 3.0,
                "resultDescription": [{"id": "https://r.edu/a#result", "name": "Final grade"}],
            },
            "creditsEarned": 2.5,
            "result": [{"resultDescription": "https://r.edu/a#result", "value": "A"}],
        },
        "evidence": [{"id": "https://r.edu/p/1", "narrative": "Final project"}],
    }
    assert person_view(document, issued()) == [
        ("credential", "Foundations of Data Literacy"),
        ("id", "urn:uuid:1"),
        ("recipient", "Ada Lovelace <ada@example.org>"),
        ("records row", "2 of batch 3"),
        ("in the credential", "the name, and the e-mail as a salted hash"),
        ("achievement", "Foundations of Data Literacy (Certificate)"),
        ("description", "30 hours."),
        ("issued by", "Example University Registrar (https://r.edu)"),
        ("valid", "from 30 June 2026 until 30 June 2029"),
        ("credits", "2.5 of 3.0"),
        ("result", "Final grade: A"),
        ("evidence", "Final project - https://r.edu/p/1"),
        ("state", "delivered"),
        ("anchored", f"block 12 of chain 31337, tx 0x{'cd' * 32}"),
        ("batch root", ROOT),
        ("receipt", "/w/receipts/x/1.json"),
    ]
    bare = {
        "validFrom": "2026-06-30T00:00:00Z",
        "credentialSubject": {"identifier": [{"identityType": "emailAddress"}]},
    }
    view = dict(person_view(bare, issued(receipt_path=None, batch=batch(state=State.PREPARED, block_number=None))))
    assert view["in the credential"] == "the e-mail as a salted hash only"
    assert view["valid"] == "from 30 June 2026, no end date"
    assert view["anchored"] == "not yet (batch 3 is prepared)"
    assert view["receipt"] == "not written yet"


def test_names_that_look_like_formulas_stay_text_in_the_delivery_list() -> None:
    entries = deliveries([(2, "a@example.org", '=HYPERLINK("http://evil.example","x")', "urn:uuid:1", None)])
    (row,) = list(csv.reader(io.StringIO(delivery_csv(entries), newline="")))[1:]
    assert row[2] == '\'=HYPERLINK("http://evil.example","x")'
    assert delivery_json(entries)[0]["name"] == '=HYPERLINK("http://evil.example","x")'


@pytest.mark.parametrize("per_part", [1, 2, 3, 5000])
def test_the_csv_in_parts_is_the_csv_whole(per_part: int) -> None:
    entries = [Delivery(i + 2, f"p{i}@example.org", f"=Person {i}", f"urn:uuid:{i}", f"{i}.json") for i in range(5)]
    parts = list(delivery_csv_parts(iter(entries), per_part))  # entries taken as they come
    assert "".join(parts) == delivery_csv(entries)
    assert len(parts) == -(-5 // per_part)
    assert parts[0].startswith(",".join(COLUMNS) + "\r\n")
    assert list(delivery_csv_parts([])) == [",".join(COLUMNS) + "\r\n"]  # no entries: the header alone


def _csv_module(entries: list[Delivery]) -> str:
    """What the csv module writes for the entries' lines, each text field but the credential id through `cell`."""
    expected = io.StringIO()
    writer = csv.writer(expected)
    for e in entries:
        row = [e.email, e.name, e.credential_id, e.receipt_file, e.verification_url or "", e.linkedin_url or ""]
        writer.writerow([e.row, *(cell(value) if i != 2 else value for i, value in enumerate(row))])
    return expected.getvalue()


@pytest.mark.parametrize("field", range(6))
@pytest.mark.parametrize("text", ["=1", "+1", "-1", "@a", "\tx", "\rx", "a\rb", "a\nb", "a,b", 'a"b', "", "é\u2028"])
def test_a_chunk_with_one_field_needing_care_is_written_as_the_csv_module_writes_it(field: int, text: str) -> None:
    # A chunk is written plainly when nothing in it needs quotes or a formula guard; a single field anywhere
    # that does sends the chunk through the entry-by-entry writer. Both give the csv module's text.
    plain = [
        Delivery(
            i + 2, f"p{i}@example.org", f"Person {i}", f"urn:uuid:{i}", f"{i}.json", f"https://v/{i}", f"https://l/{i}"
        )
        for i in range(5)
    ]
    assert delivery_csv_lines(plain) == _csv_module(plain)
    entry = plain[3]
    changed = [
        entry._replace(email=text),
        entry._replace(name=text),
        entry._replace(credential_id=text),
        entry._replace(receipt_file=text),
        entry._replace(verification_url=text),
        entry._replace(linkedin_url=text),
    ][field]
    mixed = [*plain[:3], changed, *plain[4:]]
    assert delivery_csv_lines(mixed) == _csv_module(mixed)


def test_the_csv_is_what_the_csv_module_writes_for_any_text() -> None:
    """Rows that need no quotes are written directly; any other goes through the csv module: the text is the
    module's either way, for names with commas, quotes, line breaks, formula starts and any other character."""
    rng = random.Random(20261201)
    alphabet = ["a", "Z", " ", ",", '"', "\r", "\n", "=", "+", "-", "@", "\t", "'", "é", "\x00", ";", "#", "\u2028"]

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 6)))

    entries = [
        Delivery(i, text(), text(), f"urn:uuid:{i}", text(), rng.choice([None, "", text()]), rng.choice([None, text()]))
        for i in range(3000)
    ]
    expected = io.StringIO()
    writer = csv.writer(expected)
    writer.writerow(COLUMNS)
    for e in entries:
        row = [e.row, e.email, e.name, e.credential_id, e.receipt_file, e.verification_url or "", e.linkedin_url or ""]
        writer.writerow([row[0], *(cell(str(value)) if i != 2 else value for i, value in enumerate(row[1:]))])
    assert delivery_csv(entries) == expected.getvalue()
    assert "".join(delivery_csv_parts(entries, 7)) == expected.getvalue()
    back = list(csv.reader(io.StringIO(expected.getvalue(), newline="")))[1:]
    assert [row[2] for row in back] == [cell(e.name) for e in entries]
