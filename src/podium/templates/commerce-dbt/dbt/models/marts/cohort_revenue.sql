-- description: Net sales by first-order month (cohort) and order month: how much each
--   month's new buyers spend as they age. months_since_first 0 is the cohort's own month.
select
    cohort_month,
    cast(date_trunc('month', ordered_at) as date) as order_month,
    (extract(year from ordered_at) - extract(year from cohort_month)) * 12
        + extract(month from ordered_at) - extract(month from cohort_month)
        as months_since_first,
    count(distinct person_id) as customers,
    count(*) as orders,
    sum(net_sales) as net_sales
from {{ ref('customer_orders') }}
group by cohort_month, cast(date_trunc('month', ordered_at) as date),
    (extract(year from ordered_at) - extract(year from cohort_month)) * 12
        + extract(month from ordered_at) - extract(month from cohort_month)
