"""Ticker links on real-looking Vietnamese titles and bodies: each rule, its confidence, the stopwords."""

from __future__ import annotations

import pytest

from vietmarket_pipelines.news.linking import BODY_WINDOW, link_tickers

ACTIVE = frozenset({"FPT", "VNM", "HPG", "SSI", "VCB", "MWG", "VND", "CEO", "TIN", "HAI", "GAS", "VNINDEX"})


def links(title: str, body: str = "") -> list[tuple[str, float, str]]:
    return [(x.ticker, x.confidence, x.method) for x in link_tickers(title, body, ACTIVE)]


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Vinamilk (VNM) báo lãi quý IV tăng 12%", [("VNM", 0.95, "title_parens")]),
        ("Thế Giới Di Động ( MWG ) mở thêm 200 cửa hàng", [("MWG", 0.95, "title_parens")]),
        ("FPT (HOSE) chốt quyền trả cổ tức 20% bằng tiền", [("FPT", 0.92, "exchange_tag")]),
        ("HOSE: HPG được nới room ngoại thêm 5%", [("HPG", 0.92, "exchange_tag")]),
        ("UPCoM: GAS điều chỉnh kế hoạch", [("GAS", 0.92, "exchange_tag")]),
        ("Khối ngoại bán ròng cổ phiếu SSI phiên thứ 7 liên tiếp", [("SSI", 0.90, "stock_phrase")]),
        ("Mã CK VCB lọt top vốn hóa", [("VCB", 0.90, "stock_phrase")]),
        ("VCB tăng trần, thanh khoản đột biến", [("VCB", 0.60, "title_token")]),
        ("VNINDEX mất mốc 1.200 điểm", [("VNINDEX", 0.60, "title_token")]),
    ],
)
def test_each_rule_and_its_confidence(title: str, expected: list[tuple[str, float, str]]) -> None:
    assert links(title) == expected


def test_the_most_confident_rule_wins_and_links_are_ordered() -> None:
    title = "FPT (HOSE) và Vinamilk (VNM): cổ phiếu HPG cũng tăng, SSI đi ngang"
    assert links(title) == [
        ("VNM", 0.95, "title_parens"),
        ("FPT", 0.92, "exchange_tag"),
        ("HPG", 0.90, "stock_phrase"),
        ("SSI", 0.60, "title_token"),
    ]


def test_the_body_counts_only_for_phrases_and_only_its_first_8_kb() -> None:
    assert links("Lãi suất liên ngân hàng giảm", "Trên thị trường, cổ phiếu FPT đóng cửa tăng.") == [
        ("FPT", 0.90, "stock_phrase")
    ]
    assert links("Thị trường hôm nay", "HPG tăng mạnh trong phiên.") == []  # a bare token in a body is no link
    far = "Thị trường. " * (BODY_WINDOW // 12 + 10) + "cổ phiếu FPT"
    assert links("Thị trường hôm nay", far) == []


@pytest.mark.parametrize(
    "title",
    [
        "CEO của VND nói gì về TIN đồn sáp nhập",  # CEO, VND and TIN are listed tickers and common words
        "Giá USD hôm nay (USD) tăng nhẹ",
        "GDP quý III tăng 7,4%, CPI trong tầm kiểm soát",
        "TIN NÓNG: HAI PHIÊN GIẢM SÀN LIÊN TIẾP",  # a title in capitals: every word looks like a ticker
        "Cổ phiếu ngân hàng hồi phục",  # 'ngân' is not a ticker and case matters after the phrase
    ],
)
def test_stopwords_capitals_and_common_words_link_nothing(title: str) -> None:
    assert links(title) == []


def test_only_known_active_symbols_are_linked() -> None:
    assert links("Cổ phiếu XYZ (XYZ) tăng trần") == []  # XYZ is not listed
    assert link_tickers("Vinamilk (VNM) báo lãi", "", frozenset({"FPT"})) == []


def test_words_glued_to_diacritics_are_not_tokens() -> None:
    # "ĐẠT" contains letters outside A-Z; "FPTS" is another ticker, not FPT.
    assert links("ĐẠT MỤC TIÊU, FPTS khuyến nghị mua") == []
