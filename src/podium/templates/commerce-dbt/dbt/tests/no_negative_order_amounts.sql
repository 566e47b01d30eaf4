-- money: no negative sales or discounts, and no discount above what was sold
select order_id, gross_sales, discounts
from {{ ref('orders') }}
where gross_sales < 0 or discounts < 0 or discounts > gross_sales
