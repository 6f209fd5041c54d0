"""Bad input, as a user meets it on the command line: one clear line, the right exit code, nothing changed."""

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from anchoring.chain import Chain
from anchoring.localnode import free_port
from anchoring.merkle import leaf_hash
from issuer.store import Store
from issuer.workspace import Workspace
from tests.conftest import CliResult, people, write_csv

pytestmark = pytest.mark.chain
Cli = Callable[..., CliResult]
VALID = Path(__file__).parent.parent / "assets" / "receipts" / "valid.json"


def nothing_changed(ws: Workspace, chain: Chain, events_before: int) -> None:
    assert list(Store(ws.database_url).batches()) == []
    registry = chain.registry(ws.config.chain.registry)
    assert len(list(registry.events(0, chain.block_number()))) == events_before
    assert list(ws.receipts_dir.iterdir()) == []


def events(ws: Workspace, chain: Chain) -> int:
    return len(list(chain.registry(ws.config.chain.registry).events(0, chain.block_number())))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"email,phone\na@b.org,1\n", "records.csv: row 1: unknown column 'phone' (column B); known: email, name,"),
        (b"email\na@b.org\n", "records.csv: missing column name"),
        (
            b"email,name\na@b.org,A\nA@b.org,B\n",
            "records.csv: 1 problem, nothing was issued:\n  row 3: duplicate email a@b.org (first on row 2)",
        ),
        (
            b"email,name\nnot-an-email,A\n",
            "records.csv: 1 problem, nothing was issued:\n  row 2: invalid email 'not-an-email'",
        ),
        (b"", "records.csv: file is empty"),
        (
            b"email,name\na@b.org,Andr\xe9\n",
            "records.csv: row 2 is not UTF-8 text (byte 0xe9 in column B); the file is probably a Latin-1 or "
            'Windows-1252 export: save it as UTF-8 ("CSV UTF-8" in Excel',
        ),
        (b"email,name\n", "records.csv: has a header but no records"),
    ],
    ids=["unknown column", "missing column", "duplicate email", "invalid email", "empty", "non-utf8", "header only"],
)
def test_bad_records_issue_nothing(cli: Cli, workspace: Workspace, chain: Chain, content: bytes, message: str) -> None:
    before = events(workspace, chain)
    csv = workspace.root / "records.csv"
    csv.write_bytes(content)
    result = cli("issue", csv, "--achievement", "example", "-w", workspace.root)
    assert result.code == 2
    assert result.err.startswith(f"error: {csv.parent}/{message}")
    assert "Traceback" not in result.err
    nothing_changed(workspace, chain, before)


def test_unknown_achievement(cli: Cli, workspace: Workspace, chain: Chain) -> None:
    csv = write_csv(workspace.root / "records.csv", people(2))
    result = cli("issue", csv, "--achievement", "phd", "-w", workspace.root)
    assert result.code == 2
    assert (
        result.err.strip() == f"error: unknown achievement 'phd' (templates in {workspace.achievements_dir}: example)"
    )
    nothing_changed(workspace, chain, events(workspace, chain))


def test_missing_records_file(cli: Cli, workspace: Workspace) -> None:
    result = cli("issue", workspace.root / "nope.csv", "--achievement", "example", "-w", workspace.root)
    assert result.code == 2
    assert result.err.strip() == f"error: {workspace.root}/nope.csv: no such file"


