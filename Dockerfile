# The service image (used by docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY schemas schemas
COPY services services
COPY consumers consumers
COPY producers producers
COPY devstack devstack
RUN pip install --no-cache-dir -c constraints.txt .
USER nobody
ENTRYPOINT ["batch-service"]
CMD ["run"]
