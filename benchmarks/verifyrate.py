"""Verification rate in one process, and revocation status of many batches of one registry (`--only verifyrate`).

Baseline: the code as it was on main before this work (commit BASELINE_COMMIT, extracted with `git archive`),
run on the same receipts, node and machine in the same run, in a process of its own exactly like ours: one
`Session` over one node (`ChainReader`), `verify_bytes` on each receipt's bytes one after the other, no workers;
each report let go of once its verdict is counted, as the command does. Ours and the baseline are measured
alternately, VERIFYRATE_ROUNDS times (3), and each rate is the best of the rounds: a shared machine's slow
moments only slow a run down, and one run of each measured 10-20% either way.

- rate: 10,000 receipts of one batch issued by `credanchor issue` on a local Anvil node: version 2 (chain
  evidence) signed with eddsa-rdfc-2022 (the default) and with eddsa-jcs-2022, and version 1 (`[chain]
  evidence = false`, eddsa-rdfc-2022). CPU seconds of the verifying process (the machine is
  shared, so wall time is given too). The signature check (`verifier.signature.check_signature`: RDFC-1.0
  canonicalisation and Ed25519) is timed alone on a sample of the same credentials; "without signature" is
  the total less that per-receipt cost times the receipts. That check canonicalises the credential again,
  which the batch paths (the self-check, `verify` of many receipts) do not: for them the honest figure is
  "without Ed25519", the total less one Ed25519 verification a receipt (the libsodium call both trees make,
  timed in this process on 64-byte messages, what the eddsa suites verify). Where the tree's shortcut makes
  that call by name (`verifier.batchfast.ed25519_verifies`), the batch path is also run with the call
  answered at once, which measures the rest directly ("without_ed25519_measured"): the subtraction takes
  two measurements, each as noisy as the machine, for one.
  The same receipts also go through the issuer's self-check (one chunk, in this process, against the root
  read once: from their bytes, as the workers that write them check them since 304431b, or read from their
  files, `verify_batch`'s way, in a tree from before), the stage that dominates issuing a big batch, and
  (where the tree has it) the way `credanchor verify` takes many receipts (`verifier.batchfast.shortcut_verify`:
  after a batch's first valid receipt, each checked for its own parts).
- revocations: 100 batches x 100 receipts of one registry, anchored directly (eddsa-jcs-2022 signed), one
  credential revoked in each of 10 batches; node requests (every `Chain.ask`) and time of verifying all.
"""

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account import Account

from anchoring.chain import Chain
from anchoring.credential import credential_digest
from anchoring.dataintegrity import JCS, Signer
from anchoring.hashing import to_hex
from anchoring.localnode import LocalNode, free_port
from anchoring.merkle import MerkleTree
from anchoring.multibase import encode_multikey
from anchoring.receipt import dump_receipt, receipt_document, unix_to_utc
from anchoring.sender import TxSender

ROOT = Path(__file__).resolve().parent.parent
BASELINE_COMMIT = os.environ.get("VERIFYRATE_BASELINE", "9812256112a2603ddc86ee966e9ef024d2225dc8")
"""The code before the verification work; another commit (say, the last stop's) by VERIFYRATE_BASELINE."""
CLI = [sys.executable, "-m", "credanchor"]
SIGNATURE_SAMPLE = 2_000
ROUNDS = int(os.environ.get("VERIFYRATE_ROUNDS", "3"))
"""Each tree measured this many times, alternately, on the same receipts; each rate the best of them."""

