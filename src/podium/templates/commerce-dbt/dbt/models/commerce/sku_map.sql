-- description: (source, id_kind, source_id) → sku: how each system names a SKU.
select distinct 'shopify' as source, 'variant_id' as id_kind,
    cast(id as text) as source_id, sku
from {{ source('shopify', 'products__variants') }}
where sku is not null and sku <> ''

union all

select distinct 'shopify' as source, 'inventory_item_id' as id_kind,
    cast(inventory_item_id as text) as source_id, sku
from {{ source('shopify', 'products__variants') }}
where sku is not null and sku <> '' and inventory_item_id is not null

union all

select distinct 'amazon' as source, 'seller_sku' as id_kind, seller_sku as source_id,
    seller_sku as sku
from {{ source('amazon', 'order_items') }}

union all

select distinct 'amazon' as source, 'asin' as id_kind, asin as source_id, seller_sku as sku
from {{ source('amazon', 'order_items') }}
where asin is not null

union all

select 'netsuite' as source, 'item_id' as id_kind, id as source_id, itemid as sku
from {{ source('netsuite', 'items') }}
where not _deleted
