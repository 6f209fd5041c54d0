"""Parsing receipts: every kind of bad input gets its own clear, one-line error (and never a traceback)."""

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from anchoring.errors import InvalidInput, InvalidReceipt
from anchoring.jsonio import read_limited
from anchoring.receipt import MAX_RECEIPT_BYTES, Manifest, Receipt, receipt_schema

RECEIPTS = Path(__file__).parent.parent / "assets" / "receipts"
SCHEMA_FILE = Path(__file__).parent.parent.parent / "anchoring" / "schemas" / "receipt-v1.schema.json"
VALID_BYTES = (RECEIPTS / "valid.json").read_bytes()
VALID: dict[str, Any] = json.loads(VALID_BYTES)


def changed(change: Callable[[dict[str, Any]], object]) -> bytes:
    doc = copy.deepcopy(VALID)
    change(doc)
    return json.dumps(doc).encode()


def parse(data: bytes) -> Receipt:
    return Receipt.from_json(data, source="r.json")


def test_valid_receipt_parses() -> None:
    receipt = parse(VALID_BYTES)
    assert receipt.anchor.chain_id == 31337
    assert receipt.computed_digest() == receipt.digest
    assert json.loads(receipt.to_json()) == VALID


BAD_BYTES = [
    ("empty", b"", "r.json: file is empty"),
    ("blank", b" \n\t", "r.json: file is empty"),
    ("bom", b"\xef\xbb\xbf" + VALID_BYTES, "r.json: starts with a byte-order mark (BOM); save it as UTF-8 without BOM"),
    ("non-utf8", b'{"type": "Credential\xffReceipt"}', "r.json: not UTF-8 text (byte 0xff at offset 20)"),
    (
        "truncated",
        VALID_BYTES[:200],
        "r.json: not valid JSON at line 8 column 3: Expecting ',' delimiter (the file looks truncated)",
    ),
    ("cut at the end", VALID_BYTES[:-3], "r.json: not valid JSON at line 105 column 4: Expecting ',' delimiter"),
    (
        "malformed",
        b'{"type": "CredentialReceipt",,}',
        "r.json: not valid JSON at line 1 column 30: Expecting property name enclosed in double quotes",
    ),
    ("not an object", b"[1, 2]", "r.json: document: must be a JSON object, got [1, 2]"),
    (
        "duplicate member",
        VALID_BYTES.replace(b'"version": 1,', b'"version": 1, "version": 2,'),
        "r.json: not valid JSON: duplicate member 'version'",
    ),
    (
        "NaN",
        VALID_BYTES.replace(b'"version": 1', b'"version": NaN'),
        "r.json: not valid JSON: NaN is not a JSON number",
    ),
    ("deep nesting", b"[" * 5000 + b"]" * 5000, "r.json: nested 5000 levels deep; at most 32"),
    (
        "huge string",
        VALID_BYTES.replace(b'"version": 1,', b'"version": 1, "x": "' + b"a" * 300_000 + b'",'),
        "r.json: holds a string of 300,000 bytes; at most 262,144",
    ),
    ("a manifest", b'{"type": "BatchManifest", "version": 1}', "r.json: is a batch manifest, not a receipt"),
]


@pytest.mark.parametrize(("data", "message"), [(d, m) for _, d, m in BAD_BYTES], ids=[n for n, _, _ in BAD_BYTES])
def test_unparseable_receipt(data: bytes, message: str) -> None:
    with pytest.raises(InvalidReceipt) as caught:
        parse(data)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