def test_a_200_mb_records_file_is_refused_unread(cli: Cli, workspace: Workspace, chain: Chain) -> None:
    before = events(workspace, chain)
    huge = workspace.root / "huge.csv"
    with huge.open("wb") as handle:
        handle.truncate(200 * 1000 * 1000)  # sparse: costs no disk, and the size is refused before any read
    result = cli("issue", huge, "--achievement", "example", "-w", workspace.root)
    assert result.code == 2
    assert result.err.strip() == (
        f"error: {huge}: 200,000,000 bytes is over the limit of 104,857,600 bytes (100 MiB); "
        "split the records into smaller batches"
    )
    nothing_changed(workspace, chain, before)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--delimiter", "|"], "--delimiter '|': expected one of , ; tab"),
        (["--sheet", "Grades"], "{csv}: is not an Excel workbook; --sheet is for .xlsx files"),
    ],
    ids=["bad delimiter", "sheet of a csv"],
)
def test_bad_reading_options(cli: Cli, workspace: Workspace, options: list[str], message: str) -> None:
    csv = write_csv(workspace.root / "records.csv", people(2))
    result = cli("issue", csv, "--achievement", "example", *options, "-w", workspace.root)
    assert result.code == 2
    assert result.err.strip() == "error: " + message.format(csv=csv)


def test_rpc_url_that_does_not_answer(cli: Cli, workspace: Workspace, chain: Chain) -> None:
    before = events(workspace, chain)
    csv = write_csv(workspace.root / "records.csv", people(2))
    dead = f"http://127.0.0.1:{free_port()}"
    result = cli("issue", csv, "--achievement", "example", "--rpc-url", dead, "-w", workspace.root)
    assert result.code == 3
    assert result.err.strip() == f"error: node at {dead} did not answer (eth_chainId): connection refused or lost"
    nothing_changed(workspace, chain, before)
    verify = cli("verify", VALID, "--rpc-url", dead)
    assert verify.code == 3
    assert f"CHAIN-UNAVAILABLE {VALID}: node at {dead} did not answer (eth_chainId)" in " ".join(verify.out.split())


def test_node_on_another_chain_is_refused(cli: Cli, workspace: Workspace, chain: Chain) -> None:
    ws = workspace.set("chain", "chain_id", 5)
    csv = write_csv(ws.root / "records.csv", people(2))
    result = cli("issue", csv, "--achievement", "example", "-w", ws.root)
    assert result.code == 1
    assert result.err.strip() == f"error: node at {ws.config.chain.rpc_url} is chain 31337, expected chain 5"


