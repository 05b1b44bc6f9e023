"""`make bench`: the site's performance, measured on this machine (see bench/bench.py)."""
