"""The self-check's shortcut on receipts issued on a real node (version 2, chain evidence in each): every
receipt after the first is read by its layout (nothing shared parsed again) and gets the report full
verification gives it; a receipt is verified in full only for each variant of the evidence not seen yet."""

import dataclasses
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from anchoring.chain import Chain
from tests.conftest import CliResult, Node, make_workspace, people, write_csv
from tests.unit.test_batchfast import parsed_whole
from verifier import batchfast
from verifier.batchfast import Shortcut
from verifier.checks import Report, Step, Verdict
from verifier.service import ChainReader, Session
from verifier.trust import TrustList, trusted

pytestmark = pytest.mark.chain


def test_issued_receipts_are_read_by_their_layout_with_their_full_reports(
    cli: Callable[..., CliResult], node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = make_workspace(tmp_path / "ws", node)
    records = write_csv(ws.root / "records.csv", people(40, "layout.example.org"))
    out = tmp_path / "out"
    result = cli("issue", records, "--achievement", "example", "--out", out, "-w", ws.root, "--receipts", "jsonl")
    assert result.code == 0, result.out + result.err
    assert re.search(r"issued batch \d+", result.out)
    lines = (out / "receipts.jsonl").read_bytes().splitlines()
    assert len(lines) == 40

    config = ws.config
    chain = Chain(config.chain.rpc_url)
    trust = TrustList((trusted(chain.chain_id, config.chain.registry, config.issuer.name, config.issuer.id),))
    now = datetime.now(UTC)
    session = Session(lambda: ChainReader(chain), trust, now)

    def in_full(data: bytes) -> Any:
        return Session(lambda: ChainReader(chain), trust, now).verify_bytes(data, "receipts.jsonl")

    parsed = parsed_whole(monkeypatch)
    shortcut = Shortcut(
        {Verdict.VALID}, lambda chain_id, registry, root, leaf: session.known_revocation(registry, root, leaf)
    )
    verified_in_full = 0
    taught: list[tuple[bytes, Report]] = []
    for data in lines:
        report = shortcut.check(data, "receipts.jsonl")
        if report is None:
            verified_in_full += 1
            report = session.verify_bytes(data, "receipts.jsonl")
            shortcut.learn(data, report)
            taught.append((data, report))
        else:
            assert report == in_full(data)
        assert report.verdict == Verdict.VALID, report
    template = shortcut.template
    assert template is not None
    assert template.version == 2
    assert template.layout is not None
    assert template.layout.kinds == ("id", "subject", "value", "digest", "leaf", "path", "evidence")
    assert parsed == []  # every receipt followed the layout
    assert verified_in_full == len(template.walkers)  # the first, then one for each new variant of the evidence
    assert verified_in_full < len(lines) // 2

    # A variant of the evidence is learnt only from a receipt whose report is the learnt one's but for its own
    # steps (evidence read at another block would give other text to every receipt that carries it).
    data, report = taught[-1]
    variant = batchfast._parts(data)[1]
    del template.walkers[variant]
    other = [Step(s.name, s.ok, s.detail + " at another block") if s.name == "evidence" else s for s in report.steps]
    shortcut.learn(data, dataclasses.replace(report, steps=tuple(other)))
    assert variant not in template.walkers
    assert shortcut.check(data, "receipts.jsonl") is None
    shortcut.learn(data, report)
    assert variant in template.walkers
    assert shortcut.check(data, "receipts.jsonl") == in_full(data)
