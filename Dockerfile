# ragloop app image (CPU). For GPU serving use the official vLLM image for the LLM (see docker-compose.yml).
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1 RAGLOOP_DATA_DIR=/data
RUN apt-get update && apt-get install -y --no-install-recommends build-essential && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt pyproject.toml ./
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt \
    && pip uninstall -y torchvision torchaudio torchcodec || true
COPY . .
RUN pip install --no-deps -e .
VOLUME /data
EXPOSE 8501
HEALTHCHECK CMD python -c "import httpx; httpx.get('http://127.0.0.1:8501/_stcore/health').raise_for_status()"
# Serving the network needs sign-in: mount an OIDC secrets file at /app/.streamlit/secrets.toml (README
# "Sign-in and roles"); without one the app refuses to start rather than open the review queue to anyone.
CMD ["ragloop", "ui", "--address", "0.0.0.0", "--port", "8501"]
