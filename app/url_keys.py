"""Every key the dashboard reads from or writes to the URL, in one place, and the warning for any other.

A link's key the dashboard does not know (a typo such as `hidden_szie=64`, or a key of another
version) used to be dropped without a word. `read_url_once` (app/state.py) now names each one in
the link warnings. The keys are the settings of RunConfig (engine/config.py FIELDS), the keys
below, and the classroom's `<name>_hide` flags (app/state.py checks what they name).
tests/test_url_keys.py drives the pages and fails when the app writes a key missing here.
"""

from __future__ import annotations

from app.safe_text import code
from engine.config import FIELD_BY_NAME

APP_KEYS = {
    "runs": "the shown runs, one per run (app/state.py)",
    "view": "the Live page's view (a widget bound to the URL, app/screens/live.py)",
    "cview": "the Compare page's view (app/screens/compare.py)",
    "smooth": "the smoothing of the training curves (app/live_view.py)",
    "present": "presenter mode, for a classroom",
    "lesson": "the lesson a classroom link opens",
    "size": "the size of a lesson's runs",
    "run": "start the linked lesson at once",
    "embed": "Streamlit's own: the app embedded in another page",
    "embed_options": "Streamlit's own: how the embedded app looks",
}
FLAG_SUFFIX = "_hide"  # <name>_hide=1: a classroom link hides a setting or a control
MAX_NAMED = 10  # unknown keys named in one warning; more are counted


def known(key: str) -> bool:
    """Whether the dashboard reads this URL key."""
    return key in FIELD_BY_NAME or key in APP_KEYS or (key.endswith(FLAG_SUFFIX) and len(key) > len(FLAG_SUFFIX))


def unknown_keys(keys) -> list[str]:
    """The keys (in the link's order, once each) that the dashboard does not read."""
    return [k for k in dict.fromkeys(keys) if not known(k)]


def unknown_warning(keys) -> str | None:
    """One warning naming the link's unknown keys, or None when every key is known."""
    unknown = unknown_keys(keys)
    if not unknown:
        return None
    named = ", ".join(code(k) for k in unknown[:MAX_NAMED])
    more = f" and {len(unknown) - MAX_NAMED} more" if len(unknown) > MAX_NAMED else ""
    what = "it is not a setting" if len(unknown) == 1 else "they are not settings"
    return (
        f"Ignored {named}{more} from the link: {what} or anything else this dashboard reads. "
        "Check the spelling; `python -m engine fields` lists every setting."
    )
