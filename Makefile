# Two commands on a fresh machine: `make demo` (run the default workflow) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 2
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint format clean

venv: $(STAMP)

$(STAMP): pyproject.toml envs/transfer-atlas.post-deploy.sh
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	PATH=$(CURDIR)/$(BIN):$$PATH bash envs/transfer-atlas.post-deploy.sh -q
	touch $(STAMP)

# A run killed earlier leaves Snakemake's lock: remove it when no Snakemake (or job of one) runs here.
demo: venv
	HF_HUB_OFFLINE=1 $(BIN)/python -m transfer_atlas.stale_lock -- $(BIN)/snakemake --unlock --configfile config/config.yaml
	HF_HUB_OFFLINE=1 $(BIN)/snakemake --cores $(CORES) --configfile config/config.yaml
	HF_HUB_OFFLINE=1 $(BIN)/snakemake --cores 1 --configfile config/config.yaml --report results/report.html
	@echo
	@echo "Results are in results/: matrix/<model>/{matrix,delta}.csv, delta_heatmap.png, scores/, predictions/"
	@echo "Analyses: results/analysis/; key numbers: results/report/summary.md; open results/report.html"

test: venv
	HF_HUB_OFFLINE=1 PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/pytest -q

lint: venv
	$(BIN)/ruff check src tests workflow/scripts perf .ci
	$(BIN)/ruff format --check src tests workflow/scripts perf .ci
	$(BIN)/snakefmt --check Snakefile workflow/rules
	for c in config/config.yaml tests/configs/*.yaml; do \
	  HF_HUB_OFFLINE=1 $(BIN)/snakemake --lint --configfile $$c && \
	  HF_HUB_OFFLINE=1 $(BIN)/snakemake -n --quiet all --configfile $$c || exit 1; \
	done
	$(BIN)/python .ci/conda_env.py --check
	$(BIN)/python .ci/config_readme.py --check

format: venv
	$(BIN)/ruff format src tests workflow/scripts perf .ci
	$(BIN)/snakefmt Snakefile workflow/rules

clean:
	rm -rf results logs .snakemake
