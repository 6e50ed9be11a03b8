"""`python -m bench`: throughput, latency, memory and a profile of the Batch Service.

Run by `make bench` against the local stack (or any servers named by the environment).
"""
