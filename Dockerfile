# syncd in a container: `syncd run` as a non-root user, the mirror in /data, the config in
# /config/syncd/config.toml. No secrets are baked in: pass the key when the container starts.
#
#   docker build -t syncd .
#   docker run -d --name syncd --stop-timeout 45 \
#     -e SYNCD_API_KEY -v syncd-data:/data -v "$PWD/config:/config:ro" syncd
#   docker exec syncd syncd status          # one-off commands run in the same container
#   docker run --rm -v syncd-data:/data syncd sync --once
# A key in a file works too: -v "$PWD/key:/run/secrets/specstory:ro"
#   -e SYNCD_API_KEY_FILE=/run/secrets/specstory (or a Compose/Swarm secret at that path).
# A bind mount for /data must be writable by uid 10001, or run with --user "$(id -u)".

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
# Only what `pip install .` reads, so edits to tests or docs do not invalidate this layer.
COPY pyproject.toml README.md LICENSE ./
COPY syncd ./syncd
COPY migrations ./migrations
# A virtualenv is one directory to copy into the final image, without pip's build leftovers.
RUN python -m venv /opt/syncd \
    && /opt/syncd/bin/pip install --no-cache-dir .

FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="syncd" \
      org.opencontainers.image.description="Mirror SpecStory Cloud sessions to a Markdown folder tree" \
      org.opencontainers.image.licenses="MIT"

# A fixed uid (not 1000, which collides with the first user on most hosts) so volume
# ownership is predictable; /data and /config/syncd belong to it before they become volumes.
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/syncd \
        --shell /usr/sbin/nologin syncd \
    && mkdir -p /data /config/syncd \
    && chown syncd:syncd /data /config /config/syncd

COPY --from=build /opt/syncd /opt/syncd

# SYNCD_ROOT is the mirror; syncd reads $XDG_CONFIG_HOME/syncd/config.toml (optional).
# Log lines go straight to `docker logs` (PYTHONUNBUFFERED); SYNCD_LOG_FORMAT=json if wanted.
ENV PATH="/opt/syncd/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    SYNCD_ROOT=/data \
    XDG_CONFIG_HOME=/config

VOLUME ["/data", "/config"]
USER 10001:10001

# syncd exits within 10 s of SIGTERM, or when a request in flight ends (timeout_seconds,
# 30 s by default); `docker stop` waits 10 s by default: use --stop-timeout 45 (Compose:
# stop_grace_period: 45s).
STOPSIGNAL SIGTERM
# Unhealthy when the last successful sync is too old. The start period covers the first
# full sync of a large account, during which no sync has completed yet.
HEALTHCHECK --interval=2m --timeout=30s --start-period=15m --retries=3 \
    CMD ["syncd", "status", "--check"]

ENTRYPOINT ["syncd"]
CMD ["run"]
