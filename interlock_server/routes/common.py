"""Documentation pieces several route modules share."""

from __future__ import annotations

from ..schemas import ErrorBody
from ._route import Param, Reply

NOT_FOUND = Reply("Unknown pipeline (or run, rerun, trait, run log).", ErrorBody)
RETIRED = Reply("The pipeline is retired: its pipeline file was deleted (`retired: true`, `retiredAt`). It is "
                "never evaluated or triggered again until the file is restored; its history stays readable.",
                ErrorBody)

PATH_PARAMS = {
    "id": Param("id", "Pipeline name.", {"type": "string"}, required=True),
    "runId": Param("runId", "Run id.", {"type": "string"}, required=True),
    "rerunId": Param("rerunId", "Rerun id.", {"type": "string"}, required=True),
    "type": Param("type", "Trait type.", {"type": "string"}, required=True),
    "date": Param("date", "The cycle: its date (YYYY-MM-DD) or, for a sub-daily cron schedule, its fire time "
                  "(YYYY-MM-DDTHH:MM).", {"type": "string"}, required=True),
    "alertId": Param("alertId", "Alert outbox record id.", {"type": "string"}, required=True),
}
