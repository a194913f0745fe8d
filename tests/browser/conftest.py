"""Shared fixtures for the browser tests: headless Chromium driven by Selenium, and a background event loop
that serves the app under test while the (blocking) WebDriver calls run in the test's own thread.

Chromium and chromedriver come from Debian's packages (``scripts/ensure-browser``, run by ``make install``);
``CHROMIUM`` and ``CHROMEDRIVER`` point elsewhere. Without them the tests skip, except under ``CI=true``,
where a missing browser fails the run instead of hiding it.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import threading
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, AsyncContextManager, Awaitable, Callable, Iterator, List, TypeVar

import pytest
from sanic import Sanic

from tests.ci import skip_or_fail

Sanic.test_mode = True  # several Sanic apps per process (see tests/channels/conftest.py)

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
#: Flags that let Chromium run headless as root in a container without network access.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)
#: Seconds a test waits for the page to show something.
WAIT_S = 15.0

T = TypeVar("T")


def _missing_browser() -> str | None:
    for path, variable in ((CHROMIUM, "CHROMIUM"), (CHROMEDRIVER, "CHROMEDRIVER")):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            return (f"{path} not found: run scripts/ensure-browser "
                    f"(apt-get install chromium chromium-driver) or set {variable}")
    return None


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A fresh headless Chromium (own profile: no cookies or localStorage from another test)."""
    missing = _missing_browser()
    if missing:
        skip_or_fail(missing)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        skip_or_fail("selenium is not installed (it is in requirements-dev.txt; run make install)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


def wait_until(driver: Any, condition: Callable[[Any], T], message: str, timeout: float = WAIT_S) -> T:
    """Polls ``condition(driver)`` until it returns something truthy (which is returned)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1,
                         ignored_exceptions=(StaleElementReferenceException,)).until(condition, message)


def page_errors(driver: Any) -> List[str]:
    """Severe console messages (script errors, CSP violations, failed requests) since the last call."""
    return [entry["message"] for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]


class BackgroundLoop:
    """An asyncio loop in a daemon thread: servers entered here keep answering while the test blocks on
    WebDriver calls (the console's own tests run client and server in one loop, which a blocking browser
    driver would stall)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="browser-test-loop", daemon=True)
        self._thread.start()
        self._stack = AsyncExitStack()

    def run(self, coro: Awaitable[T], timeout: float = 60.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    @staticmethod
    async def _cancel_leftovers() -> None:
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def enter(self, context: AsyncContextManager[T]) -> T:
        """Enters an async context manager in the loop; it is exited by :meth:`close`."""
        return self.run(self._stack.enter_async_context(context))

    def close(self) -> None:
        try:
            self.run(self._stack.aclose())
        finally:
            self.run(self._cancel_leftovers())  # e.g. the browser's keep-alive connections
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()


@pytest.fixture
def background() -> Iterator[BackgroundLoop]:
    loop = BackgroundLoop()
    try:
        yield loop
    finally:
        loop.close()
