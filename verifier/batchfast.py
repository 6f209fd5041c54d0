"""Receipts of one batch after one verified in full: each checked for what is its own.

A batch's receipts differ only in the credential's id, its subject (around the shared achievement) and its
proof value, the digest, and the Merkle leaf and path; everything else (the anchor, the evidence, the issuer,
the dates, the proof's options) is the same bytes in each. Once one receipt has been verified in full (`learn`,
from its report), `check(data, source)` gives another receipt's report when it surely is the verified one's,
checking only what is its own:

- the shared parts are byte for byte those of the verified receipt, and every member is where it was: a
  receipt laid out as the verified one (as the issuer writes them: `Layout`) is read as its literal bytes
  around its own values, and nothing shared is parsed (in an eddsa-jcs-2022 batch whose subjects differ
  only in their strings, nothing at all: `Fine`); any other is parsed whole and each shared value
  compared as orjson's bytes (so `1`, `1.0` and `true` differ; the evidence's own bytes);
- its own parts pass the checks the receipt model makes (hashes, the id, the subject's plain terms, depth);
- its canonical credential hashes to its digest, whose leaf is its leaf, whose path leads to the root;
- its proof value is the Ed25519 signature of the shared proof configuration and its canonical credential
  (RFC 8785 for eddsa-jcs-2022, RDFC-1.0 for eddsa-rdfc-2022) by the shared key;
- the evidence proves its leaf's revocation word (the walk a verifier makes for each leaf), and the verifier
  has already read that its leaf is not revoked on its own (`Session.known_revocation`).

Invariant: `check` gives a report only for a receipt whose full verification gives the same verdict and
steps (the digest and path steps its own); anything it is not sure of gives None, and the caller verifies
that receipt in full. The report carries no parsed `receipt` (nothing asks for it where this is used).
"""

import hashlib
import re
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from operator import itemgetter
from typing import Any, NamedTuple

import orjson

from anchoring import jcs
from anchoring.credential import MAX_URI
from anchoring.dataintegrity import (
    JCS,
    RDFC,
    SignatureCheck,
    canonical_document,
    canonical_proof_config,
    ed25519_verifies,
    rdfc_config,
    signs_whole,
)
from anchoring.evidence import leaf_walker
from anchoring.hashing import keccak256, short, to_hex
from anchoring.jsonio import MAX_STRING
from anchoring.merkle import SCHEME, leaf_hash, native_walk_written
from anchoring.multibase import decode_multikey, multibase_decode
from anchoring.receipt import MAX_PROOF_LENGTH, MAX_RECEIPT_BYTES
from verifier.checks import Report, Step, Verdict, walk_proof
from verifier.evidencecheck import evidence_for
from verifier.fastread import (
    Unsure,
    are_hashes,
    canonical_or_none,
    is_hash32,
    json_depth,
    parse_head,
    split_evidence,
)

Verify = Callable[[bytes, str], Report]
Revocation = Callable[[int, str, str, str], bool | None]
"""(chain id, registry, root, leaf) -> whether the leaf is revoked on its own; None: not known."""
OWN = frozenset(("id", "credentialSubject", "proof"))
"""The credential's members that are each receipt's own; every other one is the verified receipt's bytes."""
MERKLE_KEYS = frozenset(("scheme", "leaf", "proof", "root"))
SIGNATURE_LENGTH = 64
MAX_VARIANTS = 256
MAX_ROOTS = 64
_ROOT = re.compile(rb'"root"\s*:\s*"(0x[0-9a-f]{64})"')


@dataclass(frozen=True)
class Template:
    """What a batch's receipts share, taken from one verified in full, and that receipt's verdict."""

    report: Report
    """The full report of the receipt learnt from."""
    shared: dict[str, Any]
    """Its fields but those each receipt's report has of its own (source, steps, credential id, receipt)."""
    own_steps: "tuple[tuple[int, Callable[[Step, _Own, str], Step]], ...]"
    """Where its steps whose text is each receipt's own are, and how to write them."""
    chain_id: int
    registry: str
    keys: frozenset[str]
    version: int
    walkers: dict[bytes | None, Callable[[str], bool] | None]
    """By the exact bytes of an evidence seen to hold (a batch's receipts carry a few variants, with the
    trie's paths to their own leaves): whether it proves a leaf's word (None: version 1, no evidence)."""
    anchor: bytes
    root: str
    members: dict[str, bytes]
    achievement: bytes
    subject_depth: int
    options: bytes
    suite: str
    config_hash: bytes
    public_key: bytes
    marks: dict[str, str]
    """A placeholder string for each shared member of the credential, with a random token no receipt can know:
    the credential is canonicalised once with these in place of the shared members, whose canonical bytes are
    then put in their place (`frame`)."""
    frame: tuple[bytes, ...]
    """The canonical bytes of the credential without its proof around its own members: `frame[0]`, the
    canonical bytes of own member `frame_keys[0]`, `frame[1]`, ... (RFC 8785 is compositional: a value's
    canonical bytes do not depend on where it sits)."""
    frame_keys: tuple[str, ...]
    achievement_mark: str
    """The placeholder of the subject's achievement (shared too): each subject is canonicalised with it in
    place of the achievement, whose canonical bytes (`achievement_canonical`) are then put in its place."""
    achievement_canonical: bytes
    achievement_quoted: bytes
    """The placeholder's canonical bytes (as it appears in a canonical subject)."""
    credential: dict[str, Any]
    """The verified receipt's credential without its proof (its shared members, for each receipt's own)."""
    layout: "Layout | None"
    """Its bytes around its own values, when they are as the issuer writes receipts (None: parse each)."""
    fine: "Fine | None"
    """The same with each string of the subject an own value too, and the canonical credential assembled
    from them (eddsa-jcs-2022 receipts whose strings need no escape; None: read by `layout`)."""


