"""Which injected fault (if any) a data request gets."""

from __future__ import annotations

import random
import threading
from collections import Counter

from graph_emulator.config import Fault


class FaultPlan:
    """Picks faults by request number (each fires once) or at random (seeded); counts what was served."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self.served: Counter[str] = Counter()
        self.rearm()

    def rearm(self) -> None:
        """Forget which numbered faults fired and restart the random sequence (on reset or new faults)."""
        with self._lock:
            self._fired: set[int] = set()
            self._rng = random.Random(f"faults:{self._seed}")

    def pick(self, faults: list[Fault], number: int) -> Fault | None:
        """The fault for the ``number``-th data request, recorded as served."""
        with self._lock:
            for position, fault in enumerate(faults):
                if fault.on_request is not None:
                    hit = fault.on_request == number and position not in self._fired
                    if hit:
                        self._fired.add(position)
                else:
                    draw = self._rng.random()
                    if fault.rate is None:  # Fault refuses this; comparing with None raised TypeError here before
                        raise TypeError(f"fault {fault.kind!r} has neither on_request nor rate")
                    hit = draw < fault.rate
                if hit:
                    self.served[fault.kind] += 1
                    return fault
            return None
