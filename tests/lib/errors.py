# SPDX-License-Identifier: MIT
"""The failure kinds as the tests know them, read from the one table in
helper/engine/errors.h (and reptyrctl's own exit codes from client/exit-code.h),
so that no test re-declares a number or a bus name.

    from errors import EXIT, BUS, ERR
    EXIT["HAS_CHILDREN"]  -> 67
    BUS["BUSY"]           -> "org.reptyr.Reptyr1.Error.Busy"
"""
import os
import re

_TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_ROW = re.compile(r'REPTYR_ERROR\((\w+),\s*"(\w+)",\s*"([\w.]+)",\s*(\d+),')
_CLIENT = re.compile(r'^\s*EXIT_(\w+)\s*=\s*(\d+),', re.M)


def _read(path):
    with open(os.path.join(_TOP, path)) as f:
        return f.read()


NAME, BUS, EXIT = {}, {}, {}
for _kind, _name, _bus, _code in _ROW.findall(_read("helper/engine/errors.h")):
    NAME[_kind], BUS[_kind], EXIT[_kind] = _name, _bus, int(_code)
for _kind, _code in _CLIENT.findall(_read("client/exit-code.h")):
    EXIT.setdefault(_kind, int(_code))
if not EXIT or "FAILED" not in EXIT:
    raise ImportError("errors.py: no table found in helper/engine/errors.h")

ERR = "org.reptyr.Reptyr1.Error."
ACCESS_DENIED = BUS["PERMISSION"]
INTERACTIVE = "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"
LIMITS = "org.freedesktop.DBus.Error.LimitsExceeded"
