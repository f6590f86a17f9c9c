"""The matrix's ``--curve`` run (tests/matrix/README.md): CURVE keys from the environment, as
the ``zss`` program reads them: ``ZSS_BROKER_KEY`` (the broker's public key) and ``ZSS_KEY``
(this program's secret key), each a key file. None when unset: plaintext."""

from __future__ import annotations

import os
from typing import Optional

import zss


def curve() -> Optional[zss.Curve]:
    broker_key = os.environ.get("ZSS_BROKER_KEY")
    return None if broker_key is None else zss.Curve(broker_key, os.environ["ZSS_KEY"])
