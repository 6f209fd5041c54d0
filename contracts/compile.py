"""Compile `CredentialRegistry.sol` with py-solc-x through solc-js and write the committed artifact.

py-solc-x cannot download a native solc here, so it is pointed at `hardhat-local/solc-standard-json.js`, a
native-compatible front for the pinned npm `solc`. Imports resolve from `hardhat-local/node_modules`, whose
versions `package-lock.json` pins: the same inputs give the same bytecode, which a test checks.

Run `python -m contracts.compile` after changing the source; `--check` only compares.
"""

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import solcx
from solcx.wrapper import get_solc_version

from contracts import ARTIFACT_NAME, CONTRACT_NAME, SOURCE_NAME

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SOURCE_KEY = f"contracts/{SOURCE_NAME}"
SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 10_000},
    "evmVersion": "cancun",
    "metadata": {"bytecodeHash": "ipfs"},
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "storageLayout"]}},
}


def solc_front() -> Path:
    """The solc-js front, from CREDANCHOR_SOLC or the repository's hardhat-local."""
    configured = os.environ.get("CREDANCHOR_SOLC")
    path = Path(configured) if configured else REPO / "hardhat-local" / "solc-standard-json.js"
    if not path.is_file():
        raise SystemExit(f"solc front not found at {path}: run `make setup` (npm ci in hardhat-local)")
    return path


def compile_registry() -> dict[str, Any]:
    solc = solc_front()
    source = (HERE / SOURCE_NAME).read_text(encoding="utf-8")
    standard_input = {"language": "Solidity", "sources": {SOURCE_KEY: {"content": source}}, "settings": SETTINGS}
    # The front resolves imports against its own node_modules, wherever it runs from.
    output = solcx.compile_standard(standard_input, solc_binary=solc)
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise SystemExit("\n".join(e.get("formattedMessage", e["message"]) for e in errors))
    contract = output["contracts"][SOURCE_KEY][CONTRACT_NAME]
    version = str(get_solc_version(solc, with_commit_hash=True))
    return {
        "contractName": CONTRACT_NAME,
        "sourceName": SOURCE_KEY,
        "sourceSha256": hashlib.sha256(source.encode()).hexdigest(),
        "compiler": {"name": "solc-js", "version": version, "settings": SETTINGS},
        "abi": contract["abi"],
        "bytecode": "0x" + contract["evm"]["bytecode"]["object"],
        "deployedBytecode": "0x" + contract["evm"]["deployedBytecode"]["object"],
        "storageLayout": contract["storageLayout"],
    }


def render(artifact: dict[str, Any]) -> str:
    return json.dumps(artifact, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed artifact, write nothing")
    args = parser.parse_args(argv)
    fresh = render(compile_registry())
    target = HERE / ARTIFACT_NAME
    if args.check:
        same = target.is_file() and target.read_text(encoding="utf-8") == fresh
        print("artifact is up to date" if same else f"{target} differs from a fresh compile")
        return 0 if same else 1
    target.write_text(fresh, encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
