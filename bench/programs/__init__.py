"""Programs that `make bench` runs as files, in processes of their own (never imported by it)."""
