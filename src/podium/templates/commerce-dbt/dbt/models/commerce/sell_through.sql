-- description: Retailers' weekly sell-through (what stores sold to shoppers), per
--   retailer × store × SKU × week. Kept apart from wholesale sell-in (commerce.orders,
--   channel wholesale) so units are never counted twice.
select
    'retailer_edi' as source,
    retailer || '/' || cast(store_id as text) || '/' || sku || '/' || cast(week as text)
        as source_id,
    'retail_sell_through' as channel,
    retailer,
    cast(store_id as text) as store_id,
    sku,
    cast(week as date) as week,
    units_sold,
    cast(sales_amount as decimal(18, 2)) as sales_amount,
    on_hand,
    'USD' as currency
from {{ source('retailers', 'sell_through') }}
