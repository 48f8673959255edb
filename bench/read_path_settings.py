"""Settings of the read-path benchmark's server: the app's base settings, with the benchmark's URLconf in front.

Bench only (`bench/read_path_bench.py` starts gunicorn with it); never imported by the app.
"""

from config.settings.base import *  # noqa: F403

ROOT_URLCONF = "read_path_urls"
# The benchmark measures the app, not a console logger per request.
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
