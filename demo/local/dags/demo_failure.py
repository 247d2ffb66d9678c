"""demo_failure: a DAG run that fails after a few seconds (triggered by the airflow-failure pipeline)."""

from __future__ import annotations

import time
from datetime import datetime

from airflow.sdk import dag, task


@dag(dag_id="demo_failure", schedule=None, start_date=datetime(2025, 1, 1), catchup=False,
     tags=["interlock-demo"], is_paused_upon_creation=False, default_args={"retries": 0})
def demo_failure() -> None:
    @task
    def broken_step() -> None:
        time.sleep(5)
        raise RuntimeError("demo failure: the source table is corrupt")

    broken_step()


demo_failure()
