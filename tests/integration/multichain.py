"""Genuine version 3 receipts for tests: a batch issued on one chain with the normal workspace flow, its root
anchored again on a second chain in a registry bound to the same issuer and signing key, that anchor's
evidence collected from the second node, and every receipt rewritten with both anchors."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from anchoring.chain import Chain, Registry
from anchoring.evidencecollect import collect
from anchoring.multibase import decode_multikey
from anchoring.receipt import Manifest, Receipt, dump_receipt, receipt_document, utc_seconds
from anchoring.sender import TxSender
from issuer.evidence import signing_keys_of
from issuer.signing import signing_multikey
from issuer.workspace import Workspace
from tests.conftest import CliResult, deploy, funded, people, write_csv


@dataclass
class TwoChains:
    ws: Workspace
    receipts: list[Path]
    """Version 3: anchored on the workspace's chain and on `chain`."""
    chain: Chain
    """The second chain (its node)."""
    registry: Registry
    """The workspace issuer's registry on the second chain."""
    account: LocalAccount
    """Holds every role in `registry`."""
    anchor: dict[str, Any]
    """The second anchor, as the receipts list it."""
    trust: Path
    """A trust list naming both registries (bound to the workspace's issuer)."""


def issue(cli: Any, ws: Workspace, n: int, out: Path, domain: str = "example.org") -> list[Path]:
    csv = write_csv(ws.root / "records.csv", people(n, domain))
    result: CliResult = cli("issue", csv, "--achievement", "example", "--out", out, "-w", ws.root)
    assert result.code == 0, result.err
    return sorted(out.glob("*-*-*-*-*.json"))


def anchor_again(chain: Chain, ws: Workspace, root: str, count: int) -> tuple[Registry, LocalAccount, dict[str, Any]]:
    """A registry for the workspace's issuer on `chain` (its signing key listed), with `root` anchored in it."""
    account = funded(chain)
    public_key = decode_multikey(signing_multikey(ws.signing_key_path))
    registry = deploy(chain, account, issuer_id=ws.config.issuer.id, signing_keys=(public_key,))
    sender = TxSender(chain, account)
    sent = sender.send(registry.contract.functions.anchor(bytes.fromhex(root[2:]), count))
    mined = sender.wait_mined(sent.tx_hash, timeout=30)
    block = chain.block(mined.block_number)
    anchor = {
        "chainId": chain.chain_id,
        "registry": registry.address,
        "txHash": mined.tx_hash,
        "blockNumber": mined.block_number,
        "timestamp": utc_seconds(datetime.fromtimestamp(int(block["timestamp"]), UTC)),
    }
    return registry, account, anchor


def with_second_anchor(files: list[Path], chain: Chain, registry: Registry, anchor: dict[str, Any]) -> None:
    """Rewrite each (version 2) receipt as version 3: its anchor, then `anchor`, and the evidence of both."""
    docs = [json.loads(path.read_text()) for path in files]
    root = docs[0]["merkle"]["root"]
    keys = signing_keys_of(json.dumps(docs[0]["credential"]))
    leaves = [doc["merkle"]["leaf"] for doc in docs]
    gathered = collect(chain, registry.address, root, leaves, keys, chain.block_number())
    for path, doc in zip(files, docs, strict=True):
        merkle = doc["merkle"]
        document = receipt_document(
            doc["credential"],
            doc["digest"],
            merkle["leaf"],
            [bytes.fromhex(p[2:]) for p in merkle["proof"]],
            root,
            doc["anchor"],
            evidence=[*doc["evidence"], gathered.for_leaf(merkle["leaf"])],
            additional_anchors=[anchor],
        )
        text = dump_receipt(document)
        assert Receipt.from_json(text.encode()).version == 3
        path.write_text(text)


def v3_manifest(world: "TwoChains", folder: Path) -> Path:
    """The batch's manifest as version 3, with the second anchor and its evidence, written to `folder`."""
    (source,) = world.ws.manifests_dir.glob("*.json")
    document = json.loads(source.read_text())
    receipt = json.loads(world.receipts[0].read_text())
    keys = signing_keys_of(json.dumps(receipt["credential"]))
    chain, leaf = world.chain, receipt["merkle"]["leaf"]
    gathered = collect(chain, world.registry.address, document["root"], [leaf], keys, chain.block_number())
    anchor = world.anchor
    document.update(version=3, additionalAnchors=[anchor], additionalEvidence=[gathered.shared_part()])
    folder.mkdir(exist_ok=True)
    path = folder / source.name
    path.write_text(json.dumps(document))
    assert Manifest.from_json(path.read_bytes()).version == 3
    return path


def trust_both(ws: Workspace, registry: Registry, path: Path) -> Path:
    entries = [(ws.config.chain.chain_id, ws.config.chain.registry), (registry.chain.chain_id, registry.address)]
    path.write_text(
        "".join(
            f'[[registry]]\nname = "Test University"\nchain_id = {chain_id}\naddress = "{address}"\n'
            f'issuer_id = "{ws.config.issuer.id}"\n\n'
            for chain_id, address in entries
        )
    )
    return path


def two_chains(cli: Any, ws: Workspace, second: Chain, tmp_path: Path, n: int = 3) -> TwoChains:
    files = issue(cli, ws, n, tmp_path / "out")
    first = json.loads(files[0].read_text())
    registry, account, anchor = anchor_again(second, ws, first["merkle"]["root"], n)
    with_second_anchor(files, second, registry, anchor)
    return TwoChains(ws, files, second, registry, account, anchor, trust_both(ws, registry, tmp_path / "trust.toml"))
