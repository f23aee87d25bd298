"""`make test` provides Chromium (tools/provision_browser.py): found, else installed with apt-get
as root, else with playwright, else one message before any test runs. The commands are faked:
nothing is installed, and this machine's own Chromium is hidden (no system paths, empty PATH)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import provision_browser as pb

ROOT = Path(__file__).resolve().parent.parent


def _binary(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


class World:
    """A machine without Chromium: ``install`` says what a successful command puts where."""

    def __init__(self, tmp_path: Path, *, root: bool, apt: bool, works: set[str] = frozenset()):
        self.tmp, self.root, self.apt, self.works = tmp_path, root, apt, works
        self.bin = tmp_path / "bin"
        self.env = {"HOME": str(tmp_path / "home"), "PATH": str(self.bin)}
        self.ran: list[list[str]] = []
        self.said: list[str] = []

    def which(self, name: str) -> str | None:
        if name == "apt-get":
            return "/usr/bin/apt-get" if self.apt else None
        path = self.bin / name
        return str(path) if path.exists() else None

    def run(self, cmd: list[str], env) -> tuple[bool, str]:
        self.ran.append(cmd)
        if cmd[:2] == ["apt-get", "install"]:
            assert env["DEBIAN_FRONTEND"] == "noninteractive"
            if "apt" in self.works:
                _binary(self.bin / "chromium")
                return True, ""
            return False, "E: Unable to locate package chromium"
        if cmd[1:] == ["-m", "playwright", "install", "chromium"]:
            if "playwright" in self.works:
                _binary(Path(env["HOME"]) / ".cache/ms-playwright/chromium-1200/chrome-linux/chrome")
                return True, ""
            return False, "Error: getaddrinfo ENOTFOUND playwright.download.prss.microsoft.com"
        return cmd[:2] == ["apt-get", "update"], ""

    def provision(self):
        return pb.provision(env=self.env, which=self.which, run=self.run, is_root=lambda: self.root,
                            say=self.said.append, python="/venv/python", system_paths=())


def test_found_on_path_installs_nothing(tmp_path: Path) -> None:
    w = World(tmp_path, root=True, apt=True)
    chromium = _binary(w.bin / "chromium")
    assert w.provision() == (str(chromium), "")
    assert w.ran == [] and w.said == []


def test_found_in_playwrights_cache_and_from_the_variable(tmp_path: Path) -> None:
    w = World(tmp_path, root=False, apt=False)
    cached = _binary(tmp_path / "home/.cache/ms-playwright/chromium-1200/chrome-linux/chrome")
    assert w.provision() == (str(cached), "")
    chosen = _binary(tmp_path / "elsewhere/chrome")
    w.env["PLAYWRIGHT_CHROMIUM_EXECUTABLE"] = str(chosen)
    assert w.provision() == (str(chosen), "")
    w.env["PLAYWRIGHT_CHROMIUM_EXECUTABLE"] = str(tmp_path / "nowhere")
    found, message = w.provision()
    assert found is None and "PLAYWRIGHT_CHROMIUM_EXECUTABLE" in message and w.ran == []


def test_missing_as_root_with_apt_installs_with_apt_after_an_update(tmp_path: Path) -> None:
    w = World(tmp_path, root=True, apt=True, works={"apt"})
    found, message = w.provision()
    assert found == str(w.bin / "chromium") and message == ""
    assert w.ran == [["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]]
    assert len(w.said) == 1 and "apt-get" in w.said[0]


def test_missing_without_apt_installs_with_playwright(tmp_path: Path) -> None:
    for root, apt in ((False, True), (True, False)):  # not root, or no apt-get
        w = World(tmp_path / f"{root}-{apt}", root=root, apt=apt, works={"apt", "playwright"})
        found, message = w.provision()
        assert found and found.endswith("chrome-linux/chrome") and message == ""
        assert w.ran == [["/venv/python", "-m", "playwright", "install", "chromium"]]
        assert len(w.said) == 1 and "playwright install chromium" in w.said[0]


def test_apt_failing_falls_back_to_playwright(tmp_path: Path) -> None:
    w = World(tmp_path, root=True, apt=True, works={"playwright"})
    found, _ = w.provision()
    assert found and [c[1] if c[0] == "apt-get" else c[2] for c in w.ran] == \
        ["update", "install", "playwright"]


def test_nothing_works_gives_one_message_saying_what_to_do(tmp_path: Path) -> None:
    w = World(tmp_path, root=True, apt=True)
    found, message = w.provision()
    assert found is None
    assert "apt-get install chromium" in message and "playwright install chromium" in message
    assert "Unable to locate package" in message and "ENOTFOUND" in message
    assert "\n" not in message


def test_the_script_stops_make_before_pytest_when_nothing_is_found(tmp_path: Path) -> None:
    """`make test` runs the script first; exit 1 and one line on stderr stop make there."""
    script = ROOT / "tools" / "provision_browser.py"
    bad = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         env={"PATH": "/nonexistent", "HOME": str(tmp_path),
                              "PLAYWRIGHT_CHROMIUM_EXECUTABLE": str(tmp_path / "none")})
    assert bad.returncode == 1 and bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1 and "sudo apt-get install chromium" in bad.stderr
    good = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True,
                          env={"PATH": "/nonexistent", "HOME": str(tmp_path),
                               "PLAYWRIGHT_CHROMIUM_EXECUTABLE": str(_binary(tmp_path / "c"))})
    assert good.returncode == 0 and good.stdout == good.stderr == ""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^test: \$\(STAMP\)[^\n]* browser\b", makefile, re.M) and "\t@$(PY) tools/provision_browser.py\n" in makefile
