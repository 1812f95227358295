#!/usr/bin/env python3
"""The console in a real browser: headless Chromium driven by Selenium.

  browser.py --base URL --email E --password P --transaction ID --shots DIR
             --live TEXT

One operator's journey, a screenshot of each page in light and in dark
(prefers-color-scheme):
- signs in at URL/admin (sent to the sign-in form first) with the password,
  then waits on the phone page: prints {"ready": "phone", "number": N} (the
  number the phone must type) until the test's phone approved and the page
  moved on to the dashboard by itself;
- prints {"ready": "dashboard"} and waits until the dashboard's figures show
  one pending request without a reload;
- adds a client by the form (its secret shown once), finds user "alice";
- opens the transactions list and transaction ID;
- opens the pending requests, prints {"ready": "pending"}, waits until a
  request showing TEXT appears by itself (the event stream), prints
  {"ready": "approve", "transaction": id} and waits until the approved
  request leaves the page by itself, then opens its timeline;
- rotates a signing key, opens the audit log and exports it (CSV, fetched
  by the page's own link with the session);
- opens its phone page, and signs out.
Prints a JSON report {"ok", "reason", "steps": [{"name", "url", "title",
"text"}], "shots", "export", "console"}. The password arrives on standard
input when --password is "-". Exits 1 when a step fails.

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
    report = {"ok": False, "reason": "", "steps": [], "shots": [], "export": None, "console": []}
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

        def step(name):
            report["steps"].append({
                "name": name,
                "url": driver.current_url,
                "title": driver.title,
                "text": body_text(),
            })

        def wait_until(what, check, seconds=30):
            deadline = time.time() + seconds
            while not check():
                if time.time() > deadline:
                    raise TimeoutError("%s (at %s)" % (what, driver.current_url))
                time.sleep(0.2)

        def wait_title(prefix):
            wait_until("no page titled %r" % prefix, lambda: driver.title.startswith(prefix), 15)

        def shoot(name):
            for scheme in ("light", "dark"):
                driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
                    "features": [{"name": "prefers-color-scheme", "value": scheme}],
                })
                path = os.path.join(args.shots, "%s-%s.png" % (name, scheme))
                driver.save_screenshot(path)
                report["shots"].append(path)

        def ready(name, **more):
            print(json.dumps(dict(ready=name, **more)), flush=True)

        def script(js):
            try:
                return driver.execute_script(js)
            except WebDriverException:
                return None

        driver.get(args.base + "/admin")
        step("sign-in")
        shoot("sign-in")
        driver.find_element(By.ID, "email").send_keys(args.email)
        driver.find_element(By.ID, "password").send_keys(password)
        driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
        wait_title("Approve on your phone")
        step("phone-wait")
        shoot("sign-in-phone")
        ready("phone", number=driver.find_element(By.ID, "match-number").text)
        wait_title("Dashboard")
        step("dashboard")
        shoot("dashboard")
        # A request arrives meanwhile: the figures change without a reload
        # (a reload would forget the mark set on this window).
        driver.execute_script("window.trustidMark = 1;")
        ready("dashboard")
        pending_hour = "var c = document.getElementById('pending-hour'); return c && c.textContent;"
        wait_until("the dashboard did not show the new request", lambda: script(pending_hour) == "1")
        if driver.execute_script("return window.trustidMark;") != 1:
            raise AssertionError("the dashboard was reloaded")
        step("dashboard-live")

        driver.find_element(By.LINK_TEXT, "Clients").click()
        wait_title("Clients")
        driver.find_element(By.ID, "name").send_keys("Browser Bank")
        driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
        wait_until("no client secret shown", lambda: driver.find_elements(By.ID, "client-secret"), 15)
        step("client-added")
        shoot("clients")

        driver.find_element(By.LINK_TEXT, "Users").click()
        wait_title("Users")
        box = driver.find_element(By.NAME, "q")
        box.send_keys("alice")
        box.submit()
        driver.find_element(By.ID, "found").click()
        wait_title("User")
        step("user")
        shoot("user")

        driver.find_element(By.LINK_TEXT, "Transactions").click()
        wait_title("Transactions")
        step("transactions")
        shoot("transactions")
        driver.get(args.base + "/admin/transactions/" + args.transaction)
        step("transaction")
        shoot("transaction")

        driver.get(args.base + "/admin/pending")
        ready("pending")
        wait_until("the new request did not appear on the pending page", lambda: args.live in body_text())
        step("pending")
        shoot("pending")
        find_live = (
            "var rows = document.querySelectorAll('#pending tbody tr');"
            "for (var i = 0; i < rows.length; i++) {"
            "  if (rows[i].textContent.indexOf(arguments[0]) >= 0) {"
            "    return rows[i].querySelector('a').getAttribute('href'); } }"
            "return null;"
        )
        href = driver.execute_script(find_live, args.live)
        ready("approve", transaction=href.rsplit("/", 1)[-1])
        wait_until("the approved request did not leave the pending page", lambda: args.live not in body_text())
        step("pending-after")
        driver.get(args.base + href)
        step("timeline")
        driver.execute_script("document.getElementById('timeline').scrollIntoView();")
        shoot("timeline")

        driver.find_element(By.LINK_TEXT, "Keys").click()
        wait_title("Signing keys")
        driver.find_element(By.CSS_SELECTOR, "form[action='/admin/keys/rotate'] button").click()
        wait_title("Signing keys")
        step("keys")
        shoot("keys")

        driver.find_element(By.LINK_TEXT, "Audit log").click()
        wait_title("Audit log")
        step("audit")
        shoot("audit")
        report["export"] = driver.execute_async_script(
            "var done = arguments[arguments.length - 1];"
            "fetch(document.getElementById('export-csv').href, {credentials: 'same-origin'})"
            ".then(function (r) { return r.text().then(function (t) {"
            "  done({status: r.status, type: r.headers.get('content-type'), body: t}); }); })"
            ".catch(function (e) { done({error: String(e)}); });"
        )

        driver.find_element(By.LINK_TEXT, "Your phone").click()
        wait_title("Your phone")
        step("phone")
        shoot("phone")
        driver.find_element(By.CSS_SELECTOR, "nav form button[type=submit]").click()
        wait_title("Sign in")
        step("signed-out")
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
