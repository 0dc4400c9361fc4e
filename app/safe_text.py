"""Text from a visitor, a link or a file name, made safe to show in Streamlit's markdown.

st.markdown, st.caption, st.warning/error/info/success and widget labels all render markdown: a
value echoed there as it came can draw a link (`[Session expired](http://evil/phish)`), make the
browser fetch an image (`![t](http://host/x.png)`), turn a bare address into a link, or freeze
the tab with 100 kB of text. Every such value goes through one of these two:

    st.warning(f"Ignored {code(name + '=' + value)} from the link")   # a raw value, shown as code
    st.markdown(f"**{text(label)}** · running")                         # a name inside a sentence

Both replace control characters (a blank line would end a code span early) and cut long values
to `limit` characters, saying how long they were.
"""

from __future__ import annotations

import re
import unicodedata

LIMIT = 80  # characters shown of one value; the rest is counted, not shown
# what can start a link, an image, an autolink (http:, mailto, www.), a colour or icon directive
# (:red[...], :material/...:), a formula ($), HTML (<), code (`), emphasis, a heading or a quote;
# '.' only after 'www', so a sentence's full stops and numbers (0.9, 2.0) read as they are
_SPECIAL = re.compile(r"([\\`*_\[\]()<>!~:$@#])|(?<=www)(\.)", re.IGNORECASE)
_AUTOLINK = re.compile(r"[:@]|www", re.IGNORECASE)
JOINER = "\u2060"  # WORD JOINER: invisible, and no autolink pattern spans it
_BACKTICKS = re.compile(r"`+")


def _plain(value: object, limit: int) -> str:
    """str(value) on one line, without control characters, cut to `limit` characters."""
    s = "".join(" " if unicodedata.category(c)[0] in "CZ" and c != " " else c for c in str(value))
    if len(s) > limit:
        s = f"{s[:limit]}… ({len(s):,} characters)"
    return s


def text(value: object, limit: int = LIMIT) -> str:
    """The value as literal text inside markdown: no link, image, colour, icon, formula or HTML."""
    escaped = _SPECIAL.sub(lambda m: "\\" + m.group(0), _plain(value, limit))
    # Streamlit's renderer turns bare http://..., www. and a@b.c into links after parsing, escapes or
    # not: an invisible word joiner after ':', '@' and 'www' breaks those patterns (code spans are spared)
    return _AUTOLINK.sub(lambda m: m.group(0) + JOINER, escaped)


def code(value: object, limit: int = LIMIT) -> str:
    """The value as an inline code span that nothing inside it can close."""
    s = _plain(value, limit)
    fence = "`" * (1 + max((len(m) for m in _BACKTICKS.findall(s)), default=0))
    pad = " " if s.startswith("`") or s.endswith("`") or not s.strip() else ""
    return f"{fence}{pad}{s}{pad}{fence}"
