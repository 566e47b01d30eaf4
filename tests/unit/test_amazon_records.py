"""Finance events and flat-file report rows as records."""

from __future__ import annotations

from podium.connectors.sources.amazon.records import (
    FINANCE_KEY,
    finance_records,
    report_records,
    report_time,
)


def _money(value: float) -> dict[str, object]:
    return {"CurrencyCode": "USD", "CurrencyAmount": value}


EVENTS = {
    "ShipmentEventList": [
        {
            "AmazonOrderId": "113-1",
            "PostedDate": "2026-10-02T00:00:00Z",
            "ShipmentItemList": [
                {
                    "SellerSKU": "TEE-M",
                    "OrderItemId": "11",
                    "QuantityShipped": 2,
                    "ItemChargeList": [{"ChargeType": "Principal", "ChargeAmount": _money(50.0)}],
                    "ItemFeeList": [
                        {"FeeType": "Commission", "FeeAmount": _money(-7.5)},
                        {"FeeType": "FBAPerUnitFulfillmentFee", "FeeAmount": _money(-6.44)},
                    ],
                    "PromotionList": [
                        {
                            "PromotionType": "P",
                            "PromotionId": "FALL20",
                            "PromotionAmount": _money(-10.0),
                        }
                    ],
                }
            ],
        }
    ],
    "RefundEventList": [
        {
            "AmazonOrderId": "113-1",
            "PostedDate": "2026-10-09T00:00:00Z",
            "ShipmentItemAdjustmentList": [
                {
                    "SellerSKU": "TEE-M",
                    "OrderItemId": "11",
                    "QuantityShipped": 1,
                    "ItemChargeAdjustmentList": [
                        {"ChargeType": "Principal", "ChargeAmount": _money(-20.0)}
                    ],
                    "ItemFeeAdjustmentList": [{"FeeType": "Commission", "FeeAmount": _money(3.0)}],
                }
            ],
        }
    ],
}


def test_every_amount_is_one_record_with_a_unique_key() -> None:
    records = finance_records(EVENTS)
    assert len(records) == 6
    keys = {tuple(r[k] for k in FINANCE_KEY) for r in records}
    assert len(keys) == 6
    fees = [r["Amount"] for r in records if r["AmountType"] == "Fee"]
    assert fees == ["-7.5", "-6.44", "3.0"]  # decimal text, signs kept
    refund = [r for r in records if r["EventType"] == "Refund"]
    assert {r["AmountName"] for r in refund} == {"Principal", "Commission"}


def test_empty_or_odd_pages_give_no_records() -> None:
    assert finance_records({"ShipmentEventList": [], "RefundEventList": []}) == []
    assert finance_records(None) == []


def test_report_rows_skip_the_preamble_and_clean_numbers() -> None:
    text = (
        "Includes Amazon Marketplace transactions\n"
        "All amounts in USD, unless specified\n\n"
        "date/time\tsettlement id\ttype\torder id\tsku\tquantity\tproduct sales\ttotal\n"
        "Oct 1, 2026 9:05:00 PM PDT\t77\tOrder\t113-1\tTEE-M\t2\t1,250.00\t1,100.50\n"
        "\n"
        "Oct 2, 2026 12:00:00 AM UTC\t77\tRefund\t113-1\tTEE-M\t1\t-25.00\t-21.25\n"
    )
    pages = list(report_records(text, page_size=1))
    assert len(pages) == 2
    first, second = pages[0][0], pages[1][0]
    assert first["date_time"] == "2026-10-02T04:05:00Z"
    assert (first["product_sales"], first["total"], first["quantity"]) == (
        "1250.00",
        "1100.50",
        "2",
    )
    assert second["date_time"] == "2026-10-02T00:00:00Z" and second["type"] == "Refund"


def test_a_report_without_a_header_has_no_records() -> None:
    assert list(report_records("nothing to see\n")) == []


def test_report_times_in_other_shapes_are_kept() -> None:
    assert report_time("2026-10-01T00:00:00Z") == "2026-10-01T00:00:00Z"
    assert report_time("Oct 1, 2026 12:30:00 PM UTC") == "2026-10-01T12:30:00Z"
