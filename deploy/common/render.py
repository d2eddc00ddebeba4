"""Render one of deploy/'s config templates (HAProxy routing, pgBackRest) by the rules the template itself states.

Stdlib only, so the HA harness can run it before any venv exists and a container entrypoint or a Nomad task with
the system Python that Patroni already needs:

    python3 deploy/common/render.py deploy/haproxy/haproxy.cfg.tmpl --set BIND_ADDR=127.0.0.1 ... -o haproxy.cfg
    python3 deploy/common/render.py deploy/pgbackrest/pgbackrest.conf.tmpl --from-env -o pgbackrest.conf
    python3 deploy/common/render.py TEMPLATE --list     # the placeholder names and their defaults

or from Python (deploy/ is not a package: load the file by path) with `load(path).render({...})`.

Placeholders are string.Template ones, `${NAME}`.  A template states its own rules in `# render:` lines, so each
default has one place, beside what it configures:

    # render: default NAME=VALUE      a value used when none is given (no line: the value is required)
    # render: allowed CLASS           the characters a value may hold, as the body of a regex class
    # render: env-prefix PREFIX       --from-env reads NAME from PREFIX + NAME
    # render: mode 640                the output file's mode (default 644)
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from string import Template

_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
_RULE = re.compile(r"^# render: (default|allowed|env-prefix|mode) (.+?)\s*$", re.MULTILINE)
_DEFAULT = re.compile(r"([A-Z][A-Z0-9_]*)=(\S+)")


class TemplateFile:
    """A template's text and the rules its `# render:` lines state."""

    # A plain class, not a dataclass: callers load this file by path, outside sys.modules.
    def __init__(  # noqa: PLR0913 - the text and each rule
        self, name: str, text: str, defaults: dict[str, str], allowed: str, env_prefix: str, mode: int
    ) -> None:
        self.name, self.text, self.defaults = name, text, defaults
        self.allowed, self.env_prefix, self.mode = allowed, env_prefix, mode

    @property
    def placeholders(self) -> list[str]:
        """The placeholder names the template uses, in order of first appearance."""
        return list(dict.fromkeys(_PLACEHOLDER.findall(self.text)))

    def render(self, values: Mapping[str, object]) -> str:
        """The config with every placeholder filled from `values` over the defaults; ValueError on any gap."""
        names = self.placeholders
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise ValueError(f"not placeholders of {self.name}: {', '.join(unknown)} (known: {', '.join(names)})")
        merged = self.defaults | {k: str(v) for k, v in values.items()}
        missing = [n for n in names if n not in merged]
        if missing:
            raise ValueError(f"{self.name}: no value for: {', '.join(missing)}")
        # A value is one word of the config: quotes, spaces, newlines or `$` would change its meaning.
        safe = re.compile(f"[{self.allowed}]+")
        bad = {n: merged[n] for n in names if not safe.fullmatch(merged[n])}
        if bad:
            raise ValueError(f"{self.name}: unsafe values (allowed: {self.allowed}): {bad}")
        return Template(self.text).substitute(merged)

    def from_env(self, env: Mapping[str, str]) -> dict[str, str]:
        """The placeholders that `env` sets, under the template's prefix."""
        return {n: env[self.env_prefix + n] for n in self.placeholders if self.env_prefix + n in env}


def load(path: Path | str) -> TemplateFile:
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    rules: dict[str, list[str]] = {}
    for key, value in _RULE.findall(text):
        rules.setdefault(key, []).append(value)
    defaults: dict[str, str] = {}
    for line in rules.get("default", []):
        if not (match := _DEFAULT.fullmatch(line)):
            raise ValueError(f"{path.name}: `# render: default {line}` is not NAME=VALUE")
        defaults[match[1]] = match[2]
    for key in ("allowed", "env-prefix", "mode"):
        if len(rules.get(key, [])) > 1:
            raise ValueError(f"{path.name}: more than one `# render: {key}` line")
    (allowed,) = rules.get("allowed", [r"A-Za-z0-9_.\-"])
    (env_prefix,) = rules.get("env-prefix", [""])
    (mode,) = rules.get("mode", ["644"])
    template = TemplateFile(path.name, text, defaults, allowed, env_prefix, int(mode, 8))
    unused = sorted(set(defaults) - set(template.placeholders))
    if unused:
        raise ValueError(f"{path.name}: defaults for names it never uses: {', '.join(unused)}")
    return template


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("template", type=Path, help="the .tmpl file")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a placeholder's value")
    parser.add_argument("--from-env", action="store_true", help="take placeholders from <env-prefix><NAME> variables")
    parser.add_argument("--list", action="store_true", help="print the placeholder names and defaults, and exit")
    parser.add_argument("-o", "--output", type=Path, help="write here (the template's mode) instead of stdout")
    args = parser.parse_args(argv)

    try:
        template = load(args.template)
        if args.list:
            for name in template.placeholders:
                print(f"{name}={template.defaults.get(name, '')}")
            return 0
        values = template.from_env(os.environ) if args.from_env else {}
        for item in args.set:
            name, sep, value = item.partition("=")
            if not sep:
                parser.error(f"--set {item!r}: expected NAME=VALUE")
            values[name] = value
        config = template.render(values)
    except (OSError, ValueError) as exc:
        print(f"render.py: {exc}", file=sys.stderr)
        return 2
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.output.with_suffix(args.output.suffix + ".tmp")
        tmp.write_text(config, encoding="utf-8")
        tmp.chmod(template.mode)
        tmp.replace(args.output)  # a reload never sees a half-written file
    else:
        sys.stdout.write(config)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
