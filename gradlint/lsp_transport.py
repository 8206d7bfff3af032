"""The language server's stdio transport: LSP framing that survives a bad client.

pygls's own reader waits forever on a `Content-Length` larger than its body, and drops
a message it cannot read without a reply. Here a reader thread cuts the stream into
messages, bounds the wait for a body, and finds the next header after garbage; the
loop answers what it cannot use with a JSON-RPC error, as the specification asks.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import select
import threading
from typing import Optional, Tuple

MAX_BODY = 64 * 1024 * 1024
BODY_TIMEOUT_S = 10.0  # a client writes a message whole: a body this late never comes
_HEADER_END = b"\r\n\r\n"
_LENGTH = re.compile(rb"content-length:[ \t]*([0-9]+)[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
_NEXT_HEADER = re.compile(rb"content-length:", re.IGNORECASE)

PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS, INTERNAL_ERROR = -32700, -32600, -32602, -32603


class FrameReader:
    """Reads `(kind, payload)` from a file descriptor: ("message", body bytes),
    ("error", why) for a frame that cannot be used, ("eof", None) at the end."""

    def __init__(self, fd: int, body_timeout: float = BODY_TIMEOUT_S):
        self.fd = fd
        self.body_timeout = body_timeout
        self.buffer = b""
        self.eof = False

    def _fill(self, timeout: Optional[float] = None) -> bool:
        """Read more; False at the end of the stream or when `timeout` passed first."""
        if self.eof:
            return False
        if timeout is not None:
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if not ready:
                return False
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    def next(self) -> Tuple[str, Optional[object]]:
        while _HEADER_END not in self.buffer:
            if not self._fill():
                return "eof", None
        end = self.buffer.index(_HEADER_END)
        headers, self.buffer = self.buffer[:end], self.buffer[end + len(_HEADER_END):]
        lengths = list(_LENGTH.finditer(headers))
        if not lengths:
            return "error", "a message without a valid Content-Length header"
        length = int(lengths[-1].group(1))  # (after garbage, the last header is the real one)
        if length > MAX_BODY:
            self._resync()
            return "error", f"a Content-Length of {length} bytes is over the limit"
        while len(self.buffer) < length:
            if not self._fill(self.body_timeout):
                self._resync()
                return "error", "a message body shorter than its Content-Length"
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        try:
            json.loads(body)
        except ValueError:
            found = _NEXT_HEADER.search(body)
            if found:  # a Content-Length too large swallowed the start of the next message
                self.buffer = body[found.start():] + self.buffer
            return "error", "a message body that is not JSON"
        return "message", body

    def _resync(self) -> None:
        """Drop what was read up to the next header that looks like one."""
        found = _NEXT_HEADER.search(self.buffer)
        self.buffer = self.buffer[found.start():] if found else b""


class StdoutWriter:
    """pygls's writer interface over a file descriptor; also writes our own errors."""

    def __init__(self, fd: int):
        self.fd = fd
        self.lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self.lock:
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view):]

    def close(self) -> None:
        pass  # (the process ends right after: stdout is closed then)

    def error(self, msg_id, code: int, message: str) -> None:
        body = json.dumps({"jsonrpc": "2.0", "id": msg_id,
                           "error": {"code": code, "message": message}}).encode("utf-8")
        self.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)


def serve(server, stdin_fd: int, stdout_fd: int) -> None:
    """Run `server` (a pygls LanguageServer) on these descriptors until `exit` or the end
    of input."""
    writer = StdoutWriter(stdout_fd)
    server.protocol.set_writer(writer)
    try:
        asyncio.run(_loop(server, FrameReader(stdin_fd), writer))
    except (KeyboardInterrupt, BrokenPipeError):
        pass
    finally:
        server.shutdown()


async def _loop(server, reader: FrameReader, writer: StdoutWriter) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    def read_all() -> None:
        while True:
            try:
                item = reader.next()
            except OSError:
                item = ("eof", None)
            loop.call_soon_threadsafe(queue.put_nowait, item)
            if item[0] == "eof":
                return

    threading.Thread(target=read_all, daemon=True).start()
    protocol = server.protocol
    while True:
        kind, payload = await queue.get()
        if kind == "eof":
            return
        if kind == "error":
            writer.error(None, PARSE_ERROR, f"gradlint: {payload}")
            continue
        raw = json.loads(payload)
        msg_id = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(raw, dict) or raw.get("jsonrpc") != "2.0":
            writer.error(msg_id, INVALID_REQUEST, "gradlint: not a JSON-RPC 2.0 message")
            continue
        try:
            message = json.loads(payload, object_hook=protocol.structure_message)
        except Exception as exc:  # parameters that do not fit the method's types
            if "method" in raw and "id" in raw:
                code = INVALID_PARAMS if "Params" in type(exc).__name__ else INTERNAL_ERROR
                writer.error(msg_id, code, f"gradlint: invalid params for {raw['method']}")
            continue
        protocol.handle_message(message)
        await asyncio.sleep(0)  # (let the handlers' tasks run between messages)
