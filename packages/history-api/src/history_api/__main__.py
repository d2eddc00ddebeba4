"""`python -m history_api` (and the `history-api` console script): the service with production settings."""

from __future__ import annotations

import logging
import sys

import uvicorn

from history_api.settings import Settings, SettingsError


def main() -> None:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"history-api: {exc}", file=sys.stderr)
        sys.exit(2)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("history_api").info("starting %s", settings)
    uvicorn.run(
        "history_api.app:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        http="httptools",
        access_log=settings.access_log,
        proxy_headers=False,
        server_header=False,
        timeout_keep_alive=30,
        log_level=settings.log_level.lower(),
    )


if __name__ == "__main__":
    main()
