"""What every integration test script shares: run only inside the sandbox.

Outside it a script skips (exit 77, which meson counts as skipped), unless
MX_REQUIRE_SANDBOX=1 (scripts/test and CI set it), when a missing sandbox
is a failure: a suite that silently tests nothing must not pass.
"""
import os
import sys
import unittest


def main(*required):
    """Runs the calling module's unittest cases if the variables are set."""
    if not all(os.environ.get(name) for name in required):
        if os.environ.get("MX_REQUIRE_SANDBOX") == "1":
            print("not in the sandbox (missing %s): run via tests/sandbox/sandbox run"
                  % ", ".join(n for n in required if not os.environ.get(n)), file=sys.stderr)
            return 1
        print("SKIP: not in the sandbox (tests/sandbox/sandbox run ...)")
        return 77
    result = unittest.main(module="__main__", argv=[sys.argv[0], "-v"], exit=False).result
    return 0 if result.wasSuccessful() else 1
