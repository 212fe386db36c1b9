"""Where tests send Stripe traffic: the emulator, or real Stripe test mode when a key is set."""

from __future__ import annotations

from dataclasses import dataclass

from payment_lib.testing.emulator import StripeEmulator

REAL_STRIPE_KEY_VARIABLE = "PAYMENT_TEST_STRIPE_API_KEY"


@dataclass(frozen=True, slots=True)
class StripeTarget:
    """An API key and base URL for the SDK; ``api_base`` None means real Stripe.

    Build the client as::

        stripe.StripeClient(
            target.api_key,
            base_addresses={"api": target.api_base} if target.api_base else {},
            max_network_retries=0,
        )
    """

    api_key: str
    api_base: str | None
    emulator: StripeEmulator | None

    @property
    def is_real_stripe(self) -> bool:
        return self.emulator is None

    @classmethod
    def for_emulator(cls, emulator: StripeEmulator) -> StripeTarget:
        return cls(emulator.api_key, emulator.url, emulator)

    @classmethod
    def for_real_stripe(cls, api_key: str) -> StripeTarget:
        return cls(api_key, None, None)