HASH = "must be 32 bytes as lowercase 0x-hex (66 characters)"
BAD_MEMBERS: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    ("unknown member", lambda d: d.update(extra=1), "extra: unknown member"),
    ("unknown anchor member", lambda d: d["anchor"].update(rpcUrl="http://evil"), "anchor.rpcUrl: unknown member"),
    ("missing member", lambda d: d.pop("merkle"), "merkle: missing"),
    ("wrong type", lambda d: d.update(type="Receipt"), "type: must be 'CredentialReceipt', got 'Receipt'"),
    ("version as text", lambda d: d.update(version="1"), "version: must be 1, 2 or 3, got '1'"),
    ("unknown version", lambda d: d.update(version=4), "version: must be 1, 2 or 3, got 4"),
    (
        "version 2 without evidence",
        lambda d: d.update(version=2),
        "document: a version 2 receipt carries the anchor's evidence; this one has none",
    ),
    (
        "version 1 with evidence",
        lambda d: d.update(
            evidence=[
                {"type": "EthStateProof", "chainId": 1, "registry": "0x" + "11" * 20, "header": {}, "nodes": ["0x80"]}
            ]
        ),
        "document: a version 1 receipt carries no evidence (version 2 does)",
    ),
    ("version as true", lambda d: d.update(version=True), "version: must be 1, got true"),
    (
        "chain id as text",
        lambda d: d["anchor"].update(chainId="31337"),
        "anchor.chainId: must be an integer, got '31337'",
    ),
    ("chain id as bool", lambda d: d["anchor"].update(chainId=True), "anchor.chainId: must be an integer, got true"),
    (
        "negative block",
        lambda d: d["anchor"].update(blockNumber=-1),
        "anchor.blockNumber: must be greater than 0, got -1",
    ),
    ("non-hex digest", lambda d: d.update(digest="0x" + "zz" * 32), f"digest: {HASH}, got '0x{'zz' * 32}'"),
    ("short digest", lambda d: d.update(digest="0x" + "ab" * 31), f"digest: {HASH}, got '0x{'ab' * 31}'"),
    ("upper-case digest", lambda d: d.update(digest="0x" + "AB" * 32), f"digest: {HASH}, got '0x{'AB' * 32}'"),
    ("digest without 0x", lambda d: d.update(digest="ab" * 32), f"digest: {HASH}, got '{'ab' * 32}'"),
    ("digest as number", lambda d: d.update(digest=12), "digest: must be a string, got 12"),
    ("short proof entry", lambda d: d["merkle"]["proof"].__setitem__(0, "0x12"), f"merkle.proof.0: {HASH}, got '0x12'"),
    (
        "thousands of proof entries",
        lambda d: d["merkle"].update(proof=["0x" + "11" * 32] * 5000),
        "merkle.proof: has 5000 entries; at most 64",
    ),
    ("proof not a list", lambda d: d["merkle"].update(proof="0x00"), "merkle.proof: must be an array, got '0x00'"),
    (
        "unknown scheme",
        lambda d: d["merkle"].update(scheme="bitcoin"),
        "merkle.scheme: must be 'oz-standard-v1', got 'bitcoin'",
    ),
    (
        "short registry",
        lambda d: d["anchor"].update(registry="0x1234"),
        "anchor.registry: must be a 20-byte address as 0x-hex (42 characters), got '0x1234'",
    ),
    (
        "registry with a bad checksum",
        lambda d: d["anchor"].update(registry="0x" + d["anchor"]["registry"][2:].swapcase()),
        "anchor.registry: has mixed case but a wrong EIP-55 checksum",
    ),
    (
        "timestamp in words",
        lambda d: d["anchor"].update(timestamp="yesterday"),
        "anchor.timestamp: must be a UTC time to the second, like 2026-01-31T09:00:00Z, got 'yesterday'",
    ),
    ("credential not an object", lambda d: d.update(credential=[]), "credential: must be a JSON object, got []"),
    (
        "validFrom as a number",
        lambda d: d["credential"].update(validFrom=0),
        "credential.validFrom: must be a date-time with a zone, like 2026-01-31T09:00:00Z",
    ),
    (
        "validFrom with no UTC form",
        lambda d: d["credential"].update(validFrom="0001-01-01T00:00:00+23:59"),
        "credential.validFrom: is not a real date and time",
    ),
    (
        "validUntil without a zone",
        lambda d: d["credential"].update(validUntil="2030-01-01T00:00:00"),
        "credential.validUntil: must be a date-time with a zone, like 2026-01-31T09:00:00Z",
    ),
    (
        "foreign context",
        lambda d: d["credential"].update({"@context": ["https://example.com/ctx"]}),
        "credential.@context: must start with 'https://www.w3.org/ns/credentials/v2' and "
        "'https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json'",
    ),
    (
        "not an Open Badge",
        lambda d: d["credential"].update(type=["VerifiableCredential"]),
        "credential.type: must include OpenBadgeCredential",
    ),
    ("no issuer", lambda d: d["credential"].pop("issuer"), "credential.issuer: missing"),
    (
        "null validUntil",
        lambda d: d["credential"].update(validUntil=None),
        "credential: validUntil is null; leave it out",
    ),
    (
        "huge name",
        lambda d: d["credential"].update(name="x" * 10000),
        "credential.name: has 10000 characters; at most 8192",
    ),
    (
        "number beyond JSON's safe range",
        lambda d: d["credential"].update(x=2**80),
        "credential cannot be canonicalised (RFC 8785): 1208925819614629174706176 exceeds safe integer domain",
    ),
]