# Runs in the tree under test (ours or the baseline's): only APIs both have.
MEASURE = r"""
import json, sys, time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from anchoring.chain import Chain
from anchoring.receipt import Receipt
from verifier.service import ChainReader, Session
from verifier.signature import check_signature
from verifier.trust import TrustList, trusted

args = json.loads(Path(sys.argv[1]).read_text())
asked = []
original = Chain.ask
def counting(self, what, call):
    asked.append(what)
    return original(self, what, call)
Chain.ask = counting
chain = Chain(args["rpc"])
trust = TrustList((trusted(args["chain_id"], args["registry"], "Bench", args["issuer_id"]),))
files = [Path(p) for p in args["files"]]
datas = [p.read_bytes() for p in files]
now = datetime.now(UTC)
session = Session(lambda: ChainReader(chain), trust, now)
wall, cpu = time.perf_counter(), time.process_time()
# Each report is let go of once its verdict is taken, as `credanchor verify` does (it keeps counts): reports kept
# alive would be scanned by the garbage collector again and again, a cost the command does not have.
verdicts = [session.verify_bytes(data, str(path)).verdict for data, path in zip(datas, files)]
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
result = {"n": len(datas), "cpu_s": cpu, "wall_s": wall, "requests": len(asked),
          "log_requests": asked.count("eth_getLogs"),
          "verdicts": dict(Counter(str(v) for v in verdicts))}
if args.get("self_check"):
    # The issuer's self-check: one chunk of every receipt in this process, against the root read once.
    from anchoring.hashing import to_hex
    from anchoring.multibase import decode_multikey
    from credanchor.wiring import ACCEPTED_BY_SELF_CHECK, batch_reader
    from verifier.batchcheck import _verify_chunk
    first = Receipt.from_json(datas[0])
    own_key = to_hex(decode_multikey(first.credential["proof"][0]["verificationMethod"].split("#")[1]))
    import inspect
    if "sample" in inspect.signature(batch_reader).parameters:  # a tree that read the block from a receipt
        reader = batch_reader(chain, args["registry"], first.merkle.root, own_key, first)
    else:  # the block each chain's evidence is from, by number
        from verifier.evidencecheck import block_of
        numbers = [block_of(p) for p in first.evidence or () if p.chain_id == chain.chain_id]
        block = next((n for n in numbers if n is not None), None)
        reader = batch_reader(chain, args["registry"], first.merkle.root, own_key, block)
    wall, cpu = time.perf_counter(), time.process_time()
    # What each self-check worker does with its chunks, here in this process (all receipts as one chunk).
    where = [str(f) for f in files]
    try:  # since a run's chunks share what they learn
        from verifier.batchcheck import _Run
    except ImportError:
        import inspect
        if len(inspect.signature(_verify_chunk).parameters) == 5:  # a tree whose chunks were lists of files
            found = _verify_chunk({reader.chain: reader}, 1, trust, now, files)
            count, failed = len(found), [r for r in found if r.verdict not in ACCEPTED_BY_SELF_CHECK]
        else:
            count, failed = _verify_chunk({reader.chain: reader}, 1, trust, now, ACCEPTED_BY_SELF_CHECK, where)
    else:
        run = _Run("self-check", {reader.chain: reader}, 1, trust, now, ACCEPTED_BY_SELF_CHECK)
        try:  # since the workers that write the receipts check them, from the bytes they wrote
            from verifier.batchcheck import _check
        except ImportError:
            count, failed = _verify_chunk(run, where)
        else:
            count, failed = len(datas), _check(run, list(zip(where, datas)))
    result["self_check_cpu_s"] = time.process_time() - cpu
    result["self_check_wall_s"] = time.perf_counter() - wall
    assert count == len(files) and not failed, failed[:1]
try:
    from verifier.batchfast import shortcut_verify
    from verifier.multichain import OneSession, Verifier
except ImportError:  # a tree from before the batch shortcut
    shortcut_verify = None
if shortcut_verify is not None:
    # `credanchor verify` of many receipts: after a batch's first valid receipt, each checked for its own parts.
    fresh = Session(lambda: ChainReader(chain), trust, now)
    verifier = Verifier(fresh, OneSession(fresh))
    verify = shortcut_verify(verifier.verify_bytes, verifier.known_revocation)
    wall, cpu = time.perf_counter(), time.process_time()
    batch_verdicts = [verify(data, str(path)).verdict for data, path in zip(datas, files)]
    result["batch_cpu_s"] = time.process_time() - cpu
    result["batch_wall_s"] = time.perf_counter() - wall
    assert batch_verdicts == verdicts
    import verifier.batchfast as batchfast
    if hasattr(batchfast, "ed25519_verifies"):
        # Again, with the shortcut's Ed25519 call answered at once: everything the path does but the signature
        # verifications themselves (counted separately), measured rather than subtracted.
        real = batchfast.ed25519_verifies
        batchfast.ed25519_verifies = lambda public_key, signature, data: True
        try:
            fresh = Session(lambda: ChainReader(chain), trust, now)
            verifier = Verifier(fresh, OneSession(fresh))
            verify = shortcut_verify(verifier.verify_bytes, verifier.known_revocation)
            cpu = time.process_time()
            stubbed = [verify(data, str(path)).verdict for data, path in zip(datas, files)]
            result["batch_no_ed25519_cpu_s"] = time.process_time() - cpu
        finally:
            batchfast.ed25519_verifies = real
        assert stubbed == verdicts
sample = args["signature_sample"]
if sample:
    credentials = [Receipt.from_json(d).credential for d in datas[:sample]]
    s_wall, s_cpu = time.perf_counter(), time.process_time()
    checks = [check_signature(c, now) for c in credentials]
    result["signature_cpu_s_each"] = (time.process_time() - s_cpu) / len(credentials)
    result["signature_wall_s_each"] = (time.perf_counter() - s_wall) / len(credentials)
    assert all(c.ok for c in checks)
print(json.dumps(result))
"""


