-- description: Per UTC day and channel: buyers placing their first order ever (new)
--   and buyers who had ordered before (returning), with their net sales.
select
    cast(ordered_at as date) as day,
    channel,
    count(distinct case when order_number_for_person = 1 then person_id end) as new_customers,
    count(distinct case when order_number_for_person > 1 then person_id end)
        as returning_customers,
    sum(case when order_number_for_person = 1 then net_sales else 0 end) as new_customer_sales,
    sum(case when order_number_for_person > 1 then net_sales else 0 end)
        as returning_customer_sales
from {{ ref('customer_orders') }}
group by cast(ordered_at as date), channel
