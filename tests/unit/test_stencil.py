"""A credential written from a stencil is, byte for byte, the one built whole, canonicalised and signed the
plain way: the same id, digest, signature and stored text, for any values a record can hold."""

import json
import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anchoring.batchsign import SignerSpec
from anchoring.credential import credential_digest
from anchoring.dataintegrity import JCS, RDFC, ProofFailed, verify_proof
from issuer.credentials import (
    FIELDS,
    assemble_credential,
    build_credential,
    credential_fields,
    ids_and_salts,
    random_urn_uuid,
)
from issuer.records import Record
from issuer.stencil import Stencils, signed
from tests.unit.test_credentials import ISSUER, template

SIGNER = SignerSpec.of(bytes(range(32)), JCS, "https://registrar.test.edu#key-1", datetime(2026, 6, 30, tzinfo=UTC))
ISSUED = datetime(2026, 6, 30, 12, tzinfo=UTC)
AWKWARD = '"\\\x00\x1f\x7f{}%s{0}é中😀\u2028 '
"""Characters an encoder could get wrong: quotes, backslash, controls, braces and format marks, non-ASCII."""


def stencils(**changes: Any) -> tuple[Stencils, Any]:
    t = template(**changes)
    return Stencils(t, ISSUER, t.achievement(ISSUER.id), SIGNER.signer()), t


def plain(fields: dict[str, Any], t: Any) -> tuple[str, bytes, str]:
    import orjson

    digest, credential = signed(assemble_credential(fields, t, ISSUER, t.achievement(ISSUER.id)), SIGNER.signer())
    return credential["id"], digest, orjson.dumps(credential).decode()


texts = st.text(
    alphabet=st.sampled_from(AWKWARD) | st.characters(max_codepoint=0xD7FF) | st.characters(min_codepoint=0xE000),
    max_size=12,
)
numbers = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**53) + 1, 2**53 - 1)
zones = st.sampled_from([UTC, timezone(timedelta(hours=-5)), ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")])
records = st.builds(
    Record,
    row=st.just(2),
    email=texts,
    name=texts,
    issue_date=st.none() | st.builds(lambda d, z: d.replace(tzinfo=z), st.datetimes(), zones),
    credits_earned=st.none() | numbers,
    evidence_url=st.none() | texts,
    evidence_narrative=st.none() | texts,
    result=st.none() | texts,
)


@settings(max_examples=300, deadline=None)
@given(records, st.booleans(), st.sampled_from([None, "P3Y", "P18M", "P90D"]), texts)
def test_any_record_is_written_as_the_plain_way_builds_it(
    record: Record, include_name: bool, validity: str | None, name: str
) -> None:
    writer, t = stencils(include_name=include_name, validity=validity, name=name or "x")
    fields = credential_fields(record, t, ISSUED)
    assert writer.one(fields) == plain(fields, t)


def test_the_written_credential_is_the_built_one_signed_and_hashed() -> None:
    writer, t = stencils()
    record = Record(row=2, email="ada@example.org", name=f"Ada {AWKWARD}", credits_earned=2.0, result="A")
    fields = credential_fields(record, t, ISSUED, credential_id="urn:uuid:1", salt="00")
    credential_id, digest, text = writer.one(fields)
    credential = json.loads(text)
    proof = credential.pop("proof")[0]
    assert credential == build_credential(
        record, t, ISSUER, t.achievement(ISSUER.id), ISSUED, credential_id="urn:uuid:1", salt="00"
    )
    assert credential_id == "urn:uuid:1"
    assert digest == credential_digest(credential)
    verify_proof(credential, proof, SIGNER.signer().public_key)
    assert '"creditsEarned":2.0' in text  # stored as orjson writes it; RFC 8785 writes 2, and that is what is hashed


@pytest.mark.parametrize("credits", [[0.0, -0.0, 0], [2, 2.0, True], [-0.0, 0.0]])
def test_numbers_equal_as_keys_are_each_written_as_they_are(credits: list[Any]) -> None:
    writer, t = stencils()
    for i, value in enumerate(credits):
        fields = credential_fields(Record(row=2, email="a@x.org", name="A", credits_earned=value), t, ISSUED)
        assert writer.one(fields) == plain(fields, t), i


def test_each_shape_gets_its_own_stencil_once() -> None:
    writer, t = stencils()
    shapes = set()
    for i, record in enumerate(
        [
            Record(row=2, email="a@x.org", name="A"),
            Record(row=3, email="b@x.org", name="B", result="Pass"),
            Record(row=4, email="c@x.org", name="C", credits_earned=1.5, evidence_url="https://x.org/e"),
            Record(row=5, email="d@x.org", name="D"),
        ]
    ):
        fields = credential_fields(record, t, ISSUED, credential_id=f"urn:uuid:{i}")
        shapes.add(tuple(fields))
        assert writer.one(fields) == plain(fields, t)
    assert len(writer._stencils) == len(shapes) == 3


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"name": "A\ud800"}, "input contains non-UTF-8 codepoints"),
        ({"credits_earned": float("nan")}, "nan is not representable in JCS"),
        ({"credits_earned": float("-inf")}, "-inf is not representable in JCS"),
        ({"credits_earned": 2**60}, "1152921504606846976 exceeds safe integer domain for JSON floats"),
    ],
)
def test_a_value_no_encoder_takes_fails_as_the_plain_way_fails(value: dict[str, Any], reason: str) -> None:
    writer, t = stencils(include_name=True)
    fields = credential_fields(Record(row=2, email="a@x.org", **{"name": "A", **value}), t, ISSUED)
    message = (
        f"the document cannot be canonicalised with RFC 8785: credential cannot be canonicalised (RFC 8785): {reason}"
    )
    for write in (writer.one, lambda f: plain(f, t)):
        with pytest.raises(ProofFailed) as failure:
            write(fields)
        assert str(failure.value) == message


