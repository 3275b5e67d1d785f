"""The HTTP API: the FastAPI app, its dependencies, problem+json, routers."""
