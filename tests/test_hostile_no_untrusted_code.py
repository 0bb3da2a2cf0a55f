"""Nothing executes or deserialises untrusted content: no pickle, no eval, no remote code.

Corpus files, index files and model folders all come from outside. The code that reads
them (qa/ and tui/) must never hand their bytes to an unpickler or an interpreter: the
index is SQLite plus FAISS files, the model is safetensors loaded with
``trust_remote_code=False``. Comments and strings are ignored, so a docstring saying
"no pickle" is fine; code that does it is not.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = sorted(
    path for folder in ("qa", "tui") for path in (ROOT / folder).rglob("*.py") if path.is_file()
)
FORBIDDEN = {
    "pickle and friends": r"\b(?:c?[Pp]ickle|dill|cloudpickle|joblib|shelve|marshal)\b",
    "eval()": r"(?<![\w.])eval\s*\(",
    "exec()": r"(?<![\w.])exec\s*\(",
    "compile() of code": r"(?<![\w.])compile\s*\(",
    "numpy allow_pickle": r"allow_pickle\s*=\s*True",
    "remote model code": r"trust_remote_code\s*=\s*True",
    "torch.load (pickle)": r"\btorch\s*\.\s*load\s*\(",
    "yaml.load": r"\byaml\s*\.\s*(?:load|unsafe_load|full_load)\s*\(",
    "a shell": r"shell\s*=\s*True|\bos\s*\.\s*(?:system|popen)\s*\(",
}


def _code_only(path: Path) -> str:
    """The file's source with comments and string literals blanked out (in place)."""
    source = path.read_text(encoding="utf-8")
    lines = [list(line) for line in source.splitlines(keepends=True)]
    skipped = {tokenize.COMMENT, tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", -1)}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in skipped:
            continue
        (row, col), (end_row, end_col) = tok.start, tok.end
        for r in range(row, end_row + 1):
            line = lines[r - 1]
            start = col if r == row else 0
            stop = end_col if r == end_row else len(line)
            for c in range(start, stop):
                if line[c] != "\n":
                    line[c] = " "
    return "".join("".join(line) for line in lines)


def test_the_scan_covers_the_code() -> None:
    names = {str(p.relative_to(ROOT)) for p in SCANNED}
    assert {
        "qa/store/connection.py",
        "qa/vectors/flat.py",
        "qa/embed/factory.py",
        "qa/index/sources.py",
    } <= names


@pytest.mark.parametrize("what", FORBIDDEN, ids=list(FORBIDDEN))
def test_no_code_deserialises_or_executes_untrusted_content(what: str) -> None:
    pattern = re.compile(FORBIDDEN[what])
    offenders = [
        str(path.relative_to(ROOT)) for path in SCANNED if pattern.search(_code_only(path))
    ]
    assert not offenders, f"{what} in {offenders}"


def test_the_scanner_would_notice(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import pickle\n"
        "x = eval(input())\n"
        "m = load(p, trust_remote_code=True)\n"
        "# eval( in a comment is fine\n"
        "s = 'exec(' \n"
        "model.eval()\n"
    )
    code = _code_only(bad)
    assert re.search(FORBIDDEN["pickle and friends"], code)
    assert re.search(FORBIDDEN["eval()"], code)
    assert re.search(FORBIDDEN["remote model code"], code)
    assert not re.search(FORBIDDEN["exec()"], code)  # only inside a string
    assert len(re.findall(FORBIDDEN["eval()"], code)) == 1  # model.eval() is not eval()


def test_models_load_without_remote_code_and_offline() -> None:
    code = _code_only(ROOT / "qa" / "embed" / "factory.py")
    assert re.search(r"SentenceTransformer\s*\([^)]*trust_remote_code\s*=\s*False", code)
    source = (ROOT / "qa" / "embed" / "factory.py").read_text()
    assert '"HF_HUB_OFFLINE", "1"' in source
