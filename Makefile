# voc: the two commands of the README.
#   make demo   set up .venv, prepare the offline base model, analyse the bundled sample,
#               find its complaint topics, then serve the explorer on it (Ctrl+C stops it)
#   make test   set up .venv and run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.voc-installed
OUT    := out

.PHONY: demo explore test test-slow install clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

PORT   ?= 8501

demo: $(STAMP)
	mkdir -p $(OUT)
	$(BIN)/voc models prepare
	$(BIN)/voc analyze data/sample/ --store $(OUT)/voc.duckdb -o $(OUT)/sample_analyzed.csv
	$(BIN)/voc topics fit --store $(OUT)/voc.duckdb
	@$(MAKE) --no-print-directory explore

explore: $(STAMP)
	@echo ""
	@echo "voc explorer on $(OUT)/voc.duckdb: open http://localhost:$(PORT) in a browser (Ctrl+C stops it)"
	@VOC_STORE=$(OUT)/voc.duckdb $(BIN)/streamlit run app.py --server.headless true --server.port $(PORT) \
		--browser.gatherUsageStats false

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

clean:
	rm -rf $(OUT) .pytest_cache
