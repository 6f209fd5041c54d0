"""The issuer's public identity documents, as the web serves them: the OB 3.0 Profile and the DID (or
controller) document listing the signing keys the registry knows.

Invariants: the documents are those `credanchor profile export` writes (same functions); the key list is
read from the registry and reused for the configured cache time; a node that cannot be asked is a 503.
"""

import threading
import time
from typing import Any

from anchoring.chain import Chain
from anchoring.errors import ChainMismatch, ChainUnavailable
from credanchor.web.context import Context
from credanchor.web.uploads import UploadError
from issuer.identity import published_keys
from issuer.profile import controller_document, profile_document
from issuer.roles import Roles
from issuer.workspace import Workspace

_lock = threading.Lock()
_cached: dict[str, tuple[float, dict[str, Any]]] = {}


def profile(workspace: Workspace) -> dict[str, Any]:
    return profile_document(workspace.config.issuer)


def controller(context: Context, workspace: Workspace) -> dict[str, Any]:
    with _lock:
        found = _cached.get(str(workspace.root))
        if found is not None and time.monotonic() - found[0] < context.settings.cache_seconds:
            return found[1]
    config = workspace.config
    roles = None
    if config.chain.registry:
        chain = Chain(context.settings.rpc_url or config.chain.rpc_url, timeout=config.chain.rpc_timeout)
        roles = Roles(chain, chain.registry(config.chain.registry), None, config.chain.tx_timeout)
    try:
        document = controller_document(config.issuer.id, published_keys(workspace, roles))
    except (ChainUnavailable, ChainMismatch) as exc:
        raise UploadError(503, f"The issuer's keys could not be read from the chain: {exc}") from None
    with _lock:
        _cached[str(workspace.root)] = (time.monotonic(), document)
    return document
