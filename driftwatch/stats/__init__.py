"""Pure numeric functions behind the checks (numpy/scipy; no I/O).

similarity   cosine of paired rows
proportion   Wilson interval of a share, detection power of the consistency rule
ranking      overlap@k, rank-biased overlap, recall@k, reciprocal rank
distribution KS, PSI, Wasserstein and the DETECTORS registry
"""
