"""gunicorn settings (gunicorn -c config/gunicorn.py config.wsgi), each overridable from the environment."""
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Threads rather than processes: requests mostly wait on the database, and one process keeps memory small.
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 10
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Behind a TLS proxy or load balancer, list its address here so its X-Forwarded-* headers are trusted.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# The control socket (gunicorn ≥ 25.1) lives at one path per user: a second checkout or a container would clash.
control_socket_disable = True
