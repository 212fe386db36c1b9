"""``python -m payment_cli`` runs payment-cli."""

from payment_cli.cli import main

main()
