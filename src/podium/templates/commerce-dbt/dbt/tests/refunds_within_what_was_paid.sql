{{ config(severity='warn') }}
-- money: an order's line and shipping refunds stay within what was paid for them
select r.order_id, sum(r.amount) as refunded, max(o.net_sales + o.shipping) as paid
from {{ ref('refunds') }} as r
join {{ ref('orders') }} as o on o.order_id = r.order_id
where r.kind in ('line', 'shipping')
group by r.order_id
having sum(r.amount) > max(o.net_sales + o.shipping)
