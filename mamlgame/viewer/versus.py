"""Human vs agent: a person controls one opponent (through the PettingZoo env) while the
agent, adapted live to the level, plays the player.

Keys: arrows/WASD move your opponent, Tab switches to the next opponent, A adapts the agent
again, space pauses, period steps one frame, +/- change the speed, R restarts, Esc quits.
"""

from __future__ import annotations

import numpy as np
import torch

from mamlgame.checkpoint import Agent
from mamlgame.envs import GameParallelEnv
from mamlgame.errors import MamlgameError
from mamlgame.families.game import SPEC as GAME
from mamlgame.families.game import Game
from mamlgame.families.game.scene import draw_game_state, game_caption, game_outcome, tile_rc
from mamlgame.policy import sample, with_task_inputs
from mamlgame.render.raster import disk
from mamlgame.viewer.adapt import LiveAdaptation
from mamlgame.viewer.app import ACCENT, BAD, DIM, GOOD, HUD_BG, App
from mamlgame.viewer.levels import LevelList
from mamlgame.viewer.play import KeyState

HUD_H = 78
END_HOLD_FRAMES = 30
MOVE_OF_KEY = {"up": 1, "down": 2, "left": 3, "right": 4}  # families.game.rules.MOVES


class VersusApp(App):
    """The adapted agent plays; you are `opponent_<j>` of the PettingZoo env."""

    title = "mamlgame versus"

    def __init__(self, agent: Agent, level: str | int | None = None, headless: bool = True,
                 speed: float | None = None, seed: int = 0, size: int = 480,
                 episodes: int | None = None, greedy: bool = False, split: str | None = None):
        if not isinstance(agent.family, Game):
            raise MamlgameError(f"--as opponent needs a game pack (this agent's pack "
                                f"{agent.pack.name} is {agent.family.name})")
        super().__init__(size, size + HUD_H, headless, speed or GAME.speed)
        self.agent, self.size, self.seed, self.greedy = agent, size, seed, greedy
        self.episodes = episodes
        self.keys = KeyState(self.pg)
        self.levels = LevelList(agent.pack, split)
        index = self._with_opponents(level)
        self.load(index)

    def _with_opponents(self, level: str | int | None) -> int:
        """The requested level (it must have an opponent), or the first one that has one."""
        if level is not None:
            index = self.levels.resolve(level)
            tasks, name = self.levels.get(index)
            if not bool(tasks["opp_mask"][0].any()):
                raise MamlgameError(f"level {name} has no opponent to control; pick a level "
                                    f"with an 'O' (e.g. from `mamlgame levels show "
                                    f"{self.agent.pack.name}`)")
            return index
        for index in range(min(len(self.levels), 500)):
            if bool(self.levels.get(index)[0]["opp_mask"][0].any()):
                return index
        raise MamlgameError(f"pack {self.agent.pack.name} has no level with an opponent")

    def load(self, index: int) -> None:
        self.index = index
        self.tasks, self.level_name = self.levels.get(index)
        self.env = GameParallelEnv(self.agent.pack, level=index, split=self.levels.split,
                                   horizon=self.agent.family.horizon)
        self.controlled = 0
        self.episode_seed = self.seed
        self.tally = {"goal": 0, "caught": 0, "other": 0}
        self.adaptation = LiveAdaptation(self.agent, self.tasks, self.episodes)
        self.params = with_task_inputs(self.agent.policy, self.tasks, self.agent.params)
        self.batch = 0
        self.adapt_again()
        self.restart(next_seed=False)

    def adapt_again(self) -> None:
        self.batch += 1
        self.adaptation.start(self.agent.params, 10_000 * (self.seed + 1) + self.batch)

    def restart(self, next_seed: bool = True) -> None:
        if next_seed:
            self.episode_seed += 1
        self.obs, _ = self.env.reset(seed=self.episode_seed)
        self.generator = torch.Generator().manual_seed(self.episode_seed)
        self.steps, self.ret, self.done, self._end_timer = 0, 0.0, False, 0
        self.trail = [self._player_tile()]
        self.keys.clear()

    def _player_tile(self) -> np.ndarray:
        """The player's (row, col) now, for the trail."""
        return np.array(tile_rc(self.tasks, int(self.env.game_state["pos"][0, 0])), float)

    @property
    def player_name(self) -> str:
        return self.env.possible_agents[0]  # the env lists the player first

    @property
    def opponent_name(self) -> str:
        return self.env.possible_agents[1 + self.controlled]

    def handle(self, event) -> None:
        super().handle(event)
        pg = self.pg
        if event.type == pg.KEYDOWN:
            k = event.key
            if k == pg.K_TAB:
                self.controlled = (self.controlled + 1) % max(len(self.env.possible_agents) - 1, 1)
            elif k == pg.K_SPACE:
                self.paused = not self.paused
            elif k == pg.K_PERIOD:
                self.paused = True
                self.step_once()
            elif k in (pg.K_PLUS, pg.K_EQUALS, pg.K_KP_PLUS):
                self.change_speed(1.5)
            elif k in (pg.K_MINUS, pg.K_KP_MINUS):
                self.change_speed(1 / 1.5)
            elif k == pg.K_r:
                self.restart()
            elif k == pg.K_a and not self.adaptation.running:
                self.adapt_again()
            else:
                self.keys.press(k)
        elif event.type == pg.KEYUP:
            self.keys.release(event.key)

    def update(self) -> None:
        if self.adaptation.running:
            if self.adaptation.advance():
                self.params = self.adaptation.result
                self.restart()
            return  # the match starts once the agent has adapted
        if self.done:
            self._end_timer += 1
            if self._end_timer >= END_HOLD_FRAMES and self.episode_over():
                self.restart()
            return
        super().update()

    def tick(self) -> None:
        if self.done:
            return
        obs = torch.as_tensor(self.obs[self.player_name]).reshape(1, 1, -1)
        action = int(sample(self.agent.policy, self.params, obs, self.generator,
                            self.greedy).reshape(-1)[0])
        keys = [k for k in self.keys.active() if k in MOVE_OF_KEY]
        actions = {self.player_name: action}
        if self.opponent_name in self.env.agents:
            actions[self.opponent_name] = MOVE_OF_KEY[keys[-1]] if keys else 0
        self.obs, rewards, terms, truncs, infos = self.env.step(actions)
        self.steps += 1
        self.ret += rewards[self.player_name]
        self.trail.append(self._player_tile())
        if terms[self.player_name] or truncs[self.player_name]:
            self.done = True
            outcome = infos[self.player_name]["outcome"]
            self.tally[outcome if outcome in self.tally else "other"] += 1

    def render(self, surface) -> None:
        surface.fill(HUD_BG)
        img = draw_game_state(self.tasks, self.env.game_state, self.trail, self.size)
        tile = img.shape[1] // int(self.tasks["dims"][0, 1])
        you = tile_rc(self.tasks, int(self.env.game_state["opp"][0, 0, self.controlled]))
        _ring(img, you, tile)
        self.blit_array(surface, img, (0, HUD_H, self.size, self.size))
        self.text(surface, f"{self.agent.pack.name}  ·  level {self.level_name} "
                  f"({self.levels.split} #{self.index})"
                  f"  ·  you: {self.opponent_name}, ringed", (8, 6), max_width=self.width - 16)
        self.text(surface, f"step {self.steps}/{self.env.game.horizon}   agent return "
                  f"{self.ret:+.2f}   agent goals {self.tally['goal']}   your catches "
                  f"{self.tally['caught']}   speed {self.speed:.0f}/s", (8, 30), DIM, 18,
                  max_width=self.width - 16)
        self.text(surface, game_caption(self.tasks), (8, 54), DIM, 18, max_width=self.width - 16)
        if self.adaptation.running:
            ad = self.adaptation
            self.text(surface, f"agent adapting: {ad.collected}/{ad.n_episodes} episodes",
                      (self.width // 2, HUD_H + self.size // 2 - 30), ACCENT, 28, "center")
            self.bar(surface, (self.width // 6, HUD_H + self.size // 2, 2 * self.width // 3, 18),
                     ad.progress)
        elif self.done:
            word = game_outcome(self.env.game_state) or "TIME UP"
            good = word == "CAUGHT!"
            self.text(surface, "YOU CAUGHT IT!" if good else f"AGENT: {word}",
                      (self.width // 2, HUD_H + self.size // 2), GOOD if good else BAD, 52,
                      "center")
        self.text(surface, "arrows move you   Tab switch opponent   A adapt again   space pause   "
                  "R restart   Esc quit", (8, self.height - 4), DIM, 15, "bottomleft",
                  max_width=self.width - 48)  # room for the frame counter
        self.frame_counter(surface)


def _ring(img: np.ndarray, rc: tuple[int, int], tile: int) -> None:
    """A yellow ring around the tile of the opponent you control."""
    cx, cy = (rc[1] + 0.5) * tile, (rc[0] + 0.5) * tile
    disk(img, cx, cy, tile * 0.62, ACCENT, inner=tile * 0.52)
