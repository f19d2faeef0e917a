PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench lint clean screenshots guide agents

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

# the ready-made agents (README, "Ready-made agents"): each game pack's own recipe, seed 0,
# one thread (bit-reproducible), slimmed into package data; about 5-7 minutes per pack
AGENT_PACKS := arena chasers mixed platformer speedway
AGENTS_DIR := mamlgame/assets/agents

agents: setup
	@for p in $(AGENT_PACKS); do \
		echo "== $$p: mamlgame train $$p --seed 0 --threads 1"; \
		$(BIN)/mamlgame train $$p --seed 0 --threads 1 --out runs/agents/$$p --overwrite \
			--quiet && \
		$(BIN)/python -m mamlgame.agents export runs/agents/$$p/checkpoint.pt \
			$(AGENTS_DIR)/$$p.pt || exit 1; \
	done
