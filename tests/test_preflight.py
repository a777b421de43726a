"""Memory model and preflight: exact terms, agreement with a measured CPU step, paper configs fit."""

from __future__ import annotations

import copy

import pytest
import torch

from tests.conftest import ROOT
from transfer_atlas import memory, preflight
from transfer_atlas.config import load_config, resolve_datasets

LLAMA3B = str(ROOT / "resources" / "models" / "llama-3.2-3b.json")
LORA = {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}
LORA["target_modules"] += ["gate_proj", "up_proj", "down_proj"]


def test_weight_and_lora_terms_are_exact_for_llama_3b():
    train = {**LORA, "batch_size": 16, "max_length": 1024, "micro_batch_tokens": 4096}
    est = memory.train_peak(LLAMA3B, train, "bfloat16")
    assert est["n_params"] == 3_212_749_824 and est["weights"] == 2 * 3_212_749_824
    per_layer = 16 * ((3072 + 3072) * 2 + (3072 + 1024) * 2 + (3072 + 8192) * 3)
    assert est["lora_state"] == 16 * 28 * per_layer
    assert (est["rows"], est["width"], est["checkpointing"], est["autocast"]) == (4, 1024, True, True)
    assert est["loss"] == 2048 * 128256 * (2 + 12)  # one LOSS_CHUNK of target positions


def test_meta_layer_count_matches_a_real_cpu_layer(tiny_model_dir):
    """Saved-tensor bytes of one decoder layer: meta-device estimate vs real tensors (fp32)."""
    from transfer_atlas.models import load_model
    from transfer_atlas.train import lora_model

    meta = memory.meta_model(memory.load_config(tiny_model_dir), torch.float32, LORA)
    est = memory.layer_saved_bytes(meta, 4, 128)
    model = lora_model(load_model({"load_path": str(tiny_model_dir)}, "float32", torch.device("cpu")), LORA)
    model.train()
    decoder = model.get_base_model().get_decoder()
    hidden = torch.randn(4, 128, decoder.config.hidden_size, requires_grad=True)
    pos = torch.arange(128)[None].expand(4, 128)
    storages = {}

    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}

    def pack(t):
        if t.untyped_storage().data_ptr() not in weights:
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        decoder.layers[0](
            hidden, attention_mask=None, position_ids=pos, position_embeddings=decoder.rotary_emb(hidden, pos)
        )
    measured = sum(storages.values())
    assert est == pytest.approx(measured, rel=0.15)


def test_memory_savings_are_large_at_the_paper_shape():
    before = {
        **LORA,
        "batch_size": 16,
        "max_length": 1024,
        "gradient_checkpointing": False,
        "autocast": False,
    }
    old = memory.train_peak(LLAMA3B, before, "bfloat16", full_logits=True)
    new = memory.train_peak(LLAMA3B, {**LORA, "batch_size": 16, "max_length": 1024}, "bfloat16")
    assert old["total"] > 100 * memory.GIB and new["total"] < old["total"] / 4
    assert old["loss"] == 16 * 1024 * 128256 * 14  # logits bf16 + fp32 copies at every position


@pytest.mark.parametrize("name", ["latent_traits", "donors_recipients"])
def test_paper_configs_fit_in_80_percent_of_80_gb(name):
    config = load_config(ROOT / "config" / "experiments" / f"{name}.yaml")
    config["sources"], config["targets"] = config["sources"][:2], None  # every source trains alike
    rows = preflight.estimate(config, resolve_datasets(config), preflight.model_shapes(config))
    assert rows and max(r["peak_gib"] for r in rows) < 0.8 * 80
    assert {r["job"] for r in rows} == {"train_lora", "evaluate"}


def test_preflight_names_the_job_that_does_not_fit(tmp_path):
    config = load_config(ROOT / "config" / "experiments" / "latent_traits.yaml")
    config = copy.deepcopy(config)
    config["sources"], config["targets"] = ["gsm8k"], ["gsm8k"]
    config["resources"]["gpu_mem_gb"] = 20
    config["train"].update(gradient_checkpointing=False, micro_batch_tokens=None)
    with pytest.raises(preflight.PreflightError, match=r"train_lora llama-3.2-3b-instruct/gsm8k: \d+"):
        preflight.run(
            config, resolve_datasets(config), preflight.model_shapes(config), {}, tmp_path / "e.csv"
        )
    assert not (tmp_path / "e.csv").exists()


def test_preflight_without_out_writes_nothing(tmp_path, monkeypatch):
    """`python -m transfer_atlas.preflight CONFIG` prints estimates only (it once renamed a
    temporary file onto /dev/null, replacing the device with a regular file)."""
    config = load_config(ROOT / "config" / "experiments" / "latent_traits.yaml")
    config["sources"], config["targets"] = ["gsm8k"], ["gsm8k"]
    rows = preflight.run(config, resolve_datasets(config), preflight.model_shapes(config), {}, None)
    assert rows and all(r["fits"] for r in rows)
    monkeypatch.chdir(tmp_path)
    assert preflight.main([str(ROOT / "config" / "experiments" / "latent_traits.yaml")]) == 0
    assert list(tmp_path.iterdir()) == []


