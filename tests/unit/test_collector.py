"""The command line's imports, and a Lambda container's, run with the cyclic collector paused, then
frozen, and the youngest generation is collected less often (collector.py)."""

from __future__ import annotations

import gc
import subprocess
import sys

from interlock_server.collector import YOUNG_COLLECTION_THRESHOLD, collector_paused


def test_the_collector_runs_again_after_the_imports_and_their_objects_are_frozen() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import gc, interlock_server.cli; print(gc.isenabled(), gc.get_freeze_count(), "
         "*gc.get_threshold())"],
        capture_output=True, text=True, check=True)
    enabled, frozen, young, middle, oldest = proc.stdout.split()
    assert enabled == "True"
    assert int(frozen) > 10_000  # the engine's, pydantic's, asyncio's … objects
    assert (int(young), int(middle), int(oldest)) == (YOUNG_COLLECTION_THRESHOLD, 10, 10)  # older: as Python has them


def test_a_lambda_handler_module_starts_its_container_so() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import gc, sys, interlock_server.aws.trigger; print(gc.isenabled(), "
         "gc.get_freeze_count(), gc.get_threshold()[0], 'interlock_server.cli' in sys.modules)"],
        capture_output=True, text=True, check=True)
    enabled, frozen, young, cli = proc.stdout.split()
    assert (enabled, young, cli) == ("True", str(YOUNG_COLLECTION_THRESHOLD), "False")  # no command line loaded
    assert int(frozen) > 10_000


def test_paused_only_within_the_block_and_a_stopped_collector_stays_stopped() -> None:
    was, thresholds = gc.isenabled(), gc.get_threshold()
    try:
        gc.enable()
        with collector_paused():
            assert not gc.isenabled()
        assert gc.isenabled()
        gc.disable()
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.unfreeze()  # what this process froze goes back to the oldest generation
        gc.set_threshold(*thresholds)
        (gc.enable if was else gc.disable)()


def test_an_error_in_the_block_still_lets_the_collector_run_again() -> None:
    was, thresholds = gc.isenabled(), gc.get_threshold()
    gc.enable()
    try:
        try:
            with collector_paused():
                raise ImportError("a plugin failed to import")
        except ImportError:
            pass
        assert gc.isenabled()
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        (gc.enable if was else gc.disable)()
