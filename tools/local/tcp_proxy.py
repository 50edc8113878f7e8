"""A loopback TCP forwarder that can be switched off and on, to simulate an unreachable dependency.

moto and PostgreSQL keep their state, so stopping them would lose it; instead a service's AWS endpoint (or database
port) points at this proxy, and `down()` refuses new connections and cuts the open ones while the server behind it
keeps running. `up()` listens again on the same port. Both may be called any number of times, with clients attached.

The listener is closed properly on `down()`: its accept loop waits in `select` with a short timeout and checks
whether it is still the current listener, so no thread stays blocked in `accept()` holding the port in LISTEN (which
would make the next `up()` fail with "address in use"); SO_REUSEADDR lets the port be bound again at once.

While it does not listen (before the first `up()` of a proxy given its port, after `down()` or `pause()`), the proxy
holds its port with a socket bound to it but not listening: connections are refused as with no socket at all, but
the kernel hands the port to nobody else, neither as an outgoing connection's ephemeral port nor to another
process's bind to port 0 (several local platforms at once: one per pytest-xdist worker). Without the hold, a port
left free for the seconds before a pod is ready, or for an outage, was sometimes taken meanwhile, and `up()` failed
with "address in use" for as long as the taker kept it. `close()` releases the port for good.
"""

from __future__ import annotations

import select
import socket
import threading

ACCEPT_POLL_SECONDS = 0.1


class TcpProxy:
    def __init__(self, target_port: int, listen_port: int = 0, host: str = "127.0.0.1") -> None:
        self.host = host
        self.target_port = target_port
        self.port = listen_port
        self._server: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._hold: socket.socket | None = None  # bound, not listening: the port kept while the proxy is not up
        self.cuts = 0  # how many times down() cut the proxy while it was up
        if listen_port:
            self._take_hold()

    @property
    def is_up(self) -> bool:
        return self._server is not None

    def up(self) -> None:
        with self._lock:
            if self._server is not None:
                return
            srv, self._hold = self._hold, None
            if srv is None:
                srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                srv.bind((self.host, self.port))
            srv.listen(128)
            srv.setblocking(False)
            self.port = srv.getsockname()[1]
            self._server = srv
            self._acceptor = threading.Thread(target=self._accept, args=(srv,), daemon=True,
                                              name=f"proxy-{self.port}")
            self._acceptor.start()

    def down(self) -> None:
        with self._lock:
            srv, self._server = self._server, None
            acceptor, self._acceptor = self._acceptor, None
            conns, self._conns = self._conns, set()
        if srv is None:
            return
        self.cuts += 1
        if acceptor is not None:
            acceptor.join(5)  # it sees it is no longer current within ACCEPT_POLL_SECONDS, then closes the listener
        for c in conns:
            _close(c)
        self._take_hold()

    def pause(self) -> None:
        """Refuse new connections and let open ones finish (a pod leaving a Service's endpoints: connections already
        established keep flowing)."""
        with self._lock:
            srv, self._server = self._server, None
            acceptor, self._acceptor = self._acceptor, None
        if srv is not None and acceptor is not None:
            acceptor.join(5)  # the accept loop sees it is no longer current and closes the listener
            self._take_hold()

    def close(self) -> None:
        """Down for good: the port is released (a platform's teardown)."""
        self.down()
        with self._lock:
            hold, self._hold = self._hold, None
        if hold is not None:
            hold.close()

    def _take_hold(self) -> None:
        """Hold the port while not listening (the module's docstring). Best effort: if the listener is not closed
        yet, or someone has the port already, there is no hold and `up()` binds anew (as without one)."""
        hold = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            hold.bind((self.host, self.port))
        except OSError:
            hold.close()
            return
        with self._lock:
            taken = self._server is None and self._hold is None
            if taken:
                self._hold = hold
        if not taken:  # up() again meanwhile, or held already
            hold.close()

    def _accept(self, srv: socket.socket) -> None:
        try:
            while self._server is srv:
                ready, _, _ = select.select([srv], [], [], ACCEPT_POLL_SECONDS)
                if not ready:
                    continue
                try:
                    client, _ = srv.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                client.setblocking(True)
                try:
                    upstream = socket.create_connection((self.host, self.target_port), timeout=5)
                    upstream.settimeout(None)
                except OSError:
                    _close(client)
                    continue
                with self._lock:
                    if self._server is not srv:  # went down meanwhile
                        _close(client)
                        _close(upstream)
                        return
                    self._conns.update((client, upstream))
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(a, b), daemon=True).start()
        finally:
            _close(srv)

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
