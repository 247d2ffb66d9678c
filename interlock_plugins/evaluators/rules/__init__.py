"""``builtin:rule``: rules over the latest pushed value of a trait (this pipeline's or another's).

* :mod:`.paths` — the JSON path a rule reads (``$.rows``, ``$.checks[0].status``);
* :mod:`.model` — the config, validated when the project loads;
* :mod:`.judge` — the operators and ``all``/``any``, pure logic;
* :mod:`.evaluator` — the builtin evaluator, reading through the runner's read-only store.
"""

from __future__ import annotations

from .evaluator import RuleEvaluator
from .model import RuleConfig

__all__ = ["RuleConfig", "RuleEvaluator"]
