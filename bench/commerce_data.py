"""A year of a consumer brand's raw tables, generated with SQL, for the commerce models
benchmark (``commerce_models.py`` says what is in them and how they are used).

``generate(path, scale)`` writes every raw table into a DuckDB file, shaped as podium's
connectors land them; ``copy_to_postgres`` copies them into PostgreSQL under a prefix.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ORDERS = 1_000_000
START, NOW = "2025-01-01 00:00:00", "2026-01-01 00:00:00"  # a year of data, as of NOW
SPAN_S = 365 * 86400


@dataclass(frozen=True)
class Scale:
    """How many of everything ``orders`` orders make."""

    orders: int
    shopify: int
    amazon: int
    wholesale: int
    customers: int  # Shopify customers; Klaviyo has these and 10% more profiles
    profiles: int
    opened: int  # Opened Email events (Placed Order: one per Shopify order with a customer)
    accounts: int  # NetSuite wholesale accounts (the first 8 are retailers with stores)
    stores: int  # stores per retailer in the sell-through reports

    @classmethod
    def of(cls, orders: int) -> Scale:
        shopify, amazon = round(orders * 0.70), round(orders * 0.28)
        customers = max(500, orders // 5)
        return cls(
            orders=orders,
            shopify=shopify,
            amazon=amazon,
            wholesale=max(1, orders - shopify - amazon),
            customers=customers,
            profiles=customers + customers // 10,
            opened=round(shopify * 0.45),
            accounts=min(120, max(8, orders // 8000)),
            stores=max(2, orders // 40_000),
        )


# -- the raw data ----------------------------------------------------------------------
#
# Every table is one CREATE TABLE ... AS SELECT. u(k, salt) is a uniform number in [0, 1)
# and pick(k, salt, n) an integer in [0, n), both from hash(); moment(seconds) is a moment of
# the year; loaded(t) the daily load (06:00 UTC the next day) that brought a row last
# changed at t. Intermediate tables are TEMP, so the warehouse holds only raw tables.

MACROS = f"""
SET TimeZone = 'UTC';
CREATE OR REPLACE TEMP MACRO n(name) AS getvariable(name);
CREATE OR REPLACE TEMP MACRO as_of() AS TIMESTAMP '{NOW}';
CREATE OR REPLACE TEMP MACRO moment(seconds) AS TIMESTAMP '{START}' + to_seconds(seconds::BIGINT);
CREATE OR REPLACE TEMP MACRO u(k, salt) AS (hash(k, salt) % 1000003)::DOUBLE / 1000003;
CREATE OR REPLACE TEMP MACRO pick(k, salt, m) AS (hash(k, salt) % m)::BIGINT;
CREATE OR REPLACE TEMP MACRO money(x) AS round(x, 2)::DECIMAL(18, 2);
CREATE OR REPLACE TEMP MACRO key_ts(t) AS strftime(t, '%Y-%m-%d %H:%M:%S') || '+00';
CREATE OR REPLACE TEMP MACRO loaded(t) AS
    least(date_trunc('day', t) + INTERVAL 30 HOUR, as_of() + INTERVAL 6 HOUR)::TIMESTAMPTZ;
CREATE OR REPLACE TEMP MACRO load_id(t) AS strftime(loaded(t), '%Y%m%dT%H%M%SZ') || '-bench';
CREATE OR REPLACE TEMP MACRO lines_of(x) AS
    1 + (x >= 0.45)::INT + (x >= 0.75)::INT + (x >= 0.92)::INT;
"""


def parent(key: str, changed: str, *, record_hash: bool = False) -> str:
    """podium's columns on a top-level table: its key text and the load that brought it."""
    extra = ", md5(_key) AS _record_hash" if record_hash else ""
    return (
        f"({key})::VARCHAR AS _key, load_id({changed}) AS _load_id, "
        f"loaded({changed}) AS _extracted_at, false AS _deleted{extra}"
    )


def child(root: str, parent_key: str, pos: str, changed: str) -> str:
    """podium's columns on a child table (``parent__child``)."""
    return (
        f"({root})::VARCHAR AS _root_key, ({parent_key})::VARCHAR AS _parent_key, "
        f"({pos})::BIGINT AS _pos, load_id({changed}) AS _load_id, "
        f"loaded({changed}) AS _extracted_at"
    )


CATALOGUE = f"""
CREATE TEMP TABLE cat AS
WITH products AS (
    SELECT range AS p,
        ['Everyday', 'Trail', 'Merino', 'Canvas', 'Alpine', 'Harbor', 'Linen', 'Summit',
         'Cedar', 'Coastal'][range % 10 + 1] AS adjective,
        ['Tee', 'Hoodie', 'Socks', 'Tote', 'Mug'][range // 10 + 1] AS noun
    FROM range(50)
), variants AS (
    SELECT *, CASE WHEN noun IN ('Tee', 'Hoodie', 'Socks') THEN ['S', 'M', 'L', 'XL'][v + 1]
        ELSE ['BLK', 'WHT', 'GRN', 'BLU'][v + 1] END AS variant_title
    FROM products, range(4) AS r(v)
)
SELECT p * 4 + v AS sku_i, p, v, adjective || ' ' || noun AS product_title, variant_title,
    upper(left(adjective, 3) || left(noun, 3)) || '-' || variant_title AS sku,
    CASE WHEN noun IN ('Tee', 'Hoodie', 'Socks') THEN 'Apparel'
         WHEN noun = 'Tote' THEN 'Accessories' ELSE 'Home' END AS product_type,
    money(12 + pick(p, 'price', 118) + [0, 0.5, 0.95][pick(p, 'cents', 3) + 1]) AS price,
    8100000000 + p AS product_id,
    44000000000 + p * 10 + v AS variant_id,
    46000000000 + p * 10 + v AS inventory_item_id,
    (800000000000 + p * 1000 + v)::VARCHAR AS barcode,
    'B0' || printf('%04d', p * 10 + v) || upper(left(adjective, 4)) AS asin,
    (500 + p * 4 + v)::VARCHAR AS item_id,
    TIMESTAMP '2024-03-01' + p * INTERVAL 5 DAY AS created_at
FROM variants;

CREATE SCHEMA IF NOT EXISTS raw_shopify;
CREATE TABLE raw_shopify.products AS
SELECT DISTINCT ON (p) product_id AS id, product_title AS title,
    lower(replace(product_title, ' ', '-')) AS handle, product_type, 'ACTIVE' AS status,
    created_at, created_at AS updated_at, {parent("product_id", "as_of()")}
FROM cat ORDER BY p;
CREATE TABLE raw_shopify.products__variants AS
SELECT variant_id AS id, sku, variant_title AS title, price, barcode, inventory_item_id,
    {child("product_id", "product_id", "v", "as_of()")}
FROM cat ORDER BY sku_i;
CREATE TABLE raw_shopify.inventory_levels AS
SELECT inventory_item_id, location_id::BIGINT AS location_id, location_name, sku, variant_id,
    (CASE location_id WHEN 81000001 THEN 500 ELSE 20 END + pick(sku_i, location_id, 400))::BIGINT
        AS available,
    as_of() - to_seconds(pick(sku_i, 'inv', 86400)) AS updated_at,
    {parent("inventory_item_id || chr(31) || location_id", "as_of()", record_hash=True)}
FROM cat, (VALUES (81000001, 'Warehouse'), (81000002, 'Flagship store')) AS l(location_id, location_name)
ORDER BY sku_i, location_id;
"""

