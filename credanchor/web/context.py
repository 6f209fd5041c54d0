"""Everything a request needs, built once per worker process: workspace, store, trust list, cached node.

Invariants: the trust list and node come from the operator's settings and workspace only; counts of page
views and verifications are kept in memory and added to the workspace database every few seconds and at
shutdown (one write per flush, not per request), keyed by day and credential, never by visitor.
"""

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError

from anchoring.chain import Chain
from anchoring.errors import CredanchorError
from anchoring.jsonio import parse_json
from anchoring.receipt import MAX_RECEIPT_BYTES
from anchoring.receiptfiles import read_receipt_at
from credanchor import wiring
from credanchor.web.settings import WebSettings
from issuer.store import Store, StoreError, add_counts, credential_digest
from issuer.workspace import Workspace, open_workspace
from verifier.cached import CachedReader
from verifier.checks import Report, malformed
from verifier.multichain import NodeGroups, OneSession, Verifier
from verifier.service import ChainReader, Session
from verifier.trust import TrustList

KNOWN_CREDENTIALS = 100_000
"""Credentials of the workspace whose (digest, batch) a worker remembers, so counting costs no query."""


class HitCounter:
    """Page views and verifications of the workspace's credentials, counted in memory until flushed."""

    def __init__(self, store: Store | None) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._pending: Counter[tuple[str, str, str, int]] = Counter()

    def count(self, kind: str, credential_id: str, batch_id: int) -> None:
        if self._store is None:
            return
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        with self._lock:
            self._pending[(day, kind, credential_id, batch_id)] += 1

    def flush(self) -> bool:
        """Add the counts so far to the database; False, with the counts kept for the next flush, when it
        cannot take them now (SQLite's write lock held past its busy timeout: a large batch holds it while it
        is stored and while its receipts are written)."""
        if self._store is None:
            return True
        with self._lock:
            pending, self._pending = dict(self._pending), Counter()
        try:
            add_counts(self._store, pending)
        except (DBAPIError, StoreError):  # busy (StoreError), or any other failure of the database
            with self._lock:
                self._pending.update(pending)
            return False
        return True


@dataclass
class Context:
    settings: WebSettings
    workspace: Workspace | None
    store: Store | None
    trust: TrustList
    chains: list[Chain]
    """The nodes: the one named in the settings, else the workspace's (one per chain it anchors on)."""
    readers: dict[str, CachedReader]
    """A cached reader per node, by URL."""
    counter: HitCounter
    min_confirmations: int
    _known: dict[str, tuple[str, int]] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: WebSettings) -> "Context":
        workspace = open_workspace(Path(settings.workspace)) if settings.workspace else None
        trust_file = settings.trust_file
        if trust_file is None and workspace is not None and workspace.config.web.trust:
            trust_file = str(workspace.root / workspace.config.web.trust)
        trust = wiring.trust_list(workspace, Path(trust_file) if trust_file else None)
        urls = [settings.rpc_url] if settings.rpc_url else wiring.verifier_nodes(workspace) if workspace else []
        timeout = workspace.config.chain.rpc_timeout if workspace else 10.0
        chains = [wiring.reading_node(url, timeout) for url in urls]
        readers = {c.url: CachedReader(partial(ChainReader, c), settings.cache_seconds) for c in chains}
        store = Store(workspace.database_url) if workspace is not None else None
        confirmations = settings.min_confirmations or (workspace.config.chain.confirmations if workspace else 1)
        return cls(settings, workspace, store, trust, chains, readers, HitCounter(store), confirmations)

    def verifier(self) -> Verifier:
        """A verifier for one request: each receipt's anchors checked on the nodes of their chains (anchors on
        a chain no node serves are not checked, and the others decide), all read at one head per chain."""
        readers = list(self.readers.values())
        only = readers[0] if len(readers) == 1 else None
        session = Session(
            (lambda: only) if only is not None else None,
            self.trust,
            datetime.now(UTC),
            min_confirmations=self.min_confirmations,
        )
        if len(readers) < 2:
            return Verifier(session, OneSession(session))
        return Verifier(session, NodeGroups(session, self.chains, reader=lambda chain: self.readers[chain.url]))

    def verify(self, data: bytes, source: str, *, count: bool = True) -> Report:
        """One file, verified exactly as `credanchor verify` does; with `count`, a verification of one of this
        workspace's credentials is counted (a credential page's own verification is counted as a view)."""
        if len(data) > MAX_RECEIPT_BYTES and data.lstrip()[:1] in (b"{", b"["):
            # A receipt file is limited before it is parsed, as `verify_file` does for the CLI.
            return malformed(source, f"{source}: {len(data):,} bytes is over the limit of {MAX_RECEIPT_BYTES:,} bytes")
        report = self.verifier().verify_bytes(data, source)
        if count and self.store is not None and report.credential_id is not None and report.receipt is not None:
            known = self._known.get(report.credential_id)
            if known is None:  # a credential found once never changes; one not found may be issued later
                known = credential_digest(self.store, report.credential_id)
                if known is not None and len(self._known) < KNOWN_CREDENTIALS:
                    self._known[report.credential_id] = known
            if known is not None and known[0] == report.receipt.digest:
                self.counter.count("verify", report.credential_id, known[1])
        return report

    def receipt_for(self, credential: Mapping[str, Any]) -> dict[str, Any] | None:
        """The stored receipt of one of this workspace's delivered credentials, by the credential's id."""
        credential_id = credential.get("id")
        if self.store is None or not isinstance(credential_id, str) or len(credential_id) > 200:
            return None
        found = self.store.credential(credential_id)
        if found is None or not found.receipt_path:
            return None
        try:
            document = parse_json(read_receipt_at(found.receipt_path), found.receipt_path)
        except CredanchorError:
            return None
        return document if isinstance(document, dict) else None

    def close(self) -> None:
        self.counter.flush()
        if self.store is not None:
            self.store.close()
