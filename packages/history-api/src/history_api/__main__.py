"""`python -m history_api` (and the `history-api` console script): the service with production settings."""

from __future__ import annotations

import logging
import sys

import uvicorn

from history_api.workers import Workers, settings_or_exit, uvicorn_config


def main() -> None:
    settings = settings_or_exit()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("history_api").info("starting %s", settings)
    if settings.workers == 1:
        uvicorn.Server(uvicorn_config()).run()
        return
    try:
        sys.exit(Workers(uvicorn_config, settings.host, settings.port, settings.workers).run())
    except OSError as exc:
        print(f"history-api: cannot listen on {settings.host}:{settings.port}: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
