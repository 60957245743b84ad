"""The real yaml-language-server, driven over LSP (JSON-RPC on stdio), for editor tests.

`language_server()` installs the npm package into a temporary folder (once per test
session, when node and npm are there; the tests skip otherwise) and returns a client
that opens documents, collects their diagnostics and asks for hovers.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

VERSION = "1.25.0"
NODE_MAJOR = 18  # the oldest node yaml-language-server 1.25 runs on
TIMEOUT_S = 60.0


def node_major(node: str) -> int:
    """The major version of `node` (`v20.11.1` -> 20), 0 when it does not say."""
    done = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    head = done.stdout.strip().lstrip("v").split(".")[0]
    return int(head) if head.isdigit() else 0


def install(folder: Path) -> Path | None:
    """`npm install yaml-language-server@VERSION` into `folder`; its entry point, or None."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None or node_major(node) < NODE_MAJOR:
        return None
    result = subprocess.run(
        [npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(folder),
         f"yaml-language-server@{VERSION}"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    entry = folder / "node_modules" / "yaml-language-server" / "bin" / "yaml-language-server"
    return entry if result.returncode == 0 and entry.exists() else None


class LanguageServer:
    """One yaml-language-server process and the messages it sent."""

    def __init__(self, entry: Path, root: Path) -> None:
        self.process = subprocess.Popen(
            [shutil.which("node") or "node", str(entry), "--stdio"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.next_id = 0
        self.responses: dict[int, Any] = {}
        self.diagnostics: dict[str, list[dict[str, Any]]] = {}
        self.lock = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.request("initialize", {"processId": os.getpid(), "rootUri": root.as_uri(),
                                    "capabilities": {"textDocument": {"hover": {
                                        "contentFormat": ["markdown", "plaintext"]}}}})  # fmt: skip
        self.notify("initialized", {})
        settings = {"yaml": {"validate": True, "hover": True, "completion": True,
                             "schemaStore": {"enable": False}}}  # fmt: skip
        self.notify("workspace/didChangeConfiguration", {"settings": settings})

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = 0
            while (line := stream.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if not line:
                return
            message = json.loads(stream.read(length))
            with self.lock:
                if "id" in message and "method" in message:  # a request from the server
                    self._send({"id": message["id"], "result": self._answer(message)})
                elif "id" in message:
                    self.responses[message["id"]] = message.get("result")
                elif message.get("method") == "textDocument/publishDiagnostics":
                    params = message["params"]
                    self.diagnostics[params["uri"]] = params["diagnostics"]
                self.lock.notify_all()

    def _answer(self, message: dict[str, Any]) -> Any:
        if message["method"] == "workspace/configuration":
            return [None for _ in message["params"]["items"]]
        return None

    def request(self, method: str, params: dict[str, Any]) -> Any:
        """Send a request and wait for its result."""
        with self.lock:
            self.next_id += 1
            ident = self.next_id
            self._send({"id": ident, "method": method, "params": params})
            if not self.lock.wait_for(lambda: ident in self.responses, TIMEOUT_S):
                raise TimeoutError(f"{method}: no answer in {TIMEOUT_S}s")
            return self.responses.pop(ident)

    def notify(self, method: str, params: dict[str, Any]) -> None:
        with self.lock:
            self._send({"method": method, "params": params})

    def open(self, path: Path, text: str) -> list[dict[str, Any]]:
        """Open `path` with `text`; the diagnostics the server publishes for it."""
        uri = path.as_uri()
        with self.lock:
            self.diagnostics.pop(uri, None)
        item = {"uri": uri, "languageId": "yaml", "version": 1, "text": text}
        self.notify("textDocument/didOpen", {"textDocument": item})
        deadline = time.monotonic() + TIMEOUT_S
        with self.lock:
            while uri not in self.diagnostics:
                if not self.lock.wait(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"no diagnostics for {path} in {TIMEOUT_S}s")
            return self.diagnostics[uri]

    def hover(self, path: Path, line: int, character: int) -> str:
        """The hover text at a 0-based position, '' when there is none."""
        result = self.request(
            "textDocument/hover",
            {
                "textDocument": {"uri": path.as_uri()},
                "position": {"line": line, "character": character},
            },
        )
        if not result:
            return ""
        contents = result["contents"]
        return str(contents["value"] if isinstance(contents, dict) else contents)

    def close(self) -> None:
        """Shut the server down (or kill it) and close its pipes."""
        try:
            self.request("shutdown", {})
            self.notify("exit", {})
            self.process.wait(timeout=10)
        except (TimeoutError, OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        self.reader.join(timeout=10)  # it ends at the end of the server's output
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def install_folder() -> Path:
    """A temporary folder for the npm package, removed by the caller."""
    return Path(tempfile.mkdtemp(prefix="timeoutc-yls-"))
