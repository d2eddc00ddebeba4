"""deploy/common/render.py: a template's `# render:` rules are read strictly, and the file it writes has their mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.modules import load_by_path

REPO = Path(__file__).resolve().parents[2]
render = load_by_path("vietmarket_render", REPO / "deploy" / "common" / "render.py")

RULES = """# render: default PORT=5433
# render: allowed A-Za-z0-9.
# render: env-prefix APP_
# render: mode 600
listen ${HOST}:${PORT}
"""


def template(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "app.conf.tmpl"
    path.write_text(text, encoding="utf-8")
    return render.load(path)


def test_the_rules_come_from_the_template(tmp_path: Path) -> None:
    t = template(tmp_path, RULES)
    assert (t.placeholders, t.defaults, t.env_prefix, t.mode) == (["HOST", "PORT"], {"PORT": "5433"}, "APP_", 0o600)
    assert t.from_env({"APP_HOST": "db1", "HOST": "ignored", "APP_OTHER": "x"}) == {"HOST": "db1"}
    assert t.render({"HOST": "db1"}).endswith("listen db1:5433\n")
    with pytest.raises(ValueError, match=r"app.conf.tmpl: unsafe values \(allowed: A-Za-z0-9.\)"):
        t.render({"HOST": "db_1"})


@pytest.mark.parametrize(
    ("rules", "error"),
    [
        ("# render: default PORT\n", "is not NAME=VALUE"),
        ("# render: mode 600\n# render: mode 644\n", "more than one `# render: mode` line"),
        ("# render: default PROT=1\n", "defaults for names it never uses: PROT"),
    ],
)
def test_a_wrong_rule_is_an_error_naming_the_template(tmp_path: Path, rules: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        template(tmp_path, rules + "listen ${HOST}:${PORT}\n")


def test_the_cli_writes_with_the_templates_mode_and_fails_on_a_gap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "app.conf.tmpl"
    path.write_text(RULES, encoding="utf-8")
    out = tmp_path / "out" / "app.conf"
    monkeypatch.setenv("APP_HOST", "db1")
    assert render.main([str(path), "--from-env", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8").endswith("listen db1:5433\n") and out.stat().st_mode & 0o777 == 0o600
    monkeypatch.delenv("APP_HOST")
    assert render.main([str(path), "--from-env", "-o", str(out)]) == 2
    assert "app.conf.tmpl: no value for: HOST" in capsys.readouterr().err
    assert render.main([str(tmp_path / "missing.tmpl")]) == 2
