"""credanchor benchmarks: every figure next to a baseline measured in the same run.

    python -m benchmarks.run [--only merkle,startup,gas,batch,pdf,records,signing,notify,bake,verifyrate]
                             [--leaves 1000000] [--records 100000]
                             [--credentials 10000]

- merkle: build the tree and every proof for N leaves (in C, `anchoring._keccak`, when it is built); baselines,
  at the same N in the same run: the pure-Python path (on every core by processes, used where no C compiler
  was found), the previous build (one process, sort by key, proofs node by node), the same tree built the
  textbook way (keccak through eth-hash's default backend, each proof walked separately), and the raw keccak
  floor (three pysha3 calls a leaf, one process).
- startup: `credanchor verify` of one receipt, whole process, online (Anvil) and offline (benchmarks/startup.py);
  baselines: `python -c pass` and `python -c "import credanchor"`.
- gas: gas of one anchor (any batch size) on a real Anvil node; baseline: an OpenAttestation-style
  DocumentStore `issue` (owner check, one mapping write, one event), compiled here with the same solc-js.
- batch: N records end to end through `credanchor issue` on a local Anvil chain (validate, build, anchor,
  write, self-check); baseline: the same command for 1,000 records, as a per-record rate.
- verify: `credanchor verify` on 1,000 receipts of one batch; baseline: the issuer's parallel self-check.
- pdf: `issue --pdf` of 1,000 records (certificate PDFs written and self-checked); baseline: `issue` of
  1,000 records without them, in the same workspace and run. Also `credanchor certificate` on 1,000 receipts
  alone, and `verify` of 1,000 PDFs against `verify` of their receipts.
- records: reading and checking N records (100,000 by default) from an .xlsx workbook, the way `issue`
  does before anything else; baseline: the same rows as CSV.
- web: `POST /api/v1/verify` on a real `credanchor serve --workers 2` (benchmarks/web.py): requests/s and p99
  for receipts of one batch and of many batches, and without the chain cache; baseline: a static file.
- bake: a 1,000-record batch issued with `issue --bake png` and `--bake svg` (end to end); baseline: the same
  size of batch issued without baking, same run and node. Also the baking step alone (`issuer.baked.
  bake_receipts`: bake, read back and check, write) over the baseline batch's 1,000 receipts, PNG and SVG.
- signing: N credentials built, signed with Data Integrity eddsa-jcs-2022 and eddsa-rdfc-2022, hashed and
  encoded for the store on every core, as `credanchor issue` does (`issuer.batchbuild.build_chunks`); baseline:
  building them one by one and computing their digests, unsigned, in one process. CPU seconds (workers
  included) are given beside wall time, since other work on the machine stretches the latter. For reference,
  it also times RDFC canonicalisation per credential, plain pyld against the shape-cached fast path, on one
  core.
- verifyrate: receipts of one batch verified in one process (10,000, version 2 with evidence and version 1),
  with and without the signature check, and revocation status of 100 batches x 100 receipts of one registry
  (node requests, time); baseline: the code before this work, same receipts and node (benchmarks/verifyrate.py).
- million (only when named): `credanchor issue --timings` of 1,000,000 records, eddsa-jcs-2022, receipts in
  the default form (`auto`: one JSON Lines file at this size), with the stage table and the peak memory of the
  process tree (benchmarks/million.py); baseline: a 10,000-record batch through the same command (a file per
  receipt at that size).
- crashmillion (only when named): a SIGKILL of `credanchor issue` of 1,000,000 records once the anchor is on chain
  and a third of the receipts are written, then `credanchor resume`: nothing signed or anchored again, every
  receipt delivered (benchmarks/crashmillion.py); baseline: a 10,000-record batch through the same commands.
- notify: e-mailing a 1,000-credential batch to a local SMTP server; baseline: issuing it (benchmarks/notify.py).
- receipts: writing 100,000 receipts of one batch as files, JSON Lines and zip (baseline: files), and `verify`
  of a 10,000-receipt .jsonl and .zip against the same receipts as files (benchmarks/receipts.py).
"""

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from eth_account import Account
from eth_hash.auto import keccak as eth_hash_keccak
from eth_utils.address import to_checksum_address
from sha3 import keccak_256

