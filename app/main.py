"""RNN Lab dashboard: the router. Run from the repository root:

    streamlit run app/main.py            # or: bash scripts/dashboard.sh

Pages live in app/screens/ (a folder named pages/ would also be picked up as legacy
pages). They are thin scripts; each first calls app.frame.begin(), which draws the shared
sidebar (shown runs, settings, Start, Compare), then app.frame.header(). Figures come from
app/charts/. In presenter mode (app/presenter.py) the page menu is hidden and no sidebar is drawn.
"""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:  # `streamlit run app/main.py` puts app/ on the path, not the repository root
    sys.path.insert(0, ROOT)

import streamlit as st  # noqa: E402

from app import state  # noqa: E402

st.set_page_config(page_title="RNN Lab", page_icon=":material/show_chart:", layout="wide")
state.read_url_once()  # before the menu is built: presenter mode (present=1) hides it
page = st.navigation(
    [
        st.Page("screens/live.py", title="Live", icon=":material/monitoring:", url_path="live", default=True),
        st.Page("screens/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
        st.Page("screens/runs.py", title="Runs", icon=":material/table_rows:", url_path="runs"),
        st.Page("screens/lessons.py", title="Lessons", icon=":material/school:", url_path="lessons"),
        st.Page("screens/sweep.py", title="Sweep", icon=":material/grid_on:", url_path="sweep"),
    ],
    position="hidden" if state.presenting() else "sidebar",
)
page.run()
