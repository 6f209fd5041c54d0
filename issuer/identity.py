"""Exporting the issuer's identity documents for the web: the Profile and the DID (or controller) document.

Invariants: the keys published are exactly those the registry lists (with revocation times), or, before a
registry exists, the workspace's own signing key; files are written atomically and never hold a secret.
"""

import json
from datetime import UTC, datetime
from pathlib import Path

from anchoring.files import atomic_write_text
from anchoring.receipt import utc_seconds
from issuer.profile import PublishedKey, controller_document, hosting_url, profile_document
from issuer.roles import Roles
from issuer.signing import signing_multikey
from issuer.workspace import Workspace


def published_keys(workspace: Workspace, roles: Roles | None) -> list[PublishedKey]:
    if roles is None:
        return [PublishedKey(signing_multikey(workspace.signing_key_path))]
    keys = []
    for record in roles.status().signing_keys:
        revoked_at = None
        if record.revoked_block:
            moment = int(roles.chain.block(record.revoked_block)["timestamp"])
            revoked_at = utc_seconds(datetime.fromtimestamp(moment, UTC))
        keys.append(PublishedKey(record.multikey, revoked_at))
    return keys


def export_profile(workspace: Workspace, folder: Path, roles: Roles | None) -> list[tuple[Path, str | None]]:
    """Write profile.json and did.json (did:web issuer) or controller.json; return each path and its URL."""
    issuer = workspace.config.issuer
    folder.mkdir(parents=True, exist_ok=True)
    profile = folder / "profile.json"
    atomic_write_text(profile, json.dumps(profile_document(issuer), indent=2, ensure_ascii=False) + "\n")
    name = "did.json" if issuer.id.startswith("did:web:") else "controller.json"
    controller = folder / name
    document = controller_document(issuer.id, published_keys(workspace, roles))
    atomic_write_text(controller, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    url = hosting_url(issuer.id) if issuer.id.startswith(("did:web:", "http")) else None
    return [(profile, None), (controller, url)]
