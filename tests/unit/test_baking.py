"""Baked badges: round trips seen by independent readers (Pillow, ElementTree), idempotent re-baking, and
every hostile PNG and SVG refused with its exact message."""

import io
import json
import re
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, PngImagePlugin

from anchoring import baking
from anchoring.baking import MAX_IMAGE_BYTES, OB3_NS, RECEIPT_NS, bake, extract
from anchoring.credential import credential_digest
from anchoring.errors import InvalidInput, InvalidReceipt
from anchoring.hashing import to_hex
from anchoring.pngchunks import SIGNATURE, chunk_bytes, itxt
from issuer.badgeimage import default_png, default_svg

RECEIPT = (Path(__file__).parent.parent / "assets" / "receipts" / "valid.json").read_bytes()
CREDENTIAL: dict[str, Any] = json.loads(RECEIPT)["credential"]
PNG = default_png("Data Literacy", "Test University")
SVG = default_svg("Data Literacy", "Test University")
SVG_OPEN = '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8">'


def receipt_with(credential: dict[str, Any]) -> bytes:
    """A receipt whose digest matches `credential` (enough to bake; the Merkle proof is not baking's concern)."""
    document = json.loads(RECEIPT)
    document["credential"] = credential
    document["digest"] = to_hex(credential_digest(credential))
    return json.dumps(document, indent=2, ensure_ascii=False).encode()


def png_of(*chunks: bytes) -> bytes:
    """A PNG: the default badge's own chunks with `chunks` put before IEND."""
    return PNG[:-12] + b"".join(chunks) + PNG[-12:]


def svg(body: str, head: str = "") -> bytes:
    return f"{head}{SVG_OPEN}{body}</svg>".encode()


# Round trips, and what other tools see.


def test_png_round_trip_is_read_by_pillow_as_ob3_baking() -> None:
    baked = bake(PNG, RECEIPT)
    found = extract(baked, "b.png")
    assert json.loads(found.credential or "") == CREDENTIAL
    assert found.receipt == RECEIPT.decode()
    # An independent reader (Pillow) finds one openbadgecredential text: the bare credential, proof and all.
    with Image.open(io.BytesIO(baked)) as image:
        assert isinstance(image, PngImagePlugin.PngImageFile)
        assert json.loads(image.text["openbadgecredential"]) == CREDENTIAL
        assert json.loads(image.text["credanchorreceipt"]) == json.loads(RECEIPT)
        assert image.convert("RGBA").tobytes() == Image.open(io.BytesIO(PNG)).convert("RGBA").tobytes()
    # Uncompressed iTXt chunks just before IEND.
    tail = baked[-12 - len(itxt("credanchorreceipt", RECEIPT.decode())) :]
    assert tail.startswith(itxt("credanchorreceipt", RECEIPT.decode()))
    assert baked.count(b"iTXtopenbadgecredential\x00\x00\x00\x00\x00{") == 1


def test_svg_round_trip_is_read_by_elementtree_as_ob3_baking() -> None:
    baked = bake(SVG, RECEIPT)
    root = ET.fromstring(baked)  # noqa: S314  (our own output, read the way a plain OB 3.0 tool would)
    first = root[0]
    assert first.tag == f"{{{OB3_NS}}}credential"
    assert json.loads(first.text or "") == CREDENTIAL
    assert root[1].tag == f"{{{RECEIPT_NS}}}receipt"
    assert json.loads(root[1].text or "") == json.loads(RECEIPT)
    assert b'xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"' in baked
    assert b"<openbadges:credential><![CDATA[{" in baked
    assert extract(baked, "b.svg").receipt == RECEIPT.decode().strip()


@pytest.mark.parametrize("picture", [PNG, SVG], ids=["png", "svg"])
def test_baking_again_changes_nothing_and_another_receipt_replaces_the_first(picture: bytes) -> None:
    once = bake(picture, RECEIPT)
    assert bake(once, RECEIPT) == once
    other = {**CREDENTIAL, "name": "Another"}
    again = bake(once, receipt_with(other))
    assert again == bake(picture, receipt_with(other))
    found = extract(again, "again")
    assert json.loads(found.credential or "") == other


