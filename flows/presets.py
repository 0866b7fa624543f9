"""The shipped workflow presets (one per seed SOP) and loading workflows by name or path."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from flows.errors import WorkflowError
from flows.lifecycle import Lifecycle
from flows.workflow import Workflow, parse_workflow

DEFAULT_PRESET = "sp4n-lapor"


def preset_names() -> list[str]:
    folder = resources.files("flows") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


@lru_cache(maxsize=None)
def _load_preset(name: str) -> Workflow:
    text = (resources.files("flows") / "presets" / f"{name}.toml").read_text(encoding="utf-8")
    return parse_workflow(text, source=f"preset {name}")


def load_workflow(name_or_path: str) -> Workflow:
    """A preset by name (e.g. "bangkalan"), or a workflow TOML file by path."""
    if name_or_path in preset_names():
        return _load_preset(name_or_path)
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise WorkflowError(str(path), "(file)", f"cannot read: {exc.strerror}") from exc
        return parse_workflow(text, source=str(path))
    raise WorkflowError(
        name_or_path, "(name)",
        f"no such preset or file (presets: {', '.join(preset_names())})",
    )


_lifecycles: dict[int, tuple[Workflow, Lifecycle]] = {}


def lifecycle_of(workflow: Workflow) -> Lifecycle:
    """The one shared machine of a workflow (built on first use, then reused)."""
    held = _lifecycles.get(id(workflow))
    if held is None or held[0] is not workflow:  # the entry keeps its workflow alive
        held = _lifecycles[id(workflow)] = (workflow, Lifecycle(workflow))
    return held[1]
