"""One pipeline whose state cannot be computed never takes the overview down for everyone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from interlock_server.dashboard import gather

from ..server.support import Webhook, webhook_server
from .conftest import Site
from .serving import FULL_KEY
from .test_pages import gated


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook_server() as server:
        yield server


async def test_a_pipeline_that_cannot_be_computed_shows_its_problem_in_its_row(
        make_site: Callable[..., Any], hook: Webhook, monkeypatch: pytest.MonkeyPatch) -> None:
    site: Site = await make_site(pipelines=[gated("sales", hook.url), gated("broken", hook.url)])
    real = gather.deadlines

    def deadlines(pipeline: Any, *args: Any) -> Any:
        if pipeline.name == "broken":  # as date arithmetic on out-of-range data would
            raise OverflowError("date value out of range")
        return real(pipeline, *args)

    monkeypatch.setattr(gather, "deadlines", deadlines)
    headers = {"X-API-Key": FULL_KEY}
    page = await site.client.get("/", headers=headers)
    assert page.status_code == 200
    assert "sales" in page.text and "broken" in page.text
    assert "cannot compute this pipeline&#39;s state: OverflowError" in page.text
    detail = await site.client.get("/pipelines/broken", headers=headers)
    assert detail.status_code == 200 and "OverflowError" in detail.text
    assert (await site.client.get("/pipelines/sales", headers=headers)).status_code == 200
