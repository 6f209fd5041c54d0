"""Our roots and proofs, judged by OpenZeppelin's own JS library (@openzeppelin/merkle-tree, pinned)."""

import json
import os
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest

from anchoring.hashing import to_hex
from anchoring.merkle import MerkleTree

SCRIPT = Path(__file__).parent.parent.parent / "hardhat-local" / "oz-merkle-check.js"


def openzeppelin(batches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    result = subprocess.run(
        ["node", str(SCRIPT)],
        input=json.dumps({"batches": batches}),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    answer: list[dict[str, Any]] = json.loads(result.stdout)
    return answer


def test_random_batches_verify_with_openzeppelin_js() -> None:
    rng = random.Random(20261129)
    batches: list[dict[str, Any]] = []
    for n in [1, 2, 3, 5, 8, 13, 64, 65, 257, *(rng.randint(1, 400) for _ in range(6))]:
        digests = [os.urandom(32) for _ in range(n)]
        tree = MerkleTree.build(digests)
        proofs = [{"digest": to_hex(d), "proof": [to_hex(p) for p in tree.proof(i)]} for i, d in enumerate(digests)]
        batches.append({"digests": [to_hex(d) for d in digests], "proofs": proofs, "root": to_hex(tree.root)})
    answers = openzeppelin(batches)
    for batch, answer in zip(batches, answers, strict=True):
        assert answer["root"] == batch["root"]
        assert all(answer["verified"]), f"OZ rejected a proof in a batch of {len(batch['digests'])}"


def test_openzeppelin_js_rejects_a_tampered_proof() -> None:
    digests = [os.urandom(32) for _ in range(9)]
    tree = MerkleTree.build(digests)
    proof = [to_hex(p) for p in tree.proof(4)]
    proof[0] = proof[0][:-1] + ("0" if proof[0][-1] != "0" else "1")
    batch = {
        "digests": [to_hex(d) for d in digests],
        "proofs": [{"digest": to_hex(digests[4]), "proof": proof}],
        "root": to_hex(tree.root),
    }
    assert openzeppelin([batch])[0]["verified"] == [False]


@pytest.mark.parametrize("n", [1, 17, 100])
def test_receipt_members_are_lowercase_hex_as_openzeppelin_requires(n: int) -> None:
    digests = [os.urandom(32) for _ in range(n)]
    tree = MerkleTree.build(digests)
    for value in [to_hex(tree.root), *(to_hex(p) for p in tree.proof(0))]:
        assert value == value.lower()
