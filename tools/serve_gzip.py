"""Serve a built site as GitHub Pages does: gzip for text, ``Cache-Control: max-age=600``.

Lighthouse (tools/bench_lighthouse.py) and tests/test_page_speed.py measure pages through this
server, so what they count is what a reader downloads: compressed HTML, CSS, JS and SVG, and on a
second page of the same visit only what the browser's cache does not already hold.

Usage: python tools/serve_gzip.py [HTML_DIR] [--port 8000]
"""

from __future__ import annotations

import argparse
import functools
import gzip
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: What GitHub Pages compresses (text); images other than SVG and fonts are sent as they are.
GZIP_SUFFIXES = {".html", ".css", ".js", ".mjs", ".json", ".svg", ".txt", ".xml", ".ipynb",
                 ".md", ".map", ".inv"}
MAX_AGE = 600


class GzipHandler(SimpleHTTPRequestHandler):
    """Static files, gzip-compressed for text when the client accepts it, cacheable for 10 min."""

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", f"max-age={MAX_AGE}")
        super().end_headers()

    def do_GET(self) -> None:
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        if (path.suffix not in GZIP_SUFFIXES or not path.is_file()
                or "gzip" not in self.headers.get("Accept-Encoding", "")):
            return super().do_GET()
        body = _compressed(str(path), path.stat().st_mtime_ns)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Vary", "Accept-Encoding")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@functools.lru_cache(maxsize=512)
def _compressed(path: str, mtime_ns: int) -> bytes:
    return gzip.compress(Path(path).read_bytes(), compresslevel=6, mtime=0)


def gzipped_size(path: Path) -> int:
    """Bytes ``path`` takes on the wire from this server (gzip for text)."""
    if path.suffix in GZIP_SUFFIXES:
        return len(_compressed(str(path), path.stat().st_mtime_ns))
    return path.stat().st_size


def serve(html_dir: Path, port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """Serve ``html_dir`` on 127.0.0.1 in a daemon thread; return the server and its base URL.
    Stop it with ``server.shutdown(); server.server_close()``."""
    handler = functools.partial(GzipHandler, directory=str(html_dir))
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html_dir", nargs="?", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    server, url = serve(args.html_dir, args.port)
    print(f"serving {args.html_dir} at {url} (gzip, max-age={MAX_AGE}); Ctrl-C stops")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()
