"""Subscribers to events: notifiers (Slack, e-mail, webhooks) and outgoing signed webhooks.

They read the stored events after the engine has written them (``feed.EventFeed``); the
engine never calls a notifier directly.
"""
