"""Fuzzing the receipt parser and the verification path (hypothesis): whatever the bytes, the answer is a
verdict or the project's own clean error; never a traceback, never a hang."""

import copy
import json
import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anchoring.jcs import canonicalize
from tests.unit.test_checks import NOW, RECEIPTS, REGISTRY, ROOT, TRUST, FakeReader, anchored_view
from verifier.checks import Report, Verdict
from verifier.service import Session

EXAMPLES = int(os.environ.get("CREDANCHOR_FUZZ_EXAMPLES", "1000"))
VALID_BYTES = (RECEIPTS / "valid.json").read_bytes()
VALID: dict[str, Any] = json.loads(VALID_BYTES)
FUZZ = settings(max_examples=EXAMPLES, deadline=2000, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=30,
)


def verify(data: bytes) -> Report:
    reader = FakeReader({(REGISTRY, ROOT): anchored_view()})
    return Session(lambda: reader, TRUST, NOW).verify_bytes(data, "fuzz.json")


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    report = verify(data)
    assert report.verdict == Verdict.MALFORMED
    assert "\n" not in report.reason


@FUZZ
@given(json_values)
def test_random_json_documents(value: Any) -> None:
    try:
        data = json.dumps(value).encode()
    except ValueError:
        return
    assert verify(data).verdict == Verdict.MALFORMED


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += paths(item, (*prefix, i))
    return found


ALL_PATHS = [p for p in paths(VALID) if p]


def meaning(doc: Any) -> bytes:
    """What a verifier must care about: the receipt minus the credential's (unhashed) `proof` member."""
    doc = copy.deepcopy(doc)
    if isinstance(doc, dict) and isinstance(doc.get("credential"), dict):
        doc["credential"].pop("proof", None)
    try:
        return canonicalize(doc)
    except ValueError:
        return b"not canonical"


@FUZZ
@given(st.sampled_from(ALL_PATHS), st.sampled_from(["replace", "delete", "add"]), json_values, st.text(max_size=12))
def test_mutated_valid_receipts(path: tuple[Any, ...], how: str, value: Any, key: str) -> None:
    doc = copy.deepcopy(VALID)
    parent: Any = doc
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if how == "replace":
        parent[last] = value
    elif how == "delete":
        del parent[last]
    elif isinstance(parent[last], dict):
        parent[last][key] = value
    elif isinstance(parent[last], list):
        parent[last].append(value)
    else:
        parent[last] = [parent[last], value]
    try:
        data = json.dumps(doc).encode()
    except ValueError:
        return
    report = verify(data)
    assert isinstance(report, Report)
    if report.verdict == Verdict.VALID:
        assert meaning(doc) == meaning(VALID), f"{how} at {path} still verifies"


def test_the_fuzzed_receipt_is_itself_valid() -> None:
    assert verify(VALID_BYTES).verdict == Verdict.VALID
    assert Path(RECEIPTS / "valid.json").is_file()
