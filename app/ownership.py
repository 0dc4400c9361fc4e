"""Who may steer a run: everyone in trusted single-user mode; on a shared server, the browser that started it.

The mode comes from $RNNLAB_MODE (app/resources.py `mode()`):
- `local` (the default; `bash scripts/dashboard.sh` then listens on 127.0.0.1 only): one trusted
  person, who may pause, resume, stop, edit and delete every run.
- `shared` (a server for a class): the browser that started a run may steer and delete it;
  everyone else sees it read-only. Runs with no recorded owner (trained from the command line,
  or started before the owners file was lost) are read-only for every visitor.

A visitor is a browser, not a tab: the token of Streamlit's XSRF cookie, which the browser keeps
across reloads and tabs, hashed (the token itself is never stored). Without that cookie (AppTest,
or XSRF protection switched off) a visitor is the Streamlit session, which a reload ends.

    ownership.claim(eng, run_ids)           # after submitting runs, in the callback that did it
    ownership.refusal(eng, run_id)          # None when this visitor may steer the run, else why not
"""

from __future__ import annotations

import binascii
import hashlib
import secrets

import streamlit as st

from app import resources

XSRF_COOKIE = "_streamlit_xsrf"
SESSION_VISITOR = "_visitor"  # session-state key of the fallback id
NOT_YOURS = "started by another visitor of this shared server: you can watch it, not steer or delete it"
NO_OWNER = "started outside this dashboard (command line) or before a restart: read-only on a shared server"


def _xsrf_token(cookie: str) -> bytes | None:
    """The token inside Streamlit's XSRF cookie: '2|mask|masked token|time' (masked afresh on every
    page load, so the raw value changes while the token stays), or a plain hex token."""
    try:
        parts = cookie.strip("\"'").split("|")
        if parts[0] == "2" and len(parts) == 4:
            mask, masked = binascii.a2b_hex(parts[1]), binascii.a2b_hex(parts[2])
            return bytes(b ^ mask[i % len(mask)] for i, b in enumerate(masked)) if mask else None
        return binascii.a2b_hex(parts[0]) if len(parts) == 1 and parts[0] else None
    except (ValueError, binascii.Error):
        return None


def visitor() -> str:
    """This browser's id: a hash of its XSRF token, else of this session's own random id."""
    token = _xsrf_token(st.context.cookies.get(XSRF_COOKIE) or "")
    if not token:
        token = st.session_state.setdefault(SESSION_VISITOR, secrets.token_hex(16)).encode()
    return hashlib.sha256(b"rnnlab-visitor\0" + token).hexdigest()[:16]


def claim(eng, run_ids) -> None:
    """Make this visitor the owner of runs it has just started."""
    eng.owners.claim(list(run_ids), visitor())


def refusal(eng, run_id: str) -> str | None:
    """None when this visitor may steer and delete the run; else why not, in words."""
    if resources.mode() != "shared":
        return None
    owner = eng.owners.owner(run_id)
    if owner == visitor():
        return None
    return NO_OWNER if owner is None else NOT_YOURS


def may_steer(eng, run_id: str) -> bool:
    return refusal(eng, run_id) is None
