"""`make run` is not a debug run: its secret key is generated once into a file under var/ (SECRET_KEY_FILE) and kept;
a key file that cannot be read stops the start, naming the variable."""
from __future__ import annotations

import secrets

from tests.test_production_settings import _run

BASE = "config.settings.base"
SHOW = """
    import django
    from django.conf import settings

    django.setup()
    print(settings.SECRET_KEY, settings.DEBUG)
"""


def test_the_secret_key_is_read_from_the_file_without_debug(tmp_path):
    key = secrets.token_urlsafe(64)
    (tmp_path / "secret_key").write_text(key + "\n")

    ran = _run(SHOW, tmp_path, module=BASE, SECRET_KEY="", DEBUG="0", SECRET_KEY_FILE=str(tmp_path / "secret_key"))

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == [key, "False"]


def test_a_key_file_that_cannot_be_read_stops_the_start_naming_it(tmp_path):
    ran = _run(SHOW, tmp_path, module=BASE, SECRET_KEY="", DEBUG="0", SECRET_KEY_FILE=str(tmp_path / "missing"))

    assert ran.returncode != 0 and "SECRET_KEY_FILE" in ran.stderr and "cannot be read" in ran.stderr


def test_no_key_and_no_debug_still_refuses_to_start(tmp_path):
    ran = _run(SHOW, tmp_path, module=BASE, SECRET_KEY="", DEBUG="0")

    assert ran.returncode != 0 and "Set SECRET_KEY" in ran.stderr
