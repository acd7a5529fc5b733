"""Config validation: every mistake fails before the pipeline starts, naming the key and what was expected."""
from pathlib import Path

import pytest

from corpusforge.cli import main
from corpusforge.config import ConfigError, CurateConfig, load_config

ROOT = Path(__file__).resolve().parents[1]


def _load(tmp_path, text, overrides=None):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return load_config(p, overrides)


BASE = "input:\n  paths: [a.jsonl]\noutput:\n  dir: out\n"


def test_shipped_configs_validate():
    """Every run config in configs/ validates as its command reads it (quality.yaml is a fragment others include)."""
    from corpusforge.commands.config import guess_command
    from corpusforge.config.help import MODELS

    names = sorted(p.name for p in (ROOT / "configs").glob("*.yaml") if p.name != "quality.yaml")
    assert {"local.yaml", "dataflow.yaml", "refresh.yaml", "warc.yaml", "protect.yaml"} <= set(names)
    for name in names:
        command = guess_command(ROOT / "configs" / name)
        cfg = load_config(ROOT / "configs" / name, model=MODELS[command])
        assert isinstance(cfg, MODELS[command]), name
    assert isinstance(load_config(ROOT / "configs" / "local.yaml"), CurateConfig)


def test_shipped_configs_share_the_measured_quality_rules():
    """local, refresh and dataflow take their quality rules from configs/quality.yaml (one home), and a key
    written in the including file or given with --set wins over the included value."""
    from corpusforge.config import RefreshConfig

    local = load_config(ROOT / "configs" / "local.yaml")
    assert local.c4.curly_bracket_removes_line and local.c4.resolved_min_num_sentences() == 3
    assert not local.c4.filter_no_terminal_punct and local.fineweb.char_duplicates_ratio == 0.1
    for name, model in (("refresh.yaml", RefreshConfig), ("dataflow.yaml", None)):
        other = load_config(ROOT / "configs" / name, model=model)
        for section in ("gopher_repetition", "gopher_quality", "c4", "fineweb"):
            assert getattr(other, section) == getattr(local, section), (name, section)
    over = load_config(ROOT / "configs" / "local.yaml", ["c4.min_num_sentences=5"])
    assert over.c4.resolved_min_num_sentences() == 5 and over.c4.curly_bracket_removes_line


def test_include_merges_sections_and_the_including_file_wins(tmp_path):
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "a.yaml").write_text("c4:\n  min_num_sentences: 3\n  constants: tfds\n"
                                               "fineweb:\n  char_duplicates_ratio: 0.2\n")
    (tmp_path / "parts" / "b.yaml").write_text("include: a.yaml\nfineweb:\n  char_duplicates_ratio: 0.3\n")
    cfg = _load(tmp_path, "include: [parts/b.yaml]\n" + BASE + "c4:\n  constants: datatrove\n")
    assert cfg.c4.constants == "datatrove"  # the including file wins
    assert cfg.c4.min_num_sentences == 3  # other keys of the section come from the included file
    assert cfg.fineweb.char_duplicates_ratio == 0.3  # a nested include is overridden by its includer


def test_include_mistakes_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="names no file"):
        _load(tmp_path, "include: nowhere.yaml\n" + BASE)
    (tmp_path / "x.yaml").write_text("include: y.yaml\n")
    (tmp_path / "y.yaml").write_text("include: x.yaml\n")
    with pytest.raises(ConfigError, match="include cycle"):
        _load(tmp_path, "include: x.yaml\n" + BASE)
    with pytest.raises(ConfigError, match="must be a file path or a list"):
        _load(tmp_path, "include: {a: 1}\n" + BASE)
    (tmp_path / "list.yaml").write_text("- a\n")
    with pytest.raises(ConfigError, match="mapping at the top level"):
        _load(tmp_path, "include: list.yaml\n" + BASE)


def test_defaults_are_the_published_thresholds(tmp_path):
    cfg = _load(tmp_path, BASE)
    assert cfg.langid.threshold == 0.65
    assert (cfg.gopher_quality.min_doc_words, cfg.gopher_quality.max_doc_words) == (50, 100_000)
    assert cfg.gopher_repetition.top_n_grams[0] == (2, 0.2)
    assert cfg.fineweb.short_line_thr == 0.67 and cfg.fineweb.short_line_length == 30
    assert (cfg.c4.resolved_min_words_per_line(), cfg.c4.resolved_min_num_sentences()) == (3, 5)
    tfds = _load(tmp_path, BASE + "c4:\n  constants: tfds\n")
    assert (tfds.c4.resolved_min_words_per_line(), tfds.c4.resolved_min_num_sentences()) == (5, 3)