SHOPIFY = f"""
CREATE TEMP TABLE so AS
SELECT *,
    created_at + INTERVAL 3 DAY + to_seconds(pick(k, 'refund_delay', 17 * 86400)) AS refund_at
FROM (
    SELECT k, 6000000000 + k AS id, '#' || (10000 + k) AS name,
        moment((k + u(k, 'at')) * n('span') / n('shopify')) AS created_at,
        lines_of(u(k, 'lines')) AS n_lines,
        CASE WHEN u(k, 'guest') >= 0.03
            THEN floor(n('customers') * pow(u(k, 'who'), 1.8))::BIGINT END AS c,
        CASE WHEN u(k, 'code') < 0.15 THEN pick(k, 'which', 3) END AS code_i,
        u(k, 'cancel') < 0.01 AS cancelled,
        u(k, 'refund') < 0.064 AS refund_wanted,
        u(k, 'full') < 0.3 AS full_refund,
        floor(200 * pow(u(k, 'sku'), 1.5))::BIGINT AS sku0
    FROM range(n('shopify')) AS t(k)
);

CREATE TEMP TABLE sl AS
SELECT o.k, o.id AS order_id, r.j, o.id * 100 + r.j + 1 AS id, c.sku, c.variant_title AS title,
    c.variant_id, c.product_id, c.price, q.quantity,
    CASE WHEN o.code_i IS NULL THEN money(0)
         ELSE money(c.price * q.quantity * [0.10, 0.20, 0.15][o.code_i + 1]) END AS discount,
    ['SAVE10', 'FALL20', 'WELCOME15'][o.code_i + 1] AS code
FROM so AS o
JOIN range(4) AS r(j) ON r.j < o.n_lines
JOIN cat AS c ON c.sku_i = (o.sku0 + r.j * 37) % 200
CROSS JOIN LATERAL (SELECT 1 + (u(o.k * 8 + r.j, 'qty') < 0.25)::INT
    + (u(o.k * 8 + r.j, 'qty') < 0.06)::INT AS quantity) AS q;

CREATE TEMP TABLE so2 AS
WITH totals AS (
    SELECT k, sum(price * quantity) AS gross, sum(discount) AS discounts, sum(quantity) AS units
    FROM sl GROUP BY k
), priced AS (
    SELECT o.*, t.gross, t.discounts, t.units, t.gross - t.discounts AS subtotal,
        money(CASE WHEN t.gross - t.discounts >= 75 THEN 0 ELSE 7.95 END) AS shipping,
        money((t.gross - t.discounts) * 0.08) AS tax,
        o.refund_wanted AND NOT o.cancelled AND o.refund_at < as_of() AS refunded,
        NOT o.cancelled AND o.created_at + INTERVAL 2 DAY <= as_of() AS fulfilled
    FROM so AS o JOIN totals AS t USING (k)
)
SELECT *, subtotal + shipping + tax AS total,
    CASE WHEN refunded THEN refund_at WHEN cancelled THEN created_at + INTERVAL 2 HOUR
         WHEN fulfilled THEN created_at + INTERVAL 2 DAY ELSE created_at END AS updated_at
FROM priced;

CREATE TEMP TABLE srl AS
SELECT l.k, 9300000000 + l.k AS refund_id, l.j, l.id AS line_item_id,
    CASE WHEN o.full_refund THEN l.quantity ELSE 1 END AS quantity,
    CASE WHEN o.full_refund THEN l.price * l.quantity - l.discount
         ELSE money(l.price - l.discount / l.quantity) END AS subtotal
FROM sl AS l JOIN so2 AS o USING (k)
WHERE o.refunded AND (o.full_refund OR l.j = 0);

CREATE TEMP TABLE sr AS
WITH lines AS (SELECT k, sum(subtotal) AS subtotal FROM srl GROUP BY k)
SELECT o.k, 9300000000 + o.k AS id, o.id AS order_id, o.updated_at AS order_updated_at,
    o.refund_at AS created_at,
    ['customer_return', 'order_issue', 'damaged'][pick(o.k, 'note', 3) + 1] AS note,
    l.subtotal + CASE WHEN o.full_refund THEN o.shipping ELSE 0 END AS total_refunded,
    o.full_refund
FROM so2 AS o JOIN lines AS l USING (k);

CREATE TABLE raw_shopify.orders AS
SELECT o.id, o.name, o.created_at, o.created_at AS processed_at, o.updated_at,
    CASE WHEN o.cancelled THEN o.created_at + INTERVAL 2 HOUR END AS cancelled_at,
    'USD' AS currency,
    CASE WHEN o.cancelled THEN 'VOIDED' WHEN r.full_refund THEN 'REFUNDED'
         WHEN r.id IS NOT NULL THEN 'PARTIALLY_REFUNDED' ELSE 'PAID' END AS financial_status,
    CASE WHEN o.fulfilled THEN 'FULFILLED' ELSE 'UNFULFILLED' END AS fulfillment_status,
    7200000000 + o.c AS customer_id,
    ['SAVE10', 'FALL20', 'WELCOME15'][o.code_i + 1] AS discount_codes,
    o.subtotal::DECIMAL(18, 2) AS subtotal_price, o.discounts::DECIMAL(18, 2) AS total_discounts,
    o.shipping AS total_shipping_price, o.tax AS total_tax, o.total::DECIMAL(18, 2) AS total_price,
    coalesce(r.total_refunded, 0)::DECIMAL(18, 2) AS total_refunded,
    {parent("o.id", "o.updated_at")}
FROM so2 AS o LEFT JOIN sr AS r USING (k)
ORDER BY o.id;

CREATE TABLE raw_shopify.orders__line_items AS
SELECT l.id, l.sku, l.title, l.quantity::BIGINT AS quantity, l.price,
    l.discount AS total_discount, l.variant_id, l.product_id,
    {child("l.order_id", "l.order_id", "l.j", "o.updated_at")}
FROM sl AS l JOIN so2 AS o USING (k)
ORDER BY l.id;

CREATE TABLE raw_shopify.orders__line_items__discount_allocations AS
SELECT l.discount AS amount, l.code AS discount_code,
    {child("l.order_id", "l.order_id || '/' || l.j", "0", "o.updated_at")}
FROM sl AS l JOIN so2 AS o USING (k)
WHERE l.code IS NOT NULL
ORDER BY l.id;

CREATE TABLE raw_shopify.orders__shipping_lines AS
SELECT id * 10 + 1 AS id, CASE WHEN shipping = 0 THEN 'Free shipping' ELSE 'Standard' END AS title,
    'STANDARD' AS code, shipping AS price,
    {child("id", "id", "0", "updated_at")}
FROM so2 ORDER BY id;

CREATE TABLE raw_shopify.refunds AS
SELECT id, order_id, order_updated_at, created_at, note, total_refunded::DECIMAL(18, 2) AS total_refunded,
    {parent("id", "order_updated_at")}
FROM sr ORDER BY id;

CREATE TABLE raw_shopify.refunds__refund_line_items AS
SELECT r.refund_id * 100 + r.j + 1 AS id, r.line_item_id, r.quantity::BIGINT AS quantity,
    r.subtotal::DECIMAL(18, 2) AS subtotal,
    {child("r.refund_id", "r.refund_id", "row_number() OVER (PARTITION BY r.refund_id ORDER BY r.j) - 1", "o.updated_at")}
FROM srl AS r JOIN so2 AS o USING (k)
ORDER BY id;

CREATE TABLE raw_shopify.transactions AS
WITH tx AS (
    SELECT id * 10 + 1 AS id, id AS order_id, updated_at AS order_updated_at, 'SALE' AS kind,
        CASE WHEN u(k, 'gateway') < 0.1 THEN 'paypal' ELSE 'shopify_payments' END AS gateway,
        total AS amount, created_at, NULL::BIGINT AS parent_id
    FROM so2 WHERE NOT cancelled
    UNION ALL
    SELECT r.id * 10 + 2, r.order_id, r.order_updated_at, 'REFUND',
        CASE WHEN u(r.k, 'gateway') < 0.1 THEN 'paypal' ELSE 'shopify_payments' END,
        r.total_refunded, r.created_at, r.order_id * 10 + 1
    FROM sr AS r
)
SELECT id, order_id, order_updated_at, kind, 'SUCCESS' AS status, gateway,
    amount::DECIMAL(18, 2) AS amount, 'USD' AS currency, created_at, created_at AS processed_at,
    parent_id, {parent("id", "order_updated_at")}
FROM tx ORDER BY id;
"""

