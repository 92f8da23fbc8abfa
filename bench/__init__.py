"""ikesrv benchmarks: each prints its figures and the ratios against a baseline run alongside."""
