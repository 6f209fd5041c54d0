"""How `TxSender.broadcast` reads a node's answer: a refusal is final, a lost connection is not.

A tiny JSON-RPC server on 127.0.0.1 plays the node's part; no chain is needed to decide what words mean."""

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

import pytest
from eth_account import Account

from anchoring.chain import Chain
from anchoring.errors import ChainUnavailable, TransactionFailed
from anchoring.sender import Fees, NonceConflict, SignedTx, TxSender
from tests.httpserve import serving

TX = SignedTx("0x" + "ab" * 32, 7, Fees(2, 1), 21_000, raw=b"\x02\xf8")


@contextmanager
def serve_error(message: str) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            body = json.dumps({"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32000, "message": message}})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as url:
        yield url


def sender(url: str) -> TxSender:
    return TxSender(Chain(url, timeout=5), Account.create())


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_lost_connection_is_not_a_refusal(closed_port: int) -> None:
    with pytest.raises(ChainUnavailable) as caught:
        sender(f"http://127.0.0.1:{closed_port}").broadcast(TX)
    assert not isinstance(caught.value, TransactionFailed)
    assert not caught.value.answered
    assert str(caught.value) == (
        f"node at http://127.0.0.1:{closed_port} did not answer (eth_sendRawTransaction): connection refused or lost"
    )


@pytest.mark.parametrize(
    ("answer", "error", "text"),
    [
        ("insufficient funds for gas * price + value", TransactionFailed, "node refused the transaction: node at"),
        ("nonce too low", NonceConflict, "nonce 7 was used by another transaction"),
        ("replacement transaction underpriced", NonceConflict, "another pending transaction holds nonce 7"),
    ],
)
def test_a_node_that_answers_with_an_error_refuses(answer: str, error: type[Exception], text: str) -> None:
    with serve_error(answer) as url, pytest.raises(error) as caught:
        sender(url).broadcast(TX)
    assert str(caught.value).startswith(text)


@pytest.mark.parametrize("answer", ["already known", "known transaction: 0xab", "transaction already imported"])
def test_a_transaction_the_node_already_holds_is_sent(answer: str) -> None:
    with serve_error(answer) as url:
        sender(url).broadcast(TX)
