"""What a file handed to a verifier carries: told apart by its first bytes, never its name.

A receipt JSON carries itself; a baked PNG or SVG carries a receipt and, beside it, the bare OB 3.0
credential other tools read (`anchoring.baking`); a certificate PDF carries the receipt as an attachment
(`anchoring.pdfcarrier`). `CARRIERS` maps each kind to its size cap and extractor; the image and PDF
readers are loaded only for a file of their kind (a receipt JSON needs neither).

Invariants: pure (bytes in, `Carried` out). The size cap of the kind is checked before anything is parsed.
Every refusal is an `InvalidReceipt` naming the source. Whether a baked credential matches its receipt is
answered here (`mismatch`), and deciding what that means is the verifier's business.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from anchoring.errors import InvalidReceipt
from anchoring.jsonio import parse_json
from anchoring.pngchunks import SIGNATURE as PNG_SIGNATURE
from anchoring.receipt import MAX_RECEIPT_BYTES, Receipt

SNIFF_BYTES = 1024
PDF_MAGIC = b"%PDF-"
MAX_IMAGE_BYTES = 16 * 1024 * 1024
"""The largest baked image read or written: a badge picture plus two copies of a credential (at most 2 MiB
each, the receipt limit) fits many times over."""
MAX_PDF_BYTES = 20 * 1024 * 1024


def image_kind(data: bytes) -> str | None:
    """ "png" or "svg" by the bytes (never the name), else None."""
    if data.startswith(PNG_SIGNATURE):
        return "png"
    if data.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"<":
        return "svg"
    return None


@dataclass(frozen=True)
class Carried:
    kind: str
    receipt: bytes | None
    """The receipt's JSON, if the file has one."""
    credential: str | None = None
    """The bare OB 3.0 credential baked beside the receipt (images only)."""
    credential_place: str = ""


@dataclass(frozen=True)
class Carrier:
    label: str
    max_bytes: int
    extract: Callable[[bytes, str], Carried]


def _receipt_json(data: bytes, source: str) -> Carried:
    return Carried("json", data)


def _image(data: bytes, source: str) -> Carried:
    from anchoring import baking

    baked = baking.extract(data, source)
    for what, text in (("receipt", baked.receipt), ("OB 3.0 credential", baked.credential)):
        if text is not None and len(text.encode("utf-8")) > MAX_RECEIPT_BYTES:
            raise InvalidReceipt(
                f"{source}: the baked {what} is {len(text.encode('utf-8')):,} bytes, over the limit of "
                f"{MAX_RECEIPT_BYTES:,} bytes"
            )
    receipt = baked.receipt.encode("utf-8") if baked.receipt is not None else None
    return Carried(baked.kind, receipt, baked.credential, baked.credential_place)


def _pdf(data: bytes, source: str) -> Carried:
    from anchoring import pdfcarrier

    try:
        return Carried("pdf", pdfcarrier.extract_receipt(data))
    except InvalidReceipt as exc:
        raise InvalidReceipt(f"{source}: {exc}") from None


CARRIERS: dict[str, Carrier] = {
    "json": Carrier("receipt", MAX_RECEIPT_BYTES, _receipt_json),
    "png": Carrier("baked PNG badge", MAX_IMAGE_BYTES, _image),
    "svg": Carrier("baked SVG badge", MAX_IMAGE_BYTES, _image),
    "pdf": Carrier("certificate PDF", MAX_PDF_BYTES, _pdf),
}


def sniff(head: bytes) -> str:
    """The kind of a file by its first bytes (`SNIFF_BYTES` are enough). Anything unknown is read as a
    receipt JSON, whose parser then says precisely what is wrong with it."""
    if head.startswith(PDF_MAGIC):
        return "pdf"
    kind = image_kind(head)
    return kind if kind is not None else "json"


def max_bytes(head: bytes) -> int:
    """The size cap for a file that starts with `head`."""
    return CARRIERS[sniff(head)].max_bytes


def unwrap(data: bytes, source: str) -> Carried:
    """The receipt (and baked credential) a file carries; its kind's size cap checked first."""
    carrier = CARRIERS[sniff(data[:SNIFF_BYTES])]
    if len(data) > carrier.max_bytes:
        raise InvalidReceipt(f"{source}: {len(data):,} bytes is over the limit of {carrier.max_bytes:,} bytes")
    return carrier.extract(data, source)


def mismatch(carried: Carried, receipt_credential: dict[str, Any], source: str) -> str | None:
    """Why the credential baked beside the receipt is not the receipt's credential, or None if it is."""
    if carried.credential is None:
        return None
    text = carried.credential.strip()
    if not text.startswith("{"):
        return f"the image's {carried.credential_place} holds no JSON credential (a VC-JWT?), unlike its receipt"
    try:
        baked = parse_json(text.encode("utf-8"), f"{source} ({carried.credential_place})", InvalidReceipt)
    except InvalidReceipt as exc:
        return str(exc)
    path = first_difference(baked, receipt_credential)
    if path is None:
        return None
    return (
        f"the credential in the image's {carried.credential_place} differs from its receipt's credential at "
        f"{path or 'the top level'}: one of them was changed"
    )


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """The path of the first place two JSON values differ (types count: 1, 1.0 and true differ), or None."""
    if type(a) is not type(b):
        return path
    if isinstance(a, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{path}.{key}".lstrip(".")
            found = first_difference(a[key], b[key], f"{path}.{key}".lstrip("."))
            if found is not None:
                return found
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found is not None:
                return found
        return None
    return None if a == b else path


def extracted(data: bytes, source: str) -> dict[str, bytes]:
    """What `credanchor extract` writes, by file-name suffix: the receipt (checked against the schema and
    against the credential baked beside it) and the bare credential (`.credential.jwt` for a VC-JWT)."""
    carried = unwrap(data, source)
    if carried.kind == "json":
        raise InvalidReceipt(f"{source}: is a receipt already, not a baked badge")
    files: dict[str, bytes] = {}
    if carried.receipt is not None:
        receipt = Receipt.from_json(carried.receipt, source=source)
        problem = mismatch(carried, receipt.credential, source)
        if problem is not None:
            raise InvalidReceipt(f"{source}: {problem}")
        files[".receipt.json"] = carried.receipt.strip() + b"\n"
    if carried.credential is not None:
        text = carried.credential.strip()
        suffix = ".credential.json" if text.startswith("{") else ".credential.jwt"
        files[suffix] = (text + "\n").encode("utf-8")
    return files
