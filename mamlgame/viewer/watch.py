"""Watch an agent: before | after adaptation, side by side on the same level and seed.

Left: the meta-learned policy theta. Right: theta' after one inner policy-gradient step on
this level, adapted live from fresh episodes (progress shown). Both play their most likely
(greedy) actions by default, so the change adaptation makes is what differs between them; G
switches both to sampled actions and back. Keys: A adapts again (a new batch), + takes
another inner step, G greedy/sampled, space pauses, period steps one frame, up/down change
the speed, R restarts the episode, N/P next/previous level, Esc quits.
"""

from __future__ import annotations

from mamlgame.checkpoint import Agent
from mamlgame.families import family_spec
from mamlgame.viewer.adapt import LiveAdaptation
from mamlgame.viewer.app import ACCENT, BAD, DIM, GOOD, HUD_BG, TEXT, App
from mamlgame.viewer.episode import Episode, PolicyPlayer, task_caption
from mamlgame.viewer.levels import LevelList

HUD_H, FOOT_H, GAP = 58, 92, 6
END_HOLD_FRAMES = 20


class Side:
    """One pane: an episode played by a policy, with running statistics."""

    def __init__(self, episode: Episode, player: PolicyPlayer):
        self.episode, self.player = episode, player
        self.returns: list[float] = []
        self.successes: list[bool] = []

    def tick(self) -> None:
        if not self.episode.done:
            self.episode.step(self.player.act(self.episode))

    def finish(self) -> None:
        self.returns.append(self.episode.ret)
        self.successes.append(self.episode.success)


