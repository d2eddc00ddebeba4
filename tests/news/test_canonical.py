"""Canonical article URLs: one story, one row, however a feed spells its link."""

from __future__ import annotations

import pytest

from vietmarket_pipelines.news.canonical import canonical_url, path_of

CANON = "https://vietstock.vn/2026/02/co-phieu-83000001.htm"


@pytest.mark.parametrize(
    "link",
    [
        "https://vietstock.vn/2026/02/co-phieu-83000001.htm",
        "http://vietstock.vn/2026/02/co-phieu-83000001.htm",
        "HTTP://VIETSTOCK.VN/2026/02/co-phieu-83000001.htm",
        "https://vietstock.vn/2026/02/Co-Phieu-83000001.htm",
        "https://vietstock.vn/2026/02/co-phieu-83000001.htm/",
        "https://vietstock.vn/2026/02/co-phieu-83000001.htm?utm_source=rss&utm_medium=feed",
        "https://vietstock.vn/2026/02/co-phieu-83000001.htm?fbclid=IwAR0abc#comments",
        "  https://vietstock.vn/2026/02/co-phieu-83000001.htm\n",
    ],
)
def test_every_spelling_of_a_link_is_one_canonical_url(link: str) -> None:
    assert canonical_url(link) == CANON


def test_meaningful_query_parameters_are_kept() -> None:
    assert canonical_url("https://vietstock.vn/x.htm?id=3&utm_campaign=a") == "https://vietstock.vn/x.htm?id=3"


def test_links_served_by_the_configured_base_url_map_onto_vietstock() -> None:
    served = "http://127.0.0.1:8765"
    assert canonical_url("http://127.0.0.1:8765/2026/02/co-phieu-83000001.htm/", served) == CANON
    assert canonical_url("https://finance.vietstock.vn/a.htm", served) == "https://finance.vietstock.vn/a.htm"
    assert path_of(CANON) == "/2026/02/co-phieu-83000001.htm"


@pytest.mark.parametrize("link", ["", "   ", "mailto:tin@vietstock.vn", "javascript:void(0)"])
def test_non_links_are_refused(link: str) -> None:
    with pytest.raises(ValueError):
        canonical_url(link)
