-- materialized: table
-- description: Ad spend per platform × campaign × day, from the exports dropped in
--   inbox/ad_spend (one row per date, platform and campaign).
select
    platform as source,
    platform || ':' || cast(campaign_id as varchar) || ':' || cast(date as varchar)
        as source_id,
    cast(date as date) as day,
    platform,
    cast(campaign_id as varchar) as campaign_id,
    campaign_name,
    cast(spend as decimal(18, 2)) as spend,
    impressions,
    clicks,
    coalesce(currency, 'USD') as currency
from raw_ad_spend.spend
