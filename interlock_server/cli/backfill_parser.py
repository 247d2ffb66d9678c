"""``interlock backfill``'s arguments: built for every command's parser without importing the
backfill itself (:mod:`.backfill` is imported when the command runs)."""

from __future__ import annotations

import argparse
from typing import Any

from interlock_core.engine.backfill_plan import DEFAULT_CONCURRENCY, MAX_CONCURRENCY


def concurrency(value: str) -> int:
    """``--concurrency``: 1 to MAX_CONCURRENCY (argparse exits 2 with the reason)."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 1 <= number <= MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(f"{value!r}: from 1 to {MAX_CONCURRENCY} cycles at once")
    return number


def add_parser(sub: Any, run_date: Any) -> None:
    p = sub.add_parser(
        "backfill", help="run every cycle of a date range, gated like any run, a few at a time",
        description="One cycle per date from --from to --to, each gated like any run (its traits evaluated "
        "for that date; --force launches whatever they say), at most --concurrency at once. Cycles already "
        "completed or under way are reported, never run twice, so running it again picks up where it stopped; "
        "days the pipeline's calendar excludes are reported, not run. Ctrl-C starts no new cycle: those "
        "already starting are launched and recorded first.",
        epilog="exit codes: 0 every cycle done, already done, excluded or launched; 1 a cycle failed, was not "
        "ready or was refused; 2 usage or configuration error; 130 interrupted")
    p.add_argument("pipeline")
    p.add_argument("--from", dest="since", type=run_date, required=True, metavar="DATE",
                   help="first cycle date YYYY-MM-DD")
    p.add_argument("--to", dest="until", type=run_date, required=True, metavar="DATE",
                   help="last cycle date YYYY-MM-DD (included)")
    p.add_argument("--schedule", help="the schedule to backfill (default: the pipeline's first)")
    p.add_argument("--force", action="store_true",
                   help="launch each cycle whatever its traits say (cycles already completed stay completed)")
    p.add_argument("--concurrency", type=concurrency, default=DEFAULT_CONCURRENCY, metavar="N",
                   help=f"cycles in flight at once (default {DEFAULT_CONCURRENCY})")
    p.add_argument("--no-wait", dest="wait", action="store_false",
                   help="move on once a run is launched instead of following it until it ends "
                   "(`interlock serve` follows those of the last 7 days; running the backfill again moves older "
                   "ones along)")
    p.add_argument("--json", action="store_true")
