"""Imports flow issuer -> anchoring <- verifier, and the pure core does no I/O (checked with `ast`)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent.parent
PACKAGES = ("anchoring", "contracts", "issuer", "verifier", "credanchor")
IO_MODULES = {"web3", "requests", "socket", "subprocess", "sqlmodel", "sqlalchemy", "urllib", "http", "eth_account"}
IMPURE_OURS = {
    "anchoring.chain",
    "anchoring.sender",
    "anchoring.localnode",
    "anchoring.files",
    "issuer",
    "verifier.service",
}
PURE = [
    "anchoring/merkle.py",
    "anchoring/hashing.py",
    "anchoring/credential.py",
    "anchoring/receipt.py",
    "anchoring/onchain.py",
    "anchoring/errors.py",
    "anchoring/jsonld.py",
    "anchoring/rdfc.py",
    "anchoring/rdfshape.py",
    "anchoring/multibase.py",
    "anchoring/dataintegrity.py",
    "anchoring/baking.py",
    "anchoring/pngchunks.py",
    "anchoring/svgsafe.py",
    "anchoring/carriers.py",
    "anchoring/pdfcarrier.py",
    "verifier/checks.py",
    "issuer/table.py",
    "issuer/delivery.py",
]
# Modules that read only data files shipped inside their own package (read-only, pinned, like importing code),
# so the pure modules above may import them: no user files, no network, nothing that differs per machine.
PACKAGE_DATA_READERS = {
    "anchoring/contexts/__init__.py": "serves the bundled JSON-LD contexts, each checked against its pinned sha256",
}


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def package_imports(package: str) -> dict[str, set[str]]:
    return {str(p.relative_to(ROOT)): imports(p) for p in (ROOT / package).rglob("*.py")}


def offenders(package: str, forbidden: set[str]) -> list[str]:
    return [
        f"{file}: {name}"
        for file, names in package_imports(package).items()
        for name in sorted(names)
        if name.split(".")[0] in forbidden or name in forbidden
    ]


def test_verifier_never_imports_the_issuer_or_the_database() -> None:
    assert offenders("verifier", {"issuer", "sqlmodel", "sqlalchemy", "credanchor"}) == []


def test_anchoring_imports_neither_side() -> None:
    assert offenders("anchoring", {"issuer", "verifier", "credanchor"}) == []


def test_issuer_does_not_import_the_verifier() -> None:
    assert offenders("issuer", {"verifier", "credanchor"}) == []


def test_contracts_is_a_leaf() -> None:
    assert offenders("contracts", {"anchoring", "issuer", "verifier", "credanchor"}) == []


@pytest.mark.parametrize("module", PURE)
def test_pure_core_does_no_io(module: str) -> None:
    names = imports(ROOT / module)
    bad = [
        n for n in names if n.split(".")[0] in IO_MODULES or any(n == m or n.startswith(m + ".") for m in IMPURE_OURS)
    ]
    assert bad == []
    source = (ROOT / module).read_text()
    for call in ("open(", "datetime.now(", "time.time(", ".read_bytes(", ".read_text("):
        assert call not in source, f"{module} calls {call}"


@pytest.mark.parametrize("module", sorted(PACKAGE_DATA_READERS))
def test_package_data_readers_read_only_their_own_package(module: str) -> None:
    names = imports(ROOT / module)
    assert [n for n in names if n.split(".")[0] in IO_MODULES | {"pathlib", "os", "io"}] == []
    source = (ROOT / module).read_text()
    assert "resources.files(__package__)" in source
    for call in ("open(", "Path(", "datetime.now(", "time.time("):
        assert call not in source, f"{module} calls {call}"


def test_sqlmodel_tables_live_only_in_the_store() -> None:
    users = [
        f for p in PACKAGES for f, names in package_imports(p).items() if "sqlmodel" in {n.split(".")[0] for n in names}
    ]
    assert users == ["issuer/store.py"]
