"""Wait, without holding a worker slot, until a window's data has settled in Graph."""

from __future__ import annotations

from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import Context, timezone


class SettledDataSensor(DateTimeSensorAsync):
    """Defer until ``target_time`` (templated); a moment already past succeeds at once, without a trigger.

    Microsoft's call-log reports lag 24 to 48 hours, so a day is pulled only after
    ``data_interval_end + settle hours``; backfilled days are long settled and pass straight through.
    """

    def execute(self, context: Context) -> None:  # type: ignore[override]  # returns when already settled
        if timezone.utcnow() >= self._moment:
            self.log.info("Data settled at %s; not waiting", self._moment.isoformat())
            return
        self.log.info("Waiting until %s for Graph's data to settle", self._moment.isoformat())
        super().execute(context)
