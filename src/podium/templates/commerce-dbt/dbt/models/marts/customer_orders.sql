-- description: Every order with a known buyer, numbered per person across channels
--   (order_number_for_person 1 is their first order ever), with the person's cohort
--   month. The base of the new-vs-returning and cohort marts.
with orders as (
    select
        o.order_id,
        o.channel,
        o.ordered_at,
        o.net_sales,
        i.person_id
    from {{ ref('orders') }} as o
    join {{ ref('identity_map') }} as i
        on i.source = o.source and i.source_id = o.customer_source_id
    where not o.is_deleted and o.cancelled_at is null
)

select
    order_id,
    person_id,
    channel,
    ordered_at,
    net_sales,
    row_number() over (partition by person_id order by ordered_at, order_id)
        as order_number_for_person,
    cast(date_trunc('month', min(ordered_at) over (partition by person_id)) as date)
        as cohort_month
from orders
