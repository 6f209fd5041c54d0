"""The issuer side: workspace, key, templates, records, batches, revocation, the local chain. Imports
`anchoring`, never `verifier` (the CLI wires the verifier in as the issuer's self-check)."""
