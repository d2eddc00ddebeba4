"""`python -m history_api` (and the `history-api` console script): the service with production settings."""

from __future__ import annotations

import logging
import os
import sys

import uvicorn

from history_api.settings import Settings, SettingsError


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"history-api: {exc}", file=sys.stderr)
        sys.exit(2)
    logging.getLogger("history_api").info("starting %s", settings)
    uvicorn.run(
        "history_api.app:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        http="httptools",
        access_log=os.environ.get("HISTORY_API_ACCESS_LOG", "1") != "0",
        proxy_headers=False,
        server_header=False,
        timeout_keep_alive=30,
        log_level=os.environ.get("LOG_LEVEL", "info").lower(),
    )


if __name__ == "__main__":
    main()