PEOPLE = f"""
CREATE TEMP TABLE people AS
WITH orders AS (
    SELECT c, min(created_at) AS first_at, max(created_at) AS last_at, count(*) AS n
    FROM so2 WHERE c IS NOT NULL GROUP BY c
)
SELECT c.range AS c,
    ['Kai', 'Fay', 'Ada', 'Leo', 'Mia', 'Noah', 'Ivy', 'Eli', 'Zoe', 'Max', 'Ava', 'Sam',
     'Lena', 'Omar', 'Rosa', 'Theo', 'Nina', 'Hugo', 'Iris', 'Jude'][pick(c.range, 'first', 20) + 1]
        AS first_name,
    ['Nash', 'Sato', 'Reed', 'Cruz', 'Park', 'Shaw', 'Khan', 'Diaz', 'Wolf', 'Moss', 'Lee',
     'Hart', 'Vega', 'Ross', 'Fox', 'Gray', 'Lund', 'Ito', 'Byrne', 'Kerr'][pick(c.range, 'last', 20) + 1]
        AS last_name,
    CASE WHEN u(c.range, 'phone') < 0.7 THEN '+1' || (2125550000 + c.range) END AS phone,
    coalesce(o.first_at - to_seconds(pick(c.range, 'signup', 30 * 86400)),
             moment(u(c.range, 'created') * n('span'))) AS created_at,
    coalesce(o.last_at, o.first_at) AS last_order_at, coalesce(o.n, 0) AS orders,
    pick(c.range, 'city', 8) AS city_i
FROM range(n('customers')) AS c LEFT JOIN orders AS o ON o.c = c.range;
ALTER TABLE people ADD COLUMN email VARCHAR;
UPDATE people SET email = lower(first_name || '.' || last_name) || '.' || c || '@example.com';

CREATE TABLE raw_shopify.customers AS
SELECT 7200000000 + c AS id, email, phone, first_name, last_name, created_at,
    greatest(created_at, coalesce(last_order_at, created_at)) AS updated_at,
    orders::BIGINT AS number_of_orders,
    CASE WHEN u(c, 'marketing') < 0.6 THEN 'SUBSCRIBED' ELSE 'NOT_SUBSCRIBED' END AS marketing_state,
    ['Boston', 'Denver', 'Austin', 'Seattle', 'Chicago', 'Portland', 'Atlanta', 'Brooklyn'][city_i + 1] AS city,
    ['MA', 'CO', 'TX', 'WA', 'IL', 'OR', 'GA', 'NY'][city_i + 1] AS province_code,
    'US' AS country_code,
    {parent("7200000000 + c", "greatest(created_at, coalesce(last_order_at, created_at))")}
FROM people ORDER BY c;
"""

