-- materialized: incremental
-- unique_key: [source, location_id, sku, snapshot_date]
-- updated_at: _ingested_at
-- lookback: 1h
-- description: Units on hand and available per SKU × location × day, as each source
--   reported them when podium loaded them. Sources report only the present, so history
--   is what this table has kept from each day's load (hence incremental).
select
    'shopify' as source,
    cast(location_id as varchar) as location_id,
    location_name,
    sku,
    cast(_extracted_at as date) as snapshot_date,
    cast(null as bigint) as on_hand,
    available,
    _extracted_at as _ingested_at
from raw_shopify.inventory_levels
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
from raw_netsuite.inventory as i
join raw_netsuite.items as it on it.id = i.item

union all

select
    'retailer_edi' as source,
    retailer || '/' || cast(store_id as varchar) as location_id,
    retailer as location_name,
    sku,
    cast(week as date) as snapshot_date,
    on_hand,
    on_hand as available,
    _extracted_at as _ingested_at
from raw_retailers.sell_through