class Shortcut:
    """`check(data, source)` for the receipts of one batch, once `learn` has a receipt verified in full."""

    def __init__(
        self,
        accepted: Collection[Verdict],
        revocation: Revocation,
        *,
        attempts: int = 8,
        signatures: SignatureCheck | None = None,
    ) -> None:
        """`accepted`: the verdicts a receipt to learn from may have; `revocation`: what the verifier has
        already read of a leaf's own revocation (`Verifier.known_revocation`); `signatures`: what checks a
        receipt's signature (default `ed25519_verifies`; the issuer's self-check gives `OwnSignatures`)."""
        self.accepted = frozenset(accepted)
        self.revocation = revocation
        self.signatures = signatures
        self.template: Template | None = None
        self._attempts = attempts

    def learn(self, data: bytes, report: Report) -> None:
        """Take the shared parts from `data`, whose full verification gave `report`, if the shortcut can
        stand on it (tried on a few receipts, then given up: a batch it cannot serve costs nothing more);
        once it can, one more variant of the evidence from each such receipt."""
        if report.verdict not in self.accepted:
            return
        try:
            if self.template is not None:
                _add_evidence(self.template, data, report)
            elif self._attempts > 0:
                self._attempts -= 1
                self.template = _template(data, report)
        except Exception:  # whatever goes wrong here, full verification still checks every receipt
            return

    def check(self, data: bytes, source: str) -> Report | None:
        """The report of the receipt in `data` when it is surely the learnt one's but for its own parts; None
        when not sure (then verify it in full)."""
        found = self._own(data)
        if found is None:
            return None
        template, own = found
        steps = list(template.report.steps)
        for at, write in template.own_steps:
            steps[at] = write(steps[at], own, template.root)
        # As `Report(**template.shared, source=..., ...)`, without a frozen dataclass's assignments one by one:
        # every value is the verified report's or checked here.
        report: Report = object.__new__(Report)
        own_fields = {"source": source, "steps": tuple(steps), "credential_id": own.ident, "receipt": None}
        report.__dict__.update(template.shared, **own_fields)
        return report

    def holds(self, data: bytes) -> bool:
        """Whether `check` gives `data` a report (what a self-check needs to know: the report itself is not made)."""
        return self._own(data) is not None

    def _own(self, data: bytes) -> "tuple[Template, _Own] | None":
        template = self.template
        if template is None:
            return None
        try:
            own = _holds(template, data, self.signatures)
        except Exception:  # not sure is the answer to anything unforeseen: verify it in full
            return None
        if own is None or self.revocation(template.chain_id, template.registry, template.root, own.leaf) is not False:
            return None
        return template, own


def shortcut_verify(verify: Verify, revocation: Revocation) -> Verify:
    """`verify`, with the receipts of a batch after its first valid one given their reports by a `Shortcut`
    (one per batch root, for the last few roots seen)."""
    shortcuts: dict[str, Shortcut] = {}
    last: Shortcut | None = None

    def checked(data: bytes, source: str) -> Report:
        nonlocal last
        # The shortcut that answered last, tried first: it gives a report only to a receipt of its own root (so
        # a run of one batch's receipts needs no reading of each one's root).
        report = last.check(data, source) if last is not None else None
        if report is not None:
            return report
        root = _root_of(data)
        shortcut = shortcuts.get(root) if root is not None else None
        report = shortcut.check(data, source) if shortcut is not None and shortcut is not last else None
        if report is not None:
            last = shortcut
            return report
        report = verify(data, source)
        if root is not None and report.verdict == Verdict.VALID:
            if shortcut is None:
                if len(shortcuts) >= MAX_ROOTS:
                    shortcuts.pop(next(iter(shortcuts)))
                shortcut = shortcuts[root] = Shortcut({Verdict.VALID}, revocation)
            shortcut.learn(data, report)
            last = shortcut
        return report

    return checked


def _root_of(data: bytes) -> str | None:
    """The batch root a receipt names, read from its text (only to pick its batch's shortcut)."""
    at = data.find(b'"root"')
    if at < 0:
        return None
    found = _ROOT.match(data, at)
    return found.group(1).decode() if found else None


