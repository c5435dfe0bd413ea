# One image for every service; docker-compose picks the command per service.
FROM python:3.11.10-slim-bookworm
WORKDIR /app
COPY pyproject.toml README.md ./
COPY contracts ./contracts
COPY services ./services
COPY deploy ./deploy
# Editable, so code finds its data files under /app/deploy as it does in a checkout.
RUN pip install --no-cache-dir -e .
ENV PYTHONUNBUFFERED=1
USER nobody
