"""Settings for running handoff (development and production alike): everything comes from the environment."""
from .base import *  # noqa: F401,F403
