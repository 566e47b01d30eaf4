-- the model against the raw data: priced Amazon order totals per day equal Amazon's
-- (within 0.5 %)
with model as (
    select cast(ordered_at as date) as day, sum(total) as value
    from {{ ref('orders') }}
    where source = 'amazon' and is_priced and not is_deleted
    group by cast(ordered_at as date)
),

raw as (
    select cast(o.purchase_date as date) as day, sum(o.order_total__amount) as value
    from {{ source('amazon', 'orders') }} as o
    where o.order_status <> 'Pending' and not o._deleted
        and exists (
            select 1 from {{ source('amazon', 'order_items') }} as i
            where i.amazon_order_id = o.amazon_order_id
        )
        and not exists (
            select 1 from {{ source('amazon', 'order_items') }} as i
            where i.amazon_order_id = o.amazon_order_id and i.item_price__amount is null
        )
    group by cast(o.purchase_date as date)
)

select coalesce(m.day, r.day) as day, m.value as model_value, r.value as raw_value
from model as m
full outer join raw as r on r.day = m.day
where abs(coalesce(m.value, 0) - coalesce(r.value, 0)) > abs(coalesce(r.value, 0)) * 0.005