AMAZON = f"""
CREATE TEMP TABLE ao AS
WITH base AS (
    SELECT k, '113-' || printf('%07d', k) || '-' || printf('%07d', pick(k, 'aid', 10000000))
            AS amazon_order_id,
        moment((k + u(k, 'at')) * n('span') / n('amazon')) AS purchase_date,
        u(k, 'afn') < 0.65 AS afn, lines_of(u(k, 'lines')) AS n_items,
        u(k, 'promo') < 0.10 AS promo, floor(200 * pow(u(k, 'sku'), 1.5))::BIGINT AS sku0,
        u(k, 'cancel') < 0.01 AS cancelled, u(k, 'refund') < 0.06 AS refund_wanted
    FROM range(n('amazon')) AS t(k)
), statused AS (
    SELECT *, afn AND u(k, 'prime') < 0.85 AS is_prime,
        CASE WHEN cancelled THEN 'Canceled'
             WHEN purchase_date + INTERVAL 1 DAY > as_of()
                 THEN CASE WHEN u(k, 'pending') < 0.3 THEN 'Pending' ELSE 'Unshipped' END
             ELSE 'Shipped' END AS status,
        purchase_date + INTERVAL 1 DAY AS shipped_at,
        purchase_date + INTERVAL 4 DAY + to_seconds(pick(k, 'refund_delay', 17 * 86400)) AS refund_at
    FROM base
)
SELECT *,
    CASE WHEN status = 'Shipped' THEN shipped_at ELSE purchase_date + INTERVAL 30 MINUTE END
        AS last_update_date,
    status = 'Shipped' AND refund_wanted AND refund_at < as_of() AS refunded
FROM statused;

CREATE TEMP TABLE ai AS
SELECT o.k, r.j, o.amazon_order_id, printf('%013d', o.k * 100 + r.j + 1) AS order_item_id,
    c.sku, c.asin, c.product_title || ' ' || c.variant_title AS title, q.quantity, c.price,
    o.status, o.status <> 'Pending' AS priced, o.afn, o.is_prime, o.purchase_date,
    o.last_update_date, o.shipped_at, o.refund_at, o.refunded,
    money(c.price * q.quantity) AS gross,
    money(c.price * q.quantity * CASE WHEN o.promo THEN 0.8 ELSE 1 END * 0.08) AS tax,
    money(CASE WHEN o.promo THEN c.price * q.quantity * 0.2 ELSE 0 END) AS promotion,
    money(CASE WHEN r.j = 0 AND NOT o.afn AND NOT o.is_prime THEN 5.99 ELSE 0 END) AS shipping,
    money(c.price * q.quantity * 0.15) AS commission,
    money(CASE WHEN o.afn THEN 3.22 * q.quantity ELSE 0 END) AS fba
FROM ao AS o
JOIN range(4) AS r(j) ON r.j < o.n_items
JOIN cat AS c ON c.sku_i = (o.sku0 + r.j * 37) % 200
CROSS JOIN LATERAL (SELECT 1 + (u(o.k * 8 + r.j, 'qty') < 0.2)::INT AS quantity) AS q;

CREATE SCHEMA IF NOT EXISTS raw_amazon;
CREATE TABLE raw_amazon.orders AS
WITH items AS (
    SELECT k, sum(quantity) AS units, sum(gross + tax + shipping - promotion) AS total
    FROM ai GROUP BY k
)
SELECT o.amazon_order_id, o.purchase_date, o.last_update_date, o.status AS order_status,
    CASE WHEN o.afn THEN 'AFN' ELSE 'MFN' END AS fulfillment_channel,
    'Amazon.com' AS sales_channel, 'ATVPDKIKX0DER' AS marketplace_id,
    (CASE WHEN o.status = 'Shipped' THEN i.units ELSE 0 END)::BIGINT AS number_of_items_shipped,
    (CASE WHEN o.status = 'Shipped' THEN 0 ELSE i.units END)::BIGINT AS number_of_items_unshipped,
    o.is_prime,
    CASE WHEN o.status <> 'Pending' THEN 'USD' END AS order_total__currency_code,
    CASE WHEN o.status <> 'Pending' THEN i.total END::DECIMAL(18, 2) AS order_total__amount,
    {parent("o.amazon_order_id", "o.last_update_date")}
FROM ao AS o JOIN items AS i USING (k)
ORDER BY o.k;

CREATE TABLE raw_amazon.order_items AS
SELECT order_item_id, sku AS seller_sku, asin, title, quantity::BIGINT AS quantity_ordered,
    (CASE WHEN status = 'Shipped' THEN quantity ELSE 0 END)::BIGINT AS quantity_shipped,
    CASE WHEN priced THEN 'USD' END AS item_price__currency_code,
    CASE WHEN priced THEN gross END AS item_price__amount,
    CASE WHEN priced THEN 'USD' END AS item_tax__currency_code,
    CASE WHEN priced THEN tax END AS item_tax__amount,
    CASE WHEN priced THEN 'USD' END AS promotion_discount__currency_code,
    CASE WHEN priced THEN promotion END AS promotion_discount__amount,
    CASE WHEN priced THEN 'USD' END AS shipping_price__currency_code,
    CASE WHEN priced THEN shipping END AS shipping_price__amount,
    amazon_order_id, purchase_date, last_update_date AS order_last_update_date,
    {parent("amazon_order_id || chr(31) || order_item_id", "last_update_date")}
FROM ai ORDER BY k, j;

CREATE TABLE raw_amazon.order_items__promotion_ids AS
SELECT 'FALL20' AS value,
    {child("amazon_order_id || chr(31) || order_item_id", "amazon_order_id || chr(31) || order_item_id", "0", "last_update_date")}
FROM ai WHERE promotion > 0 AND priced ORDER BY k, j;

CREATE TABLE raw_amazon.financial_events AS
WITH kinds(event_type, amount_type, amount_name) AS (VALUES
    ('Shipment', 'Charge', 'Principal'), ('Shipment', 'Charge', 'Tax'),
    ('Shipment', 'Charge', 'ShippingCharge'), ('Shipment', 'Fee', 'Commission'),
    ('Shipment', 'Fee', 'FBAPerUnitFulfillmentFee'),
    ('Shipment', 'Promotion', 'PromotionMetaDataDefinitionValue'),
    ('Refund', 'Charge', 'Principal'), ('Refund', 'Charge', 'Tax'),
    ('Refund', 'Fee', 'Commission')
), events AS (
    SELECT x.event_type, x.amount_type, x.amount_name, i.k, i.j, i.amazon_order_id,
        i.order_item_id, i.sku, i.quantity,
        CASE x.event_type WHEN 'Shipment' THEN i.shipped_at ELSE i.refund_at END AS posted_date,
        CASE x.event_type WHEN 'Shipment' THEN 1 ELSE -1 END * CASE x.amount_name
            WHEN 'Principal' THEN i.gross WHEN 'Tax' THEN i.tax
            WHEN 'ShippingCharge' THEN i.shipping WHEN 'Commission' THEN -i.commission
            WHEN 'FBAPerUnitFulfillmentFee' THEN -i.fba ELSE -i.promotion END AS amount
    FROM ai AS i JOIN kinds AS x
        ON i.status = 'Shipped' AND (x.event_type = 'Shipment' OR (i.refunded AND i.j = 0))
)
SELECT event_type, amazon_order_id, posted_date, 'Amazon.com' AS marketplace_name, order_item_id,
    sku AS seller_sku, quantity::BIGINT AS quantity, amount_type, amount_name,
    CASE WHEN amount_type = 'Promotion' THEN 'FALL20' END AS promotion_id,
    amount::DECIMAL(18, 2) AS amount, 'USD' AS currency_code,
    {parent("concat_ws(chr(31), event_type, amazon_order_id, key_ts(posted_date), order_item_id, amount_type, amount_name)", "posted_date")}
FROM events WHERE amount <> 0
ORDER BY posted_date, k, j, event_type, amount_type, amount_name;

CREATE TABLE raw_amazon.fee_transactions AS
WITH rows AS (
    SELECT *, 'Order' AS type, shipped_at AS date_time, 1 AS sign FROM ai WHERE status = 'Shipped'
    UNION ALL
    SELECT *, 'Refund', refund_at, -1 FROM ai WHERE refunded AND j = 0
), money_rows AS (
    SELECT *, sign * gross AS product_sales, sign * shipping AS shipping_credits,
        CASE WHEN sign = 1 THEN -promotion ELSE 0 END AS promotional_rebates,
        sign * tax AS sales_tax_collected, -sign * commission AS selling_fees,
        CASE WHEN sign = 1 THEN -fba ELSE 0 END AS fba_fees
    FROM rows
)
SELECT date_time, (1000000 + datediff('day', moment(0), date_time) // 14)::VARCHAR
        AS settlement_id,
    type, amazon_order_id AS order_id, sku, title AS description, quantity::BIGINT AS quantity,
    'amazon.com' AS marketplace, CASE WHEN afn THEN 'Amazon' ELSE 'Seller' END AS fulfillment,
    product_sales::DECIMAL(18, 2) AS product_sales, shipping_credits::DECIMAL(18, 2) AS shipping_credits,
    promotional_rebates::DECIMAL(18, 2) AS promotional_rebates,
    sales_tax_collected::DECIMAL(18, 2) AS sales_tax_collected,
    selling_fees::DECIMAL(18, 2) AS selling_fees, fba_fees::DECIMAL(18, 2) AS fba_fees,
    money(0) AS other,
    (product_sales + shipping_credits + promotional_rebates + sales_tax_collected
        + selling_fees + fba_fees)::DECIMAL(18, 2) AS total,
    {parent("concat_ws(chr(31), amazon_order_id, sku, type, key_ts(date_time))", "date_time")}
FROM money_rows ORDER BY date_time, k, j;
"""

