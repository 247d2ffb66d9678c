"""``builtin:upstream-cycles``' config is validated with the project: a bad ``last`` or ``maxLag``
is reported at its file, line and key."""

from __future__ import annotations

PIPELINE = """\
name: report
archetype: batch-ingestion
traits:
  upstream-dependency:
    evaluator: builtin:upstream-cycles
    config:
      upstreamPipeline: raw-sales
      last: {last}
      maxLag: {lag}
trigger: {{type: command, command: echo}}
"""


def test_a_good_config_loads(project) -> None:  # type: ignore[no-untyped-def]
    project.pipeline("report", PIPELINE.format(last=7, lag="1d"))
    loaded = project.load()
    assert loaded.pipelines["report"].upstream_pipelines() == {"raw-sales"}  # a cascade edge


def test_bad_settings_are_reported_at_their_lines(project) -> None:  # type: ignore[no-untyped-def]
    project.pipeline("report", PIPELINE.format(last=0, lag="soon"))
    where = [(e.file, e.line, e.key) for e in project.errors()]
    assert where == [("pipelines/report.yaml", 8, "traits.upstream-dependency.config.last"),
                     ("pipelines/report.yaml", 9, "traits.upstream-dependency.config.maxLag")]
