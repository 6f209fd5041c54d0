"""E-mailing a 1,000-credential batch (`credanchor notify`) to a local SMTP server (aiosmtpd on 127.0.0.1);
baseline: issuing that same batch (`credanchor issue`) in the same run, on a local Anvil chain.

The send rate is set to its upper bound (1,000 messages a second), so the figure is the cost of building,
sending and recording each message, not the configured throttle; at the default rate (5 a second) the
throttle alone would take 200 s.
"""

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from anchoring.localnode import free_port

CLI = [sys.executable, "-m", "credanchor"]


def _run(*args: str | Path) -> float:
    start = time.perf_counter()
    subprocess.run([*CLI, *map(str, args)], check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    return time.perf_counter() - start


def bench_notify(folder: Path, count: int = 1_000) -> dict[str, Any]:
    from aiosmtpd.controller import Controller

    class Counter:
        received = 0

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            Counter.received += 1
            return "250 OK"

    ws = folder / "notify-ws"
    _run("init", ws, "--scrypt-n", "16384", "--port", str(free_port()))
    _run("chain", "up", "-w", ws)
    port = free_port()
    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        records = folder / "notify.csv"
        records.write_text("email,name\n" + "".join(f"n{i}@example.edu,Student {i}\n" for i in range(count)))
        issued = _run("issue", records, "--achievement", "example", "--out", folder / "notify-out", "-w", ws)
        config = ws / "credanchor.toml"
        config.write_text(
            config.read_text()
            + '\n[share]\nbase_url = "https://verify.example.edu"\n'
            + f'\n[smtp]\nport = {port}\nsender = "registrar@example.edu"\nstarttls = false\nrate = 1000\n'
        )
        dry = _run("notify", "--batch", "1", "--dry-run", folder / "eml", "-w", ws)
        sent = _run("notify", "--batch", "1", "-w", ws)
        again = _run("notify", "--batch", "1", "-w", ws)
    finally:
        controller.stop()
        _run("chain", "down", "-w", ws)
    return {
        "credentials": count,
        "received_by_server": Counter.received,
        "notify_s": round(sent, 1),
        "messages_per_s": round(count / sent),
        "baseline_issue_s": round(issued, 1),
        "notify_vs_issue": round(sent / issued, 2),
        "dry_run_eml_s": round(dry, 1),
        "rerun_nothing_to_send_s": round(again, 1),
    }
