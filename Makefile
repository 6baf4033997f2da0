.PHONY: serve test check fmt

serve:  ## install and run the service (SQLite)
	bash scripts/serve.sh

test:  ## install test needs and run the whole suite (SQLite + PostgreSQL, browser tests)
	bash scripts/test.sh

check:  ## lint and types only
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy hashes app
	.venv/bin/mypy tx-extension-hashbank/tx_extension_hashbank

fmt:
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .
