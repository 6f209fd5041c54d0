"""Auditing a registry from the chain alone: every anchor, revocation, role change and signing key since
deployment, and the issuer id the registry is bound to.

Invariants: the audit needs only a node and the registry's address (plus, optionally, the issuer's
published manifests), never the issuer's database. `assemble` is pure: events, block times and manifests
in, a report with every finding out. Role holders are replayed from the role events themselves, so an
anchor or revocation by an account that did not hold the role at that point is flagged.
"""

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from anchoring.chain import ANCHOR_ROLE, DEFAULT_ADMIN_ROLE, KEY_ADMIN_ROLE, REVOKE_ROLE, ROLE_NAMES, Chain
from anchoring.errors import InvalidInput
from anchoring.hashing import short, to_hex
from anchoring.jsonio import read_head, read_limited
from anchoring.merkle import MerkleTree
from anchoring.multibase import encode_multikey
from anchoring.onchain import RegistryEvent, RoleBook
from anchoring.progress import Progress, Silent
from anchoring.receipt import MAX_MANIFEST_BYTES, Manifest, ManifestAnchor, utc_seconds

_KIND = {
    "Anchored": "anchor",
    "CredentialRevoked": "credential-revoked",
    "BatchRevoked": "batch-revoked",
    "IssuerBound": "issuer-bound",
    "SigningKeyAdded": "signing-key-added",
    "SigningKeyRevoked": "signing-key-revoked",
    "RoleGranted": "role-granted",
    "RoleRevoked": "role-revoked",
    "RoleAdminChanged": "role-admin-changed",
    "DefaultAdminTransferScheduled": "admin-transfer-scheduled",
    "DefaultAdminTransferCanceled": "admin-transfer-canceled",
    "DefaultAdminDelayChangeScheduled": "admin-delay-change-scheduled",
    "DefaultAdminDelayChangeCanceled": "admin-delay-change-canceled",
}


@dataclass(frozen=True)
class LoadedManifest:
    path: str
    manifest: Manifest
    recomputed_root: str


NOT_A_MANIFEST, COPY, MALFORMED, TOO_LARGE, UNREADABLE, CONFLICTING = (
    "not a manifest",
    "copy",
    "malformed",
    "too large",
    "unreadable",
    "conflicting",
)
_NOTICES = (NOT_A_MANIFEST, COPY)
_MARK = b'"BatchManifest"'
_HEAD = 4096


@dataclass(frozen=True)
class Unchecked:
    """A file under the manifests folder that was not checked as a manifest, and why.

    Only a file that is surely not a manifest (or an identical copy of one checked) is a notice; anything
    that is or may be a manifest and was not checked fails the audit.
    """

    path: str
    reason: str
    detail: str = ""

    @property
    def fails(self) -> bool:
        return self.reason not in _NOTICES

    def describe(self) -> str:
        return f"{self.path}: not checked ({self.reason})" + (f": {self.detail}" if self.detail else "")


@dataclass(frozen=True)
class Entry:
    kind: str
    block: int
    time: str
    tx_hash: str
    sender: str
    summary: str
    flags: tuple[str, ...] = ()
    """Problems: the audit fails on any."""
    notices: tuple[str, ...] = ()
    """Worth a look but not wrong in itself: role and admin changes after deployment."""


@dataclass(frozen=True)
class AuditReport:
    registry: str
    chain_id: int
    from_block: int
    to_block: int
    entries: tuple[Entry, ...]
    problems: tuple[str, ...]
    notices: tuple[str, ...]
    anchors: int
    manifests: int
    roles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    unchecked: tuple[Unchecked, ...] = ()

    @property
    def clean(self) -> bool:
        return not self.problems


def load_manifests(folder: Path) -> tuple[list[LoadedManifest], list[Unchecked]]:
    """Every batch manifest under `folder` (recursively), and every other file with why it was not checked.

    A file whose first 4 KiB name the type "BatchManifest" (as every manifest credanchor writes does) is a
    manifest and is checked in full. Links to folders are not followed.
    """
    if not folder.is_dir():
        raise InvalidInput(f"manifests folder {folder} {'is not a folder' if folder.exists() else 'does not exist'}")
    found: dict[str, LoadedManifest] = {}
    unchecked: list[Unchecked] = []

    def unlistable(exc: OSError) -> None:
        unchecked.append(Unchecked(str(exc.filename), UNREADABLE, f"cannot list: {exc.strerror}"))

    paths: list[Path] = []
    for root, dirs, files in os.walk(folder, onerror=unlistable):
        links = {d for d in dirs if os.path.islink(os.path.join(root, d))}
        unchecked += [Unchecked(os.path.join(root, d), UNREADABLE, "a link to a folder, not followed") for d in links]
        dirs[:] = [d for d in dirs if d not in links]
        paths += [Path(root, name) for name in files]
    for path in sorted(paths):
        result = _examine(path)
        if isinstance(result, Unchecked):
            unchecked.append(result)
            continue
        first = found.get(result.manifest.root)
        if first is None:
            found[result.manifest.root] = result
        elif first.manifest == result.manifest:
            unchecked.append(Unchecked(result.path, COPY, f"the same manifest as {first.path}"))
        else:
            detail = f"{first.path} names root {first.manifest.root} too, with other contents"
            unchecked.append(Unchecked(result.path, CONFLICTING, detail))
    return list(found.values()), sorted(unchecked, key=lambda u: u.path)


