-- description: One row per order line, every channel, with the SKU it sold. gross is
--   unit_price × quantity; discount is the line's share of order discounts.
with shopify as (
    select
        'shopify' as source,
        cast(li.id as text) as source_id,
        'shopify:' || cast(o.id as text) as order_id,
        li._pos + 1 as line_number,
        li.sku,
        cast(li.variant_id as text) as product_source_id,
        li.title,
        li.quantity,
        li.price as unit_price,
        li.price * li.quantity as gross,
        coalesce(li.total_discount, 0) as discount,
        'dtc' as channel,
        o.created_at as ordered_at,
        o.currency,
        o._deleted as is_deleted
    from {{ source('shopify', 'orders__line_items') }} as li
    join {{ source('shopify', 'orders') }} as o on o._key = li._parent_key
),

amazon as (
    select
        'amazon' as source,
        i.order_item_id as source_id,
        'amazon:' || i.amazon_order_id as order_id,
        row_number() over (partition by i.amazon_order_id order by i.order_item_id)
            as line_number,
        i.seller_sku as sku,
        i.asin as product_source_id,
        i.title,
        i.quantity_ordered as quantity,
        cast(
            {{ divide('coalesce(i.item_price__amount, 0)', 'nullif(i.quantity_ordered, 0)') }}
            as decimal(18, 2)
        ) as unit_price,
        coalesce(i.item_price__amount, 0) as gross,
        coalesce(i.promotion_discount__amount, 0) as discount,
        'marketplace' as channel,
        i.purchase_date as ordered_at,
        coalesce(i.item_price__currency_code, 'USD') as currency,
        i._deleted as is_deleted
    from {{ source('amazon', 'order_items') }} as i
),

netsuite as (
    select
        'netsuite' as source,
        l.transaction || '/' || l.id as source_id,
        'netsuite:' || l.transaction as order_id,
        cast(l.linesequencenumber as bigint) as line_number,
        it.itemid as sku,
        l.item as product_source_id,
        it.displayname as title,
        abs(l.quantity) as quantity,
        abs(l.rate) as unit_price,
        abs(l.amount) as gross,
        cast(0 as decimal(18, 2)) as discount,
        'wholesale' as channel,
        t.createddate as ordered_at,
        'USD' as currency,
        l._deleted or t._deleted as is_deleted
    from {{ source('netsuite', 'transaction_lines') }} as l
    join {{ source('netsuite', 'transactions') }} as t on t.id = l.transaction
    left join {{ source('netsuite', 'items') }} as it on it.id = l.item
    where l.transaction_type = 'SalesOrd'
)

select *, gross - discount as net from shopify
union all
select *, gross - discount as net from amazon
union all
select *, gross - discount as net from netsuite
