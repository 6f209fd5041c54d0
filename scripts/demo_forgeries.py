"""Demo helper: make the two forgeries `make demo` shows being rejected.

1. forged-signature.json: a receipt whose proofValue was altered (the anchor itself still holds).
2. other-issuer.json: another college's signed credential, anchored in *this* registry by this registry's
   own anchoring key: a registry the verifier trusts trying to vouch for an issuer it is not bound to.

Usage: python scripts/demo_forgeries.py WORKSPACE RECEIPT OUT_DIR
"""

import copy
import json
import sys
import uuid
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from anchoring.chain import Chain
from anchoring.credential import credential_digest
from anchoring.dataintegrity import Signer
from anchoring.hashing import to_hex
from anchoring.merkle import MerkleTree
from anchoring.multibase import encode_multikey
from anchoring.receipt import receipt_document, unix_to_utc
from anchoring.sender import TxSender
from credanchor.wiring import account
from issuer.workspace import open_workspace

OTHER_ISSUER = "did:web:other-college.example.org"


def main(workspace: Path, receipt_path: Path, out: Path) -> None:
    receipt = json.loads(receipt_path.read_text())

    forged = copy.deepcopy(receipt)
    proof = forged["credential"]["proof"][0]
    proof["proofValue"] = proof["proofValue"][:-6] + ("111111" if not proof["proofValue"].endswith("1") else "222222")
    (out / "forged-signature.json").write_text(json.dumps(forged, indent=2))

    ws = open_workspace(workspace)
    other_key = Ed25519PrivateKey.generate()
    method = f"{OTHER_ISSUER}#{encode_multikey(other_key.public_key().public_bytes_raw())}"
    credential = {k: v for k, v in receipt["credential"].items() if k != "proof"}
    credential["id"] = f"urn:uuid:{uuid.uuid4()}"
    credential["issuer"] = {"id": OTHER_ISSUER, "type": ["Profile"], "name": "Other College"}
    signer = Signer(other_key.private_bytes_raw(), "eddsa-rdfc-2022", method, proof["created"])
    credential["proof"] = [signer.sign(credential)]
    digest = credential_digest(credential)
    tree = MerkleTree.build([digest])
    chain = Chain(ws.config.chain.rpc_url)
    registry = chain.registry(ws.config.chain.registry)
    sender = TxSender(chain, account(ws))
    mined = sender.wait_mined(sender.send(registry.contract.functions.anchor(tree.root, 1)).tx_hash, timeout=60)
    anchor = {
        "chainId": chain.chain_id,
        "registry": registry.address,
        "txHash": mined.tx_hash,
        "blockNumber": mined.block_number,
        "timestamp": unix_to_utc(int(chain.block(mined.block_number)["timestamp"])),
    }
    document = receipt_document(credential, to_hex(digest), to_hex(tree.leaf(0)), [], to_hex(tree.root), anchor)
    (out / "other-issuer.json").write_text(json.dumps(document, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
