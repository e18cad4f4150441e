"""The production WSGI server: gunicorn with threaded workers."""

import ctypes
import logging
import signal

from gunicorn.app.base import BaseApplication

log = logging.getLogger(__name__)


class VaultServer(BaseApplication):
    """Gunicorn running the vault's app factory in each worker."""

    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        # gunicorn 25 and later open a control socket in the home folder, the
        # same for every server on the machine; the vault has no use for it.
        if "control_socket_disable" in self.cfg.settings:
            self.cfg.set("control_socket_disable", True)

    def load(self):
        from web.app import create_app

        return create_app()


def ignore_terminal_interrupt(worker) -> None:
    """Leave Ctrl-C to the master: a worker that also takes the terminal's
    SIGINT beside the master's stop signal can hang until it is killed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# glibc's mallopt parameters: buffers at least M_MMAP_THRESHOLD large are mapped
# on their own; a heap shrinks once M_TRIM_THRESHOLD is free at its top.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
LARGE_BUFFER = 4 << 20
HEAP_SLACK = 32 << 20


def hand_back_large_buffers() -> None:
    """Have freed upload parts go straight back to the system.

    glibc raises its mmap threshold after the first large buffer is freed, and
    from then on keeps multi-megabyte parts in per-thread heaps that do not
    shrink; a fixed threshold keeps a worker's memory flat across uploads. The
    workers inherit it from this process. Elsewhere than glibc this does nothing.
    """
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(M_MMAP_THRESHOLD, LARGE_BUFFER)
        # Fixing one turns off glibc's own tuning of both: keep the heap from
        # shrinking after every freed megabyte read, which costs throughput.
        libc.mallopt(M_TRIM_THRESHOLD, HEAP_SLACK)
    except (OSError, AttributeError):
        log.info("mallopt_unavailable")


def serve(host: str, port: int, workers: int) -> None:
    """Serve until stopped; uploads may take a while, so the timeout is generous."""
    hand_back_large_buffers()
    log.info("serving host=%s port=%d workers=%d", host, port, workers)
    VaultServer({
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": 4,
        "timeout": 300,
        "graceful_timeout": 20,
        "accesslog": "-",
        "limit_request_line": 8190,
        "post_worker_init": ignore_terminal_interrupt,
    }).run()
