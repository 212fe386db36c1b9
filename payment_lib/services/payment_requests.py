"""Validating a payment request: every field checked, card numbers refused, a fingerprint made."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Unpack

from payment_lib.domain.card_data import holds_card_number
from payment_lib.domain.card_input import refuse_card_numbers
from payment_lib.domain.errors import InvalidRequest
from payment_lib.domain.money import Money, parse_money
from payment_lib.services.request_fields import PayFields

MAX_KEY_LENGTH = 255
MAX_DESCRIPTION = 500
MAX_METADATA_KEYS = 50  # Stripe's limits
MAX_METADATA_KEY = 40
MAX_METADATA_VALUE = 500
_PAYMENT_METHOD = re.compile(r"pm_[A-Za-z0-9_]{1,250}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}")
# What json.dumps(..., sort_keys=True) writes, with the encoder built once.
_FINGERPRINT_JSON = json.JSONEncoder(sort_keys=True)


@dataclass(frozen=True)
class PaymentRequest:
    """A payment request that passed validation."""

    user_id: uuid.UUID
    money: Money
    payment_method: str
    idempotency_key: str
    plan_id: str | None = None
    customer_email: str | None = None
    return_url: str | None = None
    description: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    off_session: bool = False

    def fingerprint(self) -> str:
        """A digest of everything but the key: the same key must come with the same request."""
        content = {
            "user_id": str(self.user_id),
            "amount": self.money.minor,
            "currency": self.money.currency,
            "payment_method": self.payment_method,
            "plan_id": self.plan_id,
            "customer_email": self.customer_email,
            "return_url": self.return_url,
            "description": self.description,
            "metadata": dict(sorted(self.metadata.items())),
            "off_session": self.off_session,
        }
        return hashlib.sha256(_FINGERPRINT_JSON.encode(content).encode()).hexdigest()

    @classmethod
    def build(cls, **fields: Unpack[PayFields]) -> PaymentRequest:
        """A request from a caller's fields, every one checked (InvalidRequest naming it)."""
        return validate_payment_request(**fields)


def parse_uuid(value: object, param: str) -> uuid.UUID:
    """A UUID from a string (or UUID), or InvalidRequest naming ``param``."""
    if isinstance(value, uuid.UUID):
        return value
    refuse_card_numbers({param: value})
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidRequest(f"{param} must be a UUID.", param=param) from None


def check_idempotency_key(value: object) -> str:
    """The key itself, or InvalidRequest: 1-255 printable characters, no outer spaces."""
    if not (
        isinstance(value, str)
        and 0 < len(value) <= MAX_KEY_LENGTH
        and value.isprintable()
        and value.strip() == value
    ):
        raise InvalidRequest(
            f"idempotency_key must be 1-{MAX_KEY_LENGTH} printable characters.",
            param="idempotency_key",
        )
    return value


def optional_text(value: object, param: str, limit: int) -> str | None:
    """``value`` if it is printable text of at most ``limit`` characters (None passes)."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit or not value.isprintable():
        raise InvalidRequest(f"{param} must be at most {limit} printable characters.", param=param)
    return value


def check_email(value: object) -> str | None:
    """An optional email address, checked (InvalidRequest naming ``customer_email``)."""
    email = optional_text(value, "customer_email", 320)
    if email is not None and not _EMAIL.fullmatch(email):
        raise InvalidRequest("customer_email must be an email address.", param="customer_email")
    return email


def _metadata(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or len(value) > MAX_METADATA_KEYS:
        raise InvalidRequest(
            f"metadata must be a mapping of at most {MAX_METADATA_KEYS} entries.",
            param="metadata",
        )
    clean = {}
    for key, item in value.items():
        if not (
            isinstance(key, str)
            and 0 < len(key) <= MAX_METADATA_KEY
            and key.isprintable()
            and isinstance(item, str)
            and len(item) <= MAX_METADATA_VALUE
            and item.isprintable()
        ):
            raise InvalidRequest(
                f"metadata keys must be 1-{MAX_METADATA_KEY} printable characters and values "
                f"strings of at most {MAX_METADATA_VALUE}.",
                param="metadata",
            )
        clean[key] = item
    return clean


def validate_payment_request(
    *,
    user_id: object,
    amount: object,
    currency: object,
    payment_method: object,
    idempotency_key: object,
    plan_id: object = None,
    customer_email: object = None,
    return_url: object = None,
    description: object = None,
    metadata: object = None,
    off_session: bool = False,
) -> PaymentRequest:
    """Check every field; raise InvalidRequest (naming the field) on the first problem.

    A card number anywhere is refused before anything else, and never echoed back: one
    search over every field, then, only when it finds one, the field that holds it.
    """
    fields = {
        "user_id": user_id,
        "amount": amount,
        "currency": currency,
        "payment_method": payment_method,
        "idempotency_key": idempotency_key,
        "plan_id": plan_id,
        "customer_email": customer_email,
        "return_url": return_url,
        "description": description,
        "metadata": metadata,
    }
    if holds_card_number(fields):
        refuse_card_numbers(fields)
    key = check_idempotency_key(idempotency_key)
    user = parse_uuid(user_id, "user_id")
    money = parse_money(amount, currency)
    if not isinstance(payment_method, str) or not _PAYMENT_METHOD.fullmatch(payment_method):
        raise InvalidRequest(
            "payment_method must be a Stripe PaymentMethod id such as pm_1Abc...",
            param="payment_method",
        )
    email = check_email(customer_email)
    url = optional_text(return_url, "return_url", 2000)
    if url is not None and not url.startswith(("https://", "http://")):
        raise InvalidRequest("return_url must be an http(s) URL.", param="return_url")
    return PaymentRequest(
        user_id=user,
        money=money,
        payment_method=payment_method,
        idempotency_key=key,
        plan_id=optional_text(plan_id, "plan_id", 64),
        customer_email=email,
        return_url=url,
        description=optional_text(description, "description", MAX_DESCRIPTION),
        metadata=_metadata(metadata),
        off_session=bool(off_session),
    )
