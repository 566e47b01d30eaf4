select customer_id, sum(total) as revenue from {{ ref('stg_shop_orders') }} group by customer_id
