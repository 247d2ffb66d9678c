"""The ``inbox`` trigger type: a launch writes a job request (a JSON file) into an inbox folder,
where a file-watching job runner picks it up. An operator pauses launches by creating a file
named ``HOLD`` in the inbox: a launch then fails PERMANENT, naming the hold.

    trigger:
      type: inbox
      folder: inbox            # relative to the project directory
      job: load-orders         # what the runner should run (variables like ${date} are expanded)
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import BaseModel, Field, field_validator

from interlock_core.plugin_api import (
    ConfigModel,
    FailureCategory,
    LaunchRequest,
    LaunchResult,
    TriggerBase,
    TriggerError,
)

from .paths import folder_problem, project_folder

HOLD = "HOLD"


class InboxConfig(ConfigModel):
    folder: str = Field(min_length=1)
    job: str = Field(min_length=1)

    @field_validator("folder")
    @classmethod
    def _inside_the_project(cls, value: str) -> str:
        problem = folder_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class InboxTrigger(TriggerBase):
    name: ClassVar[str] = "inbox"
    config_model: ClassVar[type[BaseModel]] = InboxConfig
    pollable: ClassVar[bool] = False
    api_registrable: ClassVar[bool] = True
    """Safe over the API: it only writes inside the project directory."""

    async def launch(self, config: Any, request: LaunchRequest) -> LaunchResult:
        cfg = config if isinstance(config, InboxConfig) else InboxConfig.model_validate(config)
        inbox = project_folder(self.context.project_dir, cfg.folder)
        if (inbox / HOLD).exists():
            raise TriggerError(f"inbox {cfg.folder} is on hold (remove {cfg.folder}/{HOLD} to resume)",
                               category=FailureCategory.PERMANENT)
        job = cfg.job
        for key, value in request.variables.items():
            job = job.replace("${" + key + "}", value)
        # The run key names the file, so a relaunch after a crash rewrites the same request.
        target = inbox / (request.run_key.replace(":", "_") + ".json")
        target.write_text(json.dumps({"job": job, "runId": request.run_id, "runKey": request.run_key,
                                      "pipelineId": request.pipeline_id, "date": request.date,
                                      "attempt": request.attempt}, indent=2) + "\n")
        return LaunchResult(state="succeeded", metadata={"request": target.name},
                            message=f"request {target.name} dropped into {cfg.folder}")