class _Own(NamedTuple):
    """What a receipt checked by the shortcut has of its own, for its report."""

    ident: str
    digest: str
    leaf: str
    path_length: int


@lru_cache(maxsize=4096)
def _proof_step(path_length: int, root: str) -> Step:
    """The proof step of a receipt (the same few for a whole batch: the paths differ in length by one at most)."""
    return Step("proof", True, f"proof of {path_length} hashes leads to root {short(root)}")


_OWN_STEPS: dict[str, Callable[[Step, _Own, str], Step]] = {
    "digest": lambda step, own, root: Step("digest", True, f"credential hashes to {short(own.digest)}"),
    "proof": lambda step, own, root: _proof_step(own.path_length, root),
}
"""The steps whose text is the receipt's own (as `verifier.checks.offline_checks` writes them)."""


def _parts(data: bytes) -> tuple[dict[str, Any], bytes | None]:
    if len(data) > MAX_STRING or len(data) > MAX_RECEIPT_BYTES or data[:1] != b"{":
        raise Unsure
    split = split_evidence(data)
    if split is None:
        raise Unsure
    document = parse_head(split[0])
    if document is None:
        raise Unsure
    return document, split[1]


def _verified(report: Report) -> bool:
    """A receipt of version 1 or 2 with one anchor whose digest, path, signature, revocation (and evidence)
    all held."""
    receipt = report.receipt
    if receipt is None or receipt.version not in (1, 2) or report.anchors or report.signed is not True:
        return False
    wanted = ("digest", "proof", "signature", "revocation", *(("evidence",) if receipt.version == 2 else ()))
    steps = {step.name: step.ok for step in report.steps}
    return all(steps.get(name) is True for name in wanted)


def _walker(report: Report, public_key: bytes) -> Callable[[str], bool] | None:
    receipt = report.receipt
    if receipt is None or receipt.version == 1:
        return None
    evidence = evidence_for(receipt)
    if evidence is None:
        raise Unsure
    return leaf_walker(evidence, root=receipt.merkle.root, public_keys=(to_hex(public_key),))


def _add_evidence(template: Template, data: bytes, report: Report) -> None:
    """One more evidence variant, from a receipt verified in full whose other shared parts are the template's."""
    if template.version != 2 or len(template.walkers) >= MAX_VARIANTS or not _verified(report):
        return
    document, evidence_bytes = _parts(data)
    if evidence_bytes is None or evidence_bytes in template.walkers:
        return
    credential = document["credential"]
    if document.keys() != template.keys or orjson.dumps(document["anchor"]) != template.anchor:
        return
    if document["merkle"]["root"] != template.root or type(credential) is not dict:
        return
    if any(orjson.dumps(credential.get(key)) != shared for key, shared in template.members.items()):
        return
    if _shared_report(report) != _shared_report(template.report):  # say, evidence from another block
        return
    template.walkers[evidence_bytes] = _walker(report, template.public_key)


def _shared_report(report: Report) -> Report:
    """A report without what is each receipt's own: what every receipt the shortcut answers for is given."""
    steps = tuple(step for step in report.steps if step.name not in _OWN_STEPS)
    return replace(report, source="", credential_id=None, receipt=None, steps=steps)


