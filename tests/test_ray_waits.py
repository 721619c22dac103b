"""Every wait on Ray is bounded (issue 26): a port that accepts and never answers, or a share that never ends, is
said in one sentence instead of waiting for ever."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from snake_mc.search.self_play import RayTimeout, SelfPlayError, bounded, check_ray_address, ray_address_problem


def test_a_bounded_wait_returns_the_value_raises_the_error_and_gives_up_on_a_call_that_never_ends():
    assert bounded(lambda: 7, 5.0, "A quick call") == 7
    with pytest.raises(ZeroDivisionError):
        bounded(lambda: 1 / 0, 5.0, "A failing call")
    never = threading.Event()
    started = time.monotonic()
    with pytest.raises(RayTimeout, match="A call that never ends gave no answer within"):
        bounded(never.wait, 0.2, "A call that never ends")
    assert time.monotonic() - started < 30, "the bound holds, however busy the machine"


def _server(reply: bytes | None):
    """A TCP port on this machine that accepts connections and answers `reply` to whatever it hears (None: never a
    word); returns (port, stop)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held, stop = [], threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn = server.accept()[0]
            except OSError:
                continue
            held.append(conn)
            if reply is not None:
                conn.recv(64)
                conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def close() -> None:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        server.close()

    return server.getsockname()[1], close


@pytest.mark.parametrize(("reply", "said"), [
    (None, "something accepted the connection but said nothing within 2 seconds, as no Ray cluster would"),
    (b"HTTP/1.1 400 Bad Request\r\n\r\n", "what answers there is not a Ray cluster"),
])  # fmt: skip
def test_an_address_that_is_no_ray_cluster_is_refused_in_one_sentence_before_ray_is_asked(reply, said):
    """ray.init on a port that accepts and never answers waited for ever (200 seconds, no sentence, in the third
    round's trial); on another kind of service it printed 20 lines of C++ first. A Ray cluster's address is a gRPC
    server (HTTP/2), which a real `ray start --head` passed (docs/experiments.md)."""
    port, close = _server(reply)
    try:
        started = time.monotonic()
        with pytest.raises(SelfPlayError) as refused:
            check_ray_address(f"127.0.0.1:{port}") if reply else _check_quickly(port)
        assert time.monotonic() - started < 60
    finally:
        close()
    assert str(refused.value) == (f"The Ray cluster at 127.0.0.1:{port} cannot be reached ({said}); check "
                                  "--ray-address, or drop it to play on a private local Ray instance.")


def _check_quickly(port: int) -> None:
    problem = ray_address_problem(f"127.0.0.1:{port}", timeout_s=2.0)
    if problem:
        raise SelfPlayError(f"The Ray cluster at 127.0.0.1:{port} cannot be reached ({problem}); check "
                            "--ray-address, or drop it to play on a private local Ray instance.")
