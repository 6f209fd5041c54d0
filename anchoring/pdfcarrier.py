"""Reading the receipt a certificate PDF carries: the one attachment named `credential-receipt.json`.

Invariants: pure (PDF bytes in, receipt bytes out). Hostile input is bounded before and while it is read:
the file size, the attachments walked in the EmbeddedFiles name tree (count and depth), the attachment's
stored and decompressed size (inflated with a cap, never by pypdf's own unbounded filters), and only
FlateDecode or unfiltered streams. Every failure, including pypdf's own exceptions and recursion on nested
objects, is an `InvalidReceipt` with a short message; pypdf's log warnings are kept off the terminal.
"""

import io
import logging
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from anchoring.carriers import MAX_PDF_BYTES as MAX_PDF_BYTES  # shared with the sniffing of a file kind
from anchoring.carriers import PDF_MAGIC as PDF_MAGIC
from anchoring.errors import InvalidReceipt
from anchoring.receipt import MAX_RECEIPT_BYTES

RECEIPT_NAME = "credential-receipt.json"
RECEIPT_TYPE = "application/json"
MAX_ATTACHMENTS = 64
MAX_NAME_TREE_DEPTH = 8


@contextmanager
def _quiet() -> Iterator[None]:
    """pypdf reports repairs it makes through `logging`; they are not the earner's business."""
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


def extract_receipt(data: bytes) -> bytes:
    """The receipt bytes embedded in a credanchor certificate PDF; `InvalidReceipt` if there is not
    exactly one readable receipt attachment."""
    if len(data) > MAX_PDF_BYTES:
        raise InvalidReceipt(f"PDF of {len(data):,} bytes is over the limit of {MAX_PDF_BYTES:,} bytes")
    if not data.startswith(PDF_MAGIC):
        raise InvalidReceipt("not a PDF (it does not start with %PDF-)")
    with _quiet():
        try:
            found = _receipt_streams(data)
            if len(found) != 1:
                raise InvalidReceipt(
                    f"PDF carries {len(found)} attachments named {RECEIPT_NAME}; a certificate carries exactly one"
                    if found
                    else f"PDF carries no {RECEIPT_NAME} attachment (not a credanchor certificate)"
                )
            return _content(found[0])
        except InvalidReceipt:
            raise
        except RecursionError:
            raise InvalidReceipt("PDF objects are nested too deeply to read") from None
        except Exception:  # pypdf raises many kinds on damaged files; each means the same here
            raise InvalidReceipt("PDF is damaged or truncated and cannot be read") from None


def _receipt_streams(data: bytes) -> list[Any]:
    from pypdf import PdfReader  # imported here: verifying JSON receipts never needs it

    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        raise InvalidReceipt("PDF is encrypted; a certificate's receipt must be readable without a password")
    root: Any = reader.trailer["/Root"].get_object()
    names = root.get("/Names")
    tree = names.get_object().get("/EmbeddedFiles") if names is not None else None
    found: list[Any] = []
    if tree is not None:
        for name, spec in _leaves(tree.get_object(), 0, [0]):
            spec = spec.get_object()
            file_name = spec.get("/UF", spec.get("/F", name))
            if name == RECEIPT_NAME or file_name == RECEIPT_NAME:
                found.append(spec)
    return found


def _leaves(node: Any, depth: int, seen: list[int]) -> Iterator[tuple[str, Any]]:
    """(name, file specification) pairs of a name tree, refusing trees too deep or too large."""
    if depth > MAX_NAME_TREE_DEPTH:
        raise InvalidReceipt(f"PDF attachment list is nested over {MAX_NAME_TREE_DEPTH} levels deep")
    pairs = node.get("/Names")
    if pairs is not None:
        pairs = pairs.get_object()
        for i in range(0, len(pairs) - 1, 2):
            seen[0] += 1
            if seen[0] > MAX_ATTACHMENTS:
                raise InvalidReceipt(f"PDF has over {MAX_ATTACHMENTS} attachments")
            yield str(pairs[i].get_object()), pairs[i + 1]
    for kid in node.get("/Kids", None) or []:
        yield from _leaves(kid.get_object(), depth + 1, seen)


def _content(spec: Any) -> bytes:
    """The attachment's bytes, inflated with a cap of MAX_RECEIPT_BYTES."""
    stream = spec["/EF"].get_object()["/F"].get_object()
    raw = stream._data  # the stored bytes: pypdf's `get_data` would inflate without a limit
    limit = f"the limit of {MAX_RECEIPT_BYTES:,} bytes for a receipt"
    if len(raw) > MAX_RECEIPT_BYTES:
        raise InvalidReceipt(f"{RECEIPT_NAME} attachment of {len(raw):,} stored bytes is over {limit}")
    filters = stream.get("/Filter")
    filters = [] if filters is None else filters if isinstance(filters, list) else [filters]
    if not filters:
        return bytes(raw)
    if [str(f) for f in filters] != ["/FlateDecode"] or stream.get("/DecodeParms") is not None:
        raise InvalidReceipt(f"{RECEIPT_NAME} attachment uses filters {[str(f) for f in filters]}; only FlateDecode")
    inflate = zlib.decompressobj()
    try:
        out = inflate.decompress(raw, MAX_RECEIPT_BYTES + 1)
    except zlib.error:
        raise InvalidReceipt(f"{RECEIPT_NAME} attachment is not valid FlateDecode data") from None
    if len(out) > MAX_RECEIPT_BYTES:
        raise InvalidReceipt(f"{RECEIPT_NAME} attachment inflates to over {limit}")
    return out
