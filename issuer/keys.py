"""The issuer key: an Ethereum keystore (v3 JSON, scrypt) with file mode 0600.

Invariants: the private key exists in memory only inside the `LocalAccount` returned by `load_account`, and
is written to disk only encrypted; no function here returns, prints or logs it. The passphrase comes from
the environment, a file, or a prompt, in that order.
"""

import json
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from anchoring.errors import InvalidInput
from anchoring.files import atomic_write, atomic_write_text

ENV_PASSPHRASE = "CREDANCHOR_KEY_PASSPHRASE"  # noqa: S105 (a variable name, not a secret)
ENV_PASSPHRASE_FILE = "CREDANCHOR_KEY_PASSPHRASE_FILE"  # noqa: S105
STANDARD_SCRYPT_N = 2**18
SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class KeystoreError(InvalidInput):
    """A keystore or passphrase problem."""


def create_keystore(
    keystore: Path,
    passphrase_file: Path | None,
    *,
    passphrase: str | None = None,
    private_key: bytes | None = None,
    scrypt_n: int = STANDARD_SCRYPT_N,
    overwrite: bool = False,
) -> str:
    """Encrypt a new (or the given) key into `keystore`; return its address.

    With no passphrase given, a random one is generated and written to `passphrase_file` (mode 0600): fine
    for a local demo chain, while a production key should use a passphrase kept elsewhere.
    """
    if keystore.exists() and not overwrite:
        raise KeystoreError(f"{keystore} exists already; refusing to overwrite a key")
    if passphrase is None:
        if passphrase_file is None:
            raise KeystoreError("a passphrase or a passphrase file is needed")
        passphrase = secrets.token_urlsafe(32)
        atomic_write_text(passphrase_file, passphrase + "\n", mode=0o600)
    account = Account.from_key(private_key) if private_key is not None else Account.create()
    encrypted = Account.encrypt(account.key, passphrase, kdf="scrypt", iterations=scrypt_n)
    atomic_write(keystore, json.dumps(encrypted, indent=1).encode(), mode=0o600)
    return str(account.address)


def parse_private_key(text: str) -> bytes:
    """A private key given as 64 hex digits (optionally 0x-prefixed); the message never echoes it."""
    cleaned = text.strip().removeprefix("0x").removeprefix("0X")
    if len(cleaned) != 64 or any(c not in "0123456789abcdefABCDEF" for c in cleaned):
        raise KeystoreError("a private key must be 64 hex digits (32 bytes), optionally after 0x")
    key = bytes.fromhex(cleaned)
    if not 0 < int.from_bytes(key, "big") < SECP256K1_ORDER:
        raise KeystoreError("that is not a valid secp256k1 private key")
    return key


def keystore_address(keystore: Path) -> str:
    """The keystore's address, read from its public `address` member (no passphrase needed)."""
    data = _read_keystore(keystore)
    address = data.get("address")
    if not isinstance(address, str):
        raise KeystoreError(f"{keystore}: keystore has no address member")
    return str(to_checksum_address(address if address.startswith("0x") else "0x" + address))


def resolve_passphrase(
    passphrase_file: Path | None,
    prompt: Callable[[], str] | None = None,
    *,
    env_names: tuple[str, str] = (ENV_PASSPHRASE, ENV_PASSPHRASE_FILE),
) -> str:
    """The passphrase from the environment variable, the file variable, `passphrase_file`, or a prompt."""
    env_value, env_file_name = env_names
    env = os.environ.get(env_value)
    if env:
        return env
    env_file = os.environ.get(env_file_name)
    file = Path(env_file) if env_file else passphrase_file
    if file is not None:
        try:
            return file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise KeystoreError(f"cannot read passphrase file {file}: {exc.strerror}") from None
    if prompt is not None:
        return prompt()
    raise KeystoreError(f"no passphrase: set {env_value}, {env_file_name}, or a passphrase file")


def require_private(path: Path) -> None:
    """A key file must be readable by its owner alone."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeystoreError(f"{path} is readable by others (mode {mode:04o}); run: chmod 600 {path}")


def load_account(keystore: Path, passphrase: str) -> LocalAccount:
    data = _read_keystore(keystore)
    require_private(keystore)
    try:
        key = Account.decrypt(data, passphrase)
    except ValueError:
        raise KeystoreError(f"wrong passphrase for {keystore}") from None
    account: LocalAccount = Account.from_key(key)
    return account


def _read_keystore(keystore: Path) -> dict[str, Any]:
    try:
        data = json.loads(keystore.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KeystoreError(f"no keystore at {keystore}") from None
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"{keystore}: not a readable keystore: {exc}") from None
    if not isinstance(data, dict) or data.get("version") != 3 or "crypto" not in data:
        raise KeystoreError(f"{keystore}: not an Ethereum v3 keystore")
    return data
