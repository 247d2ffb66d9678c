"""AWS mode: the Lambda handlers (thin adapters over the engine's lifecycle steps).

``stream_router`` (DynamoDB Stream → Step Functions), ``orchestrator``, ``evaluator``,
``trigger``, ``run_checker`` and ``watchdog`` (the scheduled watchdog sweep) each expose
``handler(event, context)``; ``init`` holds the
settings read from the environment and the one engine per container they share; ``dead_letters``
keeps the alerts they could not publish in the alert dead-letter queue.
"""

from ..collector import collector_paused

with collector_paused():  # what every handler imports, once per container (its init phase): see ..collector
    from . import init  # noqa: F401
