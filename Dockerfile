# The embodiq code location for a Dagster deployment on Kubernetes (the official Helm chart, with
# deploy/helm/values.yaml). Untested here: see docs/orchestration.md, "Kubernetes".
#
#   docker build -t registry.example.org/embodiq:0.1.0 .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    EMBODIQ_STORE=/data/store

WORKDIR /opt/embodiq
COPY pyproject.toml README.md ./
COPY schemas/ schemas/
COPY robots/ robots/
COPY checks/ checks/
COPY pipelines/ pipelines/
# the package, and the Kubernetes run launcher of the same Dagster release
RUN pip install --no-cache-dir . "dagster-k8s>=0.27,<0.30" \
    && mkdir -p "$DAGSTER_HOME" /data/store

# The chart starts the code server with its own arguments (dagsterApiGrpcArgs); this is the
# same command, for running the image on its own.
EXPOSE 3030
CMD ["dagster", "api", "grpc", "--host", "0.0.0.0", "--port", "3030", \
     "--module-name", "pipelines.definitions"]
