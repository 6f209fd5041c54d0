"""Running a real Anvil node on 127.0.0.1 as a background process whose chain survives restarts.

Invariants: the node only ever binds 127.0.0.1; its state lives in one file (Anvil's `--state`, dumped on a
clean stop and every `STATE_INTERVAL` seconds), so anchors survive `stop()`/`start()`; a pid file records
the running node, and a stale pid file (crashed node, reused pid) is recognised and ignored.
"""

import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import requests

from anchoring.errors import ChainUnavailable, CredanchorError
from anchoring.files import atomic_write_text

ENV_ANVIL = "CREDANCHOR_ANVIL"
STATE_INTERVAL = 1
LOCAL_CHAIN_ID = 31337
REPO = Path(__file__).resolve().parent.parent
_PLATFORMS = {
    ("Linux", "x86_64"): "linux-amd64",
    ("Linux", "aarch64"): "linux-arm64",
    ("Darwin", "arm64"): "darwin-arm64",
    ("Darwin", "x86_64"): "darwin-amd64",
}


def find_anvil() -> Path:
    """The native Anvil binary: $CREDANCHOR_ANVIL, the pinned npm package in hardhat-local, or PATH."""
    configured = os.environ.get(ENV_ANVIL)
    if configured:
        return Path(configured)
    suffix = _PLATFORMS.get((platform.system(), platform.machine()))
    if suffix:
        candidate = REPO / "hardhat-local" / "node_modules" / "@foundry-rs" / f"anvil-{suffix}" / "bin" / "anvil"
        if candidate.is_file():
            return candidate
    found = shutil.which("anvil")
    if found:
        return Path(found)
    raise CredanchorError(f"Anvil not found: run `make setup` (npm ci in hardhat-local) or set {ENV_ANVIL}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def rpc_answers(url: str, timeout: float = 1.0) -> bool:
    try:
        reply = requests.post(
            url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=timeout
        )
        return reply.ok and "result" in reply.json()
    except (requests.RequestException, ValueError):
        return False


def wait_for_rpc(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not rpc_answers(url):
        if process is not None and process.poll() is not None:
            raise ChainUnavailable(f"node exited with code {process.returncode} before answering at {url}")
        if time.monotonic() > deadline:
            raise ChainUnavailable(f"node at {url} did not answer within {timeout:.0f} s")
        time.sleep(0.1)


def pid_alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own exited child
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return False
    return True


@dataclass(frozen=True)
class NodeInfo:
    pid: int
    port: int
    url: str
    state_file: str
    log_file: str
    started_at: float


class LocalNode:
    """The Anvil node of one folder: `state.json` (chain), `node.json` (pid), `anvil.log`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.state_file = folder / "state.json"
        self.pid_file = folder / "node.json"
        self.log_file = folder / "anvil.log"

    def info(self) -> NodeInfo | None:
        """The running node, or None (a stale pid file is removed)."""
        try:
            info = NodeInfo(**json.loads(self.pid_file.read_text()))
        except (OSError, ValueError, TypeError):
            return None
        if pid_alive(info.pid) and _is_anvil(info.pid):
            return info
        self.pid_file.unlink(missing_ok=True)
        return None

    def start(
        self, port: int, *, block_time: float | None = None, timeout: float = 30.0, chain_id: int = LOCAL_CHAIN_ID
    ) -> NodeInfo:
        running = self.info()
        if running is not None:
            return running
        if port_in_use(port):
            raise CredanchorError(f"port {port} on 127.0.0.1 is in use; pick another with --port")
        self.folder.mkdir(parents=True, exist_ok=True)
        args = [
            str(find_anvil()),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--chain-id",
            str(chain_id),
            "--state",
            str(self.state_file),
            "--state-interval",
            str(STATE_INTERVAL),
        ]
        if block_time is not None:
            args += ["--block-time", str(block_time)]
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(  # noqa: S603 (our own binary, arguments built here)
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for_rpc(url, timeout, process)
        except ChainUnavailable:
            process.kill()
            raise
        info = NodeInfo(process.pid, port, url, str(self.state_file), str(self.log_file), time.time())
        atomic_write_text(self.pid_file, json.dumps(asdict(info), indent=1))
        return info

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop cleanly (SIGTERM: Anvil dumps its state), escalating to SIGKILL after `timeout`."""
        info = self.info()
        if info is None:
            return False
        os.kill(info.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pid_alive(info.pid):
            if time.monotonic() > deadline:
                os.kill(info.pid, signal.SIGKILL)
                break
            time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
        return True


def _is_anvil(pid: int) -> bool:
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():
        return True  # no /proc (macOS): trust the pid file
    try:
        return b"anvil" in cmdline.read_bytes()
    except OSError:
        return False
