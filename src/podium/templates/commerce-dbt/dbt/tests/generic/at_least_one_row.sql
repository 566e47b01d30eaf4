{#- The model is not empty. -#}
{% test at_least_one_row(model) %}
select 'no rows' as problem
where not exists (select 1 from {{ model }})
{% endtest %}
