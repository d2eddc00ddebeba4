# VietMarket platform: the two commands in README.md, plus the pieces they are made of.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help setup system timescaledb venv node db run demo stop test lint typecheck bench bench-api convex-test ha ha-stop lock images images-prebuild

help:
	@echo "make run    install what is missing, start TimescaleDB, Dagster and the History API"
	@echo "make test   the same set-up without long-running services, then lint, types and tests"
	@echo "make demo   make run with every provider pointed at the local simulator, then a sample backfill"
	@echo "make stop   stop what make run (or make demo) started"
	@echo "make bench  benchmarks at full size"
	@echo "make bench-api  the History API under wrk against its driver-only floor"

system:
	@bash scripts/install-system-packages.sh

timescaledb: system
	@bash scripts/build-timescaledb.sh

venv: system
	@bash scripts/venv.sh

node: system
	@bash scripts/node-deps.sh

db: timescaledb venv
	@if [[ -n "$$VIETMARKET_EXTERNAL_DB" ]]; then bash scripts/external-db.sh; else bash scripts/db.sh start; fi

setup: db node

run: setup
	@bash scripts/stack.sh start

demo: setup
	@VIETMARKET_DEMO=1 bash scripts/stack.sh start
	@.venv/bin/python scripts/demo.py

stop:
	@bash scripts/stack.sh stop
	@if [[ -z "$$VIETMARKET_EXTERNAL_DB" ]]; then bash scripts/db.sh stop; fi

lint: venv
	@.venv/bin/ruff check .
	@.venv/bin/ruff format --check .

# The packages (pyproject's list), then the tests, benchmarks and deploy tools that drive them, at the same
# strictness: a renamed method there otherwise shows only as a failure twenty minutes into CI.
typecheck: venv
	@.venv/bin/mypy
	@.venv/bin/mypy tests benchmarks deploy scripts

# The Convex functions' own tests (convex-test + vitest), then the Python suite.
convex-test: system
	@bash scripts/convex-test.sh

# The images build in the background from the start (they mostly wait on the mirror and PyPI); the container
# tests, which pytest runs last, wait for them.  The engine is stopped, and checked empty, either way.
test: system images-prebuild setup lint typecheck convex-test
	@status=0; VIETMARKET_DOCKER_ROOT=$(CURDIR)/.data/docker VIETMARKET_IMAGES_PREBUILD=1 bash scripts/test.sh || status=$$?; \
	bash scripts/images.sh stop || status=1; exit $$status

images-prebuild: system
	@bash scripts/images.sh prebuild

# Every image on the debootstrapped base, in a private engine under .data/docker (see deploy/docker/imagectl.py).
images: system
	@python3 deploy/docker/imagectl.py build --root .data/docker

bench: setup
	@bash scripts/bench.sh

bench-api: setup
	@bash scripts/bench.sh api

# The local HA cluster (3 etcd, 2 Patroni + TimescaleDB, HAProxy) on loopback ports; see deploy/ha-local.
ha: setup
	@bash scripts/ha.sh start

ha-stop:
	@bash scripts/ha.sh stop

# Re-resolve the workspace (uv.lock) and export the hash-pinned sets to locks/ (needs PyPI).
lock: venv
	@bash scripts/lock.sh
