"""Analyses that explain the transfer matrix (the Latent Traits study's analyses).

One module per analysis; each has pure functions on arrays/frames (the maths, tested with
known answers), figure functions, and one `run_*` entry point called by a workflow script.

  inputs      read predictions / parse caches into aligned tables
  pca         latent traits: PCA of the matrix with a bootstrap over evaluation examples
  similarity  style (spaCy features) and semantic (sentence embeddings) dataset similarity
  mantel      similarity vs transfer: Spearman and a Mantel permutation test
  dependency  success ratio of adapters per dependency relation in the target prompts
  length      output-length distributions vs base and vs the source's target lengths
  classes     confusion matrices, predicted vs gold vs source label distributions
  asymmetry   A->B vs B->A transfer, antisymmetric part (M - M^T) / 2
  flips       inside a cell: examples each adapter gained / lost vs the base, HTML cell picker
  summary     the key numbers of every analysis as Markdown
  figures     the figures of the modules above

(donors and regimes hold the analyses of the Donors and Recipients study.)
"""
