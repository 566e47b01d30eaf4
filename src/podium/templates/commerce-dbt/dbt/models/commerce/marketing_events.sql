-- description: Marketing events per person (Klaviyo: emails sent, opened, clicked,
--   orders placed), with the value and the order and message they name.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['source', 'source_id']
) }}

-- On a later run, only rows loaded since the last one (less an hour, for late commits)
-- are merged: as podium's own incremental model (updated_at: _ingested_at, lookback: 1h).
select * from (
    select
        'klaviyo' as source,
        e.id as source_id,
        m.name as metric,
        e.datetime as occurred_at,
        e.profile_id as profile_source_id,
        e.value,
        'USD' as currency,
        coalesce(e.order_id, e.event_properties__order_id) as order_source_id,
        e.message_id,
        e.event_properties__campaign_name as campaign_name,
        e.event_properties__flow as flow_id,
        e._extracted_at as _ingested_at
    from {{ source('klaviyo', 'events') }} as e
    left join {{ source('klaviyo', 'metrics') }} as m on m.id = e.metric_id
) as loaded
{{ loaded_since_last_run('loaded._ingested_at', lookback_seconds=3600) }}