def _template(data: bytes, report: Report) -> Template | None:
    receipt = report.receipt
    if receipt is None or not _verified(report):
        return None
    document, evidence_bytes = _parts(data)
    # Shared values are compared as orjson reads them; none may be one orjson reads otherwise than `json` (a
    # long integer, which orjson reads as a float: another receipt's `1e+20` would read as this one's).
    json_depth(document)
    credential = document["credential"]
    proofs = credential.get("proof")
    if type(proofs) is not list or len(proofs) != 1 or type(proofs[0]) is not dict:
        return None
    options = {key: value for key, value in proofs[0].items() if key != "proofValue"}
    suite = options.get("cryptosuite")
    if suite == JCS and signs_whole(credential, options):
        config = canonical_proof_config(options, JCS)
    elif suite == RDFC and options.get("previousProof") is None and "@context" not in options:
        config = canonical_proof_config(rdfc_config(options, credential), RDFC)  # its @context is shared
    else:
        return None
    method = options.get("verificationMethod")
    subject = credential.get("credentialSubject")
    if type(method) is not str or "#" not in method or type(subject) is not dict or "achievement" not in subject:
        return None
    public_key = decode_multikey(method.partition("#")[2])
    token = secrets.token_hex(16)
    shared = {key: value for key, value in credential.items() if key not in OWN}
    marks = {key: f"{token}-{number}" for number, key in enumerate(shared)}
    spliced = {str(number).encode(): jcs.canonicalize(value) for number, value in enumerate(shared.values())}
    mark_pattern = re.compile(b'"' + token.encode() + b'-([0-9]+)"')
    own_marks = {key: f"{token}-{key}" for key in OWN - {"proof"}}
    whole = _splice(jcs.canonicalize({**marks, **own_marks}), spliced, mark_pattern)
    if whole is None:
        return None
    pieces = re.split(b'"' + token.encode() + b'-(id|credentialSubject)"', whole)
    if len(pieces) != 2 * len(own_marks) + 1:
        return None
    return Template(
        report=report,
        shared={
            field.name: getattr(report, field.name)
            for field in fields(report)
            if field.name not in ("source", "steps", "credential_id", "receipt")
        },
        own_steps=tuple((at, _OWN_STEPS[step.name]) for at, step in enumerate(report.steps) if step.name in _OWN_STEPS),
        chain_id=receipt.anchor.chain_id,
        registry=receipt.anchor.registry,
        keys=frozenset(document),
        version=receipt.version,
        walkers={evidence_bytes: _walker(report, public_key)},
        anchor=orjson.dumps(document["anchor"]),
        root=receipt.merkle.root,
        members={key: orjson.dumps(value) for key, value in credential.items() if key not in OWN},
        achievement=orjson.dumps(subject["achievement"]),
        subject_depth=json_depth(subject, plain=True),
        marks=marks,
        achievement_mark=f"{token}-achievement",
        achievement_canonical=jcs.canonicalize(subject["achievement"]),
        achievement_quoted=jcs.canonicalize(f"{token}-achievement"),
        frame=tuple(pieces[0::2]),
        frame_keys=tuple(key.decode() for key in pieces[1::2]),
        credential={key: value for key, value in credential.items() if key != "proof"},
        layout=_layout(data, document, evidence_bytes, token),
        fine=_fine(data, document, evidence_bytes, token, pieces) if suite == JCS else None,
        options=orjson.dumps(options),
        suite=suite,
        config_hash=hashlib.sha256(config).digest(),
        public_key=public_key,
    )


def _splice(frame: bytes, spliced: dict[bytes, bytes], mark_pattern: re.Pattern[bytes]) -> bytes | None:
    """The canonical bytes of the credential whose canonical `frame` holds each placeholder once (RFC 8785 is
    compositional: a value's canonical bytes do not depend on where it sits); None if any is not there once."""
    parts = mark_pattern.split(frame)
    numbers = parts[1::2]
    if len(numbers) != len(spliced) or set(numbers) != spliced.keys():
        return None
    parts[1::2] = [spliced[number] for number in numbers]
    return b"".join(parts)


def _holds(template: Template, data: bytes, signatures: SignatureCheck | None = None) -> _Own | None:
    """What the receipt has of its own when everything but its leaf's own revocation surely holds as in the
    template; None otherwise."""
    own = _read_fine(template, data) or _read_laid_out(template, data) or _read_parsed(template, data)
    return None if own is None else _own_holds(template, own, signatures)


class _Candidate(NamedTuple):
    """A receipt's own values, read where everything else is as in the template (types not checked yet where
    the reading did not need them)."""

    ident: Any
    subject: Any
    value: Any
    digest: str
    leaf: str
    path: list[str] | bytes
    """Its Merkle path's hashes, or the path as written in the receipt (read as it is walked: `_walked`)."""
    evidence: bytes | None
    credential: dict[str, Any] | None
    """Its credential without the proof: the template's shared members, its own id and subject (None where
    `canonical` is given)."""
    canonical: bytes | None = None
    """The canonical bytes of its credential without the proof, where the fine layout assembled them (then its
    subject, None here, is the learnt one's but for strings the canonical bytes hold)."""


def _read_parsed(template: Template, data: bytes) -> _Candidate | None:
    """The own values of a receipt parsed whole, when its shared members are the template's bytes."""
    document, evidence_bytes = _parts(data)
    # The receipt: the same members, the shared ones the same bytes.
    if document.keys() != template.keys:
        return None
    version = document["version"]
    if type(version) is not int or version != template.version or document["type"] != "CredentialReceipt":
        return None
    if orjson.dumps(document["anchor"]) != template.anchor:
        return None
    merkle, digest = document["merkle"], document["digest"]
    if type(merkle) is not dict or merkle.keys() != MERKLE_KEYS or not is_hash32(digest):
        return None
    path, leaf = merkle["proof"], merkle["leaf"]
    if merkle["scheme"] != SCHEME or type(merkle["root"]) is not str or merkle["root"] != template.root:
        return None
    if not is_hash32(leaf) or type(path) is not list or not are_hashes(path):
        return None
    # The credential: the shared members the same bytes.
    credential = document["credential"]
    if type(credential) is not dict or credential.keys() != template.members.keys() | OWN:
        return None
    for key, shared in template.members.items():
        if orjson.dumps(credential[key]) != shared:
            return None
    proofs = credential["proof"]
    if type(proofs) is not list or len(proofs) != 1 or type(proofs[0]) is not dict:
        return None
    proof = proofs[0]
    options = {key: member for key, member in proof.items() if key != "proofValue"}
    if orjson.dumps(options) != template.options:
        return None
    del credential["proof"]
    return _Candidate(
        credential["id"],
        credential["credentialSubject"],
        proof.get("proofValue"),
        digest,
        leaf,
        path,
        evidence_bytes,
        credential,
    )


