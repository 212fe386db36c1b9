"""Command groups assembled from several modules, loaded when first used (see lazy.py)."""

from __future__ import annotations

from payment_cli.bulk_commands import webhooks_replay
from payment_cli.operator_commands import subscriptions_list
from payment_cli.pause_commands import subscriptions_pause, subscriptions_resume
from payment_cli.plan_change_command import change_plan
from payment_cli.subscription_commands import subscriptions
from payment_cli.webhook_commands import webhooks

subscriptions.add_command(change_plan)
subscriptions.add_command(subscriptions_pause)
subscriptions.add_command(subscriptions_resume)
subscriptions.add_command(subscriptions_list)
webhooks.add_command(webhooks_replay)

__all__ = ["subscriptions", "webhooks"]
