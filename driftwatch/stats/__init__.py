"""Pure numeric functions behind the checks (numpy only: no scipy in the daemon; no I/O).

similarity   cosine of paired rows
proportion   Wilson interval of a share
ranking      overlap@k, rank-biased overlap, recall@k, reciprocal rank
distribution KS, PSI, Wasserstein
"""