def _own_holds(template: Template, own: _Candidate, signatures: SignatureCheck | None) -> _Own | None:
    """The checks of a receipt's own values (the models' checks of them; digest, leaf, path; signature; the
    leaf's word in the evidence)."""
    ident, value, digest, leaf = own.ident, own.value, own.digest, own.leaf
    if own.evidence not in template.walkers:  # a variant not learnt yet (or none of the batch's)
        return None
    if type(ident) is not str or not 0 < len(ident) <= MAX_URI:
        return None
    if type(value) is not str:
        return None
    canonical = own.canonical if own.canonical is not None else _subject_canonical(template, ident, own.subject)
    # Its digest, leaf and path; its signature; its leaf's word in the evidence.
    if canonical is None or to_hex(keccak256(canonical)) != digest:
        return None
    own_leaf = leaf_hash(bytes.fromhex(digest[2:]))
    walked = _walked(own_leaf, own.path)
    if walked is None or to_hex(own_leaf) != leaf or to_hex(walked[0]) != template.root:
        return None
    signature = multibase_decode(value)
    if len(signature) != SIGNATURE_LENGTH:
        return None
    if template.suite == JCS:
        signed = canonical
    elif own.credential is not None:
        signed = canonical_document(own.credential, RDFC)
    else:
        return None
    signed_data = template.config_hash + hashlib.sha256(signed).digest()
    if not (signatures or ed25519_verifies)(template.public_key, signature, signed_data):
        return None
    walks = template.walkers[own.evidence]
    if walks is not None and not walks(leaf):
        return None
    return _Own(ident, digest, leaf, walked[1])


def _walked(leaf: bytes, path: list[str] | bytes) -> tuple[bytes, int] | None:
    """The root `leaf`'s path leads to, and its number of hashes; None for a path of more than MAX_PROOF_LENGTH
    hashes (no longer one passes the shortcut), or one written in the receipt otherwise than the issuer writes
    it (`_path`). A written path is read and walked in C where it is built (`merkle.native_walk_written`: no str
    made of each hash: 1.7-3.0 us against 4.2-6.9 us for `_path` and `walk_proof`, a path of twenty whose every
    level was met before)."""
    if isinstance(path, bytes):
        if native_walk_written is not None:
            return native_walk_written(leaf, path, MAX_PROOF_LENGTH)
        hashes = _path(path)
    else:
        hashes = path if len(path) <= MAX_PROOF_LENGTH else None
    return None if hashes is None else (walk_proof(leaf, hashes), len(hashes))


def _subject_canonical(template: Template, ident: str, subject: Any) -> bytes | None:
    """The canonical credential of a receipt whose subject was parsed: its subject checked as the models check
    it (the achievement the learnt one's; plain terms, no deeper than the learnt one), then canonicalised."""
    if type(subject) is not dict or "achievement" not in subject:
        return None
    if orjson.dumps(subject["achievement"]) != template.achievement:
        return None
    # The achievement is the verified receipt's, so its depth and terms passed: the rest of the subject is checked
    # (with the achievement as a string, the subject is no deeper than the verified one's exactly when this holds).
    own_subject = {**subject, "achievement": template.achievement_mark}
    if json_depth(own_subject, plain=True) > template.subject_depth:
        return None
    return _canonical(template, ident, own_subject)


def _canonical(template: Template, ident: str, own_subject: dict[str, Any]) -> bytes | None:
    """The canonical bytes of the credential without its proof: its own id and subject (whose achievement is
    its placeholder, found there once: a value of its own could hold that text, were the token known)
    canonicalised into the template's frame; None when they do not canonicalise."""
    subject = canonical_or_none(own_subject)
    ident_bytes = canonical_or_none(ident)
    mark = template.achievement_quoted
    if subject is None or ident_bytes is None or subject.count(mark) != 1:
        return None
    own = {
        "id": ident_bytes,
        "credentialSubject": subject.replace(mark, template.achievement_canonical),
    }
    frame = template.frame
    parts = [frame[0]]
    for key, literal in zip(template.frame_keys, frame[1:], strict=True):
        parts += (own[key], literal)
    return b"".join(parts)


@dataclass(frozen=True)
class Layout:
    """A receipt's bytes as literal runs around its own values, learnt from the verified one: `literals[0]`,
    own value `kinds[0]`, `literals[1]`, ... `literals[-1]`.

    A receipt whose bytes are these literals around one JSON value of the right kind in each place parses to
    the verified receipt with its own values in their places: JSON reads a value's extent from its first
    byte, so a whole value in each place leaves every literal to be read as it was in the verified receipt.
    Nothing shared is parsed or encoded again; a receipt laid out otherwise is parsed whole."""

    literals: tuple[bytes, ...]
    kinds: tuple[str, ...]
    patterns: tuple[re.Pattern[bytes] | None, ...]
    """The pattern each own value is read by (None: the path, the subject, the evidence; see `_spans`)."""