def test_preflight_records_weights_and_logs_each_jobs_request(caplog):
    """estimates.csv's weights_gib feeds the host-memory request (transfer_atlas.requests)."""
    config = load_config(ROOT / "config" / "experiments" / "latent_traits.yaml")
    config["sources"], config["targets"] = ["gsm8k"], ["gsm8k"]
    with caplog.at_level("INFO", logger="transfer_atlas.preflight"):
        rows = preflight.run(config, resolve_datasets(config), preflight.model_shapes(config), {}, None)
    assert {r["weights_gib"] for r in rows} == {round(2 * 3_212_749_824 / memory.GIB, 2)}  # 5.98
    train = next(r for r in rows if r["job"] == "train_lora")
    minutes = -(-(2 * train["runtime_min"] + 5) // 1)  # runtime_margin 2, startup_min 5 (schema defaults)
    assert f"asks {int(minutes)} min, {int(-(-(5.98 * 1024 + 6000) // 1))} MB host" in caplog.text


def test_dtype_auto_is_estimated_as_bfloat16():
    """`dtype: auto` (the schema default) is bfloat16 on a GPU; the preflight once failed on it."""
    config = load_config(ROOT / "config" / "experiments" / "latent_traits.yaml")
    config["sources"], config["targets"] = ["gsm8k"], ["gsm8k"]
    datasets, shapes = resolve_datasets(config), preflight.model_shapes(config)
    bf16 = preflight.estimate(config, datasets, shapes)
    config["models"][0]["dtype"] = "auto"
    assert preflight.estimate(config, datasets, shapes) == bf16


@pytest.mark.parametrize(("rows", "prompt", "new", "budget"), [(3, 20, 10, None), (4, 12, 70, 2 * 82)])
def test_kv_cache_estimate_equals_the_decoders_cache(tiny_model_dir, rows, prompt, new, budget):
    """eval_peak's kv_cache term = the bytes of transfer_atlas.decoding's cache buffers at their
    largest (spare HEADROOM steps included; a KV budget of two rows admits two)."""
    from transfer_atlas import decoding
    from transfer_atlas.models import load_model

    model = load_model({"load_path": str(tiny_model_dir)}, "float32", torch.device("cpu"))
    ids = torch.randint(
        0, model.config.vocab_size, (rows, prompt), generator=torch.Generator().manual_seed(0)
    )
    seen, step = [], decoding._step

    def counting_step(m, batch):
        seen.append(sum(x._k.nbytes + x._v.nbytes for x in batch.cache.layers))
        return step(m, batch)

    decoding._step = counting_step
    try:
        out = decoding.continuous_greedy(
            model, ids.tolist(), range(rows), new, 0, lambda i, t: False, rows, kv_budget=budget
        )
    finally:
        decoding._step = step
    assert [len(x) for x in out] == [new] * rows
    est = memory.eval_peak(str(tiny_model_dir), "float32", rows, prompt, new, kv_budget=budget)
    assert est["kv_cache"] == max(seen)


def test_scoring_runtime_counts_the_forward_flops_of_every_choice():
    """A multiple-choice target's minutes: n x prompt tokens x 4 choices x 2N FLOPs at 40% of
    resources.gpu_tflops (it was priced as a few bandwidth-bound steps: ~0 min per target)."""
    config = load_config(ROOT / "config" / "experiments" / "donors_recipients.yaml")
    datasets = resolve_datasets(config)
    target = next(t for t in datasets if t.startswith("arc."))
    model = config["models"][0]
    shape = preflight.model_shapes(config)[model["name"]]
    row = preflight.eval_row(model, shape, target, datasets[target], config, None)
    n_params = memory.eval_peak(shape, "bfloat16", 1, 1, 1)["n_params"]
    seconds = (
        datasets[target]["n_eval"]
        * 1024
        * 4
        * 2
        * n_params
        / (config["resources"]["gpu_tflops"] * 1e12 * 0.4)
    )
    assert row["runtime_min"] == round(seconds / 60, 1) and row["runtime_min"] > 1


def test_training_minutes_without_profiles_use_the_configured_train_size():
    """Before the data is prepared (the CLI), n_train comes from the dataset's config: 3 epochs
    of 90% of 300 examples at batch 16 = 51 steps of 16 x 512 tokens (it used one batch)."""
    config = load_config(ROOT / "config" / "experiments" / "donors_recipients.yaml")
    datasets = resolve_datasets(config)
    source = next(s for s in datasets if s.startswith("arc."))
    model = config["models"][0]
    row = preflight.train_row(
        model, preflight.model_shapes(config)[model["name"]], source, config, None, datasets[source]
    )
    n_params = memory.eval_peak(preflight.model_shapes(config)[model["name"]], "bfloat16", 1, 1, 1)[
        "n_params"
    ]
    seconds = memory.train_runtime_s(n_params, 51 * 16 * 512, True, config["resources"]["gpu_tflops"])
    assert row["runtime_min"] == round(seconds / 60, 1) == 2.7  # 0.2 before
