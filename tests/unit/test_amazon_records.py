"""Finance events and flat-file report rows as records."""

from __future__ import annotations

from podium.connectors.sources.amazon.records import (
    FINANCE_KEY,
    finance_records,
    local_number,
    settlement_records,
    settlement_time,
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


HEADER = (
    "settlement-id\tsettlement-start-date\tsettlement-end-date\tdeposit-date\ttotal-amount\t"
    "currency\ttransaction-type\torder-id\tamount-type\tamount-description\tamount\t"
    "posted-date-time\tsku\tquantity-purchased"
)


def test_settlement_rows_take_the_summary_dates_and_clean_numbers() -> None:
    text = (
        f"{HEADER}\n"
        "77\t2026-09-01 00:00:00 UTC\t2026-09-15 00:00:00 UTC\t2026-09-18 00:00:00 UTC\t"
        "1,100.50\tUSD\t\t\t\t\t\t\t\t\n"
        "77\t\t\t\t\t\tOrder\t113-1\tItemPrice\tPrincipal\t1,250.00\t"
        "2026-09-02 21:05:00 UTC\tTEE-M\t2\n"
        "\n"
        "77\t\t\t\t\t\tRefund\t113-1\tItemFees\tCommission\t3,75\t"
        "2026-09-03 00:00:00 UTC\tTEE-M\t\n"
    )
    pages = list(settlement_records(text, page_size=1))
    assert len(pages) == 2  # the summary row is not a record
    first, second = pages[0][0], pages[1][0]
    assert first["posted_date_time"] == "2026-09-02T21:05:00Z"
    assert (first["amount"], first["quantity_purchased"]) == ("1250.00", "2")
    assert first["settlement_end_date"] == "2026-09-15T00:00:00Z" and first["currency"] == "USD"
    assert second["transaction_type"] == "Refund" and second["amount"] == "3.75"
    assert second["quantity_purchased"] is None
    assert second["deposit_date"] == "2026-09-18T00:00:00Z"


def test_a_report_without_a_settlement_header_has_no_records() -> None:
    assert list(settlement_records("nothing to see\n")) == []


def test_local_numbers_and_times() -> None:
    assert local_number("1.234,56") == "1234.56" and local_number("-95,00") == "-95.00"
    assert local_number("-1,234.5") == "-1234.5" and local_number(" ") is None
    assert settlement_time("2026-10-01 12:30:00 UTC") == "2026-10-01T12:30:00Z"
    assert settlement_time("01.10.2026 12:30:00 MEZ") == "01.10.2026 12:30:00 MEZ"  # kept
