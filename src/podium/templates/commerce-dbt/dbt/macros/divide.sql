{#- a / b as podium's models divide: DuckDB's `/` is always a floating-point division,
    and podium writes it for PostgreSQL as cast(a as double precision) / b, so a ratio
    rounds the same way on both warehouses. -#}
{% macro divide(numerator, denominator) -%}
    {{ return(adapter.dispatch('divide')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__divide(numerator, denominator) -%}
    ({{ numerator }}) / ({{ denominator }})
{%- endmacro %}

{% macro postgres__divide(numerator, denominator) -%}
    cast(({{ numerator }}) as double precision) / ({{ denominator }})
{%- endmacro %}
