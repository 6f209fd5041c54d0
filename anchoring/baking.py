"""Baked badges (Open Badges 3.0 §5.3): the credential, and the credanchor receipt beside it, inside a PNG or SVG.

What goes in, per the OB 3.0 baking rules, so any Open Badges 3.0 tool finds the credential:
- PNG: one uncompressed `iTXt` chunk, keyword `openbadgecredential`, whose text is the credential's JSON
  (with its Data Integrity proof); and one of our own, keyword `credanchorreceipt`, holding the whole receipt
  (credential, Merkle proof, anchor). Both go just before IEND; existing ones are replaced, never duplicated.
- SVG: `<openbadges:credential>` (namespace `https://purl.imsglobal.org/ob/v3p0`, declared on the root) as the
  root's first child, the JSON in CDATA; then `<credanchor:receipt>` (namespace `RECEIPT_NS`) the same way.
  CDATA cannot hold `]]>`: where the JSON has it (only ever inside a string) the `>` is written `\\u003e`, a
  JSON escape of the same character, so the text parses to the same credential; XML-forbidden characters
  (U+FFFE, U+FFFF) are escaped the same way.

Invariants: pure (bytes in, bytes out; no file, clock or network). Baking takes only the receipt, validated
and with a credential that hashes to its digest, and bakes exactly that receipt's credential beside it, so the
two can never disagree in a file we write; the result is extracted again and compared before it is returned.
Extraction is strict: anything malformed, ambiguous (two credential chunks) or hostile (see `pngchunks`,
`svgsafe`) is an `InvalidReceipt` with the reason, never another exception.
"""

import json
from dataclasses import dataclass

from anchoring import pngchunks, svgsafe
from anchoring.carriers import MAX_IMAGE_BYTES as MAX_IMAGE_BYTES  # the cap, and sniffing, are shared
from anchoring.carriers import image_kind as image_kind
from anchoring.errors import InvalidInput, InvalidReceipt
from anchoring.hashing import short
from anchoring.receipt import MAX_RECEIPT_BYTES, Receipt

CREDENTIAL_KEYWORD = "openbadgecredential"
RECEIPT_KEYWORD = "credanchorreceipt"
OB2_KEYWORD = "openbadges"
OB3_NS = "https://purl.imsglobal.org/ob/v3p0"
OB2_NS = "http://openbadges.org"
RECEIPT_NS = "https://credanchor.dev/ns/baked-receipt/v1"
MAX_SIDE = 8192
MAX_PIXELS = 4096 * 4096
"""A picture to bake may be at most this large (decoded, a 4096 x 4096 RGBA image is 64 MiB)."""
_CREDENTIAL_TAG = f"{{{OB3_NS}}}credential"
_RECEIPT_TAG = f"{{{RECEIPT_NS}}}receipt"
_OUR_KEYWORDS = {CREDENTIAL_KEYWORD.encode(), RECEIPT_KEYWORD.encode()}


@dataclass(frozen=True)
class Baked:
    """What a baked image carries: the OB 3.0 credential's text and our receipt's text, each if present."""

    kind: str
    credential: str | None
    receipt: str | None
    credential_place: str
    """Where the credential sits, for messages: `iTXt chunk 'openbadgecredential'`, `<openbadges:credential>`."""


# Baking.


def bake(image: bytes, receipt: bytes, *, source: str = "receipt", image_source: str = "image") -> bytes:
    """`image` (PNG or SVG) with the receipt's credential and the receipt itself baked in."""
    checked = _checked_receipt(receipt, source)
    credential = _credential_text(checked, source)
    text = receipt.decode("utf-8")
    kind = image_kind(image)
    if len(image) > MAX_IMAGE_BYTES:
        raise InvalidInput(f"{image_source}: {len(image):,} bytes is over the limit of {MAX_IMAGE_BYTES:,} bytes")
    if kind == "png":
        baked = _bake_png(image, credential, text, image_source)
    elif kind == "svg":
        baked = _bake_svg(image, credential, text, image_source)
    else:
        raise InvalidInput(f"{image_source}: not a PNG or SVG image")
    if len(baked) > MAX_IMAGE_BYTES:
        raise InvalidInput(f"{image_source}: baked, it would be {len(baked):,} bytes, over {MAX_IMAGE_BYTES:,}")
    # Read back what was written, as a verifier will: the same receipt, and its credential beside it.
    found = extract(baked, "baked image")
    if found.receipt is None or json.loads(found.receipt) != json.loads(text) or found.credential is None:
        raise InvalidInput(f"{image_source}: the baked image does not read back as the receipt baked")
    if json.loads(found.credential) != checked.credential:
        raise InvalidInput(f"{image_source}: the baked image's credential does not read back as the receipt's")
    return baked


