"""base58btc, multibase and Multikey: round trips, the published keys, and exact errors for bad input; the C
functions (`anchoring._base58`) against the pure ones for every input."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anchoring import multibase
from anchoring.errors import InvalidInput
from anchoring.multibase import (
    ALPHABET,
    b58decode,
    b58encode,
    decode_multikey,
    decode_secret_multikey,
    encode_multikey,
    multibase_decode,
    multibase_encode,
    pure_b58decode,
    pure_b58encode,
)
from tests.unit.ob3_docs import OB3, VECTORS, load

W3C_PUBLIC = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
W3C_PUBLIC_HEX = "b00d8d938e7f773d51565aad36a623f5344f7f5d1960f9cf3e8e12620ea2810f"


@given(st.binary(max_size=80))
def test_base58_round_trip(data: bytes) -> None:
    assert b58decode(b58encode(data)) == data
    assert multibase_decode(multibase_encode(data)) == data


def test_the_c_part_is_built() -> None:
    """`make setup` builds `anchoring._base58` (setup.py): without it every signature would take the slow path."""
    assert multibase.native_built()


@given(st.binary(max_size=multibase.C_MAX_BYTES + 40))
def test_c_and_pure_base58_agree_on_every_input(data: bytes) -> None:
    text = pure_b58encode(data)
    assert b58encode(data) == text
    assert b58decode(text) == pure_b58decode(text) == data


@pytest.mark.parametrize("zeros", [0, 1, 2, 64, 1024, 1025])
@pytest.mark.parametrize("tail", [b"", b"\x01", b"\xff" * 64, b"\xff" * 1000])
def test_c_and_pure_base58_agree_on_zeros_and_the_size_limits(zeros: int, tail: bytes) -> None:
    data = b"\0" * zeros + tail
    text = pure_b58encode(data)
    assert b58encode(data) == text
    assert b58decode(text) == data
    assert b58decode("1" * zeros + text.lstrip("1")) == data


@given(st.text(alphabet=ALPHABET, max_size=1500))
def test_c_and_pure_base58_decode_agree_on_any_base58_text(text: str) -> None:
    assert b58decode(text) == pure_b58decode(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3mJr0", "^'0' is not a base58btc character$"),
        ("abcOdef", "^'O' is not a base58btc character$"),
        ("zz l", "^' ' is not a base58btc character$"),
        ("11Il", "^'I' is not a base58btc character$"),
        ("3mJ\u00e9", "^'\u00e9' is not a base58btc character$"),
        ("3mJ\x00", r"^'\\x00' is not a base58btc character$"),
        ("\x7f", r"^'\\x7f' is not a base58btc character$"),
    ],
)
def test_base58_decode_names_the_first_bad_character(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        b58decode(text)
    with pytest.raises(ValueError, match=message):
        pure_b58decode(text)


def test_base58_decode_takes_text_only() -> None:
    with pytest.raises(TypeError, match="^base58 decode takes str, not bytes$"):
        b58decode(b"3mJr")  # type: ignore[arg-type]


def test_base58_known_values_and_leading_zeros() -> None:
    assert b58encode(b"") == ""
    assert b58encode(b"\0\0\x01") == "112"
    assert b58encode(b"hello world") == "StV1DL6CwTryKyV"
    assert b58decode("112") == b"\0\0\x01"


def test_the_w3c_key_pair() -> None:
    pair = load(VECTORS / "keyPair.json")
    assert pair["publicKeyMultibase"] == W3C_PUBLIC
    assert decode_multikey(W3C_PUBLIC).hex() == W3C_PUBLIC_HEX
    assert encode_multikey(bytes.fromhex(W3C_PUBLIC_HEX)) == W3C_PUBLIC
    seed = decode_secret_multikey(pair["privateKeyMultibase"])
    assert len(seed) == 32


def test_the_1edtech_example_key_is_its_verification_method_fragment() -> None:
    key = bytes.fromhex(load(OB3 / "ob3-example-key.json")["publicKeyHex"])
    method = load(OB3 / "ob3-example-signed.json")["proof"]["verificationMethod"]
    assert method.endswith("#" + encode_multikey(key))


BAD_KEYS = [
    ("Q6MkrJVnaZ", "Multikey 'Q6MkrJVnaZ': must be multibase base58btc, starting with 'z', not 'Q'"),
    ("", "Multikey '': must be multibase base58btc, starting with 'z', not ''"),
    (W3C_PUBLIC[:-1] + "0", "Multikey 'z6MkrJVnaZke…bTQ0': '0' is not a base58btc character"),
    (W3C_PUBLIC[:-1] + "l", "Multikey 'z6MkrJVnaZke…bTQl': 'l' is not a base58btc character"),
    (
        multibase_encode(b"\xed\x01" + bytes(31)),
        "Multikey 'z2DQUyFHStG4…7Yzj' holds 31 key bytes; an Ed25519 public key has 32",
    ),
    (
        multibase_encode(b"\xed\x01" + bytes(33)),
        "Multikey 'zQebeJuQS9ti…uRJ7' holds 33 key bytes; an Ed25519 public key has 32",
    ),
    (
        multibase_encode(b"\xe7\x01" + bytes(33)),
        "Multikey 'zQ3sgkxA1r9U…DUrj' is not an Ed25519 public key: its multicodec header is 0xe701, expected 0xed01",
    ),
    (
        "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq",
        "Multikey 'z3u2en7t5LR2…vjxq' is not an Ed25519 public key: its multicodec header is 0x8026, expected 0xed01",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD_KEYS)
def test_malformed_multikeys_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        decode_multikey(text)
    assert str(caught.value) == message


def test_a_public_key_is_not_a_secret_key() -> None:
    with pytest.raises(InvalidInput) as caught:
        decode_secret_multikey(W3C_PUBLIC)
    assert str(caught.value) == (
        "Multikey 'z6MkrJVnaZke…bTQ2' is not an Ed25519 secret key: its multicodec header is 0xed01, expected 0x8026"
    )


def test_encoding_needs_32_bytes() -> None:
    with pytest.raises(InvalidInput) as caught:
        encode_multikey(bytes(31))
    assert str(caught.value) == "an Ed25519 public key has 32 bytes, not 31"


def test_overlong_multibase_is_refused_before_decoding() -> None:
    """Decoding is quadratic in the length: a hostile 200,000-character value must not cost seconds."""
    from anchoring.multibase import MAX_MULTIBASE, multibase_decode

    with pytest.raises(ValueError, match=r"is 200,001 characters long; at most 128 are decoded"):
        multibase_decode("z" + "2" * 200_000)
    assert MAX_MULTIBASE == 128
