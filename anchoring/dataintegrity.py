"""W3C Data Integrity EdDSA proofs (vc-di-eddsa v1.0): eddsa-rdfc-2022 and eddsa-jcs-2022, pure.

Invariants:
- What Ed25519 (RFC 8032, pure EdDSA) signs is `hashData = sha256(canonical proof configuration) ||
  sha256(canonical document without proof)`: the proof configuration's hash first.
- eddsa-rdfc-2022 canonicalises both with RDFC-1.0 (`anchoring.jsonld`: safe mode, bundled contexts only, never
  a fetch); the proof configuration is the proof's options with the document's `@context`, and the proof
  itself carries no `@context`.
- eddsa-jcs-2022 canonicalises both with RFC 8785 (`anchoring.jcs`); the proof carries the document's
  `@context` (spec step 2 of Create Proof); verification requires the document's `@context` to start with
  the proof's and then uses the proof's.
- `verify_proof` returns only if every check passes; otherwise `ProofFailed` (or `UnsafeJsonLd`) says which
  check failed, with the values. Nothing here reads the clock: `created` and `now` are passed in.
"""

import copy
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import rfc8785
from nacl.bindings import crypto_sign, crypto_sign_seed_keypair
from nacl.bindings import crypto_sign_open as sodium_verify  # opens a signed message: no file
from nacl.exceptions import CryptoError

from anchoring import jcs
from anchoring.errors import InvalidInput, VerificationFailed
from anchoring.jsonld import JsonLd, bundled, check_depth
from anchoring.multibase import encode_multikey, multibase_decode, multibase_encode

