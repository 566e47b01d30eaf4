{#- On an incremental run, the rows whose `column` is at least the stored maximum less
    `lookback_seconds` (all of them while the table is empty): podium's own incremental
    rule (updated_at, lookback). With delete+insert on the unique key, a row loaded again
    replaces its stored version. -#}
{% macro loaded_since_last_run(column, lookback_seconds=0) -%}
    {%- if is_incremental() -%}
        {%- set stored = column.split('.')[-1] -%}
        {%- set since -%}
            (select max({{ stored }}) from {{ this }}) - interval '{{ lookback_seconds }} seconds'
        {%- endset -%}
        where {{ column }} >= {{ since }} or {{ since }} is null
    {%- endif -%}
{%- endmacro %}
