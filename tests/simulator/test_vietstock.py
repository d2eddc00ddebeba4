"""The simulator's Vietstock: RSS 2.0 feeds with naive pubDates, article pages, listings, and faults."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx
import pytest

from vietmarket_pipelines.simulator.server import SimulatorServer


@pytest.fixture
def vietstock(simulator: SimulatorServer) -> str:
    httpx.delete(f"{simulator.url}/_sim/faults")
    return simulator.url


def test_feeds_are_rss_2_with_vietnamese_titles_and_naive_pub_dates(vietstock: str) -> None:
    response = httpx.get(f"{vietstock}/830/chung-khoan/co-phieu.rss")
    assert response.headers["content-type"].startswith("application/rss+xml")
    items = ET.fromstring(response.content).findall("./channel/item")
    assert len(items) == 40
    titles = [i.findtext("title") or "" for i in items]
    assert any("cổ phiếu" in t or "tăng" in t for t in titles)
    pub_dates = [i.findtext("pubDate") or "" for i in items]
    assert any(not p.endswith(("+0700", "GMT")) for p in pub_dates), "some pubDates carry no offset"
    links = [i.findtext("link") or "" for i in items]
    assert any("utm_source" in link for link in links) and any(link.endswith("/") for link in links)


def test_an_article_is_in_two_feeds(vietstock: str) -> None:
    def links(path: str) -> set[str]:
        root = ET.fromstring(httpx.get(f"{vietstock}{path}").content)
        return {(i.findtext("link") or "").lower().split("?")[0].rstrip("/") for i in root.iter("item")}

    assert links("/830/chung-khoan/co-phieu.rss") & links("/737/doanh-nghiep/hoat-dong-kinh-doanh.rss")


def test_article_pages_carry_meta_tags_and_body_paragraphs(vietstock: str) -> None:
    link = ET.fromstring(httpx.get(f"{vietstock}/761/kinh-te/vi-mo.rss").content).findtext("./channel/item/link") or ""
    page = httpx.get(link.split("?")[0].rstrip("/").replace("HTTP://", "http://")).text
    assert 'property="og:title"' in page and 'property="article:published_time"' in page
    assert 'class="pTitle"' in page and 'class="pHead"' in page and 'class="pBody"' in page


def test_faults_break_the_xml_and_strip_the_meta_tags(vietstock: str) -> None:
    httpx.post(f"{vietstock}/_sim/faults", json={"route": "vietstock-rss", "fault": "broken_xml", "times": 1})
    with pytest.raises(ET.ParseError):
        ET.fromstring(httpx.get(f"{vietstock}/830/chung-khoan/co-phieu.rss").content)
    httpx.post(f"{vietstock}/_sim/faults", json={"route": "vietstock-article", "fault": "no_meta", "times": 1})
    page = httpx.get(f"{vietstock}/2026/02/co-phieu-83000001.htm").text
    assert "og:title" not in page and 'class="pBody"' in page
    httpx.post(f"{vietstock}/_sim/faults", json={"route": "vietstock-rss", "fault": "503", "times": 1})
    assert httpx.get(f"{vietstock}/830/chung-khoan/co-phieu.rss").status_code == 503
    # A rule can pick one article by id, or one feed or listing by channel id.
    httpx.post(
        f"{vietstock}/_sim/faults",
        json={"route": "vietstock-article", "fault": "500", "symbol": "83000002", "times": 1},
    )
    assert httpx.get(f"{vietstock}/2026/02/co-phieu-83000001.htm").status_code == 200
    assert httpx.get(f"{vietstock}/2026/02/co-phieu-83000002.htm").status_code == 500
    httpx.post(f"{vietstock}/_sim/faults", json={"route": "vietstock-listing", "fault": "502", "symbol": "739"})
    listing = f"{vietstock}/StartPage/ChannelContentPage"
    assert httpx.get(listing, params={"channelID": 830, "page": 1}).status_code == 200
    assert httpx.get(listing, params={"channelID": 739, "page": 1}).status_code == 502
    httpx.delete(f"{vietstock}/_sim/faults")


def test_channel_listing_pages_end(vietstock: str) -> None:
    first = httpx.get(f"{vietstock}/StartPage/ChannelContentPage", params={"channelID": 830, "page": 1}).text
    beyond = httpx.get(f"{vietstock}/StartPage/ChannelContentPage", params={"channelID": 830, "page": 99}).text
    assert first.count("<h2>") == 20 and beyond.count("<h2>") == 0
