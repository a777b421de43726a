"""prepare_model and model loading.

results/models/{model}/model_info.json (schema):
  name, kind (gguf | hub | path), load_path (what from_pretrained gets), revision,
  weights_sha256 (converted checkpoints) or null, source (the GGUF file, hub id or path),
  trust_remote_code, n_parameters (converted checkpoints), files {path: sha256} (staged hub
  models: load_path is the local results/models/{model}/checkpoint, see transfer_atlas.staging), chat {apply, fewshot_as_multiturn}
  (the model's chat-template settings, see `transfer_atlas.prompts`).
"""

from __future__ import annotations

import glob
import importlib.util
import logging
import os
from pathlib import Path

import torch

from transfer_atlas import io

log = logging.getLogger(__name__)


def find_gguf(package: str) -> Path:
    """The GGUF file shipped inside an installed package (without importing it)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package '{package}' is not installed")
    folder = spec.submodule_search_locations[0]
    files = sorted(glob.glob(os.path.join(folder, "**", "*.gguf"), recursive=True))
    if not files:
        raise FileNotFoundError(f"package '{package}' ships no .gguf file under {folder}")
    return Path(files[0])


def convert_gguf(gguf: Path, out_dir: Path) -> dict:
    """Dequantise a GGUF model into a float32 safetensors checkpoint in `out_dir`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("loading %s (dequantising, ~20 s)", gguf)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if hasattr(model, "is_quantized"):
        model.is_quantized = False
    with io.atomic_dir(out_dir / "checkpoint") as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
    n_params = sum(p.numel() for p in model.parameters())
    log.info("saved float checkpoint (%d parameters) to %s", n_params, out_dir / "checkpoint")
    return {
        "n_parameters": n_params,
        "weights_sha256": io.sha256_file(out_dir / "checkpoint" / "model.safetensors"),
    }


def prepare_model(spec: dict, info_out: str | Path) -> dict:
    """Convert a GGUF model to a float checkpoint, stage a hub model (transfer_atlas.staging:
    download once at a pinned revision, hash the files), or record a local path."""
    info_out = Path(info_out)
    info = {
        "name": spec["name"],
        "revision": spec.get("revision"),
        "trust_remote_code": bool(spec.get("trust_remote_code", False)),
        "weights_sha256": None,
        "chat": {
            "apply": bool(spec.get("chat_template", False)),
            "fewshot_as_multiturn": bool(spec.get("fewshot_as_multiturn", True)),
        },
    }
    if "gguf_package" in spec or "gguf_file" in spec:
        gguf = find_gguf(spec["gguf_package"]) if "gguf_package" in spec else Path(spec["gguf_file"])
        info.update(kind="gguf", source=str(gguf), load_path=str(info_out.parent / "checkpoint"))
        info.update(convert_gguf(gguf, info_out.parent))
    elif "path" in spec:
        path = Path(spec["path"]).resolve()
        if not path.is_dir():
            raise FileNotFoundError(f"model '{spec['name']}': folder {path} does not exist")
        info.update(kind="path", source=str(path), load_path=str(path))
        weights = sorted(path.glob("*.safetensors"))
        info["weights_sha256"] = io.sha256_file(weights[0]) if len(weights) == 1 else None
    else:
        from transfer_atlas.staging import stage_hub_model

        info.update(stage_hub_model(spec, info_out.parent, hub_token()))
    io.write_json(info_out, info)
    return info


def pick_device() -> torch.device:
    """cuda:0 of this process (its CUDA_VISIBLE_DEVICES, see transfer_atlas.runtime) or the CPU.

    A rule that declares a GPU never gets here without one (runtime.setup fails first); the
    CPU is logged as a warning so that a run outside Snakemake does not fall back silently."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    log.warning(
        "CUDA is not available (torch %s, CUDA build %s): running on the CPU",
        torch.__version__,
        torch.version.cuda,
    )
    return torch.device("cpu")


def pick_dtype(name: str, device: torch.device) -> torch.dtype:
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def eos_ids(tok, model=None) -> list[int]:
    """Every token id that ends generation: the tokenizer's eos plus the model's generation
    config eos ids (Llama-3 Instruct lists three: <|end_of_text|>, <|eom_id|>, <|eot_id|>)."""
    ids = [tok.eos_token_id]
    gen = getattr(model, "generation_config", None)
    extra = getattr(gen, "eos_token_id", None)
    ids += extra if isinstance(extra, list | tuple) else [extra]
    return list(dict.fromkeys(int(i) for i in ids if i is not None))


def hub_token() -> str | None:
    """Hub token from the environment only (never from config, never logged)."""
    return os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")


def _revision(info: dict) -> str | None:
    """Hub revision for from_pretrained; None for a local folder (staged, converted or given)."""
    return None if Path(info["load_path"]).is_dir() else info.get("revision")


def load_tokenizer(info: dict):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(
        info["load_path"],
        revision=_revision(info),
        token=hub_token(),
        trust_remote_code=info.get("trust_remote_code", False),
    )
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(info: dict, dtype: str = "auto", device: torch.device | None = None):
    """Base model in eval mode on `device`; safetensors only, remote code only if allowed."""
    from transformers import AutoModelForCausalLM

    device = device or pick_device()
    model = AutoModelForCausalLM.from_pretrained(
        info["load_path"],
        revision=_revision(info),
        token=hub_token(),
        dtype=pick_dtype(dtype, device),
        use_safetensors=True,
        trust_remote_code=info.get("trust_remote_code", False),
    )
    return model.to(device).eval()
