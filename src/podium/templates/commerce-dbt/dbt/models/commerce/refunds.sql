-- description: Money given back, one row per refund × line, plus a row for refunded
--   shipping (kind shipping) and tax (kind tax). amount is positive, in major units;
--   refunded_at is when the refund was made (UTC), which is the day it counts against.
with shopify_lines as (
    select
        'shopify' as source,
        cast(rli.id as text) as source_id,
        cast(r.id as text) as refund_source_id,
        'shopify:' || cast(r.order_id as text) as order_id,
        cast(rli.line_item_id as text) as order_line_source_id,
        'line' as kind,
        r.created_at as refunded_at,
        rli.quantity,
        rli.subtotal as amount,
        r.note as reason
    from {{ source('shopify', 'refunds__refund_line_items') }} as rli
    join {{ source('shopify', 'refunds') }} as r on r._key = rli._parent_key
    where not r._deleted
),

-- what a Shopify refund gave back beyond its lines: shipping
shopify_rest as (
    select
        'shopify' as source,
        cast(r.id as text) || '/shipping' as source_id,
        cast(r.id as text) as refund_source_id,
        'shopify:' || cast(r.order_id as text) as order_id,
        cast(null as text) as order_line_source_id,
        'shipping' as kind,
        r.created_at as refunded_at,
        cast(null as bigint) as quantity,
        r.total_refunded - coalesce(sum(rli.subtotal), 0) as amount,
        r.note as reason
    from {{ source('shopify', 'refunds') }} as r
    left join {{ source('shopify', 'refunds__refund_line_items') }} as rli on rli._parent_key = r._key
    where not r._deleted
    group by r.id, r.order_id, r.created_at, r.total_refunded, r.note
    having r.total_refunded - coalesce(sum(rli.subtotal), 0) <> 0
),

-- Amazon reports refunds as finance events; charges given back are negative there.
amazon as (
    select
        'amazon' as source,
        e._key as source_id,
        e.amazon_order_id || '/' || cast(e.posted_date as text) as refund_source_id,
        'amazon:' || e.amazon_order_id as order_id,
        e.order_item_id as order_line_source_id,
        case e.amount_name
            when 'Principal' then 'line'
            when 'ShippingCharge' then 'shipping'
            when 'Tax' then 'tax'
            else 'other'
        end as kind,
        e.posted_date as refunded_at,
        e.quantity,
        -e.amount as amount,
        cast(null as text) as reason
    from {{ source('amazon', 'financial_events') }} as e
    where e.event_type = 'Refund' and e.amount_type = 'Charge' and not e._deleted
),

-- NetSuite: cash refunds and credit memos, created from a sales order or its invoice
netsuite as (
    select
        'netsuite' as source,
        l.transaction || '/' || l.id as source_id,
        t.id as refund_source_id,
        'netsuite:' || coalesce(inv.createdfrom, t.createdfrom) as order_id,
        cast(null as text) as order_line_source_id,
        'line' as kind,
        t.createddate as refunded_at,
        abs(l.quantity) as quantity,
        abs(l.amount) as amount,
        t.type as reason
    from {{ source('netsuite', 'transaction_lines') }} as l
    join {{ source('netsuite', 'transactions') }} as t on t.id = l.transaction
    left join {{ source('netsuite', 'transactions') }} as inv
        on inv.id = t.createdfrom and inv.type = 'CustInvc'
    where t.type in ('CashRfnd', 'CustCred') and not l._deleted and not t._deleted
)

select
    r.*,
    case r.source when 'shopify' then 'dtc' when 'amazon' then 'marketplace' else 'wholesale' end
        as channel,
    'USD' as currency
from (
    select * from shopify_lines
    union all
    select * from shopify_rest
    union all
    select * from amazon
    union all
    select * from netsuite
) as r