from anchoring import merkle
from anchoring.batchsign import SignerSpec
from anchoring.chain import Chain
from anchoring.credential import credential_digest
from anchoring.dataintegrity import JCS, RDFC, proofs_of, verify_proof
from anchoring.hashing import keccak256
from anchoring.jsonld import JsonLd, bundled
from anchoring.localnode import LocalNode, free_port
from anchoring.merkle import MerkleTree
from anchoring.sender import TxSender
from benchmarks.notify import bench_notify
from benchmarks.startup import bench_startup
from issuer.batchbuild import BatchJob, build_chunks
from issuer.chainops import fund_locally
from issuer.config import IssuerConfig
from issuer.credentials import build_credential
from issuer.records import Record
from issuer.templates import Template
from issuer.workspace import EXAMPLE_TEMPLATE

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")
CLI = [sys.executable, "-m", "credanchor"]
BASELINE_STORE = """
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;
contract DocumentStoreBaseline {
    address public owner = msg.sender;
    mapping(bytes32 => uint256) public documentIssued;
    event DocumentIssued(bytes32 indexed document);
    function issue(bytes32 document) external {
        require(msg.sender == owner, "not owner");
        require(documentIssued[document] == 0, "issued");
        documentIssued[document] = block.number;
        emit DocumentIssued(document);
    }
}
"""