NETSUITE = f"""
CREATE TEMP TABLE accounts AS
SELECT range AS a, (3100 + range)::VARCHAR AS id,
    ['Northwind', 'Blue Ridge', 'Harbor', 'Meadow', 'Summit', 'Lakeside', 'Copper Kettle',
     'Urban', 'Cedar', 'Prairie', 'Granite', 'Willow'][range % 12 + 1] || ' ' ||
    ['Outfitters', 'Goods', 'Market', 'Supply Co', 'General', 'Home', 'Trading',
     'Mercantile', 'Provisions', 'Collective'][range // 12 + 1] AS name,
    TIMESTAMP '2024-01-01' + range * INTERVAL 3 DAY AS created_at
FROM range(n('accounts'));

CREATE TEMP TABLE wo AS
SELECT *, date_trunc('minute', created_at + INTERVAL 3 DAY) AS billed_at,
    created_at + INTERVAL 3 DAY < as_of() AS billed,
    date_trunc('minute', created_at + INTERVAL 13 DAY + to_seconds(pick(w, 'credit_delay', 30 * 86400)))
        AS credit_at
FROM (
    SELECT w, 20000 + w AS so_id,
        date_trunc('minute', moment((w + u(w, 'at')) * n('span') / n('wholesale'))) AS created_at,
        (3100 + floor(n('accounts') * pow(u(w, 'account'), 1.5))::BIGINT)::VARCHAR AS entity,
        3 + pick(w, 'lines', 4) AS n_lines, pick(w, 'sku', 200) AS sku0,
        u(w, 'credit') < 0.03 AS credit_wanted
    FROM range(n('wholesale')) AS t(w)
);
ALTER TABLE wo ADD COLUMN credited BOOLEAN;
UPDATE wo SET credited = billed AND credit_wanted AND credit_at < as_of();

CREATE TEMP TABLE wl AS
SELECT o.w, o.so_id, r.j, c.item_id, (12 * (1 + pick(o.w * 8 + r.j, 'qty', 8)))::BIGINT AS quantity,
    money(c.price * 0.5) AS rate
FROM wo AS o JOIN range(6) AS r(j) ON r.j < o.n_lines
JOIN cat AS c ON c.sku_i = (o.sku0 + r.j * 37) % 200;

CREATE TEMP TABLE wdocs AS
WITH totals AS (SELECT w, sum(quantity * rate) AS total FROM wl GROUP BY w)
SELECT o.w, o.so_id::VARCHAR AS id, 'SO' || printf('%06d', o.w) AS tranid, 'SalesOrd' AS type,
    o.created_at, CASE WHEN o.billed THEN o.billed_at ELSE o.created_at END AS modified,
    CASE WHEN o.billed THEN 'billed' ELSE 'pendingFulfillment' END AS status,
    t.total, NULL AS createdfrom, o.entity
FROM wo AS o JOIN totals AS t USING (w)
UNION ALL
SELECT o.w, (1000000 + o.so_id)::VARCHAR, 'INV' || printf('%06d', o.w), 'CustInvc', o.billed_at,
    o.billed_at, CASE WHEN o.billed_at + INTERVAL 30 DAY < as_of() THEN 'paidInFull' ELSE 'open' END,
    t.total, o.so_id::VARCHAR, o.entity
FROM wo AS o JOIN totals AS t USING (w) WHERE o.billed
UNION ALL
SELECT o.w, (2000000 + o.so_id)::VARCHAR, 'CM' || printf('%06d', o.w), 'CustCred', o.credit_at,
    o.credit_at, 'applied', 12 * l.rate, (1000000 + o.so_id)::VARCHAR, o.entity
FROM wo AS o JOIN wl AS l ON l.w = o.w AND l.j = 0 WHERE o.credited;

CREATE SCHEMA IF NOT EXISTS raw_netsuite;
CREATE TABLE raw_netsuite.transactions AS
SELECT id, tranid, type, entity, (created_at - INTERVAL 8 HOUR)::DATE AS trandate,
    created_at AS createddate, modified AS lastmodifieddate, status,
    total::DECIMAL(18, 2) AS foreigntotal, createdfrom::VARCHAR AS createdfrom,
    {parent("id", "modified")}
FROM wdocs ORDER BY modified, id::BIGINT;

CREATE TABLE raw_netsuite.transaction_lines AS
WITH lines AS (
    SELECT d.id AS transaction, l.j, l.item_id, d.type, d.modified,
        CASE WHEN d.type = 'CustCred' THEN 12 ELSE l.quantity END AS quantity, l.rate
    FROM wdocs AS d JOIN wl AS l ON l.w = d.w AND (d.type <> 'CustCred' OR l.j = 0)
)
SELECT transaction, (j + 1)::VARCHAR AS id, (j + 1)::VARCHAR AS linesequencenumber,
    item_id AS item, quantity::BIGINT AS quantity, rate,
    (CASE WHEN type = 'CustCred' THEN 1 ELSE -1 END * quantity * rate)::DECIMAL(18, 2) AS netamount,
    modified AS lastmodifieddate, (quantity * rate)::DECIMAL(18, 2) AS amount,
    type AS transaction_type,
    {parent("transaction || chr(31) || (j + 1)", "modified")}
FROM lines ORDER BY modified, transaction::BIGINT, j;

CREATE TABLE raw_netsuite.customers AS
SELECT id, name AS entityid, name AS companyname,
    'buying@' || lower(regexp_replace(name, '[^A-Za-z]', '', 'g')) || '.example' AS email,
    created_at AS datecreated, created_at AS lastmodifieddate, {parent("id", "created_at")}
FROM accounts ORDER BY a;

CREATE TABLE raw_netsuite.items AS
SELECT item_id AS id, sku AS itemid, product_title || ' ' || variant_title AS displayname,
    barcode AS upccode, 'InvtPart' AS itemtype, price AS baseprice, 'F' AS isinactive,
    created_at AS lastmodifieddate, {parent("item_id", "created_at")}
FROM cat ORDER BY sku_i;

CREATE TABLE raw_netsuite.inventory AS
SELECT c.item_id AS item, l.location,
    (CASE l.location WHEN '1' THEN 5000 ELSE 300 END + pick(c.sku_i, l.location, 2000))::BIGINT AS quantityonhand,
    (CASE l.location WHEN '1' THEN 4800 ELSE 300 END + pick(c.sku_i, l.location, 2000))::BIGINT AS quantityavailable,
    {parent("c.item_id || chr(31) || l.location", "as_of()", record_hash=True)}
FROM cat AS c, (VALUES ('1'), ('2')) AS l(location) ORDER BY c.sku_i, l.location;
"""