def _examine(path: Path) -> LoadedManifest | Unchecked:
    """The manifest in the file, or why it was not checked."""
    try:
        head, size = read_head(path, _HEAD)
    except InvalidInput as exc:
        return Unchecked(str(path), UNREADABLE, _detail(exc, path))
    if _MARK not in head:
        return Unchecked(str(path), NOT_A_MANIFEST)
    if size > MAX_MANIFEST_BYTES:
        return Unchecked(str(path), TOO_LARGE, f"{size:,} bytes is over the limit of {MAX_MANIFEST_BYTES:,} bytes")
    try:
        data = read_limited(path, MAX_MANIFEST_BYTES)
    except InvalidInput as exc:
        return Unchecked(str(path), UNREADABLE, _detail(exc, path))
    try:
        manifest = Manifest.from_json(data, source=str(path))
        tree = MerkleTree.build([bytes.fromhex(d[2:]) for d in manifest.digests])
    except InvalidInput as exc:
        return Unchecked(str(path), MALFORMED, _detail(exc, path))
    except ValueError as exc:
        return Unchecked(str(path), MALFORMED, str(exc))
    return LoadedManifest(str(path), manifest, to_hex(tree.root))


def _detail(exc: InvalidInput, path: Path) -> str:
    return str(exc).removeprefix(f"{path}: ")


def collect(
    chain: Chain, registry_address: str, progress: Progress | None = None
) -> tuple[list[RegistryEvent], dict[int, int], dict[str, str], int, int]:
    """Read from the chain what `assemble` needs: events, block times, tx senders, block range."""
    progress = progress or Silent()
    registry = chain.registry(registry_address)
    registry.require_code()
    start = registry.deployment_block()
    head = chain.block_number()
    progress.stage(f"reading events of blocks {start}..{head}")
    events = list(registry.events(start, head))
    progress.stage("reading block times and senders", len(events))
    times: dict[int, int] = {}
    senders: dict[str, str] = {}
    for event in events:
        if event.block_number not in times:
            times[event.block_number] = int(chain.block(event.block_number)["timestamp"])
        if event.tx_hash not in senders:
            tx = chain.ask("eth_getTransactionByHash", lambda h=event.tx_hash: chain.w3.eth.get_transaction(h))  # type: ignore[misc]
            senders[event.tx_hash] = str(tx["from"])
        progress.advance()
    return events, times, senders, start, head


