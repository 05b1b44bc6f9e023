"""Time loading the tokenizer and the model, as `state_simulators.model` does, in a fresh process.

    python bench/programs/load_model.py FOLDER [GGUF_FILE]

FOLDER is the converted model folder, or the folder holding GGUF_FILE (then the weights are
de-quantised from it, as the one-time conversion does). Prints one JSON line:
{"import": seconds importing torch and transformers, "load": seconds loading both}.
"""

import json
import sys
import time


def main(argv: list[str]) -> dict[str, float]:
    started = time.perf_counter()
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # transformers imports a model's classes lazily, on first use: name the embedded model's
    # (Llama) here, so that the load below times reading the weights, not importing code.
    _ = transformers.LlamaForCausalLM, transformers.PreTrainedTokenizerFast
    imported = time.perf_counter()
    folder, gguf = argv[0], argv[1:]
    options = {"gguf_file": gguf[0]} if gguf else {}
    AutoTokenizer.from_pretrained(folder, **options)
    AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **options).eval()
    return {"import": imported - started, "load": time.perf_counter() - imported}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
