"""Reading logs: chronological order, stable ties, duplicates, errors, labels, real ml-100k."""

from __future__ import annotations

import pytest
from sslbench_recsys.interactions import read_interactions, read_movielens_100k

LOG = """user_id,item_id,timestamp
u1,c,30
u1,a,10
u2,x,5
u1,b,20
u1,d,20
u3,z,7
"""


def test_sequences_are_chronological_with_ties_in_file_order(write):
    data = read_interactions(write("log.csv", LOG))
    # b and d share timestamp 20: b comes first in the file, so first in the sequence
    assert data.sequences() == {"u1": ["a", "b", "d", "c"], "u2": ["x"], "u3": ["z"]}
    assert data.n_users == 3 and data.n_items == 6
    assert list(data.log.columns) == ["user", "item", "timestamp"]


def test_duplicate_rows_are_dropped_and_counted(write):
    data = read_interactions(write("log.csv", LOG + "u1,a,10\nu1,a,10\nu1,a,11\n"))
    assert data.n_duplicates == 2
    assert data.sequences()["u1"] == ["a", "a", "b", "d", "c"]  # same item at another time is kept


def test_single_interaction_users_are_counted(write):
    assert read_interactions(write("log.csv", LOG)).n_single_interaction_users == 2


def test_column_names_are_configurable_and_typed_headers_read_plain(write):
    text = "who:token\twhat:token\twhen:float\nu1\ti2\t2\nu1\ti1\t1\n"
    data = read_interactions(write("log.tsv", text), user_col="who", item_col="what", time_col="when")
    assert data.sequences() == {"u1": ["i1", "i2"]}


def test_missing_column_is_one_line_naming_file_column_and_choices(write):
    path = write("log.csv", "user,item_id,timestamp\nu1,a,1\n")
    with pytest.raises(ValueError) as error:
        read_interactions(path)
    message = str(error.value)
    assert "\n" not in message
    assert str(path) in message and "'user_id'" in message and "['user', 'item_id', 'timestamp']" in message


def test_non_numeric_timestamp_is_one_line_naming_file_column_and_what_is_allowed(write):
    path = write("log.csv", "user_id,item_id,timestamp\nu1,a,1\nu1,b,2020-01-03\n")
    with pytest.raises(ValueError) as error:
        read_interactions(path)
    message = str(error.value)
    assert "\n" not in message
    assert str(path) in message and "'timestamp'" in message and "line 3" in message
    assert "'2020-01-03'" in message and "numbers only" in message


def test_empty_user_id_is_rejected(write):
    with pytest.raises(ValueError, match="column 'user_id' is empty on line 2"):
        read_interactions(write("log.csv", "user_id,item_id,timestamp\n,a,1\n"))


def test_item_labels_file_becomes_a_multi_hot_label_set(write):
    labels = write("items.csv", "item_id,genre\na,Action|Comedy\nb,\nc,Drama\nc,Comedy\n")
    data = read_interactions(write("log.csv", LOG), labels_path=labels)
    genre = data.labels["genre"]
    assert list(genre.columns) == ["Action", "Comedy", "Drama"]
    assert genre.loc["a"].tolist() == [True, True, False]
    assert genre.loc["b"].tolist() == [False, False, False]  # listed, no labels
    assert genre.loc["c"].tolist() == [False, True, True]  # listed twice: union


def test_movielens_layout_from_a_folder(tmp_path):
    (tmp_path / "ml-100k.inter").write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t10\t5\t2\n1\t11\t3\t1\n2\t10\t4\t1\n"
    )
    (tmp_path / "ml-100k.item").write_text(
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        '10\t"Quoted" Title\t1995\tAnimation Children\'s Comedy\n11\tOther\t1996\tDrama\n'
    )
    data = read_movielens_100k(tmp_path)
    assert data.sequences() == {"1": ["11", "10"], "2": ["10"]}
    assert data.labels["genre"].loc["10"][["Animation", "Children's", "Comedy"]].all()


def test_real_movielens_100k_from_the_cached_wheel(recbole_wheel):
    data = read_movielens_100k(recbole_wheel)
    assert len(data.log) == 100_000
    assert data.n_users == 943 and data.n_items == 1682
    assert data.n_duplicates == 0 and data.n_single_interaction_users == 0
    genre = data.labels["genre"]
    # 18 genres plus MovieLens' own "unknown" genre (2 items): 19 columns
    assert genre.shape == (1682, 19) and "unknown" in genre.columns
    assert int(genre.sum().sum()) == 2893 and genre.any(axis=1).all()
    assert set(genre.columns[genre.loc["1"]]) == {"Animation", "Children's", "Comedy"}  # Toy Story
    assert data.log["timestamp"].is_monotonic_increasing is False  # sorted per user, not globally
    per_user = data.log.groupby("user")["timestamp"].apply(lambda t: t.is_monotonic_increasing)
    assert per_user.all()
