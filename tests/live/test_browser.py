"""The landing page and the penguins app in headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import sync_playwright

from workbench.services import public_services

CHROMIUM = "/usr/bin/chromium"
# Playwright adds --headless; the rest keep Chromium from phoning home during the tests.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A fresh Chromium profile; every request that leaves loopback is refused and recorded."""
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        context.off_loopback = []

        def only_loopback(route):
            if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
                route.continue_()
            else:
                context.off_loopback.append(route.request.url)
                route.abort()

        context.route("**/*", only_loopback)
        yield context
        context.close()
        assert not context.off_loopback, f"pages reached beyond loopback: {context.off_loopback}"


def open_page(browser, url):
    page = browser.new_page()
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    response = page.goto(url, wait_until="networkidle")
    return page, response, problems


def test_landing_page_has_every_service_link_and_no_console_errors(workbench, browser):
    page, response, problems = open_page(browser, workbench.url("/"))
    assert response.status == 200
    links = page.locator("ul.services a").evaluate_all(
        "els => els.map(e => e.getAttribute('href'))"
    )
    assert links == [s.location for s in public_services(workbench.wb.config)]
    for href in links:
        answer = browser.request.get(workbench.url(href), max_redirects=0)
        assert answer.status in (200, 302), f"{href}: {answer.status}"
    assert problems == []
    page.close()


def test_penguins_app_predicts_in_the_browser(workbench, browser):
    """Page through NGINX, inputs over the websocket, the API's answer back on the page."""
    page, response, problems = open_page(browser, workbench.url("/penguins/"))
    assert response.status == 200
    page.select_option("#species", "Gentoo")
    page.click("#predict")
    prediction = page.locator("#pred")
    prediction.filter(has_text=re.compile(r"^\d+$")).wait_for(timeout=20_000)
    assert 4000 < int(prediction.inner_text()) < 6500
    assert problems == []
    page.close()
