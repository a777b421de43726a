# Preflight: estimated peak GPU memory and runtime of every GPU job (transfer_atlas.preflight);
# with resources.gpu > 0 every train_lora / evaluate job waits for it, so a job that cannot fit
# resources.gpu_mem_gb stops the run before any GPU job starts.


rule preflight:
    input:
        profiles=expand("results/data/{dataset}/profile.json", dataset=list(DATASETS)),
        models=[
            f"results/models/{m['name']}/model_info.json"
            for m in config["models"]
            if not m.get("shape")
        ],
    output:
        "results/preflight/estimates.csv",
    log:
        "logs/preflight/preflight.log",
    benchmark:
        "benchmarks/preflight/preflight.tsv"
    conda:
        "../../envs/transfer-atlas.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=15,
    script:
        "../scripts/preflight.py"