def _baseline_tree(folder: Path) -> Path:
    tree = folder / "baseline-tree"
    archive = subprocess.run(  # noqa: S603
        ["git", "-C", str(ROOT), "archive", BASELINE_COMMIT],  # noqa: S607
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")
    _build_native(tree)
    return tree


def _build_native(tree: Path) -> list[str]:
    """The tree's own C parts (`anchoring/_*.c`), compiled as setup.py builds ours (-O3, a shared module), so the
    baseline runs as installed, not on its pure-Python fallbacks; those that do not compile are left out."""
    built = []
    include = sysconfig.get_paths()["include"]
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    for source in sorted((tree / "anchoring").glob("_*.c")):
        target = source.with_name(source.stem + suffix)
        done = subprocess.run(  # noqa: S603
            ["cc", "-shared", "-fPIC", "-O3", f"-I{include}", str(source), "-o", str(target)],  # noqa: S607
            check=False,
            capture_output=True,
        )
        if done.returncode == 0:
            built.append(source.stem)
    return built


def _measure(tree: Path, folder: Path, args: dict[str, Any]) -> dict[str, Any]:
    spec = folder / f"measure-{time.monotonic_ns()}.json"
    spec.write_text(json.dumps(args))
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", MEASURE, str(spec)], check=False, capture_output=True, text=True, cwd=tree, env=env
    )
    if done.returncode != 0:  # say why: the measuring process's own error, not only that it failed
        raise RuntimeError(f"measuring {tree} failed ({done.returncode}):\n{done.stderr.strip()[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _cli(*args: str | Path) -> None:
    subprocess.run([*CLI, *map(str, args)], check=True, stdout=subprocess.DEVNULL)  # noqa: S603


def _issue_batches(folder: Path, receipts: int) -> tuple[dict[str, Any], dict[str, list[Path]]]:
    """One workspace on its own Anvil node: a batch with evidence, then one without."""
    from issuer.workspace import open_workspace

    ws = folder / "ws"
    _cli("init", ws, "--scrypt-n", "16384", "--port", str(free_port()))
    _cli("chain", "up", "-w", ws)
    csv = folder / "records.csv"
    batches = {}
    toml = ws / "credanchor.toml"
    rdfc = toml.read_text()
    for name in ("v2_evidence", "v2_evidence_jcs", "v1_no_evidence"):
        rows = ["email,name,credits_earned"] + [f"{name}{i}@example.edu,Student {i},2" for i in range(receipts)]
        csv.write_text("\n".join(rows) + "\n")
        if name == "v2_evidence_jcs":
            jcs = rdfc.replace('cryptosuite = "eddsa-rdfc-2022"', 'cryptosuite = "eddsa-jcs-2022"')
            assert jcs != rdfc
            toml.write_text(jcs)
        if name == "v1_no_evidence":
            toml.write_text(rdfc.replace("[chain]\n", "[chain]\nevidence = false\n", 1))
        _cli("issue", csv, "--achievement", "example", "--out", folder / name, "-w", ws)
        batches[name] = sorted((folder / name).glob("*.json"))
    config = open_workspace(ws).config
    where = {
        "rpc": config.chain.rpc_url,
        "chain_id": Chain(config.chain.rpc_url or "").chain_id,
        "registry": config.chain.registry,
        "issuer_id": config.issuer.id,
        "workspace": str(ws),
    }
    return where, batches


def ed25519_cpu_s_each(count: int = 5000) -> float:
    """CPU seconds of one Ed25519 verification (libsodium), best of 3 runs over `count` signatures."""
    import nacl.signing

    key = nacl.signing.SigningKey.generate()
    messages = [os.urandom(64) for _ in range(count)]
    signed = [key.sign(m) for m in messages]
    verify = key.verify_key.verify
    best = float("inf")
    for _ in range(3):
        cpu = time.process_time()
        for one in signed:
            verify(one)
        best = min(best, (time.process_time() - cpu) / count)
    return best


def _rate(result: dict[str, Any], ed25519: float) -> dict[str, Any]:
    n, cpu = result["n"], result["cpu_s"]
    signature = result["signature_cpu_s_each"]
    found = {
        "receipts": n,
        "verdicts": result["verdicts"],
        "with_signature_per_s": round(n / cpu),
        "with_signature_wall_per_s": round(n / result["wall_s"]),
        "signature_checks_per_s": round(1 / signature),
        "without_signature_per_s": round(n / max(cpu - n * signature, 1e-9)),
        "requests": result["requests"],
    }
    if "batch_cpu_s" in result:
        found["batch_with_signature_per_s"] = round(n / result["batch_cpu_s"])
        found["batch_without_signature_per_s"] = round(n / max(result["batch_cpu_s"] - n * signature, 1e-9))
        found["batch_without_ed25519_per_s"] = round(n / max(result["batch_cpu_s"] - n * ed25519, 1e-9))
    if "batch_no_ed25519_cpu_s" in result:
        found["batch_without_ed25519_measured_per_s"] = round(n / result["batch_no_ed25519_cpu_s"])
    if "self_check_cpu_s" in result:
        found["self_check_with_signature_per_s"] = round(n / result["self_check_cpu_s"])
        found["self_check_without_signature_per_s"] = round(n / max(result["self_check_cpu_s"] - n * signature, 1e-9))
        found["self_check_without_ed25519_per_s"] = round(n / max(result["self_check_cpu_s"] - n * ed25519, 1e-9))
    return found


def _best(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The first round's measurement, each time in it the least of all rounds' (a shared machine's noise only
    slows a run down)."""
    best = dict(rounds[0])
    for key in best:
        if key.endswith(("_s", "_s_each")):
            best[key] = min(one[key] for one in rounds)
    return best


def bench_rate(folder: Path, baseline: Path, receipts: int) -> dict[str, Any]:
    where, batches = _issue_batches(folder, receipts)
    try:
        ed25519 = ed25519_cpu_s_each()
        results: dict[str, Any] = {"ed25519_verify_us": round(ed25519 * 1e6, 1), "rounds": ROUNDS}
        for name, files in batches.items():
            args = {**where, "files": [str(f) for f in files], "signature_sample": SIGNATURE_SAMPLE, "self_check": True}
            befores, afters = [], []
            for _ in range(ROUNDS):  # alternated, so that a slow moment of the machine falls on both
                befores.append(_measure(baseline, folder, args))
                afters.append(_measure(ROOT, folder, args))
            before, after = _rate(_best(befores), ed25519), _rate(_best(afters), ed25519)
            assert before["verdicts"] == after["verdicts"] == {"valid": receipts}, (before, after)
            results[name] = {
                "baseline": before,
                "ours": after,
                "speedup_without_signature": round(
                    after["without_signature_per_s"] / before["without_signature_per_s"], 1
                ),
                "speedup_with_signature": round(after["with_signature_per_s"] / before["with_signature_per_s"], 2),
            }
        return results
    finally:
        _cli("chain", "down", "-w", where["workspace"])


def _anchored_batches(folder: Path, chain: Chain, batches: int, per_batch: int) -> tuple[dict[str, Any], list[Path]]:
    """`batches` batches of `per_batch` signed credentials anchored in a fresh registry; one credential revoked
    in each of the first ten batches."""
    from benchmarks.run import build_credentials
    from issuer.chainops import fund_locally

    account = Account.create()
    fund_locally(chain, account.address)
    sender = TxSender(chain, account)
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    issuer_id = "https://registrar.example.edu"
    deployed = sender.deploy_registry(admin_delay=0, issuer_id=issuer_id, signing_keys=[public])
    registry = chain.registry(deployed.contract_address or "")
    seed = key.private_bytes_raw()
    signer = Signer(seed, JCS, f"{issuer_id}#{encode_multikey(public)}", datetime.now(UTC))
    out = folder / "many"
    out.mkdir()
    files = []
    for b in range(batches):
        credentials = build_credentials(per_batch)
        for credential in credentials:
            credential["proof"] = [signer.sign(credential)]
        digests = [credential_digest(c) for c in credentials]
        tree = MerkleTree.build(digests)
        call = registry.contract.functions.anchor(tree.root, per_batch)
        mined = sender.wait_mined(sender.send(call).tx_hash, timeout=30)
        block = chain.block(mined.block_number)
        anchor = {
            "chainId": chain.chain_id,
            "registry": registry.address,
            "txHash": mined.tx_hash,
            "blockNumber": mined.block_number,
            "timestamp": unix_to_utc(int(block["timestamp"])),
        }
        root = to_hex(tree.root)
        for i, (credential, digest, proof) in enumerate(zip(credentials, digests, tree.proofs(), strict=True)):
            leaf = to_hex(tree.leaf(i))
            path = out / f"{b:03d}-{i:03d}.json"
            path.write_text(dump_receipt(receipt_document(credential, to_hex(digest), leaf, proof, root, anchor)))
            files.append(path)
            if b < 10 and i == 0:
                revoke = registry.contract.functions.revokeCredential(tree.root, bytes.fromhex(leaf[2:]), "bench")
                sender.wait_mined(sender.send(revoke).tx_hash, timeout=30)
    where = {"chain_id": chain.chain_id, "registry": registry.address, "issuer_id": issuer_id}
    return where, files


def bench_revocations(folder: Path, baseline: Path, batches: int = 100, per_batch: int = 100) -> dict[str, Any]:
    node = LocalNode(folder / "node")
    info = node.start(free_port())
    try:
        chain = Chain(info.url)
        where, files = _anchored_batches(folder, chain, batches, per_batch)
        args = {**where, "rpc": info.url, "files": [str(f) for f in files], "signature_sample": 0}
        before, after = _measure(baseline, folder, args), _measure(ROOT, folder, args)
    finally:
        node.stop()
    assert before["verdicts"] == after["verdicts"], (before, after)
    return {
        "batches": batches,
        "receipts": len(files),
        "verdicts": after["verdicts"],
        "baseline_requests": before["requests"],
        "baseline_log_requests": before["log_requests"],
        "baseline_wall_s": round(before["wall_s"], 1),
        "ours_requests": after["requests"],
        "ours_log_requests": after["log_requests"],
        "ours_wall_s": round(after["wall_s"], 1),
    }


def run(folder: Path, receipts: int = 10_000) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    baseline = _baseline_tree(folder)
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "baseline_commit": BASELINE_COMMIT,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "one_batch": bench_rate(folder / "rate", baseline, receipts),
        "revocations": bench_revocations(folder / "revocations", baseline),
    }


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="credanchor-verifyrate-") as tmp:
        print(json.dumps(run(Path(tmp), int(sys.argv[1]) if len(sys.argv) > 1 else 10_000), indent=2))
