"""Our fast RFC 8785 canonicalisation equals the reference implementation (the `rfc8785` package)."""

import json
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from anchoring.jcs import canonicalize

SAFE = 2**53 - 1
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-SAFE, SAFE)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8"))
    | st.sampled_from(["\u2028", "\x7f", "\x00\x1f", "\U0001f600", "\ue000", "é", '"\\/'])
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.text(st.characters(codec="utf-8"), max_size=6) | st.sampled_from(["\U0001f600", "\ue000", "a"]),
            children,
            max_size=5,
        )
    ),
    max_leaves=40,
)


@settings(max_examples=1500, deadline=None)
@given(values)
def test_equals_the_reference(value: Any) -> None:
    assert canonicalize(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "number",
    [0.0, -0.0, 1.0, 2.5, 1e21, 1e20, 1e-7, 1e-6, 123456789012345680.0, 5e-324, 1.7976931348623157e308, 0.1 + 0.2],
)
def test_numbers_as_ecmascript_writes_them(number: float) -> None:
    assert canonicalize([number]) == rfc8785.dumps([number])


def test_rfc8785_appendix_example_key_order() -> None:
    # RFC 8785 section 3.2.3: keys sorted by UTF-16 code units.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\x80": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    keys = list(json.loads(canonicalize(value)))
    assert keys == ["\r", "1", "\x80", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_errors_match_the_reference() -> None:
    for bad in ({"a": 2**60}, {"a": float("nan")}, {"a": "\ud800"}):
        with pytest.raises(rfc8785.CanonicalizationError):
            canonicalize(bad)


def test_a_real_credential() -> None:
    doc = json.loads((Path(__file__).parent.parent / "assets" / "receipts" / "valid.json").read_text())["credential"]
    assert canonicalize(doc) == rfc8785.dumps(doc)


def test_orjson_tier_takes_a_credential_and_leaves_the_input_as_it_was() -> None:
    from anchoring.jcs import _fit

    doc = json.loads((Path(__file__).parent.parent / "assets" / "receipts" / "valid.json").read_text())["credential"]
    doc["credentialSubject"]["achievement"]["creditsAvailable"] = 3.0
    before = json.dumps(doc)
    fitted = _fit(doc)  # no _Slow: the credential is written by orjson
    assert fitted["credentialSubject"]["creditsEarned"] == 2.5
    assert fitted["credentialSubject"]["achievement"]["creditsAvailable"] == 3
    assert type(fitted["credentialSubject"]["achievement"]["creditsAvailable"]) is int
    assert json.dumps(doc) == before  # copied on the way to the changed value, never changed in place
    assert fitted["issuer"] is doc["issuer"]  # untouched branches are shared, not copied
    assert canonicalize(doc) == rfc8785.dumps(doc)


@pytest.mark.parametrize(
    "value",
    [{"é": 1}, {"a": [2**53]}, [1e16 + 0.5], {"a": {"b": 1e-7}}, {1: "non-string key"}, (1, 2), [float("inf")]],
)
def test_orjson_tier_hands_on_what_it_could_get_wrong(value: Any) -> None:
    from anchoring.jcs import _fit, _Slow

    with pytest.raises(_Slow):
        _fit(value)
