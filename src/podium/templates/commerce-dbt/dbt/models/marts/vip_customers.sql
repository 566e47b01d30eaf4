-- description: The VIP audience: people whose lifetime net sales across every channel
--   reach 150, one row each, with the email of their Klaviyo profile. The sync
--   vip_to_klaviyo mirrors it into Klaviyo's VIP list (people who leave it leave the
--   list). The email comes back from the raw layer here only, at the edge where a
--   destination needs it; person_id (the hashed email) is the sync's key.
with lifetime as (
    select
        person_id,
        sum(net_sales) as lifetime_value,
        count(*) as orders,
        max(ordered_at) as last_ordered_at
    from {{ ref('customer_orders') }}
    group by person_id
),

profiles as (
    select
        i.person_id,
        p.email,
        p.first_name,
        row_number() over (partition by i.person_id order by p.updated desc nulls last, p.id) as pick
    from {{ ref('identity_map') }} as i
    join {{ source('klaviyo', 'profiles') }} as p on p.id = i.source_id
    where i.source = 'klaviyo' and not p._deleted and p.email is not null
)

select
    l.person_id,
    p.email,
    p.first_name,
    cast(l.lifetime_value as decimal(12, 2)) as lifetime_value,
    l.orders,
    l.last_ordered_at
from lifetime as l
join profiles as p on p.person_id = l.person_id and p.pick = 1
where l.lifetime_value >= 150