class WatchApp(App):
    """Split view of the agent before and after adapting to one level."""

    title = "mamlgame watch"

    def __init__(self, agent: Agent, level: str | int | None = None, headless: bool = True,
                 speed: float | None = None, seed: int = 0, pane: int = 400,
                 episodes: int | None = None, greedy: bool = True, split: str | None = None):
        super().__init__(2 * pane + GAP, HUD_H + pane + FOOT_H, headless,
                         speed or family_spec(agent.pack.family).speed)
        self.agent, self.pane, self.seed, self.greedy = agent, pane, seed, greedy
        self.episodes = episodes
        self.levels = LevelList(agent.pack, split)
        self.load(self.levels.resolve(level))

    # ---- state ------------------------------------------------------------------------------
    def load(self, index: int) -> None:
        self.index = index
        self.tasks, self.level_name = self.levels.get(index)
        fam, pol = self.agent.family, self.agent.policy
        self.episode_seed = self.seed
        self.left = Side(Episode(fam, self.tasks, self.episode_seed),
                         PolicyPlayer(pol, self.agent.params, self.greedy))
        self.right = Side(Episode(fam, self.tasks, self.episode_seed),
                          PolicyPlayer(pol, self.agent.params, self.greedy))
        self.adapted = None
        self.adaptation = LiveAdaptation(self.agent, self.tasks, self.episodes)
        self.batch = 0
        self.adapt_again()

    def adapt_again(self) -> None:
        """A: a new batch of episodes from theta, one inner step."""
        self.batch += 1
        self.adaptation.start(self.agent.params, 10_000 * (self.seed + 1) + self.batch)

    def another_step(self) -> None:
        """+: one more inner step from the current adapted params (new episodes)."""
        if self.adapted is None or self.adaptation.running:
            return
        self.batch += 1
        self.adaptation.start(self.adapted, 10_000 * (self.seed + 1) + self.batch,
                              steps_before=self.adaptation.steps_taken)

    def toggle_greedy(self) -> None:
        """G: both panes switch between greedy and sampled actions."""
        self.greedy = not self.greedy
        for side in (self.left, self.right):
            side.player.greedy = self.greedy

    def restart(self, next_seed: bool = True) -> None:
        """Both panes start a new episode with the same seed."""
        if next_seed:
            self.episode_seed += 1
        for side in (self.left, self.right):
            side.episode.reset(self.episode_seed)
        self._end_timer = 0

    # ---- loop -------------------------------------------------------------------------------
    def handle(self, event) -> None:
        super().handle(event)
        pg = self.pg
        if event.type != pg.KEYDOWN:
            return
        key = event.key
        if key == pg.K_SPACE:
            self.paused = not self.paused
        elif key == pg.K_PERIOD:
            self.paused = True
            self.step_once()
        elif key == pg.K_UP:
            self.change_speed(1.5)
        elif key == pg.K_DOWN:
            self.change_speed(1 / 1.5)
        elif key == pg.K_a:
            self.adapt_again()
        elif key in (pg.K_PLUS, pg.K_EQUALS, pg.K_KP_PLUS):
            self.another_step()
        elif key == pg.K_g:
            self.toggle_greedy()
        elif key == pg.K_r:
            self.restart()
        elif key in (pg.K_n, pg.K_p):
            self.load(self.levels.step(self.index, 1 if key == pg.K_n else -1))

    def update(self) -> None:
        if self.adaptation.running and self.adaptation.advance():
            self.adapted = self.adaptation.result
            self.right.player.params = self.adapted
            self.right.returns, self.right.successes = [], []
            self.left.returns, self.left.successes = [], []
            self.restart()
        adapting = self.adaptation.running
        sides = (self.left,) if adapting else (self.left, self.right)
        if all(s.episode.done for s in sides):
            self._end_timer = getattr(self, "_end_timer", 0) + 1
            if self._end_timer >= END_HOLD_FRAMES:
                for s in sides:
                    s.finish()
                if adapting or self.episode_over():  # counted: episodes of both halves
                    self.restart()
            return
        super().update()

    def tick(self) -> None:
        self.left.tick()
        if not self.adaptation.running:
            self.right.tick()

    # ---- drawing ----------------------------------------------------------------------------
    def render(self, surface) -> None:
        surface.fill(HUD_BG)
        P = self.pane
        overlay = family_spec(self.agent.pack.family).overlay
        overlaid = False  # whether the adapted half shows what its params hold
        for i, side in enumerate((self.left, self.right)):
            x = i * (P + GAP)
            frame = side.episode.frame(P)
            if i and overlay is not None and not self.adaptation.running:
                drawn = overlay(self.tasks, frame, side.player.params)
                overlaid, frame = drawn is not frame, drawn
            self.blit_array(surface, frame, (x, HUD_H, P, P))
        ad = self.adaptation
        k = ad.steps_taken
        caption = task_caption(self.agent.family, self.tasks)
        self.text(surface, caption, (self.width - 8, 8), DIM, 18, "topright")
        room = self.width - 32 - self.font(18).size(caption)[0]
        self.text(surface, f"{self.agent.pack.name}  ·  level {self.level_name} "
                  f"({self.levels.split} #{self.index})"
                  f"  ·  {self.agent.config.algo}  ·  episode seed {self.episode_seed}", (8, 6),
                  max_width=room)
        plural = "s" if k != 1 else ""
        labels = ("before adaptation (theta)", f"after {k} inner step{plural} (theta')")
        for i, (side, label) in enumerate(zip((self.left, self.right), labels, strict=True)):
            x = i * (P + GAP) + 8
            ep = side.episode
            self.text(surface, label, (x, 32), ACCENT if i else TEXT, 22)
            ok = "yes" if ep.success else ("no" if ep.done else "...")
            self.text(surface, f"step {ep.steps}   return {ep.ret:+.2f}   success {ok}",
                      (x, HUD_H + P + 4), GOOD if ep.success else TEXT, 20, max_width=P - 16)
            if side.returns:
                mean = sum(side.returns) / len(side.returns)
                rate = sum(side.successes) / len(side.successes)
                self.text(surface, f"mean over {len(side.returns)}: return {mean:+.2f}, "
                          f"success {rate:.0%}", (x, HUD_H + P + 24), DIM, 18,
                          max_width=P - 16)
        if ad.result is not None:
            self.text(surface, f"inner step {ad.steps_taken}: {ad.n_episodes} episodes of "
                      f"this level, mean return {ad.inner_return:+.2f}",
                      (P + GAP + 8, HUD_H + P + 44), DIM, 16, max_width=P - 16)
            help_text = family_spec(self.agent.pack.family).overlay_help
            if overlaid and help_text:
                self.text(surface, help_text, (P + GAP + 8, HUD_H + P + 62), DIM, 16,
                          max_width=P - 16)
        self.text(surface, "the meta-learned policy, not adapted", (8, HUD_H + P + 44), DIM, 16,
                  max_width=P - 16)
        if ad.running:
            x = P + GAP
            self.text(surface, f"adapting: {ad.collected}/{ad.n_episodes} episodes",
                      (x + P // 2, HUD_H + P // 2 - 30), ACCENT, 28, "center")
            self.bar(surface, (x + P // 6, HUD_H + P // 2, 2 * P // 3, 18), ad.progress)
        actions = "greedy" if self.greedy else "sampled"
        help_ = (f"A adapt again   + inner step   G actions: {actions}   space pause   "
                 ". one frame   up/down speed   R restart   N/P level   Esc quit")
        self.text(surface, f"{help_}  ({self.speed:.0f}/s)" + ("  PAUSED" if self.paused else ""),
                  (8, self.height - 6), BAD if self.paused else DIM, 16, "bottomleft",
                  max_width=self.width - 48)  # room for the frame counter
        self.frame_counter(surface)
