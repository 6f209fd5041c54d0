"""A JSON-RPC proxy on 127.0.0.1 in front of a real node, honest or lying in a chosen way.

Tests put several of these in front of one node so that a verifier sees several "nodes", one of which lies:
about block hashes (`lie="hash"`), or about state (`lie="proof"`: every storage proof node it forwards is
altered, and eth_getStorageAt answers a made-up word).
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal

import requests

from tests.httpserve import serving

Lie = Literal["none", "hash", "proof"]
FAKE_HASH = "0x" + "ab" * 32


def _lied(method: str, result: Any, lie: Lie) -> Any:
    if lie == "hash" and method == "eth_getBlockByNumber" and isinstance(result, dict):
        return {**result, "hash": FAKE_HASH}
    if lie == "proof" and method == "eth_getProof" and isinstance(result, dict):
        storage = [
            {
                **entry,
                "value": "0x1",
                "proof": [node[:-2] + ("00" if node[-2:] != "00" else "01") for node in entry["proof"]],
            }
            for entry in result["storageProof"]
        ]
        return {**result, "storageProof": storage}
    if lie == "proof" and method == "eth_getStorageAt":
        return "0x" + "00" * 31 + "01"
    return result


@contextmanager
def rpc_proxy(target: str, lie: Lie = "none", times: int | None = None) -> Iterator[str]:
    """A proxy forwarding to `target`; yields its URL. With `times`, it lies only in its first `times` answers
    that it can lie in (a node that errs now and then), then answers honestly."""
    lies = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            upstream = requests.post(target, data=body, headers={"Content-Type": "application/json"}, timeout=30)
            answer = upstream.json()
            requests_ = json.loads(body)
            if isinstance(answer, dict) and "result" in answer and isinstance(requests_, dict):
                told = _lied(requests_.get("method", ""), answer["result"], lie)
                if told != answer["result"] and (times is None or lies[0] < times):
                    lies[0] += 1
                    answer["result"] = told
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as url:
        yield url
