"""SVG documents from strangers: parsed with defusedxml, refused when they could run code or fetch anything.

Invariants: pure (bytes in, a tree or byte offsets out). A document type declaration is refused outright, so
no entity can be declared, expanded (billion laughs) or fetched (external entities); so is any encoding but
UTF-8. A badge may not hold what a viewer would run or load: script and foreignObject elements, event-handler
attributes, `javascript:` values, processing instructions (`<?xml-stylesheet?>`), and references to anything
outside the file (only `#fragments` and embedded raster images). Such a file is refused with the reason,
never silently cleaned: the issuer must see what their image holds.
"""

import re
import xml.etree.ElementTree as ET  # types and ParseError only; parsing is defusedxml's
import xml.parsers.expat  # only on documents defusedxml accepted (no DTD, no entities)
from dataclasses import dataclass, field

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import fromstring

from anchoring.errors import InvalidInput

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
_ENCODING = re.compile(rb"""^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?\bencoding\s*=\s*["']([^"']*)["']""")
_SAFE_REFERENCE = re.compile(r"#|data:image/(?:png|jpeg|gif|webp)[;,]", re.IGNORECASE)
_CSS_URL = re.compile(r"url\(\s*['\"]?\s*(?!#|data:image/(?:png|jpeg|gif|webp)[;,])", re.IGNORECASE)
# CSS functions that load something by a string rather than url() (images, fonts, imports).
_CSS_LOADS = re.compile(r"(?:image-set|-webkit-image-set|image|src|cross-fade|element)\s*\(", re.IGNORECASE)
MAX_DEPTH = 256
MAX_ELEMENTS = 100_000
_START_TAG = re.compile(rb"""<(?:[^"'>]|"[^"]*"|'[^']*')*>""")
_ATTRIBUTE = re.compile(r"""([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def local(tag: str) -> tuple[str, str]:
    """(namespace, local name) of an ElementTree tag or attribute name."""
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return "", tag


def parse_svg(data: bytes, source: str, error: type[InvalidInput]) -> ET.Element:
    """The document's root `svg` element, once the document passed every rule of this module."""
    declared = _ENCODING.match(data)
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        encoding = declared.group(1).decode("ascii", "replace")
        raise error(f"{source}: SVG declares encoding {encoding!r}; only UTF-8 is accepted")
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DTDForbidden:
        raise error(f"{source}: SVG has a document type declaration (DTD); refused, with any entities") from None
    except EntitiesForbidden:
        raise error(f"{source}: SVG declares entities; refused") from None
    except ExternalReferenceForbidden:
        raise error(f"{source}: SVG refers to an external resource; refused") from None
    except ET.ParseError as exc:
        raise error(f"{source}: not well-formed XML: {exc}") from None
    except (DefusedXmlException, ValueError, LookupError) as exc:
        raise error(f"{source}: not a usable XML document: {exc}") from None
    _check_size(root, source, error)
    namespace, name = local(root.tag)
    if (namespace, name) != (SVG_NS, "svg"):
        shown = f"{{{namespace}}}{name}" if namespace else name
        raise error(f"{source}: root element is <{shown}>, not an SVG <svg> element")
    check_safe(root, source, error)
    return root


def _check_size(root: ET.Element, source: str, error: type[InvalidInput]) -> None:
    """No badge needs more than `MAX_DEPTH` levels or `MAX_ELEMENTS` elements; deeper is an attack on time."""
    count = 0
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        count += 1
        if depth > MAX_DEPTH:
            raise error(f"{source}: SVG nests elements more than {MAX_DEPTH} deep; refused")
        if count > MAX_ELEMENTS:
            raise error(f"{source}: SVG has more than {MAX_ELEMENTS:,} elements; refused")
        stack.extend((child, depth + 1) for child in element)


def check_safe(root: ET.Element, source: str, error: type[InvalidInput]) -> None:
    """Refuse what a viewer of the image would run or fetch."""
    for element in root.iter():
        _, name = local(element.tag)
        if name in ("script", "foreignObject"):
            raise error(f"{source}: SVG holds a <{name}> element; refused (a badge must not run code)")
        if name in ("set", "animate") and element.get("attributeName", "").split(":")[-1] == "href":
            raise error(f"{source}: SVG <{name}> animates a reference (href); refused (nothing is fetched)")
        if name == "style":
            if len(element):
                raise error(f"{source}: SVG <style> holds elements; refused (a style sheet is text)")
            _check_css("".join(element.itertext()), "<style> element", source, error)
        for attribute, value in element.attrib.items():
            namespace, attr = local(attribute)
            if attr.lower().startswith("on"):
                raise error(f"{source}: SVG <{name}> has an event handler {attr!r}; refused")
            if "javascript:" in re.sub(r"\s", "", value).lower():
                raise error(f"{source}: SVG <{name}> attribute {attr!r} holds a javascript: URL; refused")
            if attr in ("href", "src") and not _SAFE_REFERENCE.match(value.strip()):
                raise error(
                    f"{source}: SVG <{name}> refers to {value[:80]!r}; only #fragments and embedded PNG, JPEG, "
                    "GIF or WebP images are allowed (nothing is fetched)"
                )
            if attr == "style" or (namespace == "" and "url(" in value.lower()):
                _check_css(value, f"<{name}> attribute {attr!r}", source, error)


def _check_css(text: str, where: str, source: str, error: type[InvalidInput]) -> None:
    # CSS resolves escapes (\75 rl, @\69mport) before it reads a word: text with any is refused unread.
    if "\\" in text:
        raise error(f"{source}: SVG {where} uses CSS escapes; refused (they can hide a fetch)")
    if _CSS_LOADS.search(text):
        raise error(f"{source}: SVG {where} loads an image or font by name; refused (nothing is fetched)")
    if "@import" in text.lower():
        raise error(f"{source}: SVG {where} imports a style sheet; refused (nothing is fetched)")
    if _CSS_URL.search(text):
        raise error(f"{source}: SVG {where} refers to an outside url(); refused (nothing is fetched)")


@dataclass
class Layout:
    """Where things are in the document's bytes, for inserting and removing elements without re-serialising."""

    root_start: int = -1
    root_tag_end: int = -1
    """Just past the root start tag's `>`."""
    root_empty: bool = False
    """The root is written `<svg .../>`."""
    root_qname: str = ""
    root_attributes: dict[str, str] = field(default_factory=dict)
    spans: list[tuple[int, int]] = field(default_factory=list)
    """Byte ranges of the elements asked for (outermost only), in document order."""


def layout(data: bytes, wanted: set[str], source: str, error: type[InvalidInput]) -> Layout:
    """Byte offsets of the root start tag and of every element named in `wanted` ("namespace local").

    Run only on a document `parse_svg` accepted. Processing instructions are refused here (ElementTree drops
    them, but they stay in the bytes a viewer reads).
    """
    found = Layout()
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    open_spans: list[tuple[str, int, bool] | None] = []
    inside = [0]  # how many of `open_spans` are wanted elements (a count, not a scan: deep nesting stays linear)

    def start(name: str, _attributes: dict[str, str]) -> None:
        at = parser.CurrentByteIndex
        tag_end, empty = _start_tag_end(data, at)
        if found.root_start < 0:
            found.root_start, found.root_tag_end, found.root_empty = at, tag_end, empty
            tag = data[at:tag_end].decode("utf-8")
            found.root_qname = re.split(r"[\s/>]", tag[1:], maxsplit=1)[0]
            found.root_attributes = {m[1]: m[2] if m[2] is not None else m[3] for m in _ATTRIBUTE.finditer(tag)}
        take = name in wanted and not inside[0]
        open_spans.append((name, at, empty) if take else None)
        inside[0] += take

    def end(_name: str) -> None:
        entry = open_spans.pop()
        if entry is None:
            return
        inside[0] -= 1
        _, at, empty = entry
        index = parser.CurrentByteIndex
        finish = _start_tag_end(data, at)[0] if empty else data.index(b">", index) + 1
        found.spans.append((at, finish))

    def instruction(target: str, _data: str) -> None:
        raise error(f"{source}: SVG holds a processing instruction <?{target}?>; refused")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.ProcessingInstructionHandler = instruction
    try:
        parser.Parse(data, True)
    except (xml.parsers.expat.ExpatError, ValueError) as exc:  # parse_svg accepted it: not expected
        raise error(f"{source}: not well-formed XML: {exc}") from None
    return found


def _start_tag_end(data: bytes, at: int) -> tuple[int, bool]:
    """Just past the `>` of the start tag at `at` (a `>` inside a quoted value skipped), and whether it is `/>`."""
    match = _START_TAG.match(data, at)
    if match is None:  # expat reported a start tag here, so one is there
        raise ValueError(f"no start tag at byte {at}")
    return match.end(), data[match.end() - 2] == 0x2F
