select id as order_id, customer_id, cast(total as decimal(12, 2)) as total, 'amazon' as channel
from {{ source('marketplace', 'orders') }}
