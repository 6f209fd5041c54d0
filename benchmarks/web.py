"""Load on the web verifier: requests/s and latency of `POST /api/v1/verify` on loopback, bounded.

    python -m benchmarks.web [--requests 2000] [--concurrency 16] [--workers 2]

A real workspace on a local Anvil chain issues one batch of 200 credentials and 10 batches of 20; a real
`credanchor serve --workers N` answers a keep-alive client (a few lines of asyncio, so the client costs little
of the two cores it shares with the server). Scenarios, each after a warm-up, every answer checked `valid`:

- one batch: receipts of one batch (chain answers cached per root for 5 s, the default);
- many batches: receipts of 10 batches, in turn;
- one batch, no cache (`[web] cache_seconds = 0`: every verification reads the chain);
- baseline: a static file from the same server, the HTTP floor.
"""

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import requests

CLI = [sys.executable, "-m", "credanchor"]


def _cli(*args: str | Path) -> None:
    subprocess.run([*CLI, *map(str, args)], check=True, capture_output=True)  # noqa: S603 (our own CLI)


def _records(path: Path, tag: str, n: int) -> Path:
    path.write_text("email,name\n" + "".join(f"p{i}@{tag}.example.org,Person {i}\n" for i in range(n)))
    return path


async def _one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bytes]:
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    return status, await reader.readexactly(length)


async def _load(port: int, requests_: list[bytes], concurrency: int) -> tuple[float, list[float], dict[str, int]]:
    """Send every request (keep-alive, `concurrency` connections); wall time, latencies, outcomes."""
    queue = list(reversed(requests_))
    latencies: list[float] = []
    outcomes: dict[str, int] = {}

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while queue:
            request = queue.pop()
            started = time.perf_counter()
            status, body = await _one(reader, writer, request)
            latencies.append(time.perf_counter() - started)
            outcome = str(status)
            if status == 200 and body.startswith(b"{"):
                outcome = json.loads(body)["verdict"]
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, outcomes


def _post(receipt: bytes) -> bytes:
    head = (
        "POST /api/v1/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(receipt)}\r\n\r\n"
    )
    return head.encode() + receipt


GET_STATIC = b"GET /static/favicon.svg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def _figures(wall: float, latencies: list[float], outcomes: dict[str, int]) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "per_second": round(len(ordered) / wall, 1),
        "p50_ms": round(ordered[len(ordered) // 2] * 1000, 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
        "outcomes": outcomes,
    }


def _serve(ws: Path, workers: int, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    from anchoring.localnode import free_port

    port = free_port()
    process = subprocess.Popen(  # noqa: S603 (our own CLI)
        [*CLI, "serve", "-w", str(ws), "--port", str(port), "--workers", str(workers)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200:
                return process, port
        except requests.ConnectionError:
            time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError(f"serve did not start: {log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _scenario(port: int, bodies: list[bytes], count: int, concurrency: int) -> dict[str, Any]:
    asyncio.run(_load(port, bodies[: concurrency * 4], concurrency))  # warm-up: imports, caches, connections
    batch = [bodies[i % len(bodies)] for i in range(count)]
    return _figures(*asyncio.run(_load(port, batch, concurrency)))


def run(folder: Path, *, count: int, concurrency: int, workers: int) -> dict[str, Any]:
    from anchoring.localnode import free_port

    folder.mkdir(parents=True, exist_ok=True)
    ws = folder / "ws"
    _cli("init", ws, "--scrypt-n", "16384", "--port", str(free_port()))
    _cli("chain", "up", "-w", ws)
    results: dict[str, Any] = {"cores": os.cpu_count(), "workers": workers, "concurrency": concurrency}
    try:
        _cli(
            "issue",
            _records(folder / "one.csv", "one", 200),
            "--achievement",
            "example",
            "--out",
            folder / "one",
            "-w",
            ws,
        )
        many = []
        for b in range(10):
            out = folder / f"many-{b}"
            _cli(
                "issue", _records(folder / f"m{b}.csv", f"m{b}", 20), "--achievement", "example", "--out", out, "-w", ws
            )
            many.append(sorted(out.glob("*.json")))
        one = [_post(p.read_bytes()) for p in sorted((folder / "one").glob("*.json"))]
        spread = [_post(batch[i].read_bytes()) for i in range(20) for batch in many]  # roots in turn
        log = folder / "serve.log"
        process, port = _serve(ws, workers, log)
        try:
            results["one_batch"] = _scenario(port, one, count, concurrency)
            results["many_batches"] = _scenario(port, spread, count, concurrency)
            results["baseline_static_file"] = _scenario(port, [GET_STATIC], count, concurrency)
        finally:
            _stop(process)
        with (ws / "credanchor.toml").open("a", encoding="utf-8") as config:
            config.write("\n[web]\ncache_seconds = 0\n")
        process, port = _serve(ws, workers, log)
        try:
            results["one_batch_no_cache"] = _scenario(port, one, count // 2, concurrency)
        finally:
            _stop(process)
    finally:
        _cli("chain", "down", "-w", ws)
    results["load_average_1min"] = round(os.getloadavg()[0], 2)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    with TemporaryDirectory(prefix="credanchor-web-") as tmp:
        results = run(Path(tmp), count=args.requests, concurrency=args.concurrency, workers=args.workers)
    print(json.dumps(results, indent=2))
    valid = all(set(results[k]["outcomes"]) == {"valid"} for k in ("one_batch", "many_batches", "one_batch_no_cache"))
    return 0 if valid else 1


if __name__ == "__main__":
    sys.exit(main())
