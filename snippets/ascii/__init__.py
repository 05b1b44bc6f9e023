"""ASCII-art diffusion: can a model continue a process it has never seen? The data and scores
(`canvas`), the pretrained model in context (`pretrained`), a tiny model trained on the process
(`tiny_model`), and the page's tables and figures (`diffusion`)."""
