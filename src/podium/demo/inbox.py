"""The files retailers and ad platforms drop into the demo project's ``inbox/``.

The commerce template reads two ``files`` connections besides the APIs; the simulators
do not serve them, so the demo writes them, deterministically from the brand's seed:

    inbox/retailers/sell_through_<monday>.csv   one per complete week: units sold, sales
                                                and stock on hand per retailer × store × SKU
    inbox/ad_spend/ad_spend_<day>.csv           one per day: spend, impressions and clicks
                                                per platform (meta, google, tiktok) × campaign

The retailers are the brand's wholesale accounts and the SKUs its variants, so the files
join to the rest of the warehouse. A day's (or week's) file exists once that day (week) is
over as of the simulated ``now``, as an export would.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from podium.sandbox.brand import Brand, money

RETAILERS_DIR = "inbox/retailers"
AD_SPEND_DIR = "inbox/ad_spend"
SELL_THROUGH_COLUMNS = (
    "retailer",
    "store_id",
    "sku",
    "week",
    "units_sold",
    "sales_amount",
    "on_hand",
)
AD_SPEND_COLUMNS = (
    "date",
    "platform",
    "campaign_id",
    "campaign_name",
    "spend",
    "impressions",
    "clicks",
    "currency",
)
STORES_PER_RETAILER = 3
# platform, campaign id, name, typical daily spend (USD), cost per 1,000 impressions, click rate
CAMPAIGNS: tuple[tuple[str, str, str, float, float, float], ...] = (
    ("meta", "120210001", "Prospecting - Broad", 180.0, 11.0, 0.012),
    ("meta", "120210002", "Retargeting - 7 days", 70.0, 16.0, 0.021),
    ("google", "8812001", "Brand Search", 60.0, 35.0, 0.085),
    ("google", "8812002", "Shopping - All Products", 140.0, 9.0, 0.016),
    ("tiktok", "1790001", "Spark Ads - Creators", 90.0, 7.0, 0.009),
    ("tiktok", "1790002", "Fall Drop", 50.0, 8.0, 0.011),
)


def write_inbox(root: Path, brand: Brand, now: datetime) -> list[Path]:
    """Writes every file due by ``now`` that is not there yet; returns those written."""
    due = [
        *(
            (_week_file(root, w), SELL_THROUGH_COLUMNS, _sell_through(brand, w))
            for w in _weeks(brand, now)
        ),
        *((_day_file(root, d), AD_SPEND_COLUMNS, _ad_spend(brand, d)) for d in _days(brand, now)),
    ]
    written = []
    for path, columns, rows in due:
        if not path.exists():
            _write_csv(path, columns, rows)
            written.append(path)
    return written


def _weeks(brand: Brand, now: datetime) -> list[date]:
    """The Mondays of the weeks that are over by ``now``, from the week before the brand's
    first day (retailers sell stock bought earlier); so a brand of any start date has a
    week's report from its first day on."""
    before = brand.config.first_day - timedelta(days=7)
    first = before - timedelta(days=before.weekday())
    weeks = []
    while first + timedelta(days=7) <= now.date():
        weeks.append(first)
        first += timedelta(days=7)
    return weeks


def _days(brand: Brand, now: datetime) -> list[date]:
    start = brand.config.first_day
    return [start + timedelta(days=n) for n in range((now.date() - start).days)]


def _week_file(root: Path, week: date) -> Path:
    return root / RETAILERS_DIR / f"sell_through_{week.isoformat()}.csv"


def _day_file(root: Path, day: date) -> Path:
    return root / AD_SPEND_DIR / f"ad_spend_{day.isoformat()}.csv"


def _sell_through(brand: Brand, week: date) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for account in brand.wholesale_accounts:
        stem = "".join(word[0] for word in account.name.replace("&", "").split()).upper()
        for store in range(1, STORES_PER_RETAILER + 1):
            store_id = f"{stem}-{store:03d}"
            rng = random.Random(f"{brand.config.seed}:sell_through:{store_id}:{week}")
            for variant in brand.variants:
                if rng.random() >= 0.6:  # each store carries about 60% of the range
                    continue
                units = rng.choice((0, 1, 1, 2, 2, 3, 4, 6))
                on_hand = rng.randint(0, 24)
                sales = f"{money(variant.price * units):.2f}"
                row = (account.name, store_id, variant.sku, week.isoformat(), units, sales, on_hand)
                rows.append(row)
    return rows


def _ad_spend(brand: Brand, day: date) -> list[tuple[object, ...]]:
    rng = random.Random(f"{brand.config.seed}:ad_spend:{day}")
    weekend = 1.25 if day.weekday() >= 5 else 1.0
    rows: list[tuple[object, ...]] = []
    for platform, campaign_id, name, daily, cpm, ctr in CAMPAIGNS:
        spend = money(Decimal(str(daily * weekend * rng.uniform(0.75, 1.25))))
        impressions = int(float(spend) / cpm * 1000)
        clicks = int(impressions * ctr * rng.uniform(0.8, 1.2))
        rows.append(
            (
                day.isoformat(),
                platform,
                campaign_id,
                name,
                f"{spend:.2f}",
                impressions,
                clicks,
                "USD",
            )
        )
    return rows


def _write_csv(path: Path, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")  # a loader never sees half a file
    with temporary.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        writer.writerows(rows)
    temporary.replace(path)
