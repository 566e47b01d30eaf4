"""The generated brand: deterministic, consistent with its own ground truth, moving in time."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from podium.sandbox.brand import EXAMPLE_START, Brand, BrandConfig, Channel, money, truth

CONFIG = BrandConfig(start=EXAMPLE_START, seed=3, days=40)


def test_the_same_seed_gives_the_same_brand_and_another_seed_does_not() -> None:
    first, again, other = (
        Brand(CONFIG),
        Brand(CONFIG),
        Brand(BrandConfig(start=EXAMPLE_START, seed=4, days=40)),
    )
    assert first.orders(Channel.DTC) == again.orders(Channel.DTC)
    assert first.orders(Channel.DTC) != other.orders(Channel.DTC)


def test_skus_are_shared_by_every_channel() -> None:
    brand = Brand(CONFIG)
    catalogue = {variant.sku for variant in brand.variants}
    for channel in Channel:
        skus = {line.variant.sku for order in brand.orders(channel) for line in order.lines}
        assert skus and skus <= catalogue


def test_orders_follow_the_week_and_promotions_lift_them() -> None:
    brand = Brand(BrandConfig(start=EXAMPLE_START, seed=3, days=84, dtc_orders_per_day=200))
    per_weekday = [0] * 7
    for order in brand.orders(Channel.DTC):
        per_weekday[order.created_at.weekday()] += 1
    assert per_weekday[5] > per_weekday[0]  # Saturday beats Monday
    promo = [o for o in brand.orders(Channel.DTC) if o.promo]
    assert promo and all(o.discounts > 0 for o in promo)


def test_an_order_changes_over_time_and_disappears_once_deleted() -> None:
    brand = Brand(CONFIG)
    order = next(o for o in brand.orders(Channel.MARKETPLACE) if o.refunds)
    assert order.as_of(order.created_at - timedelta(seconds=1)) is None
    first = order.as_of(order.created_at)
    assert first is not None and first.status == "Pending" and first.refunds == ()
    later = order.as_of(order.refunds[0].created_at)
    assert later is not None and later.status == "Shipped"
    assert later.refunds == order.refunds and later.updated_at == order.refunds[0].created_at
    deleted = next(o for o in brand.orders(Channel.DTC) if o.deleted_at)
    assert deleted.as_of(deleted.created_at) is not None
    assert deleted.deleted_at is not None and deleted.as_of(deleted.deleted_at) is None


def test_money_adds_up_to_the_cent() -> None:
    for order in Brand(CONFIG).orders(Channel.DTC):
        assert order.total == order.subtotal - order.discounts + order.shipping + order.tax
        assert order.tax == money((order.subtotal - order.discounts) * Decimal("0.08"))
        for refund in order.refunds:
            assert Decimal(0) < refund.amount <= order.subtotal - order.discounts + order.shipping


def test_truth_counts_what_the_apis_show_as_of_a_time() -> None:
    brand = Brand(CONFIG)
    now = CONFIG.start_at + timedelta(days=20)
    days = truth(brand, now)
    views = {c: brand.orders_as_of(c, now) for c in Channel}
    for channel in Channel:
        mine = [d for d in days if d.channel is channel]
        assert sum(d.orders for d in mine) == len(views[channel])
        assert sum(d.gross for d in mine) == sum(v.order.subtotal for v in views[channel])
        assert sum(d.refunds for d in mine) == sum(v.refunded for v in views[channel])
    later = truth(brand, now + timedelta(days=5))
    assert sum(d.orders for d in later) > sum(d.orders for d in days)


def test_deleted_orders_leave_the_truth() -> None:
    brand = Brand(CONFIG)
    deleted = [o for o in brand.orders(Channel.DTC) if o.deleted_at]
    assert deleted
    end = CONFIG.end_at
    assert len(brand.deleted_as_of(Channel.DTC, end)) == len(deleted)
    shown = sum(d.orders for d in truth(brand, end, [Channel.DTC]))
    assert shown == len(brand.orders(Channel.DTC)) - len(deleted)


def test_a_brand_at_scale_keeps_the_mix_and_unique_ids() -> None:
    small = BrandConfig(start=EXAMPLE_START, days=3)
    assert BrandConfig.at_scale("small", start=EXAMPLE_START, days=3) == small
    assert small.seq_per_day == 1000  # the default brand's ids are what they were
    large = BrandConfig.at_scale("large", start=EXAMPLE_START, days=3, seed=3)
    assert round(large.orders_per_year) == 1_000_000
    share = large.dtc_orders_per_day / large.marketplace_orders_per_day
    assert share == small.dtc_orders_per_day / small.marketplace_orders_per_day
    assert large.customers == round(small.customers * 1_000_000 / small.orders_per_year)
    # a busy day (more than one block of 1,000 ids), with few customers to keep it quick
    brand = Brand(BrandConfig.at_scale(700_000, start=EXAMPLE_START, days=2, customers=500))
    for channel in Channel:
        orders = brand.orders(channel)
        per_day = max(sum(1 for o in orders if o.created_at.date() == d) for d in
                      {o.created_at.date() for o in orders})  # fmt: skip
        if channel is Channel.DTC:
            assert per_day > 1000  # more than one block of 1,000 ids a day
        assert len({o.id for o in orders}) == len(orders)
        assert len({o.number for o in orders}) == len(orders)


def test_a_scale_is_a_name_or_orders_a_year() -> None:
    import argparse

    import pytest

    from podium.sandbox.serve import scale_of

    assert scale_of("large") == "large"
    assert scale_of("250,000") == scale_of("2.5e5") == 250_000
    for wrong in ("huge", "0", "-5"):
        with pytest.raises(argparse.ArgumentTypeError, match="small, large or orders a year"):
            scale_of(wrong)
