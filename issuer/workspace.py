"""A workspace: one issuer's folder with its config, templates, key, database, local chain and manifests.

Invariants: every command acts on exactly one workspace, found from `--workspace`, `CREDANCHOR_WORKSPACE`
or the current directory, in that order; all paths a workspace uses are derived here and nowhere else.
"""

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from anchoring.errors import InvalidInput
from anchoring.files import atomic_write_text
from issuer.config import CONFIG_NAME, ChainConfig, Config, load_config, set_value, toml_value

ENV_WORKSPACE = "CREDANCHOR_WORKSPACE"

EXAMPLE_TEMPLATE = """\
# An achievement template: one file per kind of credential this workspace issues.
# `credanchor issue RECORDS.csv --achievement example` uses this file (its name without .toml).
name = "Foundations of Data Literacy"
description = "Awarded for completing the 30-hour Foundations of Data Literacy course."
criteria = "Attended at least 90% of sessions and passed the final assessment with a grade of C or better."
achievement_type = "Certificate"
# id = "https://registrar.example.edu/achievements/data-literacy"
#      (default: the issuer id, or a did:web issuer's https address, + /achievements/NAME)
# image = "https://registrar.example.edu/badges/data-literacy.png"
credits_available = 3.0      # continuing-education units a recipient can earn
validity = "P3Y"             # ISO 8601 period after which credentials expire (omit for no expiry)
include_name = true          # put the recipient's name in the credential (the email is always hashed)

[[alignment]]
target_name = "Data literacy"
target_url = "https://example.org/frameworks/digital-skills/data-literacy"
target_framework = "Example Digital Skills Framework"
target_code = "DS-3.1"

[result]
name = "Final grade"
result_type = "LetterGrade"
"""


@dataclass(frozen=True)
class Workspace:
    root: Path
    config: Config

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def achievements_dir(self) -> Path:
        return self.root / "achievements"

    @property
    def manifests_dir(self) -> Path:
        return self.root / "manifests"

    @property
    def receipts_dir(self) -> Path:
        return self.root / "receipts"

    @property
    def chain_dir(self) -> Path:
        return self.root / "chain"

    @property
    def keystore_path(self) -> Path:
        return self.root / self.config.key.keystore

    @property
    def passphrase_path(self) -> Path | None:
        file = self.config.key.passphrase_file
        return self.root / file if file else None

    @property
    def signing_key_path(self) -> Path:
        return self.root / self.config.signing.key

    @property
    def signing_passphrase_path(self) -> Path | None:
        file = self.config.signing.passphrase_file
        return self.root / file if file else None

    @property
    def database_url(self) -> str:
        """The configured URL, with a relative SQLite path made relative to the workspace."""
        url = self.config.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url[len(prefix) :].startswith("/") and url != "sqlite:///:memory:":
            return prefix + str(self.root / url[len(prefix) :])
        return url

    def set(self, section: str, key: str, value: str | int | float | bool, index: int = 0) -> "Workspace":
        """Change one config value on disk (in the `index`th entry of a `[[section]]` list) and return the
        workspace as it is now."""
        set_value(self.config_path, section, key, value, index)
        return Workspace(self.root, load_config(self.config_path))

    def keystore_for(self, chain: ChainConfig) -> Path:
        """The anchoring key of `chain`: its own `keystore`, else `[key] keystore`."""
        return self.root / chain.keystore if chain.keystore else self.keystore_path

    def passphrase_for(self, chain: ChainConfig) -> Path | None:
        if chain.passphrase_file:
            return self.root / chain.passphrase_file
        return self.passphrase_path if chain.keystore is None else None

    def local_chain_dir(self, chain: ChainConfig) -> Path:
        """Where `chain up` keeps a local node's state: `chain/` for the home chain, `chain/ID/` for others."""
        return self.chain_dir if chain.chain_id == self.config.chain.chain_id else self.chain_dir / str(chain.chain_id)


def locate(option: Path | None) -> Path:
    if option is not None:
        return option
    env = os.environ.get(ENV_WORKSPACE)
    return Path(env) if env else Path.cwd()


