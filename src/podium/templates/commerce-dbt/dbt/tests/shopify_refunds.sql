-- the model against the raw data: DTC refunds per day equal Shopify's refunds (within a
-- cent)
with model as (
    select day, refunds as value from {{ ref('daily_sales_by_channel') }}
    where channel = 'dtc' and refunds <> 0
),

raw as (
    select cast(created_at as date) as day, sum(total_refunded) as value
    from {{ source('shopify', 'refunds') }}
    where not _deleted
    group by cast(created_at as date)
)

select coalesce(m.day, r.day) as day, m.value as model_value, r.value as raw_value
from model as m
full outer join raw as r on r.day = m.day
where abs(coalesce(m.value, 0) - coalesce(r.value, 0)) > 0.01