@pytest.mark.parametrize(("change", "message"), [(c, m) for _, c, m in BAD_MEMBERS], ids=[n for n, _, _ in BAD_MEMBERS])
def test_receipt_not_matching_the_schema(change: Callable[[dict[str, Any]], object], message: str) -> None:
    with pytest.raises(InvalidReceipt) as caught:
        parse(changed(change))
    assert str(caught.value).startswith(f"r.json: {message}")
    assert "\n" not in str(caught.value)


def test_a_50_mb_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    with big.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    with pytest.raises(
        InvalidReceipt, match=rf"big.json: 52,428,800 bytes is over the limit of {MAX_RECEIPT_BYTES:,} bytes"
    ):
        read_limited(big, MAX_RECEIPT_BYTES, InvalidReceipt)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidReceipt, match="nope.json: no such file"):
        read_limited(tmp_path / "nope.json", MAX_RECEIPT_BYTES, InvalidReceipt)
    with pytest.raises(InvalidReceipt, match="is a directory, not a file"):
        read_limited(tmp_path, MAX_RECEIPT_BYTES, InvalidReceipt)


@pytest.mark.parametrize("version", [1, 2, 3])
def test_committed_schema_is_the_models_schema(version: int) -> None:
    committed = json.loads(SCHEMA_FILE.with_name(f"receipt-v{version}.schema.json").read_text())
    assert committed == receipt_schema(version), "run `python -m anchoring.schemas` to regenerate the schemas"


@pytest.mark.parametrize(
    "change",
    # EIP-55 checksums and RFC 8785 number ranges are beyond what JSON Schema can say.
    [
        c
        for _, c, m in BAD_MEMBERS
        if not m.startswith(("anchor.registry: has mixed", "credential cannot", "credential.validFrom: is not a real"))
    ],
)
def test_schema_and_model_agree_on_bad_receipts(change: Callable[[dict[str, Any]], object]) -> None:
    doc = json.loads(changed(change))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, receipt_schema())


def test_schema_accepts_every_asset_that_parses() -> None:
    for path in RECEIPTS.glob("*.json"):
        doc = json.loads(path.read_text())
        if doc.get("version") == 1:
            jsonschema.validate(doc, receipt_schema())


def test_a_fifo_is_refused_instead_of_hanging(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(InvalidReceipt, match="pipe.json: is not a regular file"):
        read_limited(fifo, MAX_RECEIPT_BYTES, InvalidReceipt)


def renamed(section: tuple[str, ...], old: str, new: str) -> Callable[[dict[str, Any]], object]:
    def change(doc: dict[str, Any]) -> None:
        target = doc
        for part in section:
            target = target[part]
        target[new] = target.pop(old)

    return change


SNAKE_CASE = [
    ("validFrom", renamed(("credential",), "validFrom", "valid_from"), "credential.validFrom: missing"),
    (
        "credentialSubject",
        renamed(("credential",), "credentialSubject", "credential_subject"),
        "credential.credentialSubject: missing",
    ),
    ("chainId", renamed(("anchor",), "chainId", "chain_id"), "anchor.chainId: missing (and 1 more)"),
    ("txHash", renamed(("anchor",), "txHash", "tx_hash"), "anchor.txHash: missing (and 1 more)"),
    ("blockNumber", renamed(("anchor",), "blockNumber", "block_number"), "anchor.blockNumber: missing (and 1 more)"),
    ("chainId beside chain_id", lambda d: d["anchor"].update(chain_id=5), "anchor.chain_id: unknown member"),
]


@pytest.mark.parametrize(("change", "message"), [(c, m) for _, c, m in SNAKE_CASE], ids=[n for n, _, _ in SNAKE_CASE])
def test_snake_case_names_are_not_the_vc_terms(change: Callable[[dict[str, Any]], object], message: str) -> None:
    # A credential's meaning is its JSON-LD terms: `valid_from` is not `validFrom`, whatever Python calls the field.
    with pytest.raises(InvalidReceipt) as caught:
        parse(changed(change))
    assert str(caught.value) == f"r.json: {message}"


def test_a_snake_case_valid_until_is_not_an_expiry() -> None:
    doc = copy.deepcopy(VALID)
    del doc["credential"]["validUntil"]
    doc["credential"]["valid_until"] = "2000-01-01T00:00:00Z"
    assert parse(json.dumps(doc).encode()).view().valid_until is None


def test_manifest_members_are_camel_case_only() -> None:
    manifest = {
        "type": "BatchManifest",
        "version": 1,
        "scheme": "oz-standard-v1",
        "root": VALID["merkle"]["root"],
        "count": 1,
        "digests": [VALID["digest"]],
        "anchor": {**VALID["anchor"]},
        "issuer": "https://x.edu",
        "achievement": "https://x.edu/a",
    }
    Manifest.from_json(json.dumps(manifest).encode(), source="m.json")
    manifest["anchor"]["block_number"] = manifest["anchor"].pop("blockNumber")
    with pytest.raises(InvalidInput) as caught:
        Manifest.from_json(json.dumps(manifest).encode(), source="m.json")
    assert str(caught.value) == "m.json: anchor.blockNumber: missing (and 1 more)"


@pytest.mark.timeout(20)
def test_a_fifo_swapped_in_after_the_check_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    regular = tmp_path / "regular.json"
    regular.write_bytes(b"{}")
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    real_stat = Path.stat
    # The first look sees a regular file; by the time it is opened, it is a FIFO no one writes to.
    monkeypatch.setattr(Path, "stat", lambda self, **kw: real_stat(regular if self == fifo else self, **kw))
    with pytest.raises(InvalidReceipt, match="pipe.json: is not a regular file"):
        read_limited(fifo, MAX_RECEIPT_BYTES, InvalidReceipt)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r: r["credential"].update(
                {"https://www.w3.org/2018/credentials#validUntil": {"@value": "2099-01-01T00:00:00Z"}}
            ),
            "member 'https://www.w3.org/2018/credentials#validUntil' is not a plain term of the contexts",
        ),
        (lambda r: r["credential"].update({"cred:validUntil": "2099-01-01T00:00:00Z"}), "member 'cred:validUntil'"),
        (
            lambda r: r["credential"]["issuer"].update({"@id": "https://evil.example"}),
            "member '@id' is not a plain term",
        ),
        (
            lambda r: r["credential"]["credentialSubject"].update({"@context": {"until": "cred:validUntil"}}),
            "an @context must name its contexts by URL, not define terms inline",
        ),
    ],
    ids=["IRI member", "compact IRI member", "keyword member", "inline context"],
)
def test_members_must_be_plain_terms_so_the_json_says_what_the_signature_covers(
    change: Callable[[dict[str, Any]], object], message: str
) -> None:
    """An RDF signature covers statements, not JSON: a member written as an IRI would be signed as
    `validUntil` while the verifier's reading of the JSON would miss it. Such receipts are malformed."""
    with pytest.raises(InvalidReceipt, match=re.escape(message)):
        parse(changed(change))