def test_unknown_key_is_named(tmp_path):
    with pytest.raises(ConfigError) as e:
        _load(tmp_path, BASE + "langid:\n  treshold: 0.5\n")
    assert "langid.treshold: unknown key" in str(e.value)


def test_wrong_type_is_named_with_value(tmp_path):
    with pytest.raises(ConfigError) as e:
        _load(tmp_path, BASE + "output:\n  dir: out\n  num_shards: many\n")
    assert "output.num_shards" in str(e.value) and "'many'" in str(e.value)


def test_missing_required_key(tmp_path):
    with pytest.raises(ConfigError) as e:
        _load(tmp_path, "output:\n  dir: out\n")
    assert "input: required key is missing" in str(e.value)


def test_out_of_range_threshold(tmp_path):
    with pytest.raises(ConfigError) as e:
        _load(tmp_path, BASE + "langid:\n  threshold: 1.5\n")
    assert "langid.threshold" in str(e.value)


def test_multi_threading_mode_is_refused(tmp_path):
    with pytest.raises(ConfigError) as e:
        _load(tmp_path, BASE + "runner:\n  direct_running_mode: multi_threading\n")
    assert "runner.direct_running_mode" in str(e.value) and "multi_processing" in str(e.value)


def test_dataflow_needs_project_region_temp(tmp_path):
    with pytest.raises(ConfigError) as e:
        _load(tmp_path, BASE + "runner:\n  runner: DataflowRunner\n")
    msg = str(e.value)
    assert "runner.dataflow.project" in msg and "runner.dataflow.temp_location" in msg


def test_set_overrides_apply_and_are_validated(tmp_path):
    cfg = _load(tmp_path, BASE, ["langid.threshold=0.5", "langid.languages=[en, de]", "output.num_shards=8"])
    assert cfg.langid.threshold == 0.5 and cfg.langid.languages == ["en", "de"] and cfg.output.num_shards == 8
    with pytest.raises(ConfigError) as e:
        _load(tmp_path, BASE, ["langid.threshold"])
    assert "key=value" in str(e.value)
    with pytest.raises(ConfigError) as e:
        _load(tmp_path, BASE, ["output.dir.sub=1"])
    assert "not a section" in str(e.value)


def test_missing_config_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_perplexity_enabled_needs_models_dir(tmp_path):
    with pytest.raises(ConfigError) as e:
        _load(tmp_path, BASE + "perplexity:\n  enabled: true\n")
    assert "perplexity.models_dir is required" in str(e.value)


def test_cli_reports_config_error_with_exit_code_2(tmp_path, capsys):
    p = tmp_path / "c.yaml"
    p.write_text(BASE + "bogus: 1\n")
    assert main(["curate", "--config", str(p)]) == 2
    err = capsys.readouterr().err
    assert "bogus: unknown key" in err


def test_cli_input_glob_matching_nothing_fails_before_running(tmp_path, capsys):
    p = tmp_path / "c.yaml"
    p.write_text(f"input:\n  paths: ['{tmp_path}/none-*.jsonl']\noutput:\n  dir: {tmp_path}/out\n")
    assert main(["curate", "--config", str(p)]) == 2
    assert "matches no file" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_config_show_prints_the_resolved_config_and_it_loads_back(tmp_path, capsys):
    """`config --show` prints what a run uses (includes merged, --set applied, defaults filled); fed back as
    --config it gives the same config."""
    from corpusforge.config import RefreshConfig

    assert main(["config", "--show", str(ROOT / "configs" / "local.yaml"), "--set", "langid.threshold=0.5"]) == 0
    shown = capsys.readouterr().out
    assert "curly_bracket_removes_line: true" in shown and "\ninclude:" not in shown
    (tmp_path / "shown.yaml").write_text(shown)
    want = load_config(ROOT / "configs" / "local.yaml", ["langid.threshold=0.5"])
    assert load_config(tmp_path / "shown.yaml") == want
    assert main(["config", "--show", str(ROOT / "configs" / "refresh.yaml")]) == 0  # guessed: refresh
    (tmp_path / "refresh.yaml").write_text(capsys.readouterr().out)
    assert load_config(tmp_path / "refresh.yaml", model=RefreshConfig) == load_config(
        ROOT / "configs" / "refresh.yaml", model=RefreshConfig)
    assert main(["config", "--show", str(ROOT / "configs" / "local.yaml"), "--set", "c4.min_num_sentence=2"]) == 2
    assert "did you mean c4.min_num_sentences" in capsys.readouterr().err
