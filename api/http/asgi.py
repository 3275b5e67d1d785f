"""ASGI entry point for uvicorn: ``uvicorn api.http.asgi:app``."""

from api.http.app import create_app

app = create_app()
