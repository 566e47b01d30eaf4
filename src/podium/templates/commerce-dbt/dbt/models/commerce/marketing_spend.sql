-- description: Ad spend per platform × campaign × day, from the exports dropped in
--   inbox/ad_spend (one row per date, platform and campaign).
select
    platform as source,
    platform || ':' || cast(campaign_id as text) || ':' || cast(date as text)
        as source_id,
    cast(date as date) as day,
    platform,
    cast(campaign_id as text) as campaign_id,
    campaign_name,
    cast(spend as decimal(18, 2)) as spend,
    impressions,
    clicks,
    coalesce(currency, 'USD') as currency
from {{ source('ad_spend', 'spend') }}
