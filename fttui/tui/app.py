"""The wizard app: six steps carrying one draft config, then Train, Runs, and Export & try.

Each step is a screen that returns a ``StepResult`` through ``dismiss``; this app merges it into the draft
(``Draft.absorb``, the same for every step) and shows the next (or previous) step; when the Review step confirms a
config, this app starts the run. It owns the list of live runs, so quitting can ask whether to stop them or leave
them running (the worker runs in its own session, and its events keep going to ``events.jsonl`` when the UI that
read its stdout is gone). Any worker's exception ends in one place, ``show_worker_error``: an error dialog.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual import events, on
from textual.app import App
from textual.binding import Binding
from textual.events import DescendantFocus
from textual.widgets import Input
from textual.worker import Worker

from fttui.errors import ExitCode, FttuiError
from fttui.tui.services import Services, lower_priority, worker_niceness
from fttui.tui.collector import IdleCollector
from fttui.tui.draft import Draft
from fttui.tui.keys import either, shown_key
from fttui.tui.screens.base import StepResult
from fttui.tui.screens.dataset import DatasetScreen
from fttui.tui.screens.export import ExportScreen
from fttui.tui.screens.hardware import HardwareScreen
from fttui.tui.screens.hyperparams import HyperparamsScreen
from fttui.tui.screens.method import MethodScreen
from fttui.tui.screens.model import ModelScreen
from fttui.tui.screens.review import ReviewScreen
from fttui.tui.screens.runs import RunsScreen
from fttui.tui.screens.train import TrainScreen
from fttui.tui.widgets.modals import ChoiceModal, ErrorModal
from fttui.tui.worker_errors import ReportsWorkerErrors, failure_text

if TYPE_CHECKING:
    from fttui.config import RunConfig
    from fttui.runner.supervisor import Supervisor

RUNS_SCREEN = "runs"
COLLECT_CHECK_S = 0.5
STEPS = (HardwareScreen, ModelScreen, MethodScreen, DatasetScreen, HyperparamsScreen, ReviewScreen)


class FttuiApp(ReportsWorkerErrors, App):
    CSS_PATH = "styles/app.tcss"
    TITLE = "fttui"
    BINDINGS = [Binding(either("ctrl+q"), "quit", "Quit", priority=True),
                Binding(either(App.COMMAND_PALETTE_BINDING), "command_palette", "palette", show=False, priority=True,
                        tooltip="Open the command palette")]

    def __init__(self, runs_dir: str | Path = "runs", draft: Draft | None = None, services: Services | None = None,
                 cursor_blink: bool = True, start_step: int | None = 0):
        super().__init__()
        self.runs_dir = Path(runs_dir)
        self.draft = draft or Draft.quickstart(self.runs_dir)
        self.services = services or Services()
        self.cursor_blink = cursor_blink
        self.live: list = []  # supervisors of runs this UI shows that may still be going
        self.step = 0
        self.start_step = start_step  # None: start on an empty screen (tests push their own)
        self.collector = IdleCollector()

    def on_mount(self) -> None:
        self.collector.start()
        self.set_interval(COLLECT_CHECK_S, self.collector.tick)
        self._catch_signals(True)
        if self.start_step is not None:
            self.show_step(self.start_step)

    def on_unmount(self) -> None:
        self._catch_signals(False)
        self.collector.stop()

    def get_key_display(self, binding) -> str:
        """In a browser, the footer shows alt+n where the terminal shows ctrl+n: the browser keeps ctrl+n."""
        from dataclasses import replace

        key = shown_key(binding.key, self.is_web)
        return super().get_key_display(binding if key == binding.key else replace(binding, key=key, key_display=None))

    def _catch_signals(self, on: bool) -> None:
        """SIGTERM (a scheduler, systemd) stops live runs gracefully; SIGHUP (the terminal closed) leaves them
        running, as "Leave it running" does. Either way the UI exits cleanly instead of dying mid-draw."""
        import asyncio
        import signal

        try:
            loop = asyncio.get_running_loop()
            for sig, stop_runs in ((signal.SIGTERM, True), (signal.SIGHUP, False)):
                if on:
                    loop.add_signal_handler(sig, self.exit_on_signal, sig, stop_runs)
                else:
                    loop.remove_signal_handler(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no such signal here
            pass

    def exit_on_signal(self, sig: int, stop_runs: bool) -> None:
        if stop_runs:  # graceful: each worker saves a checkpoint and ends on its own after the UI is gone
            for supervisor in self.live:
                if supervisor.running:
                    supervisor.request_stop()
        self.exit(return_code=int(ExitCode.for_signal(sig)))

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent):
            self.collector.input_seen()  # full garbage collections wait until input pauses
        await super().on_event(event)

    @on(DescendantFocus)
    def _no_blink(self, event: DescendantFocus) -> None:
        """Tests and screenshots turn blinking off so every frame is the same."""
        if not self.cursor_blink and isinstance(event.widget, Input):
            event.widget.cursor_blink = False

    # ------------------------------------------------------------------ the wizard

    def show_step(self, index: int, status: str = "") -> None:
        """Open a step on the draft; ``status``: a line it opens with (why the run did not start)."""
        self.step = max(0, min(index, len(STEPS) - 1))
        screen = STEPS[self.step](self.draft)
        screen.opening_status = status
        self.push_screen(screen, callback=self._step_done)

    def _step_done(self, result: StepResult | None) -> None:
        if result is None:
            return
        self.draft.absorb(result)
        if result.action == "back":
            self.show_step(self.step - 1)
        elif result.confirmed is not None:
            self.start_confirmed(result.confirmed)
        else:
            self.show_step(self.step + 1)

    def start_confirmed(self, config: RunConfig) -> None:
        """Start the run the user confirmed and follow it; if it cannot start, the same step again with the reason
        on its status line, on the draft that holds everything chosen so far."""
        started = self.launch(config)
        if isinstance(started, str):
            self.show_step(self.step, status=started)
            return
        self.push_screen(TrainScreen(*started))

    def show_worker_error(self, worker: Worker) -> None:
        """Where every worker's exception ends (``ReportsWorkerErrors`` brings each here): a dialog with the message
        and what to do next, instead of a screen left waiting for an answer that will not come."""
        message, hint = failure_text(worker.error)
        self.push_screen(ErrorModal(message, hint, title=f"The {worker.group} worker failed"))

    def launch(self, config: RunConfig) -> tuple[Path, Supervisor] | str:
        """Start training; the run folder and supervisor, or a message saying why it could not start."""
        try:
            run_dir, supervisor = self.services.start_run(config)
        except FttuiError as error:
            return error.message + (f" ({error.hint})" if error.hint else "")
        except OSError as error:
            return f"cannot start the worker: {error}"
        self.live.append(supervisor)
        lower_priority(supervisor, config.ui.worker_niceness)
        return run_dir, supervisor

    def resume(self, run_dir: Path, overrides: list[str] | None = None) -> bool:
        """Resume a stopped run or continue a finished one, and follow it on the Train screen."""
        if any(s.running for s in self.live):
            self.notify("a run is still going: stop it before resuming another", severity="warning")
            return False
        from fttui.runner.run_folder import RunFolder

        history = RunFolder(run_dir).all_events()
        try:
            supervisor = self.services.resume_run(Path(run_dir), overrides)
        except FttuiError as error:
            self.notify(error.message + (f" ({error.hint})" if error.hint else ""), severity="error", timeout=10)
            return False
        except OSError as error:
            self.notify(f"cannot start the worker: {error}", severity="error")
            return False
        self.live.append(supervisor)
        lower_priority(supervisor, worker_niceness(self.draft))  # this session's setting, not the run's
        self.push_screen(TrainScreen(Path(run_dir), supervisor, history=history))
        return True

    def align(self, run_dir: Path) -> bool:
        """The wizard again from a finished run's tuned model (``model.name=RUN_DIR``, training.objective=dpo), at the
        Dataset step, where the user gives the pairs; the run's method and settings stay, its data and name do not."""
        from fttui.config.schema import DataSection
        from fttui.runner.continued import starting_run
        from fttui.runner.run_folder import RunFolder
        from fttui.tui.services import load_shape

        if any(s.running for s in self.live):
            self.notify("a run is still going: stop it (s) before starting another", severity="warning")
            return False
        model = str(Path(run_dir).resolve())
        try:
            starting_run(model)  # refuses a run no other can start from: still training, unmergeable
            draft = Draft.from_config(RunFolder(run_dir).config(), self.runs_dir)
        except FttuiError as error:
            self.notify(error.message + (f" ({error.hint})" if error.hint else ""), severity="error", timeout=10)
            return False
        try:
            draft.shape = load_shape(model)  # what the Model step would have read: the run's model or its base
        except FttuiError as error:  # offline, a hub base: planned without a shape, as the Model step would
            draft.shape_error = error.message
        draft.sections["model"].update(name=model, task="causal-lm", revision=None)
        draft.sections["data"] = DataSection.model_validate({"train": ""}).model_dump(mode="json")
        draft.sections["training"].update(objective="dpo")
        draft.sections["output"].update(name=None, dir=None)
        draft.hardware = self.draft.hardware
        self.draft = draft
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.show_step(STEPS.index(DatasetScreen))
        return True

    def run_ended(self, supervisor) -> None:
        if supervisor in self.live:
            self.live.remove(supervisor)

    def action_new_run(self) -> None:
        if any(s.running for s in self.live):
            self.notify("a run is still going: stop it (s) before starting another", severity="warning")
            return
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.show_step(0)

    # ------------------------------------------------------------------ runs and export

    def action_runs(self) -> None:
        """The Runs screen is built once and kept (installed): showing it again is one redraw, not a rebuild.

        It reloads its list each time it comes back. Should the kept one be lower in the stack already (Runs,
        then a resumed run's Train screen), a fresh one goes on top, so the live Train screen stays alive.
        """
        if isinstance(self.screen, RunsScreen):
            return
        if not self.is_screen_installed(RUNS_SCREEN):
            self.install_screen(RunsScreen(self.runs_dir), RUNS_SCREEN)
        kept = self.get_screen(RUNS_SCREEN)
        self.push_screen(RunsScreen(self.runs_dir) if kept in self.screen_stack else kept)

    def open_run(self, run) -> None:
        """Show a run: the live screen if this UI started it, else follow its events.jsonl."""
        for screen in self.screen_stack:
            if isinstance(screen, TrainScreen) and screen.run_dir and screen.run_dir.resolve() == run.path.resolve():
                while self.screen is not screen:
                    self.pop_screen()
                return
        from fttui.runner.supervisor import TailSupervisor

        supervisor = TailSupervisor(run.path)
        if run.status == "running":
            self.live.append(supervisor)
        self.push_screen(TrainScreen(run.path, supervisor, attached=run.status == "running"))

    def open_export(self, run_dir: Path) -> None:
        self.push_screen(ExportScreen(run_dir))

    # ------------------------------------------------------------------ quitting

    async def action_quit(self) -> None:
        going = [s for s in self.live if s.running]
        if not going:
            self.exit()
            return
        question = ("A training run is still going. It runs in its own process: it can keep going after you quit "
                    "(follow it later from the Runs screen), or stop now with a checkpoint saved.")

        def answered(choice: str | None) -> None:
            if choice not in ("stop", "leave"):
                return
            if choice == "stop":  # graceful: the worker saves a checkpoint after the UI is gone
                for supervisor in going:
                    supervisor.request_stop()
            self.exit()

        self.push_screen(ChoiceModal(question, [("leave", "Leave it running"), ("stop", "Stop it"),
                                                ("cancel", "Cancel")], title="Quit", danger="stop"), answered)


def run_app(web: bool = False, runs_dir: str = "runs", port: int = 8000, token: str | None = None,
            use_token: bool = True, max_sessions: int = 2, overrides: list[str] | None = None) -> int:
    """Entry point for ``fttui`` (and ``fttui --web``, which serves the same app through textual-serve);
    ``overrides``: ``--set ui.*`` keys (validated here, before anything is served)."""
    draft = Draft.quickstart(runs_dir, overrides) if overrides else None
    if web:
        import shlex
        import sys

        try:
            from fttui.tui.web import serve_wizard
        except ImportError:
            raise FttuiError("fttui --web needs textual-serve", "pip install textual-serve") from None
        # Each browser tab gets its own `fttui` process (in this folder, so runs/ is the same one).
        settings = "".join(f" --set {shlex.quote(item)}" for item in overrides or [])
        return serve_wizard(f"{shlex.quote(sys.executable)} -m fttui{settings}", port, token, use_token, max_sessions)
    app = FttuiApp(runs_dir=runs_dir, draft=draft)
    app.run()
    return app.return_code or 0
