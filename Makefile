# The two commands of the README:
#   make        set up the environment and run the whole workflow on the default (synthetic) data
#   make test   set up the environment and run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | cksum | cut -d' ' -f1)
CORES ?= 2

.PHONY: all run test lint rulegraph clean check-inputs

all: run

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $@

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src scripts tests benchmarks
	$(BIN)/ruff format --check src scripts tests benchmarks
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint --cores 1

# the picture of the rule graph in the README; tests/test_rulegraph.py fails when it is stale
rulegraph: $(STAMP)
	$(BIN)/snakemake --rulegraph --quiet all --cores 1 > docs/rulegraph.dot
	dot -Tsvg docs/rulegraph.dot > docs/rulegraph.svg

# the configured inputs against the contract of docs/data.md, one line per problem
check-inputs: $(STAMP)
	$(BIN)/snakemake --cores 1 check_inputs

# results and Snakemake's state go; of resources/ only the files the synthesize rule writes,
# and only when config.yaml says the inputs are synthetic: user data is never deleted
SYNTH_FILES := resources/raw/asif/asif_*.parquet resources/raw/customs/customs_*.parquet \
	resources/raw/customs/customs_*.csv \
	resources/raw/members/alibaba.parquet resources/raw/members/mic.parquet \
	$(foreach n,cities counties it_revenue internet_ports it_weights deflators,resources/raw/external/$(n).csv) \
	resources/truth
clean:
	rm -rf results .snakemake
	@if grep -Eq '^[[:space:]]+source:[[:space:]]*synthetic' config.yaml; then \
		rm -rf $(SYNTH_FILES); \
		find resources -type d -empty -delete 2>/dev/null || true; \
	else \
		echo "inputs.source is not synthetic: resources/ kept (user data)"; \
	fi
