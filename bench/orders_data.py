"""Synthetic Shopify-REST-like orders for the loading benchmark, written once as pages.

``ensure_pages(n)`` writes ``bench/.data/orders-<n>/page-00000.json``… (250 orders a page,
body ``{"orders": [...]}``, the shape of Shopify's ``GET /admin/api/…/orders.json``) and a
``_complete.json`` marker with the counts, and reuses the folder while the marker matches.
Pages are written into ``orders-<n>.partial`` and renamed when all are done, so a killed
generation is never mistaken for a finished one.

The data is deterministic: page ``p`` depends only on the seed and ``p`` (never on ``n`` or
on which worker wrote it), so the pages of a small run are the first pages of a big one.
Each order has ~29 top-level fields in Shopify's REST spelling (money as decimal strings,
times as ISO-8601 with the shop's New York offset, ``tags`` as one comma-separated
string, nulls where Shopify has them), a nested ``customer`` with a ``default_address``,
``billing_address``, ``shipping_address`` and 2–5 ``line_items`` of 15 fields.

``updated_at`` strictly increases with the order's position (30 s apart, ~1 year for
1,000,000 orders), as when the API is asked for ``order=updated_at asc``: the largest
cursor is the last order loaded, and an incremental read from a cursor is a suffix of the
pages. ``created_at`` lies up to two weeks before it, so creation order is only roughly
the same.

Command line (from the repository root)::

    .venv/bin/python bench/orders_data.py --orders 1000000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import shutil
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

DATA_DIR = Path(__file__).resolve().parent / ".data"
PAGE_SIZE = 250
SEED = 20240611
FORMAT_VERSION = 1
MARKER = "_complete.json"

SHOP_TZ = ZoneInfo("America/New_York")
FIRST_UPDATE = datetime(2023, 1, 2, 9, 0, tzinfo=SHOP_TZ).timestamp()
UPDATE_STEP_S = 30
ORDER_ID_BASE = 4_100_000_000_000
LINE_ID_BASE = 11_000_000_000_000
CUSTOMER_ID_BASE = 6_200_000_000_000
ORDER_NUMBER_BASE = 1001

# fmt: off
FIRST_NAMES = (
    "Ada", "Alan", "Amara", "Ana", "Ben", "Bo", "Carla", "Chen", "Dana", "Diego", "Eli", "Emma",
    "Farah", "Finn", "Grace", "Hana", "Ivan", "Jade", "Jonas", "Kai", "Lara", "Leo", "Maya",
    "Mei", "Nina", "Noah", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Sofia", "Tariq", "Uma",
    "Vera", "Wen", "Xavier", "Yara", "Zoe",
)
LAST_NAMES = (
    "Adams", "Baker", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jensen",
    "Kim", "Lopez", "Martin", "Nguyen", "Okafor", "Patel", "Quinn", "Rossi", "Silva", "Tanaka",
    "Ueda", "Varga", "Walker", "Xu", "Young", "Zhang",
)
# fmt: on
CITIES = (
    ("New York", "New York", "NY", "100", 40.71, -74.01),
    ("Brooklyn", "New York", "NY", "112", 40.68, -73.94),
    ("Los Angeles", "California", "CA", "900", 34.05, -118.24),
    ("San Francisco", "California", "CA", "941", 37.77, -122.42),
    ("Chicago", "Illinois", "IL", "606", 41.88, -87.63),
    ("Austin", "Texas", "TX", "787", 30.27, -97.74),
    ("Houston", "Texas", "TX", "770", 29.76, -95.37),
    ("Seattle", "Washington", "WA", "981", 47.61, -122.33),
    ("Portland", "Oregon", "OR", "972", 45.52, -122.68),
    ("Denver", "Colorado", "CO", "802", 39.74, -104.99),
    ("Miami", "Florida", "FL", "331", 25.76, -80.19),
    ("Boston", "Massachusetts", "MA", "021", 42.36, -71.06),
    ("Atlanta", "Georgia", "GA", "303", 33.75, -84.39),
    ("Phoenix", "Arizona", "AZ", "850", 33.45, -112.07),
)
# fmt: off
STREETS = (
    "Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Lake", "Hill", "Park", "River", "Sunset",
    "Market",
)
# fmt: on
STREET_KINDS = ("St", "Ave", "Blvd", "Rd", "Ln")
COMPANIES = ("Acme Co", "Globex", "Initech", "Umbrella LLC", "Stark Industries")
# (title, vendor, sku stem, price in cents, grams); each product has 4 size variants.
PRODUCTS = (
    ("Everyday Tee", "Podium Apparel", "TEE", 2800, 180),
    ("Heavyweight Hoodie", "Podium Apparel", "HOOD", 7400, 720),
    ("Trail Runner", "Northfield", "TRL", 12900, 640),
    ("Wool Beanie", "Northfield", "BEAN", 3200, 90),
    ("Canvas Tote", "Harbor Goods", "TOTE", 2400, 260),
    ("Ceramic Mug", "Harbor Goods", "MUG", 1800, 410),
    ("Cold Brew Kit", "Harbor Goods", "BREW", 4600, 980),
    ("Linen Shirt", "Podium Apparel", "LIN", 6800, 240),
    ("Rain Shell", "Northfield", "RAIN", 15800, 520),
    ("Gift Card", "Podium", "GIFT", 5000, 0),
    ("Sticker Pack", "Podium", "STK", 600, 20),
    ("Water Bottle", "Harbor Goods", "BTL", 3400, 350),
)
SIZES = ("S", "M", "L", "XL")
TAGS = ("vip", "wholesale", "first-order", "subscription", "gift", "influencer", "b2b")
SOURCES = ("web", "web", "web", "pos", "shopify_draft_order", "iphone")
FINANCIAL = ("paid", "paid", "paid", "paid", "partially_refunded", "refunded", "pending")
FULFILLMENT = ("fulfilled", "fulfilled", None, "partial")


def page_path(folder: Path, page: int) -> Path:
    return folder / f"page-{page:05d}.json"


def shop_time(ts: float) -> str:
    """Shopify's spelling: local shop time with its offset, no fraction."""
    return datetime.fromtimestamp(int(ts), SHOP_TZ).isoformat()


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def make_address(rng: random.Random, first: str, last: str) -> dict[str, Any]:
    city, province, code, zip_stem, lat, lon = rng.choice(CITIES)
    return {
        "first_name": first,
        "last_name": last,
        "name": f"{first} {last}",
        "company": rng.choice(COMPANIES) if rng.random() < 0.15 else None,
        "address1": f"{rng.randrange(1, 9999)} {rng.choice(STREETS)} {rng.choice(STREET_KINDS)}",
        "address2": f"Apt {rng.randrange(1, 40)}" if rng.random() < 0.3 else None,
        "city": city,
        "province": province,
        "province_code": code,
        "country": "United States",
        "country_code": "US",
        "zip": f"{zip_stem}{rng.randrange(100):02d}",
        "phone": f"+1555{rng.randrange(10**7):07d}" if rng.random() < 0.5 else None,
        "latitude": round(lat + rng.uniform(-0.2, 0.2), 6),
        "longitude": round(lon + rng.uniform(-0.2, 0.2), 6),
    }


