"""Calls out of podium: the ``http`` task kind and outgoing signed webhooks on events.

templates.py       ``{{ row.order_id }}`` references in an http task's URL, headers, body
http_options.py    reading and checking an http task's options (file:line problems)
http_task.py       running an http task: one call, one per row, or one per batch of rows
sent.py            the warehouse table remembering which rows a task has sent
signing.py         ``Podium-Signature: t=…,v1=…`` (HMAC-SHA256, Stripe's scheme)
hooks_config.py    ``outgoing_webhooks:`` in podium.yaml, checked
webhooks.py        the subscriber that delivers matching events to each outgoing webhook
"""
