-- description: The SKU master: one row per SKU sold in any channel, with its Shopify
--   variant, Amazon ASIN and NetSuite item. The SKU is the key every channel shares.
with shopify as (
    select
        v.sku,
        p.title || case when v.title in ('OS', 'Default Title') then '' else ' / ' || v.title end
            as title,
        p.product_type,
        v.barcode,
        v.price as list_price,
        cast(v.id as text) as shopify_variant_id,
        p.status = 'ACTIVE' or p.status = 'active' as is_active,
        p._deleted as is_deleted
    from {{ source('shopify', 'products__variants') }} as v
    join {{ source('shopify', 'products') }} as p on p._key = v._parent_key
    where v.sku is not null and v.sku <> ''
),

netsuite as (
    select
        itemid as sku,
        displayname as title,
        upccode as barcode,
        baseprice as list_price,
        id as netsuite_item_id,
        isinactive = 'F' as is_active
    from {{ source('netsuite', 'items') }}
    where not _deleted
),

amazon as (
    select seller_sku as sku, min(asin) as asin, min(title) as title
    from {{ source('amazon', 'order_items') }}
    group by seller_sku
),

skus as (
    select sku from shopify
    union
    select sku from netsuite
    union
    select sku from amazon
)

select
    k.sku,
    coalesce(s.title, n.title, a.title) as title,
    s.product_type,
    coalesce(s.barcode, n.barcode) as barcode,
    coalesce(s.list_price, n.list_price) as list_price,
    'USD' as currency,
    s.shopify_variant_id,
    a.asin,
    n.netsuite_item_id,
    coalesce(s.is_active and not s.is_deleted, n.is_active, true) as is_active
from skus as k
left join shopify as s on s.sku = k.sku
left join netsuite as n on n.sku = k.sku
left join amazon as a on a.sku = k.sku
