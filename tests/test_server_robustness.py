"""The language server against a bad client: raw bytes over a real subprocess's stdio."""

import json
import os
import select
import subprocess
import sys
import time

import pytest

from conftest import FIXTURES

pytest.importorskip("pygls")

BUG = (FIXTURES / "gl001" / "flagged_zero_grad_before_loop.py").read_text()


def _frame(message) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class Server:
    def __init__(self, cwd):
        self.proc = subprocess.Popen([sys.executable, "-m", "gradlint", "server"], cwd=cwd,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.buffer = b""
        self.shut_down = False

    def send(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def request(self, msg_id, method, params) -> None:
        self.send(_frame({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}))

    def notify(self, method, params) -> None:
        self.send(_frame({"jsonrpc": "2.0", "method": method, "params": params}))

    def read(self, timeout=30.0):
        """The next message from the server, or None if none came in time."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end >= 0:
                header = self.buffer[:end].decode()
                length = int(header.split("Content-Length:")[1].split("\r\n")[0])
                if len(self.buffer) >= end + 4 + length:
                    body = self.buffer[end + 4:end + 4 + length]
                    self.buffer = self.buffer[end + 4 + length:]
                    return json.loads(body)
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            self.buffer += chunk

    def answer(self, msg_id, timeout=30.0):
        while True:
            message = self.read(timeout)
            if message is None or message.get("id") == msg_id:
                return message

    def initialize(self, root) -> None:
        self.request(1, "initialize", {"processId": None, "rootUri": root.as_uri(),
                                       "capabilities": {}})
        assert "result" in self.answer(1)
        self.notify("initialized", {})

    def close(self) -> None:
        try:
            if not self.shut_down:
                self.request(999, "shutdown", None)
                self.answer(999, 10)
            self.notify("exit", None)
            self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            pass
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()


@pytest.fixture
def server(tmp_path):
    running = Server(tmp_path)
    yield running
    running.close()


def test_bad_framing_gets_an_error_and_the_server_goes_on(server, tmp_path):
    server.send(b"Content-Length: abc\r\n\r\n{}")  # no usable length
    error = server.read()
    assert error["id"] is None and error["error"]["code"] == -32700
    # a length larger than the body: the next message's start is found again
    good = _frame({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                   "params": {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {}}})
    body = b'{"jsonrpc": "2.0", "method": "x"}'
    server.send(b"Content-Length: %d\r\n\r\n" % (len(body) + 20) + body + good)
    assert server.read()["error"]["code"] == -32700
    assert "result" in server.answer(1)
    server.send(b"garbage\r\n\r\n" + _frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}))
    assert server.read()["error"]["code"] == -32700
    assert server.answer(2) == {"jsonrpc": "2.0", "id": 2, "result": None}
    server.shut_down = True


def test_invalid_params_get_an_error_reply(server, tmp_path):
    server.initialize(tmp_path)
    server.request(7, "textDocument/codeAction", {"textDocument": {"uri": "file:///x.py"}})
    reply = server.answer(7)
    assert reply["error"]["code"] == -32602


def test_only_documents_the_client_opened_are_read(server, tmp_path):
    outside = tmp_path.parent / f"{tmp_path.name}-secret"
    outside.mkdir()
    (outside / "secret.py").write_text(BUG)
    fifo = tmp_path / "pipe.py"
    os.mkfifo(fifo)
    server.initialize(tmp_path)
    for msg_id, uri in ((3, (outside / "secret.py").as_uri()), (4, fifo.as_uri())):
        server.request(msg_id, "textDocument/codeAction", {
            "textDocument": {"uri": uri},
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 30, "character": 0}},
            "context": {"diagnostics": []}})
        reply = server.answer(msg_id, timeout=15)
        assert reply is not None and reply["result"] == [], reply


def test_quick_edits_are_linted_once_they_pause(server, tmp_path):
    server.initialize(tmp_path)
    uri = (tmp_path / "big.py").as_uri()
    filler = "".join(f"x{i} = {i}\n" for i in range(20000))  # ~250 KB
    server.notify("textDocument/didOpen", {"textDocument": {
        "uri": uri, "languageId": "python", "version": 1, "text": BUG + filler}})
    first = server.read(60)
    assert first["method"] == "textDocument/publishDiagnostics"
    start = time.monotonic()
    for version in range(2, 32):
        text = (BUG if version < 31 else "import torch\n") + filler
        server.notify("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"text": text}]})
    published = []
    while True:
        message = server.read(4)
        if message is None:
            break
        published.append(message)
    settled = time.monotonic() - start
    assert [m["params"]["version"] for m in published] == [31]
    assert published[0]["params"]["diagnostics"] == []
    assert settled < 4 + 5  # (the 4 s are the quiet wait that ends the loop above)