def test_stencils_write_only_eddsa_jcs_2022() -> None:
    t = template()
    rdfc = SignerSpec.of(bytes(32), RDFC, "https://registrar.test.edu#key-1", ISSUED).signer()
    with pytest.raises(ValueError, match="^stencils write eddsa-jcs-2022 credentials, not eddsa-rdfc-2022$"):
        Stencils(t, ISSUER, t.achievement(ISSUER.id), rdfc)


@pytest.mark.parametrize(
    "start",
    [
        datetime(2026, 1, 31, 23, tzinfo=timezone(timedelta(hours=-5))),  # the same instant as the next one
        datetime(2026, 2, 1, 4, tzinfo=UTC),
        datetime(2026, 3, 8, 12, tzinfo=ZoneInfo("America/New_York")),  # the same wall clock, two offsets
        datetime(2026, 3, 8, 12, tzinfo=timezone(timedelta(hours=-5))),
        datetime(2025, 11, 2, 1, 30, tzinfo=ZoneInfo("America/New_York"), fold=0),  # one wall clock, two instants
        datetime(2025, 11, 2, 1, 30, tzinfo=ZoneInfo("America/New_York"), fold=1),
    ],
)
def test_kept_validity_dates_are_the_ones_computed(start: datetime) -> None:
    t = template(validity="P1M")
    every = [Record(row=2, email="a@x.org", name="A", issue_date=d) for d in (start, *_neighbours(start))]
    for record in [*every, every[0]]:
        fields = credential_fields(record, t, ISSUED)
        date = record.issue_date or ISSUED
        until = t.valid_until(date)
        assert until is not None
        assert fields["validFrom"] == date.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert fields["validUntil"] == until.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _neighbours(start: datetime) -> list[datetime]:
    """Datetimes equal to `start` (one instant) but in other zones, and the other fold of its wall clock."""
    return [start.astimezone(UTC), start.astimezone(timezone(timedelta(hours=-5))), start.replace(fold=1 - start.fold)]


def test_fields_are_named_in_order() -> None:
    t = template(include_name=True)
    record = Record(
        row=2, email="a@x.org", name="A", credits_earned=1.0, result="B", evidence_url="u", evidence_narrative="n"
    )
    assert tuple(credential_fields(record, t, ISSUED)) == FIELDS


def _is_version_4_urn(text: str) -> bool:
    parsed = uuid.UUID(text.removeprefix("urn:uuid:"))
    return (
        text.startswith("urn:uuid:")
        and str(parsed) == text.removeprefix("urn:uuid:")
        and (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
    )


def test_credential_ids_are_random_version_4_uuids() -> None:
    seen = {random_urn_uuid() for _ in range(2000)}
    assert all(map(_is_version_4_urn, seen))
    assert len(seen) == 2000


def test_a_chunks_ids_and_salts_drawn_at_once_are_as_fresh_as_one_by_one() -> None:
    """Ids: version 4 UUIDs; salts: 32 hex digits; none repeated within a draw or across draws, and every hex
    digit's value met in each place of the salts (not a fixed or shifted part of the read)."""
    drawn = ids_and_salts(1500) + ids_and_salts(500)
    ids, salts = [i for i, _ in drawn], [s for _, s in drawn]
    assert all(map(_is_version_4_urn, ids))
    assert all(re.fullmatch("[0-9a-f]{32}", salt) for salt in salts)
    assert len(set(ids)) == len(set(salts)) == 2000
    assert not any(salt[:8] == cid[9:17] for cid, salt in drawn)  # an id and its salt: different parts of the read
    assert all(len({salt[place] for salt in salts}) == 16 for place in range(32))
    assert ids_and_salts(0) == []
