# syntax=docker/dockerfile:1
# The opply API image: gunicorn serving opply.wsgi as a non-root user.
#   docker build -t opply .                                     production (runtime dependencies)
#   docker build --build-arg REQUIREMENTS=requirements-dev.txt  also able to run the test suite
# docker-compose.yml builds the second kind, so `docker compose run web python manage.py test`
# works; Kubernetes runs the first.

FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH

# Dependencies in their own layer: rebuilt only when a requirements file changes.
FROM base AS deps
ARG REQUIREMENTS=requirements.txt
WORKDIR /build
RUN python -m venv /opt/venv
COPY requirements*.txt ./
RUN pip install --no-cache-dir --requirement "${REQUIREMENTS}"

FROM base AS runtime
RUN groupadd --system --gid 10001 opply \
    && useradd --system --uid 10001 --gid opply --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin opply
WORKDIR /app
COPY --from=deps /opt/venv /opt/venv
COPY . .
# Admin and API docs assets, served by whitenoise. The key exists only for this command:
# settings refuse to load without one, and it is not kept in the image.
RUN SECRET_KEY=collectstatic-at-build-time-only python manage.py collectstatic --noinput --verbosity 0
# The code and static files stay owned by root: the server cannot rewrite itself.
USER 10001:10001
ENV HOST=0.0.0.0 \
    PORT=8000
EXPOSE 8000
# slim has no curl; Python asks /healthz (exempt from the HTTPS redirect) and exits non-zero
# on any error.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]
# gunicorn stops gracefully on SIGTERM (docker stop, Kubernetes); see gunicorn.conf.py.
CMD ["gunicorn", "--config", "gunicorn.conf.py", "opply.wsgi"]
