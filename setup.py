"""Packaging for the VietMarket data platform: the Dagster code location and the History API."""

from setuptools import find_packages, setup

setup(
    name="vietmarket",
    version="0.1.0",
    description="VietMarket data platform: Dagster pipelines into TimescaleDB and the History API",
    python_requires=">=3.11,<3.13",
    packages=find_packages(include=["vietmarket_pipelines*", "history_api*"]),
    package_data={"vietmarket_pipelines": ["**/*.sql"], "history_api": ["**/*.sql"]},
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
        # Provider politeness: retries with backoff and Retry-After, and a client-side rate limiter.
        "tenacity>=9.0",
        "pyrate-limiter>=4.0",
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
        ],
    },
    entry_points={
        "console_scripts": [
            "vietmarket-db=vietmarket_pipelines.timescale.migrate:main",
        ],
    },
)
