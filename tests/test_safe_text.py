"""app/safe_text.py: values echoed into markdown draw no link, image, HTML or formatting, and stay short.

The oracle is a markdown renderer (Python-Markdown, with the value inside a sentence as the app
puts it); tests/browser/test_crafted_urls.py checks Streamlit's own renderer in Chromium.
"""

import re

import markdown
import pytest

from app.safe_text import JOINER, LIMIT, code, text

HOSTILE = [
    "[Session expired](http://evil/phish)",
    "![t](http://127.0.0.1:9/x.png)",
    "<img src=http://evil/x.png>",
    "<a href='http://evil'>x</a>",
    "[x]: http://evil\n\n[x]",
    "`[x](http://evil)`",
    "``[x](http://evil)``` [y](http://evil)",
    "line\n\n[x](http://evil)",
    "line\r\n\r\n![i](http://evil/i.png)",
    "<http://evil>",
    "**bold** _it_ # head",
    ":red[alert] :material/warning: $x^2$",
]


def rendered(markdown_text: str) -> str:
    return markdown.markdown(f"Ignored {markdown_text} from the link.")


@pytest.mark.parametrize("value", HOSTILE)
def test_text_draws_no_link_image_or_html(value):
    html = rendered(text(value))
    assert "<a" not in html and "<img" not in html and "<strong" not in html and "<em" not in html, html
    assert "<h" not in html.replace("<hr", "")


@pytest.mark.parametrize("value", HOSTILE)
def test_code_is_one_span_holding_the_whole_value(value):
    html = rendered(code(value))
    assert html.count("<code>") == 1 and "<a" not in html and "<img" not in html, html
    inner = re.search(r"<code>(.*)</code>", html, re.S).group(1)
    # what the span shows: the value on one line (controls as spaces), HTML-escaped by the renderer
    one_line = re.sub(r"[\r\n]", " ", value)
    assert inner.strip() == one_line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").strip()


# what Streamlit's renderer (GFM autolink literals) turns into a link after parsing, escaped or not
BARE_LINK = re.compile(r"https?://|www\.|[\w.+-]@[\w-]", re.IGNORECASE)


@pytest.mark.parametrize("value", [*HOSTILE, "see www.evil.com", "mail a@b.co", "mailto:x@y.z", "HTTPS://EVIL"])
def test_text_leaves_no_bare_address_to_autolink(value):
    shown = text(value).replace("\\", "")  # the escapes are gone once rendered
    assert BARE_LINK.search(shown) is None, shown


def test_long_values_are_cut_and_counted():
    value = "9" * 100_000
    for shown in (text(value), code(value)):
        assert len(shown) < LIMIT + 40 and "100,000 characters" in shown


def test_plain_words_and_numbers_read_as_they_are():
    assert text("dropout: 2.0 is above the maximum 0.9") == f"dropout\\:{JOINER} 2.0 is above the maximum 0.9"
    assert text("lstm 8 · pydoc") == "lstm 8 · pydoc"
    assert text("see www.evil.com") == f"see www{JOINER}\\.evil.com"  # a bare www. would become a link
    assert code("lr=fast") == "`lr=fast`"
