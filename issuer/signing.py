"""The issuer's signing key: Ed25519 for Data Integrity proofs, separate from the Ethereum anchoring key.

Invariants: the private key is written to disk only encrypted (the scrypt + AES-128-CTR `crypto` section of
an Ethereum v3 keystore, wrapped in a file of our own type), with mode 0600; it lives in memory only inside
the `Ed25519PrivateKey` that `load_signing_key` returns; no function here returns its bytes, prints or logs
it. The public Multikey is stored beside the ciphertext, so showing it needs no passphrase.
"""

import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_keyfile.keyfile import create_keyfile_json, decode_keyfile_json

from anchoring.files import atomic_write
from anchoring.multibase import encode_multikey
from issuer.keys import STANDARD_SCRYPT_N, KeystoreError, require_private

KEY_TYPE = "credanchor-ed25519-signing-key"
ENV_SIGNING_PASSPHRASE = "CREDANCHOR_SIGNING_PASSPHRASE"  # noqa: S105 (a variable name, not a secret)
ENV_SIGNING_PASSPHRASE_FILE = "CREDANCHOR_SIGNING_PASSPHRASE_FILE"  # noqa: S105
MAX_KEY_FILE = 64 * 1024


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def create_signing_key(
    path: Path,
    passphrase: str,
    *,
    seed: bytes | None = None,
    scrypt_n: int = STANDARD_SCRYPT_N,
    overwrite: bool = False,
) -> str:
    """Encrypt a new (or the given 32-byte seed's) Ed25519 key into `path`; return its public Multikey."""
    if path.exists() and not overwrite:
        raise KeystoreError(f"{path} exists already; refusing to overwrite a key")
    key = Ed25519PrivateKey.from_private_bytes(seed) if seed is not None else Ed25519PrivateKey.generate()
    private = key.private_bytes_raw()
    crypto = create_keyfile_json(private, passphrase.encode(), kdf="scrypt", iterations=scrypt_n)["crypto"]
    multikey = encode_multikey(public_bytes(key))
    document = {"type": KEY_TYPE, "version": 1, "publicKeyMultibase": multikey, "crypto": crypto}
    atomic_write(path, json.dumps(document, indent=1).encode(), mode=0o600)
    return multikey


def parse_seed(text: str) -> bytes:
    """An Ed25519 private key given as 64 hex digits (the 32-byte seed); the message never echoes it."""
    cleaned = text.strip().removeprefix("0x").removeprefix("0X")
    if len(cleaned) != 64 or any(c not in "0123456789abcdefABCDEF" for c in cleaned):
        raise KeystoreError("an Ed25519 private key must be 64 hex digits (its 32-byte seed), optionally after 0x")
    return bytes.fromhex(cleaned)


def signing_multikey(path: Path) -> str:
    """The key's public Multikey (`z6Mk…`), read without the passphrase."""
    multikey = _read(path)["publicKeyMultibase"]
    return str(multikey)


def load_signing_key(path: Path, passphrase: str) -> Ed25519PrivateKey:
    document = _read(path)
    require_private(path)
    try:
        seed = decode_keyfile_json({"version": 3, "crypto": document["crypto"]}, passphrase.encode())
    except ValueError:
        raise KeystoreError(f"wrong passphrase for {path}") from None
    except (KeyError, TypeError):
        raise KeystoreError(f"{path}: the encrypted key is damaged") from None
    key = Ed25519PrivateKey.from_private_bytes(seed)
    if encode_multikey(public_bytes(key)) != document["publicKeyMultibase"]:
        raise KeystoreError(f"{path}: the public key on file does not match the encrypted key")
    return key


def _read(path: Path) -> dict[str, Any]:
    try:
        if path.stat().st_size > MAX_KEY_FILE:
            raise KeystoreError(f"{path}: not a signing key file (over {MAX_KEY_FILE:,} bytes)")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KeystoreError(
            f"no signing key at {path}: create one with `credanchor key new --signing --out {path}`"
        ) from None
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"{path}: not a readable signing key file: {exc}") from None
    if not isinstance(data, dict) or data.get("type") != KEY_TYPE or not isinstance(data.get("crypto"), dict):
        raise KeystoreError(f"{path}: not a credanchor Ed25519 signing key file")
    if not isinstance(data.get("publicKeyMultibase"), str):
        raise KeystoreError(f"{path}: signing key file has no publicKeyMultibase")
    return data
