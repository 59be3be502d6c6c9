"""Webhooks: subscriptions to the change feed, signed deliveries and their log (issue 19)."""