@dataclass(frozen=True)
class Fine:
    """The layout of a batch whose subjects differ only in their strings: each string of the subject (outside
    its achievement) is an own value `text0`, `text1`, ... read as a string that needs no escape, and the
    credential's canonical bytes (without its proof) are `canonical_parts` with own values `canonical_kinds` in
    its places. A string that needs no escape is the same bytes in RFC 8785 as in the receipt, and RFC
    8785 sorts members by name, not value: a receipt laid out so has the verified one's subject but for those
    strings (the same members, nesting, numbers and achievement), so the models' checks of it passed there,
    and its canonical bytes are assembled without parsing or canonicalising anything."""

    layout: Layout
    canonical_kinds: tuple[str, ...]
    whole: re.Pattern[bytes]
    """The layout as one pattern: each literal as any bytes of its length (matched in one step, not byte by
    byte), each own value a group (none is found by searching: the text patterns stop at their closing quote,
    the path's at its bracket, and the evidence is what is left). The literals are then compared at once: the
    receipt is its literals around its own values exactly when it is `parts` with the groups in their places."""
    parts: tuple[bytes, ...]
    """The literals with a place between each two for an own value (`parts[1::2] = groups`)."""
    groups: dict[str, int]
    """The group of each own value."""
    canonical_groups: Callable[[tuple[bytes, ...]], tuple[bytes, ...]]
    """The groups of `canonical_kinds`, in their order, from all the groups."""
    canonical_parts: tuple[bytes, ...]
    """The canonical credential's literals with a place between each two for an own value (`[1::2] = ...`)."""


_PATH = re.compile(rb'\[(?:"0x[0-9a-f]{64}"(?:,"0x[0-9a-f]{64}")*)?\]')
"""A Merkle path as the issuer writes it: hashes in lowercase hex, nothing between them (the language `_path`
reads, checked by position)."""
_BRACKETED = rb"\[[^\]]*\]"
"""Where a path can be in a receipt's bytes: its extent (a path holds no `]`), its form checked by `_path`."""
_HASH_STEP = 69
"""A path's hash as written, with the comma after it: `"0x` 64 digits `",`."""
_HEX_DIGITS = b"0123456789abcdef"
_TEXT = re.compile(rb'"[^"\\\x00-\x1f]*"')
"""A JSON string that needs no escape (its bytes are its text, as orjson and RFC 8785 both write it)."""
_TOKENS: dict[str, re.Pattern[bytes]] = {
    "id": re.compile(rb'"[^"\\\x00-\x1f]+"'),
    "value": re.compile(rb'"z[1-9A-HJ-NP-Za-km-z]+"'),
    "digest": re.compile(rb'"0x[0-9a-f]{64}"'),
    "leaf": re.compile(rb'"0x[0-9a-f]{64}"'),
}
"""The own values read by pattern: strings without escapes, hashes in lowercase hex (the path, a list of such
hashes, is read up to its bracket and checked by `_path`); a subject's strings, `_TEXT`."""


def _laid(literals: tuple[bytes, ...], kinds: tuple[str, ...]) -> Layout:
    patterns = tuple(_TEXT if kind.startswith("text") else _TOKENS.get(kind) for kind in kinds)
    return Layout(literals, kinds, patterns)


def _marked(
    data: bytes,
    document: dict[str, Any],
    evidence: bytes | None,
    token: str,
    subject: Any,
    subject_own: dict[str, bytes],
) -> Layout | None:
    """The layout of a verified receipt's `data` (`document` without its `evidence`) with its own values marked,
    `subject` written in place of its subject (a mark, or the subject with its strings marked) and the bytes of
    its own values in `subject_own`, when its bytes are its values written as orjson writes them (as the
    issuer's compact JSON is); None otherwise."""
    body = data.removesuffix(b"\n")
    credential = document["credential"]
    [proof] = credential["proof"]
    places = {
        "id": credential["id"],
        "value": proof["proofValue"],
        "digest": document["digest"],
        "leaf": document["merkle"]["leaf"],
        "path": document["merkle"]["proof"],
    }
    marked = {
        **document,
        "credential": {
            **credential,
            "id": f"{token}-id",
            "credentialSubject": subject,
            "proof": [{**proof, "proofValue": f"{token}-value"}],
        },
        "digest": f"{token}-digest",
        "merkle": {**document["merkle"], "leaf": f"{token}-leaf", "proof": f"{token}-path"},
    }
    own = {kind: orjson.dumps(value) for kind, value in places.items()} | subject_own
    if evidence is not None:
        marked["evidence"] = f"{token}-evidence"
        own["evidence"] = evidence
    literals, kinds = _at_marks(orjson.dumps(marked), token)
    if "subject" in kinds and not literals[kinds.index("subject") + 1]:
        return None
    if sorted(kinds) != sorted(own) or (evidence is not None and kinds[-1] != "evidence"):
        return None
    layout = _laid(literals, kinds)
    if any(
        pattern is not None and not pattern.fullmatch(own[kind])
        for kind, pattern in zip(kinds, layout.patterns, strict=True)
    ):
        return None
    if _path(own["path"]) is None:
        return None
    rebuilt = [literals[0]]
    for kind, literal in zip(kinds, literals[1:], strict=True):
        rebuilt += (own[kind], literal)
    return layout if b"".join(rebuilt) == body else None


