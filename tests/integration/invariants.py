"""What must hold after any crash of `credanchor issue`, checked on chain, in the database and on disk."""

import json
from collections import Counter
from pathlib import Path
from typing import Any

from anchoring.chain import Chain
from issuer.store import State, Store
from issuer.workspace import Workspace


def receipt_files(ws: Workspace) -> list[Path]:
    return sorted(p for p in ws.receipts_dir.rglob("*.json") if p.parent.name != "manifest")


def check_anytime(ws: Workspace, chain: Chain) -> list[str]:
    """Invariants that hold at every moment, even right after a SIGKILL."""
    violations = []
    store = Store(ws.database_url)
    registry = chain.registry(ws.config.chain.registry)
    head = chain.block_number()
    anchors = [e for e in registry.events(0, head) if e.name == "Anchored"]
    per_root = Counter(e.args["root"] for e in anchors)
    batches = {b.root: b for b in store.batches()}
    violations += [f"root {r} anchored {n} times" for r, n in per_root.items() if n > 1]
    violations += [f"root {r} anchored but in no batch" for r in per_root if r not in batches]
    emails = Counter((b.achievement_id, c.email) for b in batches.values() for c in store.credentials(b.id or 0))
    violations += [
        f"{email} holds {achievement} in {n} credentials" for (achievement, email), n in emails.items() if n > 1
    ]
    confirmations = ws.config.chain.confirmations
    anchors_of: dict[str, Any] = {}
    for path in receipt_files(ws):
        try:
            receipt = json.loads(path.read_text())
        except ValueError:
            violations.append(f"{path} is not complete JSON")
            continue
        root, block = receipt["merkle"]["root"], receipt["anchor"]["blockNumber"]
        if root not in anchors_of:
            anchors_of[root] = registry.anchor_of(root)
        anchor = anchors_of[root]
        if anchor is None:
            violations.append(f"{path} names root {root}, which is not anchored")
        elif anchor.block_number != block or head - block + 1 < confirmations:
            violations.append(f"{path} names block {block}; anchored in {anchor.block_number}, head {head}")
    store.close()
    return violations


def check_finished(ws: Workspace, chain: Chain, expected_batches: int, expected_credentials: int) -> list[str]:
    """After the re-run: every batch delivered, each anchored exactly once, one receipt per credential."""
    violations = check_anytime(ws, chain)
    store = Store(ws.database_url)
    batches = list(store.batches())
    if len(batches) != expected_batches:
        violations.append(f"{len(batches)} batches in the database, expected {expected_batches}")
    violations += [f"batch {b.id} is {b.state}" for b in batches if b.state != State.DELIVERED]
    registry = chain.registry(ws.config.chain.registry)
    anchored = {e.args["root"] for e in registry.events(0, chain.block_number()) if e.name == "Anchored"}
    violations += [f"batch {b.id} root not anchored" for b in batches if b.root not in anchored]
    credentials = sum(b.count for b in batches)
    if credentials != expected_credentials:
        violations.append(f"{credentials} credentials, expected {expected_credentials}")
    receipts = {p.stem for p in receipt_files(ws)}
    for b in batches:
        missing = [c.id for c in store.credentials(b.id or 0) if c.id.removeprefix("urn:uuid:") not in receipts]
        if missing:
            violations.append(f"batch {b.id}: {len(missing)} credentials without a receipt")
    store.close()
    return violations
