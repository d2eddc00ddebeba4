"""Render deploy/haproxy/haproxy.cfg.tmpl, the one HAProxy routing config (Nomad job and local HA harness).

Stdlib only, so the harness can use it before any venv exists:

    python3 deploy/haproxy/render.py --set BIND_ADDR=127.0.0.1 --set PG_NODE_1_ADDR=127.0.0.1 \\
        --set PG_NODE_1_PORT=55441 --set PG_NODE_1_REST=58441 --set PG_NODE_2_ADDR=127.0.0.1 \\
        --set PG_NODE_2_PORT=55442 --set PG_NODE_2_REST=58442 -o .data/ha/haproxy.cfg
    python3 deploy/haproxy/render.py --list          # the placeholder names

or from Python (deploy/ is not a package: load the file by path):

    spec = importlib.util.spec_from_file_location("haproxy_render", "deploy/haproxy/render.py")
    ...; module.render({"BIND_ADDR": "127.0.0.1", ...})

Ports default to production values (DEFAULTS); addresses have no default, so nothing binds or routes to a
guessed host.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from string import Template

TEMPLATE_PATH = Path(__file__).resolve().with_name("haproxy.cfg.tmpl")

DEFAULTS: dict[str, str] = {
    "LEADER_PORT": "5433",
    "REPLICA_PORT": "5434",
    "STATS_PORT": "7000",
    "PG_NODE_1_PORT": "5432",
    "PG_NODE_2_PORT": "5432",
    "PG_NODE_1_REST": "8008",
    "PG_NODE_2_REST": "8008",
}

# A value lands inside a double-quoted HAProxy word: quotes, spaces or `$` would change the config's meaning.
_SAFE_VALUE = re.compile(r"[A-Za-z0-9_.:\-\[\]]+")
_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def template_text(path: Path = TEMPLATE_PATH) -> str:
    return path.read_text(encoding="utf-8")


def placeholders(text: str | None = None) -> list[str]:
    """The placeholder names the template uses, in order of first appearance."""
    found = _PLACEHOLDER.findall(template_text() if text is None else text)
    return list(dict.fromkeys(found))


def render(values: Mapping[str, object], *, text: str | None = None) -> str:
    """The config with every placeholder filled from `values` over DEFAULTS; raises ValueError on any gap."""
    text = template_text() if text is None else text
    names = placeholders(text)
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(f"not placeholders of haproxy.cfg.tmpl: {', '.join(unknown)} (known: {', '.join(names)})")
    merged = DEFAULTS | {k: str(v) for k, v in values.items()}
    missing = [n for n in names if n not in merged]
    if missing:
        raise ValueError(f"no value for: {', '.join(missing)}")
    bad = {n: merged[n] for n in names if not _SAFE_VALUE.fullmatch(merged[n])}
    if bad:
        raise ValueError(f"unsafe values (allowed: letters, digits, . : - _ [ ]): {bad}")
    return Template(text).substitute(merged)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a placeholder's value")
    parser.add_argument("--from-env", action="store_true", help="take placeholders found in the environment")
    parser.add_argument("--list", action="store_true", help="print the placeholder names and exit")
    parser.add_argument("-o", "--output", type=Path, help="write here (mode 644) instead of stdout")
    args = parser.parse_args(argv)

    if args.list:
        for name in placeholders():
            print(f"{name}={DEFAULTS.get(name, '')}")
        return 0
    values: dict[str, str] = {}
    if args.from_env:
        values |= {n: os.environ[n] for n in placeholders() if n in os.environ}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set {item!r}: expected NAME=VALUE")
        values[name] = value
    try:
        config = render(values)
    except ValueError as exc:
        print(f"render.py: {exc}", file=sys.stderr)
        return 2
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.output.with_suffix(args.output.suffix + ".tmp")
        tmp.write_text(config, encoding="utf-8")
        tmp.replace(args.output)  # HAProxy reloads never see a half-written file
    else:
        sys.stdout.write(config)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
