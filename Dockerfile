FROM python:3.11-slim
# Logs reach `docker compose logs` at once instead of sitting in a buffer.
ENV PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
# Every package of pyproject's [tool.setuptools.packages.find] include list.
COPY core core
COPY devices devices
COPY recall recall
COPY routing routing
COPY api api
COPY migrations migrations
RUN pip install --no-cache-dir .
EXPOSE 8000
# Standalone (`docker run`): migrate, then serve. docker-compose.yml overrides the command
# per service and runs the migrations once in its own `migrate` service.
CMD ["sh", "-c", "fieldrecall db upgrade && fieldrecall serve --host 0.0.0.0 --port 8000"]
