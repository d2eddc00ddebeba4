"""Vietstock as the simulator serves it: RSS feeds, article pages and paginated channel listings."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from functools import cached_property
from html import escape

from vietmarket_core.market import VN_TZ
from vietmarket_pipelines.simulator.market import SimulatedMarket

# channel id -> (section, slug, title): the feeds the platform reads by default.
CHANNELS = {
    830: ("chung-khoan", "co-phieu", "Cổ phiếu"),
    739: ("chung-khoan", "giao-dich-noi-bo", "Giao dịch nội bộ"),
    737: ("doanh-nghiep", "hoat-dong-kinh-doanh", "Hoạt động kinh doanh"),
    761: ("kinh-te", "vi-mo", "Vĩ mô"),
}
# Every way the old linking rules find a ticker in a title, plus none at all.
TITLE_FORMS = (
    "{name} ({t}) báo lãi quý IV tăng {n}%",
    "{t} (HOSE) chốt quyền trả cổ tức {n}% bằng tiền",
    "HOSE: {t} được nới room ngoại thêm {n}%",
    "Khối ngoại bán ròng cổ phiếu {t} phiên thứ {n} liên tiếp",
    "{t} tăng trần, thanh khoản đột biến",
    "Lãi suất liên ngân hàng giảm {n} điểm cơ bản",
)
BODY = (
    "Theo báo cáo tài chính, doanh thu thuần đạt {n} tỷ đồng, tăng so với cùng kỳ năm trước.",
    "Ban lãnh đạo cho biết công ty tiếp tục mở rộng thị trường và kiểm soát chi phí chặt chẽ.",
    "Trên thị trường, cổ phiếu {t} đóng cửa phiên gần nhất với khối lượng khớp lệnh lớn.",
    "Các chuyên gia nhận định dòng tiền sẽ tiếp tục luân chuyển giữa các nhóm ngành.",
)
PER_CHANNEL = 120


@dataclass(frozen=True)
class SimArticle:
    id: int
    channel: int
    title: str
    published: datetime  # Asia/Ho_Chi_Minh
    body: tuple[str, ...]
    tickers: tuple[str, ...]
    home_channel: int  # the channel whose URL the article lives at, whichever feeds list it

    @property
    def path(self) -> str:
        slug = CHANNELS[self.home_channel][1]
        return f"/{self.published:%Y/%m}/{slug}-{self.id}.htm"


class SimulatedNews:
    def __init__(self, market: SimulatedMarket) -> None:
        self.market = market

    @cached_property
    def articles(self) -> list[SimArticle]:
        rng = random.Random(self.market.seed * 7919)
        stocks = [t for t in self.market.listed_stocks()]
        now = self.market.now().astimezone(VN_TZ).replace(second=0, microsecond=0)
        out = []
        for channel in CHANNELS:
            for k in range(PER_CHANNEL):
                ticker = rng.choice(stocks)
                n = rng.randint(2, 60)
                form = TITLE_FORMS[(k + channel) % len(TITLE_FORMS)]
                title = form.format(name=ticker.name.split(" ", 4)[-1], t=ticker.symbol, n=n)
                published = now - timedelta(minutes=37 * k + channel % 30 + 5)
                body = tuple(p.format(t=ticker.symbol, n=rng.randint(100, 9000)) for p in BODY)
                tickers = (ticker.symbol,) if "{t}" in form else ()
                out.append(SimArticle(channel * 100_000 + k, channel, title, published, body, tickers, channel))
        # The same story runs in two feeds, as Vietstock does with company news.
        shared = [a for a in out if a.channel == 737][:10]
        out.extend(SimArticle(a.id, 830, a.title, a.published, a.body, a.tickers, a.home_channel) for a in shared)
        return out

    def by_id(self, article_id: int) -> SimArticle | None:
        return next((a for a in self.articles if a.id == article_id), None)

    def feed(self, channel: int, base_url: str) -> bytes:
        section, slug, title = CHANNELS[channel]
        items = []
        for i, a in enumerate(
            sorted((a for a in self.articles if a.channel == channel), key=lambda a: a.published, reverse=True)[:40]
        ):
            # Link variants the platform must canonicalize: scheme, case, tracking, trailing slash.
            link = f"{base_url}{a.path}"
            link = [link, link.replace("http://", "HTTP://"), f"{link}?utm_source=rss&utm_medium=feed", f"{link}/"][
                i % 4
            ]
            # Vietstock's pubDate usually has no offset; it means Vietnam time.
            pub = a.published.strftime("%a, %d %b %Y %H:%M:%S") if i % 3 else format_datetime(a.published)
            description = escape(f'<img src="{base_url}/thumb/{a.id}.jpg" />{a.body[0]}')
            items.append(
                f"<item><title>{escape(a.title)}</title><link>{escape(link)}</link><guid>{escape(link)}</guid>"
                f"<pubDate>{pub}</pubDate><description>{description}</description></item>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{escape(title)} - Vietstock</title><link>{base_url}/{channel}/{section}/{slug}.htm</link>"
            f"<description>{escape(title)}</description>{''.join(items)}</channel></rss>"
        ).encode()

    def article_page(self, article: SimArticle, with_meta: bool = True) -> bytes:
        meta = (
            f'<meta property="og:title" content="{escape(article.title)}" />'
            f'<meta property="article:published_time" content="{article.published.isoformat()}" />'
            if with_meta
            else ""
        )
        paragraphs = [
            f'<p class="pTitle">{escape(article.title)}</p>',
            f'<p class="pHead">{escape(article.body[0])}</p>',
        ]
        paragraphs += [f'<p class="pBody">{escape(p)}</p>' for p in article.body[1:]]
        return (
            '<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8">'
            f"<title>{escape(article.title)} | Vietstock</title>{meta}</head>"
            f'<body><div class="header">Vietstock</div><div id="vst_detail">{"".join(paragraphs)}</div>'
            '<div class="footer">© Vietstock</div></body></html>'
        ).encode()

    def listing_page(self, channel: int, page: int, base_url: str, per_page: int = 20) -> bytes:
        mine = sorted((a for a in self.articles if a.channel == channel), key=lambda a: a.published, reverse=True)
        chunk = mine[(page - 1) * per_page : page * per_page]
        links = "".join(f'<h2><a href="{a.path}" title="{escape(a.title)}">{escape(a.title)}</a></h2>' for a in chunk)
        return f'<!DOCTYPE html><html lang="vi"><body><div class="channel">{links}</div></body></html>'.encode()

    def index_page(self, base_url: str) -> bytes:
        links = "".join(
            f'<li><a href="{base_url}/{c}/{s}/{slug}.rss">{escape(t)}</a></li>' for c, (s, slug, t) in CHANNELS.items()
        )
        return f'<!DOCTYPE html><html lang="vi"><body><ul class="rss">{links}</ul></body></html>'.encode()
