"""A retired pipeline (its file was deleted) on the dashboard: a RETIRED badge on the overview and its
page, which says so and how to bring it back, keeps its history and offers no action."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..server.support import webhook_server
from .conftest import Site
from .test_pages import gated


async def test_a_retired_pipeline_is_badged_keeps_its_history_and_offers_no_action(
        make_site: Callable[..., Any]) -> None:
    with webhook_server() as hook:
        site: Site = await make_site(auth=False, pipelines=[gated("sales", hook.url), gated("orders", hook.url)])
        assert (await site.engine.start_run("sales")).run is not None
        sales = await site.engine.get_pipeline("sales")
        await site.engine.store.put_pipeline(sales.model_copy(update={"retired_at": site.clock.now()}))

        overview = (await site.client.get("/")).text
        page = (await site.client.get("/pipelines/sales")).text
        other = (await site.client.get("/pipelines/orders")).text

    rows = {name: row for name, row in re.findall(r'<tr data-pipeline="([^"]+)"(.*?)</tr>', overview, re.S)}
    assert ">retired<" in rows["sales"] and ">retired<" not in rows["orders"]
    assert 'id="retired"' in page and "its pipeline file was deleted" in page and "Restore the file" in page
    assert "/pipelines/sales/evaluate" not in page and "/pipelines/sales/run" not in page
    assert "/pipelines/orders/run" in other  # a live pipeline keeps its buttons
    assert "sales-" in page  # its run is still listed
