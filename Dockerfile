# RNN Lab dashboard. Build: docker build -t rnnlab .   Run: docker run -p 8501:8501 rnnlab
# It listens on every interface, so it starts as a shared server (README: Serving a class);
# docker run -e RNNLAB_MODE=local ... for one person.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RNNLAB_STORE=/data/runs.sqlite RNNLAB_CACHE=/data/cache \
    RNNLAB_MODE=shared

RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*

# Streamlit cannot serve an app from / (streamlit#5239)
WORKDIR /app

# torch from the CPU index first: the PyPI wheel pulls several GB of CUDA libraries
COPY requirements.txt .
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && pip install --no-cache-dir -r requirements.txt

COPY .streamlit ./.streamlit
COPY app ./app
COPY engine ./engine
COPY data ./data

RUN useradd --create-home rnnlab && mkdir -p /data && chown rnnlab /data
USER rnnlab
VOLUME /data

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD curl --fail --silent http://localhost:8501/_stcore/health || exit 1

ENTRYPOINT ["python", "-m", "streamlit", "run", "app/main.py", "--server.port=8501", "--server.address=0.0.0.0"]
