"""Shared core of credanchor: canonical digests, the Merkle tree, the receipt model, the chain client and
local node control. Nothing here imports `issuer` or `verifier`."""
