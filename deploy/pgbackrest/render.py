"""Render deploy/pgbackrest/pgbackrest.conf.tmpl, the one pgBackRest config (local HA harness, database image, Nomad).

Stdlib only, so a container entrypoint can run it with the system Python that Patroni already needs:

    python3 deploy/pgbackrest/render.py --set STANZA=vietmarket --set REPO_PATH=/var/lib/pgbackrest \\
        --set PG_DATA=/home/postgres/pgdata/data --set PG_SOCKET_DIR=/var/run/postgresql \\
        -o /etc/pgbackrest/pgbackrest.conf
    python3 deploy/pgbackrest/render.py --from-env -o ...   # placeholders from PGBR_<NAME> variables
    python3 deploy/pgbackrest/render.py --list              # the placeholder names and their defaults

or from Python (deploy/ is not a package: load the file by path) with `render({...})`.  Paths have no
default, so nothing is backed up from, or into, a guessed directory.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from string import Template

TEMPLATE_PATH = Path(__file__).resolve().with_name("pgbackrest.conf.tmpl")
ENV_PREFIX = "PGBR_"

DEFAULTS: dict[str, str] = {
    "STANZA": "vietmarket",
    # Two full backups (two weeks with a weekly full) and six differentials (a week of dailies).
    "RETENTION_FULL": "2",
    "RETENTION_DIFF": "6",
    "PROCESS_MAX": "2",
    "PG_PORT": "5432",
    "LOG_PATH": "/var/log/pgbackrest",
    "LOCK_PATH": "/tmp/pgbackrest",
    "SPOOL_PATH": "/var/spool/pgbackrest",
}

# A value is one word of an ini line: no spaces, quotes, newlines or `=`.
_SAFE_VALUE = re.compile(r"[A-Za-z0-9_./:\-]+")
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
        raise ValueError(f"not placeholders of pgbackrest.conf.tmpl: {', '.join(unknown)} (known: {', '.join(names)})")
    merged = DEFAULTS | {k: str(v) for k, v in values.items()}
    missing = [n for n in names if n not in merged]
    if missing:
        raise ValueError(f"no value for: {', '.join(missing)}")
    bad = {n: merged[n] for n in names if not _SAFE_VALUE.fullmatch(merged[n])}
    if bad:
        raise ValueError(f"unsafe values (allowed: letters, digits, . / : - _): {bad}")
    return Template(text).substitute(merged)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a placeholder's value")
    parser.add_argument("--from-env", action="store_true", help=f"take placeholders from {ENV_PREFIX}<NAME> variables")
    parser.add_argument("--list", action="store_true", help="print the placeholder names and exit")
    parser.add_argument("-o", "--output", type=Path, help="write here (mode 640) instead of stdout")
    args = parser.parse_args(argv)

    if args.list:
        for name in placeholders():
            print(f"{name}={DEFAULTS.get(name, '')}")
        return 0
    values: dict[str, str] = {}
    if args.from_env:
        values |= {n: os.environ[ENV_PREFIX + n] for n in placeholders() if ENV_PREFIX + n in os.environ}
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
        tmp.chmod(0o640)
        tmp.replace(args.output)
    else:
        sys.stdout.write(config)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