def _checked_receipt(receipt: bytes, source: str) -> Receipt:
    """A receipt worth baking: it parses, and its credential hashes to its digest."""
    if len(receipt) > MAX_RECEIPT_BYTES:
        raise InvalidReceipt(f"{source}: {len(receipt):,} bytes is over the limit of {MAX_RECEIPT_BYTES:,} bytes")
    checked = Receipt.from_json(receipt, source=source)
    if checked.computed_digest() != checked.digest:
        raise InvalidReceipt(
            f"{source}: credential hashes to {short(checked.computed_digest())}, receipt says "
            f"{short(checked.digest)}; a receipt that does not verify is not baked"
        )
    return checked


def _credential_text(receipt: Receipt, source: str) -> str:
    try:
        text = json.dumps(receipt.credential, ensure_ascii=False, separators=(",", ":"))
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidReceipt(f"{source}: credential holds text that is not Unicode (a lone surrogate)") from None
    return text


def _bake_png(image: bytes, credential: str, receipt: str, source: str) -> bytes:
    chunks = pngchunks.read_chunks(image, source, InvalidInput)
    width, height = pngchunks.dimensions(chunks, source, InvalidInput)
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE) or width * height > MAX_PIXELS:
        raise InvalidInput(
            f"{source}: PNG is {width} x {height} pixels; at most {MAX_SIDE} a side and {MAX_PIXELS:,} pixels"
        )
    kept = [pngchunks.raw(c) for c in chunks[:-1] if pngchunks.keyword_of(c) not in _OUR_KEYWORDS]
    ours = [pngchunks.itxt(CREDENTIAL_KEYWORD, credential), pngchunks.itxt(RECEIPT_KEYWORD, receipt)]
    return pngchunks.write_png([*kept, *ours, pngchunks.raw(chunks[-1])])


def cdata(text: str) -> str:
    """JSON text that a CDATA section can hold, parsing to the same value (see the module docstring)."""
    return text.replace("]]>", "]]\\u003e").replace("\ufffe", "\\ufffe").replace("\uffff", "\\uffff")


def _bake_svg(image: bytes, credential: str, receipt: str, source: str) -> bytes:
    svgsafe.parse_svg(image, source, InvalidInput)
    wanted = {f"{OB3_NS} credential", f"{RECEIPT_NS} receipt"}
    found = svgsafe.layout(image, wanted, source, InvalidInput)
    # 1. Drop the elements we replace, with the white space before each (so baking twice changes nothing).
    out = bytearray(image)
    for start, end in reversed(found.spans):
        while start > found.root_tag_end and out[start - 1 : start].isspace():
            start -= 1
        del out[start:end]
    # 2. Declare the two prefixes on the root, unless it declares them already.
    declarations = b""
    for prefix, namespace in (("openbadges", OB3_NS), ("credanchor", RECEIPT_NS)):
        bound = found.root_attributes.get(f"xmlns:{prefix}")
        if bound is None:
            declarations += f' xmlns:{prefix}="{namespace}"'.encode()
        elif bound != namespace:
            raise InvalidInput(f"{source}: the svg element binds prefix {prefix!r} to {bound!r}, not {namespace!r}")
    # 3. The two elements, first children of the root.
    elements = (
        f"\n<openbadges:credential><![CDATA[{cdata(credential)}]]></openbadges:credential>"
        f"\n<credanchor:receipt><![CDATA[{cdata(receipt)}]]></credanchor:receipt>"
    ).encode()
    end = found.root_tag_end
    if found.root_empty:
        head = bytes(out[: end - 2]).rstrip() + declarations + b">"
        return head + elements + f"\n</{found.root_qname}>".encode() + bytes(out[end:])
    head = bytes(out[: end - 1]) + declarations + b">"
    return head + elements + bytes(out[end:])


