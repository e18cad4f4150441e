"""The production WSGI server: gunicorn with threaded workers."""

import logging

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

    def load(self):
        from web.app import create_app

        return create_app()


def serve(host: str, port: int, workers: int) -> None:
    """Serve until stopped; uploads may take a while, so the timeout is generous."""
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
    }).run()
