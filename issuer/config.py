"""The workspace config file, `credanchor.toml`: a strict model and the one way to change a value in it.

Invariants: unknown sections and keys are errors (a typo must not silently fall back to a default); relative
paths in the config are relative to the workspace; `set_value` rewrites one line and keeps the user's
comments and layout.
"""

import json
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from anchoring.errors import InvalidInput
from anchoring.files import atomic_write_text
from anchoring.receipt import describe

CONFIG_NAME = "credanchor.toml"
FIELDS = ("email", "name", "issue_date", "credits_earned", "evidence_url", "evidence_narrative", "result")
IGNORE = "ignore"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


_DID = re.compile(r"did:[a-z0-9]+:[A-Za-z0-9._:%-]*[A-Za-z0-9._%-]")
_HTTP_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?(/[^\s#]*)?(#[^\s]*)?")
_EMAIL = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9.-]+\.[A-Za-z]{2,63}")


def _issuer_id(value: str) -> str:
    if value.startswith("did:"):
        if not _DID.fullmatch(value):
            raise ValueError(f"{value!r} is not a DID (did:METHOD:ID, for example did:web:registrar.example.edu)")
        return value
    if not _HTTP_URL.fullmatch(value):
        raise ValueError(f"{value!r} must be an absolute http(s) URL (with its scheme, like https://…) or a DID")
    return value


def _http_url(value: str) -> str:
    if not _HTTP_URL.fullmatch(value):
        raise ValueError(f"{value!r} must be an absolute http(s) URL, with its scheme (https://…)")
    return value


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]


class IssuerConfig(_Section):
    """The issuer Profile every credential names; checked so that no credential fails the OB 3.0 schema."""

    id: Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(_issuer_id)]
    name: Annotated[str, Field(min_length=1, max_length=512)]
    url: HttpUrl | None = None
    email: Annotated[str, AfterValidator(_email)] | None = None
    description: Annotated[str, Field(min_length=1, max_length=4000)] | None = None
    image: HttpUrl | None = None


class ChainConfig(_Section):
    rpc_url: str
    chain_id: int = Field(gt=0)
    registry: str = ""
    confirmations: int = Field(default=1, ge=1)
    tx_timeout: float = Field(default=600.0, gt=0)
    replace_after: float = Field(default=90.0, gt=0)
    node_deadline: float = Field(default=300.0, ge=0)
    rpc_timeout: float = Field(default=10.0, gt=0)
    local_port: int = Field(default=8545, gt=0, lt=65536)
    admin_delay: int = Field(default=172_800, ge=0)
    evidence: bool = True
    """Put the anchor's chain evidence (header and state proofs) in every receipt (receipt version 2)."""
    keystore: str | None = None
    """The anchoring key for this chain (default: `[key] keystore`); each chain's registry grants it the role."""
    passphrase_file: str | None = None
    """Its passphrase file (default: `[key] passphrase_file` when the keystore is the default one)."""

    @property
    def is_local(self) -> bool:
        """A node on this machine, which `credanchor chain up` starts (Anvil) for the workspace."""
        host = urlsplit(self.rpc_url).hostname or ""
        return host in ("127.0.0.1", "localhost")


class DatabaseConfig(_Section):
    url: str = "sqlite:///credanchor.db"


class KeyConfig(_Section):
    keystore: str = "keys/issuer.json"
    passphrase_file: str | None = None


CRYPTOSUITES = ("eddsa-rdfc-2022", "eddsa-jcs-2022")


class SigningConfig(_Section):
    """The Ed25519 key that signs credentials (W3C Data Integrity), apart from the anchoring key."""

    key: str = "keys/signing.json"
    passphrase_file: str | None = None
    cryptosuite: Literal["eddsa-rdfc-2022", "eddsa-jcs-2022"] = "eddsa-rdfc-2022"


class RecordsConfig(_Section):
    columns: dict[str, str] = Field(default_factory=dict)


