"""Whether ``gateway serve`` can listen where it was asked, checked before anything starts.

Without it a busy port is found only after the demo is prepared and the app built,
and uvicorn reports it among the startup lines. ``listen_problem`` binds the
address once, the way uvicorn will, and says in one line what is wrong::

    problem = listen_problem("127.0.0.1", 8000)
    # "cannot start: port 8000 on 127.0.0.1 is in use (another gateway?); choose
    #  another with --port"
"""

from __future__ import annotations

import errno
import socket

__all__ = ["listen_problem"]


def listen_problem(host: str, port: int) -> str | None:
    """One line saying why ``host:port`` cannot be listened on now, or ``None``."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError):
        return f"cannot start: --host {host} is not an address or a known host name"
    except OverflowError:
        return f"cannot start: --port {port} is not a port number (0-65535)"
    with socket.socket(family, kind, proto) as probe:
        # as uvicorn does: a port held only by closed connections (TIME_WAIT) is free
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return (f"cannot start: port {port} on {host} is in use (another "
                        f"gateway?); choose another with --port")
            return f"cannot start: cannot listen on {host} port {port} ({error.strerror})"
    return None