def open_workspace(option: Path | None = None) -> Workspace:
    root = locate(option).resolve()
    config_path = root / CONFIG_NAME
    if not config_path.is_file():
        raise InvalidInput(f"no workspace at {root} ({CONFIG_NAME} missing); run `credanchor init {root}` first")
    return Workspace(root, load_config(config_path))


def render_config(issuer_id: str, issuer_name: str, issuer_url: str | None, port: int) -> str:
    url_line = f"url = {toml_value(issuer_url)}\n" if issuer_url else ""
    return f"""\
# credanchor workspace configuration. Paths are relative to this folder.

[issuer]
# The issuer Profile every credential names: a URL (or DID) you control, and your official name.
id = {toml_value(issuer_id)}
name = {toml_value(issuer_name)}
{url_line}
[chain]
# The node to anchor on. `credanchor chain up` runs a local Anvil node here; for another chain set its
# RPC URL and chain id (checked on every connection), then `credanchor deploy`.
rpc_url = "http://127.0.0.1:{port}"
chain_id = 31337
registry = ""            # your CredentialRegistry; written by `chain up` or `deploy`
confirmations = 1        # blocks counted from the anchor's own before receipts are written: 12+ on public
                         # chains; keep 1 on the local node, which makes a block only per transaction
tx_timeout = 600.0       # seconds to wait for the anchor to be mined and confirmed (then: `credanchor resume`)
replace_after = 90.0     # seconds before a pending transaction is replaced with bumped fees (same nonce)
node_deadline = 300.0    # seconds to keep retrying a node that stopped answering mid-batch
rpc_timeout = 10.0       # seconds to wait for one node request
local_port = {port}
admin_delay = 172800     # seconds an admin handover must wait (OpenZeppelin AccessControlDefaultAdminRules)

[database]
url = "sqlite:///credanchor.db"   # any SQLAlchemy URL

[key]
keystore = "keys/issuer.json"     # Ethereum keystore v3 (scrypt), mode 0600
passphrase_file = "keys/issuer.pass"

[signing]
key = "keys/signing.json"         # Ed25519 key that signs every credential (Data Integrity), mode 0600
passphrase_file = "keys/signing.pass"
cryptosuite = "eddsa-rdfc-2022"   # or "eddsa-jcs-2022": faster for very large batches

[records]
# Map CSV headers to fields (email, name, issue_date, credits_earned, evidence_url, evidence_narrative,
# result) or to "ignore". Any other column is an error.
columns = {{}}
"""


def init_workspace(
    root: Path,
    *,
    issuer_id: str,
    issuer_name: str,
    issuer_url: str | None = None,
    port: int = 8545,
    scrypt_n: int = 2**18,
) -> Workspace:
    """Create a workspace: config, example template, database folder, a new issuer key and signing key."""
    root = root.resolve()
    if (root / CONFIG_NAME).exists():
        raise InvalidInput(f"{root} is already a workspace ({CONFIG_NAME} exists)")
    root.mkdir(parents=True, exist_ok=True)
    for folder in ("achievements", "manifests", "receipts", "chain", "keys"):
        (root / folder).mkdir(exist_ok=True)
    os.chmod(root / "keys", 0o700)
    atomic_write_text(root / "achievements" / "example.toml", EXAMPLE_TEMPLATE)
    from issuer.keys import create_keystore  # eth-account: only when a workspace is created
    from issuer.signing import create_signing_key

    create_keystore(root / "keys" / "issuer.json", root / "keys" / "issuer.pass", scrypt_n=scrypt_n)
    signing_passphrase = secrets.token_urlsafe(32)
    atomic_write_text(root / "keys" / "signing.pass", signing_passphrase + "\n", mode=0o600)
    create_signing_key(root / "keys" / "signing.json", signing_passphrase, scrypt_n=scrypt_n)
    atomic_write_text(root / CONFIG_NAME, render_config(issuer_id, issuer_name, issuer_url, port))
    workspace = open_workspace(root)
    from issuer.store import Store  # the store pulls in SQLAlchemy; only init and issuing need it

    Store(workspace.database_url).close()
    return workspace
