"""Vietstock's wire formats: feed items and their times, article pages with and without meta tags, listings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vietmarket_pipelines.providers.http import ProviderPayloadError
from vietmarket_pipelines.providers.vietstock import parse_article, parse_feed, parse_listing, parse_pub_date

SERVED = "https://vietstock.vn"


def feed(*items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Cổ phiếu</title>'
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def item(title: str, link: str, pub: str) -> str:
    return (
        f"<item><title>{title}</title><link>{link}</link><pubDate>{pub}</pubDate>"
        '<description>&lt;img src="x.jpg" /&gt;Tóm tắt bài viết</description></item>'
    )


def test_a_naive_pub_date_is_vietnam_time() -> None:
    when = parse_pub_date("Fri, 13 Feb 2026 08:30:00")
    assert when is not None and when.astimezone(UTC) == datetime(2026, 2, 13, 1, 30, tzinfo=UTC)


def test_an_explicit_offset_is_honoured() -> None:
    assert parse_pub_date("Fri, 13 Feb 2026 08:30:00 +0000") == datetime(2026, 2, 13, 8, 30, tzinfo=UTC)
    assert parse_pub_date("Fri, 13 Feb 2026 08:30:00 +0700") == datetime(2026, 2, 13, 1, 30, tzinfo=UTC)
    assert parse_pub_date("") is None and parse_pub_date("not a date") is None


def test_feed_items_are_canonical_with_aware_times_and_plain_descriptions() -> None:
    items = parse_feed(
        feed(
            item(
                "Vinamilk (VNM) báo lãi",
                "HTTP://vietstock.vn/2026/02/a-1.htm?utm_source=rss",
                "Fri, 13 Feb 2026 08:30:00",
            ),
            item("FPT (HOSE) chốt quyền", "https://vietstock.vn/2026/02/b-2.htm/", "Fri, 13 Feb 2026 09:00:00 +0700"),
        ),
        "/830/chung-khoan/co-phieu.rss",
        SERVED,
    )
    assert [i.url for i in items] == ["https://vietstock.vn/2026/02/a-1.htm", "https://vietstock.vn/2026/02/b-2.htm"]
    assert items[0].published_at == datetime(2026, 2, 13, 1, 30, tzinfo=UTC)
    assert items[0].title == "Vinamilk (VNM) báo lãi"
    assert items[0].description == "Tóm tắt bài viết"


def test_broken_xml_is_an_error_that_names_the_feed_and_keeps_nothing() -> None:
    body = feed(item("A", "https://vietstock.vn/a.htm", "Fri, 13 Feb 2026 08:30:00") * 3)
    with pytest.raises(ProviderPayloadError, match=r"vietstock feed /761/kinh-te/vi-mo.rss: not well-formed XML"):
        parse_feed(body[: len(body) // 2], "/761/kinh-te/vi-mo.rss", SERVED)


def test_an_item_without_a_link_is_an_error() -> None:
    with pytest.raises(ProviderPayloadError, match="item 1 has no link or no title"):
        parse_feed(feed("<item><title>Không có link</title></item>"), "/830/x.rss", SERVED)


PAGE_WITH_META = """<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8">
<title>Tiêu đề trong thẻ title | Vietstock</title>
<meta property="og:title" content="Vinamilk (VNM) báo lãi quý IV tăng 12%" />
<meta property="article:published_time" content="2026-02-13T08:30:00+07:00" /></head>
<body><div class="menu">Trang chủ Chứng khoán Doanh nghiệp</div><div id="vst_detail">
<p class="pTitle">Vinamilk (VNM) báo lãi quý IV tăng 12%</p>
<p class="pHead">Doanh thu thuần đạt 15.000 tỷ đồng.</p>
<p class="pBody">Ban lãnh đạo cho biết công ty tiếp tục mở rộng thị trường.</p>
<p class="other">Bài viết liên quan</p></div></body></html>"""


def test_a_page_with_meta_tags() -> None:
    page = parse_article(PAGE_WITH_META, "https://vietstock.vn/2026/02/a-1.htm")
    assert page.title == "Vinamilk (VNM) báo lãi quý IV tăng 12%"
    assert page.published_at == datetime(2026, 2, 13, 1, 30, tzinfo=UTC)
    assert page.text.split("\n\n") == [
        "Vinamilk (VNM) báo lãi quý IV tăng 12%",
        "Doanh thu thuần đạt 15.000 tỷ đồng.",
        "Ban lãnh đạo cho biết công ty tiếp tục mở rộng thị trường.",
    ]
    assert page.word_count == len(page.text.split()) and page.lang == "vi"
    assert len(page.content_sha256) == 64 and page.extraction == "vietstock-paragraphs"


def test_a_page_without_meta_tags_falls_back_to_title_and_no_time() -> None:
    bare = PAGE_WITH_META.replace('<meta property="og:title"', "<meta property='x'").replace(
        'property="article:published_time"', 'property="y"'
    )
    page = parse_article(bare, "https://vietstock.vn/2026/02/a-1.htm")
    assert page.title == "Tiêu đề trong thẻ title"
    assert page.published_at is None


def test_a_naive_published_time_meta_is_vietnam_time() -> None:
    naive = PAGE_WITH_META.replace("2026-02-13T08:30:00+07:00", "2026-02-13T08:30:00")
    assert parse_article(naive, "u").published_at == datetime(2026, 2, 13, 1, 30, tzinfo=UTC)


def test_a_page_without_vietstock_paragraphs_uses_the_readability_fallback() -> None:
    body = " ".join(["Thị trường chứng khoán Việt Nam phiên hôm nay ghi nhận dòng tiền mạnh vào nhóm ngân hàng."] * 6)
    html = (
        '<html lang="vi"><head><title>Phiên chiều: ngân hàng dẫn dắt</title></head><body>'
        "<nav>Trang chủ | Liên hệ</nav><article><h1>Phiên chiều: ngân hàng dẫn dắt</h1>"
        f"<p>{body}</p><p>{body}</p></article><footer>© Vietstock</footer></body></html>"
    )
    page = parse_article(html, "https://vietstock.vn/x.htm")
    assert page.extraction == "readability"
    assert "dòng tiền mạnh" in page.text and "Liên hệ" not in page.text


def test_a_page_without_text_is_an_error_naming_the_url() -> None:
    with pytest.raises(ProviderPayloadError, match=r"vietstock article https://vietstock.vn/x.htm: no article text"):
        parse_article("<html><head><title>x</title></head><body></body></html>", "https://vietstock.vn/x.htm")


def test_listing_links_are_canonical_and_unique() -> None:
    html = (
        '<div class="channel"><h2><a href="/2026/02/a-1.htm" title="Bài A">Bài A</a></h2>'
        '<h2><a href="/2026/02/A-1.htm?utm_source=x">Bài A</a></h2>'
        '<a href="/StartPage/ChannelContentPage?page=2">Trang sau</a>'
        '<h2><a href="https://vietstock.vn/2026/02/b-2.htm">Bài B</a></h2></div>'
    )
    links = parse_listing(html, SERVED)
    assert [(x.url, x.title) for x in links] == [
        ("https://vietstock.vn/2026/02/a-1.htm", "Bài A"),
        ("https://vietstock.vn/2026/02/b-2.htm", "Bài B"),
    ]
