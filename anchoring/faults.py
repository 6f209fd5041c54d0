"""Test-only crash points: `fault("name")` kills the process with SIGKILL when CREDANCHOR_FAULT names it.

The fault-injection tests use this to stop `credanchor issue` at every state transition and check that a
re-run finishes the batch. With the variable unset (always, outside those tests) it does nothing.
"""

import os
import signal

ENV = "CREDANCHOR_FAULT"


def fault(point: str) -> None:
    wanted = os.environ.get(ENV)
    if wanted and wanted == point:
        os.kill(os.getpid(), signal.SIGKILL)
