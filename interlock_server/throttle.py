"""Wrong keys are throttled per client address, on the API and on the dashboard's sign-in form alike.

After ``FAILURES`` wrong keys within ``WINDOW`` seconds a client address is answered 429 with
``Retry-After`` — even when it presents the right key, so a lucky guess inside the window is not
confirmed — until the window has passed. The API and the sign-in form share one budget per
address. Behind a proxy the address is the proxy's own (all clients share one budget). At most
``MAX_TRACKED_CLIENTS`` addresses are remembered (the stalest are forgotten first).
"""

from __future__ import annotations

import time
from collections.abc import Callable

FAILURES = 5
WINDOW = 60
MAX_TRACKED_CLIENTS = 10_000


class KeyThrottle:
    def __init__(self, now: Callable[[], float] = time.time, *, failures: int = FAILURES,
                 window: float = WINDOW) -> None:
        self._now = now
        self.failures = failures
        self.window = window
        self._failed: dict[str, list[float]] = {}  # client address -> times of wrong keys

    def retry_after(self, client: str) -> int | None:
        """Seconds until ``client`` may try a key again (None: now)."""
        if client not in self._failed:  # no wrong key remembered: nothing to forget either
            return None
        now = self._now()
        recent = [t for t in self._failed.get(client, []) if t > now - self.window]
        if recent:
            self._failed[client] = recent[-self.failures:]
        else:
            self._failed.pop(client, None)
        if len(recent) < self.failures:
            return None
        return max(1, int(recent[-self.failures] + self.window - now) + 1)

    def failed(self, client: str) -> None:
        if client not in self._failed and len(self._failed) >= MAX_TRACKED_CLIENTS:
            now = self._now()
            for known in [c for c, times in self._failed.items() if times[-1] <= now - self.window]:
                del self._failed[known]
            if len(self._failed) >= MAX_TRACKED_CLIENTS:  # still full: forget the oldest entry
                del self._failed[next(iter(self._failed))]
        self._failed.setdefault(client, []).append(self._now())

    def succeeded(self, client: str) -> None:
        self._failed.pop(client, None)
