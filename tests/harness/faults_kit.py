"""Hostile editors for the fault tests, and the ``rses`` CLI with them registered (run this file as a script).

``fault-hostile`` acts by sample id: ``*sysexit*`` raises ``SystemExit(3)``, ``*genexit*`` ``GeneratorExit``,
``*base*`` a bare ``BaseException`` subclass, ``*badstr*`` an exception whose ``__str__`` raises, ``*swallow*``
sleeps ``$FAULT_SLEEP`` s catching every exception (a Ctrl-C or SIGTERM included), ``*hang*`` never returns;
any other sample comes back shifted by one grey level (after ``$FAULT_SLEEP`` s, to be killable).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from rses.editing import EDITORS, Editor

KIT = Path(__file__)


class OddBaseException(BaseException):
    """Not an Exception, not a KeyboardInterrupt."""


class UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no message for you")


class HostileEditor(Editor):
    name = "fault-hostile"

    def edit(self, requests):
        outputs = []
        for request in requests:
            sid = request.sample_id
            if "sysexit" in sid:
                raise SystemExit(3)
            if "genexit" in sid:
                raise GeneratorExit()
            if "base" in sid:
                raise OddBaseException(f"odd failure on {sid}")
            if "badstr" in sid:
                raise UnprintableError()
            if "hang" in sid:
                threading.Event().wait()
            if "swallow" in sid:
                try:
                    time.sleep(float(os.environ.get("FAULT_SLEEP", "0")))
                except BaseException:  # noqa: BLE001  (the point: an editor that swallows a stop request)
                    pass
            elif os.environ.get("FAULT_SLEEP"):
                time.sleep(float(os.environ["FAULT_SLEEP"]))
            outputs.append(np.clip(request.image.astype(int) + 1, 0, 255).astype(np.uint8))
        return outputs


if HostileEditor.name not in EDITORS:
    EDITORS.register(HostileEditor.name, HostileEditor)


def rses_faults(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``rses`` with the hostile editors (and the harness fakes) in a subprocess."""
    return subprocess.Popen(
        [sys.executable, str(KIT), *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


if __name__ == "__main__":
    import harness_fakes  # noqa: F401  (registers fake-shift and the other harness fakes)

    from rses.cli import main

    main()
