"""Weight of each person's list pages on the demo data: bytes, HTML elements and forms per page (run by hand).

    VAR_DIR=/tmp/weight DEBUG=1 .venv/bin/python bench/page_weight.py [--seed]

`--seed` migrates and loads the demo (`seed_demo`) into VAR_DIR's SQLite first. Each page is fetched as its demo
login would see it, with Django's test client (no server), and parsed with the standard library's HTML parser.
"""
from __future__ import annotations

import argparse
import os
import sys
from html.parser import HTMLParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

PAGES = [
    ("raj", "/my-handoffs/"),
    ("raj", "/my-handoffs/?state=open"),
    ("raj", "/my-handoffs/?state=all"),
    ("raj", "/my-handoffs/?show=all"),
    ("grace", "/team/"),
    ("maya", "/qualify/"),
    ("maya", "/rejected/"),
]


class Counter(HTMLParser):
    def __init__(self):
        super().__init__()
        self.elements = self.forms = self.rows = 0

    def handle_starttag(self, tag, attrs):
        self.elements += 1
        self.forms += tag == "form"
        self.rows += tag == "tr"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", action="store_true", help="migrate and load the demo data first")
    args = parser.parse_args()
    if args.seed:
        call_command("migrate", verbosity=0)
        call_command("seed_demo", verbosity=0)
    users = get_user_model().objects
    print(f"{'page':34} {'as':6} {'status':>6} {'bytes':>8} {'elements':>9} {'forms':>6} {'rows':>5}")
    for login, path in PAGES:
        client = Client(HTTP_HOST="localhost")
        client.force_login(users.get(username=login))
        response = client.get(path)
        counter = Counter()
        counter.feed(response.content.decode())
        print(f"{path:34} {login:6} {response.status_code:>6} {len(response.content):>8} {counter.elements:>9} "
              f"{counter.forms:>6} {counter.rows - 1:>5}")


if __name__ == "__main__":
    main()
