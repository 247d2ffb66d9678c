"""The engine's evaluator runners, built the first time an evaluation asks for one: a command that
evaluates nothing (``status``, ``history``) neither imports the runners nor builds them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableSequence
from typing import Any, overload

from ..ports import EvaluatorRunner


class RunnerList(MutableSequence[EvaluatorRunner]):
    """A list of runners made by ``build`` on first use (highest ``priority`` first, as ``build``
    orders them); :meth:`close` closes only runners that were built."""

    def __init__(self, build: Callable[[], list[EvaluatorRunner]]) -> None:
        self._build: Callable[[], list[EvaluatorRunner]] | None = build
        self._runners: list[EvaluatorRunner] = []

    @property
    def built(self) -> bool:
        return self._build is None

    def _items(self) -> list[EvaluatorRunner]:
        if self._build is not None:
            build, self._build = self._build, None
            self._runners = build()
        return self._runners

    @overload
    def __getitem__(self, index: int) -> EvaluatorRunner: ...

    @overload
    def __getitem__(self, index: slice) -> list[EvaluatorRunner]: ...

    def __getitem__(self, index: int | slice) -> EvaluatorRunner | list[EvaluatorRunner]:
        return self._items()[index]

    @overload
    def __setitem__(self, index: int, value: EvaluatorRunner) -> None: ...

    @overload
    def __setitem__(self, index: slice, value: Any) -> None: ...

    def __setitem__(self, index: int | slice, value: Any) -> None:
        self._items()[index] = value

    def __delitem__(self, index: int | slice) -> None:
        del self._items()[index]

    def __len__(self) -> int:
        return len(self._items())

    def __iter__(self) -> Iterator[EvaluatorRunner]:
        return iter(self._items())

    def insert(self, index: int, value: EvaluatorRunner) -> None:
        self._items().insert(index, value)

    def __repr__(self) -> str:
        return f"RunnerList({self._runners!r})" if self.built else "RunnerList(<not built>)"

    async def close(self) -> None:
        """Close the runners that were built (those never built hold nothing)."""
        for runner in list(self._runners):
            close = getattr(runner, "close", None)
            if close is not None:
                await close()
