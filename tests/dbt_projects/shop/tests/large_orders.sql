{{ config(severity='warn') }}
select * from {{ ref('orders') }} where total > 1000
