"""The web app and HTTP API (Flask)."""

from web.app import create_app

__all__ = ["create_app"]
