"""One root for every error credanchor raises on purpose.

Bad data (exit 2) is kept apart from data that does not check out (exit 1) and from failed I/O with the chain
(exit 3). The CLI catches `CredanchorError` once, prints the message and exits with the class's code, so a
message must stand on its own: a short fact with the values that matter.
"""


class CredanchorError(Exception):
    exit_code = 1


class InvalidInput(CredanchorError):
    """Malformed input: a receipt, CSV, template, config or argument that cannot be used as given."""

    exit_code = 2


class InvalidReceipt(InvalidInput):
    """A receipt that does not parse or does not match the receipt schema."""


class VerificationFailed(CredanchorError):
    """Well-formed data that does not check out."""


class ChainUnavailable(CredanchorError):
    """The node could not be asked (unreachable, timed out, or answered garbage).

    `answered` is true when the node did answer, with a JSON-RPC error: only then can its words be read as a
    refusal (a lost connection says nothing about whether a sent transaction arrived).
    """

    exit_code = 3

    def __init__(self, message: str, *, answered: bool = False) -> None:
        super().__init__(message)
        self.answered = answered


class ChainMismatch(CredanchorError):
    """The node answered, but it is not the chain (or the contract) the caller expected."""


class NotARegistry(ChainMismatch):
    """The address holds a contract, but it does not answer as a CredentialRegistry."""


class TransactionFailed(CredanchorError):
    """A transaction was rejected or reverted."""
