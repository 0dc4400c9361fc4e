"""Series: the name, kind and meaning of one recorded measurement, declared once by what records it.

Every series a run records is declared as a `Series` on the class or module that records it:
the Trainer's per-step series in engine/trainer.py, validation's in engine/evaluation.py, the learning rate and the
plateau state in engine/optim.py (LrSchedule), clipping in engine/optim.py, each probe's on
its probe class (engine/probes/), the step timer's in engine/diagnosis/timer.py. The charts name
what they read with these objects, the lessons and diagnosis rules read through them, and
docs/contracts.md lists them (a test checks the list against `declared()`).

A name may hold parts: `{layer}` (0-based recurrent layer), `{gate}` (rnn: h; gru: r z n;
lstm: i f g o), `{param}` (a name from model.named_parameters()), `{metric}` (a task metric).

    LAST = Series("reach/last/l{layer}", "array", "||dL_T/dh_t|| for t = 1..T")
    LAST.at(layer=0)                    # 'reach/last/l0'
    LAST.parts("reach/last/l1")         # {'layer': '1'}
    LAST.matches("reach/sum/l0")        # False
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PART_PATTERNS = {"layer": r"\d+", "gate": r"[a-z]+", "param": r".+", "metric": r"[^/]+"}
KINDS = ("scalar", "array")


@dataclass(frozen=True)
class Series:
    """One recorded series: its name (a template when it has parts), scalar or array, and one line on what it is."""

    name: str
    kind: str
    doc: str
    _pattern: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"series {self.name!r}: kind must be one of {KINDS}")
        regex = ""
        for text, part in re.findall(r"([^{]*)(?:\{(\w+)\})?", self.name):
            regex += re.escape(text)
            if part:
                regex += f"(?P<{part}>{PART_PATTERNS[part]})"
        object.__setattr__(self, "_pattern", re.compile(regex + r"\Z"))

    def at(self, **parts) -> str:
        """The concrete name, e.g. at(layer=0, gate='f')."""
        return self.name.format(**parts)

    def parts(self, name: str) -> dict[str, str] | None:
        """The parts of a concrete name of this series, or None when it is not one."""
        m = self._pattern.match(name)
        return None if m is None else m.groupdict()

    def matches(self, name: str) -> bool:
        return self._pattern.match(name) is not None


def declared() -> list[Series]:
    """Every series any part of the engine records, in the order docs/contracts.md lists them."""
    # imported here: the recorders import this module for the Series class
    from engine import diagnosis, evaluation, optim, probes, trainer
    from engine.probes import runner as probe_runner

    found = [*trainer.SERIES, *evaluation.SERIES, *optim.SERIES]
    for probe in probes.PROBES:
        found += probe.series
    found += [*probe_runner.SERIES, *diagnosis.SERIES]
    return found


def find(name: str) -> Series | None:
    """The declaration a concrete name belongs to (None for a name nothing declares)."""
    return next((s for s in declared() if s.matches(name)), None)