def make_customer(customer_id: int, updated: float) -> dict[str, Any]:
    """The same customer id always gives the same person (counts grow with time)."""
    rng = random.Random(customer_id)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    created = FIRST_UPDATE - rng.randrange(1, 3 * 365) * 86_400
    orders_count = 1 + int((updated - FIRST_UPDATE) / 86_400 / 60)
    address = make_address(rng, first, last)
    return {
        "id": CUSTOMER_ID_BASE + customer_id,
        "email": f"{first}.{last}.{customer_id}@example.com".lower(),
        "first_name": first,
        "last_name": last,
        "created_at": shop_time(created),
        "updated_at": shop_time(updated),
        "orders_count": orders_count,
        "total_spent": money(orders_count * rng.randrange(2000, 30000)),
        "state": "enabled" if rng.random() < 0.7 else "disabled",
        "verified_email": rng.random() < 0.9,
        "tags": "vip" if rng.random() < 0.05 else "",
        "currency": "USD",
        "default_address": {
            "id": CUSTOMER_ID_BASE * 2 + customer_id,
            "customer_id": CUSTOMER_ID_BASE + customer_id,
            **address,
            "default": True,
        },
    }


def make_line_items(rng: random.Random, index: int) -> list[dict[str, Any]]:
    items = []
    for k in range(rng.randint(2, 5)):
        p = rng.randrange(len(PRODUCTS))
        title, vendor, sku, price, grams = PRODUCTS[p]
        size = rng.randrange(len(SIZES))
        quantity = 1 if rng.random() < 0.8 else rng.randint(2, 4)
        discount = price * quantity // 10 if rng.random() < 0.2 else 0
        items.append(
            {
                "id": LINE_ID_BASE + index * 8 + k,
                "variant_id": 44_000_000_000_000 + p * 10 + size,
                "product_id": 8_000_000_000_000 + p,
                "sku": f"{sku}-{SIZES[size]}",
                "title": title,
                "variant_title": SIZES[size],
                "name": f"{title} - {SIZES[size]}",
                "vendor": vendor,
                "quantity": quantity,
                "price": money(price),
                "total_discount": money(discount),
                "grams": grams,
                "requires_shipping": grams > 0,
                "taxable": True,
                "gift_card": sku == "GIFT",
                "fulfillment_status": rng.choice(FULFILLMENT),
            }
        )
    return items


