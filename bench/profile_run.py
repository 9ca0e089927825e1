"""CPU profile of every thread of one command run in this interpreter: ``profile_run.py OUT script [args...]``.

``cProfile`` alone sees the main thread only, while the pull's HTTP, TLS and JSON decoding run in the pager's
threads; here each thread gets its own profiler on its CPU clock (``time.thread_time``, so waiting is not a
hotspot) and all are merged into ``OUT`` (``pstats`` format). Used by ``bench/run.py --profile-dagrun``.
"""

from __future__ import annotations

import cProfile
import pstats
import runpy
import sys
import threading
import time


def main() -> None:
    out, script, *args = sys.argv[1:]
    profiles: list[cProfile.Profile] = []
    original_run = threading.Thread.run

    def profiled_run(self: threading.Thread) -> None:
        profile = cProfile.Profile(time.thread_time)
        profiles.append(profile)
        profile.enable()
        try:
            original_run(self)
        finally:
            profile.disable()

    threading.Thread.run = profiled_run  # type: ignore[method-assign]
    main_profile = cProfile.Profile(time.thread_time)
    profiles.append(main_profile)
    sys.argv = [script, *args]
    main_profile.enable()
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit:
        pass
    finally:
        main_profile.disable()
        stats = pstats.Stats(profiles[0])
        for profile in profiles[1:]:
            try:
                stats.add(profile)
            except TypeError:  # a thread that never ran
                continue
        stats.dump_stats(out)


if __name__ == "__main__":
    main()
