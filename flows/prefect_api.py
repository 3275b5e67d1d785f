"""How our processes talk to a Prefect API: the client settings and a health wait."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

# Our process talks to Prefect with these (set before the first Prefect client is made).
CLIENT_SETTINGS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_ENABLED": "false",  # never a hidden server of its own
    "PREFECT_LOGGING_LEVEL": "WARNING",
    # Prefect's per-run lines ("Beginning flow run…") stay below that level; each stage
    # run sends its one line of what it did (flows/stage.py ``say``), batched by Prefect.
    "PREFECT_LOGGING_TO_API_ENABLED": "true",
}


def wait_for_api(
    api_url: str, *, timeout: float, given_up: Callable[[], bool] = lambda: False
) -> bool:
    """Whether the Prefect API at ``api_url`` answers healthy within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not given_up():
        try:
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    return False


def reachable(api_url: str, timeout: float = 2.0) -> bool:
    """Whether the Prefect API at ``api_url`` answers healthy now."""
    try:
        return httpx.get(f"{api_url}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False
