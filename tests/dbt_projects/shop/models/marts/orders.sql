select o.order_id, o.customer_id, o.total, o.channel, c.label as channel_label
from (
  select * from {{ ref('stg_shop_orders') }}
  union all
  select * from {{ ref('stg_amazon_orders') }}
) as o
join {{ ref('channels') }} as c on c.channel = o.channel
