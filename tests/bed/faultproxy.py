"""A fault-injecting HTTP proxy in front of the test registry, on 127.0.0.1.

Pass-through by default; set `fault` to make blob downloads fail:
  "500"    every blob GET answers HTTP 500;
  "cut"    a blob's headers and half its body are sent, then the connection is cut;
  "stall"  a blob's headers are sent, then nothing until `release()` (or `stall_for` s);
  "slow"   blobs trickle (1 kB every 50 ms), for interrupting a pull in progress.
Counts what it served and what it broke, for the tests' reports.
"""

from __future__ import annotations

import contextlib
import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .registry import free_port

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailers", "transfer-encoding", "upgrade"}


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.fault: str | None = None
        self.stall_for = 600.0
        self.min_fault_size = 16 * 1024
        self.injected = 0
        self.requests = 0
        self._release = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy._forward(self)

            def do_HEAD(self) -> None:
                proxy._forward(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FaultProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def set(self, fault: str | None) -> None:
        self.fault = fault
        self._release.clear()

    def release(self) -> None:
        self._release.set()

    def _forward(self, h: BaseHTTPRequestHandler) -> None:
        self.requests += 1
        conn = http.client.HTTPConnection(self.upstream, timeout=60)
        conn.putrequest(h.command, h.path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", self.upstream)
        for k, v in h.headers.items():  # every Accept header: registries pick the format by them
            if k.lower() not in HOP_BY_HOP and k.lower() != "host":
                conn.putheader(k, v)
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        # Faults hit layer blobs only (not the small config blob), so that a pull fails in
        # the middle of `skopeo copy`, after `skopeo inspect` has succeeded.
        is_layer = h.command == "GET" and "/blobs/" in h.path and len(body) >= self.min_fault_size
        fault = self.fault if is_layer else None
        if fault == "500":
            self.injected += 1
            err = b'{"errors":[{"code":"UNKNOWN","message":"injected failure"}]}'
            h.send_response(500)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(err)))
            h.end_headers()
            h.wfile.write(err)
            return
        h.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        if fault in ("cut", "stall"):
            h.send_header("Connection", "close")
        h.end_headers()
        if h.command == "HEAD":
            return
        with contextlib.suppress(OSError):
            if fault == "cut":
                self.injected += 1
                h.wfile.write(body[: len(body) // 2])
                h.wfile.flush()
                h.close_connection = True
                return
            if fault == "stall":
                self.injected += 1
                h.wfile.write(body[:1024])
                h.wfile.flush()
                self._release.wait(self.stall_for)
                h.close_connection = True
                return
            if fault == "slow":
                for i in range(0, len(body), 1024):
                    h.wfile.write(body[i : i + 1024])
                    h.wfile.flush()
                    if not self._release.is_set():
                        time.sleep(0.05)
                return
            h.wfile.write(body)