def test_bad_column_mapping(cli: Cli, workspace: Workspace) -> None:
    csv = write_csv(workspace.root / "records.csv", people(2))
    result = cli("issue", csv, "--achievement", "example", "--map", "Mail=mail", "-w", workspace.root)
    assert result.code == 2
    assert (
        result.err.strip()
        == "error: --map Mail=mail: unknown field 'mail' (known: email, name, issue_date, credits_earned, evidence_url, evidence_narrative, result, ignore)"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b'{"type": "CredentialReceipt", "version": 1',
            "not valid JSON at line 1 column 43: Expecting ',' delimiter (the file looks truncated)",
        ),
        (b"{]", "not valid JSON at line 1 column 2: Expecting property name enclosed in double quotes"),
        (b"", "file is empty"),
        (b"\xef\xbb\xbf{}", "starts with a byte-order mark (BOM); save it as UTF-8 without BOM"),
        (b'{"type": "\xff"}', "not UTF-8 text (byte 0xff at offset 10)"),
    ],
    ids=["truncated", "malformed", "empty", "bom", "non-utf8"],
)
def test_unreadable_receipts_exit_2(
    cli: Cli, workspace: Workspace, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "receipt.json"
    path.write_bytes(content)
    result = cli("verify", path, "--json", "-w", workspace.root)
    assert result.code == 2
    report = json.loads(result.out)
    assert report["verdict"] == "malformed"
    assert report["reason"] == f"{path}: {message}"


def test_malformed_members_and_huge_files_exit_2(cli: Cli, workspace: Workspace, tmp_path: Path) -> None:
    doc = json.loads(VALID.read_text())
    doc["merkle"]["proof"] = ["0x" + "11" * 32] * 3000
    thousands = tmp_path / "thousands.json"
    thousands.write_text(json.dumps(doc))
    huge = tmp_path / "huge.json"
    with huge.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    wrong_type = tmp_path / "wrong_type.json"
    wrong_type.write_text(json.dumps({**json.loads(VALID.read_text()), "version": "1"}))
    result = cli("verify", thousands, huge, wrong_type, "--json", "-w", workspace.root)
    assert result.code == 2
    reasons = [json.loads(line)["reason"] for line in result.out.splitlines()]
    assert reasons == [
        f"{thousands}: merkle.proof: has 3000 entries; at most 64",
        f"{huge}: 52,428,800 bytes is over the limit of 2,097,152 bytes",
        f"{wrong_type}: version: must be 1, 2 or 3, got '1'",
    ]


def test_no_node_configured_for_a_stray_verifier(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CREDANCHOR_RPC_URL", raising=False)
    result = cli("verify", VALID)
    assert result.code == 3
    assert "no node configured (--rpc-url)" in result.out


def test_workspace_that_is_not_one(cli: Cli, tmp_path: Path) -> None:
    result = cli("issue", tmp_path / "x.csv", "--achievement", "example", "-w", tmp_path)
    assert result.code == 2
    assert (
        result.err.strip()
        == f"error: no workspace at {tmp_path} (credanchor.toml missing); run `credanchor init {tmp_path}` first"
    )


def test_audit_bad_input(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("audit", "--registry", "0x1234", "--rpc-url", "http://127.0.0.1:9")
    assert result.code == 2
    assert (
        result.err.strip()
        == "error: --registry '0x1234' is not an address (0x and 40 hex digits, EIP-55 if mixed case)"
    )
    result = cli("audit", "--registry", "0x" + "11" * 20)
    assert result.code == 2
    assert result.err.strip() == "error: name the node with --rpc-url URL (or CREDANCHOR_RPC_URL)"
    result = cli("audit", "--registry", "0x" + "11" * 20, "--rpc-url", "http://127.0.0.1:9", "--manifests", "/dev/zero")
    assert (result.code, result.err) == (2, "error: manifests folder /dev/zero is not a folder\n")


def test_one_process_per_batch(cli: Cli, workspace: Workspace) -> None:
    import subprocess
    import sys

    from issuer.batch import plan_batch

    csv = write_csv(workspace.root / "records.csv", people(2))
    plan = plan_batch(workspace, csv, "example", {})
    (workspace.root / ".locks").mkdir(exist_ok=True)
    lock = workspace.root / ".locks" / f"batch-{plan.input_key[:32]}.lock"
    holder = subprocess.Popen(  # another process holding the batch's lock, as a running `issue` does
        [
            sys.executable,
            "-c",
            f"import fcntl,time; f=open({str(lock)!r},'a'); fcntl.lockf(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == b"held"
        result = cli("issue", csv, "--achievement", "example", "-w", workspace.root)
    finally:
        holder.kill()
        holder.wait()
    assert result.code == 2
    assert (
        result.err.strip()
        == "error: another credanchor process is working on this batch right now; wait for it to finish"
    )


def test_changing_the_issuer_profile_makes_a_different_batch(cli: Cli, workspace: Workspace) -> None:
    from tests.conftest import issue_killed_at

    csv = write_csv(workspace.root / "records.csv", people(2))
    issue_killed_at(workspace, csv, "prepared")
    renamed = workspace.set("issuer", "name", "Test University, Office of the Registrar")
    result = cli("issue", csv, "--achievement", "example", "-w", renamed.root)
    assert result.code == 2  # not a silent resume of the batch built with the old name
    assert "2 recipient(s) already hold this achievement" in result.err
    assert "(unfinished batches count too: 1;" in result.err


def test_a_corrupt_database_is_reported(cli: Cli, workspace: Workspace) -> None:
    (workspace.root / "credanchor.db").write_bytes(b"this is not a database" * 100)
    for leftover in ("credanchor.db-wal", "credanchor.db-shm"):
        (workspace.root / leftover).unlink(missing_ok=True)
    result = cli("batches", "-w", workspace.root)
    assert result.code == 1
    assert result.err.startswith(
        f"error: cannot open database sqlite:///{workspace.root}/credanchor.db: file is not a database"
    )


def test_audit_manifest_folder_oddities(cli: Cli, workspace: Workspace, tmp_path: Path) -> None:
    import os

    from anchoring.receipt import MAX_MANIFEST_BYTES

    folder = tmp_path / "manifests"
    (folder / "looks-like.json").mkdir(parents=True)
    digest = "0x" + "ab" * 32
    manifest = {
        "type": "BatchManifest",
        "version": 1,
        "scheme": "oz-standard-v1",
        "root": "0x" + "cd" * 32,
        "count": 2,
        "digests": [digest, digest],
        "issuer": "https://x.edu",
        "achievement": "https://x.edu/a",
        "anchor": {
            "chainId": 31337,
            "registry": workspace.config.chain.registry,
            "txHash": "0x" + "ef" * 32,
            "blockNumber": 3,
            "timestamp": "2026-01-01T00:00:00Z",
        },
    }
    (folder / "dup.json").write_text(json.dumps(manifest))
    (folder / "cut.json").write_text(json.dumps(manifest)[:100])
    (folder / "notes.txt").write_text("published 2026-01-01\n")
    (folder / os.fsdecode(b"\xff.txt")).write_text("not UTF-8, the name\n")
    (folder / "receipt.json").write_bytes(VALID.read_bytes())
    os.mkfifo(folder / "pipe.json")
    with (folder / "huge.json").open("wb") as handle:
        handle.write(json.dumps(manifest).encode())
        handle.truncate(MAX_MANIFEST_BYTES + 1)
    (tmp_path / "elsewhere").mkdir()
    (folder / "linked").symlink_to(tmp_path / "elsewhere")
    distinct = {**manifest, "digests": [digest, "0x" + "ba" * 32]}
    (folder / "a-copy.json").write_text(json.dumps(distinct))
    (folder / "a.json").write_text(json.dumps(distinct, indent=1))
    (folder / "b.json").write_text(json.dumps({**distinct, "achievement": "https://x.edu/b"}))

    result = cli("audit", "--manifests", folder, "-w", workspace.root, "--json")
    assert result.code == 1
    report = json.loads(result.out)
    leaf = leaf_hash(bytes.fromhex(digest[2:])).hex()
    unchecked = [
        (f"{folder}/a.json", "copy", f"the same manifest as {folder}/a-copy.json"),
        (
            f"{folder}/b.json",
            "conflicting",
            f"{folder}/a-copy.json names root 0x{'cd' * 32} too, with other contents",
        ),
        (
            f"{folder}/cut.json",
            "malformed",
            "not valid JSON at line 1 column 77: Unterminated string (the file looks truncated)",
        ),
        (f"{folder}/dup.json", "malformed", f"duplicate leaf {leaf}: every digest must be unique"),
        (f"{folder}/huge.json", "too large", "536,870,913 bytes is over the limit of 536,870,912 bytes"),
        (f"{folder}/linked", "unreadable", "a link to a folder, not followed"),
        (f"{folder}/notes.txt", "not a manifest", ""),
        (f"{folder}/pipe.json", "unreadable", "is not a regular file"),
        (f"{folder}/receipt.json", "not a manifest", ""),
        (f"{folder}/\udcff.txt", "not a manifest", ""),
    ]
    assert [(u["path"], u["reason"], u["detail"]) for u in report["unchecked"]] == unchecked
    assert report["manifests"] == 1
    described = {f"{p}: not checked ({r})" + (f": {d}" if d else ""): r for p, r, d in unchecked}
    notices = [d for d, r in described.items() if r in ("not a manifest", "copy")]
    assert [p for p in report["problems"] if ": not checked (" in p] == [d for d in described if d not in notices]
    assert [n for n in report["notices"] if ": not checked (" in n] == notices

    human = cli("audit", "--manifests", folder, "-w", workspace.root)
    assert human.code == 1
    assert f"problem {folder}/dup.json: not checked (malformed): duplicate leaf {leaf}" in human.out
    assert f"notice {folder}/notes.txt: not checked (not a manifest)" in human.out
    assert f"notice {folder}/\\udcff.txt: not checked (not a manifest)" in human.out


# Control sequences, a line break, a right-to-left override, rich markup and an emoji code: enough to forge a
# report line on a terminal if any of it got through raw.
HOSTILE = "\x1b[31m\nVALID forged.json: every check passed\x1b[2K\r\u202e\x85\x7f\t:white_check_mark: [bold]x"
SHOWN = "\\x1b[31m\\nVALID forged.json: every check passed\\x1b[2K\\r\\u202e\\x85\\x7f\\t:white_check_mark: [bold]x"
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def test_hostile_names_are_shown_escaped(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CREDANCHOR_WORKSPACE", "CREDANCHOR_RPC_URL", "CREDANCHOR_TRUST"):
        monkeypatch.delenv(name, raising=False)
    doc = json.loads(VALID.read_text())
    doc["credential"]["name"] = "Certificate" + HOSTILE
    doc["credential"]["issuer"]["name"] = "University" + HOSTILE
    doc["credential"]["credentialSubject"]["achievement"]["name"] = "Course" + HOSTILE
    path = tmp_path / f"receipt{HOSTILE}.json"
    path.write_text(json.dumps(doc))

    result = cli("verify", path)
    assert result.code == 1  # the names changed, so the digest no longer matches
    assert RAW.search(result.out) is None
    first, what, issuer, *steps = result.out.splitlines()
    assert first.startswith(f"INVALID {tmp_path}/receipt{SHOWN}.json: credential hashes to 0x")
    assert what == f"  Course{SHOWN}; {doc['credential']['id']}"
    assert issuer == (
        f"  issuer: not on your trust list; the credential claims {('University' + HOSTILE)!r}, "
        "which nothing here vouches for"
    )
    assert [line.split()[1] for line in steps] == [
        "schema", "digest", "proof", "signature", "chain", "anchor", "issuer", "revocation", "validity", "trust"
    ]  # fmt: skip

    as_json = cli("verify", path, "--json")
    assert RAW.search(as_json.out) is None
    (line,) = as_json.out.splitlines()
    report = json.loads(line)
    assert (report["source"], report["issuerClaimed"]) == (str(path), "University" + HOSTILE)

    missing = tmp_path / f"manifests{HOSTILE}"
    audit = cli("audit", "--registry", "0x" + "11" * 20, "--rpc-url", "http://127.0.0.1:9", "--manifests", missing)
    assert audit.code == 2
    assert audit.err == f"error: manifests folder {tmp_path}/manifests{SHOWN} does not exist\n"


def test_file_names_that_are_not_utf8(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in ("CREDANCHOR_WORKSPACE", "CREDANCHOR_RPC_URL", "CREDANCHOR_TRUST"):
        monkeypatch.delenv(name, raising=False)
    odd = tmp_path / os.fsdecode(b"\xff.json")  # Python names it "\udcff.json"
    odd.write_bytes(VALID.read_bytes())
    result = cli("verify", odd, tmp_path / os.fsdecode(b"\xfe.json"))
    assert result.code == 2
    assert result.out.splitlines() == [
        f"CHAIN-UNAVAILABLE {tmp_path}/\\udcff.json: no node configured (--rpc-url)",
        f"MALFORMED {tmp_path}/\\udcfe.json: {tmp_path}/\\udcfe.json: no such file",
        "2 receipts: 1 chain-unavailable, 1 malformed",
    ]
    as_json = cli("verify", odd, "--json")
    assert RAW.search(as_json.out) is None  # "\\udcff" in the JSON text, not a raw surrogate
    assert json.loads(as_json.out)["source"] == str(odd)
    trust = tmp_path / os.fsdecode(b"trust\xff.toml")
    refused = cli("verify", VALID, "--trust", trust)
    assert refused.code == 2
    assert refused.err.startswith(f"error: trust list {tmp_path}/trust\\udcff.toml: ")
    assert len(refused.err.splitlines()) == 1


DEEP = 100_000
HOSTILE_TRUST_LISTS = [
    ("toml arrays", "trust.toml", b"registry = " + b"[" * DEEP + b"]" * DEEP, f"nested {DEEP} levels deep; at most 32"),
    (
        "toml inline tables",
        "trust.toml",
        b"registry = " + b"{a = " * DEEP + b"1" + b"}" * DEEP,
        f"nested {DEEP} levels deep; at most 32",
    ),
    ("toml dotted key", "trust.toml", b"a" + b".a" * DEEP + b" = 1", f"nested {DEEP + 1} levels deep; at most 32"),
    ("toml table header", "trust.toml", b"[a" + b".a" * DEEP + b"]\n", f"nested {DEEP + 1} levels deep; at most 32"),
    (
        "toml arrays in strings and comments",
        "trust.toml",
        b'a = "' + b"[" * DEEP + b'" # ' + b"{" * DEEP + b"\nb = '''\n" + b"[" * DEEP + b"'''\n",
        "needs a list 'registry' of {name, chain_id, address}",
    ),
    (
        "toml arrays after a string ending in quotes",
        "trust.toml",
        b"registry = ['''a'''', " + b"[" * DEEP + b"]" * DEEP + b"]",
        f"nested {DEEP + 1} levels deep; at most 32",
    ),
    ("json arrays", "trust.json", b"[" * DEEP + b"]" * DEEP, f"nested {DEEP} levels deep; at most 32"),
    ("json objects", "trust.json", b'{"a": ' * DEEP + b"1" + b"}" * DEEP, f"nested {DEEP} levels deep; at most 32"),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [(n, c, m) for _, n, c, m in HOSTILE_TRUST_LISTS],
    ids=[i for i, _, _, _ in HOSTILE_TRUST_LISTS],
)
def test_hostile_trust_lists(cli: Cli, tmp_path: Path, name: str, content: bytes, message: str) -> None:
    trust = tmp_path / name
    trust.write_bytes(content)
    result = cli("verify", VALID, "--trust", trust)
    assert (result.code, result.err) == (2, f"error: trust list {trust}: {message}\n")


@pytest.mark.timeout(60)
def test_trust_lists_that_are_not_files(cli: Cli, tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "trust.toml"
    os.mkfifo(fifo)
    for path, message in [
        (fifo, "is not a regular file"),
        (Path("/dev/zero"), "is not a regular file"),
        (tmp_path, "is a directory, not a file"),
        (tmp_path / "missing.toml", "no such file"),
    ]:
        result = cli("verify", VALID, "--trust", path)
        assert (result.code, result.err) == (2, f"error: trust list {path}: {message}\n")


def test_a_database_another_process_keeps_locked_is_named_busy(
    cli: Cli, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On SQLite a large batch holds the write lock while it is stored and while its receipts are written; a
    # command that must write meanwhile says so in one line once its wait is over, instead of a traceback.
    import sqlite3

    import issuer.store
    from issuer.store import DATABASE_BUSY
    from tests.conftest import issue_killed_at

    issue_killed_at(workspace, write_csv(workspace.root / "records.csv", people(2)), "prepared")
    monkeypatch.setattr(issuer.store, "BUSY_TIMEOUT_MS", 200)
    holder = sqlite3.connect(workspace.root / "credanchor.db", timeout=0, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process's write transaction
        result = cli("discard", "1", "-w", workspace.root)
    finally:
        holder.close()
    assert (result.code, result.err.strip()) == (1, f"error: {DATABASE_BUSY}")
    assert cli("discard", "1", "-w", workspace.root).code == 0  # once it is let go
