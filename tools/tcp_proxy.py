"""A loopback TCP forwarder that can be switched off and on, to simulate an unreachable AWS endpoint.

moto keeps its state in memory, so stopping moto would lose every resource; instead a service's AWS_ENDPOINT_URL
points at this proxy and `down()` refuses new connections and cuts open ones, while moto itself keeps running.
"""

from __future__ import annotations

import socket
import threading


class TcpProxy:
    def __init__(self, target_port: int, listen_port: int = 0, host: str = "127.0.0.1") -> None:
        self.host = host
        self.target_port = target_port
        self.port = listen_port
        self._server: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()

    def up(self) -> None:
        with self._lock:
            if self._server is not None:
                return
            srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            srv.bind((self.host, self.port))
            srv.listen(128)
            self.port = srv.getsockname()[1]
            self._server = srv
        threading.Thread(target=self._accept, args=(srv,), daemon=True, name=f"proxy-{self.port}").start()

    def down(self) -> None:
        with self._lock:
            srv, self._server = self._server, None
            conns, self._conns = self._conns, set()
        if srv is not None:
            srv.close()
        for c in conns:
            _close(c)

    def pause(self) -> None:
        """Refuse new connections and let open ones finish (a pod leaving a Service's endpoints: connections already
        established keep flowing)."""
        with self._lock:
            srv, self._server = self._server, None
        if srv is not None:
            srv.close()

    def _accept(self, srv: socket.socket) -> None:
        while True:
            try:
                client, _ = srv.accept()
            except OSError:
                return  # closed by down()
            try:
                upstream = socket.create_connection((self.host, self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._server is not srv:
                    _close(client)
                    _close(upstream)
                    return
                self._conns.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                _close(s)
            with self._lock:
                self._conns.discard(src)
                self._conns.discard(dst)


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()
