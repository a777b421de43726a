"""Analyses that explain the transfer matrix. One analysis, one home: each module (or
subpackage) holds that analysis's maths (pure functions on arrays/frames, tested with known
answers), its figures and the `run()` its workflow script calls; rule, script and module
are named alike.

  common          the Δ label, thresholds, pair kinds, the one bootstrap-interval helper
  inputs          read predictions / parse caches into aligned tables
  pca             latent traits: PCA of the matrix with a bootstrap over evaluation examples
  similarity      style (spaCy features) and semantic (sentence embeddings) dataset similarity
  mantel          similarity vs transfer: Spearman and a Mantel permutation test
  dependency      success ratio of adapters per dependency relation in the target prompts
  length          output-length distributions vs base and vs the source's target lengths
  classes         confusion matrices, predicted vs gold vs source label distributions
  asymmetry       A->B vs B->A transfer, antisymmetric part (M - M^T) / 2
  flips           inside a cell: examples each adapter gained / lost vs the base, HTML cell picker
  mislabel        clean vs mislabeled sources: scores and harm of the labels on every target
  transfer_roles  regimes, donors and recipients (the Donors and Recipients study)
  summary         the key numbers of every analysis as Markdown
"""
