{#- Emails and phone numbers, normalised and HMAC-SHA256-hashed with podium.yaml's
    warehouse.pii_key: the same hashes as podium's own pii_email()/pii_phone(), so people
    join across podium's models, this project and the raw layer alike.

    The key never appears in SQL, in dbt's files or in its log: podium hands it to the
    warehouse session when dbt connects (DuckDB: podium's dbt-duckdb plugin defines
    pii_email/pii_phone on each of dbt's cursors, as podium does on its own connection;
    PostgreSQL: the HMAC pads as the session settings podium.pii_ipad/podium.pii_opad). -#}
{% macro pii_email(column) -%}
    {{ return(adapter.dispatch('pii_email')(column)) }}
{%- endmacro %}

{% macro pii_phone(column) -%}
    {{ return(adapter.dispatch('pii_phone')(column)) }}
{%- endmacro %}

{% macro duckdb__pii_email(column) -%}
    pii_email({{ column }})
{%- endmacro %}

{% macro duckdb__pii_phone(column) -%}
    pii_phone({{ column }})
{%- endmacro %}

{% macro postgres__pii_email(column) -%}
    {{ podium_pii_hmac('lower(btrim(' ~ column ~ '))') }}
{%- endmacro %}

{% macro postgres__pii_phone(column) -%}
    {%- set digits = "regexp_replace(" ~ column ~ ", '[^0-9]', '', 'g')" -%}
    {{ podium_pii_hmac("case when length(" ~ digits ~ ") = 10 then '1' || " ~ digits ~ " else " ~ digits ~ " end") }}
{%- endmacro %}

{% macro podium_pii_hmac(value) -%}
    case when ({{ value }}) is null or ({{ value }}) = '' then null else encode(sha256(
        decode(current_setting('podium.pii_opad'), 'hex')
        || sha256(decode(current_setting('podium.pii_ipad'), 'hex') || convert_to({{ value }}, 'UTF8'))
    ), 'hex') end
{%- endmacro %}
