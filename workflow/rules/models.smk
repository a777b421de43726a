# Converts a GGUF model, or stages a hub model (one download of config, tokenizer and
# safetensors at a pinned revision; transfer_atlas.staging): an 8B model is ~16 GB, so the
# job gets 2 h, x attempt on a retry.
rule prepare_model:
    output:
        "results/models/{model}/model_info.json",
    log:
        "logs/prepare_model/{model}.log",
    benchmark:
        "benchmarks/prepare_model/{model}.tsv"
    conda:
        "../../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=lambda wildcards, attempt: 120 * attempt,
    params:
        spec=model_spec,
    script:
        "../scripts/prepare_model.py"
