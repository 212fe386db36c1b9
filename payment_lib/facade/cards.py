"""Saved cards and card-expiring reminders: the facade's methods."""

from __future__ import annotations

import datetime as dt

from payment_lib.domain.errors import InvalidRequest
from payment_lib.facade.wiring import Wiring
from payment_lib.services import card_reminders as _reminders
from payment_lib.services import saved_cards as _cards
from payment_lib.services.saved_cards import CardInfo


class CardsApi(Wiring):
    """Saved cards: list, default, remove; and the card-expiring reminders."""

    def list_cards(self, user_id: object) -> list[CardInfo]:
        """The user's saved cards (brand, last 4, expiry, whether renewals use it), oldest
        first; removed ones are not listed."""
        return _cards.list_cards(user_id, new_uow=self.database.unit_of_work)

    def set_default_card(self, user_id: object, payment_method: object) -> CardInfo:
        """Make one of the user's saved cards (``pm_...``, as ``list_cards`` shows it) the
        default: every live subscription of the user renews with it, and it is the Stripe
        Customer's invoice default.

        Raises:
            InvalidRequest: not a pm_ id, or the card was removed; NotFound: the user has no
                such card; ProviderUnavailable. Nothing changes on any error.
        """
        return _cards.set_default_card(
            user_id,
            payment_method,
            new_uow=self.database.unit_of_work,
            gateway=self.gateway,
            now=self.clock(),
        )

    def remove_card(self, payment_method: object) -> CardInfo:
        """Remove a saved card: detached at Stripe for good, no longer listed or charged.

        Raises:
            InvalidRequest: a live subscription renews with it (make another card the
                default first); NotFound; ProviderUnavailable. Nothing changes on any error.
        """
        return _cards.remove_card(
            payment_method,
            new_uow=self.database.unit_of_work,
            gateway=self.gateway,
            now=self.clock(),
        )

    def remind_expiring_cards(self, now: dt.datetime | None = None) -> int:
        """Queue a ``card_expiring`` email for each card live subscriptions renew with whose
        expiry month starts within ``card_expiry_reminder_days`` of ``now`` (default: the
        clock); once per card and expiry. Returns how many were queued. The worker calls it."""
        when = now or self.clock()
        if when.tzinfo is None:
            raise InvalidRequest("now must be an aware datetime (UTC).", param="now")
        return _reminders.remind_expiring_cards(
            when,
            days=self.settings.card_expiry_reminder_days,
            new_uow=self.database.unit_of_work,
            metrics=self.metrics,
        )
