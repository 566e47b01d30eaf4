{% snapshot customers_snapshot %}
{{ config(unique_key='customer_id', strategy='check', check_cols=['email'], schema='snapshots') }}
select * from {{ ref('stg_customers') }}
{% endsnapshot %}
