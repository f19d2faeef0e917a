PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench lint clean screenshots guide

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev,tensorboard,video,sb3]"
	touch $(STAMP)

demo: setup
	$(BIN)/mamlgame train navigation --iterations 150 --out runs/demo --overwrite
	$(BIN)/mamlgame eval runs/demo/checkpoint.pt --tasks 40 --steps 0,1 --baselines \
		--json runs/demo/eval.json --plot runs/demo/eval.png
	@echo "Files: runs/demo/metrics.jsonl (training curve), runs/demo/checkpoint.pt,"
	@echo "       runs/demo/eval.json (before/after report), runs/demo/eval.png (chart)"

test: setup
	SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy $(BIN)/python -m pytest -x

bench: setup
	$(BIN)/mamlgame bench --json BENCHMARKS.json

lint: setup
	$(BIN)/ruff check mamlgame tests benchmarks

clean:
	rm -rf $(VENV) runs

screenshots: setup
	SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy $(BIN)/python docs/make_screenshots.py

guide: setup
	SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy $(BIN)/python docs/make_guide.py
