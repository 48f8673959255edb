"""The report pages fit a phone: at 390 px wide nothing reaches past the screen's edge (the top bar's menu scrolls
within itself), so the page never scrolls sideways; on the rep's list, the "My SLA" card fits (the list's own table
is the rep page's). Laid out by a headless Chromium; skipped where there is none."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from django.contrib.staticfiles import finders

CHROMIUM = next((path for name in ("chromium", "chromium-browser", "google-chrome") if (path := shutil.which(name))),
                None)
pytestmark = [pytest.mark.django_db, pytest.mark.skipif(CHROMIUM is None, reason="needs a headless Chromium")]

# Run in the page, in a 390 px frame: its scroll width, its width, and what sticks out (outside the top bar).
MEASURE = """<script>(function () {
  var width = document.documentElement.clientWidth, out = [];
  document.querySelectorAll("SCOPE").forEach(function (e) {
    if (e.getBoundingClientRect().right > width + 1 && !e.closest(".topbar")) {
      out.push(e.tagName.toLowerCase() + "." + (e.getAttribute("class") || ""));
    }
  });
  parent.document.body.setAttribute("data-measured", document.documentElement.scrollWidth + " " + width + " "
    + out.slice(0, 5).join(","));
})();</script>"""


def measure(html: str, tmp_path, scope: str) -> tuple[int, int, str]:
    stylesheet = finders.find("handoff/app.css")
    page = tmp_path / "page.html"
    script = MEASURE.replace("SCOPE", scope)
    page.write_text(html.replace("/static/handoff/app.css", f"file://{stylesheet}").replace("</body>", script
                                                                                            + "</body>"))
    frame = tmp_path / "frame.html"
    frame.write_text(f'<html><body><iframe src="{page.as_uri()}" width="390" height="844"></iframe></body></html>')
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
         "--window-size=800,900", "--virtual-time-budget=5000", "--dump-dom", frame.as_uri()],
        capture_output=True, text=True, timeout=60,
    ).stdout
    found = re.search(r'data-measured="(\d+) (\d+) ?([^"]*)"', dom)
    assert found, "the page was not laid out"
    return int(found[1]), int(found[2]), found[3]


@pytest.mark.parametrize(
    ("who", "path"),
    [("manager", "/reports/?group_by=week"), ("marketer", "/reports/"), ("manager", "/reports/relationship/")],
)
def test_at_390_px_the_page_does_not_scroll_sideways(week, browser, tmp_path, who, path):
    response = browser(who).get(path)
    assert response.status_code == 200
    scroll_width, width, sticking_out = measure(response.content.decode(), tmp_path, "body *")

    assert scroll_width <= width and sticking_out == "", (scroll_width, width, sticking_out)


def test_at_390_px_the_my_sla_card_fits(week, browser, tmp_path):
    response = browser("rep").get("/my-handoffs/")
    _, width, sticking_out = measure(response.content.decode(), tmp_path, ".my-sla, .my-sla *")

    assert sticking_out == "", (width, sticking_out)