def test_cdata_end_and_xml_forbidden_characters_in_the_json_survive_an_svg() -> None:
    tricky = {**CREDENTIAL, "name": "a]]>b \uffff c]]]]>"}
    baked = bake(SVG, receipt_with(tricky))
    assert baked.count(b"]]>") == 2  # each CDATA section's own end, nothing else
    root = ET.fromstring(baked)  # noqa: S314
    assert json.loads(root[0].text or "")["name"] == "a]]>b \uffff c]]]]>"
    assert json.loads(extract(baked, "t.svg").credential or "") == tricky


def test_an_empty_svg_element_and_a_prefixed_root_are_baked() -> None:
    empty = b'<svg:svg xmlns:svg="http://www.w3.org/2000/svg" width="8"/>'
    baked = bake(empty, RECEIPT)
    assert baked.endswith(b"</svg:svg>")
    assert json.loads(extract(baked, "e.svg").credential or "") == CREDENTIAL
    assert bake(baked, RECEIPT) == baked


def test_a_receipt_that_does_not_verify_is_not_baked() -> None:
    document = json.loads(RECEIPT)
    document["credential"]["name"] = "Changed"
    digest = to_hex(credential_digest(document["credential"]))
    with pytest.raises(InvalidReceipt) as raised:
        bake(PNG, json.dumps(document).encode(), source="r.json")
    assert str(raised.value) == (
        f"r.json: credential hashes to {digest[:6]}…{digest[-4:]}, receipt says "
        f"{document['digest'][:6]}…{document['digest'][-4:]}; a receipt that does not verify is not baked"
    )


def test_a_picture_too_large_in_pixels_or_bytes_is_not_baked() -> None:
    header = (100_000).to_bytes(4, "big") * 2 + bytes([8, 6, 0, 0, 0])
    huge = SIGNATURE + chunk_bytes(b"IHDR", header) + chunk_bytes(b"IEND", b"")
    with pytest.raises(InvalidInput, match=r"^image: PNG is 100000 x 100000 pixels; at most 8192 a side"):
        bake(huge, RECEIPT)
    with pytest.raises(InvalidInput, match=rf"^image: {MAX_IMAGE_BYTES + 1:,} bytes is over the limit of"):
        bake(PNG + b"\0" * (MAX_IMAGE_BYTES + 1 - len(PNG)), RECEIPT)


# Hostile PNGs: each refused with its reason.


