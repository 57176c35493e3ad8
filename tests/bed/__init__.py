"""The end-to-end test bed: a local registry, real multi-arch images, users, config.

Reused by every end-to-end test and by the benchmarks (the README's "Test bed" section says what it serves).
"""
