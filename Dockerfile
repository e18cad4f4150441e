# The vault's image: the web app (gunicorn through `vault serve`) and the
# scheduler run from it with different commands; see docker-compose.yml.
FROM python:3.11-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends qpdf curl fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --system --create-home --home-dir /home/vault vault \
    && mkdir -p /var/lib/vault && chown vault /var/lib/vault
WORKDIR /app
COPY pyproject.toml README.md ./
COPY vault vault
COPY ingest ingest
COPY retention retention
COPY web web
RUN pip install --no-cache-dir .

USER vault
ENV VAULT_DATA_DIR=/var/lib/vault
EXPOSE 8000
CMD ["vault", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "4"]
