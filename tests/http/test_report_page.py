"""The report page in a real headless chromium (Debian's, through Playwright): sign in, apply
a filter, compare the numbers with `bounced report --format json`, sort, download the CSV,
drill down to example bounces, and keep a screenshot (docs/report-page.png)."""

from __future__ import annotations

import json
import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from tests.harness import RunningDaemon
from tests.http.conftest import READ
from tests.http.seed import seed_bounces
from tests.http.test_cli_api_same import cli

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "report-page.png"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]  # fmt: skip

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason="chromium not installed (apt-get install chromium)"
    ),
]


async def test_report_page_in_chromium(api: RunningDaemon, tmp_path: Path) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    soft = await seed_bounces(api)
    config = tmp_path / "cli.toml"
    config.write_text(f'[storage]\npath = "{api.config.storage.path}"\n')
    today = api.daemon.clock.now().date()
    start, end = (today - timedelta(days=2)).isoformat(), (today + timedelta(days=1)).isoformat()
    base = f"http://127.0.0.1:{api.daemon.http_port}"

    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(accept_downloads=True, viewport={"width": 1280, "height": 720})
            await page.goto(f"{base}/report")
            await page.fill("#token", "not-the-token-0123456789")  # the sign-in form: no data without a token
            await page.click("#signin button")
            await page.wait_for_selector("#refused")
            assert await page.query_selector("#report") is None
            await page.fill("#token", READ)
            await page.click("#signin button")
            await page.wait_for_selector("#report")

            # Apply a filter: the period, group by from-domain.
            await page.fill("input[name=from]", start)
            await page.fill("input[name=to]", end)
            await page.select_option("select[name=group_by]", "from-domain")
            await page.click("#apply")
            await page.wait_for_url(f"**from={start}**")
            total = int(await page.inner_text("#total"))
            _, out = await cli(config, "report", "--from", start, "--to", end, "--format", "json")
            expected = json.loads(out)
            assert total == expected["total"] == sum(soft.values())
            rows = await page.eval_on_selector_all(
                "#report tbody tr", "rs => rs.map(r => [...r.cells].slice(0, 6).map(c => c.textContent))"
            )
            keys = ("group", "recipient_domain", "bounce_text", "reason", "reason_code", "amount")
            assert rows == [[str(r[k]) for k in keys] for r in expected["rows"]]

            # Sort by amount, ascending, then descending.
            await page.click("th[data-key=amount]")
            amounts = [
                int(a)
                for a in await page.eval_on_selector_all(
                    "#report tbody tr", "rs => rs.map(r => r.cells[5].textContent)"
                )
            ]
            assert amounts == sorted(amounts)
            await page.click("th[data-key=amount]")
            amounts = [
                int(a)
                for a in await page.eval_on_selector_all(
                    "#report tbody tr", "rs => rs.map(r => r.cells[5].textContent)"
                )
            ]
            assert amounts == sorted(amounts, reverse=True)

            # A filter that narrows: group by IP gives the same total in other rows.
            await page.select_option("select[name=group_by]", "ip")
            await page.click("#apply")
            await page.wait_for_url("**group_by=ip**")
            assert int(await page.inner_text("#total")) == total
            await page.select_option("select[name=group_by]", "from-domain")
            await page.click("#apply")
            await page.wait_for_url("**group_by=from-domain**")

            # One mailing: all of the seeded bounces name spring-2026; another mailing has none.
            for mailing, want in (("spring-2026", total), ("autumn-2026", 0)):
                await page.fill("input[name=mailing]", mailing)
                await page.click("#apply")
                await page.wait_for_url(f"**mailing={mailing}**")
                _, out = await cli(
                    config, "report", "--from", start, "--to", end, "--mailing", mailing, "--format", "json"
                )
                assert int(await page.inner_text("#total")) == json.loads(out)["total"] == want
            await page.fill("input[name=mailing]", "")
            await page.click("#apply")
            await page.wait_for_url(lambda url: "mailing=spring" not in url and "mailing=autumn" not in url)

            # The CSV download is the CLI's CSV.
            async with page.expect_download() as info:
                await page.click("#csv")
            download = await info.value
            saved = tmp_path / download.suggested_filename
            await download.save_as(saved)
            _, csv_out = await cli(config, "report", "--from", start, "--to", end, "--format", "csv")
            assert saved.read_bytes() == csv_out and saved.suffix == ".csv"

            SCREENSHOT.parent.mkdir(exist_ok=True)
            await page.screenshot(path=str(SCREENSHOT), full_page=True)
            assert SCREENSHOT.stat().st_size > 10_000

            # Drill down: the first row's examples carry the diagnostic and the raw message.
            first = expected["rows"][0]
            await page.click("#report tbody tr:first-child a.examples")
            await page.wait_for_selector("#examples li")
            items = await page.query_selector_all("#examples li.example")
            assert len(items) == first["amount"]
            diagnostics = await page.eval_on_selector_all(
                "pre.diagnostic", "ps => ps.map(p => p.textContent)"
            )
            assert all(first["bounce_text"].split()[0] in d for d in diagnostics)
            raw = await page.eval_on_selector_all("details pre", "ps => ps.map(p => p.textContent)")
            assert raw and all("Content-Type: message/delivery-status" in r for r in raw)
        finally:
            await browser.close()