class EarnerConfig(_Section):
    """What each earner gets beside the receipt: a baked badge image, a certificate PDF (`issue` defaults)."""

    bake: Literal["png", "svg"] | None = None
    pdf: bool = False
    receipts: Literal["auto", "dir", "jsonl", "zip"] = "auto"
    """The form receipts are written in: a file each, one JSON Lines file, or one zip (`issue --receipts`);
    `auto`, a file each up to 100,000 receipts and one JSON Lines file for larger batches."""


class ShareConfig(_Section):
    """Where credentials can be seen: the public address of the web verifier (`credanchor serve`), whose
    credential pages are `{base_url}/credentials/{uuid}`. Without it no verification or LinkedIn URL is made."""

    base_url: HttpUrl | None = None


WHERE_SMTP_LOGIN_GOES = (
    "the SMTP password never goes in credanchor.toml: put it in a file named by [smtp] password_file or "
    "CREDANCHOR_SMTP_PASSWORD_FILE, or in the environment variable CREDANCHOR_SMTP_PASSWORD"
)


class SmtpConfig(_Section):
    """The mail server `credanchor notify` sends through; the password never lives in this file.

    `starttls` upgrades the connection before anything else is said (refused if the server does not offer
    it); without it a password is only ever sent to a server on this machine. `ca_file` names the PEM
    certificates to trust instead of the system's (a private mail server's own CA). `rate` bounds the messages
    sent per second, so a big batch does not trip the provider's limits.
    """

    host: str = "127.0.0.1"
    port: int = Field(default=587, gt=0, lt=65536)
    sender: Annotated[str, AfterValidator(_email)] | None = None
    username: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    password_file: str | None = None
    starttls: bool = True
    ca_file: str | None = None
    rate: float = Field(default=5.0, gt=0, le=1000)
    timeout: float = Field(default=30.0, gt=0, le=600)

    @model_validator(mode="before")
    @classmethod
    def _no_password(cls, data: Any) -> Any:
        if isinstance(data, dict) and "password" in data:
            raise ValueError(WHERE_SMTP_LOGIN_GOES)
        return data


