"""ASGI entry point for uvicorn: ``uvicorn api.http.asgi:app``."""

from api.http.app import create_app, freeze_startup_heap

app = create_app()
freeze_startup_heap()
