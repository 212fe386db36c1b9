"""payment_lib: card payments, subscriptions, Stripe webhooks and refunds."""
