# The one image for web, worker and beat (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VAR_DIR=/app/var

WORKDIR /app
RUN groupadd --system handoff && useradd --system --gid handoff --home-dir /app --shell /usr/sbin/nologin handoff

# Requirements first: the dependency layer is reused until requirements.txt changes.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Static files are part of the image (WhiteNoise serves them); the key only satisfies the settings at build time.
RUN SECRET_KEY=collectstatic-at-build-only DEBUG=0 VAR_DIR=/tmp/build-var python manage.py collectstatic --noinput \
    && rm -rf /tmp/build-var \
    && mkdir -p /app/var \
    && chown -R handoff:handoff /app/var /app/staticfiles

USER handoff
EXPOSE 8000
CMD ["gunicorn", "-c", "config/gunicorn.py", "--bind", "0.0.0.0:8000", "config.wsgi"]