RDFC = "eddsa-rdfc-2022"
JCS = "eddsa-jcs-2022"
CRYPTOSUITES = (RDFC, JCS)
PROOF_TYPE = "DataIntegrityProof"
ASSERTION_METHOD = "assertionMethod"
SIGNATURE_LENGTH = 64
KEY_LENGTH = 32
# XML Schema dateTime, which a proof we verify may carry (the zone is optional), and dateTimeStamp, which a
# proof we make carries (the zone is required; we write UTC to the second)
_DATETIME = re.compile(r"-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?")
_DATETIMESTAMP = re.compile(r"-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


class ProofFailed(VerificationFailed):
    """A Data Integrity proof that does not check out; the message names the check."""


def proofs_of(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The document's proofs: `proof` may be one object (as in the 1EdTech example) or an array of them."""
    proof = document.get("proof")
    if proof is None:
        raise ProofFailed("the document has no proof")
    items = proof if isinstance(proof, list) else [proof]
    if not items:
        raise ProofFailed("the document's proof array is empty")
    for item in items:
        if not isinstance(item, dict):
            raise ProofFailed(f"a proof must be a JSON object, not {type(item).__name__}")
    return list(items)


def without_proof(document: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "proof"}


def created_text(moment: datetime) -> str:
    """`created` as an XML dateTimeStamp in UTC to the second, like 2026-06-30T12:00:00Z."""
    if moment.tzinfo is None:
        raise InvalidInput("the proof's created time needs a time zone")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _jcs(value: Any, what: str) -> bytes:
    check_depth(value)
    try:
        return jcs.canonicalize(value)
    except rfc8785.CanonicalizationError as exc:
        raise ProofFailed(f"the {what} cannot be canonicalised with RFC 8785: {exc}") from None


def canonical_document(document: Mapping[str, Any], cryptosuite: str, processor: JsonLd | None = None) -> bytes:
    """The transformed (canonical) form of a document without its proof, as the cryptosuite hashes it."""
    return _canonical(without_proof(document), cryptosuite, processor or bundled())


def _canonical(unsecured: Mapping[str, Any], cryptosuite: str, processor: JsonLd) -> bytes:
    if cryptosuite == RDFC:
        return processor.canonical_nquads(unsecured).encode("utf-8")
    return _jcs(unsecured, "document")


def canonical_proof_config(config: Mapping[str, Any], cryptosuite: str, processor: JsonLd | None = None) -> bytes:
    """The canonical proof configuration (the proof's options, without proofValue, with its @context)."""
    plain = _plain_config(config)
    if plain is not None:
        return _plain_config_canonical(processor or bundled(), cryptosuite, plain)
    check_depth(config)
    return _config_canonical(processor or bundled(), cryptosuite, json.dumps(config, sort_keys=True))


_PlainConfig = tuple[tuple[str, str | tuple[str, ...]], ...]


def _plain_config(config: Mapping[str, Any]) -> _PlainConfig | None:
    """The usual configuration (every value a string or a list of strings) as a key to remember it by, one
    that needs no JSON encoding; None for any other."""
    items: list[tuple[str, str | tuple[str, ...]]] = []
    for key, value in config.items():
        if type(value) is str:
            items.append((key, value))
        elif type(value) is list and all(type(item) is str for item in value):
            items.append((key, tuple(value)))
        else:
            return None
    return tuple(sorted(items))


@lru_cache(maxsize=256)
def _plain_config_canonical(processor: JsonLd, cryptosuite: str, plain: _PlainConfig) -> bytes:
    config = {key: list(value) if type(value) is tuple else value for key, value in plain}
    return _canonical_config(processor, cryptosuite, config)


@lru_cache(maxsize=256)
def _config_canonical(processor: JsonLd, cryptosuite: str, config_json: str) -> bytes:
    # A batch's proofs share one configuration: canonicalise it once, not once per credential.
    return _canonical_config(processor, cryptosuite, json.loads(config_json))


def _canonical_config(processor: JsonLd, cryptosuite: str, config: dict[str, Any]) -> bytes:
    if cryptosuite == RDFC:
        return processor.canonical_nquads(config).encode("utf-8")
    return _jcs(config, "proof configuration")


def hash_data(canonical_config: bytes, canonical_doc: bytes) -> bytes:
    """What Ed25519 signs: the proof configuration's sha256, then the document's."""
    return hashlib.sha256(canonical_config).digest() + hashlib.sha256(canonical_doc).digest()


def rdfc_config(options: Mapping[str, Any], document: Mapping[str, Any]) -> dict[str, Any]:
    """The eddsa-rdfc-2022 proof configuration: the proof's options (without its value) and the document's @context."""
    config = {key: value for key, value in options.items() if key not in ("proofValue", "@context")}
    if "@context" in document:
        config["@context"] = document["@context"]
    return config


class Signer:
    """Signs documents with one key, cryptosuite, verification method and `created`: one per batch.

    `private_key` is the 32-byte Ed25519 seed. The proof configuration is canonicalised once per distinct
    document `@context` (once per batch), so each document costs its own canonical form and a signature.
    """

    def __init__(
        self,
        private_key: bytes,
        cryptosuite: str,
        verification_method: str,
        created: datetime | str,
        *,
        expires: str | None = None,
        processor: JsonLd | None = None,
    ) -> None:
        if cryptosuite not in CRYPTOSUITES:
            raise InvalidInput(f"unknown cryptosuite {cryptosuite!r}; known: {', '.join(CRYPTOSUITES)}")
        if len(private_key) != KEY_LENGTH:
            raise InvalidInput(f"an Ed25519 private key has {KEY_LENGTH} bytes, not {len(private_key)}")
        if not verification_method:
            raise InvalidInput("the verification method must be a non-empty IRI")
        created = created_text(created) if isinstance(created, datetime) else created
        if not _DATETIMESTAMP.fullmatch(created):
            raise InvalidInput(f"created {created!r} is not an XML Schema dateTimeStamp (a date-time with a zone)")
        # libsodium (PyNaCl) signs in about 22 us and verifies in 60, OpenSSL (cryptography) in 49 and 116 on
        # this machine; Ed25519 is deterministic, so the signatures are the same bytes.
        self.public_key, self._secret = crypto_sign_seed_keypair(private_key)
        self._processor = processor or bundled()
        self.cryptosuite = cryptosuite
        self.options: dict[str, Any] = {
            "type": PROOF_TYPE,
            "cryptosuite": cryptosuite,
            "created": created,
            "verificationMethod": verification_method,
            "proofPurpose": ASSERTION_METHOD,
        }
        if expires is not None:
            if not _DATETIMESTAMP.fullmatch(expires):
                raise InvalidInput(f"expires {expires!r} is not an XML Schema dateTimeStamp (a date-time with a zone)")
            self.options["expires"] = expires
        self._config_hashes: dict[str, bytes] = {}
        self.made: bytearray | None = None
        """When a bytearray: `signature_tag` of each signature made is appended to it (a batch's workers send
        them to the process that checks the batch: `OwnSignatures(made=...)`)."""

    def _config_hash(self, document: Mapping[str, Any]) -> bytes:
        """sha256 of the canonical proof configuration for documents with this document's @context."""
        context = document.get("@context")
        if isinstance(context, list) and all(type(c) is str for c in context):
            context_key = "\n".join(context)  # the usual case: a list of URLs, no JSON encoding needed
        else:
            check_depth(context)
            context_key = json.dumps(context, sort_keys=True)
        digest = self._config_hashes.get(context_key)
        if digest is None:
            if self.cryptosuite == JCS:
                config = {**self.options, **({"@context": document["@context"]} if "@context" in document else {})}
            else:
                config = rdfc_config(self.options, document)
            digest = hashlib.sha256(canonical_proof_config(config, self.cryptosuite, self._processor)).digest()
            self._config_hashes[context_key] = digest
        return digest

    def sign(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """The proof for `document` (any `proof` it has is not covered), ready to put in its `proof` array."""
        config_hash = self._config_hash(document)
        document_hash = hashlib.sha256(canonical_document(document, self.cryptosuite, self._processor)).digest()
        proof = dict(self.options)
        if self.cryptosuite == JCS and "@context" in document:
            proof["@context"] = _copy_json(document["@context"])
        proof["proofValue"] = multibase_encode(self._signature(config_hash + document_hash))
        return proof

    def sign_canonical(self, document: Mapping[str, Any], canonical: bytes) -> dict[str, Any]:
        """`sign(document)` for eddsa-jcs-2022, given the document's canonical bytes (RFC 8785, without its
        proof) that the caller has made already: a batch canonicalises each credential once."""
        proof = self.proof_options(document)
        proof["proofValue"] = self.proof_value(document, canonical)
        return proof

    def proof_options(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """The eddsa-jcs-2022 proof `sign_canonical(document, ...)` gives, but for its `proofValue`."""
        if self.cryptosuite != JCS:
            raise InvalidInput(f"{self.cryptosuite} signs the RDF canonical form, not given bytes")
        proof = dict(self.options)
        if "@context" in document:
            proof["@context"] = _copy_json(document["@context"])
        return proof

    def proof_value(self, document: Mapping[str, Any], canonical: bytes) -> str:
        """The `proofValue` of `sign_canonical(document, canonical)` (of `document`, only its `@context` counts)."""
        if self.cryptosuite != JCS:
            raise InvalidInput(f"{self.cryptosuite} signs the RDF canonical form, not given bytes")
        digest = hashlib.sha256(canonical).digest()
        return multibase_encode(self._signature(self._config_hash(document) + digest))

    def _signature(self, data: bytes) -> bytes:
        signature = _sign(data, self._secret)
        if self.made is not None:
            self.made += signature_tag(self.public_key, data, signature)
        return signature


def ed25519_verifies(public_key: bytes, signature: bytes, data: bytes) -> bool:
    """Whether `signature` is `public_key`'s Ed25519 signature of `data` (libsodium, which also refuses
    small-order keys and non-canonical signatures)."""
    try:
        sodium_verify(signature + data, public_key)
    except CryptoError:  # BadSignatureError; any other refusal of the key or signature by libsodium too
        return False
    return True


SignatureCheck = Callable[[bytes, bytes, bytes], bool]
"""(public key, signature, signed data) -> whether the signature verifies: `ed25519_verifies`, `OwnSignatures`."""


TAG_LENGTH = 16


def signature_tag(public_key: bytes, data: bytes, signature: bytes) -> bytes:
    """A 128-bit tag of (public key, signed data, signature): a triple whose tag is among those of the triples
    a key made is, but with a chance of about n / 2**128 for n tags, one of them (BLAKE2b resists collisions;
    the key and signature have fixed lengths, so the concatenation is unambiguous)."""
    return hashlib.blake2b(public_key + signature + data, digest_size=TAG_LENGTH).digest()


class OwnSignatures:
    """`ed25519_verifies`, at a small part of its cost for the signatures of one key whose private key is at
    hand (the issuer's self-check of the batch it has just signed).

    - A signature the key was seen to make of the same data (`made`: the `signature_tag`s that `Signer.made`
      gathers while a batch is signed; tags of another key's signatures never match) verifies: it is the
      key's signature of that data. That costs a hash and a look-up.
    - Otherwise, Ed25519 signing is deterministic (RFC 8032, 5.1.6: the nonce is a hash of the key and the
      message), so a signature equal to the one the key makes of the same bytes verifies under its public
      key; making it takes about a third of the time of verifying it.
    - Any other signature, or a signature under any other key, is verified.

    The answer is always `ed25519_verifies`'s."""

    def __init__(self, private_key: bytes, made: bytes = b"") -> None:
        if len(private_key) != KEY_LENGTH:
            raise InvalidInput(f"an Ed25519 private key has {KEY_LENGTH} bytes, not {len(private_key)}")
        if len(made) % TAG_LENGTH:
            raise InvalidInput(f"signature tags have {TAG_LENGTH} bytes each; {len(made)} bytes is not a whole number")
        self.public_key, self._secret = crypto_sign_seed_keypair(private_key)
        self._made = frozenset(made[at : at + TAG_LENGTH] for at in range(0, len(made), TAG_LENGTH))

    def __call__(self, public_key: bytes, signature: bytes, data: bytes) -> bool:
        if public_key == self.public_key:
            if signature_tag(public_key, data, signature) in self._made:
                return True
            if hmac.compare_digest(_sign(data, self._secret), signature):
                return True
        return ed25519_verifies(public_key, signature, data)

    @property
    def known(self) -> int:
        """How many signatures it knows the key made."""
        return len(self._made)

    def __repr__(self) -> str:
        return f"OwnSignatures(public key {self.public_key.hex()}, {len(self._made)} signatures made)"  # no secret


def _sign(message: bytes, secret: bytes) -> bytes:
    """The Ed25519 signature of `message` (libsodium's combined form is the signature, then the message)."""
    return crypto_sign(message, secret)[:SIGNATURE_LENGTH]


def _copy_json(value: Any) -> Any:
    # a list of context URLs is the usual case, and much cheaper to copy than through deepcopy
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    return copy.deepcopy(value)


def verify_proof(
    document: Mapping[str, Any],
    proof: Mapping[str, Any],
    public_key: bytes,
    *,
    purpose: str = ASSERTION_METHOD,
    now: datetime | None = None,
    processor: JsonLd | None = None,
    canonical_document: bytes | None = None,
) -> None:
    """Check one proof of `document` (with or without its `proof` member) against a 32-byte Ed25519 key.

    `canonical_document`: the RFC 8785 bytes of `document` without its proof, when the caller has them (a
    receipt's digest hashed them); used for an `eddsa-jcs-2022` proof that signed exactly that (no chained
    proofs, and a proof `@context` that is the document's own list of URLs), so they are not computed again."""
    if len(public_key) != KEY_LENGTH:
        raise InvalidInput(f"an Ed25519 public key has {KEY_LENGTH} bytes, not {len(public_key)}")
    # 1. the proof is one we implement, made for the purpose the caller relies on
    if proof.get("type") != PROOF_TYPE:
        raise ProofFailed(f"proof type is {proof.get('type')!r}, expected {PROOF_TYPE!r}")
    suite = proof.get("cryptosuite")
    if suite not in CRYPTOSUITES:
        raise ProofFailed(f"proof cryptosuite is {suite!r}; supported: {', '.join(CRYPTOSUITES)}")
    if proof.get("proofPurpose") != purpose:
        raise ProofFailed(f"proof purpose is {proof.get('proofPurpose')!r}, expected {purpose!r}")
    if not isinstance(proof.get("verificationMethod"), str):
        raise ProofFailed("proof has no verificationMethod")
    # 2. proofValue is a multibase base58btc Ed25519 signature
    signature = _signature(proof.get("proofValue"))
    # 3. created is a dateTime, and the proof has not expired at `now`
    _check_times(proof, now)
    # 4. the canonical proof configuration and document, hashed in that order
    options = {key: value for key, value in proof.items() if key != "proofValue"}
    processor = processor or bundled()
    if suite == JCS and canonical_document is not None and signs_whole(document, options):
        # `_unsecured` would return the document without its proof: its bytes are the ones given.
        data = hash_data(canonical_proof_config(options, JCS, processor), canonical_document)
    elif suite == JCS:
        unsecured = _unsecured(document, options)
        data = hash_data(canonical_proof_config(options, JCS, processor), _canonical(unsecured, suite, processor))
    else:
        unsecured = _unsecured(document, options)
        config = canonical_proof_config(rdfc_config(options, unsecured), RDFC, processor)
        data = hash_data(config, _canonical(unsecured, suite, processor))
    # 5. the signature over that data verifies with the key
    if not ed25519_verifies(public_key, signature, data):
        raise ProofFailed(
            f"the {suite} signature does not verify with key {encode_multikey(public_key)}: the document or "
            "its proof is not what was signed, or another key signed it"
        )


def signs_whole(document: Mapping[str, Any], options: Mapping[str, Any]) -> bool:
    """Whether the unsecured document is `document` without its proof, member for member: no chained proofs,
    and no proof `@context` other than the document's own (compared as lists of strings, where equality is
    sameness; `1 == True` is not)."""
    if options.get("previousProof") is not None:
        return False
    if "@context" not in options:
        return True
    mine, theirs = options["@context"], document.get("@context")
    return type(mine) is list and all(type(url) is str for url in mine) and mine == theirs


def _signature(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ProofFailed("proof has no proofValue string")
    try:
        signature = multibase_decode(value)
    except ValueError as exc:
        raise ProofFailed(f"proofValue is malformed: {exc}") from None
    if len(signature) != SIGNATURE_LENGTH:
        raise ProofFailed(f"proofValue decodes to {len(signature)} bytes; an Ed25519 signature has {SIGNATURE_LENGTH}")
    return signature


def _check_times(proof: Mapping[str, Any], now: datetime | None) -> None:
    for key in ("created", "expires"):
        value = proof.get(key)
        if value is not None and not (isinstance(value, str) and _DATETIME.fullmatch(value)):
            raise ProofFailed(f"proof {key} {value!r} is not an XML Schema dateTime")
    expires = proof.get("expires")
    if now is not None and now.tzinfo is None:
        raise InvalidInput("now needs a time zone")
    if expires is not None and now is not None:
        try:
            moment = datetime.fromisoformat(expires.replace("Z", "+00:00"))
        except ValueError:
            raise ProofFailed(f"proof expires {expires!r} is not a date and time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if now >= moment:
            raise ProofFailed(f"proof expired at {expires}")


def _unsecured(document: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """What the proof covers: the document without its proofs, plus the ones a chained proof names."""
    unsecured = without_proof(document)
    previous = options.get("previousProof")
    if previous is not None:
        # a proof chain: the proof signed the document together with the proofs it names (VC-DI 1.0, 4.4)
        wanted = _as_list(previous)
        matching = [p for p in proofs_of(document) if p.get("id") in wanted]
        if len(matching) != len(wanted):
            found = [p.get("id") for p in matching]
            raise ProofFailed(f"previousProof names {wanted}, but the document's proofs with those ids are {found}")
        unsecured["proof"] = matching
    if options.get("cryptosuite") == JCS and "@context" in options:
        proof_context = _as_list(options["@context"])
        have = _as_list(unsecured.get("@context"))
        if have[: len(proof_context)] != proof_context:
            raise ProofFailed(
                f"the document's @context {have} does not start with the proof's @context {proof_context}"
            )
        unsecured["@context"] = options["@context"]
    return unsecured


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