KLAVIYO = f"""
CREATE TEMP TABLE profiles AS
SELECT p.range AS p, '01' || upper(left(md5('profile' || p.range), 24)) AS id,
    CASE WHEN h.c IS NULL THEN 'subscriber.' || p.range || '@example.com'
         WHEN u(p.range, 'case') < 0.05 THEN upper(h.email) ELSE h.email END AS email,
    h.phone, (7200000000 + h.c)::VARCHAR AS external_id, h.first_name, h.last_name,
    h.city_i, coalesce(h.created_at, moment(u(p.range, 'created') * n('span'))) AS created
FROM range(n('profiles')) AS p LEFT JOIN people AS h ON h.c = p.range;

CREATE TEMP TABLE campaigns AS
SELECT range AS w, upper(left(md5('campaign' || range), 26)) AS id,
    upper(left(md5('message' || range), 26)) AS message_id,
    'Weekly newsletter #' || (range + 1) AS name,
    moment(0) + (range * 7 + 2) * INTERVAL 1 DAY + INTERVAL 15 HOUR AS send_time
FROM range(52);

CREATE TEMP TABLE flows(f, id, name, trigger_type, message_id, subject) AS VALUES
    (0, 'xpir8w', 'Welcome Series', 'Added to List', '2hEAMY', 'Welcome to the brand'),
    (1, 'Pi9m5j', 'Abandoned Cart', 'Metric', 'ypTWae', 'You left something behind'),
    (2, 'Qp4Rs7', 'Post-Purchase', 'Metric', 'Tm8Vw2', 'How is your order?'),
    (3, 'Wb6Kx1', 'Winback', 'Metric', 'Zc3Nd9', 'We miss you');

CREATE SCHEMA IF NOT EXISTS raw_klaviyo;
CREATE TABLE raw_klaviyo.profiles AS
SELECT id, email, phone AS phone_number, external_id, first_name, last_name,
    ['Boston', 'Denver', 'Austin', 'Seattle', 'Chicago', 'Portland', 'Atlanta', 'Brooklyn'][city_i + 1]
        AS location__city,
    ['MA', 'CO', 'TX', 'WA', 'IL', 'OR', 'GA', 'NY'][city_i + 1] AS location__region,
    CASE WHEN city_i IS NOT NULL THEN 'United States' END AS location__country,
    created, created AS updated, {parent("id", "created")}
FROM profiles ORDER BY p;

CREATE TABLE raw_klaviyo.metrics AS
SELECT id, name, TIMESTAMP '2024-06-01' AS created, TIMESTAMP '2024-06-01' AS updated,
    'integration' AS integration__object, integration_id AS integration__id,
    integration_name AS integration__name, category AS integration__category,
    {parent("id", "as_of()", record_hash=True)}
FROM (VALUES
    ('8BawzV', 'Clicked Email', '7Xr0xP', 'Klaviyo', 'Email'),
    ('Sf0yt3', 'Ordered Product', 'FzFRan', 'Shopify', 'eCommerce'),
    ('Unp7MA', 'Opened Email', '7Xr0xP', 'Klaviyo', 'Email'),
    ('jKKk0o', 'Started Checkout', 'FzFRan', 'Shopify', 'eCommerce'),
    ('k1b9k1', 'Placed Order', 'FzFRan', 'Shopify', 'eCommerce'),
    ('k7n19f', 'Received Email', '7Xr0xP', 'Klaviyo', 'Email'),
    ('r4Xssy', 'Active on Site', '7Xr0xP', 'Klaviyo', 'Email')
) AS m(id, name, integration_id, integration_name, category);

CREATE TABLE raw_klaviyo.lists AS
SELECT id, name, TIMESTAMP '2024-06-01' AS created, TIMESTAMP '2024-06-01' AS updated,
    'single_opt_in' AS opt_in_process, {parent("id", "as_of()", record_hash=True)}
FROM (VALUES ('HWi6O6', 'Newsletter'), ('IMA19x', 'VIP')) AS l(id, name);

CREATE TABLE raw_klaviyo.campaigns AS
SELECT id, name, 'Sent' AS status, false AS archived, 'static' AS send_strategy__method,
    send_time::TIMESTAMPTZ AS send_strategy__datetime, send_time - INTERVAL 2 DAY AS created_at,
    send_time - INTERVAL 2 DAY AS scheduled_at, send_time AS updated_at, send_time,
    {parent("id", "send_time")}
FROM campaigns ORDER BY w;
CREATE TABLE raw_klaviyo.campaigns__campaign_messages AS
SELECT message_id AS id, {child("id", "id", "0", "send_time")} FROM campaigns ORDER BY w;
CREATE TABLE raw_klaviyo.campaigns__audiences__included AS
SELECT 'HWi6O6' AS value, {child("id", "id", "0", "send_time")} FROM campaigns ORDER BY w;

CREATE TABLE raw_klaviyo.flows AS
SELECT id, name, 'live' AS status, false AS archived, TIMESTAMP '2024-06-01' AS created,
    TIMESTAMP '2024-06-01' AS updated, trigger_type, {parent("id", "TIMESTAMP '2024-06-01'")}
FROM flows ORDER BY f;
CREATE TABLE raw_klaviyo.flows__flow_actions AS
SELECT message_id AS id, {child("id", "id", "0", "TIMESTAMP '2024-06-01'")} FROM flows ORDER BY f;

CREATE TEMP TABLE opened AS
WITH base AS (
    SELECT e, '01' || upper(left(md5('profile' || floor(n('profiles') * pow(u(e, 'who'), 1.3))::BIGINT), 24))
            AS profile_id,
        u(e, 'flow') < 0.25 AS from_flow, pick(e, 'campaign', 52) AS w, pick(e, 'flow', 4) AS f
    FROM range(n('opened')) AS t(e)
)
SELECT b.e, b.profile_id, coalesce(fl.message_id, c.message_id) AS message_id,
    coalesce(fl.subject, c.name) AS subject, fl.id AS flow_id,
    CASE WHEN NOT b.from_flow THEN c.name END AS campaign_name,
    CASE WHEN b.from_flow THEN moment(u(b.e, 'at') * n('span'))
         ELSE c.send_time + to_seconds(pick(b.e, 'delay', 72 * 3600)) END AS datetime
FROM base AS b JOIN campaigns AS c ON c.w = b.w
LEFT JOIN flows AS fl ON b.from_flow AND fl.f = b.f;

CREATE TABLE raw_klaviyo.events AS
WITH placed AS (
    SELECT left(md5('placed' || o.id), 11) AS id, o.created_at AS datetime, o.id AS order_id,
        o.name, o.total, o.units, o.code_i,
        '01' || upper(left(md5('profile' || o.c), 24)) AS profile_id,
        CASE WHEN u(o.k, 'attributed') < 0.15 THEN c.message_id END AS message_id
    FROM so2 AS o
    LEFT JOIN campaigns AS c ON c.w = (datediff('day', moment(0), o.created_at) - 2) // 7
        AND c.send_time < o.created_at
    WHERE o.c IS NOT NULL
), events AS (
    SELECT id, datetime, NULL AS message, NULL AS subject, NULL AS flow,
        order_id::VARCHAR AS event_id, total::DOUBLE AS value_double, name AS order_name,
        units::BIGINT AS item_count, coalesce(['SAVE10', 'FALL20', 'WELCOME15'][code_i + 1], '')
            AS discount_codes, 'USD' AS currency, NULL AS campaign_name, profile_id,
        'k1b9k1' AS metric_id, total AS value, message_id
    FROM placed
    UNION ALL
    SELECT left(md5('opened' || e), 11), datetime, message_id, subject, flow_id, NULL, NULL, NULL,
        NULL, NULL, NULL, campaign_name, profile_id, 'Unp7MA', NULL, message_id
    FROM opened
    UNION ALL
    SELECT left(md5('clicked' || e), 11), datetime + INTERVAL 4 MINUTE, message_id, subject,
        flow_id, NULL, NULL, NULL, NULL, NULL, NULL, campaign_name, profile_id, '8BawzV', NULL,
        message_id
    FROM opened WHERE u(e, 'clicked') < 0.2
)
SELECT id, epoch(datetime)::BIGINT AS timestamp, message AS event_properties__message,
    subject AS event_properties__subject, flow AS event_properties__flow,
    NULL::VARCHAR AS event_properties__url, NULL::VARCHAR AS event_properties__page,
    event_id AS event_properties__event_id, value_double AS event_properties__value,
    order_name AS event_properties__order_id, NULL::VARCHAR AS event_properties__sku,
    NULL::VARCHAR AS event_properties__product_name, NULL::BIGINT AS event_properties__quantity,
    item_count AS event_properties__item_count, discount_codes AS event_properties__discount_codes,
    currency AS event_properties__currency, campaign_name AS event_properties__campaign_name,
    datetime, uuid_string AS uuid, profile_id, metric_id, value::DECIMAL(18, 2) AS value,
    order_name AS order_id, message_id::VARCHAR AS message_id, {parent("id", "datetime")}
FROM (
    SELECT *, left(h, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4) || '-'
        || substr(h, 17, 4) || '-' || right(h, 12) AS uuid_string
    FROM (SELECT *, md5(id) AS h FROM events)
)
ORDER BY datetime, id;

CREATE TABLE raw_klaviyo.campaign_values AS
WITH stats AS (
    SELECT message_id, count(*) FILTER (metric_id = 'Unp7MA') AS opens,
        count(DISTINCT profile_id) FILTER (metric_id = 'Unp7MA') AS opens_unique,
        count(*) FILTER (metric_id = '8BawzV') AS clicks,
        count(DISTINCT profile_id) FILTER (metric_id = '8BawzV') AS clicks_unique,
        count(*) FILTER (metric_id = 'k1b9k1') AS conversions,
        count(DISTINCT profile_id) FILTER (metric_id = 'k1b9k1') AS conversion_uniques,
        coalesce(sum(value) FILTER (metric_id = 'k1b9k1'), 0) AS conversion_value
    FROM raw_klaviyo.events WHERE message_id IS NOT NULL GROUP BY message_id
), sent AS (
    SELECT 'email' AS send_channel, c.id AS campaign_id, c.message_id AS campaign_message_id,
        c.send_time, round(n('profiles') * 0.6)::BIGINT AS recipients, s.*
    FROM campaigns AS c LEFT JOIN stats AS s ON s.message_id = c.message_id
)
SELECT send_channel, campaign_id, campaign_message_id, recipients,
    (recipients * 0.99)::BIGINT AS delivered, coalesce(opens, 0) AS opens,
    coalesce(opens_unique, 0) AS opens_unique, coalesce(opens_unique, 0) / (recipients * 0.99) AS open_rate,
    coalesce(clicks, 0) AS clicks, coalesce(clicks_unique, 0) AS clicks_unique,
    coalesce(clicks_unique, 0) / (recipients * 0.99) AS click_rate,
    coalesce(conversions, 0) AS conversions, coalesce(conversion_uniques, 0) AS conversion_uniques,
    coalesce(conversion_value, 0)::DECIMAL(18, 2) AS conversion_value,
    coalesce(conversion_uniques, 0) / (recipients * 0.99) AS conversion_rate,
    {parent("campaign_message_id", "as_of()", record_hash=True)}
FROM sent ORDER BY send_time;

CREATE TABLE raw_klaviyo.flow_values AS
WITH stats AS (
    SELECT message_id, count(*) FILTER (metric_id = 'Unp7MA') AS opens,
        count(DISTINCT profile_id) FILTER (metric_id = 'Unp7MA') AS opens_unique,
        count(*) FILTER (metric_id = '8BawzV') AS clicks,
        count(DISTINCT profile_id) FILTER (metric_id = '8BawzV') AS clicks_unique
    FROM raw_klaviyo.events WHERE event_properties__flow IS NOT NULL GROUP BY message_id
)
SELECT 'email' AS send_channel, f.id AS flow_id, f.message_id AS flow_message_id,
    (coalesce(s.opens_unique, 0) * 2.3)::BIGINT AS recipients,
    (coalesce(s.opens_unique, 0) * 2.3)::BIGINT AS delivered, coalesce(s.opens, 0) AS opens,
    coalesce(s.opens_unique, 0) AS opens_unique, 1 / 2.3 AS open_rate,
    coalesce(s.clicks, 0) AS clicks, coalesce(s.clicks_unique, 0) AS clicks_unique,
    coalesce(s.clicks_unique, 0) / greatest(coalesce(s.opens_unique, 0) * 2.3, 1) AS click_rate,
    0::BIGINT AS conversions, 0::BIGINT AS conversion_uniques, money(0) AS conversion_value,
    0.0::DOUBLE AS conversion_rate,
    {parent("f.message_id", "as_of()", record_hash=True)}
FROM flows AS f LEFT JOIN stats AS s ON s.message_id = f.message_id ORDER BY f.f;
"""

