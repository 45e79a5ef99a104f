# sla-probe container image: slim, non-root, read-only friendly.
#   docker build -t sla-probe:0.1.0 .
#   docker run --read-only -v $PWD/config.yml:/etc/sla-probe/config.yml:ro \
#     -v sla-probe-ledger:/var/lib/sla-probe -p 9464:9464 sla-probe:0.1.0
# The config must set `state_dir: /var/lib/sla-probe` and `listen: 0.0.0.0:9464`.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY probe ./probe
COPY checks ./checks
RUN python -m venv /opt/sla-probe \
 && /opt/sla-probe/bin/pip install . \
 && /opt/sla-probe/bin/python -m compileall -q /opt/sla-probe

FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="sla-probe" \
      org.opencontainers.image.description="An independent witness of vendors' availability SLAs" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/sla-probe/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=build /opt/sla-probe /opt/sla-probe
RUN install -d -o 65532 -g 65532 -m 0700 /var/lib/sla-probe \
 && install -d -m 0755 /etc/sla-probe
USER 65532:65532
WORKDIR /var/lib/sla-probe
VOLUME ["/var/lib/sla-probe"]
EXPOSE 9464
ENTRYPOINT ["sla-probe"]
CMD ["run", "-c", "/etc/sla-probe/config.yml"]
