-- description: Per UTC day: net revenue (all channels and DTC alone), ad spend, and
--   their ratios — MER (all net revenue / spend) and DTC ROAS (DTC net / spend) — plus the
--   order value Klaviyo attributes to email (Placed Order events naming a message).
--   Attribution is by day only: platform-reported conversions are estimates.
with sales as (
    select
        day,
        sum(net) as net_revenue,
        sum(case when channel = 'dtc' then net else 0 end) as dtc_net_revenue
    from {{ ref('daily_sales_by_channel') }}
    group by day
),

spend as (
    select day, sum(spend) as spend, sum(impressions) as impressions, sum(clicks) as clicks
    from {{ ref('marketing_spend') }}
    group by day
),

email as (
    select cast(occurred_at as date) as day, sum(value) as email_attributed_revenue
    from {{ ref('marketing_events') }}
    where metric = 'Placed Order' and message_id is not null
    group by cast(occurred_at as date)
),

days as (
    select day from sales
    union
    select day from spend
)

select
    d.day,
    coalesce(s.net_revenue, 0) as net_revenue,
    coalesce(s.dtc_net_revenue, 0) as dtc_net_revenue,
    coalesce(p.spend, 0) as spend,
    coalesce(p.impressions, 0) as impressions,
    coalesce(p.clicks, 0) as clicks,
    coalesce(e.email_attributed_revenue, 0) as email_attributed_revenue,
    case when p.spend > 0 then cast({{ divide('s.net_revenue', 'p.spend') }} as decimal(18, 2)) end as mer,
    case when p.spend > 0 then cast({{ divide('s.dtc_net_revenue', 'p.spend') }} as decimal(18, 2)) end
        as dtc_roas
from days as d
left join sales as s on s.day = d.day
left join spend as p on p.day = d.day
left join email as e on e.day = d.day