FILES = f"""
CREATE SCHEMA IF NOT EXISTS raw_retailers;
CREATE TABLE raw_retailers.sell_through AS
WITH grid AS (
    SELECT a.name AS retailer, s.range AS s, m.range AS m, wk.range AS wk,
        c.sku, c.price, DATE '2025-01-06' + (wk.range * 7)::INT AS week,
        hash(a.a, s.range, m.range, wk.range) AS h
    FROM (SELECT * FROM accounts WHERE a < 8) AS a, range(n('stores')) AS s, range(50) AS m,
        range(51) AS wk, cat AS c
    WHERE c.sku_i = (a.a * 23 + m.range * 4) % 200
)
SELECT retailer, 'S' || printf('%04d', s) AS store_id, sku, week,
    (h % 9)::BIGINT AS units_sold, ((h % 9) * price)::DOUBLE AS sales_amount,
    (4 + (h // 9) % 40)::BIGINT AS on_hand,
    {parent("concat_ws(chr(31), retailer, 'S' || printf('%04d', s), sku, strftime(week, '%Y-%m-%d'))", "week + INTERVAL 8 DAY", record_hash=True)}
FROM grid ORDER BY week, retailer, s, m;

CREATE SCHEMA IF NOT EXISTS raw_ad_spend;
CREATE TABLE raw_ad_spend.spend AS
WITH grid AS (
    SELECT (moment(0)::DATE + d.range::INT) AS date, pl.platform, c.range AS c,
        pl.platform || '-' || printf('%03d', c.range + 1) AS campaign_id,
        ['Prospecting', 'Retargeting', 'Brand', 'Shopping', 'Lookalike', 'Video', 'Search',
         'Evergreen'][c.range + 1] || ' (' || pl.platform || ')' AS campaign_name,
        round(20 + 300 * u(hash(d.range, pl.platform, c.range), 'spend'), 2) AS spend
    FROM range(365) AS d, (VALUES ('meta'), ('google'), ('tiktok')) AS pl(platform), range(8) AS c
)
SELECT date, platform, campaign_id, campaign_name, spend,
    (spend * (80 + pick(hash(date, campaign_id), 'cpm', 120)))::BIGINT AS impressions,
    (spend * (1 + pick(hash(date, campaign_id), 'cpc', 3)))::BIGINT AS clicks, 'USD' AS currency,
    {parent("concat_ws(chr(31), strftime(date, '%Y-%m-%d'), platform, campaign_id)", "date + INTERVAL 1 DAY", record_hash=True)}
FROM grid ORDER BY date, platform, c;
"""

