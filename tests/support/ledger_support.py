"""Helpers shared by the ledger tests of SQLite and PostgreSQL."""

from __future__ import annotations

import gc


def rows_alive(ident: str) -> int:
    """Lists the GC sees holding a row or an item whose call id is ``ident`` (tuples
    of plain values are untracked, so look for the containers around them)."""
    gc.collect()
    found = 0
    for obj in gc.get_objects():
        if type(obj) is list:
            for x in obj:
                if type(x) is tuple and x and (x[0] == ident or (
                        type(x[0]) is tuple and x[0] and x[0][0] == ident)):
                    found += 1
    return found