# Extraction.


def extract(data: bytes, source: str) -> Baked:
    """The credential and receipt texts a PNG or SVG carries; `InvalidReceipt` for anything else."""
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidReceipt(f"{source}: {len(data):,} bytes is over the limit of {MAX_IMAGE_BYTES:,} bytes")
    kind = image_kind(data)
    if kind == "png":
        return extract_png(data, source)
    if kind == "svg":
        return extract_svg(data, source)
    raise InvalidReceipt(f"{source}: not a PNG or SVG image")


def extract_png(data: bytes, source: str) -> Baked:
    chunks = pngchunks.read_chunks(data, source, InvalidReceipt)
    texts: dict[str, list[str]] = {CREDENTIAL_KEYWORD: [], RECEIPT_KEYWORD: []}
    ob2 = False
    for chunk in chunks:
        keyword = pngchunks.keyword_of(chunk)
        if keyword == OB2_KEYWORD.encode():
            ob2 = True
        if keyword is None or keyword not in _OUR_KEYWORDS:
            continue
        if chunk.type != b"iTXt":
            raise InvalidReceipt(
                f"{source}: PNG has a {chunk.name} chunk {keyword.decode()!r} at byte {chunk.offset:,}; "
                "Open Badges baking uses iTXt only"
            )
        text = pngchunks.read_itxt(chunk, source, InvalidReceipt)
        texts[text.keyword].append(text.text)
    for name, found in texts.items():
        if len(found) > 1:
            raise InvalidReceipt(f"{source}: PNG has {len(found)} iTXt chunks {name!r}; at most one is allowed")
    credential, receipt = (next(iter(texts[k]), None) for k in (CREDENTIAL_KEYWORD, RECEIPT_KEYWORD))
    if credential is None and receipt is None:
        raise InvalidReceipt(_nothing_baked(source, "PNG", ob2, f"no iTXt chunk {CREDENTIAL_KEYWORD!r}"))
    return Baked("png", credential, receipt, f"iTXt chunk {CREDENTIAL_KEYWORD!r}")


def extract_svg(data: bytes, source: str) -> Baked:
    root = svgsafe.parse_svg(data, source, InvalidReceipt)
    svgsafe.layout(data, set(), source, InvalidReceipt)  # refuses processing instructions
    children = list(root)
    texts: dict[str, str | None] = {}
    for tag, shown in ((_CREDENTIAL_TAG, "<openbadges:credential>"), (_RECEIPT_TAG, "<credanchor:receipt>")):
        found = list(root.iter(tag))
        if len(found) > 1:
            raise InvalidReceipt(f"{source}: SVG has {len(found)} {shown} elements; at most one is allowed")
        if not found:
            texts[tag] = None
            continue
        element = found[0]
        if not any(child is element for child in children):
            raise InvalidReceipt(f"{source}: SVG {shown} is not a child of the svg element")
        if tag == _CREDENTIAL_TAG and "verify" in element.attrib:
            texts[tag] = element.attrib["verify"]
            continue
        if len(element):
            raise InvalidReceipt(f"{source}: SVG {shown} holds elements; it must hold only the JSON, in CDATA")
        text = (element.text or "").strip()
        if not text:
            raise InvalidReceipt(f"{source}: SVG {shown} is empty")
        texts[tag] = text
    if texts[_CREDENTIAL_TAG] is None and texts[_RECEIPT_TAG] is None:
        ob2 = next(root.iter(f"{{{OB2_NS}}}assertion"), None) is not None
        raise InvalidReceipt(_nothing_baked(source, "SVG", ob2, "no <openbadges:credential> element"))
    return Baked("svg", texts[_CREDENTIAL_TAG], texts[_RECEIPT_TAG], "<openbadges:credential>")


def _nothing_baked(source: str, kind: str, ob2: bool, missing: str) -> str:
    if ob2:
        return f"{source}: {kind} carries an Open Badges 2.0 assertion, not an Open Badges 3.0 credential"
    return f"{source}: {kind} carries no Open Badges credential ({missing})"
