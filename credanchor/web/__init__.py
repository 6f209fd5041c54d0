"""The web verifier (`credanchor serve`): a second shell beside the CLI.

Invariants: it parses requests, wires adapters and renders what a service returned; every verdict comes from
`verifier.service.Session.verify_bytes`, the CLI's own code. Nothing in anchoring/, issuer/ or verifier/
imports this package. The trust list and the node are the operator's, never taken from a request; uploads
are held in memory only, for the request, and never stored.
"""
