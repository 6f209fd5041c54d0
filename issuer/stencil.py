"""The eddsa-jcs-2022 credentials of a batch written from stencils: no credential is built as objects, walked
or canonicalised; its own values are written into text made once per shape.

A shape is which of `issuer.credentials.FIELDS` a credential holds (the template and the record decide).
For each shape, the credential is assembled once with a mark (a string with a random token) in place of
each of its own values, and its two encodings are cut at the marks: the canonical one (RFC 8785), which is
hashed and signed, and the stored one (orjson, with the proof and a mark for its `proofValue`). A credential
is then each encoding's literal text with its values' JSON written in.

Invariant: `Stencils.one(fields)` is what the plain way gives for `assemble_credential(fields, …)`: the same
digest, signature and stored text, byte for byte (a property test compares them). This holds because JSON
and RFC 8785 encode a value the same wherever it stands, and RFC 8785 orders members by name only, so the
shape fixes where each value goes. A string that needs no escape is written as it is between quotes, exactly
as both encoders write it; any other value is written by the encoder itself. A credential a stencil cannot
write (a value no encoder takes) is made the plain way, which gives the plain way's error.
"""

import re
import secrets
from collections.abc import Sequence
from functools import lru_cache
from operator import itemgetter
from typing import Any

import orjson

from anchoring.credential import canonical_bytes
from anchoring.dataintegrity import JCS, ProofFailed, Signer
from anchoring.hashing import keccak256
from anchoring.jcs import canonicalize
from issuer.config import IssuerConfig
from issuer.credentials import assemble_credential
from issuer.templates import Template

_PLAIN = re.compile(r'[^"\\\x00-\x1f\ud800-\udfff]*')
"""A string both encoders write as it is between quotes: no quote, backslash, control character or lone
surrogate (everything else, non-ASCII included, is written as its UTF-8)."""


class _Cut:
    """One encoding of a shape: its literal text, and which value goes into each hole between."""

    def __init__(self, whole: str, marks: Sequence[str]) -> None:
        places = sorted((_only_place(whole, f'"{mark}"'), i, len(mark) + 2) for i, mark in enumerate(marks))
        literals, at = [], 0
        for place, _, length in places:
            literals.append(whole[at:place])
            at = place + length
        literals.append(whole[at:])
        self._pieces: list[str] = [piece for literal in literals for piece in (literal, "")][:-1]
        self._pick = itemgetter(*[i for _, i, _ in places])  # a credential has four values of its own at least

    def fill(self, values: Sequence[str]) -> str:
        """The text with `values[i]` (JSON text) in the holes of value `i`."""
        pieces = self._pieces.copy()
        pieces[1::2] = self._pick(values)
        return "".join(pieces)


def _only_place(whole: str, mark: str) -> int:
    place = whole.find(mark)
    if place < 0 or whole.find(mark, place + 1) >= 0:
        raise RuntimeError(f"a stencil's mark is in its text {whole.count(mark)} times, not once")
    return place


class Stencil:
    """Both encodings of the credentials of one shape (`names`: the fields they hold, in `FIELDS` order)."""

    def __init__(
        self, names: tuple[str, ...], template: Template, issuer: IssuerConfig, achievement: Any, signer: Signer
    ) -> None:
        token = secrets.token_hex(16)
        marks = [f"credanchor-stencil-{token}-{i}" for i in range(len(names) + 1)]  # the last: the proofValue
        credential = assemble_credential(dict(zip(names, marks, strict=False)), template, issuer, achievement)
        self.canonical = _Cut(canonicalize(credential).decode(), marks[:-1])
        self.context = {"@context": credential["@context"]}
        credential["proof"] = [{**signer.proof_options(credential), "proofValue": marks[-1]}]
        self.text = _Cut(orjson.dumps(credential).decode(), marks)


class Stencils:
    """Writes a batch's eddsa-jcs-2022 credentials, a stencil for each shape met."""

    def __init__(self, template: Template, issuer: IssuerConfig, achievement: Any, signer: Signer) -> None:
        if signer.cryptosuite != JCS:
            raise ValueError(f"stencils write {JCS} credentials, not {signer.cryptosuite}")
        self._made = (template, issuer, achievement)
        self._signer = signer
        self._stencils: dict[tuple[str, ...], Stencil] = {}

    def one(self, fields: dict[str, Any]) -> tuple[str, bytes, str]:
        """(id, digest, signed document text) of the credential holding `fields`."""
        names = tuple(fields)
        stencil = self._stencils.get(names)
        if stencil is None:
            stencil = self._stencils[names] = Stencil(names, *self._made, self._signer)
        values = tuple(fields.values())
        try:
            canonical_values, text_values = _encoded(values)
            canonical = stencil.canonical.fill(canonical_values).encode()
        except (ValueError, TypeError, orjson.JSONEncodeError):
            return self._plain(fields)
        proof_value = self._signer.proof_value(stencil.context, canonical)
        return fields["id"], keccak256(canonical), stencil.text.fill([*text_values, f'"{proof_value}"'])

    def _plain(self, fields: dict[str, Any]) -> tuple[str, bytes, str]:
        digest, credential = signed(assemble_credential(fields, *self._made), self._signer)
        return credential["id"], digest, orjson.dumps(credential).decode()


def signed(credential: dict[str, Any], signer: Signer) -> tuple[bytes, dict[str, Any]]:
    """The plain way: the credential's digest, and the credential with its proof added (canonicalised once
    for eddsa-jcs-2022)."""
    try:
        canonical = canonical_bytes(credential)
    except ValueError as exc:
        raise ProofFailed(f"the document cannot be canonicalised with RFC 8785: {exc}") from None
    proof = signer.sign_canonical(credential, canonical) if signer.cryptosuite == JCS else signer.sign(credential)
    credential["proof"] = [proof]
    return keccak256(canonical), credential


def _encoded(values: tuple[Any, ...]) -> tuple[list[str], list[str]]:
    """Each value as RFC 8785 writes it, and as orjson does."""
    strings = [v for v in values if type(v) is str]
    if _PLAIN.fullmatch("".join(strings)):  # the usual case: every string plain text
        canonical = [f'"{v}"' if type(v) is str else _forms(repr(v), v)[0] for v in values]
        if len(strings) == len(values):
            return canonical, canonical
        return canonical, [
            c if type(v) is str else _forms(repr(v), v)[1] for v, c in zip(values, canonical, strict=True)
        ]
    forms = [(f'"{v}"', f'"{v}"') if type(v) is str and _PLAIN.fullmatch(v) else _forms(repr(v), v) for v in values]
    return [c for c, _ in forms], [t for _, t in forms]


@lru_cache(maxsize=4096)
def _forms(written: str, value: Any) -> tuple[str, str]:
    """`value` as RFC 8785 writes it, and as orjson does; kept for the few numbers a batch's credentials hold.
    `written` is its `repr`, which keeps apart values that are equal keys but are written otherwise (2 and 2.0,
    0.0 and -0.0, 1 and True)."""
    return canonicalize(value).decode(), orjson.dumps(value).decode()
