"""Wake-ups between replicas on one Redis (the optional :class:`~interlock_core.ports.WakeUpStore`):
pub/sub, in ``redis_notify``."""

from __future__ import annotations

from interlock_core.ports import Notifier

from .base import RedisStoreBase


class RedisWakeUps(RedisStoreBase):
    """The notifier over this store's Redis."""

    def wake_up_notifier(self) -> Notifier:
        """Pub/sub on ``<keyPrefix>wake`` of this store's Redis (its own connection)."""
        from ..redis_notify import RedisNotifier

        return RedisNotifier(self.config)
