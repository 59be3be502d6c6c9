"""``caldb-server deliver``: the webhook delivery worker (run one or more, on any hosts)."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import click

from caldb_server.cli.common import main, open_services
from caldb_server.webhooks.delivery import WorkerOptions
from caldb_server.webhooks.worker import run_forever, run_once

__all__ = ["deliver"]


@main.command()
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option(
    "--threads",
    default=8,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Subscriptions delivered at the same time.",
)
@click.option(
    "--poll-interval",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0.05, 3600),
    help="Seconds between looks for due deliveries.",
)
@click.option(
    "--timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0.1, 120),
    help="Seconds a receiver has to answer (connecting: at most 5).",
)
def deliver(*, once: bool, threads: int, poll_interval: float, timeout: float) -> None:
    """Send the change feed's webhooks: signed, in order per subscription, retried 24 h.

    Several workers (processes or hosts) may run at once: each subscription is leased to
    one of them at a time (PostgreSQL's SKIP LOCKED). SIGTERM and SIGINT finish the
    deliveries under way, then stop.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with open_services() as (_app, services):
        options = WorkerOptions(
            secret_key=services.settings.secret_key,
            allow_private=services.settings.webhook_allow_private,
            connect_timeout_s=min(5.0, timeout),
            read_timeout_s=timeout,
            threads=threads,
        )
        if once:
            result = run_once(services.database, options)
            click.echo(f"{result.delivered} changes delivered to {result.claimed} subscriptions")
            return
        stop = threading.Event()

        def _stop(_signal: int, _frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        run_forever(services.database, options, poll_interval_s=poll_interval, stop=stop)
