-- description: One row per person or account per source. Emails and phone numbers are
--   normalised and HMAC-hashed with the warehouse's pii_key here: no raw PII leaves the
--   raw layer. commerce.identity_map joins the same person across sources.
select
    'shopify' as source,
    cast(id as text) as source_id,
    'consumer' as customer_type,
    {{ pii_email('email') }} as email_hash,
    {{ pii_phone('phone') }} as phone_hash,
    cast(null as text) as company_name,
    city,
    province_code as region,
    country_code as country,
    marketing_state = 'SUBSCRIBED' as accepts_marketing,
    created_at,
    updated_at as source_updated_at
from {{ source('shopify', 'customers') }}
where not _deleted

union all

select
    'klaviyo' as source,
    id as source_id,
    'consumer' as customer_type,
    {{ pii_email('email') }} as email_hash,
    {{ pii_phone('phone_number') }} as phone_hash,
    cast(null as text) as company_name,
    location__city as city,
    location__region as region,
    location__country as country,
    cast(null as boolean) as accepts_marketing,
    created as created_at,
    updated as source_updated_at
from {{ source('klaviyo', 'profiles') }}
where not _deleted

union all

select
    'netsuite' as source,
    id as source_id,
    'wholesale_account' as customer_type,
    {{ pii_email('email') }} as email_hash,
    cast(null as text) as phone_hash,
    companyname as company_name,
    cast(null as text) as city,
    cast(null as text) as region,
    cast(null as text) as country,
    cast(null as boolean) as accepts_marketing,
    datecreated as created_at,
    lastmodifieddate as source_updated_at
from {{ source('netsuite', 'customers') }}
where not _deleted
