"""Packaging for the VietMarket data platform: the Dagster code location and the History API."""

from setuptools import find_packages, setup

setup(
    name="vietmarket",
    version="0.1.0",
    description="VietMarket data platform: Dagster pipelines into TimescaleDB and the History API",
    python_requires=">=3.11,<3.13",
    packages=find_packages(include=["vietmarket_pipelines*", "history_api*"]),
    package_data={
        "vietmarket_pipelines": ["**/*.sql"],
        # The chart's lightweight-charts build comes from npm (history_api/chart/package.json) at set-up.
        "history_api": ["**/*.sql", "chart/*.html", "chart/*.js", "chart/*.json"],
    },
    install_requires=[
        # Dagster's release set moves in lockstep; see ../shared/reference/dagster-notes.md.
        "dagster==1.13.27",
        "dagster-webserver==1.13.27",
        "dagster-postgres==0.29.27",
        "pandas>=2.2",
        "sqlalchemy>=2.0,<2.1",  # 2.1 defaults postgresql:// to psycopg 3; dagster-postgres uses psycopg2
        "psycopg2-binary>=2.9.9",
        "httpx>=0.27",
        "litestar>=2.12",
        "msgspec>=0.18",
        "asyncpg>=0.29",
        "uvicorn[standard]>=0.30",
        # The History API's per-key limits: sliding-window counters from a library made for it.
        "limits>=5.0",
        # Provider politeness: retries with backoff and Retry-After, and a client-side rate limiter.
        "tenacity>=9.0",
        "pyrate-limiter>=4.0",
        # News: RSS parsing, HTML extraction with a readability-style fallback, URL normalisation.
        "feedparser>=6.0",
        "beautifulsoup4>=4.12",
        "lxml>=5.0",
        "trafilatura>=2.0",
        "courlan>=1.3",
        # Vietnamese holidays and sessions; cross-checked against VNINDEX's own trading dates.
        "vn-market-calendar>=0.2",
    ],
    extras_require={
        "dev": [
            "pytest>=8",
            "pytest-timeout>=2.3",
            "pytest-httpserver>=1.1",
            "psutil>=5.9",
            "ruff>=0.6",
            "mypy>=1.11",
            "pandas-stubs",
            "types-psycopg2",
            "asyncpg-stubs",
            # History API: OpenAPI-driven fuzzing, and the chart page driven in the system Chromium.
            "schemathesis>=4.0",
            "playwright>=1.49",
            # Nomad job specs are checked by parsing them (there is no Nomad binary in CI).
            "python-hcl2>=7.0",
        ],
    },
    entry_points={
        "console_scripts": [
            "vietmarket-db=vietmarket_pipelines.timescale.migrate:main",
            "history-api=history_api.__main__:main",
        ],
    },
)