SECTIONS = (("catalogue", CATALOGUE), ("shopify", SHOPIFY), ("customers", PEOPLE),
            ("amazon", AMAZON), ("netsuite", NETSUITE), ("klaviyo", KLAVIYO),
            ("files", FILES))  # fmt: skip


def generate(path: Path, scale: Scale) -> dict[str, int]:
    """Every raw table, written into the DuckDB file at ``path``; rows per table."""
    import duckdb

    with duckdb.connect(str(path)) as db:
        db.execute("SET enable_progress_bar = false")
        for name, value in {**asdict(scale), "span": SPAN_S}.items():
            db.execute(f"SET VARIABLE {name} = {int(value)}")
        db.execute(MACROS)
        for section, sql in SECTIONS:
            _progress(f"generating {section}...")
            db.execute(sql)
        return {f"{s}.{t}": _count(db, f"{s}.{t}") for s, t in raw_tables(db)}


def _count(db: Any, table: str) -> int:
    return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def raw_tables(db: Any) -> list[tuple[str, str]]:
    return db.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() "
        "WHERE starts_with(schema_name, 'raw_') AND NOT temporary ORDER BY 1, 2"
    ).fetchall()


def copy_to_postgres(path: Path, url: str, prefix: str) -> dict[str, str]:
    """Every raw table of the DuckDB file into PostgreSQL under ``prefix``, typed as podium's
    PostgreSQL destination types them, then ANALYZEd; returns the server's settings."""
    import duckdb
    import psycopg

    from podium.connectors.normalize import types
    from podium.connectors.normalize.names import quote

    with (
        duckdb.connect(str(path), read_only=True) as db,
        psycopg.connect(url, autocommit=True) as pg,
        tempfile.TemporaryDirectory(prefix="podium-bench-copy-") as tmp,
    ):
        for schema, table in raw_tables(db):
            _progress(f"copying {schema}.{table} to PostgreSQL...")
            columns = db.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                [schema, table],
            ).fetchall()
            spec = ", ".join(
                f"{quote(name)} {types.to_postgres(types.from_duckdb(kind) or types.TEXT)}"
                for name, kind in columns
            )
            target = f"{quote(prefix + schema)}.{quote(table)}"
            pg.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(prefix + schema)}")
            pg.execute(f"CREATE TABLE {target} ({spec})")
            csv = Path(tmp) / "table.csv"
            db.execute(f"COPY {quote(schema)}.{quote(table)} TO '{csv}' (HEADER false)")
            with pg.cursor() as cursor:
                _copy_file(cursor, f"COPY {target} FROM STDIN (FORMAT csv)", csv)
                copied = cursor.rowcount
            expected = _count(db, f"{schema}.{table}")
            if copied != expected:
                raise RuntimeError(f"{schema}.{table}: copied {copied} rows of {expected}")
            pg.execute(f"ANALYZE {target}")
        return {
            name: str(pg.execute(f"SHOW {name}").fetchone()[0])
            for name in ("shared_buffers", "work_mem", "max_parallel_workers_per_gather")
        }


def _copy_file(cursor: Any, statement: str, path: Path) -> None:
    with cursor.copy(statement) as copy, path.open("rb") as f:
        while chunk := f.read(1 << 20):
            copy.write(chunk)


# -- the models -------------------------------------------------------------------------


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
