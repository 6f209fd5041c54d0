"""PNG datastreams as lists of chunks, read strictly and written with correct CRCs (PNG spec, 2nd ed., ch. 5).

Invariants: pure (bytes in, bytes or chunks out). A datastream is accepted only whole: the signature, IHDR
first, every chunk complete with a matching CRC, IEND last and nothing after it. Image data is never
decompressed here, and neither is a compressed text chunk: our chunks are uncompressed `iTXt`, so nothing in
this module can be made to inflate a decompression bomb. Every refusal is the caller's error class with a
message naming the file and the byte offset.
"""

import zlib
from dataclasses import dataclass

from anchoring.errors import InvalidInput

SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_CHUNK_LENGTH = 2**31 - 1
MAX_CHUNKS = 65_536
"""More chunks than any real image has (even one cut into 256-byte IDAT chunks, within the size cap): a file
of empty chunks is refused instead of walked."""
MAX_KEYWORD = 79


@dataclass(frozen=True)
class Chunk:
    type: bytes
    data: bytes
    offset: int
    """Where the chunk starts in the file (its length field), for messages."""

    @property
    def name(self) -> str:
        return self.type.decode("latin-1")


@dataclass(frozen=True)
class TextChunk:
    """An uncompressed `iTXt` chunk's keyword and text."""

    keyword: str
    text: str
    offset: int


def read_chunks(data: bytes, source: str, error: type[InvalidInput]) -> list[Chunk]:
    """Every chunk of a complete, well-formed PNG datastream, in order."""
    if not data.startswith(SIGNATURE):
        raise error(f"{source}: not a PNG file (no PNG signature)")
    chunks: list[Chunk] = []
    pos = len(SIGNATURE)
    while True:
        if len(chunks) >= MAX_CHUNKS:
            raise error(f"{source}: PNG has over {MAX_CHUNKS:,} chunks")
        if pos + 12 > len(data):
            raise error(f"{source}: PNG is truncated: it ends at byte {len(data):,} without an IEND chunk")
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        if not (kind.isascii() and kind.isalpha()):
            raise error(f"{source}: PNG chunk at byte {pos:,} has an invalid type {kind!r}")
        name = kind.decode("ascii")
        if length > MAX_CHUNK_LENGTH:
            raise error(f"{source}: PNG chunk {name} at byte {pos:,} declares {length:,} bytes (at most 2^31-1)")
        end = pos + 12 + length
        if end > len(data):
            raise error(
                f"{source}: PNG is truncated: chunk {name} at byte {pos:,} declares {length:,} bytes, "
                f"{max(len(data) - pos - 12, 0):,} follow"
            )
        body = data[pos + 8 : end - 4]
        if zlib.crc32(kind + body) != int.from_bytes(data[end - 4 : end], "big"):
            raise error(f"{source}: PNG chunk {name} at byte {pos:,} has a bad CRC")
        if not chunks and kind != b"IHDR":
            raise error(f"{source}: PNG starts with chunk {name}, not IHDR")
        if chunks and kind == b"IHDR":
            raise error(f"{source}: PNG has a second IHDR chunk at byte {pos:,}")
        chunks.append(Chunk(kind, body, pos))
        pos = end
        if kind == b"IEND":
            break
    if pos != len(data):
        raise error(f"{source}: PNG has {len(data) - pos:,} bytes after its IEND chunk")
    return chunks


def dimensions(chunks: list[Chunk], source: str, error: type[InvalidInput]) -> tuple[int, int]:
    """Width and height from IHDR (which `read_chunks` guarantees is first)."""
    header = chunks[0].data
    if len(header) != 13:
        raise error(f"{source}: PNG IHDR chunk has {len(header)} bytes, not 13")
    return int.from_bytes(header[0:4], "big"), int.from_bytes(header[4:8], "big")


def keyword_of(chunk: Chunk) -> bytes | None:
    """The keyword of a tEXt, zTXt or iTXt chunk (bytes before the first NUL); None for other chunks."""
    if chunk.type not in (b"tEXt", b"zTXt", b"iTXt"):
        return None
    return chunk.data.split(b"\0", 1)[0]


def read_itxt(chunk: Chunk, source: str, error: type[InvalidInput]) -> TextChunk:
    """An `iTXt` chunk we own: uncompressed, UTF-8 text. A compressed one is refused, never inflated."""
    keyword, sep, rest = chunk.data.partition(b"\0")
    name = keyword.decode("latin-1")
    where = f"{source}: iTXt chunk {name!r} at byte {chunk.offset:,}"
    if not sep or len(rest) < 2:
        raise error(f"{where} is truncated")
    if rest[0] != 0:
        raise error(f"{where} is compressed; Open Badges baking forbids compression (it is not decompressed)")
    if rest[1] != 0:
        raise error(f"{where} names compression method {rest[1]}; it must be 0")
    _language, sep1, rest = rest[2:].partition(b"\0")
    _translated, sep2, text = rest.partition(b"\0")
    if not sep1 or not sep2:
        raise error(f"{where} is malformed: its language tag or translated keyword is not terminated")
    try:
        return TextChunk(name, text.decode("utf-8"), chunk.offset)
    except UnicodeDecodeError as exc:
        raise error(f"{where}: text is not UTF-8 (byte 0x{text[exc.start]:02x} at offset {exc.start})") from None


def chunk_bytes(kind: bytes, data: bytes) -> bytes:
    """One chunk as it goes in a file: length, type, data, CRC over type and data."""
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def itxt(keyword: str, text: str) -> bytes:
    """An uncompressed `iTXt` chunk (compression flag and method 0, no language tag, no translated keyword)."""
    return chunk_bytes(b"iTXt", keyword.encode("latin-1") + b"\0\0\0\0\0" + text.encode("utf-8"))


def write_png(chunks: list[bytes]) -> bytes:
    return SIGNATURE + b"".join(chunks)


def raw(chunk: Chunk) -> bytes:
    return chunk_bytes(chunk.type, chunk.data)
