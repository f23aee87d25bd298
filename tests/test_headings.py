"""Headings on a phone wrap between words, never inside one.

At 360 px the theme's 42 px page titles left no room for "Backpropagation": the heading's
``overflow-wrap: break-word`` (which keeps it from widening the page) cut it into
"Backpropagati" / "on" on four pages. A break after a hyphen, a dash, a slash or a dot is fine;
a break between two letters is not (inline code excepted: a long dotted name may break).
"""

from __future__ import annotations

import pytest
from browsing import browser, site  # noqa: F401  (fixtures)
from conftest import SITE_ROOT
from pages import book_pages

pytestmark = [pytest.mark.browser, pytest.mark.book]

PHONES = {"360": (360, 740), "390": (390, 844)}

# Every run of letters and digits in a heading (outside <code>) whose characters sit on more
# than one line.
BROKEN_WORDS_JS = """() => {
  const broken = [];
  for (const h of document.querySelectorAll('.bd-article :is(h1, h2, h3, h4)')) {
    const walker = document.createTreeWalker(h, NodeFilter.SHOW_TEXT);
    let node;
    while ((node = walker.nextNode())) {
      if (node.parentElement.closest('code')) continue;
      for (const m of node.data.matchAll(/[\\p{L}\\p{N}]+/gu)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].filter(r => r.width > 0)
                                .map(r => Math.round(r.bottom)));
        if (lines.size > 1) broken.push(`${h.tagName.toLowerCase()} "${m[0]}"`);
      }
    }
  }
  return broken;
}"""


@pytest.mark.parametrize("phone", sorted(PHONES))
def test_no_heading_breaks_inside_a_word_on_a_phone(browser, site: str, phone: str) -> None:  # noqa: F811
    width, height = PHONES[phone]
    context = browser.new_context(viewport={"width": width, "height": height}, is_mobile=True,
                                  has_touch=True)
    found = {}
    try:
        page = context.new_page()
        for p in book_pages(SITE_ROOT):
            page.goto(f"{site}{p.docname}.html")
            page.wait_for_load_state("load")
            page.evaluate("document.fonts.ready")
            if broken := page.evaluate(BROKEN_WORDS_JS):
                found[p.docname] = broken
    finally:
        context.close()
    assert not found, f"headings broken inside a word at {width} px: {found}"