def _crc_broken(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


HOSTILE_PNGS = {
    "no signature": (b"GIF89a" + PNG[6:], "x.png: not a PNG or SVG image"),
    "truncated in a chunk": (PNG[:100], "x.png: PNG is truncated: chunk IDAT at byte 33 declares"),
    "truncated at a chunk boundary": (PNG[:33], "x.png: PNG is truncated: it ends at byte 33 without an IEND chunk"),
    "bad CRC": (_crc_broken(PNG), f"x.png: PNG chunk IEND at byte {len(PNG) - 12:,} has a bad CRC"),
    "data after IEND": (PNG + b"junk", "x.png: PNG has 4 bytes after its IEND chunk"),
    "IHDR not first": (
        SIGNATURE + chunk_bytes(b"tEXt", b"a\0b") + PNG[8:],
        "x.png: PNG starts with chunk tEXt, not IHDR",
    ),
    "invalid chunk type": (
        PNG[:33] + b"\0\0\0\0" + b"ID1T" + PNG[41:],
        "x.png: PNG chunk at byte 33 has an invalid type b'ID1T'",
    ),
    "length over 2^31-1": (
        PNG[:33] + b"\xff\xff\xff\xff" + PNG[37:],
        "x.png: PNG chunk IDAT at byte 33 declares 4,294,967,295 bytes (at most 2^31-1)",
    ),
    "two credential chunks": (
        png_of(itxt("openbadgecredential", "{}"), itxt("openbadgecredential", "{}")),
        "x.png: PNG has 2 iTXt chunks 'openbadgecredential'; at most one is allowed",
    ),
    "two receipt chunks": (
        png_of(itxt("credanchorreceipt", "{}"), itxt("credanchorreceipt", "{}")),
        "x.png: PNG has 2 iTXt chunks 'credanchorreceipt'; at most one is allowed",
    ),
    "compressed credential (a bomb is never inflated)": (
        png_of(chunk_bytes(b"iTXt", b"openbadgecredential\0\x01\x00\0\0" + zlib.compress(b"{" + b" " * 10**7 + b"}"))),
        "is compressed; Open Badges baking forbids compression (it is not decompressed)",
    ),
    "credential in a tEXt chunk": (
        png_of(chunk_bytes(b"tEXt", b"openbadgecredential\0{}")),
        "x.png: PNG has a tEXt chunk 'openbadgecredential' at byte",
    ),
    "iTXt cut short": (png_of(chunk_bytes(b"iTXt", b"openbadgecredential\0")), "is truncated"),
    "iTXt without its terminators": (
        png_of(chunk_bytes(b"iTXt", b"openbadgecredential\0\0\0en")),
        "is malformed: its language tag or translated keyword is not terminated",
    ),
    "iTXt with another method": (png_of(chunk_bytes(b"iTXt", b"openbadgecredential\0\0\x05\0\0{}")), "method 5"),
    "iTXt text not UTF-8": (
        png_of(chunk_bytes(b"iTXt", b"openbadgecredential\0\0\0\0\0{\xff}")),
        "text is not UTF-8 (byte 0xff at offset 1)",
    ),
    "no credential": (PNG, "x.png: PNG carries no Open Badges credential (no iTXt chunk 'openbadgecredential')"),
    "an OB 2.0 badge": (
        png_of(itxt("openbadges", "{}")),
        "x.png: PNG carries an Open Badges 2.0 assertion, not an Open Badges 3.0 credential",
    ),
    "too many chunks": (
        PNG[:33] + chunk_bytes(b"tIME", b"") * 70_000 + PNG[33:],
        "x.png: PNG has over 65,536 chunks",
    ),
    "too large": (PNG + b"\0" * MAX_IMAGE_BYTES, f"x.png: {len(PNG) + MAX_IMAGE_BYTES:,} bytes is over the limit"),
}


@pytest.mark.parametrize(("data", "message"), HOSTILE_PNGS.values(), ids=HOSTILE_PNGS.keys())
def test_hostile_pngs_are_refused_with_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(InvalidReceipt) as raised:
        extract(data, "x.png")
    assert message in str(raised.value)
    assert str(raised.value).startswith("x.png: ")


# Hostile SVGs: each refused with its reason, nothing fetched or expanded.

LAUGHS = '<!DOCTYPE svg [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
HOSTILE_SVGS = {
    "billion laughs": (
        f'<?xml version="1.0"?>{LAUGHS}{SVG_OPEN}<text>&b;</text></svg>'.encode(),
        "x.svg: SVG has a document type declaration (DTD); refused, with any entities",
    ),
    "external entity": (
        b'<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + svg("<text>&x;</text>")[0:],
        "x.svg: SVG has a document type declaration (DTD); refused, with any entities",
    ),
    "script": (svg("<script>alert(1)</script>"), "x.svg: SVG holds a <script> element; refused (a badge must not"),
    "foreignObject": (svg("<foreignObject><p/></foreignObject>"), "x.svg: SVG holds a <foreignObject> element"),
    "event handler": (svg('<rect onclick="x()"/>'), "x.svg: SVG <rect> has an event handler 'onclick'; refused"),
    "javascript URL": (
        svg('<a xmlns:xl="http://www.w3.org/1999/xlink" xl:href=" javascript:x()"><rect/></a>'),
        "x.svg: SVG <a> attribute 'href' holds a javascript: URL; refused",
    ),
    "outside image": (
        svg('<image href="https://tracker.example/p.png"/>'),
        "x.svg: SVG <image> refers to 'https://tracker.example/p.png'; only #fragments and embedded PNG",
    ),
    "animated reference": (
        svg('<image href="#a"><set attributeName="xlink:href" to="https://x/p.png"/></image>'),
        "x.svg: SVG <set> animates a reference (href); refused (nothing is fetched)",
    ),
    "style sheet import": (svg("<style>@import 'https://x/y.css';</style>"), "<style> element imports a style sheet"),
    "outside url() in a style": (
        svg('<rect style="fill: url(https://x/p.png)"/>'),
        "x.svg: SVG <rect> attribute 'style' refers to an outside url(); refused",
    ),
    "style text after a child element": (
        svg("<style>a{}<x/>@import url(http://evil/a.css)</style>"),
        "x.svg: SVG <style> holds elements; refused (a style sheet is text)",
    ),
    "CSS escape hiding url(": (
        svg('<rect style="fill:\\75 rl(http://evil/p)"/>'),
        "x.svg: SVG <rect> attribute 'style' uses CSS escapes; refused (they can hide a fetch)",
    ),
    "CSS escape hiding @import": (
        svg('<style>@\\69mport "http://evil/a.css"</style>'),
        "x.svg: SVG <style> element uses CSS escapes; refused (they can hide a fetch)",
    ),
    "image-set in a style": (
        svg("<rect style=\"background:image-set('http://evil/p' 1x)\"/>"),
        "x.svg: SVG <rect> attribute 'style' loads an image or font by name; refused (nothing is fetched)",
    ),
    "href in a foreign namespace": (
        svg('<image xmlns:e="urn:e" e:href="http://evil/p"/>'),
        "x.svg: SVG <image> refers to 'http://evil/p'; only #fragments and embedded PNG",
    ),
    "deep nesting (quadratic time)": (
        svg("<g>" * 20_000 + "</g>" * 20_000),
        "x.svg: SVG nests elements more than 256 deep; refused",
    ),
    "too many elements": (svg("<g/>" * 100_001), "x.svg: SVG has more than 100,000 elements; refused"),
    "processing instruction": (
        svg("", '<?xml-stylesheet href="https://x/y.css"?>'),
        "x.svg: SVG holds a processing instruction <?xml-stylesheet?>; refused",
    ),
    "not UTF-8": (
        svg("", '<?xml version="1.0" encoding="ISO-8859-1"?>'),
        "x.svg: SVG declares encoding 'ISO-8859-1'; only UTF-8 is accepted",
    ),
    "not well-formed": (b"<svg><g></svg>", "x.svg: not well-formed XML: mismatched tag: line 1, column 10"),
    "not an svg": (b"<html/>", "x.svg: root element is <html>, not an SVG <svg> element"),
    "two credentials": (
        svg(
            f'<c:credential xmlns:c="{OB3_NS}">{{}}</c:credential><c:credential xmlns:c="{OB3_NS}">{{}}</c:credential>'
        ),
        "x.svg: SVG has 2 <openbadges:credential> elements; at most one is allowed",
    ),
    "credential not a child of svg": (
        svg(f'<g><c:credential xmlns:c="{OB3_NS}">{{}}</c:credential></g>'),
        "x.svg: SVG <openbadges:credential> is not a child of the svg element",
    ),
    "credential holding elements": (
        svg(f'<c:credential xmlns:c="{OB3_NS}"><g/></c:credential>'),
        "x.svg: SVG <openbadges:credential> holds elements; it must hold only the JSON, in CDATA",
    ),
    "empty credential": (
        svg(f'<c:credential xmlns:c="{OB3_NS}"> </c:credential>'),
        "x.svg: SVG <openbadges:credential> is empty",
    ),
    "no credential": (SVG, "x.svg: SVG carries no Open Badges credential (no <openbadges:credential> element)"),
    "an OB 2.0 badge": (
        svg('<o:assertion xmlns:o="http://openbadges.org" verify="https://x/a.json"/>'),
        "x.svg: SVG carries an Open Badges 2.0 assertion, not an Open Badges 3.0 credential",
    ),
}


@pytest.mark.parametrize(("data", "message"), HOSTILE_SVGS.values(), ids=HOSTILE_SVGS.keys())
def test_hostile_svgs_are_refused_with_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(InvalidReceipt) as raised:
        extract(data, "x.svg")
    assert message in str(raised.value)
    assert str(raised.value).startswith("x.svg: ")


@pytest.mark.parametrize("name", ["script", "event handler", "outside image", "processing instruction"])
def test_a_hostile_picture_is_refused_for_baking_too(name: str) -> None:
    data, message = HOSTILE_SVGS[name]
    with pytest.raises(InvalidInput) as raised:
        bake(data, RECEIPT, image_source="x.svg")
    assert message in str(raised.value)
    assert not isinstance(raised.value, InvalidReceipt)


def test_a_vc_jwt_in_the_verify_attribute_is_returned_as_it_is() -> None:
    found = extract(svg(f'<c:credential xmlns:c="{OB3_NS}" verify="h.p.s"/>'), "j.svg")
    assert (found.credential, found.receipt) == ("h.p.s", None)


def test_a_prefix_bound_elsewhere_is_refused_not_rebound() -> None:
    data = b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="urn:other"/>'
    with pytest.raises(
        InvalidInput, match=re.escape("image: the svg element binds prefix 'openbadges' to 'urn:other'")
    ):
        bake(data, RECEIPT)


def test_image_kind_by_bytes() -> None:
    assert baking.image_kind(PNG) == "png"
    assert baking.image_kind(b"\xef\xbb\xbf  <svg/>") == "svg"
    assert baking.image_kind(b'{"type": 1}') is None
