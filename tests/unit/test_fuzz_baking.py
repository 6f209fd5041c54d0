"""Fuzzing extraction (hypothesis): random bytes, valid badges mutated byte by byte, and well-formed PNGs of
random chunks (correct CRCs, so the chunk parsers themselves are reached). The answer is the extracted texts
or the project's own `InvalidReceipt`; never another exception, never a hang. The verifier on top of it
always gives a verdict."""

from hypothesis import given
from hypothesis import strategies as st

from anchoring.baking import bake, extract
from anchoring.errors import InvalidReceipt
from anchoring.pngchunks import SIGNATURE, chunk_bytes
from issuer.badgeimage import default_svg
from tests.unit.test_baking import PNG, RECEIPT
from tests.unit.test_checks import NOW, TRUST
from tests.unit.test_fuzz import FUZZ
from verifier.checks import Verdict
from verifier.service import Session

BAKED_PNG = bake(PNG, RECEIPT)
BAKED_SVG = bake(default_svg("Fuzz", "Fuzzers"), RECEIPT)
KEYWORDS = [b"openbadgecredential", b"credanchorreceipt", b"openbadges", b"x"]


def extracts_or_refuses(data: bytes) -> None:
    message = None
    try:
        extract(data, "fuzz")
    except InvalidReceipt as exc:
        message = str(exc)
    assert message is None or (message.startswith("fuzz: ") and "\n" not in message)
    report = Session(None, TRUST, NOW).verify_bytes(data, "fuzz")
    assert report.verdict in set(Verdict)


@FUZZ
@given(st.sampled_from([SIGNATURE, b"<", b"<svg ", b"\xef\xbb\xbf<"]), st.binary(max_size=2048))
def test_random_bytes_after_a_magic(magic: bytes, tail: bytes) -> None:
    extracts_or_refuses(magic + tail)


def mutated(base: bytes) -> st.SearchStrategy[bytes]:
    edit = st.tuples(
        st.integers(0, len(base) - 1),
        st.sampled_from(["flip", "cut", "insert", "delete"]),
        st.binary(min_size=1, max_size=8),
    )

    def apply(edits: list[tuple[int, str, bytes]]) -> bytes:
        data = bytearray(base)
        for at, how, blob in edits:
            at = min(at, len(data) - 1)
            if how == "flip":
                data[at] ^= blob[0] or 1
            elif how == "cut":
                del data[at:]
            elif how == "insert":
                data[at:at] = blob
            else:
                del data[at : at + len(blob)]
            if not data:
                break
        return bytes(data)

    return st.lists(edit, min_size=1, max_size=4).map(apply)


@FUZZ
@given(mutated(BAKED_PNG))
def test_mutated_baked_pngs(data: bytes) -> None:
    extracts_or_refuses(data)


@FUZZ
@given(mutated(BAKED_SVG))
def test_mutated_baked_svgs(data: bytes) -> None:
    extracts_or_refuses(data)


text_chunk = st.tuples(
    st.sampled_from([b"iTXt", b"tEXt", b"zTXt"]),
    st.sampled_from(KEYWORDS),
    st.binary(max_size=6),
    st.binary(max_size=64) | st.just(RECEIPT[:200]),
).map(lambda t: (t[0], t[1] + t[2] + t[3]))
other_chunk = st.tuples(st.sampled_from([b"IDAT", b"IEND", b"IHDR", b"abcd"]), st.binary(max_size=32))


@FUZZ
@given(st.lists(text_chunk | other_chunk, max_size=8), st.booleans())
def test_well_formed_pngs_of_random_chunks(chunks: list[tuple[bytes, bytes]], end: bool) -> None:
    body = b"".join(chunk_bytes(kind, data) for kind, data in chunks)
    data = SIGNATURE + PNG[8:33] + body + (chunk_bytes(b"IEND", b"") if end else b"")
    extracts_or_refuses(data)
