"""One Settings for every front end: defaults, flags, TOML, and checks before anything loads."""
from __future__ import annotations

import argparse

import pytest

from rag.errors import UserError
from rag.settings import Settings, add_settings_arguments


def parse(argv: list[str]) -> Settings:
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser)
    return Settings.from_args(parser.parse_args(argv))


def test_flags_fill_settings_and_unset_flags_keep_the_defaults():
    assert parse([]) == Settings()
    assert parse(["--fusion", "relative"]) == Settings(fusion="relative")
    assert parse(["-k", "7", "--precision", "float32", "--mode", "bm25"]) == Settings(k=7, precision="float32",
                                                                                     mode="bm25")


@pytest.mark.parametrize("text, message", [
    ('k = "five"', "k = 'five' should be a whole number"),
    ("k = 0", "k must be between 1 and 100"),
    ("k = 99999999999999999999", "k must be between 1 and 100"),
    ('mode = "fuzzy"', "use one of hybrid, dense, bm25"),
    ('fusion = "max"', "use one of rrf, relative"),
    ("precision = 8", "should be text"),
    ('generator = "extractive"\nmodel = "x"', "--model applies to"),
    ("colour = 1", "unknown setting(s) colour"),
    ("k = [", "not a readable TOML file"),
])
def test_a_bad_toml_file_is_one_clear_error(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n")
    with pytest.raises(UserError) as error:
        Settings().with_toml(path)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_toml_overrides_only_what_it_names(tmp_path):
    path = tmp_path / "fast.toml"
    path.write_text('precision = "float32"\nretrieval_only = true\n')
    settings, extra = Settings(k=3).with_toml(path, extra=("retrieval_only",))
    assert settings == Settings(k=3, precision="float32") and extra == {"retrieval_only": True}