def _layout(data: bytes, document: dict[str, Any], evidence: bytes | None, token: str) -> Layout | None:
    """The layout with the subject one own value (an object, parsed alone)."""
    subject = orjson.dumps(document["credential"]["credentialSubject"])
    return _marked(data, document, evidence, token, f"{token}-subject", {"subject": subject})


def _mark_texts(value: Any, token: str, found: list[str]) -> Any:
    """`value` with each string in it (not member names) a mark `{token}-text<n>`, its text appended to `found`
    (in the order orjson writes them)."""
    kind = type(value)
    if kind is str:
        found.append(value)
        return f"{token}-text{len(found) - 1}"
    if kind is dict:
        return {key: _mark_texts(member, token, found) for key, member in value.items()}
    if kind is list:
        return [_mark_texts(item, token, found) for item in value]
    return value


def _fine(data: bytes, document: dict[str, Any], evidence: bytes | None, token: str, frame: list[bytes]) -> Fine | None:
    """The fine layout of a verified eddsa-jcs-2022 receipt; `frame`: the template's canonical credential
    split at its own members (`_template`). None when the receipt is not laid out so (a string with an
    escape, say)."""
    subject = document["credential"]["credentialSubject"]
    found: list[str] = []
    marked = {
        key: value if key == "achievement" else _mark_texts(value, token, found) for key, value in subject.items()
    }
    texts = {f"text{number}": orjson.dumps(text) for number, text in enumerate(found)}
    layout = _marked(data, document, evidence, token, marked, texts)
    if layout is None:
        return None
    # The canonical subject: its achievement's canonical bytes spliced in at its mark, its strings marked.
    achievement = f"{token}-achievement"
    canonical_subject = jcs.canonicalize({**marked, "achievement": achievement})
    quoted = jcs.canonicalize(achievement)
    if canonical_subject.count(quoted) != 1:
        return None
    canonical_subject = canonical_subject.replace(quoted, jcs.canonicalize(subject["achievement"]))
    own = {b"id": b'"' + token.encode() + b'-id"', b"credentialSubject": canonical_subject}
    credential = [frame[0]]
    for key, literal in zip(frame[1::2], frame[2::2], strict=True):
        credential += (own[key], literal)
    canonical, kinds = _at_marks(b"".join(credential), token)
    if sorted(kinds) != sorted(["id", *(f"text{n}" for n in range(len(found)))]):
        return None
    sources = {"path": _BRACKETED, "evidence": rb".*"}  # the path's form checked as it is read (`_path`)
    whole = [b".{%d}" % len(layout.literals[0])]
    for kind, pattern, literal in zip(layout.kinds, layout.patterns, layout.literals[1:], strict=True):
        whole += (b"(" + (sources[kind] if pattern is None else pattern.pattern) + b")", b".{%d}" % len(literal))
    parts = _with_places(layout.literals)
    groups = {kind: number for number, kind in enumerate(layout.kinds)}
    return Fine(
        layout,
        kinds,
        re.compile(b"".join(whole), re.DOTALL),
        parts,
        groups,
        _picker(tuple(groups[kind] for kind in kinds)),
        _with_places(canonical),
    )


def _at_marks(text: bytes, token: str) -> tuple[tuple[bytes, ...], tuple[str, ...]]:
    """`text` split at its marks `"{token}-<kind>"`: the literals around them, and the kinds in order."""
    pieces = re.split(b'"' + token.encode() + b'-([a-z0-9]+)"', text)
    return tuple(pieces[0::2]), tuple(kind.decode() for kind in pieces[1::2])


def _with_places(literals: tuple[bytes, ...]) -> tuple[bytes, ...]:
    """`literals` with an empty place between each two (for the own values: `[1::2] = values`)."""
    placed = [literals[0]]
    for literal in literals[1:]:
        placed += (b"", literal)
    return tuple(placed)


def _picker(numbers: tuple[int, ...]) -> Callable[[tuple[bytes, ...]], tuple[bytes, ...]]:
    """The items at `numbers` of a tuple, as a tuple (even for one number)."""
    pick = itemgetter(*numbers)
    return (lambda got: (pick(got),)) if len(numbers) == 1 else pick


