{#- Models land in the schema they name (commerce, marts), as podium's own models do, not
    in dbt's "<target schema>_<custom schema>". podium passes its PostgreSQL
    schema_prefix as the var podium_schema_prefix (empty on DuckDB). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ var('podium_schema_prefix', '') }}{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
