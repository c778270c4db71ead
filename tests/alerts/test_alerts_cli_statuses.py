"""The CLI's copy of the delivery statuses (kept light for `--help`) equals storage's."""

from storage.alert_store import DELIVERY_STATUSES
from viralwatch.alerts_cli import STATUSES


def test_the_cli_offers_exactly_the_stored_delivery_statuses():
    assert STATUSES == DELIVERY_STATUSES
