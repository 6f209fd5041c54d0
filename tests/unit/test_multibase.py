"""base58btc, multibase and Multikey: round trips, the published keys, and exact errors for bad input."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anchoring.errors import InvalidInput
from anchoring.multibase import (
    b58decode,
    b58encode,
    decode_multikey,
    decode_secret_multikey,
    encode_multikey,
    multibase_decode,
    multibase_encode,
)
from tests.unit.ob3_docs import OB3, VECTORS, load

W3C_PUBLIC = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
W3C_PUBLIC_HEX = "b00d8d938e7f773d51565aad36a623f5344f7f5d1960f9cf3e8e12620ea2810f"


@given(st.binary(max_size=80))
def test_base58_round_trip(data: bytes) -> None:
    assert b58decode(b58encode(data)) == data
    assert multibase_decode(multibase_encode(data)) == data


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