def _spans(layout: Layout, data: bytes) -> dict[str, bytes] | None:
    """The bytes of each own value of `data` laid out as `layout` (each string with its quotes); None when it
    is not laid out so."""
    if len(data) > MAX_STRING or len(data) > MAX_RECEIPT_BYTES:
        return None
    body = data.removesuffix(b"\n")
    literals = layout.literals
    if not body.startswith(literals[0]):
        return None
    at = len(literals[0])
    got: dict[str, bytes] = {}
    for kind, pattern, literal in zip(layout.kinds, layout.patterns, literals[1:], strict=True):
        if pattern is not None:
            found = pattern.match(body, at)
            if found is None:
                return None
            end = found.end()
        elif kind == "path":  # checked by the caller (`_path`): up to its closing bracket
            end = body.find(b"]", at) + 1
        elif kind == "subject":  # an object, parsed alone by the caller: it ends where the next literal first starts
            end = body.find(literal, at)
        else:  # the evidence, last: up to the closing literal
            end = len(body) - len(literal)
        if end < at or not body.startswith(literal, end):
            return None
        got[kind] = body[at:end]
        at = end + len(literal)
    return got if at == len(body) else None


def _read_fine(template: Template, data: bytes) -> _Candidate | None:
    """The own values of a receipt laid out as the template's fine layout, with its canonical credential;
    None when it is not (or there is no fine layout)."""
    fine = template.fine
    if fine is None or len(data) > MAX_STRING or len(data) > MAX_RECEIPT_BYTES:
        return None
    body = data.removesuffix(b"\n")
    found = fine.whole.fullmatch(body)
    if found is None:
        return None
    got, at = found.groups(), fine.groups
    rebuilt = list(fine.parts)
    rebuilt[1::2] = got
    if b"".join(rebuilt) != body:  # a literal that is not the learnt one's
        return None
    parts = list(fine.canonical_parts)
    parts[1::2] = fine.canonical_groups(got)
    canonical = b"".join(parts)
    try:
        canonical.decode()  # its strings are UTF-8, as a parser requires
    except UnicodeDecodeError:
        return None
    evidence = at.get("evidence")
    return _Candidate(
        got[at["id"]][1:-1].decode(),
        None,
        got[at["value"]][1:-1].decode(),
        got[at["digest"]][1:-1].decode(),
        got[at["leaf"]][1:-1].decode(),
        got[at["path"]],
        None if evidence is None else got[evidence],
        None,
        canonical,
    )


def _read_laid_out(template: Template, data: bytes) -> _Candidate | None:
    """The own values of a receipt laid out as the template; None when it is not, or the template learnt no
    layout (then it is parsed whole)."""
    got = None if template.layout is None else _spans(template.layout, data)
    if got is None:
        return None
    subject_bytes = got["subject"]
    subject = orjson.loads(subject_bytes)
    if type(subject) is not dict or orjson.dumps(subject) != subject_bytes:  # one object, exactly as orjson writes
        return None
    ident = got["id"][1:-1].decode()
    return _Candidate(
        ident,
        subject,
        got["value"][1:-1].decode(),
        got["digest"][1:-1].decode(),
        got["leaf"][1:-1].decode(),
        got["path"],
        got.get("evidence"),
        {**template.credential, "id": ident, "credentialSubject": subject},
    )


def _path(text: bytes) -> list[str] | None:
    """The hashes of a path written `["0x…","0x…"]` (lowercase hex, nothing between them: what `_PATH` matches)
    of at most MAX_PROOF_LENGTH hashes (no longer one passes the shortcut); None otherwise. Checked by position
    instead of by the pattern: the quotes, `0x` and commas each where a hash of 64 digits puts them, and only hex
    digits besides (with the split into hashes, 6.5-7.3 us against 10.1-10.3 us for a path of twenty)."""
    if text == b"[]":
        return []
    count, extra = divmod(len(text) - 1, _HASH_STEP)
    if extra or not 0 < count <= MAX_PROOF_LENGTH or text[0] != 0x5B or text[-1] != 0x5D:  # [ and ]
        return None
    body = text[1:-1]
    quotes, zeros, exes, commas, rest = _path_form(count)
    if body[0::_HASH_STEP] != quotes or body[67::_HASH_STEP] != quotes or body[68::_HASH_STEP] != commas:
        return None
    if body[1::_HASH_STEP] != zeros or body[2::_HASH_STEP] != exes:
        return None
    # Every byte but those is a digit: with the digits taken out (the 0 of 0x too), what is left is the rest.
    if body.translate(None, _HEX_DIGITS) != rest:
        return None
    return _hashes(text)


@lru_cache(maxsize=MAX_PROOF_LENGTH + 1)
def _path_form(count: int) -> tuple[bytes, bytes, bytes, bytes, bytes]:
    """What a path of `count` hashes has at each hash's places (quotes, 0, x, commas), and what is left of it
    without its digits."""
    return b'"' * count, b"0" * count, b"x" * count, b"," * (count - 1), b",".join([b'"x"'] * count)


def _hashes(path: bytes) -> list[str]:
    """The hashes of a path `_PATH` matches."""
    return path[2:-2].decode().split('","') if len(path) > 2 else []
