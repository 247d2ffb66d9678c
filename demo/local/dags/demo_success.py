"""demo_success: a DAG run that succeeds after about ten seconds (triggered by the airflow-success pipeline)."""

from __future__ import annotations

import time
from datetime import datetime

from airflow.sdk import dag, task


@dag(dag_id="demo_success", schedule=None, start_date=datetime(2025, 1, 1), catchup=False,
     tags=["interlock-demo"], is_paused_upon_creation=False)
def demo_success() -> None:
    @task
    def extract(**context: object) -> int:
        conf = getattr(context.get("dag_run"), "conf", None) or {}
        print(f"conf from Interlock: {conf}")
        time.sleep(5)
        return 42

    @task
    def load(rows: int) -> None:
        time.sleep(5)
        print(f"loaded {rows} rows")

    load(extract())


demo_success()
