#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A test that cannot run in this build: says so and exits 77 (SKIP).

    test('NAME', python3, args : [skip_py, 'REASON'], suite : ...)

tests/meson.build defines skip_py. REASON is printed as "SKIP: REASON", so
that the test log tells why (a missing library, a build without that
program), never a silent pass.
"""

import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import testlib  # noqa: E402 (found next to this script)

if len(sys.argv) < 2 or not " ".join(sys.argv[1:]).strip():
    print("FAIL: skip.py needs a reason", flush=True)
    sys.exit(testlib.FAIL)
testlib.skip_exit(" ".join(sys.argv[1:]))