def timed(work: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def naive_tree(digests: list[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """The textbook build: eth-hash keccak, then every proof walked up the array on its own."""
    n = len(digests)
    leaves = sorted(eth_hash_keccak(eth_hash_keccak(d)) for d in digests)
    nodes: list[bytes] = [b""] * (2 * n - 1)
    for k, leaf in enumerate(leaves):
        nodes[2 * n - 2 - k] = leaf
    for j in range(n - 2, -1, -1):
        a, b = nodes[2 * j + 1], nodes[2 * j + 2]
        nodes[j] = eth_hash_keccak(a + b if a < b else b + a)
    proofs = []
    for slot in range(n - 1, 2 * n - 1):
        proof, j = [], slot
        while j > 0:
            proof.append(nodes[j - 1] if j % 2 == 0 else nodes[j + 1])
            j = (j - 1) // 2
        proofs.append(proof)
    return nodes[0], proofs


def previous_tree(digests: list[bytes]) -> tuple[bytes, list[tuple[bytes, ...]]]:
    """The build this project used before (kept as the baseline): leaves hashed in one process, sorted by key,
    the node array filled by index, every proof built node by node, collections left on."""
    n = len(digests)
    leaves = [keccak_256(keccak_256(d).digest()).digest() for d in digests]
    order = sorted(range(n), key=leaves.__getitem__)
    size = 2 * n - 1
    nodes: list[bytes] = [b""] * size
    positions = [0] * n
    for rank, index in enumerate(order):
        nodes[size - 1 - rank] = leaves[index]
        positions[index] = size - 1 - rank
    for rank in range(1, n):
        if nodes[size - rank] == nodes[size - 1 - rank]:
            raise ValueError("duplicate leaf")
    for j in range(n - 2, -1, -1):
        a, b = nodes[2 * j + 1], nodes[2 * j + 2]
        nodes[j] = keccak_256(a + b).digest() if a < b else keccak_256(b + a).digest()
    by_node: list[tuple[bytes, ...]] = [()] * size
    for j in range(1, size):
        sibling = nodes[j - 1] if j % 2 == 0 else nodes[j + 1]
        by_node[j] = (sibling, *by_node[(j - 1) >> 1])
    return nodes[0], [by_node[p] for p in positions]


def _build_and_proofs(digests: list[bytes], *, pure: bool) -> tuple[MerkleTree, float, float]:
    """Build and every proof, timed apart; `pure`: with the C part set aside (the path of a machine without it)."""
    with merkle.pure_python() if pure else nullcontext():
        tree, build = timed(lambda: MerkleTree.build(digests))
        _, proofs = timed(tree.proofs)
    return tree, build, proofs


def bench_merkle(leaves: int) -> dict[str, Any]:
    digests = [os.urandom(32) for _ in range(leaves)]
    (previous_root, _), previous = timed(lambda: previous_tree(digests))
    pure_tree, pure_build, pure_proofs = _build_and_proofs(digests, pure=True)
    tree, build, proofs = _build_and_proofs(digests, pure=False)
    ours = build + proofs
    assert tree.root == previous_root == pure_tree.root
    del pure_tree
    _, pure_build_again, pure_proofs_again = _build_and_proofs(digests, pure=True)  # before and after: load drifts
    pure = min(pure_build + pure_proofs, pure_build_again + pure_proofs_again)
    (_, _), previous_again = timed(lambda: previous_tree(digests))  # before and after ours: load drifts
    _, floor = timed(lambda: [keccak256(d) for d in digests for _ in range(3)])
    sample = digests[: min(leaves, 200_000)]
    (naive_root, _), naive = timed(lambda: naive_tree(sample))
    small, small_time = timed(lambda: (t := MerkleTree.build(sample), t.proofs()))
    assert naive_root == small[0].root
    return {
        "leaves": leaves,
        "cores": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "native": merkle.native_built(),
        "build_s": round(build, 2),
        "proofs_s": round(proofs, 2),
        "total_s": round(ours, 2),
        "target_s": 3.0,
        "pure_python_build_and_proofs_s": [
            [round(pure_build, 2), round(pure_proofs, 2)],
            [round(pure_build_again, 2), round(pure_proofs_again, 2)],
        ],
        "speedup_vs_pure_python": round(pure / ours, 2),
        "previous_build_and_proofs_s": [round(previous, 2), round(previous_again, 2)],
        "speedup_vs_previous": round(min(previous, previous_again) / ours, 2),
        "raw_keccak_floor_s": round(floor, 2),
        "total_vs_floor": round(ours / floor, 2),
        "baseline_leaves": len(sample),
        "textbook_s": round(naive, 2),
        "ours_same_size_s": round(small_time, 2),
        "speedup_vs_textbook": round(naive / small_time, 1),
        "credential_digest_us": bench_digest(),
    }


def _hash_repeatedly(way: Callable[[bytes], bytes], data: bytes, count: int) -> None:
    for _ in range(count):
        way(data)


def bench_digest(size: int = 2_200, count: int = 20_000, rounds: int = 5) -> dict[str, Any]:
    """keccak256 of one credential's canonical bytes (a signed one here is about 2,200 bytes; each is hashed once
    when it is built and once by the self-check): microseconds a hash, best of `rounds` alternated rounds, through
    the permutation chosen for this CPU; baselines in the same rounds: the portable permutation (any x86-64, the
    one chosen where a CPU lacks BMI) and pysha3."""
    data = os.urandom(size)
    ways: dict[str, Callable[[bytes], bytes]] = {"pysha3": lambda d: keccak_256(d).digest()}
    if merkle.native_built():
        from anchoring import _keccak

        ways = {"chosen": _keccak.keccak256, "portable": _keccak.keccak256_portable, **ways}
    best = dict.fromkeys(ways, float("inf"))
    for _ in range(rounds):
        for name, way in ways.items():
            _, took = timed(partial(_hash_repeatedly, way, data, count))
            best[name] = min(best[name], took / count * 1e6)
    result: dict[str, Any] = {"bytes": size, **{name: round(us, 2) for name, us in best.items()}}
    if merkle.native_built():
        from anchoring import _keccak

        result["permutation"] = _keccak.PERMUTATION
        result["chosen_vs_portable"] = round(best["portable"] / best["chosen"], 2)
        result["chosen_vs_pysha3"] = round(best["pysha3"] / best["chosen"], 2)
    return result


class LocalChain:
    def __init__(self, folder: Path) -> None:
        self.node = LocalNode(folder)
        self.info = self.node.start(free_port())
        self.chain = Chain(self.info.url)

    def close(self) -> None:
        self.node.stop()


def bench_gas(folder: Path) -> dict[str, Any]:
    import solcx

    from contracts.compile import solc_front

    local = LocalChain(folder / "gas")
    try:
        account = Account.create()
        fund_locally(local.chain, account.address)
        sender = TxSender(local.chain, account)
        deployed = sender.deploy_registry(admin_delay=0, issuer_id="did:web:bench.example.edu")
        registry = local.chain.registry(deployed.contract_address or "")
        ours = {}
        for count in (1, 1_000, 1_000_000):
            root = os.urandom(32)
            mined = sender.wait_mined(sender.send(registry.contract.functions.anchor(root, count)).tx_hash, timeout=30)
            ours[count] = mined.gas_used
        add_key = registry.contract.functions.addSigningKey(os.urandom(32))
        key_gas = sender.wait_mined(sender.send(add_key).tx_hash, timeout=30).gas_used
        compiled = solcx.compile_standard(
            {
                "language": "Solidity",
                "sources": {"Baseline.sol": {"content": BASELINE_STORE}},
                "settings": {
                    "optimizer": {"enabled": True, "runs": 10_000},
                    "evmVersion": "cancun",
                    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
                },
            },
            solc_binary=solc_front(),
        )["contracts"]["Baseline.sol"]["DocumentStoreBaseline"]
        factory = local.chain.w3.eth.contract(abi=compiled["abi"], bytecode=compiled["evm"]["bytecode"]["object"])
        deployed = sender.wait_mined(sender.send(factory.constructor()).tx_hash, timeout=30)
        store = local.chain.w3.eth.contract(
            address=to_checksum_address(deployed.contract_address or ""), abi=compiled["abi"]
        )
        baseline = sender.wait_mined(sender.send(store.functions.issue(os.urandom(32))).tx_hash, timeout=30).gas_used
    finally:
        local.close()
    worst = max(ours.values())
    return {
        "anchor_gas_by_batch_size": ours,
        "anchor_gas_max": worst,
        "document_store_issue_gas": baseline,
        "anchor_vs_document_store": round(worst / baseline, 3),
        "limit": 50_000,
        "add_signing_key_gas": key_gas,
    }


def run_cli(*args: str | Path, cwd: Path | None = None) -> float:
    start = time.perf_counter()
    subprocess.run([*CLI, *map(str, args)], check=True, cwd=cwd, stdout=subprocess.DEVNULL)  # noqa: S603
    return time.perf_counter() - start


def write_records(path: Path, n: int, prefix: str) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "name", "credits_earned", "result"])
        for i in range(n):
            writer.writerow([f"{prefix}{i}@example.edu", f"Student {i}", "2", "B"])
    return path


def bench_batch(folder: Path, records: int) -> dict[str, Any]:
    ws = folder / "batch-ws"
    run_cli("init", ws, "--scrypt-n", "16384", "--port", str(free_port()))
    run_cli("chain", "up", "-w", ws)
    try:
        small = run_cli("issue", write_records(folder / "small.csv", 1_000, "s"), "--achievement", "example", "-w", ws)
        out = folder / "big-out"
        big_csv = write_records(folder / "big.csv", records, "b")
        big = run_cli("issue", big_csv, "--achievement", "example", "--out", out, "-w", ws)
        sample = sorted(out.glob("*.json"))[:1000]
        verify = run_cli("verify", *sample, "--json", "-w", ws)
    finally:
        run_cli("chain", "down", "-w", ws)
    return {
        "records": records,
        "end_to_end_s": round(big, 1),
        "records_per_s": round(records / big),
        "baseline_1000_records_s": round(small, 1),
        "per_record_cost_vs_1000_batch": round((big / records) / (small / 1_000), 2),
        "verify_1000_receipts_cli_s": round(verify, 2),
        "verify_receipts_per_s": round(1000 / verify),
    }


def bench_bake(folder: Path, n: int = 1_000) -> dict[str, Any]:
    from issuer.badgeimage import default_png, default_svg
    from issuer.baked import bake_receipts

    ws = folder / "bake-ws"
    run_cli("init", ws, "--scrypt-n", "16384", "--port", str(free_port()))
    run_cli("chain", "up", "-w", ws)
    try:
        out = folder / "plain-out"
        plain = run_cli(
            "issue", write_records(folder / "p.csv", n, "p"), "--achievement", "example", "--out", out, "-w", ws
        )
        png = run_cli(
            "issue", write_records(folder / "g.csv", n, "g"), "--achievement", "example", "--bake", "png", "-w", ws
        )
        svg = run_cli(
            "issue", write_records(folder / "v.csv", n, "v"), "--achievement", "example", "--bake", "svg", "-w", ws
        )
    finally:
        run_cli("chain", "down", "-w", ws)
    receipts = sorted(out.glob("*.json"))
    _, png_only = timed(lambda: bake_receipts(default_png("Example", "Example University"), receipts, "png"))
    _, svg_only = timed(lambda: bake_receipts(default_svg("Example", "Example University"), receipts, "svg"))
    return {
        "records": n,
        "issue_without_baking_s": round(plain, 2),
        "issue_bake_png_s": round(png, 2),
        "issue_bake_svg_s": round(svg, 2),
        "png_vs_baseline": round(png / plain, 2),
        "svg_vs_baseline": round(svg / plain, 2),
        "bake_step_png_s": round(png_only, 2),
        "bake_step_svg_s": round(svg_only, 2),
        "png_bytes_each": (out / receipts[0].with_suffix(".png").name).stat().st_size,
        "svg_bytes_each": (out / receipts[0].with_suffix(".svg").name).stat().st_size,
    }


def bench_pdf(folder: Path, records: int = 1_000) -> dict[str, Any]:
    """Certificate PDFs for a batch: `issue --pdf` against `issue` of the same number of records (both in this
    run, one workspace and node), `credanchor certificate` alone, and `verify` on the PDFs against the receipts."""
    ws = folder / "pdf-ws"
    run_cli("init", ws, "--scrypt-n", "16384", "--port", str(free_port()))
    run_cli("chain", "up", "-w", ws)
    try:
        plain_out, pdf_out = folder / "plain-out", folder / "pdf-out"
        plain = run_cli("issue", write_records(folder / "plain.csv", records, "p"), "--achievement", "example",
                        "--out", plain_out, "-w", ws)  # fmt: skip
        with_pdf = run_cli("issue", write_records(folder / "pdf.csv", records, "q"), "--achievement", "example",
                           "--out", pdf_out, "--pdf", "-w", ws)  # fmt: skip
        receipts = sorted(plain_out.glob("*.json"))
        alone = run_cli("certificate", *receipts, "-o", folder / "certs", "-w", ws)
        pdfs = sorted(pdf_out.glob("*.pdf"))
        verify_pdfs = run_cli("verify", *pdfs, "--json", "-w", ws)
        verify_json = run_cli("verify", *sorted(pdf_out.glob("*.json")), "--json", "-w", ws)
    finally:
        run_cli("chain", "down", "-w", ws)
    sizes = [p.stat().st_size for p in pdfs]
    return {
        "records": records,
        "issue_s": round(plain, 1),
        "issue_with_pdf_s": round(with_pdf, 1),
        "pdf_share_of_issue_with_pdf": round((with_pdf - plain) / with_pdf, 2),
        "certificate_cli_s": round(alone, 1),
        "pdfs_per_s": round(records / alone),
        "pdf_bytes_mean": round(sum(sizes) / len(sizes)),
        "verify_pdfs_s": round(verify_pdfs, 1),
        "verify_receipts_s": round(verify_json, 1),
    }


def write_record_files(folder: Path, n: int) -> tuple[Path, Path]:
    """The same n records as an .xlsx workbook (date and number cells) and as CSV.

    The workbook is written the way Excel writes one (shared strings, the sheet's dimension first), not in
    openpyxl's write-only mode, whose inline strings and missing dimension make reading it about 1.3x slower.
    """
    import openpyxl

    header = ["email", "name", "issue_date", "credits_earned", "result"]
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Records"
    sheet.append(header)
    csv_path = folder / "records.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i in range(n):
            row = [f"student{i}@example.edu", f"Student {i}", date(2026, 6, 30), 2.5, "B"]
            sheet.append(row)
            writer.writerow([*row[:2], "2026-06-30", "2.5", "B"])
    xlsx_path = folder / "records.xlsx"
    book.save(xlsx_path)
    return xlsx_path, csv_path


def bench_records(folder: Path, n: int) -> dict[str, Any]:
    from issuer.batch import read_records_file
    from issuer.records import parse_table, read_table
    from issuer.templates import Template

    template = Template.model_validate(
        {"key": "bench", "name": "B", "description": "D", "criteria": "C", "credits_available": 3.0}
    )
    xlsx_path, csv_path = write_record_files(folder, n)

    def read(path: Path) -> int:
        table = read_table(read_records_file(path), str(path))
        return len(parse_table(table, str(path), {}, template))

    runs = 3
    xlsx_s = min(timed(lambda: read(xlsx_path))[1] for _ in range(runs))
    csv_s = min(timed(lambda: read(csv_path))[1] for _ in range(runs))
    assert read(xlsx_path) == read(csv_path) == n
    return {
        "records": n,
        "xlsx_bytes": xlsx_path.stat().st_size,
        "csv_bytes": csv_path.stat().st_size,
        "xlsx_read_s": round(xlsx_s, 2),
        "csv_read_s": round(csv_s, 2),
        "xlsx_vs_csv": round(xlsx_s / csv_s, 1),
        "best_of": runs,
    }


def batch_job(count: int, spec: SignerSpec) -> BatchJob:
    """A batch as `credanchor issue` sees it: one template's Achievement shared, one record per credential."""
    import tomllib

    template = Template.model_validate({**tomllib.loads(EXAMPLE_TEMPLATE), "key": "example"})
    issuer = IssuerConfig(id="https://registrar.example.edu", name="Example University", url="https://example.edu")
    records = [
        Record(row=i + 2, email=f"s{i}@example.edu", name=f"Student {i}", credits_earned=2.0, result="B")
        for i in range(count)
    ]
    return BatchJob(records, template, issuer, template.achievement(issuer.id), datetime.now(UTC), spec)


def build_credentials(count: int) -> list[dict[str, Any]]:
    """The batch's credentials built one by one, unsigned."""
    job = batch_job(count, SignerSpec.of(bytes(32), JCS, "https://registrar.example.edu#key-1", datetime.now(UTC)))
    return [build_credential(r, job.template, job.issuer, job.achievement, job.issued_at) for r in job.records]


def per_credential_ms(work: Callable[[dict[str, Any]], object], documents: list[dict[str, Any]]) -> float:
    _, seconds = timed(lambda: [work(d) for d in documents])
    return round(1000 * seconds / len(documents), 3)


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the worker pools), user + system."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def bench_signing(count: int) -> dict[str, Any]:
    from pyld import jsonld as pyld_jsonld

    def unsigned() -> list[dict[str, Any]]:
        documents = build_credentials(count)
        for document in documents:
            credential_digest(document)
        return documents

    documents, baseline = timed(unsigned)
    seed = os.urandom(32)
    created = datetime.now(UTC)
    results: dict[str, Any] = {
        "credentials": count,
        "cores": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "baseline_build_and_digest_s": round(baseline, 2),
    }
    for suite, target in ((JCS, 2.0), (RDFC, 20.0)):
        spec = SignerSpec.of(seed, suite, "https://registrar.example.edu#key-1", created)
        job = batch_job(count, spec)
        start, cpu_start = time.perf_counter(), cpu_seconds()
        signed = [document for chunk in build_chunks(job) for document in chunk.documents]
        seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
        public = spec.signer().public_key
        for i in range(0, count, max(1, count // 50)):  # a sample of the proofs, checked the slow way
            secured = json.loads(signed[i])
            verify_proof(secured, proofs_of(secured)[0], public)
        name = suite.removeprefix("eddsa-").removesuffix("-2022")
        results[f"sign_{name}_s"] = round(seconds, 2)
        results[f"sign_{name}_cpu_s"] = round(cpu, 2)
        results[f"sign_{name}_target_s"] = target
        results[f"sign_{name}_vs_baseline"] = round(seconds / baseline, 2)
    sample = documents[:200]
    processor: JsonLd = bundled()

    options = {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": processor.document_loader}
    results["rdfc_plain_pyld_ms_per_credential"] = per_credential_ms(
        lambda d: pyld_jsonld.normalize(d, options), sample
    )
    results["rdfc_safe_plain_ms_per_credential"] = per_credential_ms(processor.canonical_nquads_plain, sample)
    fresh = JsonLd({url: processor.document(url) for url in processor.urls})
    fast_sample = documents[: min(count, 5000)]
    results["rdfc_fast_ms_per_credential"] = per_credential_ms(fresh.canonical_nquads, fast_sample)
    assert all(fresh.canonical_nquads(d) == processor.canonical_nquads_plain(d) for d in sample)
    results["rdfc_fast_speedup"] = round(
        results["rdfc_plain_pyld_ms_per_credential"] / results["rdfc_fast_ms_per_credential"], 1
    )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="credanchor benchmarks")
    parser.add_argument(
        "--only",
        default="merkle,startup,gas,batch,pdf,records,signing,notify,bake,web,evidence,verifyrate,receipts",
        help="comma-separated: merkle, startup, gas, batch, pdf, records, signing, notify, bake, web, evidence, "
        "verifyrate, receipts",
    )
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--million", type=int, default=1_000_000, help="records for `--only million`")
    parser.add_argument("--credentials", type=int, default=10_000, help="credentials to sign (signing)")
    args = parser.parse_args(argv)
    wanted = set(args.only.split(","))
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
    with tempfile.TemporaryDirectory(prefix="credanchor-bench-") as tmp:
        folder = Path(tmp)
        if "merkle" in wanted:
            results["merkle"] = bench_merkle(args.leaves)
            print(json.dumps({"merkle": results["merkle"]}), flush=True)
        if "startup" in wanted:
            results["startup"] = bench_startup(folder)
            print(json.dumps({"startup": results["startup"]}), flush=True)
        if "gas" in wanted:
            results["gas"] = bench_gas(folder)
            print(json.dumps({"gas": results["gas"]}), flush=True)
        if "batch" in wanted:
            results["batch"] = bench_batch(folder, args.records)
            print(json.dumps({"batch": results["batch"]}), flush=True)
        if "pdf" in wanted:
            results["pdf"] = bench_pdf(folder)
            print(json.dumps({"pdf": results["pdf"]}), flush=True)
        if "records" in wanted:
            results["records"] = bench_records(folder, args.records)
            print(json.dumps({"records": results["records"]}), flush=True)
        if "bake" in wanted:
            results["bake"] = bench_bake(folder)
            print(json.dumps({"bake": results["bake"]}), flush=True)
        if "signing" in wanted:
            results["signing"] = bench_signing(args.credentials)
            print(json.dumps({"signing": results["signing"]}), flush=True)
        if "web" in wanted:
            from benchmarks import web

            results["web"] = web.run(folder / "web", count=2000, concurrency=16, workers=2)
            print(json.dumps({"web": results["web"]}), flush=True)
        if "million" in wanted:  # not in the default set: about 20 minutes on 2 cores
            from benchmarks.million import bench_million

            results["million"] = bench_million(folder / "million", args.million, "eddsa-jcs-2022")
            print(json.dumps({"million": results["million"]}), flush=True)
        if "crashmillion" in wanted:  # not in the default set: about half an hour on 2 cores
            from benchmarks.crashmillion import bench_crash_million

            results["crashmillion"] = bench_crash_million(folder / "crash", args.million)
            print(json.dumps({"crashmillion": results["crashmillion"]}), flush=True)
        if "evidence" in wanted:
            from benchmarks import evidence

            results["evidence"] = evidence.run(folder / "evidence")
            print(json.dumps({"evidence": results["evidence"]}), flush=True)
        if "verifyrate" in wanted:
            from benchmarks import verifyrate

            results["verifyrate"] = verifyrate.run(folder / "verifyrate")
            print(json.dumps({"verifyrate": results["verifyrate"]}), flush=True)
        if "receipts" in wanted:
            from benchmarks import receipts

            results["receipts"] = receipts.run(folder / "receipts", args.records, args.credentials)
            print(json.dumps({"receipts": results["receipts"]}), flush=True)
        if "notify" in wanted:
            results["notify"] = bench_notify(folder)
            print(json.dumps({"notify": results["notify"]}), flush=True)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
