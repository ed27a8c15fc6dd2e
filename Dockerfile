FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY core core
COPY devices devices
COPY recall recall
COPY routing routing
COPY api api
COPY migrations migrations
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["sh", "-c", "fieldrecall db upgrade && fieldrecall serve --host 0.0.0.0 --port 8000"]