EVIDENCED: dict[str, Any] = json.loads(
    (Path(__file__).parent.parent / "assets" / "evidence" / "v2" / "receipt-0.json").read_text()
)
OTHER_REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def multi(**change: Any) -> dict[str, Any]:
    """A version 3 receipt: the evidenced one, also anchored on chain 31338."""
    doc = copy.deepcopy(EVIDENCED)
    other = {**doc["anchor"], "chainId": 31338, "registry": OTHER_REGISTRY}
    doc.update(version=3, additionalAnchors=[other])
    doc.update(change)
    return doc


def test_version_3_lists_every_anchor_and_projects_each_with_its_own_evidence() -> None:
    receipt = parse(json.dumps(multi()).encode())
    assert [a.chain_id for a in receipt.anchors()] == [EVIDENCED["anchor"]["chainId"], 31338]
    first, second = receipt.for_anchor(0), receipt.for_anchor(1)
    assert (first.version, second.version) == (2, 1)
    assert first.evidence == receipt.evidence
    assert second.evidence is None
    assert second.anchor.chain_id == 31338
    assert second.additional_anchors is None
    assert second.computed_digest() == receipt.digest
    assert second.view() is receipt.view()
    assert json.loads(receipt.to_json()) == multi()
    jsonschema.validate(multi(), receipt_schema(3))


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (multi(additionalAnchors=None), "r.json: document: a version 3 receipt"),
        (
            {**EVIDENCED, "additionalAnchors": multi()["additionalAnchors"]},
            "r.json: document: a version 2 receipt has one anchor (version 3 lists more)",
        ),
        (
            multi(additionalAnchors=[EVIDENCED["anchor"]]),
            "r.json: document: two anchors on chain 31337: at most one anchor per chain",
        ),
        (multi(additionalAnchors=[]), "r.json: additionalAnchors: List should have at least 1 item"),
        (
            multi(evidence=[{**EVIDENCED["evidence"][0], "chainId": 5}]),
            "r.json: document: evidence of registry",
        ),
    ],
    ids=["v3 without anchors", "v2 with anchors", "same chain twice", "empty list", "evidence of no anchor"],
)
def test_bad_version_3_receipts(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidReceipt) as caught:
        parse(json.dumps(doc).encode())
    assert str(caught.value).startswith(message)
