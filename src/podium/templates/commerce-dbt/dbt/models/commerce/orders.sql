-- description: One row per order from every sales channel: Shopify (dtc), Amazon
--   (marketplace, AFN or MFN) and NetSuite sales orders (wholesale). Money is in the
--   order's currency, major units; times are UTC. gross_sales is line price × quantity
--   before discounts; tax and shipping are kept apart from revenue. is_priced is false
--   for an Amazon order while Amazon shows it as Pending (it has no prices until then)
--   and while its priced items have not landed yet.
--
-- Incremental on _ingested_at (when podium loaded the row), not on the source's own
-- update time: a source that lands late brings rows older than what the others brought,
-- and they must still be merged.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['source', 'source_id']
) }}

-- On a later run, only rows loaded since the last one (less an hour, for late commits)
-- are merged: as podium's own incremental model (updated_at: _ingested_at, lookback: 1h).
select * from (
    with shopify_lines as (
        select
            _parent_key as order_key,
            sum(quantity) as units,
            sum(price * quantity) as gross_sales,
            sum(coalesce(total_discount, 0)) as discounts
        from {{ source('shopify', 'orders__line_items') }}
        group by _parent_key
    ),

    shopify as (
        select
            'shopify' as source,
            cast(o.id as text) as source_id,
            o.name as order_number,
            'dtc' as channel,
            'online_store' as sub_channel,
            cast(o.customer_id as text) as customer_source_id,
            o.created_at as ordered_at,
            o.updated_at as source_updated_at,
            o.financial_status as status,
            true as is_priced,
            o.cancelled_at,
            coalesce(l.units, 0) as units,
            coalesce(l.gross_sales, 0) as gross_sales,
            coalesce(l.discounts, 0) as discounts,
            coalesce(o.total_shipping_price, 0) as shipping,
            coalesce(o.total_tax, 0) as tax,
            o.total_price as total,
            o.currency,
            o._deleted as is_deleted,
            o._extracted_at as _ingested_at
        from {{ source('shopify', 'orders') }} as o
        left join shopify_lines as l on l.order_key = o._key
    ),

    amazon_items as (
        select
            amazon_order_id,
            sum(quantity_ordered) as units,
            sum(coalesce(item_price__amount, 0)) as gross_sales,
            sum(coalesce(promotion_discount__amount, 0)) as discounts,
            sum(coalesce(shipping_price__amount, 0)) as shipping,
            sum(coalesce(item_tax__amount, 0)) as tax,
            min(item_price__currency_code) as currency,
            sum(case when item_price__amount is null then 1 else 0 end) as unpriced_items,
            max(_extracted_at) as _extracted_at
        from {{ source('amazon', 'order_items') }}
        where not _deleted
        group by amazon_order_id
    ),

    amazon as (
        select
            'amazon' as source,
            o.amazon_order_id as source_id,
            o.amazon_order_id as order_number,
            'marketplace' as channel,
            case o.fulfillment_channel when 'AFN' then 'amazon_fba' else 'amazon_merchant' end
                as sub_channel,
            cast(null as text) as customer_source_id,
            o.purchase_date as ordered_at,
            o.last_update_date as source_updated_at,
            o.order_status as status,
            o.order_status <> 'Pending' and coalesce(i.unpriced_items, 1) = 0 as is_priced,
            case when o.order_status = 'Canceled' then o.last_update_date end as cancelled_at,
            coalesce(i.units, 0) as units,
            coalesce(i.gross_sales, 0) as gross_sales,
            coalesce(i.discounts, 0) as discounts,
            coalesce(i.shipping, 0) as shipping,
            coalesce(i.tax, 0) as tax,
            coalesce(
                o.order_total__amount,
                coalesce(i.gross_sales, 0) - coalesce(i.discounts, 0)
                + coalesce(i.shipping, 0) + coalesce(i.tax, 0)
            ) as total,
            coalesce(o.order_total__currency_code, i.currency, 'USD') as currency,
            o._deleted as is_deleted,
            greatest(o._extracted_at, coalesce(i._extracted_at, o._extracted_at)) as _ingested_at
        from {{ source('amazon', 'orders') }} as o
        left join amazon_items as i on i.amazon_order_id = o.amazon_order_id
    ),

    -- NetSuite stores sales lines with negative quantities and amounts in some accounts and
    -- positive in others; abs() reads both.
    netsuite_lines as (
        select
            transaction,
            sum(abs(quantity)) as units,
            sum(abs(amount)) as gross_sales,
            max(_extracted_at) as _extracted_at
        from {{ source('netsuite', 'transaction_lines') }}
        where transaction_type = 'SalesOrd' and not _deleted
        group by transaction
    ),

    netsuite as (
        select
            'netsuite' as source,
            t.id as source_id,
            t.tranid as order_number,
            'wholesale' as channel,
            'wholesale' as sub_channel,
            t.entity as customer_source_id,
            t.createddate as ordered_at,
            t.lastmodifieddate as source_updated_at,
            t.status,
            true as is_priced,
            case when t.status in ('closed', 'cancelled') then t.lastmodifieddate end
                as cancelled_at,
            coalesce(l.units, 0) as units,
            coalesce(l.gross_sales, 0) as gross_sales,
            cast(0 as decimal(18, 2)) as discounts,
            cast(0 as decimal(18, 2)) as shipping,
            cast(0 as decimal(18, 2)) as tax,
            coalesce(t.foreigntotal, l.gross_sales) as total,
            'USD' as currency,
            t._deleted as is_deleted,
            greatest(t._extracted_at, coalesce(l._extracted_at, t._extracted_at)) as _ingested_at
        from {{ source('netsuite', 'transactions') }} as t
        left join netsuite_lines as l on l.transaction = t.id
        where t.type = 'SalesOrd'
    ),

    unioned as (
        select * from shopify
        union all
        select * from amazon
        union all
        select * from netsuite
    )

    select
        source || ':' || source_id as order_id,
        source,
        source_id,
        order_number,
        channel,
        sub_channel,
        customer_source_id,
        ordered_at,
        source_updated_at,
        status,
        is_priced,
        cancelled_at,
        units,
        gross_sales,
        discounts,
        gross_sales - discounts as net_sales,
        shipping,
        tax,
        total,
        currency,
        is_deleted,
        _ingested_at
    from unioned
) as loaded
{{ loaded_since_last_run('loaded._ingested_at', lookback_seconds=3600) }}
