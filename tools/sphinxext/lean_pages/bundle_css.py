"""One request for the stylesheets that always come together (docs/performance.md).

A page of the theme links a dozen stylesheets. On a phone each one is a request, and six at most
travel at once: the first paint waits for two or three rounds of them. Stylesheets that stand
next to each other on exactly the same pages are joined into one file, named by its content
(``bundle-<hash>.css``, in the deepest folder the members share), and the pages link that file
instead. A stylesheet only some pages use stays a bundle of its own, so a page still asks only
for the CSS it uses, and a second page finds every bundle it shares with the first in the cache.
The cascade is unchanged: the members keep their order, and their relative URLs are rebased.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from pathlib import Path

#: A stylesheet link of a page's head (the theme writes its attributes in either order).
LINK = re.compile(r'<link\b[^>]*\brel="stylesheet"[^>]*>\s*')
HREF = re.compile(r'\bhref="([^"]+)"')
#: A relative url(...) of a stylesheet: not data:, http:, /absolute or #fragment, quoted or
#: not (the lookahead also refuses a quote: url("data:...") is not a relative "data...).
RELATIVE_URL = re.compile(r'url\(\s*(["\']?)(?!["\'\s]|[a-z][a-z0-9+.-]*:|/|#)', re.IGNORECASE)
CHARSET = re.compile(r'@charset\s+"[^"]*";\s*', re.IGNORECASE)
MEMBER = "/* bundle member: {} */\n"
PREFIX = "bundle-"


class MissingBundle(Exception):
    """A page of an earlier build links a bundle that is not there any more."""


def rebase_urls(css: str, source_dir: str, target_dir: str) -> str:
    """``css`` written for folder ``source_dir``, moved to ``target_dir`` (site-relative POSIX
    folders): every relative ``url(...)`` still names the same file."""
    prefix = posixpath.relpath(source_dir or ".", target_dir or ".")
    if prefix == ".":
        return css
    return RELATIVE_URL.sub(lambda m: f"url({m.group(1)}{prefix}/", css)


def head_links(html: str, page: str) -> list[list[tuple[str, str]]]:
    """The local stylesheets a page's head links, as blocks of links that stand next to each
    other: (the link's tag, the file's site-relative path). Links with a media query, or to
    another host, are left out."""
    end = html.find("</head>")
    blocks: list[list] = []
    last_end = None
    for match in LINK.finditer(html, 0, max(end, 0)):
        tag = match.group(0)
        href = HREF.search(tag)
        if not href or " media=" in tag or re.match(r"[a-z][a-z0-9+.-]*:|/", href.group(1)):
            continue
        path = posixpath.normpath(posixpath.join(posixpath.dirname(page),
                                                 href.group(1).split("?")[0].split("#")[0]))
        if last_end != match.start():
            blocks.append([])
        blocks[-1].append((match, path))
        last_end = match.end()
    return blocks


def members(site: Path, path: str) -> list[str]:
    """The stylesheets a bundle holds (site-relative paths), or ``[path]`` for a plain one."""
    if not posixpath.basename(path).startswith(PREFIX):
        return [path]
    if not (site / path).is_file():
        raise MissingBundle(f"a page links {path}, which is gone: delete _build/html and build "
                            "again (make clean book)")
    return re.findall(r"^/\* bundle member: (.+) \*/$", (site / path).read_text(encoding="utf-8"),
                      re.MULTILINE)


def bundle(site: Path, members: tuple[str, ...]) -> str:
    """Write the bundle of ``members`` (site-relative paths, in order) if it is not there; its
    site-relative path."""
    folder = posixpath.commonpath([posixpath.dirname(m) for m in members])
    parts = []
    for member in members:
        css = CHARSET.sub("", (site / member).read_text(encoding="utf-8"))
        parts.append(MEMBER.format(member) + rebase_urls(css, posixpath.dirname(member), folder))
    text = '@charset "utf-8";\n' + "\n".join(parts)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    path = posixpath.join(folder, f"{PREFIX}{digest}.css")
    target = site / path
    if not target.is_file():
        target.write_text(text, encoding="utf-8")
    return path


def bundle_site(site: Path) -> int:
    """Join the stylesheets of every page of the built ``site`` (its HTML files outside
    ``_static``) that stand together, in the same order, on the same pages, rewrite the
    pages, and delete the bundles no page links any more. A page linking bundles from an earlier build counts as
    linking their members, so that pages Sphinx did not write again get bundles made from the
    stylesheets as they are now, the same as a clean build's. The number of pages rewritten."""
    pages = {p.relative_to(site).as_posix(): p for p in sorted(site.rglob("*.html"))
             if p.relative_to(site).parts[0] != "_static"}
    texts = {name: path.read_text(encoding="utf-8") for name, path in pages.items()}
    # each block: the span it covers, then its members, each with its own tag (None: it comes
    # out of a bundle)
    blocks = {}
    pages_of: dict[str, set] = {}
    after: dict[str, set] = {}  # what follows a stylesheet, on each page that links it
    for name, text in texts.items():
        blocks[name] = []
        for block in head_links(text, name):
            items = []
            for match, path in block:
                inner = members(site, path)
                items += [(match.group(0) if inner == [path] else None, m) for m in inner]
            blocks[name].append((block[0][0].start(), block[-1][0].end(), items))
            for i, (_, member) in enumerate(items):
                pages_of.setdefault(member, set()).add(name)
                after.setdefault(member, set()).add(items[i + 1][1] if i + 1 < len(items) else None)
    linked, rewritten = set(), 0
    made: dict[tuple, str] = {}  # members -> bundle: each bundle read and written once, not per page
    for name, text in texts.items():
        pieces, cut = [], 0
        for start, end, items in blocks[name]:
            pieces.append(text[cut:start])
            cut = end
            runs: list[list] = []
            for tag, member in items:
                last = runs[-1][-1][1] if runs else None
                if last and after[last] == {member} and pages_of[last] == pages_of[member]:
                    runs[-1].append((tag, member))
                else:
                    runs.append([(tag, member)])
            for run in runs:
                if len(run) == 1 and run[0][0] is not None:
                    pieces.append(run[0][0])
                    continue
                key = tuple(m for _, m in run)
                if len(run) > 1 and key not in made:
                    made[key] = bundle(site, key)
                path = made[key] if len(run) > 1 else run[0][1]
                linked.add(path)
                href = posixpath.relpath(path, posixpath.dirname(name) or ".")
                pieces.append(f'<link rel="stylesheet" href="{href}" />\n')
        new = "".join(pieces) + text[cut:]
        if new != text:
            pages[name].write_text(new, encoding="utf-8")
            rewritten += 1
    for old in site.joinpath("_static").rglob(f"{PREFIX}*.css"):
        if old.relative_to(site).as_posix() not in linked:
            old.unlink()
    return rewritten
