"""The registry contract: its Solidity source and the committed compiled artifact.

Loading the artifact needs no compiler; only `contracts.compile` (run by developers, and by the test that
checks the artifact is reproducible) does.
"""

import json
from functools import cache
from importlib import resources
from typing import Any

ARTIFACT_NAME = "CredentialRegistry.json"
SOURCE_NAME = "CredentialRegistry.sol"
CONTRACT_NAME = "CredentialRegistry"


@cache
def load_artifact() -> dict[str, Any]:
    text = resources.files(__package__).joinpath(ARTIFACT_NAME).read_text(encoding="utf-8")
    artifact: dict[str, Any] = json.loads(text)
    return artifact


def registry_abi() -> list[dict[str, Any]]:
    abi: list[dict[str, Any]] = load_artifact()["abi"]
    return abi
