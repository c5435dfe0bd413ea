# One image for every service; docker-compose.yml picks the command per service
# (python -m services.post_office | services.agency | services.tracker serve | services.turnaround, and the
# init job's dossier-kafka create-topics + python -m services.shared.db.migrate upgrade).
FROM python:3.11.10-slim-bookworm
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
# The dependencies first, from the runtime lock (hashes checked, wheels only: the versions the suite ran
# with, on x86_64 and aarch64 alike); this layer is rebuilt only when the lock changes.
COPY requirements/runtime.lock.txt ./requirements/
RUN pip install --require-hashes --only-binary :all: -r requirements/runtime.lock.txt
COPY pyproject.toml README.md alembic.ini ./
COPY contracts ./contracts
COPY services ./services
COPY deploy ./deploy
# Editable, so code finds its data files under /app/deploy as it does in a checkout. Without dependencies
# (they are all locked above) and built by the locked setuptools, so nothing unlocked is downloaded.
RUN pip install --no-deps --no-build-isolation -e .
# No shell needed to run; nothing is written inside the image at run time.
USER nobody
# Post office, agency, tracker, turnaround (each service's own *_PORT setting; see deploy/README.md).
EXPOSE 8001 8002 8003 8004
CMD ["python", "-c", "print('choose a service: python -m services.post_office | services.agency | services.tracker serve | services.turnaround')"]
