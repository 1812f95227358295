#!/usr/bin/env python3
"""A real browser through a SAML login: headless Chromium driven by Selenium.

  browser.py --start URL --user WHO --expect-text TEXT
             [--javascript on|off] [--click-continue] [--timeout S]

Opens URL (an SP's login link), answers trustid's who-are-you form with WHO,
then waits until the page's text contains TEXT (the SP's page). Meanwhile
the user approves on the device, typing the number trustid's wait page
shows; the wait page moves on by itself (its script, or its meta refresh
without JavaScript) to the form that posts the Response to the SP. That
form submits itself by script; with --click-continue its "Continue to ..."
button is clicked once it appears.

Prints JSON lines on stdout: {"number": N} as soon as the wait page shows
the number to type, then the report {"ok", "reason", "url", "text",
"clicked", "pages", "console"}: the final URL and page text, whether the
button was clicked, every document request (method and URL, redirects
included) and Chromium's console messages. Exits 1 when TEXT did not
appear within S seconds.

Uses /usr/bin/chromium and /usr/bin/chromedriver (Debian's chromium and
chromium-driver); Selenium Manager is never asked to download anything.
"""
import argparse
import json
import signal
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def browser(javascript):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    # Root in a container: no sandbox; a small /dev/shm.
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def documents(driver):
    """Every document request: method and URL, each redirect hop included."""
    pages = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent" and params.get("type") == "Document":
            pages.append({"method": params["request"]["method"], "url": params["request"]["url"]})
    return pages


def run(driver, args):
    """Drives the login; returns (ok, reason, clicked)."""
    driver.get(args.start)
    named = clicked = False
    number = None
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        try:
            if args.expect_text in driver.find_element(By.TAG_NAME, "body").text:
                return True, None, clicked
            shown = driver.find_elements(By.ID, "saml-number")
            if shown and shown[0].text != number:
                number = shown[0].text
                print(json.dumps({"number": number}), flush=True)
            who = driver.find_elements(By.NAME, "who")
            button = driver.find_elements(By.CSS_SELECTOR, "form#saml-post button[type=submit]")
            if who and not named:
                who[0].send_keys(args.user)
                driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
                named = True
            elif button and args.click_continue and not clicked:
                button[0].click()
                clicked = True
        except WebDriverException:
            pass  # the page changed while we looked at it
        time.sleep(0.2)
    return False, "%r did not appear within %ss" % (args.expect_text, args.timeout), clicked


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--start", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--expect-text", required=True)
    p.add_argument("--javascript", choices=["on", "off"], default="on")
    p.add_argument("--click-continue", action="store_true")
    p.add_argument("--timeout", type=float, default=60)
    args = p.parse_args()
    # A SIGTERM from the test still quits Chromium (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("browser.py: terminated"))
    driver = browser(args.javascript == "on")
    try:
        ok, reason, clicked = run(driver, args)
        try:
            text = driver.find_element(By.TAG_NAME, "body").text
        except WebDriverException as e:
            text = "(no page text: %s)" % e.msg
        result = {
            "ok": ok,
            "reason": reason,
            "url": driver.current_url,
            "text": text,
            "clicked": clicked,
            "pages": documents(driver),
            "console": [e["message"] for e in driver.get_log("browser")],
        }
    finally:
        driver.quit()
    print(json.dumps(result), flush=True)
    if not ok:
        sys.exit("browser.py: " + reason)


if __name__ == "__main__":
    main()
