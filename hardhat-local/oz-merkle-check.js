#!/usr/bin/env node
// Cross-check for the test suite: OpenZeppelin's own StandardMerkleTree judges our roots and proofs.
// stdin: {"batches": [{"digests": [...], "proofs": [{"digest", "proof"}], "root"}]}
// stdout: [{"root": <OZ's root for the digests>, "verified": [<StandardMerkleTree.verify per proof>]}]
"use strict";
const fs = require("fs");
const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");

const input = JSON.parse(fs.readFileSync(0, "utf8"));
const out = input.batches.map((batch) => {
  const tree = StandardMerkleTree.of(batch.digests.map((d) => [d]), ["bytes32"]);
  const verified = batch.proofs.map((p) => StandardMerkleTree.verify(batch.root, ["bytes32"], [p.digest], p.proof));
  return { root: tree.root, verified };
});
process.stdout.write(JSON.stringify(out));