def assemble(
    registry: str,
    chain_id: int,
    events: Sequence[RegistryEvent],
    times: dict[int, int],
    senders: dict[str, str],
    from_block: int,
    to_block: int,
    manifests: Iterable[LoadedManifest] | None,
    unchecked: Sequence[Unchecked] = (),
) -> AuditReport:
    manifest_list = list(manifests) if manifests is not None else None
    by_root = {m.manifest.root: m for m in manifest_list or []}
    problems: list[str] = []
    notices: list[str] = []
    entries: list[Entry] = []
    book = RoleBook({ANCHOR_ROLE: set(), REVOKE_ROLE: set(), KEY_ADMIN_ROLE: set(), DEFAULT_ADMIN_ROLE: set()})
    anchored_roots: set[str] = set()
    for event in events:
        args = event.args
        sender = str(args.get("sender") or senders.get(event.tx_hash, ""))
        flags: list[str] = []
        notes: list[str] = []
        when = utc_seconds(datetime.fromtimestamp(times.get(event.block_number, 0), UTC))
        if event.name == "Anchored":
            root = str(args["root"])
            anchored_roots.add(root)
            summary = f"root {root} ({args['leafCount']} credentials)"
            if not book.has(ANCHOR_ROLE, sender):
                flags.append(f"anchored by {sender}, which did not hold the anchor role at block {event.block_number}")
            here = (chain_id, registry)
            flags += _manifest_flags(root, int(args["leafCount"]), event, by_root, manifest_list is not None, here)
        elif event.name in ("CredentialRevoked", "BatchRevoked"):
            leaf = f" leaf {args['leaf']}" if "leaf" in args else ""
            summary = f"root {args['root']}{leaf}: {args['reason']}"
            if not book.has(REVOKE_ROLE, sender):
                flags.append(f"revoked by {sender}, which did not hold the revoke role at block {event.block_number}")
        elif event.name == "IssuerBound":
            summary = f"registry bound to issuer {args['issuerId']}"
        elif event.name in ("SigningKeyAdded", "SigningKeyRevoked"):
            key = encode_multikey(bytes.fromhex(str(args["publicKey"])[2:]))
            added = event.name == "SigningKeyAdded"
            summary = f"signing key {key} " + ("added" if added else f"revoked: {args['reason']}")
            # Keys listed at deployment come from the constructor, before any role event can be read.
            if event.block_number != from_block:
                if not book.has(KEY_ADMIN_ROLE, sender):
                    flags.append(f"key change by {sender}, which did not hold the key-admin role at that block")
                notes.append(f"signing key change: {summary} by {sender}")
        elif event.name in ("RoleGranted", "RoleRevoked"):
            role = str(args["role"])
            account = str(args["account"])
            book.apply(event)
            change = "granted to" if event.name == "RoleGranted" else "revoked from"
            summary = f"{ROLE_NAMES.get(role, role)} role {change} {account}"
            if event.block_number != from_block:
                notes.append(f"role change: {summary} by {sender}")
        else:
            summary = ", ".join(f"{k}={v}" for k, v in args.items()) or event.name
            notes.append(f"admin change: {_KIND.get(event.name, event.name)} by {sender}")
        kind = _KIND.get(event.name, event.name)
        entries.append(
            Entry(kind, event.block_number, when, event.tx_hash, sender, summary, tuple(flags), tuple(notes))
        )
        where = f"block {event.block_number} tx {short(event.tx_hash)}"
        problems += [f"{where}: {flag}" for flag in flags]
        notices += [f"{where}: {note}" for note in notes]
    elsewhere = 0
    for root, loaded in by_root.items():
        if anchor_here(loaded.manifest, chain_id, registry) is None:
            # A batch anchored in other registries only (a folder of a workspace anchoring on several chains):
            # their business, audited with them.
            chains = ", ".join(f"chain {a.chain_id} registry {a.registry}" for a in loaded.manifest.anchors())
            notices.append(f"manifest {loaded.path}: anchored in {chains}, not in this registry; not checked here")
            elsewhere += 1
            continue
        if root not in anchored_roots:
            problems.append(f"manifest {loaded.path}: root {root} has no anchor in this registry")
        if loaded.recomputed_root != root:
            problems.append(f"manifest {loaded.path}: its digests give root {loaded.recomputed_root}, it names {root}")
    problems += [u.describe() for u in unchecked if u.fails]
    notices += [u.describe() for u in unchecked if not u.fails]
    anchors = sum(1 for e in entries if e.kind == "anchor")
    roles = {ROLE_NAMES.get(r, r): book.members(r) for r in book.holders}
    return AuditReport(
        registry,
        chain_id,
        from_block,
        to_block,
        tuple(entries),
        tuple(problems),
        tuple(notices),
        anchors,
        len(by_root) - elsewhere,
        roles,
        tuple(unchecked),
    )


def anchor_here(manifest: Manifest, chain_id: int, registry: str) -> ManifestAnchor | None:
    """The manifest's anchor in this registry on this chain (a version 3 manifest lists one per chain), or None
    when the batch is anchored elsewhere only."""
    for anchor in manifest.anchors():
        if anchor.chain_id == chain_id and anchor.registry.lower() == registry.lower():
            return anchor
    return None


def _manifest_flags(
    root: str,
    count: int,
    event: RegistryEvent,
    by_root: dict[str, LoadedManifest],
    have_manifests: bool,
    here: tuple[int, str],
) -> list[str]:
    loaded = by_root.get(root)
    if loaded is None:
        return ["anchor with no manifest"] if have_manifests else []
    flags = []
    manifest = loaded.manifest
    if loaded.recomputed_root != root:
        flags.append(f"manifest digests give root {short(loaded.recomputed_root)}, not the anchored root")
    if manifest.count != count:
        flags.append(f"manifest lists {manifest.count} credentials, the anchor says {count}")
    anchor = anchor_here(manifest, *here)
    if anchor is None:
        chains = ", ".join(str(a.chain_id) for a in manifest.anchors())
        flags.append(
            f"manifest {loaded.path} names no anchor in this registry on chain {here[0]} (its chains: {chains})"
        )
    elif anchor.tx_hash != event.tx_hash or anchor.block_number != event.block_number:
        flags.append(f"manifest names tx {short(anchor.tx_hash)} in block {anchor.block_number}")
    return flags
