-- description: Which person each customer record is: person_id is the hashed email, or
--   for a record without one, the hashed email of any record sharing its hashed phone,
--   else its hashed phone, else the record itself. Join orders and marketing events to
--   people through (source, source_id).
with linked as (
    select phone_hash, min(email_hash) as email_hash
    from {{ ref('customers') }}
    where phone_hash is not null and email_hash is not null
    group by phone_hash
)

select
    c.source,
    c.source_id,
    c.customer_type,
    coalesce(c.email_hash, l.email_hash, c.phone_hash, c.source || ':' || c.source_id)
        as person_id,
    case
        when c.email_hash is not null then 'email'
        when l.email_hash is not null then 'phone_to_email'
        when c.phone_hash is not null then 'phone'
        else 'none'
    end as matched_on
from {{ ref('customers') }} as c
left join linked as l on l.phone_hash = c.phone_hash