def make_order(rng: random.Random, index: int) -> dict[str, Any]:
    updated = FIRST_UPDATE + index * UPDATE_STEP_S
    created = updated - rng.choice((0, 60, 300, 3600, 86_400, 14 * 86_400)) * rng.random()
    customer = make_customer(rng.randrange(max(1, index // 3) + 1), updated)
    items = make_line_items(rng, index)
    subtotal = sum(int(i["price"].replace(".", "")) * i["quantity"] for i in items)
    discounts = sum(int(i["total_discount"].replace(".", "")) for i in items)
    tax = (subtotal - discounts) * 8 // 100
    cancelled = rng.random() < 0.03
    address = customer["default_address"]
    billing = {k: v for k, v in address.items() if k not in ("id", "customer_id", "default")}
    shipping = billing if rng.random() < 0.85 else make_address(rng, *billing["name"].split())
    return {
        "id": ORDER_ID_BASE + index,
        "admin_graphql_api_id": f"gid://shopify/Order/{ORDER_ID_BASE + index}",
        "name": f"#{ORDER_NUMBER_BASE + index}",
        "order_number": ORDER_NUMBER_BASE + index,
        "email": customer["email"],
        "phone": address["phone"],
        "created_at": shop_time(created),
        "updated_at": shop_time(updated),
        "processed_at": shop_time(created),
        "cancelled_at": shop_time(updated) if cancelled else None,
        "cancel_reason": rng.choice(("customer", "fraud", "inventory")) if cancelled else None,
        "currency": "USD",
        "financial_status": "voided" if cancelled else rng.choice(FINANCIAL),
        "fulfillment_status": None if cancelled else rng.choice(FULFILLMENT),
        "subtotal_price": money(subtotal - discounts),
        "total_discounts": money(discounts),
        "total_tax": money(tax),
        "total_price": money(subtotal - discounts + tax),
        "total_weight": sum(i["grams"] * i["quantity"] for i in items),
        "taxes_included": False,
        "buyer_accepts_marketing": rng.random() < 0.4,
        "test": False,
        "tags": ", ".join(sorted(rng.sample(TAGS, rng.choice((0, 0, 0, 1, 1, 2))))),
        "note": "Please gift wrap" if rng.random() < 0.05 else None,
        "source_name": rng.choice(SOURCES),
        "customer": customer,
        "billing_address": billing,
        "shipping_address": shipping,
        "line_items": items,
    }


def make_page(page: int, n: int, seed: int = SEED) -> list[dict[str, Any]]:
    rng = random.Random(seed * 1_000_003 + page)
    first = page * PAGE_SIZE
    return [make_order(rng, i) for i in range(first, min(n, first + PAGE_SIZE))]


def _write_page(job: tuple[Path, int, int, int]) -> tuple[int, int]:
    """Write one page; return (line items, bytes). Runs in a pool worker."""
    folder, page, n, seed = job
    orders = make_page(page, n, seed)
    body = orjson.dumps({"orders": orders})
    page_path(folder, page).write_bytes(body)
    return sum(len(o["line_items"]) for o in orders), len(body)


def read_marker(folder: Path) -> dict[str, Any] | None:
    try:
        marker = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def is_complete(folder: Path, n: int, seed: int) -> bool:
    marker = read_marker(folder)
    return bool(
        marker
        and marker.get("orders") == n
        and marker.get("seed") == seed
        and marker.get("version") == FORMAT_VERSION
    )


def ensure_pages(
    n: int, data_dir: Path = DATA_DIR, seed: int = SEED, workers: int | None = None
) -> tuple[Path, dict[str, Any]]:
    """The folder of ``n`` orders' pages, generated unless complete; and its marker.

    The marker holds ``orders``, ``line_items``, ``pages``, ``bytes`` and the generation's
    ``seconds``; ``reused`` is added when the pages were already there.
    """
    if n < 1:
        raise ValueError(f"--orders must be >= 1, got {n}")
    folder = data_dir / f"orders-{n}"
    if is_complete(folder, n, seed):
        return folder, {**(read_marker(folder) or {}), "reused": True}
    partial = data_dir / f"orders-{n}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    partial.mkdir(parents=True)
    pages = -(-n // PAGE_SIZE)
    started = time.perf_counter()
    jobs = [(partial, page, n, seed) for page in range(pages)]
    with multiprocessing.Pool(workers or os.cpu_count() or 1) as pool:
        written = pool.map(_write_page, jobs, chunksize=8)
    marker = {
        "orders": n,
        "line_items": sum(items for items, _ in written),
        "pages": pages,
        "bytes": sum(size for _, size in written),
        "seed": seed,
        "version": FORMAT_VERSION,
        "seconds": round(time.perf_counter() - started, 2),
    }
    (partial / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    partial.rename(folder)
    return folder, {**marker, "reused": False}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    folder, marker = ensure_pages(args.orders, args.data_dir, args.seed)
    print(f"{folder}: {json.dumps(marker)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
