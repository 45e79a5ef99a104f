"""The answer side of the lean HTTP/1.1 path: one `asyncio.Protocol` feeding httptools.

`AnswerProtocol` reads exactly one response on a connection the lean client opened for it
(`checks/transport/lean.py`) and resolves one future with the status, the decoded body
(at most `max_body` bytes) and the `Location` header, or with a classified `CheckFailure`.
Every rule here copies what aiohttp's client does with the same bytes, because the two
paths must give the same result and the same failure class for the same target
(tests/checks/lean/test_transport_lean.py runs both against the same hostile targets):

- a body is decoded when `Content-Encoding` is exactly one of gzip, deflate, br (zstd when
  aiohttp could decode it), with aiohttp's own decompressors and its rules (a deflate body
  without a zlib header is read raw; a deflate stream that did not end is an error), and
  `too_large` is raised as soon as more than `max_body` decoded bytes arrived: nothing
  beyond the cap is ever kept, so a 1 GB answer costs one read buffer;
- header lines follow aiohttp's limits (8190 bytes for the status line, a header name or a
  header value; 128 headers), so an endless header is `protocol`, not a hang;
- informational answers (1xx except 101) are skipped, as aiohttp does;
- the answer to HEAD has no body; bytes after it in the same read are an error, as they are
  for aiohttp, which parses them as the next (invalid) answer;
- the connection closing before the answer is complete is `protocol`, except for a body
  delimited by the close itself (no `Content-Length`, not chunked); closing or resetting
  before the headers are complete is `LostEarly`, which the client retries once for an
  idempotent method, as aiohttp does;
- a second answer after a complete one in the same read is ignored, as aiohttp ignores it;
  bytes that are no answer at all are `protocol`, as for aiohttp.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, cast

import httptools
from aiohttp.compression_utils import (
    HAS_BROTLI,
    HAS_ZSTD,
    BrotliDecompressor,
    DecompressionBaseHandler,
    ZLibDecompressor,
    ZSTDDecompressor,
)

from checks import base
from checks.base import CheckFailure

if TYPE_CHECKING:
    from probe.clock import Clock

MAX_LINE = 8190  # aiohttp's max_line_size and max_field_size
MAX_HEADERS = 128  # aiohttp's max_headers
DECODE_STEP = 1 << 16  # decoded bytes per decompressor call: a bomb is read in bounded steps
ENCODINGS = frozenset({"gzip", "deflate", "br", "zstd"})


class Answer:
    """A complete answer: status, decoded body (None when not read), first `Location`."""

    __slots__ = ("body", "location", "status")

    def __init__(self, status: int, body: bytes | None, location: str | None) -> None:
        self.status = status
        self.body = body
        self.location = location


class LostEarly(CheckFailure):
    """The connection closed or was reset before the answer's headers were complete:
    aiohttp sends an idempotent request once more on a new connection, so the lean client
    does too (checks/transport/lean.py)."""


class _Stop(Exception):  # noqa: N818 - a signal to stop parsing, not an error
    """Raised from a parser callback to make httptools stop at once."""


def _decoder(encoding: str) -> DecompressionBaseHandler:
    """aiohttp's decompressor for `encoding` (DeflateBuffer's choice)."""
    if encoding == "br":
        if not HAS_BROTLI:
            raise CheckFailure(base.PROTOCOL, "bad response: Can not decode "
                               "content-encoding: brotli (br). Please install `Brotli`")
        return BrotliDecompressor()
    if encoding == "zstd":
        if not HAS_ZSTD:
            raise CheckFailure(base.PROTOCOL, "bad response: Can not decode "
                               "content-encoding: zstandard (zstd)")
        return ZSTDDecompressor()
    return ZLibDecompressor(encoding=encoding)


class AnswerProtocol(asyncio.Protocol):
    """Reads one HTTP/1.1 answer; see the module docstring for the rules it keeps."""

    def __init__(self, waiter: asyncio.Future[Answer], clock: Clock, max_body: int, *,
                 head: bool, stop_at: frozenset[int]) -> None:
        self._waiter = waiter
        self._clock = clock
        self._max = max_body
        self._head = head
        self._stop_at = stop_at  # statuses answered without reading the body (redirects)
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.first_byte: float | None = None
        self._status = 0
        self._location: str | None = None
        self._encoding: str | None = None
        self._length = False  # Content-Length given
        self._chunked = False
        self._headers_done = False
        self._complete = False
        self._redirect = False
        self._headers = 0
        self._line = 0  # bytes of the header line still open at the end of the last read
        self._chunks: list[bytes] = []
        self._size = 0
        self._decoder: DecompressionBaseHandler | None = None
        self._raw = 0  # encoded body bytes seen
        self._error: CheckFailure | None = None
        self._done = False

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio.Transport: no isinstance here
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._done:
            return
        if self.first_byte is None:
            self.first_byte = self._clock.monotonic()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._error is None and not self._complete:
                self._complete = True  # 101: aiohttp answers with it and no body
        except httptools.HttpParserError as exc:
            if self._error is None and not (self._complete and isinstance(
                    exc, httptools.HttpParserCallbackError)):
                self._error = CheckFailure(base.PROTOCOL, f"bad response: {exc}")
        if not self._headers_done and self._error is None:
            self._open_line(data)  # the whole read is header bytes
        if self._error is not None:
            self._fail(self._error)
        elif self._complete:
            self._finish()

    def eof_received(self) -> bool | None:
        return None  # close our side too: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        if self._done:
            return
        if self._error is not None:
            self._fail(self._error)
        elif self._complete:
            self._finish()
        elif not self._headers_done:
            if exc is None:
                self._fail(LostEarly(base.PROTOCOL, "server closed the connection"))
            else:
                self._fail(LostEarly(base.PROTOCOL, f"ClientOSError: {exc}"))
        elif not self._length and not self._chunked and exc is None:
            self._finish()  # the body ends at the close
        else:
            cause = "" if exc is None else f". {exc!r}"
            self._fail(CheckFailure(base.PROTOCOL,
                                    f"bad response: Response payload is not completed{cause}"))

    # -- httptools callbacks ---------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._complete:
            return  # a second answer after the first: aiohttp reads only the first
        self._headers += 1
        if len(name) > MAX_LINE or len(value) > MAX_LINE or self._headers > MAX_HEADERS:
            self._stop(CheckFailure(base.PROTOCOL, "bad response: header too long or too "
                                    f"many headers (limits {MAX_LINE} bytes, {MAX_HEADERS})"))
        lower = name.lower()
        if lower == b"location":
            if self._location is None:
                self._location = value.decode("utf-8", "surrogateescape")
        elif lower == b"content-encoding":
            self._encoding = value.decode("latin-1").lower()
        elif lower == b"content-length":
            self._length = True
        elif lower == b"transfer-encoding":
            self._chunked = b"chunked" in value.lower()

    def on_headers_complete(self) -> None:
        if self._complete:
            raise _Stop  # a second answer after the first: stop reading
        status = self._parser.get_status_code()
        self._status = status
        self._headers_done = True
        if 100 <= status < 200 and status != 101:
            return  # informational: the real answer follows (on_message_complete resets)
        self._redirect = status in self._stop_at and self._location is not None
        if self._head or self._redirect:
            self._complete = True
            if not self._head:
                raise _Stop  # a redirect to follow: its body is not wanted
            return
        encoding = self._encoding
        if encoding is not None and encoding in ENCODINGS and status not in (204, 304):
            try:
                self._decoder = _decoder(encoding)
            except CheckFailure as exc:
                self._stop(exc)

    def on_body(self, body: bytes) -> None:
        if self._complete:  # a body after the answer to HEAD
            self._stop(CheckFailure(base.PROTOCOL, "bad response: data after the answer"))
        decoder = self._decoder
        if decoder is None:
            self._keep(body)
            return
        if self._raw == 0 and body and self._encoding == "deflate" and body[0] & 0xF != 8:
            decoder = self._decoder = ZLibDecompressor(encoding="deflate",
                                                       suppress_deflate_header=True)
        self._raw += len(body)
        try:
            chunk = decoder.decompress_sync(body, DECODE_STEP)
            self._keep(chunk)
            while decoder.data_available:
                self._keep(decoder.decompress_sync(b"", DECODE_STEP))
        except _Stop:
            raise
        except Exception:
            self._stop(CheckFailure(base.PROTOCOL, "bad response: Can not decode "
                                    f"content-encoding: {self._encoding}"))

    def on_message_complete(self) -> None:
        if self._complete:
            return
        status = self._status
        if 100 <= status < 200 and status != 101:
            self._reset()  # an informational answer is done; read the next one
            return
        self._complete = True

    # -- helpers ---------------------------------------------------------------------------

    def _keep(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._size += len(chunk)
        if self._size > self._max:
            self._stop(CheckFailure(base.TOO_LARGE, f"response body exceeds {self._max} bytes"))
        self._chunks.append(chunk)

    def _open_line(self, data: bytes) -> None:
        """An endless status or header line fails as aiohttp's limits make it fail; a
        complete line is measured field by field in `on_header`."""
        newline = data.rfind(b"\n")
        self._line = len(data) - newline - 1 if newline >= 0 else self._line + len(data)
        if self._line > 2 * MAX_LINE + 4:  # a name and a value at their limits, ": ", CRLF
            self._error = CheckFailure(
                base.PROTOCOL, f"bad response: header line longer than {2 * MAX_LINE} bytes")

    def _stop(self, failure: CheckFailure) -> None:
        if self._error is None:
            self._error = failure
        raise _Stop

    def _reset(self) -> None:
        self._status = 0
        self._location = None
        self._encoding = None
        self._length = self._chunked = self._headers_done = False
        self._headers = 0

    def _finish(self) -> None:
        decoder = self._decoder
        if decoder is not None and self._raw > 0:
            tail = decoder.flush() if isinstance(decoder, ZLibDecompressor) else b""
            if tail:
                try:
                    self._keep(tail)
                except _Stop:
                    assert self._error is not None
                    self._fail(self._error)
                    return
            if self._encoding == "deflate" and isinstance(decoder, ZLibDecompressor) \
                    and not decoder.eof:
                self._fail(CheckFailure(base.PROTOCOL,
                                        "bad response: Can not decode content-encoding: "
                                        "deflate"))
                return
        self._done = True
        if not self._waiter.done():
            body = None if self._redirect else b"".join(self._chunks)
            self._waiter.set_result(Answer(self._status, body, self._location))
        if self.transport is not None:
            self.transport.close()

    def _fail(self, failure: CheckFailure) -> None:
        self._done = True
        if not self._waiter.done():
            self._waiter.set_exception(failure)
        if self.transport is not None:
            self.transport.abort()
