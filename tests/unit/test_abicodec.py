"""The hand-written ABI codec (`anchoring.abicodec`) against eth-abi, the encoder and decoder web3 uses: the
same bytes for every argument list the registry reader sends, the same values (or a refusal) for every
answer it reads, and the same kind of refusal."""

import pytest
from eth_abi.abi import decode as eth_decode
from eth_abi.abi import encode as eth_encode
from eth_abi.exceptions import DecodingError
from eth_utils.abi import collapse_if_tuple, function_signature_to_4byte_selector
from hypothesis import given
from hypothesis import strategies as st

from anchoring.abicodec import AbiDecodeError, decode, decode_word, encode, encode_call, selector, signature_of
from anchoring.hashing import checksum_address, to_hex
from contracts import registry_abi

words = st.binary(min_size=32, max_size=32)
addresses = st.binary(min_size=20, max_size=20)


def plain(value: object) -> object:
    """eth-abi's values in the reader's shape: hashes as hex, addresses checksummed, structs as tuples."""
    if isinstance(value, bytes):
        return to_hex(value)
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return checksum_address(value)
    if isinstance(value, tuple | list):
        return tuple(plain(v) for v in value)
    return value


@given(words, words, st.lists(words, max_size=20))
def test_is_valid_arguments_encode_as_eth_abi_does(root: bytes, digest: bytes, proof: list[bytes]) -> None:
    types = ["bytes32", "bytes32", "bytes32[]"]
    assert encode(types, [root, digest, proof]) == eth_encode(types, [root, digest, proof])


@given(words, addresses, st.integers(0, 2**256 - 1), st.booleans(), st.text(max_size=80))
def test_static_and_string_arguments_encode_as_eth_abi_does(
    word: bytes, address: bytes, number: int, flag: bool, text: str
) -> None:
    types = ["bytes32", "address", "uint256", "bool", "string"]
    ours = encode(types, [word, to_hex(address), number, flag, text])
    assert ours == eth_encode(types, [word, checksum_address(to_hex(address)), number, flag, text])


def test_selectors_of_the_registry_match_its_abi() -> None:
    for item in registry_abi():
        if item["type"] == "function":
            signature = f"{item['name']}({','.join(collapse_if_tuple(i) for i in item['inputs'])})"
            assert selector(signature_of(item)) == function_signature_to_4byte_selector(signature)
    call = encode_call("hasRole(bytes32,address)", ["bytes32", "address"], [bytes(32), "0x" + "11" * 20])
    assert call[:4] == bytes.fromhex("91d14854")


STRUCT = "(uint48,uint48,uint48,uint48,uint64)"


@given(st.tuples(*[st.integers(0, 2**48 - 1)] * 4, st.integers(0, 2**64 - 1)))
def test_the_anchor_struct_decodes_as_eth_abi_does(values: tuple[int, ...]) -> None:
    data = eth_encode([STRUCT], [values])
    assert decode([STRUCT], data) == (values,) == eth_decode([STRUCT], data)


@given(st.text(max_size=300))
def test_strings_decode_as_eth_abi_does(text: str) -> None:
    data = eth_encode(["string"], [text])
    assert decode(["string"], data) == (text,) == eth_decode(["string"], data)


@given(st.binary(max_size=200), st.sampled_from(["bool", "uint48", "uint256", "address", "bytes32", "string", STRUCT]))
def test_any_answer_decodes_to_what_eth_abi_gives_or_is_refused_by_both(data: bytes, kind: str) -> None:
    expected: tuple[object, ...]
    got: tuple[object, ...]
    try:
        expected = ("value", plain(eth_decode([kind], data)))
    except (DecodingError, OverflowError, UnicodeDecodeError):
        expected = ("refused",)
    try:
        got = ("value", decode([kind], data))
    except AbiDecodeError:
        got = ("refused",)
    assert got == expected


@pytest.mark.parametrize(
    ("kind", "word", "refusal"),
    [
        ("bool", bytes(31) + b"\x02", "NonEmptyPaddingBytes"),
        ("uint48", b"\x01" + bytes(31), "NonEmptyPaddingBytes"),
        ("address", b"\x01" + bytes(31), "NonEmptyPaddingBytes"),
        ("bytes32", b"\x01" * 31, "InsufficientDataBytes"),
    ],
)
def test_bad_words_are_refused_with_eth_abis_name(kind: str, word: bytes, refusal: str) -> None:
    with pytest.raises(AbiDecodeError) as caught:
        decode_word(kind, word)
    assert caught.value.kind == refusal


def test_a_string_running_past_the_answer_is_refused() -> None:
    data = (32).to_bytes(32, "big") + (100).to_bytes(32, "big") + b"short"
    with pytest.raises(AbiDecodeError, match="string of 100 bytes runs past the data"):
        decode(["string"], data)


def test_unsupported_types_are_a_programming_error_not_a_bad_answer() -> None:
    with pytest.raises(ValueError, match="ABI type int8 is not supported here"):
        encode(["int8"], [1])
