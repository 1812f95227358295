#!/usr/bin/env python3
"""The console in a real browser: headless Chromium driven by Selenium.

  browser.py --base URL --email E --password P --transaction ID --shots DIR
             --live TEXT

Signs in at URL/admin (redirected to the sign-in form first), opens the
dashboard, the transactions list and transaction ID, takes a screenshot of
each in light and in dark (prefers-color-scheme), waits on the
dashboard (after printing {"ready": "dashboard"}) until its figures show one
pending request without a reload, then opens the pending
requests, prints {"ready": "pending"} and waits until a request showing
TEXT appears there by itself (the page's event stream), and signs out. Prints a
JSON report {"ok", "reason", "steps": [{"url", "title", "text"}], "shots",
"console"}: each page's URL, title and text, the screenshot files and
Chromium's console messages. The password arrives on standard input when
--password is "-". Exits 1 when a step fails.

Uses /usr/bin/chromium and /usr/bin/chromedriver (Debian's chromium and
chromium-driver); Selenium Manager is never asked to download anything.
"""
import argparse
import json
import os
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--transaction", required=True)
    p.add_argument("--shots", required=True)
    p.add_argument("--live", required=True)
    args = p.parse_args()
    password = sys.stdin.readline().rstrip("\n") if args.password == "-" else args.password
    os.makedirs(args.shots, exist_ok=True)
    report = {"ok": False, "reason": "", "steps": [], "shots": [], "console": []}
    driver = browser()
    try:
        def body_text():
            """The page's text; a page reloading under us (the live parts) is read again."""
            for _ in range(50):
                try:
                    text = driver.execute_script("return document.body ? document.body.innerText : '';")
                    return text.replace("\t", " ")
                except WebDriverException:
                    time.sleep(0.1)
            return ""

        def step():
            report["steps"].append({
                "url": driver.current_url,
                "title": driver.title,
                "text": body_text(),
            })

        def wait_title(prefix):
            deadline = time.time() + 15
            while not driver.title.startswith(prefix):
                if time.time() > deadline:
                    raise TimeoutError("no page titled %r (at %s)" % (prefix, driver.current_url))
                time.sleep(0.1)

        def shoot(name):
            for scheme in ("light", "dark"):
                driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
                    "features": [{"name": "prefers-color-scheme", "value": scheme}],
                })
                path = os.path.join(args.shots, "%s-%s.png" % (name, scheme))
                driver.save_screenshot(path)
                report["shots"].append(path)

        driver.get(args.base + "/admin")
        step()
        shoot("sign-in")
        driver.find_element(By.ID, "email").send_keys(args.email)
        driver.find_element(By.ID, "password").send_keys(password)
        driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
        wait_title("Dashboard")
        step()
        shoot("dashboard")
        # A request arrives meanwhile: the figures change without a reload
        # (a reload would forget the mark set on this window).
        driver.execute_script("window.trustidMark = 1;")
        print(json.dumps({"ready": "dashboard"}), flush=True)
        deadline = time.time() + 30
        def pending_hour():
            try:
                return driver.execute_script(
                    "var c = document.getElementById('pending-hour'); return c && c.textContent;"
                )
            except WebDriverException:
                return None

        while pending_hour() != "1":
            if time.time() > deadline:
                raise TimeoutError("the dashboard did not show the new request")
            time.sleep(0.2)
        if driver.execute_script("return window.trustidMark;") != 1:
            raise AssertionError("the dashboard was reloaded")
        step()
        driver.find_element(By.LINK_TEXT, "Transactions").click()
        wait_title("Transactions")
        step()
        shoot("transactions")
        driver.get(args.base + "/admin/transactions/" + args.transaction)
        step()
        shoot("transaction")
        driver.get(args.base + "/admin/pending")
        print(json.dumps({"ready": "pending"}), flush=True)
        deadline = time.time() + 30
        while args.live not in body_text():
            if time.time() > deadline:
                raise TimeoutError("the new request did not appear on the pending page")
            time.sleep(0.2)
        step()
        shoot("pending")
        driver.find_element(By.CSS_SELECTOR, "nav form button[type=submit]").click()
        wait_title("Sign in")
        step()
        report["ok"] = True
    except Exception as e:  # any failure is the report's reason
        report["reason"] = "%s: %s" % (type(e).__name__, e)
    finally:
        try:
            report["console"] = [e["message"] for e in driver.get_log("browser")]
        except Exception:
            pass
        driver.quit()
    print(json.dumps(report))
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
