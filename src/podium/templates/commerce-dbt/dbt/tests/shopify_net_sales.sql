-- the model against the raw data: DTC net sales per day equal Shopify's order subtotals
-- (within a cent)
with model as (
    select day, gross - discounts as value from {{ ref('daily_sales_by_channel') }}
    where channel = 'dtc'
),

raw as (
    select cast(created_at as date) as day, sum(subtotal_price) as value
    from {{ source('shopify', 'orders') }}
    where not _deleted and cancelled_at is null
    group by cast(created_at as date)
)

select coalesce(m.day, r.day) as day, m.value as model_value, r.value as raw_value
from model as m
full outer join raw as r on r.day = m.day
where abs(coalesce(m.value, 0) - coalesce(r.value, 0)) > 0.01
