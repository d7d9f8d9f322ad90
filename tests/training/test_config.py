from pathlib import Path

import pytest

from training.config import ConfigError, DataFile, build_config, help_lines

pytestmark = pytest.mark.unit  # no torch, no ../shared/data


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "run.toml"
    path.write_text(text)
    return str(path)


def test_defaults_then_toml_then_flags(tmp_path: Path):
    toml = write(tmp_path, '[optimisation]\nepochs = 3\n[model]\nhidden_dim = 64\narch = "gru"\n')
    config = build_config(toml, {"epochs": "5", "train-files": "a.tsv,b.tsv"})
    assert (config.epochs, config.hidden_dim, config.arch) == (5, 64, "gru")
    assert config.train_files == [DataFile("a.tsv"), DataFile("b.tsv")]
    assert config.batch_size == 32  # untouched default


def test_flags_parse_booleans_floats_and_json_lists(tmp_path: Path):
    config = build_config(None, {"lowercase": "false", "lr": "1e-3", "labels": '["a","b","c"]'})
    assert config.lowercase is False and config.lr == 1e-3 and config.labels == ["a", "b", "c"]


def test_unknown_key_is_refused_with_a_suggestion(tmp_path: Path):
    with pytest.raises(ConfigError, match="unknown config key 'epoch'; did you mean 'epochs'"):
        build_config(write(tmp_path, "epoch = 3\n"), {})


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[optimisation]\nepochs = "3"\n', "epochs: expected int, got '3'"),
        ("name = 7\n", "name: expected str, got 7"),
        ("[tokenizer]\nlowercase = 1\n", "lowercase: expected bool"),
        ('[data]\ntrain_files = "a.tsv"\n', "train_files: expected a list of strings"),
        (
            "[data]\ntrain_files = [{ weight = 2.0 }]\n",
            "train_files: each entry is a path or a table",
        ),
        (
            '[data]\ntrain_files = [{ file = "a.tsv", wieght = 2.0 }]\n',
            r"unknown key\(s\) \['wieght'\]",
        ),
        ('[data]\ntrain_files = [{ file = "a.tsv", weight = "2" }]\n', "weight: expected float"),
        ('[data]\ntest_files = [{ file = "a.tsv", part = "half" }]\n', "part must be one of"),
        ('[data]\ntrain_files = [{ file = "a.tsv", labels = ["bad", "good"] }]\n', "must be among"),
        ("[optimisation]\nlr = true\n", "lr: expected float"),
    ],
)
def test_wrong_types_in_toml_are_refused(tmp_path: Path, toml: str, message: str):
    with pytest.raises(ConfigError, match=message):
        build_config(write(tmp_path, toml), {})


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"epochs": "three"}, "epochs: expected int"),
        ({"arch": "transformer"}, "arch: must be one of"),
        ({"head_tokens": "600"}, "head_tokens: must be between 0 and max_length"),
        ({"val_fraction": "1.5"}, "val_fraction: must be between 0 and 1"),
        ({"arch": "none"}, "arch 'none' needs ngram_buckets > 0"),
    ],
)
def test_bad_flag_values_are_refused(flags: dict, message: str):
    with pytest.raises(ConfigError, match=message):
        build_config(None, flags)


def test_a_file_table_sets_its_own_labels_weight_and_validation(tmp_path: Path):
    toml = write(
        tmp_path,
        '[data]\nlabels = ["negative", "neutral", "positive"]\n'
        'train_files = ["a.tsv", { file = "b.tsv", labels = ["negative", "positive"], '
        'weight = 0.5, validation = "b_dev.tsv" }]\n',
    )
    config = build_config(toml, {})
    second = config.train_files[1]
    assert (second.labels, second.weight, second.validation) == (
        ["negative", "positive"],
        0.5,
        "b_dev.tsv",
    )
    assert config.train_files[0] == DataFile("a.tsv")


def test_a_saved_config_with_file_tables_reads_back_the_same():
    from training.config import config_from_dict

    config = build_config(None, {"train-files": '[{"file": "x.tsv", "weight": 2}]'})
    assert config_from_dict(config.to_dict()) == config


def test_broken_toml_names_the_file(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"run\.toml"):
        build_config(write(tmp_path, "epochs = \n"), {})


def test_help_lists_every_option_with_its_default():
    text = "\n".join(help_lines())
    for option in ("--train-files", "--vocab-size", "--ngram-buckets", "--resume-never"):
        assert (option in text) == (option != "--resume-never")
    assert "--max-length         512" in text


SHIPPED = sorted((Path(__file__).parents[2] / "configs").rglob("*.toml"))


def _flattened(toml: dict) -> dict:
    """The TOML's keys with their sections taken away: what the file sets."""
    flat = {}
    for key, value in toml.items():
        flat.update(value if isinstance(value, dict) and key != "max_rows" else {key: value})
    return flat


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_config_loads_with_the_values_it_sets(path: Path):
    import tomllib

    from training.teacher.config import load_teacher_config

    toml = tomllib.loads(path.read_text())
    if "student_config" in toml:  # the teacher's own sections (training/teacher/config.py)
        teacher = load_teacher_config(path)
        assert teacher.data.max_tokens == toml["data"]["max_tokens"]
        return
    effective = build_config(str(path), {}).to_dict()
    for key, value in _flattened(toml).items():
        if key in ("train_files", "test_files"):
            value = [DataFile(**v) if isinstance(v, dict) else DataFile(v) for v in value]
            assert [DataFile(**e) for e in effective[key]] == value
        else:
            assert effective[key] == value, key


def test_a_misplaced_key_is_refused_naming_it_and_its_section(tmp_path: Path):
    toml = write(tmp_path, '[data]\nlabels = ["a", "b"]\nepochs = 3\n')
    with pytest.raises(ConfigError, match=r"epochs: misplaced key in \[data\]; it belongs in "
                       r"\[optimisation\]"):  # fmt: skip
        build_config(toml, {})
    with pytest.raises(ConfigError, match=r"vocab_size: .* in the top level; .* \[tokenizer\]"):
        build_config(write(tmp_path, "vocab_size = 100\n"), {})
    with pytest.raises(ConfigError, match=r"tokenizer: misplaced key at the top level; .*"):
        build_config(write(tmp_path, 'tokenizer = "bpe"\n'), {})  # the key, not the section


def test_sections_and_flat_names_read_the_same_option():
    config = build_config(None, {"epochs": "2", "tokenizer": "unigram"})
    assert config.optimisation.epochs == config.epochs == 2
    assert config.tokenization.tokenizer == config.tokenizer == "unigram"
    assert config.replace(epochs=4).epochs == 4 and config.epochs == 2


def test_help_describes_every_option():
    from training.config import SECTION_OF, TOP_LEVEL

    text = "\n".join(help_lines())
    for name in [*SECTION_OF, *TOP_LEVEL]:
        line = next(
            ln for ln in text.splitlines() if ln.startswith(f"  --{name.replace('_', '-')} ")
        )
        assert len(line.split(None, 2)[2]) > 8, name