class WebConfig(_Section):
    """`credanchor serve`: where it listens and what it accepts."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, gt=0, lt=65536)
    max_upload: int = Field(default=8 * 1024 * 1024, ge=4096, le=64 * 1024 * 1024)
    """Bytes a request body may have (an uploaded receipt, baked badge or certificate PDF); more is a 413."""
    time_limit: float = Field(default=15.0, gt=0, le=300)
    """Seconds a request may take to arrive and be verified; longer is a 408 or 503."""
    cache_seconds: float = Field(default=5.0, ge=0, le=3600)
    """How long the chain's answers (head block, each root's anchor and revocations) are reused."""
    trust: str | None = None
    """The operator's trust list file (TOML or JSON), beside the workspace's own registry."""


MAX_CHAINS = 8


class Config(_Section):
    issuer: IssuerConfig
    chain: ChainConfig
    """The home chain: `[chain]`, or the first `[[chain]]` entry. Delivery waits for its anchor."""
    additional_chains: tuple[ChainConfig, ...] = ()
    """The `[[chain]]` entries after the first: each batch is anchored there too, none holds up delivery."""
    database: DatabaseConfig = DatabaseConfig()
    key: KeyConfig = KeyConfig()
    signing: SigningConfig = SigningConfig()
    records: RecordsConfig = RecordsConfig()
    earner: EarnerConfig = EarnerConfig()
    share: ShareConfig = ShareConfig()
    smtp: SmtpConfig = SmtpConfig()
    web: WebConfig = WebConfig()

    @model_validator(mode="before")
    @classmethod
    def _chain_entries(cls, data: Any) -> Any:
        """`[[chain]]` entries: the first is the home chain, the others are additional."""
        if not isinstance(data, dict):
            return data
        if "additional_chains" in data:
            raise ValueError("additional_chains: unknown section (list more chains as [[chain]] entries)")
        entries = data.get("chain")
        if not isinstance(entries, list):
            return data
        if not entries:
            raise ValueError("chain: no [[chain]] entry")
        if len(entries) > MAX_CHAINS:
            raise ValueError(f"chain: {len(entries)} [[chain]] entries; at most {MAX_CHAINS}")
        return {**data, "chain": entries[0], "additional_chains": tuple(entries[1:])}

    @model_validator(mode="after")
    def _distinct_chains(self) -> "Config":
        seen: set[int] = set()
        for entry in self.chains:
            if entry.chain_id in seen:
                raise ValueError(f"chain: two [[chain]] entries for chain id {entry.chain_id}; one registry per chain")
            seen.add(entry.chain_id)
        return self

    @property
    def chains(self) -> tuple[ChainConfig, ...]:
        """Every chain a batch is anchored on, the home chain first."""
        return (self.chain, *self.additional_chains)

    def chain_by_id(self, chain_id: int) -> tuple[int, ChainConfig]:
        """The entry (its index among `chains`) for `chain_id`."""
        for index, entry in enumerate(self.chains):
            if entry.chain_id == chain_id:
                return index, entry
        known = ", ".join(str(c.chain_id) for c in self.chains)
        raise InvalidInput(f"chain {chain_id} is not configured (configured: {known})")


def load_config(path: Path) -> Config:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: not valid TOML: {exc}") from None
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(f"{path}: {describe(exc)}") from None
    for header, target in unknown_targets(config.records.columns):
        raise InvalidInput(f"{path}: records.columns maps {header!r} to unknown field {target!r}")
    return config


def unknown_targets(columns: dict[str, str]) -> list[tuple[str, str]]:
    """(header, target) of every column mapped to something that is neither a record field nor "ignore"."""
    return [(header, target) for header, target in columns.items() if target not in (*FIELDS, IGNORE)]


def toml_value(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def set_value(path: Path, section: str, key: str, value: str | int | float | bool, index: int = 0) -> None:
    """Set `key` in `[section]` (or in its `index`th `[[section]]` entry) to `value`, rewriting only that line
    (or adding it at the section's end).

    The new text is validated before it replaces the file, atomically.
    """
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    header = re.compile(r"^\s*(\[\[?)([^\]]+)\]\]?\s*(#.*)?$")
    assignment = re.compile(rf"^\s*{re.escape(key)}\s*=")
    new_line = f"{key} = {toml_value(value)}\n"
    entries: dict[str, int] = {}
    inside = False
    found_section = False
    insert_at = None
    for i, line in enumerate(lines):
        found = header.match(line)
        if found:
            if inside:
                break
            name = found.group(2).strip()
            entry = entries.get(name, -1) + 1 if found.group(1) == "[[" else 0
            entries[name] = entry
            inside = name == section and entry == index
            if inside:
                found_section = True
                insert_at = i + 1
        elif inside and assignment.match(line):
            lines[i] = new_line
            insert_at = None
            break
        elif inside and line.strip() and not line.lstrip().startswith("#"):
            insert_at = i + 1
    if not found_section:
        where = f"[{section}]" if index == 0 else f"[[{section}]] entry {index + 1}"
        raise InvalidInput(f"{path}: has no {where} section")
    if insert_at is not None:
        lines.insert(insert_at, new_line)
    text = "".join(lines)
    try:
        Config.model_validate(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise InvalidInput(f"{path}: setting {section}.{key} would make it invalid: {exc}") from None
    atomic_write_text(path, text)


def add_chain_entry(path: Path, entry: dict[str, str | int | float | bool]) -> None:
    """Append a `[[chain]]` entry (a `[chain]` table becomes the first entry), validated before writing."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^(\s*)\[chain\](\s*(#.*)?)$", r"\1[[chain]]\2", text, count=1)
    body = "".join(f"{key} = {toml_value(value)}\n" for key, value in entry.items())
    text = text.rstrip("\n") + "\n\n[[chain]]\n" + body
    try:
        Config.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path}: adding a chain would make it invalid: {exc}") from None
    except ValidationError as exc:
        raise InvalidInput(f"{path}: adding a chain would make it invalid: {describe(exc)}") from None
    atomic_write_text(path, text)
