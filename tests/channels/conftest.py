"""Channel tests start several Sanic apps in one process; Sanic 21.12 allows that only in test mode.

Sanic's "touch-up" rewrites ``Sanic`` methods in place when an app starts; without ``test_mode`` the
second app in a process fails (``KeyError: 'handle_exception'``), whichever test package started the
first one. ``sanic-testing`` sets the same flag on import; it is set here at collection time, before any
test runs, so the order of test packages does not matter. (A root ``tests/conftest.py`` would be the
natural home if other packages start Sanic apps too.)
"""

from sanic import Sanic

Sanic.test_mode = True
