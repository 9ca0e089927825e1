"""What happened to a direct-routing call, from its SIP codes: the outcomes the Network Effectiveness Ratio counts.

The Teams admin center's Health Dashboard for Direct Routing defines NER as ``100 × (answered + user busy + ring no
answer + terminal reject seizures) / total calls``: the share of calls the network delivered, whatever the called
party did with them (ITU-T E.425). Microsoft publishes no mapping from ``directRoutingLogRow``'s ``finalSipCode``,
``callEndSubReason`` and ``successfulCall`` to those outcomes; this one table is the project's, from RFC 3261's
meaning of each final response and the Health Dashboard's notes (rejected calls and calls sent to voicemail count as
delivered; a 504 from the SBC lowers NER), and the README mirrors it. The first rule a call matches decides:

- **answered**: ``successfulCall`` true, or ``finalSipCode`` 0 (BYE after an answer: how Graph reports an
  established call) or 200. The call was established.
- **completed_elsewhere**: 487 with ``callEndSubReason`` 540200, a forked call answered on another leg ("Call
  completed elsewhere"): delivered, not a network failure.
- **user_busy**: 486 Busy Here, 600 Busy Everywhere.
- **ring_no_answer**: 480 Temporarily Unavailable, 408 Request Timeout, 487 Request Terminated (the caller hung up
  while it rang): it rang, nobody answered in time.
- **terminal_reject**: 403 Forbidden, 404 Not Found, 410 Gone, 484 Address Incomplete, 603 Decline, 604 Does Not
  Exist Anywhere: the called side refused, or the number does not exist; the network did its part.
- **unknown**: no ``finalSipCode`` and not successful: nothing to judge by, left out of NER (``ner_calls`` counts
  every other call).
- **network_failure**: any other code (other 4xx, every 5xx such as 500, 502, 503, 504): not delivered.

Classification is columnar (numpy over a day's codes): no per-call Python.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

OUTCOMES = (
    "answered",
    "completed_elsewhere",
    "user_busy",
    "ring_no_answer",
    "terminal_reject",
    "unknown",
    "network_failure",
)
DELIVERED = frozenset({"answered", "completed_elsewhere", "user_busy", "ring_no_answer", "terminal_reject"})
ANSWERED_CODES = (0, 200)
FORKED = (487, 540200)  # finalSipCode, callEndSubReason: "Call completed elsewhere"
CODES = {
    "user_busy": (486, 600),
    "ring_no_answer": (480, 408, 487),
    "terminal_reject": (403, 404, 410, 484, 603, 604),
}


Column: TypeAlias = pa.Array | pa.ChunkedArray


def _numpy(values: Column) -> np.ndarray:
    return np.asarray(values.to_numpy(zero_copy_only=False))


def classify(successful: Column, code: Column, sub_reason: Column) -> np.ndarray:
    """Each call's outcome as an index into ``OUTCOMES`` (numpy int8), by the first rule it matches."""
    ok = _numpy(pc.fill_null(successful, False)).astype(bool)
    known = ~_numpy(pc.is_null(code)).astype(bool)
    sip = _numpy(pc.fill_null(code, -1))
    sub = _numpy(pc.fill_null(sub_reason, -1))
    outcome = np.full(len(sip), OUTCOMES.index("network_failure"), dtype=np.int8)
    rules = [  # the table's rules from the bottom up: a later one overrides, so the table's first rule wins
        (~known, "unknown"),
        (np.isin(sip, CODES["terminal_reject"]), "terminal_reject"),
        (np.isin(sip, CODES["ring_no_answer"]), "ring_no_answer"),
        (np.isin(sip, CODES["user_busy"]), "user_busy"),
        ((sip == FORKED[0]) & (sub == FORKED[1]), "completed_elsewhere"),
        (ok | np.isin(sip, ANSWERED_CODES), "answered"),  # a null successfulCall is not a success
    ]
    for mask, name in rules:
        outcome[mask] = OUTCOMES.index(name)
    return outcome


def delivered(outcome: np.ndarray) -> np.ndarray:
    """Whether each call counts as delivered in NER."""
    return np.isin(outcome, [OUTCOMES.index(name) for name in DELIVERED])


def judged(outcome: np.ndarray) -> np.ndarray:
    """Whether each call counts in NER's denominator (every outcome but unknown)."""
    return outcome != OUTCOMES.index("unknown")
