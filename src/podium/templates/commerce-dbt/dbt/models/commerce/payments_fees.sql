-- description: Money movement per order: captured payments and refunds (Shopify
--   transactions) and Amazon's finance events (charges, promotions, fees). amount is
--   signed from the brand's side: money in is positive, fees and refunds negative.
--   Fees come from here, never from order totals.
select
    'shopify' as source,
    cast(id as text) as source_id,
    'shopify:' || cast(order_id as text) as order_id,
    'dtc' as channel,
    coalesce(processed_at, created_at) as occurred_at,
    lower(kind) as kind,
    gateway as name,
    case when lower(kind) in ('refund', 'void') then -amount else amount end as amount,
    currency
from {{ source('shopify', 'transactions') }}
where upper(status) = 'SUCCESS' and not _deleted

union all

select
    'amazon' as source,
    _key as source_id,
    'amazon:' || amazon_order_id as order_id,
    'marketplace' as channel,
    posted_date as occurred_at,
    case
        when amount_type = 'Fee' then 'fee'
        when amount_type = 'Promotion' then 'promotion'
        when event_type = 'Refund' then 'refund'
        else 'sale'
    end as kind,
    amount_name as name,
    amount,
    coalesce(currency_code, 'USD') as currency
from {{ source('amazon', 'financial_events') }}
where not _deleted
