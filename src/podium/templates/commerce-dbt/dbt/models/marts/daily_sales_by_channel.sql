-- description: Sales per UTC day and channel. Orders, units, gross and discounts count
--   the orders placed that day (deleted and cancelled orders left out, and Amazon
--   orders until their prices are known, see commerce.orders.is_priced); refunds count what
--   was given back that day (lines and shipping, not tax), whichever day the order was.
--   net = gross - discounts - refunds; aov = (gross - discounts) / orders.
with placed as (
    select
        cast(ordered_at as date) as day,
        channel,
        count(*) as orders,
        sum(units) as units,
        sum(gross_sales) as gross,
        sum(discounts) as discounts
    from {{ ref('orders') }}
    where not is_deleted and cancelled_at is null and is_priced
    group by cast(ordered_at as date), channel
),

refunded as (
    select
        cast(refunded_at as date) as day,
        channel,
        sum(amount) as refunds,
        count(distinct refund_source_id) as refund_count
    from {{ ref('refunds') }}
    where kind in ('line', 'shipping')
    group by cast(refunded_at as date), channel
),

days as (
    select day, channel from placed
    union
    select day, channel from refunded
)

select
    d.day,
    d.channel,
    coalesce(p.orders, 0) as orders,
    coalesce(p.units, 0) as units,
    coalesce(p.gross, 0) as gross,
    coalesce(p.discounts, 0) as discounts,
    coalesce(r.refunds, 0) as refunds,
    coalesce(p.gross, 0) - coalesce(p.discounts, 0) - coalesce(r.refunds, 0) as net,
    case
        when coalesce(p.orders, 0) > 0
            then cast({{ divide('p.gross - p.discounts', 'p.orders') }} as decimal(18, 2))
    end as aov,
    coalesce(r.refund_count, 0) as refund_count
from days as d
left join placed as p on p.day = d.day and p.channel = d.channel
left join refunded as r on r.day = d.day and r.channel = d.channel
