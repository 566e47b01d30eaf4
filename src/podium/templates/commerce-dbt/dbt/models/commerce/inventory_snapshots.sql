-- description: Units on hand and available per SKU × location × day, as each source
--   reported them when podium loaded them. Sources report only the present, so history
--   is what this table has kept from each day's load (hence incremental).
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['source', 'location_id', 'sku', 'snapshot_date']
) }}

-- On a later run, only rows loaded since the last one (less an hour, for late commits)
-- are merged: as podium's own incremental model (updated_at: _ingested_at, lookback: 1h).
select * from (
    select
        'shopify' as source,
        cast(location_id as text) as location_id,
        location_name,
        sku,
        cast(_extracted_at as date) as snapshot_date,
        cast(null as bigint) as on_hand,
        available,
        _extracted_at as _ingested_at
    from {{ source('shopify', 'inventory_levels') }}
    where sku is not null

    union all

    select
        'netsuite' as source,
        i.location as location_id,
        i.location as location_name,
        it.itemid as sku,
        cast(i._extracted_at as date) as snapshot_date,
        i.quantityonhand as on_hand,
        i.quantityavailable as available,
        i._extracted_at as _ingested_at
    from {{ source('netsuite', 'inventory') }} as i
    join {{ source('netsuite', 'items') }} as it on it.id = i.item

    union all

    select
        'retailer_edi' as source,
        retailer || '/' || cast(store_id as text) as location_id,
        retailer as location_name,
        sku,
        cast(week as date) as snapshot_date,
        on_hand,
        on_hand as available,
        _extracted_at as _ingested_at
    from {{ source('retailers', 'sell_through') }}
) as loaded
{{ loaded_since_last_run('loaded._ingested_at', lookback_seconds=3600) }}
