"""Every Redis key and channel name of the ``redis`` store, in one place.

``P`` is the configured key prefix (default ``interlock:``). Keys that one atomic operation touches
together share a cluster slot through a ``{<pipelineId>}`` hash tag; keys looked up by an id alone
(runs, reruns, leases) are only ever touched one at a time by a script.

=====================================  =======  =============================================
key                                    type     contents
=====================================  =======  =============================================
``P identity``                         string   the store identity (set once, never expires)
``P pipelines``                        hash     pipeline name -> config JSON
``P {<pipeline>}:trait:<type>``        string   trait evaluation JSON, PEXPIRE = trait TTL
``P {<pipeline>}:traits``              set      trait types written (members may have expired)
``P {<pipeline>}:readiness``           string   readiness result JSON, PEXPIRE = readiness TTL
``P run:<runId>``                      string   run JSON, retention (+24 h while not terminal)
``P {<pipeline>}:runs``                zset     runId scored by createdAt (ms)
``P {<pipeline>}:runlog:<date>:<sch>`` string   run log entry JSON, retention rule as runs
``P {<pipeline>}:runlogs``             zset     ``<date>:<schedule>`` scored by startedAt (ms)
``P rerun:<rerunId>``                  string   rerun JSON, retention rule as runs
``P {<pipeline>}:reruns``              zset     rerunId scored by requestedAt (ms)
``P reruns``                           zset     rerunId scored by requestedAt, all pipelines
``P {<pipeline>}:events``              stream   fields ``kind``, ``data`` (event JSON)
``P {<pipeline>}:cascade:<date>:<sch>`` hash    source pipeline -> cascade marker JSON
``P {<pipeline>}:shadow:<date>:<sch>`` string   shadow record JSON (dry run), retention
``P {<pipeline>}:shadows``             zset     ``<date>:<schedule>`` scored by the date's ordinal
``P lease:<key>``                      string   owner token, PEXPIRE = lease TTL
``P {alerts}:alert:<id>``              string   alert outbox record JSON (retention once final)
``P {alerts}:all``                     zset     every record id (score 0: ordered by id)
``P {alerts}:status:<status>``         zset     record ids in that status (score 0)
``P {alerts}:pending:<sink>``          zset     pending record ids of a sink (score 0)
``P wake``                             channel  wake-up JSON (pub/sub, not a key)
=====================================  =======  =============================================

The alert outbox shares one hash tag; a record is written by one script together with the event
that raised it (another pipeline's slot) and its "alert once" lease, which assumes one primary
(what this store connects to), not a Redis Cluster.

Variable parts are escaped (``%``, ``{``, ``}`` and ``:`` percent-encoded), so no id can forge
another record's key or hash tag, and ``<date>:<schedule>`` members split unambiguously.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "interlock:"
WAKE_CHANNEL = "wake"

_ESCAPES = str.maketrans({"%": "%25", "{": "%7B", "}": "%7D", ":": "%3A"})


def escape(part: str) -> str:
    """One variable key component, safe to embed between separators and inside a hash tag."""
    return part.translate(_ESCAPES)


def unescape(part: str) -> str:
    return part.replace("%3A", ":").replace("%7D", "}").replace("%7B", "{").replace("%25", "%")


def cycle_member(date: str, schedule_id: str) -> str:
    """The run-log index member of one cycle."""
    return f"{escape(date)}:{escape(schedule_id)}"


def split_cycle_member(member: str) -> tuple[str, str]:
    date, _, schedule_id = member.rpartition(":")
    return unescape(date), unescape(schedule_id)


@dataclass(frozen=True)
class RedisKeys:
    """Builds the key names under one prefix."""

    prefix: str = DEFAULT_PREFIX

    def _pipeline(self, pipeline_id: str) -> str:
        return f"{self.prefix}{{{escape(pipeline_id)}}}"

    @property
    def identity(self) -> str:
        return f"{self.prefix}identity"

    # pipelines ---------------------------------------------------------------------------
    @property
    def pipelines(self) -> str:
        return f"{self.prefix}pipelines"

    # traits and readiness ----------------------------------------------------------------
    def trait(self, pipeline_id: str, trait_type: str) -> str:
        return f"{self._pipeline(pipeline_id)}:trait:{escape(trait_type)}"

    def traits(self, pipeline_id: str) -> str:
        return f"{self._pipeline(pipeline_id)}:traits"

    def readiness(self, pipeline_id: str) -> str:
        return f"{self._pipeline(pipeline_id)}:readiness"

    # runs ----------------------------------------------------------------------------------
    def run(self, run_id: str) -> str:
        return f"{self.prefix}run:{escape(run_id)}"

    def runs(self, pipeline_id: str) -> str:
        return f"{self._pipeline(pipeline_id)}:runs"

    # run logs ------------------------------------------------------------------------------
    def run_log(self, pipeline_id: str, date: str, schedule_id: str) -> str:
        return f"{self._pipeline(pipeline_id)}:runlog:{cycle_member(date, schedule_id)}"

    def run_logs(self, pipeline_id: str) -> str:
        return f"{self._pipeline(pipeline_id)}:runlogs"

    # reruns --------------------------------------------------------------------------------
    def rerun(self, rerun_id: str) -> str:
        return f"{self.prefix}rerun:{escape(rerun_id)}"

    def reruns(self, pipeline_id: str) -> str:
        return f"{self._pipeline(pipeline_id)}:reruns"

    @property
    def all_reruns(self) -> str:
        return f"{self.prefix}reruns"

    # events and cascade markers ------------------------------------------------------------
    def events(self, pipeline_id: str) -> str:
        return f"{self._pipeline(pipeline_id)}:events"

    def cascade(self, pipeline_id: str, date: str, schedule_id: str) -> str:
        return f"{self._pipeline(pipeline_id)}:cascade:{cycle_member(date, schedule_id)}"

    # shadow records (dry run) ------------------------------------------------------------
    def shadow(self, pipeline_id: str, date: str, schedule_id: str) -> str:
        return f"{self._pipeline(pipeline_id)}:shadow:{cycle_member(date, schedule_id)}"

    def shadows(self, pipeline_id: str) -> str:
        return f"{self._pipeline(pipeline_id)}:shadows"

    # alert outbox --------------------------------------------------------------------------
    def alert(self, alert_id: str) -> str:
        return f"{self.prefix}{{alerts}}:alert:{escape(alert_id)}"

    @property
    def all_alerts(self) -> str:
        return f"{self.prefix}{{alerts}}:all"

    def alerts_in(self, status: str) -> str:
        return f"{self.prefix}{{alerts}}:status:{escape(status)}"

    def pending_alerts(self, sink: str) -> str:
        return f"{self.prefix}{{alerts}}:pending:{escape(sink)}"

    # leases and notifications --------------------------------------------------------------
    def lease(self, key: str) -> str:
        return f"{self.prefix}lease:{escape(key)}"

    @property
    def wake_channel(self) -> str:
        return f"{self.prefix}{WAKE_CHANNEL}"

    def match_all(self) -> str:
        """A SCAN pattern matching every key under the prefix (glob characters escaped)."""
        special = "\\*?[]"
        return "".join("\\" + c if c in special else c for c in self.prefix) + "*"
