"""numba kernels: single-pass, over contiguous arrays, cached on disk."""
