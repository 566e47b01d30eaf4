select id as order_id, customer_id, cast(total as decimal(12, 2)) as total, 'shop' as channel
from {{ source('shop', 'orders') }}
